//! Notifications of the face a token acts as.

use super::{ok, paginated, parse_id, types, PageParams};
use crate::error::ApiResult;
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::social::{self, NotificationFilter};
use serde::Deserialize;

#[derive(Deserialize)]
struct ListParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::string_list")]
    types: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    exclude_types: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    account_id: Option<String>,
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<ListParams>,
) -> ApiResult<HttpResponse> {
    auth.require("read:notifications")?;
    let page = p.page.page(40, 80)?;
    let filter = NotificationFilter {
        types: p.types,
        exclude_types: p.exclude_types,
        account_id: p.account_id.and_then(|a| a.parse().ok()),
    };
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let viewer = auth.face.as_ref().map(|f| f.id);
    let rows = social::list_notifications(&mut conn, &faces, &filter, &page).await?;
    let out = types::notifications(&state, &mut conn, viewer, &rows).await?;
    let cursors: Vec<i64> = rows.iter().map(|n| n.id).collect();
    Ok(paginated(&req, &state, &out, &cursors))
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.require("read:notifications")?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let viewer = auth.face.as_ref().map(|f| f.id);
    let row = social::get_notification(&mut conn, &faces, parse_id(&path)?).await?;
    let mut out =
        types::notifications(&state, &mut conn, viewer, std::slice::from_ref(&row)).await?;
    let n = out.pop().ok_or_else(crate::error::ApiError::not_found)?;
    Ok(ok(&n))
}

async fn dismiss(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.require("write:notifications")?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    social::dismiss_notification(&mut conn, &faces, parse_id(&path)?).await?;
    Ok(ok(&serde_json::json!({})))
}

async fn clear(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    auth.require("write:notifications")?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    social::clear_notifications(&mut conn, &faces).await?;
    Ok(ok(&serde_json::json!({})))
}

async fn unread_count(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    auth.require("read:notifications")?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let rows = social::list_notifications(
        &mut conn,
        &faces,
        &NotificationFilter::default(),
        &guise_core::statuses::Page {
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;
    Ok(ok(&serde_json::json!({ "count": rows.len() })))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/notifications", web::get().to(list))
        .route("/api/v1/notifications/clear", web::post().to(clear))
        .route(
            "/api/v1/notifications/unread_count",
            web::get().to(unread_count),
        )
        .route("/api/v1/notifications/{id}", web::get().to(show))
        .route(
            "/api/v1/notifications/{id}/dismiss",
            web::post().to(dismiss),
        );
}
