-- Email domains sign-ups may not use (Mastodon's email domain blocks): a
-- block covers the domain and its subdomains. Checked at sign-up only;
-- logins made by an admin on the command line are not held to it.
CREATE TABLE email_domain_blocks (
    id         BIGINT PRIMARY KEY,
    domain     TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
