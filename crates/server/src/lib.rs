//! The `guise` server: Mastodon client API, OAuth 2, the few HTML pages,
//! configuration and the CLI. Wires core, policy and federation together.

pub mod activitypub;
pub mod admin_api;
pub mod config;
pub mod domain_rules;
pub mod error;
pub mod extract;
pub mod guard;
pub mod health;
pub mod imaging;
pub mod inbox;
pub mod ingest;
pub mod jobs;
pub mod kept;
pub mod limits;
pub mod mail;
pub mod mastodon_api;
pub mod media_proxy;
pub mod oauth;
pub mod policy;
pub mod rel_me;
pub mod state;
pub mod streaming;
pub mod two_factor;
pub mod web;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{NormalizePath, TrailingSlash};
use actix_web::{web as aw, App, HttpResponse};
pub use state::AppState;

/// Every route, for `guise serve` and for tests (which build the same app).
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (tokens, senders) = (state.tokens.clone(), state.senders.clone());
    App::new()
        .app_data(aw::Data::new(state))
        // Bodies are read through our own size-limited extractor; these cap the rest.
        .app_data(aw::PayloadConfig::new(4 * 1024 * 1024))
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .wrap_fn(move |req, srv| {
            use actix_web::dev::Service;
            // Method and path only: no query string (tokens, OAuth codes), no
            // address, no User-Agent (unlinkability rule 7).
            let method = req.method().clone();
            let path = req.path().to_owned();
            let started = std::time::Instant::now();
            let forget = kept::may_change_kept(&method, &path)
                .then(|| (tokens.clone(), senders.clone()));
            let fut = srv.call(req);
            async move {
                let res = fut.await;
                // Before the answer leaves: the client's next request must
                // not find a token, login or face as it was before this one.
                if let Some((tokens, senders)) = forget {
                    tokens.empty();
                    senders.empty();
                }
                let res = res?;
                tracing::debug!(%method, %path, status = res.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
                Ok(res)
            }
        })
        // Routes are tried in this order, each path pattern with a
        // variable part by a regex: the inbox (every activity other servers
        // send) comes first, not after some 250 API patterns. No pattern
        // before it could match its paths, so no request changes hands.
        .configure(inbox::routes)
        .configure(health::routes)
        .configure(streaming::endpoints::routes)
        .configure(mastodon_api::routes)
        .configure(admin_api::routes)
        .configure(oauth::routes)
        .configure(media_proxy::routes)
        .configure(activitypub::routes)
        .configure(web::routes)
        .default_service(aw::to(|| async { HttpResponse::NotFound().json(serde_json::json!({ "error": "Not Found" })) }))
}
