//! Remote media reach clients only through this proxy. Handing clients the
//! remote URLs would let a remote server tell two faces apart by nothing
//! but which addresses fetch its per-face URLs, and when — and so tie them
//! together. The proxy never contacts the origin either: the worker fetched
//! each file when what names it arrived (`guise_core::media`), and the
//! proxy serves that copy, or a placeholder when there is none (yet, or any
//! more). A reader thus tells no remote server anything. URLs are signed
//! with a key of the instance's, so the proxy answers only for URLs it gave.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

fn signature(key: &[u8; 32], url: &str) -> String {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    let tag = mac.finalize().into_bytes();
    hex::encode(tag.get(..16).unwrap_or_default())
}

/// The proxied form of a remote media URL (what clients are given).
pub fn proxied(state: &AppState, url: &str) -> String {
    let mut out = format!("{}/media/proxy?url=", state.base_url);
    out.extend(url::form_urlencoded::byte_serialize(url.as_bytes()));
    out.push_str("&sig=");
    out.push_str(&signature(state.media_key(), url));
    out
}

#[derive(Deserialize)]
struct ProxyParams {
    url: String,
    sig: String,
}

async fn proxy(state: web::Data<AppState>, p: web::Query<ProxyParams>) -> ApiResult<HttpResponse> {
    let want = signature(state.media_key(), &p.url);
    // Constant time is not needed for a MAC that names a public URL, but cheap.
    let ok = !want.is_empty()
        && want.len() == p.sig.len()
        && want
            .bytes()
            .zip(p.sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !ok {
        return Err(ApiError::not_found());
    }
    let mut conn = state.db.conn().await?;
    let cached = guise_core::media::lookup(&mut conn, &p.url).await?;
    drop(conn);
    if let guise_core::media::Cached::Ready { key, content_type } = cached {
        if let Some(body) = state
            .media_store
            .get(&key)
            .await
            .map_err(|e| guise_core::CoreError::Internal(e.to_string()))?
        {
            return Ok(HttpResponse::Ok()
                .insert_header(("Content-Type", content_type))
                .insert_header(("Cache-Control", "public, max-age=86400, immutable"))
                .insert_header(("X-Content-Type-Options", "nosniff"))
                .insert_header(("Content-Security-Policy", "default-src 'none'"))
                .body(body));
        }
    }
    Ok(placeholder())
}

/// A neutral 1×1 grey PNG for what is not in the store, never cached by the
/// client so that the real file shows once the worker has it.
fn placeholder() -> HttpResponse {
    // Generated with zlib; `file` says "PNG image data, 1 x 1, 8-bit grayscale".
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3A,
        0x7E, 0x9B, 0x55, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0x38,
        0x00, 0x00, 0x00, 0xC2, 0x00, 0xC1, 0xFF, 0xD6, 0x2D, 0xDC, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    HttpResponse::Ok()
        .insert_header(("Content-Type", "image/png"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Guise-Placeholder", "1"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(PNG)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/media/proxy", web::get().to(proxy));
}
