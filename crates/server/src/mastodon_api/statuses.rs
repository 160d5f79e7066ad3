//! Statuses: post, edit, delete, read, threads, favourites and reblogs.

use super::types::{self, iso};
use super::{ok, parse_id, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::social::{self, FaceList};
use guise_core::statuses::{self as st, NewStatus, StatusEditInput};
use guise_policy::{Tier, Visibility};
use serde::Deserialize;

#[derive(Deserialize)]
struct PostParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    in_reply_to_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    visibility: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    language: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    media_ids: Vec<String>,
    #[serde(default)]
    poll: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "de::opt_string")]
    scheduled_at: Option<String>,
    /// Guise: the tier to post as ("All my faces" tokens; others must match their face).
    #[serde(default, deserialize_with = "de::opt_string")]
    tier: Option<String>,
    /// Guise: the face to post as.
    #[serde(default, deserialize_with = "de::opt_id")]
    identity_id: Option<String>,
}

fn parse_visibility(v: &Option<String>) -> ApiResult<Option<Visibility>> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::unprocessable(format!("Validation failed: visibility {s:?} is not one of public, unlisted, private, direct"))),
    }
}

/// A face-bound token posts only as its face: a `tier` or `identity_id`
/// naming anything else is refused.
fn check_face_params(
    face: &guise_core::models::Identity,
    tier: &Option<String>,
    identity_id: &Option<String>,
) -> ApiResult<()> {
    if let Some(t) = tier.as_deref().filter(|t| !t.is_empty()) {
        let t: Tier = t.parse().map_err(|_| {
            ApiError::unprocessable(format!(
                "Validation failed: tier {t:?} is not one of real_name, pseudonymous, anonymous"
            ))
        })?;
        if t != face.tier() {
            return Err(ApiError::unprocessable(
                "Validation failed: tier is not the tier of the face this token is bound to",
            ));
        }
    }
    if let Some(id) = identity_id.as_deref().filter(|i| !i.is_empty()) {
        if id != face.id.to_string() {
            return Err(ApiError::unprocessable(
                "Validation failed: identity_id is not the face this token is bound to",
            ));
        }
    }
    Ok(())
}

fn reply_id(v: &Option<String>) -> ApiResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            ApiError::unprocessable("Validation failed: in_reply_to_id Record not found")
        }),
    }
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PostParams>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:statuses")?;
    check_face_params(face, &p.tier, &p.identity_id)?;
    if !p.media_ids.is_empty() {
        return Err(ApiError::unprocessable(
            "Validation failed: media_ids media attachments are not supported yet",
        ));
    }
    if p.poll.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::unprocessable(
            "Validation failed: poll polls are not supported yet",
        ));
    }
    if p.scheduled_at.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::unprocessable(
            "Validation failed: scheduled_at scheduled posts are not supported yet",
        ));
    }
    let visibility = parse_visibility(&p.visibility)?;
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .map(str::to_owned);
    let mut conn = state.db.conn().await?;
    let status = st::publish(
        &mut conn,
        &state.ctx(),
        face,
        NewStatus {
            text: p.status.unwrap_or_default(),
            spoiler_text: p.spoiler_text.unwrap_or_default(),
            sensitive: p.sensitive.unwrap_or(false),
            visibility,
            language: p.language,
            in_reply_to_id: reply_id(&p.in_reply_to_id)?,
            idempotency_key: key,
        },
    )
    .await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        status.id,
    )
    .await?))
}

async fn show(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    st::visible_status(&mut conn, viewer, id).await?;
    Ok(ok(
        &types::status_by_id(&state, &mut conn, viewer, id).await?
    ))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:statuses")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let mut entity = types::status_by_id(&state, &mut conn, Some(face.id), id).await?;
    let gone = st::delete(&mut conn, state.clock.as_ref(), face, id).await?;
    // Mastodon returns the deleted status with its source, for "delete and redraft".
    entity.text = Some(gone.source_text);
    Ok(ok(&entity))
}

#[derive(Deserialize)]
struct EditParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    spoiler_text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    sensitive: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    language: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    media_ids: Vec<String>,
}

async fn edit(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<EditParams>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:statuses")?;
    let id = parse_id(&path)?;
    if !p.media_ids.is_empty() {
        return Err(ApiError::unprocessable(
            "Validation failed: media_ids media attachments are not supported yet",
        ));
    }
    let mut conn = state.db.conn().await?;
    st::edit(
        &mut conn,
        &state.ctx(),
        face,
        id,
        StatusEditInput {
            text: p.status.unwrap_or_default(),
            spoiler_text: p.spoiler_text.unwrap_or_default(),
            sensitive: p.sensitive.unwrap_or(false),
            language: p.language,
        },
    )
    .await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        id,
    )
    .await?))
}

async fn history(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    let status = st::visible_status(&mut conn, viewer, id).await?;
    let entity = types::status_by_id(&state, &mut conn, viewer, id).await?;
    let edits = st::history(&mut conn, &status).await?;
    let versions: Vec<serde_json::Value> = if edits.is_empty() {
        vec![serde_json::json!({
            "content": status.content, "spoiler_text": status.spoiler_text, "sensitive": status.sensitive,
            "created_at": iso(status.created_at), "account": entity.account, "poll": null,
            "media_attachments": [], "emojis": [],
        })]
    } else {
        edits
            .iter()
            .map(|e| {
                serde_json::json!({
                    "content": e.content, "spoiler_text": e.spoiler_text, "sensitive": e.sensitive,
                    "created_at": iso(e.created_at), "account": entity.account, "poll": null,
                    "media_attachments": [], "emojis": [],
                })
            })
            .collect()
    };
    Ok(ok(&versions))
}

async fn source(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("read:statuses")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let status = st::visible_status(&mut conn, Some(face.id), id).await?;
    if status.identity_id != face.id {
        return Err(ApiError::not_found());
    }
    Ok(ok(&serde_json::json!({
        "id": status.id.to_string(), "text": status.source_text, "spoiler_text": status.spoiler_text,
    })))
}

async fn context(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    let status = st::visible_status(&mut conn, viewer, id).await?;
    let (anc, desc) = st::context(&mut conn, viewer, &status).await?;
    let ancestors = types::statuses_by_ids(&state, &mut conn, viewer, &anc).await?;
    let descendants = types::statuses_by_ids(&state, &mut conn, viewer, &desc).await?;
    Ok(ok(
        &serde_json::json!({ "ancestors": ancestors, "descendants": descendants }),
    ))
}

async fn favourite(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:favourites")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    social::favourite(&mut conn, state.clock.as_ref(), face, id).await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        id,
    )
    .await?))
}

async fn unfavourite(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:favourites")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    social::unfavourite(&mut conn, state.clock.as_ref(), face, id).await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        id,
    )
    .await?))
}

#[derive(Deserialize)]
struct ReblogParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    visibility: Option<String>,
}

async fn reblog(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<ReblogParams>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:statuses")?;
    let id = parse_id(&path)?;
    let visibility = parse_visibility(&p.visibility)?;
    let mut conn = state.db.conn().await?;
    let row = social::reblog(&mut conn, state.clock.as_ref(), face, id, visibility).await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        row.id,
    )
    .await?))
}

async fn unreblog(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = auth.face_with("write:statuses")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let original = social::unreblog(&mut conn, state.clock.as_ref(), face, id).await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(face.id),
        original.id,
    )
    .await?))
}

async fn who_list(
    req: &HttpRequest,
    state: &AppState,
    auth: &MaybeAuth,
    id: &str,
    list: fn(i64) -> FaceList,
    p: &PageParams,
) -> ApiResult<HttpResponse> {
    let id = parse_id(id)?;
    let mut conn = state.db.conn().await?;
    st::visible_status(&mut conn, auth.viewer(), id).await?;
    drop(conn);
    super::accounts::face_list_response(req, state, list(id), p).await
}

async fn favourited_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    who_list(&req, &state, &auth, &path, FaceList::FavouritedBy, &p).await
}

async fn reblogged_by(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    who_list(&req, &state, &auth, &path, FaceList::RebloggedBy, &p).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/statuses", web::post().to(create))
        .route("/api/v1/statuses/{id}", web::get().to(show))
        .route("/api/v1/statuses/{id}", web::delete().to(delete))
        .route("/api/v1/statuses/{id}", web::put().to(edit))
        .route("/api/v1/statuses/{id}/history", web::get().to(history))
        .route("/api/v1/statuses/{id}/source", web::get().to(source))
        .route("/api/v1/statuses/{id}/context", web::get().to(context))
        .route("/api/v1/statuses/{id}/favourite", web::post().to(favourite))
        .route(
            "/api/v1/statuses/{id}/unfavourite",
            web::post().to(unfavourite),
        )
        .route("/api/v1/statuses/{id}/reblog", web::post().to(reblog))
        .route("/api/v1/statuses/{id}/unreblog", web::post().to(unreblog))
        .route(
            "/api/v1/statuses/{id}/favourited_by",
            web::get().to(favourited_by),
        )
        .route(
            "/api/v1/statuses/{id}/reblogged_by",
            web::get().to(reblogged_by),
        );
}
