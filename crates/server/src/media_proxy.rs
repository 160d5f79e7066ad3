//! Remote media reach clients only through this proxy. Handing clients the
//! remote URLs would let a remote server tell two faces apart by nothing
//! but which addresses fetch its per-face URLs, and when — and so tie them
//! together. Here the instance fetches (unsigned, through the guarded
//! fetcher) and the remote server sees only the instance. URLs are signed
//! with a key of the instance's, so the proxy is not open to any URL.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Media larger than this are not passed on.
pub const MAX_MEDIA_BYTES: usize = 16 * 1024 * 1024;

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
    let url = url::Url::parse(&p.url).map_err(|_| ApiError::not_found())?;
    let (kind, body) = state
        .fetcher
        .get_media(&url, MAX_MEDIA_BYTES)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, format!("Media unavailable: {e}")))?;
    let base = kind.split(';').next().unwrap_or_default().trim();
    if !(base.starts_with("image/") || base.starts_with("video/") || base.starts_with("audio/"))
        || base == "image/svg+xml"
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Not an image, video or audio file",
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", base.to_owned()))
        .insert_header(("Cache-Control", "public, max-age=86400, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'"))
        .body(body))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/media/proxy", web::get().to(proxy));
}
