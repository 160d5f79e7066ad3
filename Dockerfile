# Guise in a container: build with the Rust toolchain, run on a slim Debian.
# docker-compose.yml uses this file; see docs/admin.md.

FROM rust:1-bookworm AS builder
WORKDIR /src
# Only what the build needs, so target/ and data/ never enter the image.
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY migrations migrations
COPY tests tests
RUN cargo build --release -p guise-server

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/guise --create-home guise \
    && mkdir -p /var/lib/guise/data/media && chown -R guise: /var/lib/guise/data
COPY --from=builder /src/target/release/guise /usr/local/bin/guise
USER guise
WORKDIR /var/lib/guise
ENV GUISE_LISTEN=0.0.0.0:8080
EXPOSE 8080
CMD ["guise", "serve"]
