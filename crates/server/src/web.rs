//! The few non-API pages: the front page, default avatar and header images.

use crate::state::AppState;
use actix_web::{web, HttpResponse};

/// A 1×1 grey PNG: the default avatar and header for every face, so that no
/// face is told apart by its default image.
const MISSING_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x7e, 0x9b,
    0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x68, 0x00, 0x00, 0x00,
    0x82, 0x00, 0x81, 0x77, 0xcd, 0x72, 0xb6, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

async fn missing_png() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(MISSING_PNG)
}

async fn front(state: web::Data<AppState>) -> HttpResponse {
    let i = &state.config.instance;
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title></head><body>\
<h1>{name}</h1><p>{desc}</p><p>Every post here picks its face: a verified real name, a pseudonym, or anonymity.</p>\
<p>Sign in with any Mastodon app using the server address <code>{domain}</code>.</p></body></html>",
        name = guise_core::text::escape(&i.name),
        desc = guise_core::text::escape(&i.description),
        domain = guise_core::text::escape(&i.domain),
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(front))
        .route("/avatars/original/missing.png", web::get().to(missing_png))
        .route("/headers/original/missing.png", web::get().to(missing_png));
}
