//! Guise: the shared announcer's queue, when the instance policy says it
//! boosts an anonymous thread only once a moderator approves
//! (`announcer_needs_approval`). Staff list the waiting posts, approve
//! (the announcer boosts it now) or reject (it stays, unboosted). The post
//! is judged, never its author: nothing here names a login.

use super::staff;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::audit::{logged, Target};
use serde_json::json;

/// `GET /api/v1/admin/guise/announcer_queue`: the waiting posts, oldest
/// first (at most 100), as Status entities.
async fn list(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    staff(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let ids = guise_core::announcer::queue(&mut conn, 100).await?;
    let out = types::statuses_by_ids(&state, &mut conn, None, &ids).await?;
    Ok(ok(&out))
}

/// Approves or rejects a waiting post, in the audit log. For the API and
/// the staff page alike.
pub(crate) async fn decide(
    state: &AppState,
    staff: i64,
    status: i64,
    approve: bool,
) -> ApiResult<()> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff), async |c| {
        let s = guise_core::announcer::decide(c, clock, status, approve).await?;
        let what = if approve {
            "approve_announcement"
        } else {
            "reject_announcement"
        };
        let (id, author) = (s.id, s.identity_id);
        Ok(((), what, Target::Status { id, author }))
    })
    .await?;
    Ok(())
}

async fn approve(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write").await?;
    decide(&state, viewer.id, parse_id(&path)?, true).await?;
    Ok(ok(&json!({})))
}

async fn reject(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write").await?;
    decide(&state, viewer.id, parse_id(&path)?, false).await?;
    Ok(ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/guise/announcer_queue", web::get().to(list))
        .route(
            "/api/v1/admin/guise/announcer_queue/{id}/approve",
            web::post().to(approve),
        )
        .route(
            "/api/v1/admin/guise/announcer_queue/{id}/reject",
            web::post().to(reject),
        );
}
