//! Statuses: post, edit, delete, read, threads, favourites and reblogs.

use super::types::{self, iso};
use super::{ok, parse_id, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::models::Identity;
use guise_core::oauth::Binding;
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
    tier: Option<Tier>,
    identity_id: Option<&str>,
) -> ApiResult<()> {
    if tier.is_some_and(|t| t != face.tier()) {
        return Err(ApiError::unprocessable(
            "Validation failed: tier is not the tier of the face this token is bound to",
        ));
    }
    if identity_id.is_some_and(|id| id != face.id.to_string()) {
        return Err(ApiError::unprocessable(
            "Validation failed: identity_id is not the face this token is bound to",
        ));
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

/// Who a new status is posted as.
pub(crate) enum Poster {
    Face(Box<Identity>),
    Anonymous,
}

fn parse_tier(tier: &Option<String>) -> ApiResult<Option<Tier>> {
    match tier.as_deref().filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| {
            ApiError::unprocessable(format!(
                "Validation failed: tier {t:?} is not one of real_name, pseudonymous, anonymous"
            ))
        }),
    }
}

/// The face a post goes out as, by the token's binding and the Guise
/// parameters `tier` and `identity_id`. A token never posts as a face it is
/// not bound to.
pub(crate) async fn poster(
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    tier: &Option<String>,
    identity_id: &Option<String>,
) -> ApiResult<Poster> {
    let tier = parse_tier(tier)?;
    let identity_id = identity_id.as_deref().filter(|i| !i.is_empty());
    match auth.binding() {
        Some(Binding::Face(_)) => {
            let face = auth.face()?;
            check_face_params(face, tier, identity_id)?;
            Ok(Poster::Face(Box::new(face.clone())))
        }
        Some(Binding::Anonymous) => {
            if tier.is_some_and(|t| t != Tier::Anonymous) {
                return Err(ApiError::unprocessable(
                    "Validation failed: tier is not the tier of the face this token is bound to",
                ));
            }
            if identity_id.is_some() {
                return Err(ApiError::unprocessable(
                    "Validation failed: identity_id is not the face this token is bound to",
                ));
            }
            Ok(Poster::Anonymous)
        }
        Some(Binding::All) => {
            let account = auth.account_id()?;
            let faces = guise_core::accounts::faces_of(conn, account).await?;
            if let Some(id) = identity_id {
                let face = faces
                    .into_iter()
                    .find(|f| f.id.to_string() == id)
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "Validation failed: identity_id is not one of your faces",
                        )
                    })?;
                if tier.is_some_and(|t| t != face.tier()) {
                    return Err(ApiError::unprocessable(
                        "Validation failed: tier is not the tier of that face",
                    ));
                }
                return Ok(Poster::Face(Box::new(face)));
            }
            match tier {
                Some(Tier::Anonymous) => Ok(Poster::Anonymous),
                Some(t) => faces
                    .into_iter()
                    .find(|f| f.tier() == t)
                    .map(|f| Poster::Face(Box::new(f)))
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "Validation failed: tier you have no face of that tier",
                        )
                    }),
                None => faces
                    .into_iter()
                    .next()
                    .map(|f| Poster::Face(Box::new(f)))
                    .ok_or_else(|| {
                        ApiError::unprocessable("Validation failed: identity_id you have no face")
                    }),
            }
        }
        None => Err(ApiError::unprocessable(
            "This method requires an authenticated user",
        )),
    }
}

/// A poll as apps send it: a JSON object, or `poll[options][]=…` fields.
fn poll_input(v: Option<&serde_json::Value>) -> ApiResult<Option<guise_core::polls::PollInput>> {
    let Some(o) = v.and_then(|v| v.as_object()) else {
        return Ok(None);
    };
    let flag = |k: &str| o.get(k).and_then(de::bool_of).unwrap_or(false);
    let options: Vec<String> = match o.get("options") {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect(),
        _ => Vec::new(),
    };
    let expires_in = match o.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ApiError::unprocessable("Validation failed: poll expires_in is required"))?;
    Ok(Some(guise_core::polls::PollInput {
        options,
        expires_in,
        multiple: flag("multiple"),
        hide_totals: flag("hide_totals"),
    }))
}

/// The uploads a post names, each with this token's capability for it.
pub(crate) fn claims(auth: &Auth, ids: &[String]) -> ApiResult<Vec<guise_core::uploads::Claim>> {
    ids.iter()
        .map(|m| {
            let id: i64 = m.parse().map_err(|_| {
                ApiError::unprocessable(format!(
                    "Validation failed: media_ids {m} is not one of your uploads"
                ))
            })?;
            Ok(guise_core::uploads::Claim {
                id,
                tag: auth.media_tag(id),
            })
        })
        .collect()
}

async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PostParams>,
) -> ApiResult<HttpResponse> {
    auth.require("write:statuses")?;
    let mut conn = state.db.conn().await?;
    let poster = poster(&auth, &mut conn, &p.tier, &p.identity_id).await?;
    let media = claims(&auth, &p.media_ids)?;
    let poll = poll_input(p.poll.as_ref())?;
    let visibility = parse_visibility(&p.visibility)?;
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= 256)
        .map(str::to_owned);
    if let Some(at) = p.scheduled_at.as_deref().filter(|s| !s.is_empty()) {
        let Poster::Face(face) = &poster else {
            return Err(ApiError::unprocessable(
                "Validation failed: scheduled_at anonymous posts cannot be scheduled (when one is due, no one holds the key it needs)",
            ));
        };
        auth.answer(super::access::Group::ScheduledWrite, "write:statuses")?;
        let params = guise_core::scheduled::Params {
            text: p.status.unwrap_or_default(),
            spoiler_text: p.spoiler_text.unwrap_or_default(),
            sensitive: p.sensitive,
            visibility: visibility.map(|v| v.as_str().to_owned()),
            language: p.language,
            in_reply_to_id: reply_id(&p.in_reply_to_id)?,
            application_id: None,
            idempotency: key,
            media_ids: Vec::new(),
            poll,
        };
        return super::scheduled::schedule(&state, &mut conn, face, at, params, &media).await;
    }
    let new = NewStatus {
        id: None,
        text: p.status.unwrap_or_default(),
        spoiler_text: p.spoiler_text.unwrap_or_default(),
        sensitive: p.sensitive.unwrap_or(false),
        visibility,
        language: p.language,
        in_reply_to_id: reply_id(&p.in_reply_to_id)?,
        idempotency_key: key,
        media,
        poll,
    };
    let status = publish_as(&state, &auth, &mut conn, poster, new).await?;
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        Some(status.identity_id),
        status.id,
    )
    .await?))
}

/// The face that may edit or delete `status_id`: the owner's anonymous face
/// when the token carries k_anon and owns it, else the token's face.
pub(crate) async fn acting_author(
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    status_id: i64,
) -> ApiResult<Identity> {
    if let Some(k) = &auth.k_anon {
        if let Ok(Some(face)) = guise_core::anon::own_author(conn, k, status_id).await {
            return Ok(face);
        }
    }
    // "All my faces": whichever of the login's faces wrote it.
    if auth.is_all() {
        let author = st::get_status(conn, status_id).await?.identity_id;
        let faces = guise_core::accounts::faces_of(conn, auth.account_id()?).await?;
        if let Some(f) = faces.into_iter().find(|f| f.id == author) {
            return Ok(f);
        }
    }
    Ok(auth.face()?.clone())
}

/// Publishes `new` as `poster` (the web composer's path too): an
/// anonymous post through the token's `k_anon`, under the cool-down and
/// rate limit, without a language unless the instance allows one.
pub(crate) async fn publish_as(
    state: &AppState,
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    poster: Poster,
    mut new: NewStatus,
) -> ApiResult<guise_core::models::Status> {
    Ok(match poster {
        Poster::Face(face) => {
            crate::limits::face_budget(state, &face).await?;
            st::publish(conn, &state.ctx(), &face, new).await?
        }
        Poster::Anonymous => {
            let k = auth.anon_key()?;
            anonymous_allowed(state, auth, conn).await?;
            new.language = state.anonymous_language(new.language.take());
            guise_core::anon::publish(conn, &state.ctx(), k, state.face_per(), new).await?
        }
    })
}

/// Whether the token's owner may act anonymously now (post, favourite):
/// not in the cool-down after a reset, and within the anonymous limit.
pub(crate) async fn anonymous_allowed(
    state: &AppState,
    auth: &Auth,
    conn: &mut guise_core::DbConn,
) -> ApiResult<()> {
    let k = auth.anon_key()?;
    let account = auth.account_id()?;
    if let Some(until) =
        guise_core::accounts::anonymous_cooldown(conn, state.clock.as_ref(), account).await?
    {
        return Err(ApiError::forbidden(format!(
            "Anonymous posting is paused until {until} after a password reset"
        )));
    }
    crate::limits::anonymous_budget(state, k).await
}

/// The face that favourites: a per-thread anonymous face for anonymous
/// tokens, minted under the same cool-down and limit as a post.
async fn favouriting_face(
    state: &AppState,
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    status_id: i64,
) -> ApiResult<Identity> {
    if auth.is_anonymous() {
        let k = auth.anon_key()?;
        anonymous_allowed(state, auth, conn).await?;
        return Ok(guise_core::anon::face_for_status(
            conn,
            state.clock.as_ref(),
            k,
            state.face_per(),
            status_id,
            true,
        )
        .await?);
    }
    Ok(auth.face()?.clone())
}

async fn show(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    match st::visible_status(&mut conn, viewer, id).await {
        Ok(_) => {}
        // A suspended face's posts are gone for everyone but moderators.
        Err(guise_core::CoreError::NotFound) if is_staff(&auth, &mut conn).await? => {
            if st::visible_ids(&mut conn, viewer, &[id], true)
                .await?
                .is_empty()
            {
                return Err(ApiError::not_found());
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ok(
        &types::status_by_id(&state, &mut conn, viewer, id).await?
    ))
}

/// Whether the token's login is a moderator or an admin.
async fn is_staff(auth: &MaybeAuth, conn: &mut guise_core::DbConn) -> ApiResult<bool> {
    let Some(account) = auth.0.as_ref().and_then(|a| a.session.account_id()) else {
        return Ok(false);
    };
    Ok(guise_core::accounts::get_account(conn, account)
        .await?
        .is_staff())
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.require("write:statuses")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&delete_as(&state, &auth, &mut conn, id).await?))
}

/// Deletes one of the token's posts (the web face's path too); the
/// deleted status with its source, for "delete and redraft".
pub(crate) async fn delete_as(
    state: &AppState,
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    id: i64,
) -> ApiResult<types::Status> {
    let face = acting_author(auth, conn, id).await?;
    if face.suspended {
        return Err(ApiError::forbidden("This face is suspended"));
    }
    let mut entity = types::status_by_id(state, conn, Some(face.id), id).await?;
    let gone = st::delete(conn, state.clock.as_ref(), &face, id).await?;
    if face.tier() == Tier::Anonymous {
        guise_core::anon::tombstone_if_empty(conn, &face).await?;
    }
    entity.text = Some(gone.source_text);
    Ok(entity)
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
    /// Absent: the media stay; sent (even empty): the media after the edit.
    #[serde(default, deserialize_with = "de::opt_string_list")]
    media_ids: Option<Vec<String>>,
    #[serde(default)]
    media_attributes: Option<serde_json::Value>,
    #[serde(default)]
    poll: Option<serde_json::Value>,
}

/// `media_attributes[][id]`, `[description]`, `[focus]`: what an edit
/// changes of media the post carries.
fn media_attributes(
    v: Option<&serde_json::Value>,
) -> ApiResult<Vec<guise_core::uploads::Attribute>> {
    crate::extract::attribute_list(v)
        .iter()
        .map(|a| {
            let id = a
                .get("id")
                .and_then(|i| match i {
                    serde_json::Value::String(s) => s.parse().ok(),
                    serde_json::Value::Number(n) => n.as_i64(),
                    _ => None,
                })
                .ok_or_else(|| {
                    ApiError::unprocessable("Validation failed: media_attributes id is required")
                })?;
            Ok(guise_core::uploads::Attribute {
                id,
                description: a
                    .get("description")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned),
                focus: super::media::focus(a.get("focus"))?,
            })
        })
        .collect()
}

async fn edit(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<EditParams>,
) -> ApiResult<HttpResponse> {
    auth.require("write:statuses")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    // Apps send the poll and the media ids with every edit: the same ones
    // keep what the post has (votes included); others replace it.
    let poll = poll_input(p.poll.as_ref())?;
    let media = p
        .media_ids
        .as_deref()
        .map(|ids| claims(&auth, ids))
        .transpose()?;
    let attributes = media_attributes(p.media_attributes.as_ref())?;
    let face = edit_as(
        &state,
        &auth,
        &mut conn,
        id,
        StatusEditInput {
            text: p.status.unwrap_or_default(),
            spoiler_text: p.spoiler_text.unwrap_or_default(),
            sensitive: p.sensitive.unwrap_or(false),
            language: p.language,
            media,
            media_attributes: attributes,
            poll,
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

/// `auth` edits its post `id` (its own face's, or — for tokens that carry
/// `k_anon` — its anonymous one's); the face that wrote it.
pub(crate) async fn edit_as(
    state: &AppState,
    auth: &Auth,
    conn: &mut guise_core::DbConn,
    id: i64,
    mut input: StatusEditInput,
) -> ApiResult<guise_core::models::Identity> {
    let face = acting_author(auth, conn, id).await?;
    // A ban on any of the hidden author's anonymous faces holds them back
    // from editing the others too (without anyone learning who they are).
    if face.tier() == Tier::Anonymous {
        guise_core::anon::ensure_not_banned(conn, auth.anon_key()?).await?;
        input.language = state.anonymous_language(input.language);
    }
    st::edit(conn, &state.ctx(), &face, id, input).await?;
    Ok(face)
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
    let ancestors = types::statuses_in(&state, &mut conn, viewer, &anc, "thread").await?;
    let descendants = types::statuses_in(&state, &mut conn, viewer, &desc, "thread").await?;
    Ok(ok(
        &serde_json::json!({ "ancestors": ancestors, "descendants": descendants }),
    ))
}

async fn favourite(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.require("write:favourites")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let face = favouriting_face(&state, &auth, &mut conn, id).await?;
    social::favourite(&mut conn, state.clock.as_ref(), &face, id).await?;
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
    auth.require("write:favourites")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    // An anonymous token takes back the favourite of whichever of its faces
    // made it; it mints no face to do so.
    let face = if auth.is_anonymous() {
        guise_core::anon::face_that_favourited(&mut conn, auth.anon_key()?, id).await?
    } else {
        Some(auth.face()?.clone())
    };
    if let Some(face) = &face {
        social::unfavourite(&mut conn, state.clock.as_ref(), face, id).await?;
    }
    Ok(ok(&types::status_by_id(
        &state,
        &mut conn,
        face.map(|f| f.id),
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
