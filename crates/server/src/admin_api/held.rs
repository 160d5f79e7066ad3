//! Guise: remote posts an incoming rule holds for a moderator (`action =
//! hold`, e.g. posts by remote accounts younger than a week). Staff list
//! them, release one (stored as if it had just arrived, its held thread
//! start first) or reject it (dropped, with the replies held behind it).
//! Only remote posts are ever held: nothing here names a local login.

use super::staff;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::held::HeldPost;
use serde::Serialize;
use serde_json::json;

/// A held post as staff see it.
#[derive(Debug, Serialize)]
pub(crate) struct Held {
    pub id: String,
    pub uri: String,
    pub url: Option<String>,
    pub account: types::Account,
    /// The note's words, sanitized as a status's are.
    pub content: String,
    pub spoiler_text: String,
    pub media_attachments_count: usize,
    pub in_reply_to_uri: Option<String>,
    /// An edit of a post already shown.
    pub edit: bool,
    /// Why it is held.
    pub codes: Vec<String>,
    pub held_on: String,
}

/// Held posts as staff see them.
pub(crate) async fn entities(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    held: &[HeldPost],
) -> ApiResult<Vec<Held>> {
    let mut out = Vec::with_capacity(held.len());
    for h in held {
        let author = guise_core::accounts::get_identity(conn, h.identity_id).await?;
        let account = types::account(state, conn, &author).await?;
        let doc = guise_federation::remote::parse_note(&h.note).ok();
        let (content, spoiler, url, media) = match &doc {
            Some(d) => (
                guise_federation::sanitize::status_html(&d.content).unwrap_or_default(),
                guise_core::text::html_to_text(&d.summary),
                d.url.clone(),
                d.attachments.len(),
            ),
            None => (String::new(), String::new(), None, 0),
        };
        let edit = guise_core::remote::status_by_uri(conn, &h.uri)
            .await?
            .is_some();
        out.push(Held {
            id: h.id.to_string(),
            uri: h.uri.clone(),
            url,
            account,
            content,
            spoiler_text: spoiler,
            media_attachments_count: media,
            in_reply_to_uri: h.in_reply_to.clone(),
            edit,
            codes: h.codes.clone(),
            held_on: h.held_on.to_string(),
        });
    }
    Ok(out)
}

/// `GET /api/v1/admin/guise/held_posts`: the waiting posts, oldest first
/// (at most 100).
async fn list(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    staff(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let held = guise_core::held::list(&mut conn, 100).await?;
    Ok(ok(&entities(&state, &mut conn, &held).await?))
}

async fn release(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write").await?;
    crate::inbox::release_held(&state, viewer.id, parse_id(&path)?).await?;
    Ok(ok(&json!({})))
}

async fn reject(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write").await?;
    crate::inbox::reject_held(&state, viewer.id, parse_id(&path)?).await?;
    Ok(ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/guise/held_posts", web::get().to(list))
        .route(
            "/api/v1/admin/guise/held_posts/{id}/release",
            web::post().to(release),
        )
        .route(
            "/api/v1/admin/guise/held_posts/{id}/reject",
            web::post().to(reject),
        );
}
