//! The login's own settings on the web: changing the password (every
//! session and app is signed out; this browser gets a new session), and
//! the authorized apps, found with the session's key and revocable.

use super::pages::{nav, signed_in, signed_in_form};
use super::session::{self, WebSession};
use super::{page, see_other};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::oauth::{self, Binding};
use maud::html;
use serde::Deserialize;

async fn account_page(
    state: &AppState,
    l: super::i18n::Lang,
    s: &WebSession,
    notice: Option<String>,
) -> ApiResult<HttpResponse> {
    let account = s.auth.account_id()?;
    let k = s.auth.anon_key()?;
    let mut conn = state.db.conn().await?;
    let own = oauth::own_tokens(&mut conn, k, account).await?;
    let login = guise_core::accounts::get_account(&mut conn, account).await?;
    let two_factor = login.otp_secret.is_some();
    let staff = login.is_staff();
    Ok(page(
        state,
        l,
        &l.t("account"),
        nav(l, s),
        html! {
            h1 { (l.t("account")) }
            @if let Some(n) = notice { p.notice-text role="status" { (n) } }
            @if staff { p { (super::staff::link(l)) } }
            section aria-labelledby="password-h" {
                h2 #password-h { (l.t("password-change")) }
                p.hint { (l.t("password-change-hint")) }
                form method="post" action="/web/account/password" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="current_password" { (l.t("password-current")) }
                    input #current_password type="password" name="current_password" autocomplete="current-password" required;
                    label for="new_password" { (l.t("password-new")) }
                    input #new_password type="password" name="password" autocomplete="new-password" minlength="8" required;
                    button type="submit" { (l.t("password-change")) }
                }
            }
            section aria-labelledby="otp-h" {
                h2 #otp-h { (l.t("otp")) }
                @if two_factor {
                    p { (l.t("otp-on")) }
                    form method="post" action="/web/account/two_factor/codes" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label for="codes_otp" { (l.t("otp-code")) }
                        input #codes_otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code" required;
                        button type="submit" { (l.t("otp-new-codes")) }
                    }
                    form method="post" action="/web/account/two_factor/off" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label for="off_password" { (l.t("password-current")) }
                        input #off_password type="password" name="password" autocomplete="current-password" required;
                        label for="off_otp" { (l.t("otp-code")) }
                        input #off_otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code" required;
                        button type="submit" { (l.t("otp-turn-off")) }
                    }
                } @else {
                    p.hint { (l.t("otp-off")) }
                    p { a href="/web/account/two_factor" { (l.t("otp-turn-on")) } }
                }
            }
            section aria-labelledby="export-h" {
                h2 #export-h { (l.t("export")) }
                p.hint { (l.t("export-hint")) }
                p { a.button href="/web/account/export" download { (l.t("export-download")) } }
            }
            section aria-labelledby="delete-h" {
                h2 #delete-h { (l.t("delete-login")) }
                p { (l.t_with("delete-login-explained", &[("hours", &(state.config.instance.deletion_spread_secs.max(0) / 3600).to_string())])) }
                form method="post" action="/web/account/delete" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    label for="delete_password" { (l.t("password-current")) }
                    input #delete_password type="password" name="password" autocomplete="current-password" required;
                    label.choice {
                        input type="checkbox" name="confirm" value="yes" required;
                        " " (l.t("delete-login-confirm"))
                    }
                    button.danger type="submit" { (l.t("delete-login")) }
                }
            }
            section aria-labelledby="apps-h" {
                h2 #apps-h { (l.t("apps")) }
                p.hint { (l.t("apps-hint")) }
                ul.apps {
                    @for t in &own {
                        @let name = t.app.as_ref().map(|a| a.name.clone()).unwrap_or_default();
                        @let bound = match t.session.binding() {
                            Some(Binding::Face(_)) => l.t("apps-one-face"),
                            Some(Binding::Anonymous) => l.t("anonymous"),
                            _ => l.t("apps-all-faces"),
                        };
                        li {
                            strong { (name) } " — " (bound) " · " (t.session.created_on.to_string())
                            @if t.session.id == s.auth.session.id {
                                " " span.hint { (l.t("apps-this-browser")) }
                            } @else {
                                form method="post" action={ "/web/account/apps/" (t.session.id) "/revoke" } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" aria-label=(l.t_with("apps-revoke-named", &[("name", &name)])) { (l.t("apps-revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct ShowQuery {
    #[serde(default)]
    changed: Option<String>,
}

pub(crate) async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ShowQuery>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let notice = q.changed.as_ref().map(|_| l.t("password-changed"));
    account_page(&state, l, &s, notice).await
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let account = s.auth.account_id()?;
    let permit = state
        .passwords
        .attempt_from(&req, &format!("#{account}"))
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, account).await?;
    let changed = guise_core::accounts::change_password(
        &mut conn,
        &account,
        &form.current_password,
        &form.password,
    )
    .await;
    drop(permit);
    let (k_anon, epoch) = match changed {
        Ok(x) => x,
        Err(e) => {
            let e: ApiError = e.into();
            let mut resp = account_page(&state, l, &s, Some(e.message.clone())).await?;
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    // Every token died with the old password, this session's too: a new one.
    let cookie = session::new_session(&state, &mut conn, account.id, epoch, &k_anon).await?;
    let mut resp = see_other("/web/account?changed=1");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    match oauth::revoke_own(&mut conn, s.auth.anon_key()?, s.auth.account_id()?, id).await {
        Ok(()) => Ok(see_other("/web/account")),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

/// Turning on two-factor sign-in: a new secret, shown as text and as an
/// `otpauth://` link for the authenticator app, confirmed with its first
/// code. The secret travels in the form (it is the user's own) until then.
pub(crate) async fn two_factor_page(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    setup_page(&state, l, &s, &guise_core::otp::new_secret(), None).await
}

async fn setup_page(
    state: &AppState,
    l: super::i18n::Lang,
    s: &WebSession,
    secret: &[u8],
    error: Option<String>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, s.auth.account_id()?).await?;
    let text = guise_core::otp::base32(secret);
    let grouped: Vec<String> = text
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    let uri = guise_core::otp::uri(&state.config.instance.name, &account.email, secret);
    Ok(page(
        state,
        l,
        &l.t("otp"),
        nav(l, s),
        html! {
            h1 { (l.t("otp")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            p { (l.t("otp-setup-hint")) }
            p { code #otp-secret { (grouped.join(" ")) } }
            p { a href=(uri) { (l.t("otp-open-app")) } }
            form method="post" action="/web/account/two_factor" {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="secret" value=(text);
                label for="otp" { (l.t("otp-code")) }
                input #otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code" required autofocus;
                button type="submit" { (l.t("otp-turn-on")) }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct OtpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    password: String,
}

/// The recovery codes, shown once, with a download.
fn codes_page(
    state: &AppState,
    l: super::i18n::Lang,
    s: &WebSession,
    codes: &[String],
) -> HttpResponse {
    let text = format!("{}\n\n{}\n", l.t("otp-codes-title"), codes.join("\n"));
    let download = super::text_download(&text);
    page(
        state,
        l,
        &l.t("otp-codes-title"),
        nav(l, s),
        html! {
            h1 { (l.t("otp-codes-title")) }
            p { (l.t("otp-codes-hint")) }
            ul #otp-codes { @for c in codes { li { code { (c) } } } }
            p { a href=(download) download="guise-two-factor-codes.txt" { (l.t("recovery-download")) } }
            p { a href="/web/account" { (l.t("recovery-continue")) } }
        },
    )
}

pub(crate) async fn two_factor_on(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OtpForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let Some(secret) = guise_core::otp::from_base32(&form.secret) else {
        return Ok(see_other("/web/account/two_factor"));
    };
    let mut conn = state.db.conn().await?;
    let now = state.clock.now().timestamp();
    match guise_core::otp::enable(&mut conn, s.auth.account_id()?, &secret, &form.otp, now).await {
        Ok(codes) => Ok(codes_page(&state, l, &s, &codes)),
        Err(guise_core::CoreError::Invalid { .. }) => {
            let mut resp = setup_page(&state, l, &s, &secret, Some(l.t("otp-setup-wrong"))).await?;
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// A two-factor settings form: the session and CSRF, then the login's
/// second factor (and its password when asked) under the password limit;
/// when any fails, the page that says why.
async fn confirm_second(
    req: &HttpRequest,
    state: &AppState,
    form: &OtpForm,
    with_password: bool,
) -> ApiResult<Result<(super::i18n::Lang, WebSession, guise_core::models::Account), HttpResponse>> {
    let (l, session) = match signed_in_form(req, state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(Err(refused)),
    };
    let s = &session;
    let id = s.auth.account_id()?;
    let permit = state
        .passwords
        .attempt_from(req, &format!("#{id}"))
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, id).await?;
    if with_password {
        let ok = guise_core::accounts::authenticate(&mut conn, &account.email, &form.password)
            .await?
            .is_some_and(|a| a.id == id);
        if !ok {
            drop(permit);
            let mut resp = account_page(state, l, s, Some(l.t("sign-in-invalid"))).await?;
            *resp.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            return Ok(Err(resp));
        }
    }
    let outcome = crate::two_factor::check(state, &mut conn, &account, Some(&form.otp)).await?;
    drop(permit);
    if outcome != crate::two_factor::Outcome::Passed {
        let mut resp = account_page(state, l, s, Some(l.t("sign-in-otp-wrong"))).await?;
        *resp.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        return Ok(Err(resp));
    }
    Ok(Ok((l, session, account)))
}

pub(crate) async fn two_factor_off(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OtpForm>,
) -> ApiResult<HttpResponse> {
    let (l, s, account) = match confirm_second(&req, &state, &form, true).await? {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let mut conn = state.db.conn().await?;
    guise_core::otp::disable(&mut conn, account.id).await?;
    account_page(&state, l, &s, Some(l.t("otp-turned-off"))).await
}

pub(crate) async fn two_factor_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OtpForm>,
) -> ApiResult<HttpResponse> {
    let (l, s, account) = match confirm_second(&req, &state, &form, false).await? {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let mut conn = state.db.conn().await?;
    let codes = guise_core::otp::new_recovery_codes(&mut conn, account.id).await?;
    Ok(codes_page(&state, l, &s, &codes))
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Deleting the login: its persistent faces now, its anonymous posts one by
/// one within the deletion spread (found through the sealed index, which
/// the password opens). The browser is signed out.
pub(crate) async fn delete_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<DeleteForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    if form.confirm != "yes" {
        let mut resp = account_page(&state, l, &s, Some(l.t("delete-login-confirm"))).await?;
        *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let id = s.auth.account_id()?;
    let permit = state
        .passwords
        .attempt_from(&req, &format!("#{id}"))
        .await
        .map_err(ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, id).await?;
    let deleted = guise_core::accounts::delete_account(
        &mut conn,
        state.clock.as_ref(),
        &account,
        &form.password,
        chrono::Duration::seconds(state.config.instance.deletion_spread_secs.max(0)),
    )
    .await;
    drop(permit);
    let n = match deleted {
        Ok(n) => n,
        Err(e) => {
            let e: ApiError = e.into();
            let mut resp = account_page(&state, l, &s, Some(e.message.clone())).await?;
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    let mut resp = page(
        &state,
        l,
        &l.t("delete-login-done-title"),
        html! {},
        html! {
            h1 { (l.t("delete-login-done-title")) }
            p { (l.t_with("delete-login-done", &[("count", &n.to_string())])) }
            p { a href="/" { (l.t("back")) } }
        },
    );
    if let Ok(v) =
        header::HeaderValue::from_str(&session::set_cookie(&state, session::SESSION, "", 0))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// The login's data as JSON, for its owner: the login, and each persistent
/// face with its profile, posts and relations. Anonymous posts are left
/// out: a file tying them to the login is the link Guise exists to avoid
/// (they are listed, unlinked, on "My anonymous posts").
pub(crate) async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (_, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    use guise_core::social::{face_list, FaceList};
    let id = s.auth.account_id()?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, id).await?;
    let everything = guise_core::statuses::Page {
        limit: 100_000,
        ..Default::default()
    };
    let mut faces = Vec::new();
    for f in guise_core::accounts::faces_of(&mut conn, id).await? {
        let ids = guise_core::statuses::author_timeline(
            &mut conn,
            Some(f.id),
            f.id,
            Default::default(),
            &everything,
        )
        .await?;
        let views = guise_core::statuses::load_views(&mut conn, Some(f.id), &ids).await?;
        let posts: Vec<serde_json::Value> = views
            .iter()
            .map(|v| {
                let st = &v.status;
                serde_json::json!({
                    "id": st.id.to_string(),
                    "created_at": st.created_at.to_rfc3339(),
                    "visibility": st.visibility,
                    "text": st.source_text,
                    "spoiler_text": st.spoiler_text,
                    "in_reply_to_id": st.in_reply_to_id.map(|i| i.to_string()),
                    "reblog_of_id": st.reblog_of_id.map(|i| i.to_string()),
                })
            })
            .collect();
        let mut relations = serde_json::Map::new();
        for (name, list) in [
            ("following", FaceList::Following(f.id)),
            ("followers", FaceList::Followers(f.id)),
            ("blocks", FaceList::Blocks(f.id)),
            ("mutes", FaceList::Mutes(f.id)),
        ] {
            let people = face_list(&mut conn, list, &everything).await?;
            relations.insert(
                name.into(),
                people
                    .iter()
                    .map(|(_, p)| serde_json::json!(p.acct()))
                    .collect(),
            );
        }
        faces.push(serde_json::json!({
            "handle": f.handle,
            "tier": f.tier,
            "display_name": f.display_name,
            "note": f.note,
            "fields": f.fields,
            "created_on": f.created_on.to_string(),
            "posts": posts,
            "relations": relations,
        }));
    }
    let today = state.clock.today();
    let doc = serde_json::json!({
        "instance": state.domain(),
        "exported_on": today.to_string(),
        "about": "Your persistent faces only. Anonymous posts are not in this file, so that it cannot tie them to you; 'My anonymous posts' lists them.",
        "login": { "email": account.email, "role": account.role, "created_on": account.created_on.to_string() },
        "faces": faces,
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"guise-export-{today}.json\""),
        ))
        .body(serde_json::to_string_pretty(&doc).unwrap_or_default()))
}
