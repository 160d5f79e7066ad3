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
use guise_core::held::HeldPost;
use guise_core::models::Identity;
use guise_core::remote::{self, RemoteFace};
use guise_federation::remote::{
    parse_activity, parse_actor, parse_note, RemoteActivity, RemoteActor, RemoteError,
    RemoteNoteDoc,
};
use guise_federation::signatures::{self, SigError};
use std::collections::BTreeMap;
use url::Url;

pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;

fn unauthorized(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, format!("Signature refused: {e}"))
}

/// The actor document for a key id: its URL without the fragment (Mastodon)
/// or, when that is a key document (GoToSocial's `/main-key`), its owner.
/// A document is believed only at its own id: one fetched elsewhere (a JSON
/// file uploaded to the same host, claiming to be an actor there, as in
/// CVE-2024-23832) is fetched again at the id it claims, and must say the
/// same there.
async fn fetch_actor(state: &AppState, key_id: &str) -> ApiResult<RemoteActor> {
    let mut url = Url::parse(key_id).map_err(|_| unauthorized("keyId is not a URL"))?;
    url.set_fragment(None);
    let actor = fetch_actor_at(state, url).await?;
    if actor.key_id != key_id {
        return Err(unauthorized("the actor does not publish that key"));
    }
    Ok(actor)
}

/// The actor document at `url` (or, for a key document, its owner's),
/// believed only at its own id.
async fn fetch_actor_at(state: &AppState, url: Url) -> ApiResult<RemoteActor> {
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
    let claimed = doc
        .get("id")
        .and_then(|i| i.as_str())
        .and_then(|i| Url::parse(i).ok())
        .ok_or_else(|| unauthorized("the actor has no id"))?;
    if claimed != final_url {
        if claimed.host_str() != final_url.host_str() || claimed.port() != final_url.port() {
            return Err(unauthorized("the actor's id is on another host"));
        }
        (final_url, doc) = state
            .fetcher
            .get_json(&claimed)
            .await
            .map_err(|e| unauthorized(format!("cannot fetch the actor at its id: {e}")))?;
        if doc.get("id").and_then(|i| i.as_str()) != Some(final_url.as_str()) {
            return Err(unauthorized("the actor is not at its id"));
        }
    }
    parse_actor(&doc, &final_url).map_err(unauthorized)
}

/// Stores (or refreshes) a remote actor; profile fields not checked yet
/// are checked for `rel="me"` links beside the request, never in it.
pub(crate) async fn store_actor(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    a: &RemoteActor,
) -> ApiResult<Identity> {
    let face = remote::upsert(conn, state.clock.as_ref(), &to_face(state, a)).await?;
    crate::rel_me::check_later(state, &face);
    Ok(face)
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
        // Stored as text, like every remote text; the API renders it again.
        note: guise_core::text::html_to_text(&a.summary),
        bot: a.bot,
        discoverable: a.discoverable,
        avatar_url: a.avatar_url.clone(),
        header_url: a.header_url.clone(),
        inbox_url: a.inbox.to_string(),
        shared_inbox_url: a.shared_inbox.as_ref().map(Url::to_string),
        public_key_pem: a.public_key_pem.clone(),
        locked: a.locked,
        tier: a.tier.unwrap_or(guise_policy::Tier::Pseudonymous),
        // Only an instance vouches for its own faces, and only a trusted one is shown.
        verified_by: a.verified_by.clone().filter(|d| {
            a.id.host_str().is_some_and(|h| h.eq_ignore_ascii_case(d))
                && state
                    .live()
                    .policy
                    .trusted_verifiers
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(d))
        }),
        profile: guise_core::models::ActorProfile {
            // A profile page elsewhere would send mention links there.
            url: a
                .url
                .as_ref()
                .filter(|u| guise_federation::remote::same_host(u.as_str(), a.id.as_str()))
                .map(Url::to_string),
            indexable: a.indexable,
            memorial: a.memorial,
            suspended: a.suspended,
            moved_to: a.moved_to.as_ref().map(Url::to_string),
            also_known_as: a.also_known_as.iter().map(Url::to_string).collect(),
            multikeys: a
                .multikeys
                .iter()
                .map(|k| serde_json::json!({ "id": k.id.as_str(), "publicKeyMultibase": k.public_key_multibase }))
                .collect(),
        },
        fields: serde_json::Value::Array(
            a.fields
                .iter()
                .map(|f| serde_json::json!({ "name": f.name, "value": f.value }))
                .collect(),
        ),
        published: a.published.map(|p| p.date_naive()),
    }
}

/// The path of one of our own URLs (the base must be followed by `/`, so
/// `https://guise.example.evil.com/…` is not ours).
pub(crate) fn local_path<'a>(state: &AppState, url: &'a str) -> Option<&'a str> {
    url.strip_prefix(&*state.base_url)
        .filter(|rest| rest.starts_with('/'))
}

async fn local_face_by_url(state: &AppState, url: &str) -> ApiResult<Option<Identity>> {
    let Some(rest) = local_path(state, url) else {
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

/// The remote actor a signature's key names, with its key parsed: the
/// actor at the key's URL without its fragment, or (GoToSocial's keys live
/// at `{actor}/main-key`) the one above it.
async fn known_sender(state: &AppState, actor_url: &str) -> ApiResult<Option<crate::kept::Sender>> {
    let mut conn = state.db.conn().await?;
    let actor = match remote::by_actor_url(&mut conn, actor_url).await? {
        Some(k) => Some(k),
        None => match actor_url.rsplit_once('/') {
            Some((owner, _)) => remote::by_actor_url(&mut conn, owner).await?,
            None => None,
        },
    };
    Ok(actor.and_then(|actor| {
        let key = signatures::PublicKey::from_pem(actor.public_key_pem.as_deref()?).ok()?;
        Some(crate::kept::Sender {
            actor,
            key: std::sync::Arc::new(key),
        })
    }))
}

async fn inbox(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let mut payload = payload.into_inner();
    let body = read_body(
        &mut payload,
        MAX_ACTIVITY_BYTES,
        crate::extract::body_deadline(&req),
    )
    .await?;
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_lowercase(), v.to_owned()))
        })
        .collect();
    // The sender signed the host it meant: this instance's public domain.
    // Checked against that, not the `Host` this request arrived with, so a
    // reverse proxy that forwards to 127.0.0.1:8080 (and says so in `Host`)
    // does not break every signature, and a request signed for another host
    // is refused whatever `Host` it carries.
    let mut headers = headers;
    headers.insert("host".to_owned(), state.config.instance.domain.clone());
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
    if state.fetcher.domain_rules().refuses(&key_host) {
        return Err(ApiError::forbidden("This domain is blocked"));
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| req.path().to_owned());
    let now = state.clock.now();
    let verify = |pem: &str| signatures::verify("POST", &path, &headers, &body, pem, now);
    // A known key first (kept in memory, else read and parsed); on failure
    // fetch the actor again once (keys rotate).
    let mut actor_url = key_id.split('#').next().unwrap_or_default().to_owned();
    let key_actor = actor_url.clone();
    let generation = state.senders.generation();
    let (known, read) = match state.senders.get(&key_actor, |_, _| true) {
        Some(kept) => (Some(kept), false),
        None => (known_sender(&state, &actor_url).await?, true),
    };
    if let Some(k) = &known {
        actor_url = k.actor.actor_url.clone().unwrap_or(actor_url);
    }
    let mut fetched: Option<RemoteActor> = None;
    let verified_known = known.as_ref().is_some_and(|k| {
        signatures::verify_with("POST", &path, &headers, &body, &k.key, now).is_ok()
    });
    if let Some(k) = known
        .as_ref()
        .filter(|k| read && verified_known && k.actor.domain.is_some())
    {
        state.senders.keep(key_actor, generation, k.clone());
    }
    let known = known.map(|k| k.actor);
    if !verified_known {
        // A bad signature costs the sender nothing: a key is fetched at
        // most once a minute, however many requests name it; within the
        // minute, what that fetch found is used again.
        let actor = match state.key_fetches.get(&key_id) {
            Some(Some(actor)) => actor,
            Some(None) => {
                return Err(unauthorized(
                    "its key could not be had a moment ago; try again in a minute",
                ))
            }
            None => {
                let got = fetch_actor(&state, &key_id).await;
                state.key_fetches.put(&key_id, got.as_ref().ok().cloned());
                got?
            }
        };
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
    let parsed = parse_activity(&activity).map_err(|e| match e {
        RemoteError::Origin(_) => {
            ApiError::bad_request("The activity's id is not on its actor's host")
        }
        e => ApiError::bad_request(format!("Invalid activity: {e}")),
    })?;
    let sender = match fetched {
        Some(a) => {
            let mut conn = state.db.conn().await?;
            store_actor(&state, &mut conn, &a).await?
        }
        None => known.ok_or_else(|| unauthorized("unknown actor"))?,
    };
    let sight = remote::Sighting {
        activity_id: parsed.id.as_str(),
        host: &key_host,
    };
    if let Err(e) = handle(&state, &sender, &parsed, sight).await {
        tracing::info!(kind = %parsed.kind, status = e.status.as_u16(), error = %e.message, "activity refused");
        // The sender retries; its retry must not be taken for a replay.
        let mut conn = state.db.conn().await?;
        remote::forget_sight(&mut conn, parsed.id.as_str()).await?;
        return Err(e);
    }
    Ok(HttpResponse::Accepted().finish())
}

/// What one verified activity does. Embedded objects are believed only
/// when they come from the sender's own host; anything else is fetched.
/// A replay (an activity id seen before) is answered as before and does
/// nothing; either way its host is known to be up.
async fn handle(
    state: &AppState,
    sender: &Identity,
    a: &RemoteActivity,
    sight: remote::Sighting<'_>,
) -> ApiResult<()> {
    let actor_url = a.actor.as_str();
    let object_id = a.object_id.clone().unwrap_or_default();
    let object_type = a
        .object
        .as_ref()
        .and_then(|o| o.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    // A new post that replies to nothing (most of what arrives) is neither
    // a poll vote nor has ancestors to fetch: storing it is idempotent (a
    // stored or deleted URI is skipped), and its sighting is recorded with
    // it, in one statement. Every other activity is recorded first.
    let deferred = a.kind == "Create"
        && is_note_type(object_type)
        && a.object
            .as_ref()
            .and_then(|o| o.get("inReplyTo"))
            .is_none_or(serde_json::Value::is_null);
    if !deferred {
        let mut conn = state.db.conn().await?;
        let clock = state.clock.as_ref();
        if !remote::first_sight(&mut conn, clock, sight.activity_id, sight.host).await? {
            return Ok(());
        }
    }
    let inner = |key: &str| -> String {
        a.object
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(|v| v.as_str().or_else(|| v.get("id").and_then(|i| i.as_str())))
            .unwrap_or_default()
            .to_owned()
    };
    let clock = state.clock.as_ref();
    match a.kind.as_str() {
        "Follow" => {
            let target = local_face_by_url(state, &object_id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            let mut conn = state.db.conn().await?;
            remote::follow(&mut conn, clock, sender, &target, a.id.as_str()).await?;
        }
        "Undo" => {
            // The undone activity must be the sender's own.
            if !inner("actor").is_empty() && inner("actor") != actor_url {
                return Err(unauthorized("the undone activity is not the sender's"));
            }
            let target = inner("object");
            let mut conn = state.db.conn().await?;
            match object_type {
                "Follow" => {
                    if let Some(face) = local_face_by_url(state, &target).await? {
                        remote::unfollow(&mut conn, sender, &face).await?;
                    }
                }
                "Like" => {
                    if let Some(id) = status_id_for(state, &target).await? {
                        match guise_core::social::unfavourite(&mut conn, clock, sender, id).await {
                            Ok(_) | Err(guise_core::CoreError::NotFound) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                "Announce" => {
                    let target = (!target.is_empty()).then_some(target.as_str());
                    remote::undo_announce(&mut conn, clock, sender, &object_id, target).await?;
                }
                "Block" => {
                    if let Some(face) = local_face_by_url(state, &target).await? {
                        remote::unblocked_by_remote(&mut conn, sender, &face).await?;
                    }
                }
                // An Undo naming only an id: the sender's boost, if it is one.
                "" => {
                    remote::undo_announce(&mut conn, clock, sender, &object_id, None).await?;
                }
                _ => {}
            }
        }
        "Accept" | "Reject" => {
            // An answer to our Follow: its actor is one of our faces, named
            // in the embedded Follow, or by the Follow's id (`{face}/follows/{n}`).
            let mut follower = inner("actor");
            if follower.is_empty() {
                if let Some((face, _)) = object_id.split_once("/follows/") {
                    follower = face.to_owned();
                }
            }
            if let Some(local) = local_face_by_url(state, &follower).await? {
                let mut conn = state.db.conn().await?;
                if a.kind == "Accept" {
                    remote::follow_accepted(&mut conn, clock, &local, sender).await?;
                } else {
                    remote::unfollow(&mut conn, &local, sender).await?;
                }
            }
        }
        "Create" => {
            if let Some(note) = a.object.as_ref() {
                if is_note_type(object_type) {
                    let doc = parse_note(note).map_err(bad_object)?;
                    if doc.attributed_to.as_str() != actor_url {
                        return Err(unauthorized("the note is not the sender's own"));
                    }
                    if deferred {
                        store_note(state, sender, &doc, note, Some(sight)).await?;
                    } else if !vote_in_local_poll(state, sender, &doc).await? {
                        store_note(state, sender, &doc, note, None).await?;
                    }
                }
            }
        }
        "Update" => {
            if object_id == actor_url {
                // The sender's own profile, from its own host.
                let obj = a.object.as_ref().ok_or_else(|| bad_object("no object"))?;
                let actor = parse_actor(obj, &a.actor).map_err(bad_object)?;
                if actor.id != a.actor {
                    return Err(unauthorized("an actor may update only itself"));
                }
                let mut conn = state.db.conn().await?;
                store_actor(state, &mut conn, &actor).await?;
            } else if matches!(
                object_type,
                "Person" | "Service" | "Application" | "Group" | "Organization"
            ) {
                return Err(unauthorized("an actor may update only itself"));
            } else if is_note_type(object_type) {
                let note = a.object.as_ref().ok_or_else(|| bad_object("no object"))?;
                let doc = parse_note(note).map_err(bad_object)?;
                if doc.attributed_to.as_str() != actor_url {
                    return Err(unauthorized("the note is not the sender's own"));
                }
                let mut n = remote_note(state, &doc).await?;
                let held = {
                    let mut conn = state.db.conn().await?;
                    guise_core::held::by_uri(&mut conn, doc.id.as_str()).await?
                };
                match held {
                    // A held post's edit waits with it (or, refused, takes it).
                    Some(h) if h.identity_id == sender.id => {
                        let fate = incoming_policy(state, sender, &doc, &mut n, true).await?;
                        let mut conn = state.db.conn().await?;
                        if let Held::Refused = fate {
                            guise_core::held::withdraw(&mut conn, sender.id, &h.uri).await?;
                        } else {
                            hold(state, &mut conn, sender, &doc, note, &h.codes).await?;
                        }
                    }
                    Some(_) => {}
                    // An edit a rule holds waits for a moderator; the post
                    // keeps its last shown version meanwhile.
                    None => match incoming_policy(state, sender, &doc, &mut n, true).await? {
                        Held::Refused => {}
                        Held::Yes(codes) => {
                            let mut conn = state.db.conn().await?;
                            if remote::status_by_uri(&mut conn, doc.id.as_str())
                                .await?
                                .is_some_and(|s| s.identity_id == sender.id)
                            {
                                hold(state, &mut conn, sender, &doc, note, &codes).await?;
                            }
                        }
                        Held::No => {
                            let mut conn = state.db.conn().await?;
                            remote::update_note(&mut conn, clock, &state.base_url, sender, n)
                                .await?;
                        }
                    },
                }
            }
        }
        "Delete" => {
            let mut conn = state.db.conn().await?;
            if object_id == actor_url {
                remote::delete_actor(&mut conn, sender).await?;
            } else {
                // Only a note of the sender's own is found this way, and
                // only an id on its own host is remembered as deleted.
                let same_host = Url::parse(&object_id)
                    .ok()
                    .zip(Url::parse(actor_url).ok())
                    .is_some_and(|(o, a)| o.host_str() == a.host_str() && o.port() == a.port());
                if same_host {
                    guise_core::held::withdraw(&mut conn, sender.id, &object_id).await?;
                    remote::delete_note(&mut conn, clock, sender, &object_id).await?;
                }
            }
        }
        "Like" => {
            if let Some(id) = local_status_id(state, &object_id) {
                let mut conn = state.db.conn().await?;
                match guise_core::social::favourite(&mut conn, clock, sender, id).await {
                    Ok(_) | Err(guise_core::CoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // A boost of a note, named or embedded; or a group (Lemmy) relaying a
        // member's Create of a note: that note is fetched from its own origin
        // (the relayed copy is not believed) and shown as the group's boost.
        "Announce"
            if a.object.is_none() || is_note_type(object_type) || object_type == "Create" =>
        {
            let boosted = if object_type == "Create" {
                inner("object")
            } else {
                object_id.clone()
            };
            if let Some(status) = resolve_status(state, &boosted).await? {
                let mut conn = state.db.conn().await?;
                remote::announce(
                    &mut conn,
                    clock,
                    sender,
                    &status,
                    a.id.as_str(),
                    clock.now(),
                )
                .await?;
            }
        }
        "Block" => {
            if let Some(face) = local_face_by_url(state, &object_id).await? {
                let mut conn = state.db.conn().await?;
                remote::blocked_by_remote(&mut conn, clock, sender, &face).await?;
            }
        }
        "Move" => {
            // An actor moves only itself, to an actor that names it as an
            // alias — read from that actor's own server, never from here.
            if object_id != actor_url {
                return Err(unauthorized("an actor may move only itself"));
            }
            let target_url = a
                .target
                .clone()
                .ok_or_else(|| bad_object("a Move needs a target"))?;
            if local_path(state, target_url.as_str()).is_some() {
                // Local faces keep no aliases yet, so none can be moved to.
                return Err(ApiError::unprocessable(
                    "Moves to this instance's faces are not supported",
                ));
            }
            let target = fetch_actor_at(state, target_url).await.map_err(|e| {
                ApiError::unprocessable(format!("The Move's target: {}", e.message))
            })?;
            if !target.also_known_as.iter().any(|k| k.as_str() == actor_url) {
                return Err(ApiError::unprocessable(
                    "The Move's target does not list the mover in alsoKnownAs",
                ));
            }
            let mut conn = state.db.conn().await?;
            let target = store_actor(state, &mut conn, &target).await?;
            let n = remote::moved(&mut conn, clock, sender, &target).await?;
            tracing::info!(follows = n, "a remote actor moved");
        }
        "Flag" => {
            // Another server reports one of our faces (and some of its posts).
            let host = a.actor.host_str().unwrap_or_default();
            if state.fetcher.domain_rules().refuses_reports(host) {
                tracing::info!("a report from a domain whose reports are rejected was dropped");
                return Ok(());
            }
            let mut target = None;
            let mut statuses = Vec::new();
            for o in &a.objects {
                if let Some(id) = local_status_id(state, o) {
                    statuses.push(id);
                } else if target.is_none() {
                    target = local_face_by_url(state, o).await?.map(|f| f.id);
                }
            }
            let mut conn = state.db.conn().await?;
            let comment = a.content.as_deref().unwrap_or_default();
            let filed = guise_core::reports::file_remote(
                &mut conn, clock, sender.id, target, &statuses, comment,
            )
            .await?;
            if filed.is_none() {
                tracing::info!("a report naming nothing here was dropped");
            }
        }
        // Other activities are accepted and not acted on (docs/federation.md).
        _ => {}
    }
    Ok(())
}

fn is_note_type(t: &str) -> bool {
    matches!(t, "Note" | "Article" | "Page" | "Question")
}

fn bad_object(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("Invalid object: {e}"))
}

/// A local status named by its URL: `…/users/{h}/statuses/{id}` or `…/anon/{h}/statuses/{id}`.
fn local_status_id(state: &AppState, url: &str) -> Option<i64> {
    let rest = local_path(state, url)?;
    let (_, id) = rest.rsplit_once("/statuses/")?;
    id.parse().ok()
}

/// A status we hold, local or remote, by its ActivityPub id.
async fn status_id_for(state: &AppState, uri: &str) -> ApiResult<Option<i64>> {
    if let Some(id) = local_status_id(state, uri) {
        return Ok(Some(id));
    }
    let mut conn = state.db.conn().await?;
    Ok(remote::status_by_uri(&mut conn, uri).await?.map(|s| s.id))
}

/// A status by its ActivityPub id: ours, one we hold, or fetched (signed by
/// the instance actor) with its author. The fetched document's id must be
/// the URL it came from, and its author's actor is fetched from its own host.
pub async fn resolve_status(
    state: &AppState,
    uri: &str,
) -> ApiResult<Option<guise_core::models::Status>> {
    if let Some(id) = status_id_for(state, uri).await? {
        let mut conn = state.db.conn().await?;
        return Ok(guise_core::statuses::get_status(&mut conn, id).await.ok());
    }
    {
        // Held for a moderator: not shown, and not fetched again.
        let mut conn = state.db.conn().await?;
        if guise_core::held::by_uri(&mut conn, uri).await?.is_some() {
            return Ok(None);
        }
    }
    let Some((raw, note, author)) = fetch_note(state, uri).await? else {
        return Ok(None);
    };
    store_note(state, &author, &note, &raw, None).await?;
    let mut conn = state.db.conn().await?;
    Ok(remote::status_by_uri(&mut conn, note.id.as_str()).await?)
}

/// Fetches a remote note and its author (not stored yet). The document's id
/// must be the URL it came from — or, for a page URL (Mastodon's
/// `/@user/123`), an id on the same host that answers with itself.
async fn fetch_note(
    state: &AppState,
    uri: &str,
) -> ApiResult<Option<(serde_json::Value, RemoteNoteDoc, Identity)>> {
    let Ok(url) = Url::parse(uri) else {
        return Ok(None);
    };
    let Ok((final_url, mut doc)) = state.fetcher.get_json(&url).await else {
        return Ok(None);
    };
    let Ok(mut note) = parse_note(&doc) else {
        return Ok(None);
    };
    if note.id != final_url {
        if !guise_federation::remote::same_host(note.id.as_str(), final_url.as_str()) {
            return Ok(None);
        }
        let Ok((canonical_url, canonical)) = state.fetcher.get_json(&note.id).await else {
            return Ok(None);
        };
        match parse_note(&canonical) {
            Ok(n) if n.id == canonical_url => (note, doc) = (n, canonical),
            _ => return Ok(None),
        }
    }
    if local_path(state, note.id.as_str()).is_some() {
        return Ok(None);
    }
    let Some(author) = resolve_actor(state, &note.attributed_to).await? else {
        return Ok(None);
    };
    Ok(Some((doc, note, author)))
}

/// How many unknown ancestors of a reply are fetched (each costs a request).
const MAX_ANCESTORS: usize = 5;

/// Fetches and stores the unknown ancestors of a note, oldest first, so a
/// reply joins its thread; at most `MAX_ANCESTORS`.
async fn fetch_ancestors(state: &AppState, doc: &RemoteNoteDoc) -> ApiResult<()> {
    let mut chain = Vec::new();
    let mut next = doc.in_reply_to.clone();
    while let Some(uri) = next.take() {
        if chain.len() >= MAX_ANCESTORS || status_id_for(state, &uri).await?.is_some() {
            break;
        }
        {
            let mut conn = state.db.conn().await?;
            if guise_core::held::by_uri(&mut conn, &uri).await?.is_some() {
                break;
            }
        }
        let Some((raw, parent, author)) = fetch_note(state, &uri).await? else {
            break;
        };
        next = parent.in_reply_to.clone();
        chain.push((raw, parent, author));
    }
    for (raw, parent, author) in chain.into_iter().rev() {
        store_one(state, &author, &parent, &raw, None).await?;
    }
    Ok(())
}

/// A remote actor by its id: known, or fetched and stored.
pub async fn resolve_actor(state: &AppState, url: &Url) -> ApiResult<Option<Identity>> {
    {
        let mut conn = state.db.conn().await?;
        if let Some(known) = remote::by_actor_url(&mut conn, url.as_str()).await? {
            return Ok(Some(known));
        }
    }
    if local_path(state, url.as_str()).is_some() {
        return local_face_by_url(state, url.as_str()).await;
    }
    let Ok((final_url, doc)) = state.fetcher.get_json(url).await else {
        return Ok(None);
    };
    let Ok(actor) = parse_actor(&doc, &final_url) else {
        return Ok(None);
    };
    // A redirect may not make another host's actor the author.
    if actor.id != *url {
        return Ok(None);
    }
    let mut conn = state.db.conn().await?;
    Ok(Some(store_actor(state, &mut conn, &actor).await?))
}

/// A parsed remote note as core stores it: HTML reduced to text, addressing
/// turned into a visibility, local faces it names found.
async fn remote_note(state: &AppState, doc: &RemoteNoteDoc) -> ApiResult<remote::RemoteNote> {
    if local_path(state, doc.id.as_str()).is_some() || doc.id.as_str() == &*state.base_url {
        return Err(ApiError::bad_request(
            "A remote note cannot claim a local id",
        ));
    }
    let public = guise_federation::protocol::PUBLIC;
    let is_public = |v: &[String]| {
        v.iter()
            .any(|x| x == public || x == "as:Public" || x == "Public")
    };
    let (to, cc) = (&doc.to, &doc.cc);
    let visibility = if is_public(to) {
        guise_policy::Visibility::Public
    } else if is_public(cc) {
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
    let mut mentions: Vec<Identity> = Vec::new();
    for target in to.iter().chain(cc.iter()).chain(doc.mentions.iter()) {
        if let Some(face) = local_face_by_url(state, target).await? {
            if !mentions.iter().any(|m| m.id == face.id) {
                mentions.push(face);
            }
        }
    }
    let in_reply_to = match &doc.in_reply_to {
        Some(u) => status_id_for(state, u).await?,
        None => None,
    };
    let text = guise_core::text::html_to_text(&doc.content);
    let summary = guise_core::text::html_to_text(&doc.summary);
    Ok(remote::RemoteNote {
        uri: doc.id.to_string(),
        url: doc.url.clone(),
        text: text.chars().take(20_000).collect(),
        summary: summary.chars().take(500).collect(),
        sensitive: doc.sensitive,
        visibility,
        published: doc.published.unwrap_or_else(|| state.clock.now()),
        in_reply_to,
        mentions,
        hashtags: doc.hashtags.iter().take(20).cloned().collect(),
        attachments: serde_json::to_value(doc.attachments.iter().take(8).collect::<Vec<_>>())
            .unwrap_or_default(),
        emojis: serde_json::to_value(doc.emojis.iter().take(50).collect::<Vec<_>>())
            .unwrap_or_default(),
        poll: doc.poll.clone(),
        html: guise_federation::sanitize::status_html(&doc.content),
    })
}

/// What the incoming chain made of a note.
#[derive(Debug)]
enum Held {
    /// To be stored, its effects applied.
    No,
    /// For a moderator, with the codes that held it.
    Yes(Vec<String>),
    /// Not to be stored.
    Refused,
}

/// Runs the incoming policy chain over a remote note (a new one or an
/// edit) and applies its verdict to `n`: to be stored, held (when `may_hold`:
/// not when a moderator releases it) or refused. What fired is logged for
/// admins, with its reason codes.
async fn incoming_policy(
    state: &AppState,
    sender: &Identity,
    doc: &RemoteNoteDoc,
    n: &mut remote::RemoteNote,
    may_hold: bool,
) -> ApiResult<Held> {
    use guise_policy::incoming::{decide, replace_words, Context, Facts, Fate};
    let rules = state.incoming_rules();
    if rules.is_empty() {
        return Ok(Held::No);
    }
    let domain = sender
        .domain
        .as_deref()
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let context = if n.visibility == guise_policy::Visibility::Direct {
        Context::Direct
    } else if doc.in_reply_to.is_some() {
        Context::Reply
    } else if !n.mentions.is_empty() {
        Context::Mention
    } else {
        Context::Post
    };
    let facts = Facts {
        domain: &domain,
        tier: sender.tier(),
        context,
        text: &n.text,
        summary: &n.summary,
        hashtags: &n.hashtags,
        mentions: doc.mentions.len(),
        has_media: n.attachments.as_array().is_some_and(|a| !a.is_empty()),
        author_age_days: (state.clock.today() - sender.created_on).num_days(),
    };
    let mut v = decide(&rules, &facts);
    if !may_hold {
        v.hold = None;
        v.codes.retain(|c| !c.ends_with("_hold"));
    }
    if !v.touched() {
        return Ok(Held::No);
    }
    let mut conn = state.db.conn().await?;
    let rejected = v.fate() == Fate::Reject;
    guise_core::policy_rules::record(
        &mut conn,
        state.clock.as_ref(),
        &n.uri,
        &domain,
        &v.codes,
        rejected,
    )
    .await?;
    tracing::info!(codes = ?v.codes, rejected, "the incoming policy acted on a remote post");
    match v.fate() {
        Fate::Reject => return Ok(Held::Refused),
        Fate::Hold => return Ok(Held::Yes(v.codes)),
        Fate::Store => {}
    }
    if v.strip_media.is_some() {
        n.attachments = serde_json::json!([]);
    }
    if v.sensitive.is_some() {
        n.sensitive = true;
    }
    if v.delist.is_some() && n.visibility == guise_policy::Visibility::Public {
        n.visibility = guise_policy::Visibility::Unlisted;
    }
    if !v.replace.is_empty() {
        for (words, with) in &v.replace {
            n.text = replace_words(&n.text, words, with);
            n.summary = replace_words(&n.summary, words, with);
        }
        // The author's markup held the words too: show the text instead.
        n.html = None;
    }
    Ok(Held::No)
}

/// Stores a remote note of `sender`'s (checked by the caller to be theirs).
/// A vote in one of our polls arrives as a `Note` with the option's title
/// as `name`, no content, replying to the `Question`: it is counted, not
/// stored as a reply. Whether it was one.
async fn vote_in_local_poll(
    state: &AppState,
    sender: &Identity,
    doc: &RemoteNoteDoc,
) -> ApiResult<bool> {
    if doc.name.is_empty()
        || !guise_core::text::html_to_text(&doc.content)
            .trim()
            .is_empty()
    {
        return Ok(false);
    }
    let Some(target) = &doc.in_reply_to else {
        return Ok(false);
    };
    let Some(status) = status_id_for(state, target).await? else {
        return Ok(false);
    };
    let mut conn = state.db.conn().await?;
    let Ok(poll) = guise_core::polls::get(&mut conn, status).await else {
        return Ok(false);
    };
    let post = guise_core::statuses::get_status(&mut conn, status).await?;
    if !post.local {
        return Ok(false);
    }
    if let Some(i) = poll.titles().iter().position(|t| *t == doc.name) {
        match guise_core::polls::remote_vote(
            &mut conn,
            state.clock.as_ref(),
            status,
            sender.id,
            i as i64,
        )
        .await
        {
            Ok(()) | Err(guise_core::CoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Stores a remote note (`raw` as its server sent it), its missing
/// ancestors first.
async fn store_note(
    state: &AppState,
    sender: &Identity,
    doc: &RemoteNoteDoc,
    raw: &serde_json::Value,
    sight: Option<remote::Sighting<'_>>,
) -> ApiResult<()> {
    fetch_ancestors(state, doc).await?;
    store_one(state, sender, doc, raw, sight).await
}

/// The code a reply to a held post is held with: its thread is not shown
/// before its start is.
const HELD_PARENT: &str = "held_parent";

/// Stores one note, its parent already stored, held, or not to be had. A
/// reply to a held post waits with it. `sight`: the activity that brought
/// it, not recorded yet (a replay of it stores nothing).
async fn store_one(
    state: &AppState,
    sender: &Identity,
    doc: &RemoteNoteDoc,
    raw: &serde_json::Value,
    sight: Option<remote::Sighting<'_>>,
) -> ApiResult<()> {
    // A rule may hold or refuse the note (and log that it did): the
    // sighting then comes first, so a replay is not judged twice.
    let sight = match sight {
        Some(s) if !state.incoming_rules().is_empty() => {
            let mut conn = state.db.conn().await?;
            let clock = state.clock.as_ref();
            if !remote::first_sight(&mut conn, clock, s.activity_id, s.host).await? {
                return Ok(());
            }
            None
        }
        s => s,
    };
    let mut n = remote_note(state, doc).await?;
    let parent_held = match &doc.in_reply_to {
        Some(p) => {
            let mut conn = state.db.conn().await?;
            guise_core::held::by_uri(&mut conn, p).await?.is_some()
        }
        None => false,
    };
    let mut codes = match incoming_policy(state, sender, doc, &mut n, true).await? {
        Held::Refused => return Ok(()),
        Held::Yes(codes) => codes,
        Held::No if parent_held => Vec::new(),
        Held::No => {
            let clock = state.clock.as_ref();
            match remote::PlainNote::of(clock, &state.base_url, sender, n, sight) {
                // Most of what arrives: written with others arriving now.
                Ok(plain) => state.ingest.store(&state.db, &state.clock, plain).await?,
                Err(n) => {
                    let mut conn = state.db.conn().await?;
                    let base = &state.base_url;
                    remote::store_note_seen(&mut conn, clock, base, sender, *n, sight).await?;
                }
            }
            return Ok(());
        }
    };
    if parent_held {
        codes.push(HELD_PARENT.to_owned());
    }
    let mut conn = state.db.conn().await?;
    // Stored already (a Create sent again): it stays as it is.
    if remote::status_by_uri(&mut conn, doc.id.as_str())
        .await?
        .is_some()
    {
        return Ok(());
    }
    hold(state, &mut conn, sender, doc, raw, &codes).await
}

/// Keeps a note aside for a moderator.
async fn hold(
    state: &AppState,
    conn: &mut guise_core::db::DbConn,
    sender: &Identity,
    doc: &RemoteNoteDoc,
    raw: &serde_json::Value,
    codes: &[String],
) -> ApiResult<()> {
    guise_core::held::hold(
        conn,
        state.clock.as_ref(),
        doc.id.as_str(),
        sender.id,
        doc.in_reply_to.as_deref(),
        raw,
        codes,
    )
    .await?;
    tracing::info!(?codes, "a remote post is held for a moderator");
    Ok(())
}

/// A held post, let through by staff: its held ancestors first (a thread
/// is shown from its start), each stored — or, for an edit, applied — as
/// if it had just arrived, judged by every rule but the holds. In the
/// audit log.
pub async fn release_held(state: &AppState, staff: i64, id: i64) -> ApiResult<()> {
    let mut chain = Vec::new();
    {
        let mut conn = state.db.conn().await?;
        let mut next = Some(guise_core::held::get(&mut conn, id).await?);
        while let Some(h) = next.take() {
            if chain.len() > MAX_ANCESTORS || chain.iter().any(|c: &HeldPost| c.id == h.id) {
                break;
            }
            if let Some(p) = &h.in_reply_to {
                next = guise_core::held::by_uri(&mut conn, p).await?;
            }
            chain.push(h);
        }
    }
    for h in chain.into_iter().rev() {
        let mut conn = state.db.conn().await?;
        let sender = guise_core::accounts::get_identity(&mut conn, h.identity_id).await?;
        drop(conn);
        // Kept as it was checked on arrival; a note that no longer parses
        // (it cannot, as it was parsed then) is dropped.
        if let Ok(doc) = parse_note(&h.note) {
            let mut n = remote_note(state, &doc).await?;
            if let Held::No = incoming_policy(state, &sender, &doc, &mut n, false).await? {
                let clock = state.clock.as_ref();
                let mut conn = state.db.conn().await?;
                if remote::status_by_uri(&mut conn, &n.uri).await?.is_some() {
                    remote::update_note(&mut conn, clock, &state.base_url, &sender, n).await?;
                } else {
                    remote::store_note(&mut conn, clock, &state.base_url, &sender, n).await?;
                }
            }
        }
        let mut conn = state.db.conn().await?;
        settle_held(state, &mut conn, staff, &h, "release_held_post").await?;
    }
    Ok(())
}

/// A held post, dropped by staff (with the replies held behind it, which
/// would otherwise wait for a thread that never shows). In the audit log.
pub async fn reject_held(state: &AppState, staff: i64, id: i64) -> ApiResult<()> {
    let mut conn = state.db.conn().await?;
    let mut todo = vec![guise_core::held::get(&mut conn, id).await?];
    while let Some(h) = todo.pop() {
        let mut replies = guise_core::held::replies_to(&mut conn, &h.uri).await?;
        replies.retain(|r| r.id != h.id);
        settle_held(state, &mut conn, staff, &h, "reject_held_post").await?;
        todo.extend(replies);
    }
    Ok(())
}

/// A held post off the moderators' list, what staff did with it in the
/// audit log (in the same transaction).
async fn settle_held(
    state: &AppState,
    conn: &mut guise_core::db::DbConn,
    staff: i64,
    h: &HeldPost,
    action: &'static str,
) -> ApiResult<()> {
    guise_core::audit::logged(conn, state.clock.as_ref(), Some(staff), async |c| {
        guise_core::held::remove(c, h.id).await?;
        let target = guise_core::audit::Target::HeldPost {
            id: h.id,
            author: h.identity_id,
        };
        Ok(((), action, target))
    })
    .await?;
    Ok(())
}

/// Finds a remote face by `user@host` through WebFinger and its actor
/// document, and stores it (search with `resolve=true`).
pub async fn resolve_acct(state: &AppState, user: &str, host: &str) -> ApiResult<Option<Identity>> {
    // https, as public servers serve; plain http only where private
    // addresses are allowed (development and tests), and only after https.
    let schemes: &[&str] = if state.config.federation.allow_private_addresses {
        &["https", "http"]
    } else {
        &["https"]
    };
    let mut found = None;
    for scheme in schemes {
        let Ok(wf_url) = Url::parse(&format!(
            "{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}"
        )) else {
            return Ok(None);
        };
        if let Ok((_, jrd)) = state.fetcher.get_webfinger(&wf_url).await {
            found = Some(jrd);
            break;
        }
    }
    let Some(jrd) = found else {
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
    Ok(Some(store_actor(state, &mut conn, &actor).await?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/inbox", web::post().to(inbox))
        .route("/users/{handle}/inbox", web::post().to(inbox))
        .route("/anon/{handle}/inbox", web::post().to(inbox));
}
