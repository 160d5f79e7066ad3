//! The inbox path: our own, because `activitypub_federation`'s helper
//! fetches and stores the sender before verifying. Here nothing is stored
//! before the HTTP signature verifies against the key its `keyId` names,
//! the date is within an hour, the body matches its digest, is at most
//! 1 MB, and the activity's actor owns the key. Replays are ignored by id.

use crate::error::{ApiError, ApiResult};
use crate::extract::read_body;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::models::Identity;
use guise_core::remote::{self, RemoteFace};
use guise_federation::remote::{parse_actor, RemoteActor};
use guise_federation::signatures::{self, SigError};
use std::collections::BTreeMap;
use url::Url;

pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;

fn unauthorized(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, format!("Signature refused: {e}"))
}

/// The actor document for a key id: its URL without the fragment (Mastodon)
/// or, when that is a key document (GoToSocial's `/main-key`), its owner.
async fn fetch_actor(state: &AppState, key_id: &str) -> ApiResult<RemoteActor> {
    let mut url = Url::parse(key_id).map_err(|_| unauthorized("keyId is not a URL"))?;
    url.set_fragment(None);
    let (mut final_url, mut doc) = state
        .fetcher
        .get_json(&url)
        .await
        .map_err(|e| unauthorized(format!("cannot fetch the key: {e}")))?;
    if doc.get("inbox").is_none() {
        if let Some(owner) = doc
            .get("owner")
            .and_then(|o| o.as_str())
            .and_then(|o| Url::parse(o).ok())
        {
            (final_url, doc) = state
                .fetcher
                .get_json(&owner)
                .await
                .map_err(|e| unauthorized(format!("cannot fetch the key's owner: {e}")))?;
        }
    }
    let actor = parse_actor(&doc, &final_url).map_err(unauthorized)?;
    if actor.key_id != key_id {
        return Err(unauthorized("the actor does not publish that key"));
    }
    Ok(actor)
}

pub(crate) fn to_face(state: &AppState, a: &RemoteActor) -> RemoteFace {
    let domain = match a.id.port() {
        Some(p) => format!("{}:{p}", a.id.host_str().unwrap_or_default()),
        None => a.id.host_str().unwrap_or_default().to_owned(),
    };
    RemoteFace {
        actor_url: a.id.to_string(),
        domain,
        username: a.username.clone(),
        display_name: a.name.clone(),
        note: a.summary.clone(),
        inbox_url: a.inbox.to_string(),
        shared_inbox_url: a.shared_inbox.as_ref().map(Url::to_string),
        public_key_pem: a.public_key_pem.clone(),
        locked: a.locked,
        tier: a.tier.unwrap_or(guise_policy::Tier::Pseudonymous),
        verified_by: a.verified_by.clone().filter(|d| {
            state
                .config
                .federation
                .trusted_verifiers
                .iter()
                .any(|t| t.eq_ignore_ascii_case(d))
        }),
    }
}

async fn local_face_by_url(state: &AppState, url: &str) -> ApiResult<Option<Identity>> {
    let Some(rest) = url.strip_prefix(&*state.base_url) else {
        return Ok(None);
    };
    let handle = rest
        .strip_prefix("/users/")
        .or_else(|| rest.strip_prefix("/anon/"));
    let Some(handle) = handle.filter(|h| !h.contains('/')) else {
        return Ok(None);
    };
    let mut conn = state.db.conn().await?;
    Ok(guise_core::accounts::find_identity_by_acct(&mut conn, handle, None).await?)
}

async fn inbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    let body = read_body(&mut payload, MAX_ACTIVITY_BYTES).await?;
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_lowercase(), v.to_owned()))
        })
        .collect();
    let key_id = signatures::key_id(&headers).map_err(|e| match e {
        SigError::Rfc9421 => {
            unauthorized("RFC 9421 signatures are not supported; sign with draft-cavage")
        }
        e => unauthorized(e),
    })?;
    let key_host = Url::parse(&key_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if state
        .config
        .federation
        .blocked_domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&key_host))
    {
        return Err(ApiError::forbidden("This domain is blocked"));
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.path().to_owned());
    let now = state.clock.now();
    let verify = |pem: &str| signatures::verify("POST", &path, &headers, &body, pem, now);
    // A known key first; on failure fetch the actor again once (keys rotate).
    let mut actor_url = key_id.split('#').next().unwrap_or_default().to_owned();
    let known = {
        let mut conn = state.db.conn().await?;
        remote::by_actor_url(&mut conn, &actor_url).await?
    };
    let mut fetched: Option<RemoteActor> = None;
    let verified_known = known
        .as_ref()
        .and_then(|k| k.public_key_pem.as_deref())
        .is_some_and(|pem| verify(pem).is_ok());
    if !verified_known {
        let actor = fetch_actor(&state, &key_id).await?;
        verify(&actor.public_key_pem).map_err(unauthorized)?;
        actor_url = actor.id.to_string();
        fetched = Some(actor);
    }
    // The body is only read now that its sender is proved.
    let activity: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid activity: {e}")))?;
    let claimed_actor = activity
        .get("actor")
        .and_then(|a| a.as_str().or_else(|| a.get("id").and_then(|i| i.as_str())));
    if claimed_actor != Some(actor_url.as_str()) {
        return Err(unauthorized(
            "the activity's actor does not own the signing key",
        ));
    }
    let activity_id = activity
        .get("id")
        .and_then(|i| i.as_str())
        .ok_or_else(|| ApiError::bad_request("The activity has no id"))?;
    let same_host = |u: &str| {
        Url::parse(u).ok().map(|u| u.host_str().map(str::to_owned))
            == Url::parse(&actor_url)
                .ok()
                .map(|u| u.host_str().map(str::to_owned))
    };
    if !same_host(activity_id) {
        return Err(ApiError::bad_request(
            "The activity's id is not on its actor's host",
        ));
    }
    let mut conn = state.db.conn().await?;
    let sender = match fetched {
        Some(a) => remote::upsert(&mut conn, state.clock.as_ref(), &to_face(&state, &a)).await?,
        None => known.ok_or_else(|| unauthorized("unknown actor"))?,
    };
    if !remote::first_sight(&mut conn, state.clock.as_ref(), activity_id).await? {
        return Ok(HttpResponse::Accepted().finish());
    }
    let kind = activity
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let object = activity.get("object");
    let object_url = object
        .and_then(|o| o.as_str().or_else(|| o.get("id").and_then(|i| i.as_str())))
        .unwrap_or_default()
        .to_owned();
    drop(conn);
    match kind {
        "Follow" => {
            let target = local_face_by_url(&state, &object_url)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let mut conn = state.db.conn().await?;
            remote::follow(
                &mut conn,
                state.clock.as_ref(),
                &sender,
                &target,
                activity_id,
            )
            .await?;
        }
        "Undo" => {
            let inner_kind = object
                .and_then(|o| o.get("type"))
                .and_then(|t| t.as_str())
                .unwrap_or_default();
            let inner_object = object
                .and_then(|o| o.get("object"))
                .and_then(|o| o.as_str())
                .unwrap_or_default();
            if inner_kind == "Follow" {
                if let Some(target) = local_face_by_url(&state, inner_object).await? {
                    let mut conn = state.db.conn().await?;
                    remote::unfollow(&mut conn, &sender, &target).await?;
                }
            }
        }
        "Accept" => {
            // Our Follow, accepted: its actor is one of our faces.
            let follower = object
                .and_then(|o| o.get("actor"))
                .and_then(|a| a.as_str())
                .unwrap_or_default();
            if let Some(local) = local_face_by_url(&state, follower).await? {
                let mut conn = state.db.conn().await?;
                remote::follow_accepted(&mut conn, state.clock.as_ref(), &local, &sender).await?;
            }
        }
        "Create" => {
            if let Some(note) =
                object.filter(|o| o.get("type").and_then(|t| t.as_str()) == Some("Note"))
            {
                store_note(&state, &sender, &actor_url, note).await?;
            }
        }
        "Delete" => {
            // A note of the sender's own: found by its id, and only if it is theirs.
            let mut conn = state.db.conn().await?;
            remote::delete_note(&mut conn, &sender, &object_url).await?;
        }
        "Like" => {
            if let Some(id) = local_status_id(&state, &object_url) {
                let mut conn = state.db.conn().await?;
                match guise_core::social::favourite(&mut conn, state.clock.as_ref(), &sender, id)
                    .await
                {
                    Ok(_) | Err(guise_core::CoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Other activities are accepted and not yet acted on (docs/federation.md).
        _ => {}
    }
    Ok(HttpResponse::Accepted().finish())
}

/// A local status named by its URL: `…/users/{h}/statuses/{id}` or `…/anon/{h}/statuses/{id}`.
fn local_status_id(state: &AppState, url: &str) -> Option<i64> {
    let rest = url.strip_prefix(&*state.base_url)?;
    let (_, id) = rest.rsplit_once("/statuses/")?;
    id.parse().ok()
}

/// Stores a remote note: it must be the sender's own and on its host; its
/// HTML is reduced to text before it is stored.
async fn store_note(
    state: &AppState,
    sender: &Identity,
    actor_url: &str,
    note: &serde_json::Value,
) -> ApiResult<()> {
    let str_of = |k: &str| note.get(k).and_then(|v| v.as_str());
    let uri = str_of("id").ok_or_else(|| ApiError::bad_request("The note has no id"))?;
    if str_of("attributedTo") != Some(actor_url) {
        return Err(unauthorized("the note is not the sender's own"));
    }
    let host = |u: &str| {
        Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
    };
    if host(uri) != host(actor_url) {
        return Err(ApiError::bad_request(
            "The note's id is not on its author's host",
        ));
    }
    if uri.starts_with(&*state.base_url) {
        return Err(ApiError::bad_request(
            "A remote note cannot claim a local id",
        ));
    }
    let addressed = |field: &str| -> Vec<String> {
        match note.get(field) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let (to, cc) = (addressed("to"), addressed("cc"));
    let public = guise_federation::protocol::PUBLIC;
    let is_public = |v: &[String]| {
        v.iter()
            .any(|x| x == public || x == "as:Public" || x == "Public")
    };
    let visibility = if is_public(&to) {
        guise_policy::Visibility::Public
    } else if is_public(&cc) {
        guise_policy::Visibility::Unlisted
    } else if to
        .iter()
        .chain(cc.iter())
        .any(|x| x.ends_with("/followers"))
    {
        guise_policy::Visibility::Private
    } else {
        guise_policy::Visibility::Direct
    };
    let mut mentions = Vec::new();
    for target in to.iter().chain(cc.iter()) {
        if let Some(face) = local_face_by_url(state, target).await? {
            mentions.push(face);
        }
    }
    let in_reply_to = str_of("inReplyTo").and_then(|u| local_status_id(state, u));
    let published = str_of("published")
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| state.clock.now());
    let text = guise_core::text::html_to_text(str_of("content").unwrap_or_default());
    let summary = guise_core::text::html_to_text(str_of("summary").unwrap_or_default());
    let mut conn = state.db.conn().await?;
    remote::store_note(
        &mut conn,
        state.clock.as_ref(),
        &state.base_url,
        sender,
        remote::RemoteNote {
            uri: uri.to_owned(),
            url: str_of("url").map(str::to_owned),
            text: text.chars().take(20_000).collect(),
            summary: summary.chars().take(500).collect(),
            sensitive: note
                .get("sensitive")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            visibility,
            published,
            in_reply_to,
            mentions,
        },
    )
    .await?;
    Ok(())
}

/// Finds a remote face by `user@host` through WebFinger and its actor
/// document, and stores it (search with `resolve=true`).
pub async fn resolve_acct(state: &AppState, user: &str, host: &str) -> ApiResult<Option<Identity>> {
    let scheme = if state.config.federation.allow_private_addresses {
        "http"
    } else {
        "https"
    };
    let Ok(wf_url) = Url::parse(&format!(
        "{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}"
    )) else {
        return Ok(None);
    };
    let Ok((_, jrd)) = state.fetcher.get_json(&wf_url).await else {
        return Ok(None);
    };
    let actor_url = jrd
        .get("links")
        .and_then(|l| l.as_array())
        .and_then(|links| {
            links.iter().find(|l| {
                l.get("rel").and_then(|r| r.as_str()) == Some("self")
                    && l.get("type")
                        .and_then(|t| t.as_str())
                        .is_some_and(|t| t.contains("activity+json") || t.contains("ld+json"))
            })
        })
        .and_then(|l| l.get("href"))
        .and_then(|h| h.as_str())
        .and_then(|h| Url::parse(h).ok());
    let Some(actor_url) = actor_url else {
        return Ok(None);
    };
    let Ok((final_url, doc)) = state.fetcher.get_json(&actor_url).await else {
        return Ok(None);
    };
    let Ok(actor) = parse_actor(&doc, &final_url) else {
        return Ok(None);
    };
    let mut conn = state.db.conn().await?;
    Ok(Some(
        remote::upsert(&mut conn, state.clock.as_ref(), &to_face(state, &actor)).await?,
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/inbox", web::post().to(inbox))
        .route("/users/{handle}/inbox", web::post().to(inbox))
        .route("/anon/{handle}/inbox", web::post().to(inbox));
}
