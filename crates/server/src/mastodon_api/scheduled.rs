//! Scheduled statuses (`/api/v1/scheduled_statuses`, and `scheduled_at` on
//! `POST /api/v1/statuses`): persistent faces only.

use super::access::{Answer, Group};
use super::{ok, paginated, parse_id, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use guise_core::models::Identity;
use guise_core::scheduled::{self, Scheduled};
use serde::Deserialize;
use serde_json::{json, Value};

/// Mastodon's ScheduledStatus entity; `kept` holds (at least) the uploads
/// kept for it.
pub fn scheduled_json(
    state: &AppState,
    s: &Scheduled,
    kept: &[guise_core::uploads::Upload],
) -> Value {
    let p = s.params();
    let mut params = p.to_json();
    if let Some(o) = params.as_object_mut() {
        o.insert("scheduled_at".to_owned(), Value::Null);
        o.insert("with_rate_limit".to_owned(), Value::Bool(false));
    }
    let media: Vec<Value> = p
        .media_ids
        .iter()
        .filter_map(|id| {
            kept.iter()
                .find(|u| u.id == *id && u.scheduled_id == Some(s.id))
        })
        .filter_map(|u| {
            super::media::stored_entity(state, &guise_core::uploads::attachment_json(u))
        })
        .collect();
    json!({
        "id": s.id.to_string(),
        "scheduled_at": super::types::iso(s.scheduled_at),
        "params": params,
        "media_attachments": media,
    })
}

async fn entity(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    s: &Scheduled,
) -> ApiResult<Value> {
    let kept = guise_core::uploads::of_scheduled(conn, &[s.id]).await?;
    Ok(scheduled_json(state, s, &kept))
}

/// An ISO 8601 time as apps send it.
pub fn parse_time(s: &str, field: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::unprocessable(format!(
                "Validation failed: {field} is not an ISO 8601 time"
            ))
        })
}

/// Keeps a post of `face` for `at` (from `POST /api/v1/statuses`).
pub async fn schedule(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    face: &Identity,
    at: &str,
    params: scheduled::Params,
    media: &[guise_core::uploads::Claim],
) -> ApiResult<HttpResponse> {
    let at = parse_time(at, "scheduled_at")?;
    let s = scheduled::create(conn, state.clock.as_ref(), face, at, params, media).await?;
    Ok(ok(&entity(state, conn, &s).await?))
}

async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ScheduledRead, "read:statuses")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    let all = scheduled::of(&mut conn, me.id, &page).await?;
    let ids: Vec<i64> = all.iter().map(|s| s.id).collect();
    let kept = guise_core::uploads::of_scheduled(&mut conn, &ids).await?;
    let out: Vec<Value> = all
        .iter()
        .map(|s| scheduled_json(&state, s, &kept))
        .collect();
    let cursors: Vec<i64> = all.iter().map(|s| s.id).collect();
    Ok(paginated(&req, &state, &out, &cursors))
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ScheduledRead, "read:statuses")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let s = scheduled::get(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&entity(&state, &mut conn, &s).await?))
}

#[derive(Deserialize)]
struct Reschedule {
    #[serde(default, deserialize_with = "de::opt_string")]
    scheduled_at: Option<String>,
}

async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Reschedule>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ScheduledWrite, "write:statuses")?;
    let me = auth.face()?;
    let at = p
        .scheduled_at
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::unprocessable("Validation failed: scheduled_at can't be blank"))?;
    let at = parse_time(at, "scheduled_at")?;
    let mut conn = state.db.conn().await?;
    let s =
        scheduled::reschedule(&mut conn, state.clock.as_ref(), me.id, parse_id(&path)?, at).await?;
    Ok(ok(&entity(&state, &mut conn, &s).await?))
}

async fn cancel(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ScheduledWrite, "write:statuses")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    scheduled::cancel(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/scheduled_statuses", web::get().to(index))
        .route("/api/v1/scheduled_statuses/{id}", web::get().to(show))
        .route("/api/v1/scheduled_statuses/{id}", web::put().to(update))
        .route("/api/v1/scheduled_statuses/{id}", web::delete().to(cancel));
}
