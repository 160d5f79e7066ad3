//! Guise: managing one's faces (pseudonyms and the real-name face) with an
//! "All my faces" token, and Mastodon's update_credentials for one face.

use super::{ok, parse_id, types};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::faces::{self, ProfileChange};
use serde::Deserialize;
use serde_json::json;

/// Managing faces needs an "All my faces" token: a face-bound token must not
/// learn of its owner's other faces.
fn all_faces_account(auth: &Auth, scope: &str) -> ApiResult<i64> {
    auth.require(scope)?;
    if !auth.is_all() {
        return Err(ApiError::unprocessable(
            "Managing faces needs an \"All my faces\" token",
        ));
    }
    auth.account_id()
}

async fn list(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "read:accounts")?;
    let mut conn = state.db.conn().await?;
    let faces = guise_core::accounts::faces_of(&mut conn, account).await?;
    let accounts = types::accounts(&state, &mut conn, &faces).await?;
    let out: Vec<_> = faces
        .iter()
        .zip(accounts)
        .map(|(f, a)| json!({ "account": a, "real_name_status": f.real_name_status }))
        .collect();
    Ok(ok(&out))
}

#[derive(Deserialize)]
struct NewFace {
    #[serde(default, deserialize_with = "de::opt_string")]
    handle: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    note: Option<String>,
}

async fn create_pseudonym(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<NewFace>,
) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "write:accounts")?;
    let handle = p
        .handle
        .ok_or_else(|| ApiError::unprocessable("Validation failed: handle can't be blank"))?;
    let mut conn = state.db.conn().await?;
    let face = faces::create_pseudonym(
        &mut conn,
        state.clock.as_ref(),
        account,
        &handle,
        p.display_name.as_deref().unwrap_or(""),
        p.note.as_deref().unwrap_or(""),
    )
    .await?;
    Ok(ok(&types::account(&state, &mut conn, &face).await?))
}

async fn request_real_name(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<NewFace>,
) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "write:accounts")?;
    if !state
        .rules()
        .tiers_enabled
        .contains(&guise_policy::Tier::RealName)
    {
        return Err(ApiError::unprocessable(
            "Validation failed: real-name faces are not offered here",
        ));
    }
    let handle = p
        .handle
        .ok_or_else(|| ApiError::unprocessable("Validation failed: handle can't be blank"))?;
    let name = p
        .display_name
        .ok_or_else(|| ApiError::unprocessable("Validation failed: display_name can't be blank"))?;
    let mut conn = state.db.conn().await?;
    let face =
        faces::request_real_name(&mut conn, state.clock.as_ref(), account, &handle, &name).await?;
    Ok(ok(
        &json!({ "account": types::account(&state, &mut conn, &face).await?, "real_name_status": face.real_name_status }),
    ))
}

#[derive(Deserialize)]
struct Change {
    #[serde(default, deserialize_with = "de::opt_string")]
    handle: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    note: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    bot: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    discoverable: Option<bool>,
    /// `fields_attributes[0][name]`… or a JSON list of `{name, value}`.
    #[serde(default)]
    fields_attributes: Option<serde_json::Value>,
    /// `source[privacy]`, `source[sensitive]`, `source[language]`.
    #[serde(default)]
    source: Option<serde_json::Value>,
}

impl Change {
    fn into_core(self) -> ProfileChange {
        let fields = self.fields_attributes.as_ref().map(|f| {
            crate::extract::attribute_list(Some(f))
                .iter()
                .map(|a| {
                    let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                    (text("name"), text("value"))
                })
                .collect()
        });
        ProfileChange {
            handle: self.handle,
            display_name: self.display_name,
            note: self.note,
            locked: self.locked,
            bot: self.bot,
            discoverable: self.discoverable,
            fields,
        }
    }
}

async fn own_face(
    state: &AppState,
    account: i64,
    id: &str,
) -> ApiResult<guise_core::models::Identity> {
    let id = parse_id(id)?;
    let mut conn = state.db.conn().await?;
    guise_core::accounts::faces_of(&mut conn, account)
        .await?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(ApiError::not_found)
}

async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Change>,
) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "write:accounts")?;
    let face = own_face(&state, account, &path).await?;
    let mut conn = state.db.conn().await?;
    let face = faces::update_profile(&mut conn, state.clock.as_ref(), &face, p.into_core()).await?;
    crate::rel_me::check_later(&state, &face);
    Ok(ok(&types::account(&state, &mut conn, &face).await?))
}

#[derive(Deserialize)]
struct Reach {
    #[serde(default, deserialize_with = "de::opt_string")]
    anonymous_reach: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    hide_anonymous: Option<bool>,
}

fn reach_json(p: &guise_core::models::Preferences) -> serde_json::Value {
    json!({ "anonymous_reach": p.anonymous_reach, "hide_anonymous": p.hide_anonymous })
}

/// The face a reach request names: the token's own face, or (for "All my
/// faces" tokens) any persistent face of the login.
async fn reach_face(
    state: &AppState,
    auth: &Auth,
    id: &str,
    scope: &str,
) -> ApiResult<guise_core::models::Identity> {
    auth.require(scope)?;
    if auth.is_all() {
        return own_face(state, auth.account_id()?, id).await;
    }
    let face = auth.face()?;
    if face.id.to_string() != id {
        return Err(ApiError::not_found());
    }
    Ok(face.clone())
}

/// `GET /api/v1/guise/faces/{id}/anonymous_reach` (Guise).
async fn get_reach(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let face = reach_face(&state, &auth, &path, "read:accounts").await?;
    let mut conn = state.db.conn().await?;
    let p = guise_core::accounts::preferences_of(&mut conn, face.id).await?;
    Ok(ok(&reach_json(&p)))
}

/// `PUT /api/v1/guise/faces/{id}/anonymous_reach` (Guise): `anonymous_reach`
/// (everyone, own_threads, nobody) and `hide_anonymous`.
async fn set_reach(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Reach>,
) -> ApiResult<HttpResponse> {
    let face = reach_face(&state, &auth, &path, "write:accounts").await?;
    let mut conn = state.db.conn().await?;
    let prefs = faces::set_anonymous_reach(
        &mut conn,
        &face,
        p.anonymous_reach.as_deref(),
        p.hide_anonymous,
    )
    .await?;
    Ok(ok(&reach_json(&prefs)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "write:accounts")?;
    let face = own_face(&state, account, &path).await?;
    let mut conn = state.db.conn().await?;
    faces::delete_face(&mut conn, state.clock.as_ref(), account, face.id).await?;
    Ok(ok(&json!({})))
}

/// Mastodon's `PATCH /api/v1/accounts/update_credentials`, for the token's
/// face: profile fields, preferences, and `avatar`/`header` images (decoded
/// and re-encoded like uploads, so nothing but pixels is kept).
async fn update_credentials(
    req: actix_web::HttpRequest,
    payload: web::Payload,
    auth: Auth,
) -> ApiResult<HttpResponse> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(ApiError::internal)?;
    auth.answer(super::access::Group::ProfileEdits, "write:accounts")?;
    let limit = usize::try_from(
        state
            .config
            .media
            .max_upload_mb
            .saturating_mul(2 * 1024 * 1024),
    )
    .unwrap_or(usize::MAX);
    let mut payload = payload.into_inner();
    let (map, files) = crate::extract::collect_upload(&req, &mut payload, limit).await?;
    let p: Change = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::unprocessable(format!("Validation failed: {e}")))?;
    for f in files {
        let which = match f.name.as_str() {
            "avatar" => faces::Picture::Avatar,
            "header" => faces::Picture::Header,
            _ => continue,
        };
        let fit = if which == faces::Picture::Avatar {
            crate::imaging::Fit::Avatar
        } else {
            crate::imaging::Fit::Header
        };
        set_picture(&state, &auth, which, Some((f.bytes, fit))).await?;
    }
    let mut conn = state.db.conn().await?;
    let face = &guise_core::accounts::get_identity(&mut conn, auth.face()?.id).await?;
    let source = p.source.clone();
    let change = ProfileChange {
        handle: None,
        ..p.into_core()
    };
    if let Some(src) = source.as_ref().and_then(|s| s.as_object()) {
        let text = |k: &str| src.get(k).and_then(|v| v.as_str());
        let sensitive = src.get("sensitive").and_then(|v| {
            v.as_bool()
                .or_else(|| v.as_str().map(|s| matches!(s, "true" | "1" | "on")))
        });
        faces::set_preferences(
            &mut conn,
            face,
            text("privacy"),
            sensitive,
            text("language"),
        )
        .await?;
    }
    let face = faces::update_profile(&mut conn, state.clock.as_ref(), face, change).await?;
    crate::rel_me::check_later(&state, &face);
    Ok(ok(&super::accounts::with_source(
        &state,
        &mut conn,
        &face,
        auth.session.role.as_deref(),
    )
    .await?))
}

/// Sets or removes the token's face's avatar or header; the old file goes.
async fn set_picture(
    state: &AppState,
    auth: &Auth,
    which: faces::Picture,
    image: Option<(Vec<u8>, crate::imaging::Fit)>,
) -> ApiResult<()> {
    let key = match image {
        Some((bytes, fit)) => {
            let (_, file_key, preview_key) = super::media::store_image(state, bytes, fit).await?;
            // A profile picture needs no preview of its own.
            let name = preview_key.split('.').next().unwrap_or_default().to_owned();
            let _ = state.media_store.delete(&name).await;
            Some(file_key)
        }
        None => None,
    };
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, auth.face()?.id).await?;
    let old = faces::set_picture(&mut conn, state.clock.as_ref(), &face, which, key).await?;
    if let Some(old) = old {
        let name = old.split('.').next().unwrap_or_default().to_owned();
        if let Err(e) = state.media_store.delete(&name).await {
            tracing::warn!(error = %e, "removing a replaced profile picture");
        }
    }
    Ok(())
}

async fn delete_picture(
    state: web::Data<AppState>,
    auth: Auth,
    which: faces::Picture,
) -> ApiResult<HttpResponse> {
    auth.answer(super::access::Group::ProfileEdits, "write:accounts")?;
    set_picture(&state, &auth, which, None).await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, auth.face()?.id).await?;
    Ok(ok(&super::accounts::with_source(
        &state,
        &mut conn,
        &face,
        auth.session.role.as_deref(),
    )
    .await?))
}

async fn delete_avatar(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    delete_picture(state, auth, faces::Picture::Avatar).await
}

async fn delete_header(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    delete_picture(state, auth, faces::Picture::Header).await
}

#[derive(Deserialize)]
struct PasswordChange {
    #[serde(default, deserialize_with = "de::opt_string")]
    current_password: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
}

/// Guise: change the login's password; `k_anon` is re-wrapped under the new
/// one. Every token of the login dies with the old password, this one too:
/// the answer carries its replacement (same app, scopes and face), which the
/// caller uses from now on. The old one is not touched, only dead: a write to
/// it next to the login's would tie its past to the login.
async fn change_password(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PasswordChange>,
) -> ApiResult<HttpResponse> {
    auth.require("write:accounts")?;
    let account = auth.account_id()?;
    let binding = auth.binding().ok_or_else(ApiError::unauthorized)?;
    let (Some(current), Some(new)) = (p.current_password, p.password) else {
        return Err(ApiError::unprocessable(
            "Validation failed: current_password and password are required",
        ));
    };
    let permit = state
        .passwords
        .attempt_from(&req, &format!("#{account}"))
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, account).await?;
    let (k_anon, epoch) =
        guise_core::accounts::change_password(&mut conn, &account, &current, &new).await?;
    drop(permit);
    let issued = guise_core::oauth::issue_token(
        &mut conn,
        state.clock.as_ref(),
        auth.session.app_id,
        Some(guise_core::oauth::Grant {
            account_id: account.id,
            epoch,
            binding,
        }),
        &auth.scopes,
        Some(&k_anon),
    )
    .await?;
    let mut extra = serde_json::Map::new();
    extra.insert("other_tokens_revoked".into(), json!(true));
    extra.insert(
        "message".into(),
        json!("Your password was changed. Every app signed in to this login was signed out; this one continues with the new access_token."),
    );
    Ok(crate::oauth::token_response(&state, &issued, extra))
}

/// Guise: the login's tokens ("authorized apps"), for an "All my faces"
/// token: no token row says whose it is, so they are found with `k_anon`.
async fn tokens(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "read:accounts")?;
    let k = auth.anon_key()?;
    let mut conn = state.db.conn().await?;
    let own = guise_core::oauth::own_tokens(&mut conn, k, account).await?;
    let mut out = Vec::with_capacity(own.len());
    for t in own {
        let (kind, face) = match t.session.binding() {
            Some(guise_core::oauth::Binding::Face(id)) => {
                let f = guise_core::accounts::get_identity(&mut conn, id).await?;
                ("face", Some(types::account(&state, &mut conn, &f).await?))
            }
            Some(guise_core::oauth::Binding::Anonymous) => ("anonymous", None),
            _ => ("all", None),
        };
        out.push(json!({
            "id": t.session.id.to_string(),
            "app": t.app.as_ref().map(|a| json!({ "name": a.name, "website": a.website })),
            "scopes": t.session.scopes.split(' ').collect::<Vec<_>>(),
            "binding": kind,
            "face": face,
            "created_at": format!("{}T00:00:00.000Z", t.session.created_on),
            "current": t.session.id == auth.session.id,
        }));
    }
    Ok(ok(&out))
}

/// Guise: revoke one of the login's tokens (the app's secret is not needed).
async fn revoke_token(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let account = all_faces_account(&auth, "write:accounts")?;
    let k = auth.anon_key()?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    guise_core::oauth::revoke_own(&mut conn, k, account, id).await?;
    Ok(ok(&json!({})))
}

#[derive(Deserialize)]
struct Recovery {
    #[serde(default, deserialize_with = "de::opt_string")]
    login: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    recovery_code: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
}

/// Guise: set a new password with the recovery code. The anonymity key
/// survives; the code is used up and a new one is returned, once.
async fn recover(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    Params(p): Params<Recovery>,
) -> ApiResult<HttpResponse> {
    let (Some(login), Some(code), Some(new)) = (p.login, p.recovery_code, p.password) else {
        return Err(ApiError::unprocessable(
            "Validation failed: login, recovery_code and password are required",
        ));
    };
    let _permit = state
        .passwords
        .attempt_from(&req, &login)
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let next = guise_core::accounts::recover_with_code(&mut conn, &login, &code, &new).await?;
    Ok(ok(&json!({ "recovery_code": next.expose() })))
}

#[derive(Deserialize)]
struct Deletion {
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
}

/// Guise: delete the login and its faces now, and (through the sealed index,
/// which the password opens) every anonymous post, each at its own time
/// within the deletion spread.
async fn delete_account(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<Deletion>,
) -> ApiResult<HttpResponse> {
    auth.require("write:accounts")?;
    let account = auth.account_id()?;
    let password = p
        .password
        .ok_or_else(|| ApiError::unprocessable("Validation failed: password can't be blank"))?;
    let _permit = state
        .passwords
        .attempt_from(&req, &format!("#{account}"))
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, account).await?;
    let n = guise_core::accounts::delete_account(
        &mut conn,
        state.clock.as_ref(),
        &account,
        &password,
        chrono::Duration::seconds(state.config.instance.deletion_spread_secs.max(0)),
    )
    .await?;
    Ok(ok(&json!({ "anonymous_statuses_deleted": n })))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/guise/account/delete",
        web::post().to(delete_account),
    )
    .route("/api/v1/guise/password", web::post().to(change_password))
    .route("/api/v1/guise/tokens", web::get().to(tokens))
    .route("/api/v1/guise/tokens/{id}", web::delete().to(revoke_token))
    .route("/api/v1/guise/password/recover", web::post().to(recover));
    cfg.route("/api/v1/guise/faces", web::get().to(list))
        .route("/api/v1/guise/faces", web::post().to(create_pseudonym))
        .route(
            "/api/v1/guise/faces/real_name",
            web::post().to(request_real_name),
        )
        .route("/api/v1/guise/faces/{id}", web::patch().to(update))
        .route("/api/v1/guise/faces/{id}", web::delete().to(delete))
        .route(
            "/api/v1/guise/faces/{id}/anonymous_reach",
            web::get().to(get_reach),
        )
        .route(
            "/api/v1/guise/faces/{id}/anonymous_reach",
            web::put().to(set_reach),
        )
        .route(
            "/api/v1/accounts/update_credentials",
            web::patch().to(update_credentials),
        )
        .route("/api/v1/profile/avatar", web::delete().to(delete_avatar))
        .route("/api/v1/profile/header", web::delete().to(delete_header));
}
