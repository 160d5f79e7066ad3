//! ActivityPub and discovery routes: WebFinger, host-meta, actor and note
//! documents with content negotiation (ActivityPub JSON for ActivityPub
//! clients, HTML otherwise), collections and the instance actor.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::models::Identity;
use guise_core::text::escape;
use guise_federation::protocol::{self, Urls, AP_CONTENT_TYPE};
use guise_policy::{Tier, Visibility};
use serde::Deserialize;

fn wants_activitypub(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.contains("application/activity+json") || a.contains("application/ld+json")
        })
}

fn ap(v: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(format!("{AP_CONTENT_TYPE}; charset=utf-8"))
        .insert_header((header::VARY, "Accept"))
        .body(v.to_string())
}

fn gone() -> ApiError {
    ApiError::new(actix_web::http::StatusCode::GONE, "Gone")
}

fn urls(state: &AppState) -> Urls {
    Urls::new(state.base_url.to_string())
}

/// A local face by handle, of the kind the path names.
async fn local_face(state: &AppState, handle: &str, anonymous: bool) -> ApiResult<Identity> {
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::find_identity_by_acct(&mut conn, handle, None)
        .await?
        .filter(|f| (f.tier() == Tier::Anonymous) == anonymous && !f.suspended)
        .ok_or_else(ApiError::not_found)?;
    if face.tombstoned {
        return Err(gone());
    }
    Ok(face)
}

/// The face's key for its public document: its own, or one from the pool.
/// Never made here: an RSA key costs a core for a fraction of a second, and
/// anyone may fetch any face's document. With the pool empty, 503 until the
/// pool's filler has made more.
async fn key_of(state: &AppState, face: &Identity) -> ApiResult<guise_core::keys::KeyPair> {
    let mut conn = state.db.conn().await?;
    Ok(guise_core::keys::key_of(&mut conn, face.id, || {
        Err(guise_core::CoreError::Unavailable(
            "No signing key is ready for this face yet; try again shortly",
        ))
    })
    .await?)
}

async fn actor(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
    anonymous: bool,
) -> ApiResult<HttpResponse> {
    let face = local_face(state, handle, anonymous).await?;
    if wants_activitypub(req) {
        let key = key_of(state, &face).await?;
        return Ok(ap(&protocol::actor_document(&urls(state), &face, &key)));
    }
    crate::web::public::face_page(req, state, &face).await
}

async fn user_actor(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    actor(&req, &state, &path, false).await
}

async fn anon_actor(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    actor(&req, &state, &path, true).await
}

async fn profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = local_face(&state, &path, false).await?;
    crate::web::public::face_page(&req, &state, &face).await
}

async fn note(
    req: &HttpRequest,
    state: &AppState,
    handle: &str,
    id: &str,
    anonymous: bool,
) -> ApiResult<HttpResponse> {
    let face = local_face(state, handle, anonymous).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found())?;
    let mut conn = state.db.conn().await?;
    let view = guise_core::statuses::load_view(&mut conn, None, id).await?;
    let s = &view.status;
    // Unsigned fetches see public and unlisted statuses only.
    if s.identity_id != face.id
        || s.reblog_of_id.is_some()
        || !matches!(s.visibility(), Visibility::Public | Visibility::Unlisted)
    {
        return Err(ApiError::not_found());
    }
    if !wants_activitypub(req) {
        let mut page = crate::web::public::post_page(req, state, &face, s);
        page.headers_mut()
            .insert(header::VARY, header::HeaderValue::from_static("Accept"));
        return Ok(page);
    }
    let u = urls(state);
    let parent = match s.in_reply_to_id {
        Some(p) => match guise_core::statuses::load_view(&mut conn, None, p).await {
            Ok(pv) => Some(
                pv.status
                    .uri
                    .clone()
                    .unwrap_or_else(|| u.status(&pv.author, pv.status.id)),
            ),
            Err(_) => None,
        },
        None => None,
    };
    let mentions: Vec<(String, String)> = view
        .mentions
        .iter()
        .map(|m| {
            (
                m.actor_url.clone().unwrap_or_else(|| u.actor(m)),
                if m.is_local() {
                    format!("{}@{}", m.handle, u.domain())
                } else {
                    m.acct()
                },
            )
        })
        .collect();
    let mut doc = protocol::note_document(&u, &face, s, parent.as_deref(), &mentions, &view.tags);
    let mut conn = state.db.conn().await?;
    guise_federation::delivery::question(&mut conn, Some(state.clock.now()), &mut doc, s.id)
        .await?;
    Ok(ap(&doc))
}

async fn user_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    note(&req, &state, &path.0, &path.1, false).await
}

async fn anon_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    note(&req, &state, &path.0, &path.1, true).await
}

async fn profile_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    note(&req, &state, &path.0, &path.1, false).await
}

async fn collection(
    state: &AppState,
    handle: &str,
    anonymous: bool,
    which: &str,
) -> ApiResult<HttpResponse> {
    let face = local_face(state, handle, anonymous).await?;
    let conn = state.db.conn().await?;
    let stats = guise_core::social::identity_stats(&conn, &[face.id])
        .await?
        .remove(&face.id)
        .unwrap_or_default();
    let total = match which {
        "followers" => stats.followers,
        "following" => stats.following,
        _ => stats.statuses,
    };
    let id = format!("{}/{which}", urls(state).actor(&face));
    Ok(ap(&protocol::collection(&id, total)))
}

async fn user_collection(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    if !matches!(path.1.as_str(), "followers" | "following" | "outbox") {
        return Err(ApiError::not_found());
    }
    collection(&state, &path.0, false, &path.1).await
}

/// `/anon/{handle}/{collection}`, and `/anon/{handle}/{id}`: an anonymous
/// status's `url` (anonymous faces have no `/@` profile page).
async fn anon_collection(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    if path.1.parse::<i64>().is_ok() {
        return note(&req, &state, &path.0, &path.1, true).await;
    }
    if !matches!(path.1.as_str(), "followers" | "following" | "outbox") {
        return Err(ApiError::not_found());
    }
    collection(&state, &path.0, true, &path.1).await
}

async fn instance_actor(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let key =
        guise_core::keys::instance_key(&mut conn, "instance", guise_federation::keys::generate)
            .await?;
    Ok(ap(&protocol::instance_actor_document(&urls(&state), &key)))
}

#[derive(Deserialize)]
struct WebfingerQuery {
    resource: Option<String>,
}

async fn webfinger(
    state: web::Data<AppState>,
    q: web::Query<WebfingerQuery>,
) -> ApiResult<HttpResponse> {
    let resource = q
        .resource
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("resource is missing"))?;
    let u = urls(&state);
    let handle = if let Some(acct) = resource.strip_prefix("acct:") {
        let (user, domain) = acct
            .trim_start_matches('@')
            .rsplit_once('@')
            .ok_or_else(ApiError::not_found)?;
        if !domain.eq_ignore_ascii_case(u.domain()) {
            return Err(ApiError::not_found());
        }
        user.to_owned()
    } else if let Some(rest) = resource
        .strip_prefix(&format!("{}/users/", u.base))
        .or_else(|| resource.strip_prefix(&format!("{}/anon/", u.base)))
    {
        rest.to_owned()
    } else if let Some(rest) = resource.strip_prefix(&format!("{}/@", u.base)) {
        rest.to_owned()
    } else {
        return Err(ApiError::not_found());
    };
    if handle.eq_ignore_ascii_case(u.domain()) {
        let actor = u.instance_actor();
        let body = serde_json::json!({
            "subject": format!("acct:{}@{}", u.domain(), u.domain()),
            "aliases": [actor],
            "links": [{ "rel": "self", "type": AP_CONTENT_TYPE, "href": actor }]
        });
        return Ok(HttpResponse::Ok()
            .content_type("application/jrd+json; charset=utf-8")
            .body(body.to_string()));
    }
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::find_identity_by_acct(&mut conn, &handle, None)
        .await?
        .filter(|f| !f.suspended)
        .ok_or_else(ApiError::not_found)?;
    if face.tombstoned {
        return Err(gone());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/jrd+json; charset=utf-8")
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(protocol::webfinger(&u, &face).to_string()))
}

async fn host_meta(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/xrd+xml; charset=utf-8").body(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\
<Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/></XRD>",
        escape(&state.base_url)
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/.well-known/webfinger", web::get().to(webfinger))
        .route("/.well-known/host-meta", web::get().to(host_meta))
        .route("/actor", web::get().to(instance_actor))
        .route("/users/{handle}", web::get().to(user_actor))
        .route("/users/{handle}/statuses/{id}", web::get().to(user_note))
        .route(
            "/users/{handle}/{collection}",
            web::get().to(user_collection),
        )
        .route("/anon/{handle}", web::get().to(anon_actor))
        .route("/anon/{handle}/statuses/{id}", web::get().to(anon_note))
        .route(
            "/anon/{handle}/{collection}",
            web::get().to(anon_collection),
        )
        .route("/@{handle}", web::get().to(profile))
        .route("/@{handle}/{id}", web::get().to(profile_note));
}
