//! Signing up on the web, and confirming the email address.
//!
//! A web sign-up makes the login's anonymity key at once, so the page can
//! show its recovery code — once, with a download — before anything else.
//! When the instance sends mail, the login works only after the emailed
//! link is followed; a new link can be asked for without saying whether
//! an address has a login here.

use super::i18n::Lang;
use super::session::{cookie, set_cookie, PRE_CSRF};
use super::{lang, page, see_other};
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

fn nav(l: Lang) -> Markup {
    html! { a href="/auth/sign_in" { (l.t("sign-in")) } }
}

/// The CSRF value of a signed-out form: the `guise_csrf` cookie's, or a
/// new one (set on the response by `with_pre_csrf`).
fn pre_csrf(req: &HttpRequest) -> String {
    cookie(req, PRE_CSRF).unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()))
}

fn with_pre_csrf(state: &AppState, mut resp: HttpResponse, csrf: &str) -> HttpResponse {
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(state, PRE_CSRF, csrf, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn form(
    state: &AppState,
    l: Lang,
    csrf: &str,
    f: &SignUpForm,
    error: Option<&str>,
) -> HttpResponse {
    page(
        state,
        l,
        &l.t("sign-up"),
        nav(l),
        html! {
            h1 { (l.t("sign-up")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/auth/sign_up" {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { (l.t("sign-up-username")) }
                input #username type="text" name="username" value=(f.username) autocomplete="username" required autofocus aria-describedby="username-hint";
                p.hint #username-hint { (l.t("sign-up-username-hint")) }
                label for="email" { (l.t("sign-up-email")) }
                input #email type="email" name="email" value=(f.email) autocomplete="email" required;
                label for="password" { (l.t("sign-in-password")) }
                input #password type="password" name="password" autocomplete="new-password" minlength="8" required aria-describedby="password-hint";
                p.hint #password-hint { (l.t("sign-up-password-hint")) }
                @if state.live().policy.registrations_require_approval {
                    p #approval-hint { (l.t("sign-up-approval-hint")) }
                    label for="reason" { (l.t("sign-up-reason")) }
                    textarea #reason name="reason" maxlength=(crate::mastodon_api::accounts::MAX_REASON_CHARS) aria-describedby="approval-hint" { (f.reason) }
                }
                label.choice {
                    input type="checkbox" name="agreement" value="true" required;
                    " " (l.t("sign-up-agreement"))
                }
                button type="submit" { (l.t("sign-up")) }
            }
        },
    )
}

#[derive(Deserialize, Default)]
pub(crate) struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    agreement: String,
}

fn closed(state: &AppState, l: Lang) -> HttpResponse {
    let mut resp = page(
        state,
        l,
        &l.t("sign-up"),
        nav(l),
        html! { h1 { (l.t("sign-up")) } p { (l.t("sign-up-closed")) } },
    );
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp
}

pub(crate) async fn sign_up_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let l = lang(&req);
    if !state.live().policy.registrations_open {
        return closed(&state, l);
    }
    let csrf = pre_csrf(&req);
    let resp = form(&state, l, &csrf, &SignUpForm::default(), None);
    with_pre_csrf(&state, resp, &csrf)
}

pub(crate) async fn sign_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<SignUpForm>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    if !state.live().policy.registrations_open {
        return Ok(closed(&state, l));
    }
    let f = f.into_inner();
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !pre_matches(&pre, &f.csrf) {
        let csrf = pre_csrf(&req);
        let resp = form(&state, l, &csrf, &f, Some(&l.t("form-expired")));
        return Ok(with_pre_csrf(&state, resp, &csrf));
    }
    if f.agreement != "true" {
        let mut resp = form(&state, l, &pre, &f, Some(&l.t("sign-up-agreement-needed")));
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let mut conn = state.db.conn().await?;
    let r = match crate::mastodon_api::accounts::sign_up(
        &req,
        &state,
        &mut conn,
        crate::mastodon_api::accounts::Applicant {
            username: &f.username,
            email: &f.email,
            password: &f.password,
            reason: Some(&f.reason),
        },
        true,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            let mut resp = form(&state, l, &pre, &f, Some(&e.message));
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    let code = r
        .recovery_code
        .as_ref()
        .map(|c| c.expose().to_owned())
        .unwrap_or_default();
    let download = download_link(l, &code);
    Ok(page(
        &state,
        l,
        &l.t("recovery-title"),
        nav(l),
        html! {
            h1 { (l.t_with("sign-up-welcome", &[("name", &r.identity.handle)])) }
            h2 { (l.t("recovery-title")) }
            p { (l.t("recovery-body")) }
            p { code #recovery { (code) } }
            p { a href=(download) download="guise-recovery-code.txt" { (l.t("recovery-download")) } }
            @if r.confirmation.is_some() {
                p.notice-text { (l.t_with("sign-up-check-mail", &[("email", &r.account.email)])) }
            }
            @if !r.account.approved {
                p.notice-text #awaiting-approval { (l.t("sign-up-awaiting-approval")) }
            } @else if r.confirmation.is_none() {
                p { a.button href="/auth/sign_in" { (l.t("sign-in")) } }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct ConfirmQuery {
    #[serde(default)]
    token: String,
}

pub(crate) async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ConfirmQuery>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let mut conn = state.db.conn().await?;
    match guise_core::accounts::confirm_email(&mut conn, state.clock.as_ref(), &q.token).await {
        Ok(_) => Ok(page(
            &state,
            l,
            &l.t("confirmed"),
            nav(l),
            html! {
                h1 { (l.t("confirmed")) }
                p { a.button href="/auth/sign_in" { (l.t("sign-in")) } }
            },
        )),
        Err(guise_core::CoreError::NotFound) => {
            let mut resp = page(
                &state,
                l,
                &l.t("confirm-invalid"),
                nav(l),
                html! {
                    h1 { (l.t("confirm-invalid")) }
                    p { a href="/auth/confirmation/new" { (l.t("confirm-ask-again")) } }
                },
            );
            *resp.status_mut() = StatusCode::NOT_FOUND;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn resend_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let l = lang(&req);
    let csrf = pre_csrf(&req);
    let resp = page(
        &state,
        l,
        &l.t("confirm-ask-again"),
        nav(l),
        html! {
            h1 { (l.t("confirm-ask-again")) }
            form method="post" action="/auth/confirmation/new" {
                input type="hidden" name="csrf" value=(csrf);
                label for="email" { (l.t("sign-up-email")) }
                input #email type="email" name="email" autocomplete="email" required autofocus;
                button type="submit" { (l.t("confirm-send")) }
            }
        },
    );
    with_pre_csrf(&state, resp, &csrf)
}

#[derive(Deserialize)]
pub(crate) struct ResendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<ResendForm>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !pre_matches(&pre, &f.csrf) {
        return Ok(see_other("/auth/confirmation/new"));
    }
    // Each request costs an attempt for the address (it may send mail).
    let _permit = state
        .passwords
        .attempt_from(&req, &format!("confirmation:{}", f.email.trim()))
        .await
        .map_err(crate::error::ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    if crate::mail::enabled(&state.config) {
        if let Some((account, token)) =
            guise_core::accounts::renew_confirmation(&mut conn, state.clock.as_ref(), &f.email)
                .await?
        {
            crate::mastodon_api::accounts::send_confirmation(
                &state,
                &account.email,
                token.expose(),
            )
            .await;
        }
    }
    // The same answer whether or not the address has a login here.
    Ok(page(
        &state,
        l,
        &l.t("confirm-ask-again"),
        nav(l),
        html! { h1 { (l.t("confirm-ask-again")) } p { (l.t("confirm-sent")) } },
    ))
}

/// Resetting a forgotten password with the recovery code: the anonymous
/// posts stay the owner's. The page says, before anything happens, what
/// losing both the password and the code means.
pub(crate) async fn recover_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let l = lang(&req);
    let csrf = pre_csrf(&req);
    let resp = recover_form(&state, l, &csrf, "", None);
    with_pre_csrf(&state, resp, &csrf)
}

fn recover_form(
    state: &AppState,
    l: Lang,
    csrf: &str,
    login: &str,
    error: Option<&str>,
) -> HttpResponse {
    page(
        state,
        l,
        &l.t("recover"),
        nav(l),
        html! {
            h1 { (l.t("recover")) }
            p { (l.t("recover-keeps")) }
            p.hint { (l.t("recover-without-code")) }
            @if crate::mail::enabled(&state.config) {
                p { a href="/auth/password/reset" { (l.t("reset-link")) } }
            }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/auth/recover" {
                input type="hidden" name="csrf" value=(csrf);
                label for="login" { (l.t("sign-in-login")) }
                input #login type="text" name="login" value=(login) autocomplete="username" required autofocus;
                label for="recovery_code" { (l.t("recovery-title")) }
                input #recovery_code type="text" name="recovery_code" autocomplete="off" required;
                label for="password" { (l.t("password-new")) }
                input #password type="password" name="password" autocomplete="new-password" minlength="8" required;
                button type="submit" { (l.t("recover-do")) }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct RecoverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    recovery_code: String,
    #[serde(default)]
    password: String,
}

pub(crate) async fn recover(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<RecoverForm>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !pre_matches(&pre, &f.csrf) {
        let csrf = pre_csrf(&req);
        let resp = recover_form(&state, l, &csrf, &f.login, Some(&l.t("form-expired")));
        return Ok(with_pre_csrf(&state, resp, &csrf));
    }
    let permit = state
        .passwords
        .attempt_from(&req, &f.login)
        .await
        .map_err(crate::error::ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    let next =
        guise_core::accounts::recover_with_code(&mut conn, &f.login, &f.recovery_code, &f.password)
            .await;
    drop(permit);
    let next = match next {
        Ok(n) => n,
        Err(e) => {
            let e: crate::error::ApiError = e.into();
            let mut resp = recover_form(&state, l, &pre, &f.login, Some(&e.message));
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    Ok(new_code_page(&state, l, "recover-done", next.expose()))
}

/// Whether a form echoed the pre-sign-in CSRF cookie's value.
fn pre_matches(pre: &str, given: &str) -> bool {
    !pre.is_empty() && guise_core::secret::constant_time_eq(pre.as_bytes(), given.as_bytes())
}

/// The password is set: the new recovery code, shown once with a download.
fn new_code_page(state: &AppState, l: Lang, heading: &str, code: &str) -> HttpResponse {
    page(
        state,
        l,
        &l.t("recovery-title"),
        nav(l),
        html! {
            h1 { (l.t(heading)) }
            h2 { (l.t("recovery-title")) }
            p { (l.t("recover-new-code")) }
            p { code #recovery { (code) } }
            p { a href=(download_link(l, code)) download="guise-recovery-code.txt" { (l.t("recovery-download")) } }
            p { a.button href="/auth/sign_in" { (l.t("sign-in")) } }
        },
    )
}

/// The recovery code as a text file to download (a `data:` link: nothing
/// is stored or served).
fn download_link(l: Lang, code: &str) -> String {
    super::text_download(&format!("{}\n{}\n", l.t("recovery-title"), code))
}

/// Losing both the password and the recovery code: a reset link by email,
/// after saying what it costs.
pub(crate) async fn reset_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let l = lang(&req);
    let csrf = pre_csrf(&req);
    let resp = reset_request_form(&state, l, &csrf, None);
    with_pre_csrf(&state, resp, &csrf)
}

fn reset_request_form(state: &AppState, l: Lang, csrf: &str, notice: Option<&str>) -> HttpResponse {
    let days = state
        .config
        .instance
        .anonymous_reset_cooldown_days
        .to_string();
    page(
        state,
        l,
        &l.t("reset"),
        nav(l),
        html! {
            h1 { (l.t("reset")) }
            p { (l.t_with("reset-costs", &[("days", &days)])) }
            p { a href="/auth/recover" { (l.t("reset-have-code")) } }
            @if let Some(n) = notice { p role="status" { (n) } }
            @if crate::mail::enabled(&state.config) {
                form method="post" action="/auth/password/reset" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="email" { (l.t("sign-up-email")) }
                    input #email type="email" name="email" autocomplete="email" required autofocus;
                    button type="submit" { (l.t("reset-send")) }
                }
            } @else {
                p { (l.t("reset-no-mail")) }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct ResetRequest {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

pub(crate) async fn reset_request(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<ResetRequest>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !pre_matches(&pre, &f.csrf) {
        let csrf = pre_csrf(&req);
        let resp = reset_request_form(&state, l, &csrf, Some(&l.t("form-expired")));
        return Ok(with_pre_csrf(&state, resp, &csrf));
    }
    if !crate::mail::enabled(&state.config) {
        return Ok(reset_request_form(&state, l, &pre, None));
    }
    // Counted like a password attempt, per address and per email.
    let _permit = state
        .passwords
        .attempt_from(&req, f.email.trim())
        .await
        .map_err(crate::error::ApiError::password_guard)?;
    let mut conn = state.db.conn().await?;
    if let Some((account, token)) =
        guise_core::accounts::request_reset(&mut conn, state.clock.as_ref(), &f.email).await?
    {
        let link = format!(
            "{}/auth/password/edit?token={}",
            state.base_url,
            url::form_urlencoded::byte_serialize(token.expose().as_bytes()).collect::<String>()
        );
        let name = &state.config.instance.name;
        let body = format!(
            "Someone (we hope you) asked to reset the password of your login on {name}.\n\nThis costs the tie to your anonymous posts: they stay online, but no one, you included, can reach them as yours again; the page the link opens says so before anything happens. If you still have your recovery code, use it instead: {base}/auth/recover\n\nThe link works until the end of tomorrow:\n\n{link}\n\nIf it was not you, ignore this message: nothing changes without the link.\n",
            base = state.base_url
        );
        if let Err(e) = crate::mail::send(
            &state.config,
            &account.email,
            &format!("Reset your password on {name}"),
            &body,
        )
        .await
        {
            tracing::warn!(error = %e, "sending a password-reset link");
        }
    }
    // The same answer whether a login has that address or not.
    Ok(reset_request_form(
        &state,
        l,
        &pre,
        Some(&l.t("reset-sent")),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ResetToken {
    #[serde(default)]
    token: String,
}

/// The emailed link: what the reset costs, then the new password.
pub(crate) async fn reset_edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ResetToken>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let mut conn = state.db.conn().await?;
    let valid = guise_core::accounts::reset_link_login(&mut conn, state.clock.as_ref(), &q.token)
        .await?
        .is_some();
    let csrf = pre_csrf(&req);
    let resp = reset_edit_form(&state, l, &csrf, &q.token, valid, None);
    Ok(with_pre_csrf(&state, resp, &csrf))
}

fn reset_edit_form(
    state: &AppState,
    l: Lang,
    csrf: &str,
    token: &str,
    valid: bool,
    error: Option<&str>,
) -> HttpResponse {
    let days = state
        .config
        .instance
        .anonymous_reset_cooldown_days
        .to_string();
    page(
        state,
        l,
        &l.t("reset"),
        nav(l),
        html! {
            h1 { (l.t("reset")) }
            @if !valid {
                p.error role="alert" { (l.t("reset-link-invalid")) }
                p { a href="/auth/password/reset" { (l.t("reset-link")) } }
            } @else {
                p { strong { (l.t_with("reset-costs", &[("days", &days)])) } }
                p { a href="/auth/recover" { (l.t("reset-have-code")) } }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/auth/password/edit" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="token" value=(token);
                    label for="password" { (l.t("password-new")) }
                    input #password type="password" name="password" autocomplete="new-password" minlength="8" required;
                    label.choice {
                        input type="checkbox" name="confirm" value="yes" required;
                        " " (l.t("reset-confirm"))
                    }
                    button.danger type="submit" { (l.t("reset-do")) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub(crate) async fn reset_edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: web::Form<ResetForm>,
) -> ApiResult<HttpResponse> {
    let l = lang(&req);
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !pre_matches(&pre, &f.csrf) {
        let csrf = pre_csrf(&req);
        let resp = reset_edit_form(&state, l, &csrf, &f.token, true, Some(&l.t("form-expired")));
        return Ok(with_pre_csrf(&state, resp, &csrf));
    }
    if f.confirm != "yes" {
        let mut resp =
            reset_edit_form(&state, l, &pre, &f.token, true, Some(&l.t("reset-confirm")));
        *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let mut conn = state.db.conn().await?;
    let next = guise_core::accounts::reset_with_link(
        &mut conn,
        state.clock.as_ref(),
        &f.token,
        &f.password,
        state.config.instance.anonymous_reset_cooldown_days,
    )
    .await;
    let next = match next {
        Ok(n) => n,
        Err(guise_core::CoreError::NotFound) => {
            let mut resp = reset_edit_form(&state, l, &pre, &f.token, false, None);
            *resp.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
            return Ok(resp);
        }
        Err(e) => {
            let e: crate::error::ApiError = e.into();
            let mut resp = reset_edit_form(&state, l, &pre, &f.token, true, Some(&e.message));
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    Ok(new_code_page(&state, l, "reset-done", next.expose()))
}
