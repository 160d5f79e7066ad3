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

#[derive(Deserialize)]
struct CountParams {
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "de::string_list")]
    types: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    exclude_types: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    account_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    grouped_types: Vec<String>,
}

/// Notifications newer than the token's notifications marker (all of them
/// when it has none), up to `limit`.
async fn unread_rows(
    state: &AppState,
    auth: &Auth,
    p: &CountParams,
    limit: i64,
) -> ApiResult<Vec<guise_core::models::Notification>> {
    auth.require("read:notifications")?;
    let marker = super::keepings::markers_for(state, auth)
        .await?
        .into_iter()
        .find(|(t, _)| t == "notifications")
        .map(|(_, m)| m.last_read_id);
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let filter = NotificationFilter {
        types: p.types.clone(),
        exclude_types: p.exclude_types.clone(),
        account_id: p.account_id.as_ref().and_then(|a| a.parse().ok()),
    };
    Ok(social::list_notifications(
        &mut conn,
        &faces,
        &filter,
        &guise_core::statuses::Page {
            since_id: marker,
            limit,
            ..Default::default()
        },
    )
    .await?)
}

async fn unread_count(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<CountParams>,
) -> ApiResult<HttpResponse> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let rows = unread_rows(&state, &auth, &p, limit).await?;
    Ok(ok(&serde_json::json!({ "count": rows.len() })))
}

async fn unread_groups(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<CountParams>,
) -> ApiResult<HttpResponse> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let rows = unread_rows(&state, &auth, &p, 1000).await?;
    let mut keys: Vec<String> = rows
        .iter()
        .map(|n| types::group_key(n, &p.grouped_types))
        .collect();
    keys.sort();
    keys.dedup();
    let count = keys.len().min(usize::try_from(limit).unwrap_or(100));
    Ok(ok(&serde_json::json!({ "count": count })))
}

// Grouped notifications (Mastodon API version 2).

#[derive(Deserialize)]
struct GroupedParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::string_list")]
    types: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    exclude_types: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    account_id: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    grouped_types: Vec<String>,
}

/// One group as it is being gathered: its notifications, newest first.
struct Gathered {
    key: String,
    rows: Vec<guise_core::models::Notification>,
}

/// Groups `rows` (newest first) into at most `limit` groups; returns them
/// with the id of the oldest notification used (the next page's cursor).
fn gather(
    rows: Vec<guise_core::models::Notification>,
    grouped: &[String],
    limit: usize,
) -> Vec<Gathered> {
    let mut out: Vec<Gathered> = Vec::new();
    for n in rows {
        let key = types::group_key(&n, grouped);
        if let Some(g) = out.iter_mut().find(|g| g.key == key) {
            g.rows.push(n);
        } else if out.len() < limit {
            out.push(Gathered { key, rows: vec![n] });
        } else {
            // The page is full: this and older notifications are the next page's.
            break;
        }
    }
    out
}

async fn grouped_response(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    viewer: Option<i64>,
    groups: &[Gathered],
) -> ApiResult<serde_json::Value> {
    let mut account_ids: Vec<i64> = Vec::new();
    let mut status_ids: Vec<i64> = Vec::new();
    let mut out_groups = Vec::new();
    for g in groups {
        let Some(latest) = g.rows.first() else {
            continue;
        };
        let mut samples: Vec<i64> = Vec::new();
        for n in &g.rows {
            if !samples.contains(&n.from_identity_id) && samples.len() < 8 {
                samples.push(n.from_identity_id);
            }
        }
        account_ids.extend(&samples);
        status_ids.extend(latest.status_id);
        let min = g.rows.iter().map(|n| n.id).min().unwrap_or(latest.id);
        out_groups.push(serde_json::json!({
            "group_key": g.key,
            "notifications_count": g.rows.len(),
            "type": latest.kind,
            "most_recent_notification_id": latest.id.to_string(),
            "page_min_id": min.to_string(),
            "page_max_id": latest.id.to_string(),
            "latest_page_notification_at": types::iso(latest.created_at),
            "sample_account_ids": samples.iter().map(i64::to_string).collect::<Vec<_>>(),
            "status_id": latest.status_id.map(|s| s.to_string()),
        }));
    }
    account_ids.sort_unstable();
    account_ids.dedup();
    status_ids.sort_unstable();
    status_ids.dedup();
    let people = guise_core::accounts::identities_by_ids(conn, &account_ids).await?;
    let accounts = types::accounts(state, conn, &people).await?;
    let statuses = types::statuses_by_ids(state, conn, viewer, &status_ids).await?;
    Ok(serde_json::json!({
        "accounts": accounts,
        "statuses": statuses,
        "notification_groups": out_groups,
    }))
}

async fn grouped(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<GroupedParams>,
) -> ApiResult<HttpResponse> {
    auth.require("read:notifications")?;
    let page = p.page.page(40, 80)?;
    let limit = usize::try_from(page.limit).unwrap_or(40);
    let filter = NotificationFilter {
        types: p.types,
        exclude_types: p.exclude_types,
        account_id: p.account_id.and_then(|a| a.parse().ok()),
    };
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let viewer = auth.face.as_ref().map(|f| f.id);
    // Enough notifications for `limit` groups in the usual case; a page
    // ends early rather than reading without bound.
    let rows = social::list_notifications(
        &mut conn,
        &faces,
        &filter,
        &guise_core::statuses::Page {
            limit: page.limit * 4,
            ..page
        },
    )
    .await?;
    let groups = gather(rows, &p.grouped_types, limit);
    let body = grouped_response(&state, &mut conn, viewer, &groups).await?;
    let mut cursors: Vec<i64> = groups
        .iter()
        .flat_map(|g| g.rows.iter().map(|n| n.id))
        .collect();
    cursors.sort_unstable_by(|a, b| b.cmp(a));
    let edges: Vec<i64> = match (cursors.first(), cursors.last()) {
        (Some(a), Some(b)) => vec![*a, *b],
        _ => Vec::new(),
    };
    Ok(paginated(&req, &state, &body, &edges))
}

/// The notifications of one group, among the token's.
async fn group_rows(
    state: &AppState,
    auth: &Auth,
    key: &str,
) -> ApiResult<(Vec<guise_core::models::Notification>, Option<i64>)> {
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
    let mine: Vec<_> = rows
        .into_iter()
        .filter(|n| types::group_key(n, &[]) == key)
        .collect();
    if mine.is_empty() {
        return Err(crate::error::ApiError::not_found());
    }
    Ok((mine, auth.face.as_ref().map(|f| f.id)))
}

async fn group(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (rows, viewer) = group_rows(&state, &auth, &path).await?;
    let groups = vec![Gathered {
        key: path.into_inner(),
        rows,
    }];
    let mut conn = state.db.conn().await?;
    Ok(ok(
        &grouped_response(&state, &mut conn, viewer, &groups).await?
    ))
}

async fn group_accounts(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (rows, _) = group_rows(&state, &auth, &path).await?;
    let mut ids: Vec<i64> = Vec::new();
    for n in &rows {
        if !ids.contains(&n.from_identity_id) {
            ids.push(n.from_identity_id);
        }
    }
    let mut conn = state.db.conn().await?;
    let people = guise_core::accounts::identities_by_ids(&mut conn, &ids).await?;
    let mut ordered = Vec::new();
    for id in ids {
        if let Some(p) = people.iter().find(|p| p.id == id) {
            ordered.push(p.clone());
        }
    }
    Ok(ok(&types::accounts(&state, &mut conn, &ordered).await?))
}

async fn dismiss_group(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.require("write:notifications")?;
    let (rows, _) = group_rows(&state, &auth, &path).await?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    for n in rows {
        social::dismiss_notification(&mut conn, &faces, n.id).await?;
    }
    Ok(ok(&serde_json::json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/notifications", web::get().to(grouped))
        .route(
            "/api/v2/notifications/unread_count",
            web::get().to(unread_groups),
        )
        .route("/api/v2/notifications/{key}", web::get().to(group))
        .route(
            "/api/v2/notifications/{key}/accounts",
            web::get().to(group_accounts),
        )
        .route(
            "/api/v2/notifications/{key}/dismiss",
            web::post().to(dismiss_group),
        );
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
