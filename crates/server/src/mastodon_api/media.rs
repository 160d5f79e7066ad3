//! Media uploads (`/api/v1/media`, `/api/v2/media`), avatars and headers.
//! An upload belongs to the capability of the token that made it (see
//! `guise_core::uploads`) until a post attaches it.

use super::ok;
use crate::error::{ApiError, ApiResult};
use crate::extract::{collect_upload, Auth, FilePart};
use crate::imaging::{self, Fit};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::uploads::{self, NewUpload, Upload};
use serde_json::{json, Map, Value};

fn local_url(state: &AppState, key: &str) -> String {
    format!("{}/media/local/{key}", state.base_url)
}

/// Mastodon's MediaAttachment for an upload.
pub fn entity(state: &AppState, u: &Upload) -> Value {
    json!({
        "id": u.id.to_string(),
        "type": u.kind,
        "url": local_url(state, &u.file_key),
        "preview_url": local_url(state, &u.preview_key),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": u.meta,
        "description": if u.description.is_empty() { Value::Null } else { json!(u.description) },
        "blurhash": u.blurhash,
    })
}

/// A local attachment as a status stores it, as the entity.
pub fn stored_entity(state: &AppState, a: &Value) -> Option<Value> {
    let key = a.get("key")?.as_str()?;
    let preview = a.get("preview_key")?.as_str()?;
    Some(json!({
        "id": a.get("id"),
        "type": a.get("type"),
        "url": local_url(state, key),
        "preview_url": local_url(state, preview),
        "remote_url": null,
        "preview_remote_url": null,
        "text_url": null,
        "meta": a.get("meta"),
        "description": a.get("description"),
        "blurhash": a.get("blurhash"),
    }))
}

/// `focus` as apps send it: "x,y", each in [-1, 1].
pub(crate) fn focus(v: Option<&Value>) -> ApiResult<Option<(f64, f64)>> {
    let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::unprocessable(
            "Validation failed: focus must be two numbers from -1 to 1, as \"x,y\"",
        )
    };
    let (x, y) = s.split_once(',').ok_or_else(bad)?;
    let x: f64 = x.trim().parse().map_err(|_| bad())?;
    let y: f64 = y.trim().parse().map_err(|_| bad())?;
    if !(-1.0..=1.0).contains(&x) || !(-1.0..=1.0).contains(&y) {
        return Err(bad());
    }
    Ok(Some((x, y)))
}

fn text(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Images processed at once in this process: each may need a few hundred
/// megabytes while decoded, so more wait their turn.
static PROCESSING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Processes an image off the async workers (two at a time) and stores its
/// files under fresh random names.
pub async fn store_image(
    state: &AppState,
    bytes: Vec<u8>,
    fit: Fit,
) -> ApiResult<(imaging::Processed, String, String)> {
    let permit = PROCESSING
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    let done = web::block(move || imaging::process(&bytes, fit))
        .await
        .map_err(|_| ApiError::internal())?;
    drop(permit);
    let p = done.map_err(|r| ApiError::unprocessable(r.message()))?;
    let (file, preview) = (guise_core::media::new_key(), guise_core::media::new_key());
    for (k, b) in [(&file, &p.bytes), (&preview, &p.preview)] {
        state
            .media_store
            .put(k, b.clone())
            .await
            .map_err(|e| guise_core::CoreError::Internal(e.to_string()))?;
    }
    let file_key = format!("{file}.{}", p.ext);
    let preview_key = format!("{preview}.{}", p.preview_ext);
    Ok((p, file_key, preview_key))
}

pub(crate) fn limit(state: &AppState) -> usize {
    usize::try_from(state.config.media.max_upload_mb.saturating_mul(1024 * 1024))
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024)
}

async fn upload(req: HttpRequest, payload: web::Payload, auth: Auth) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    auth.answer(super::access::Group::Media, "write:media")?;
    auth.account_id()?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(ApiError::internal)?;
    let (map, files) = collect_upload(&req, &mut payload, limit(&state)).await?;
    let Some(FilePart { bytes, .. }) = files.into_iter().find(|f| f.name == "file") else {
        return Err(ApiError::unprocessable(
            "Validation failed: File can't be blank",
        ));
    };
    let description = text(&map, "description").unwrap_or_default();
    let focus = focus(map.get("focus"))?;
    let u = upload_image(&state, &auth, bytes, description, focus).await?;
    // Processed before answering: 200 on v2 as on v1 (Mastodon answers
    // 202 only while a file is still being processed).
    Ok(ok(&entity(&state, &u)))
}

/// Processes and stores an uploaded image for `auth` (the web composer's
/// path too): re-encoded without metadata, owned by the token's capability.
pub(crate) async fn upload_image(
    state: &AppState,
    auth: &Auth,
    bytes: Vec<u8>,
    description: String,
    focus: Option<(f64, f64)>,
) -> ApiResult<uploads::Upload> {
    uploads::check_description(&description)?;
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let (p, file_key, preview_key) = store_image(state, bytes, Fit::Attachment).await?;
    let mut meta = p.meta;
    if let (Some((x, y)), Some(o)) = (focus, meta.as_object_mut()) {
        o.insert("focus".into(), json!({ "x": x, "y": y }));
    }
    let mut conn = state.db.conn().await?;
    let u = uploads::create(
        &mut conn,
        state.clock.as_ref(),
        NewUpload {
            kind: p.kind.into(),
            content_type: p.content_type.into(),
            file_key,
            preview_key,
            description,
            blurhash: p.blurhash,
            meta,
            size_bytes: size,
        },
        |id| auth.media_tag(id),
    )
    .await?;
    Ok(u)
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(super::access::Group::Media, "write:media")?;
    let id = super::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let u = uploads::get(&mut conn, id, &auth.media_tag(id), &faces).await?;
    Ok(ok(&entity(&state, &u)))
}

async fn update(
    req: HttpRequest,
    payload: web::Payload,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    auth.answer(super::access::Group::Media, "write:media")?;
    let state = req
        .app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(ApiError::internal)?;
    let limit = state.config.server.max_body_bytes;
    let map = crate::extract::collect_params(&req, &mut payload, limit).await?;
    let id = super::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let u = uploads::update(
        &mut conn,
        id,
        &auth.media_tag(id),
        text(&map, "description").as_deref(),
        focus(map.get("focus"))?,
    )
    .await?;
    Ok(ok(&entity(&state, &u)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(super::access::Group::Media, "write:media")?;
    let id = super::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let faces = auth.reading_faces(&mut conn).await?;
    let u = uploads::delete(&mut conn, id, &auth.media_tag(id), &faces).await?;
    drop(conn);
    remove_files(&state, &[u]).await;
    Ok(ok(&json!({})))
}

/// Deletes uploads' files (best effort: a file left behind names nobody).
pub async fn remove_files(state: &AppState, gone: &[Upload]) {
    for u in gone {
        for k in [&u.file_key, &u.preview_key] {
            let name = k.split('.').next().unwrap_or_default();
            if let Err(e) = state.media_store.delete(name).await {
                tracing::warn!(error = %e, "removing an upload's file");
            }
        }
    }
}

/// Removes uploads never attached within two days, and those of deleted
/// statuses (a job of `guise serve` and `guise worker`).
pub async fn sweep(state: &AppState) -> guise_core::CoreResult<usize> {
    let mut conn = state.db.conn().await?;
    let gone = uploads::take_orphans(&mut conn, state.clock.as_ref(), 100).await?;
    drop(conn);
    remove_files(state, &gone).await;
    Ok(gone.len())
}

/// A local file from the media store: uploads, avatars, headers.
async fn serve_local(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = path.into_inner();
    let (name, ext) = key.split_once('.').ok_or_else(ApiError::not_found)?;
    if name.len() != 32 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found());
    }
    let ct = match ext {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        _ => return Err(ApiError::not_found()),
    };
    let body = state
        .media_store
        .get(name)
        .await
        .map_err(|e| guise_core::CoreError::Internal(e.to_string()))?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", ct))
        .insert_header(("Cache-Control", "public, max-age=604800, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'"))
        .body(body))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/media", web::post().to(upload))
        .route("/api/v2/media", web::post().to(upload))
        .route("/api/v1/media/{id}", web::get().to(show))
        .route("/api/v1/media/{id}", web::put().to(update))
        .route("/api/v1/media/{id}", web::delete().to(delete))
        .route("/media/local/{key}", web::get().to(serve_local));
}
