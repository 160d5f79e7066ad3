//! Accounts (faces), relationships, follow requests, blocks and mutes.

use super::types::{self, Relationship, Role, Source};
use super::{ok, paginated, parse_id, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::accounts::{find_identity_by_acct, get_identity};
use guise_core::models::Identity;
use guise_core::social::{self, FaceList};
use guise_core::statuses::AuthorFilter;
use serde::Deserialize;

async fn verify_credentials(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if !auth.scopes.allows("read:accounts") && !auth.scopes.allows("profile") {
        return Err(ApiError::forbidden(
            "This action is outside the authorized scopes",
        ));
    }
    if auth.is_anonymous() {
        return Ok(ok(&types::synthetic_anonymous(&state, auth.synthetic_id)));
    }
    let face = auth.face()?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&with_source(
        &state,
        &mut conn,
        face,
        auth.session.role.as_deref(),
    )
    .await?))
}

/// The face as its own token sees it: with `source` (its preferences and
/// plain-text note and fields) and `role` — `login_role` when the caller
/// knows it (the token's lookup read it), else read here.
pub async fn with_source(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    face: &Identity,
    login_role: Option<&str>,
) -> ApiResult<types::Account> {
    let (stats, prefs, requests) = social::own_view(conn, face.id).await?;
    let mut acc = if face.profile().moved_to.is_some() {
        // Where it moved to is read as for any account.
        types::account(state, conn, face).await?
    } else {
        types::Account::new(state, face, stats)
    };
    acc.source = Some(Source {
        privacy: prefs.default_visibility,
        sensitive: prefs.default_sensitive,
        language: prefs.default_language,
        note: face.note.clone(),
        fields: types::Field::source_of(face),
        follow_requests_count: requests,
    });
    // The login's role, on its persistent faces (an anonymous face names
    // no login, so it carries the everyone role). Only the face's own token
    // sees this; public account entities never show a role.
    let role = match (face.account_id, login_role) {
        (None, _) => String::new(),
        (Some(_), Some(known)) => known.to_owned(),
        (Some(id), None) => guise_core::accounts::get_account(conn, id).await?.role,
    };
    acc.role = Some(staff_role(&role));
    Ok(acc)
}

/// Mastodon's `Role` for a login's role, with the permission flags of what
/// Guise lets that role do: moderators view the audit log (0x4), handle
/// reports (0x10), act on faces (0x400) and announce (0x2000); admins also
/// manage federation (0x20) and see the dashboard (0x8). Never the
/// administrator flag (0x1), which would tell apps every admin tool works.
pub fn staff_role(role: &str) -> Role {
    const MODERATOR: u32 = 0x4 | 0x10 | 0x400 | 0x2000;
    let (id, name, permissions) = match role {
        "admin" => ("2", "Admin", MODERATOR | 0x20 | 0x8),
        "moderator" => ("1", "Moderator", MODERATOR),
        _ => ("-99", "", 0),
    };
    Role {
        id: id.into(),
        name: name.into(),
        color: String::new(),
        permissions: permissions.to_string(),
        highlighted: false,
    }
}

async fn face_by_id(state: &AppState, id: &str) -> ApiResult<Identity> {
    let mut conn = state.db.conn().await?;
    let who = get_identity(&mut conn, parse_id(id)?).await?;
    if who.suspended || gone(&who) {
        return Err(ApiError::not_found());
    }
    Ok(who)
}

/// A deleted persistent face: its row is only a tombstone (see faces::tombstone).
fn gone(face: &Identity) -> bool {
    face.tombstoned && face.tier() != guise_policy::Tier::Anonymous
}

async fn show(
    state: web::Data<AppState>,
    _auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let who = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&types::account(&state, &mut conn, &who).await?))
}

#[derive(Deserialize)]
struct LookupParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    acct: Option<String>,
}

/// Splits `user`, `@user`, `user@domain`; our own domain means local.
fn split_acct<'a>(state: &AppState, acct: &'a str) -> (&'a str, Option<&'a str>) {
    let acct = acct.trim().trim_start_matches('@');
    match acct.split_once('@') {
        Some((u, d)) if d.eq_ignore_ascii_case(state.domain()) => (u, None),
        Some((u, d)) => (u, Some(d)),
        None => (acct, None),
    }
}

async fn lookup(
    state: web::Data<AppState>,
    Params(p): Params<LookupParams>,
) -> ApiResult<HttpResponse> {
    let acct = p
        .acct
        .ok_or_else(|| ApiError::unprocessable("Validation failed: acct can't be blank"))?;
    let (user, domain) = split_acct(&state, &acct);
    let mut conn = state.db.conn().await?;
    let who = find_identity_by_acct(&mut conn, user, domain)
        .await?
        .filter(|w| !w.suspended && !gone(w))
        .ok_or_else(ApiError::not_found)?;
    Ok(ok(&types::account(&state, &mut conn, &who).await?))
}

#[derive(Deserialize)]
struct StatusesParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::flex_bool")]
    exclude_replies: bool,
    #[serde(default, deserialize_with = "de::flex_bool")]
    exclude_reblogs: bool,
    #[serde(default, deserialize_with = "de::flex_bool")]
    only_media: bool,
    #[serde(default, deserialize_with = "de::flex_bool")]
    pinned: bool,
}

async fn statuses(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    Params(p): Params<StatusesParams>,
) -> ApiResult<HttpResponse> {
    let who = face_by_id(&state, &path).await?;
    let page = p.page.page(20, 40)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    if p.pinned {
        // Pinned posts are few (at most five): one page, no cursors.
        let pinned = guise_core::keepings::pinned_of(&mut conn, who.id).await?;
        let visible = guise_core::statuses::visible_ids(&mut conn, viewer, &pinned, false).await?;
        let first_page = page.max_id.is_none() && page.min_id.is_none() && page.since_id.is_none();
        let ids = if first_page { visible } else { Vec::new() };
        return Ok(ok(
            &types::statuses_by_ids(&state, &mut conn, viewer, &ids).await?
        ));
    }
    let ids = guise_core::statuses::author_timeline(
        &mut conn,
        viewer,
        who.id,
        AuthorFilter {
            exclude_replies: p.exclude_replies,
            exclude_reblogs: p.exclude_reblogs,
            only_media: p.only_media,
        },
        &page,
    )
    .await?;
    let out = types::statuses_in(&state, &mut conn, viewer, &ids, "account").await?;
    Ok(paginated(&req, &state, &out, &ids))
}

/// A page of faces (followers, blocks, who favourited…), paged by the relation's id.
pub(super) async fn face_list_response(
    req: &HttpRequest,
    state: &AppState,
    list: FaceList,
    page: &PageParams,
) -> ApiResult<HttpResponse> {
    let page = page.page(40, 80)?;
    let mut conn = state.db.conn().await?;
    let rows = social::face_list(&mut conn, list, &page).await?;
    let people: Vec<Identity> = rows.iter().map(|(_, p)| p.clone()).collect();
    let out = types::accounts(state, &mut conn, &people).await?;
    let cursors: Vec<i64> = rows.iter().map(|(c, _)| *c).collect();
    Ok(paginated(req, state, &out, &cursors))
}

async fn followers(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    let who = face_by_id(&state, &path).await?;
    face_list_response(&req, &state, FaceList::Followers(who.id), &p).await
}

async fn following(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    let who = face_by_id(&state, &path).await?;
    face_list_response(&req, &state, FaceList::Following(who.id), &p).await
}

async fn relationship_response(
    state: &AppState,
    me: &Identity,
    other: i64,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    Ok(ok(&Relationship::from(
        social::relationship(&mut conn, me.id, other).await?,
    )))
}

#[derive(Deserialize, Default)]
struct FollowParams {
    #[serde(default, deserialize_with = "de::opt_bool")]
    reblogs: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    notify: Option<bool>,
}

async fn follow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<FollowParams>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:follows")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::follow(&mut conn, state.clock.as_ref(), me, &target).await?;
    social::set_follow_options(&mut conn, me, &target, p.reblogs, p.notify).await?;
    relationship_response(&state, me, target.id).await
}

async fn unfollow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:follows")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::unfollow(&mut conn, state.clock.as_ref(), me, &target).await?;
    relationship_response(&state, me, target.id).await
}

async fn block(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:blocks")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::block(&mut conn, state.clock.as_ref(), me, &target).await?;
    relationship_response(&state, me, target.id).await
}

async fn unblock(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:blocks")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::unblock(&mut conn, state.clock.as_ref(), me, &target).await?;
    relationship_response(&state, me, target.id).await
}

#[derive(Deserialize)]
struct MuteParams {
    #[serde(default, deserialize_with = "de::opt_bool")]
    notifications: Option<bool>,
    /// Seconds; 0 or none for ever.
    #[serde(default, deserialize_with = "de::opt_i64")]
    duration: Option<i64>,
}

async fn mute(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<MuteParams>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:mutes")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::mute(
        &mut conn,
        state.clock.as_ref(),
        me,
        &target,
        p.notifications.unwrap_or(true),
        p.duration,
    )
    .await?;
    relationship_response(&state, me, target.id).await
}

async fn unmute(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:mutes")?;
    let target = face_by_id(&state, &path).await?;
    let mut conn = state.db.conn().await?;
    social::unmute(&mut conn, me, &target).await?;
    relationship_response(&state, me, target.id).await
}

#[derive(Deserialize)]
struct RelationshipsParams {
    #[serde(default, deserialize_with = "de::string_list")]
    id: Vec<String>,
}

async fn relationships(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<RelationshipsParams>,
) -> ApiResult<HttpResponse> {
    use super::access::{Answer, Group};
    if auth.answer(Group::RelationshipsRead, "read:follows")? == Answer::Neutral {
        let out: Vec<Relationship> =
            p.id.iter()
                .take(100)
                .filter(|i| i.parse::<i64>().is_ok())
                .map(|i| Relationship::neutral(i))
                .collect();
        return Ok(ok(&out));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let mut out = Vec::new();
    for id in p.id.iter().take(100) {
        let Ok(id) = id.parse::<i64>() else { continue };
        if get_identity(&mut conn, id).await.is_ok() {
            out.push(Relationship::from(
                social::relationship(&mut conn, me.id, id).await?,
            ));
        }
    }
    Ok(ok(&out))
}

async fn follow_requests(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(super::access::Group::RelationLists, "read:follows")?
        == super::access::Answer::Neutral
    {
        return Ok(ok(&serde_json::json!([])));
    }
    let me = auth.face()?;
    face_list_response(&req, &state, FaceList::FollowRequests(me.id), &p).await
}

async fn answer_request(
    state: &AppState,
    auth: &Auth,
    id: &str,
    accept: bool,
) -> ApiResult<HttpResponse> {
    let me = auth.face_with("write:follows")?;
    let requester = face_by_id(state, id).await?;
    let mut conn = state.db.conn().await?;
    social::answer_follow_request(&mut conn, state.clock.as_ref(), me, &requester, accept).await?;
    relationship_response(state, me, requester.id).await
}

async fn authorize_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    answer_request(&state, &auth, &path, true).await
}

async fn reject_request(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    answer_request(&state, &auth, &path, false).await
}

async fn blocks(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(super::access::Group::RelationLists, "read:blocks")?
        == super::access::Answer::Neutral
    {
        return Ok(ok(&serde_json::json!([])));
    }
    let me = auth.face()?;
    face_list_response(&req, &state, FaceList::Blocks(me.id), &p).await
}

async fn mutes(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(super::access::Group::RelationLists, "read:mutes")?
        == super::access::Answer::Neutral
    {
        return Ok(ok(&serde_json::json!([])));
    }
    let me = auth.face()?;
    face_list_response(&req, &state, FaceList::Mutes(me.id), &p).await
}

async fn preferences(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    use super::access::{Answer, Group};
    if auth.answer(Group::Preferences, "read:accounts")? == Answer::Neutral {
        return Ok(ok(&serde_json::json!({
            "posting:default:visibility": "public",
            "posting:default:sensitive": false,
            "posting:default:language": null,
            "reading:expand:media": "default",
            "reading:expand:spoilers": false,
        })));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let p = guise_core::accounts::preferences_of(&mut conn, me.id).await?;
    Ok(ok(&serde_json::json!({
        "posting:default:visibility": p.default_visibility,
        "posting:default:sensitive": p.default_sensitive,
        "posting:default:language": p.default_language,
        "reading:expand:media": "default",
        "reading:expand:spoilers": false,
    })))
}

/// What a sign-up gives: the login's first face's name, its email and
/// password, and (when sign-ups wait for approval) why it wants to join.
pub(crate) struct Applicant<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub reason: Option<&'a str>,
}

/// Signs a login up (for `POST /api/v1/accounts` and the web form) when
/// the instance's registrations are open, and mails its confirmation link
/// when the instance sends mail. A link that could not be mailed can be
/// asked for again at `/auth/confirmation/new`. Each sign-up takes an
/// attempt from its address's sign-in budget (it hashes the password, as a
/// sign-in does).
pub(crate) async fn sign_up(
    req: &HttpRequest,
    state: &AppState,
    conn: &mut guise_core::DbConn,
    who: Applicant<'_>,
    with_keys: bool,
) -> ApiResult<guise_core::accounts::Registered> {
    use guise_core::accounts::{Email, Username};
    let Applicant {
        username,
        email,
        password,
        reason,
    } = who;
    let policy = state.live().policy.clone();
    if !policy.registrations_open {
        return Err(ApiError::forbidden(
            "Registrations are closed on this server",
        ));
    }
    let reason = reason.map(str::trim).unwrap_or("");
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::unprocessable(format!(
            "Validation failed: reason is longer than {MAX_REASON_CHARS} characters"
        )));
    }
    let awaiting_approval = policy
        .registrations_require_approval
        .then(|| reason.to_owned());
    let username = Username::parse(username)?;
    let email = Email::parse(email)?;
    let domain = email
        .as_str()
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default();
    if guise_core::domains::email_domain_blocked(conn, state.clock.as_ref(), &domain).await? {
        return Err(ApiError::unprocessable(
            "Validation failed: Email is not allowed (its domain is blocked here)",
        ));
    }
    let permit = state
        .passwords
        .attempt_sign_up(req, &format!("sign-up:{}", username.as_str()))
        .await
        .map_err(ApiError::password_guard)?;
    let r = guise_core::accounts::register(
        conn,
        state.clock.as_ref(),
        &username,
        &email,
        password,
        guise_core::accounts::Role::User,
        guise_core::accounts::SignUp {
            confirm_email: crate::mail::enabled(&state.config),
            with_keys,
            awaiting_approval,
        },
    )
    .await?;
    drop(permit);
    if let Some(token) = &r.confirmation {
        send_confirmation(state, email.as_str(), token.expose()).await;
    }
    Ok(r)
}

/// The longest reason a sign-up may give for joining.
pub(crate) const MAX_REASON_CHARS: usize = 1000;

/// Mails a confirmation link; a failure is logged (a new link can be
/// asked for), never shown to whoever asked.
pub(crate) async fn send_confirmation(state: &AppState, to: &str, token: &str) {
    let link = format!(
        "{}/auth/confirmation?token={}",
        state.base_url,
        url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
    );
    let name = &state.config.instance.name;
    let body = format!(
        "Someone (we hope you) signed up on {name} with this address.\n\nConfirm it by opening this link within {days} days:\n\n{link}\n\nIf it was not you, ignore this message: nothing happens without the link.\n",
        days = guise_core::accounts::CONFIRMATION_DAYS
    );
    if let Err(e) = crate::mail::send(
        &state.config,
        to,
        &format!("Confirm your address on {name}"),
        &body,
    )
    .await
    {
        tracing::warn!(error = %e, "sending a confirmation link");
    }
}

#[derive(Deserialize)]
struct SignUpParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
    #[serde(default, deserialize_with = "de::flex_bool")]
    agreement: bool,
    /// Why the person wants to join (read by moderators when sign-ups
    /// wait for approval).
    #[serde(default, deserialize_with = "de::opt_string")]
    reason: Option<String>,
}

/// `POST /api/v1/accounts`, with an app's own token: the new login's
/// first face gets a token (usable once its email is confirmed, when the
/// instance sends mail). Its anonymity key and recovery code are made at
/// its first sign-in on a page that can show the code.
async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<SignUpParams>,
) -> ApiResult<HttpResponse> {
    auth.require("write:accounts")?;
    if !p.agreement {
        return Err(ApiError::unprocessable(
            "Validation failed: agreement must be accepted",
        ));
    }
    let mut conn = state.db.conn().await?;
    let r = sign_up(
        &req,
        &state,
        &mut conn,
        Applicant {
            username: p.username.as_deref().unwrap_or(""),
            email: p.email.as_deref().unwrap_or(""),
            password: p.password.as_deref().unwrap_or(""),
            reason: p.reason.as_deref(),
        },
        false,
    )
    .await?;
    let issued = guise_core::oauth::issue_token(
        &mut conn,
        state.clock.as_ref(),
        auth.session.app_id,
        Some(guise_core::oauth::Grant {
            account_id: r.account.id,
            epoch: r.account.token_epoch,
            binding: guise_core::oauth::Binding::Face(r.identity.id),
        }),
        &auth.scopes,
        None,
    )
    .await?;
    Ok(crate::oauth::token_response(
        &state,
        &issued,
        serde_json::Map::new(),
    ))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/accounts", web::post().to(register));
    cfg.route(
        "/api/v1/accounts/verify_credentials",
        web::get().to(verify_credentials),
    )
    .route("/api/v1/accounts/lookup", web::get().to(lookup))
    .route(
        "/api/v1/accounts/relationships",
        web::get().to(relationships),
    )
    .route("/api/v1/accounts/{id}", web::get().to(show))
    .route("/api/v1/accounts/{id}/statuses", web::get().to(statuses))
    .route("/api/v1/accounts/{id}/followers", web::get().to(followers))
    .route("/api/v1/accounts/{id}/following", web::get().to(following))
    .route("/api/v1/accounts/{id}/follow", web::post().to(follow))
    .route("/api/v1/accounts/{id}/unfollow", web::post().to(unfollow))
    .route("/api/v1/accounts/{id}/block", web::post().to(block))
    .route("/api/v1/accounts/{id}/unblock", web::post().to(unblock))
    .route("/api/v1/accounts/{id}/mute", web::post().to(mute))
    .route("/api/v1/accounts/{id}/unmute", web::post().to(unmute))
    .route("/api/v1/follow_requests", web::get().to(follow_requests))
    .route(
        "/api/v1/follow_requests/{id}/authorize",
        web::post().to(authorize_request),
    )
    .route(
        "/api/v1/follow_requests/{id}/reject",
        web::post().to(reject_request),
    )
    .route("/api/v1/blocks", web::get().to(blocks))
    .route("/api/v1/mutes", web::get().to(mutes))
    .route("/api/v1/preferences", web::get().to(preferences));
}
