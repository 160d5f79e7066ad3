//! Web sessions: sign-in, sign-out, the session cookie and CSRF tokens.
//!
//! A session is an "All my faces" token of the built-in "Guise web" app,
//! issued on the password (as the password grant does, under the same
//! sign-in limits), kept only in the browser's `HttpOnly` cookie. The
//! database holds the token row as it holds any (sealed); signing out
//! revokes it.

use super::i18n::Lang;
use super::{html_response, lang, page, see_other};
use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::oauth::{self, Binding, Grant, Scopes};
use maud::{html, Markup};
use serde::Deserialize;

/// The session cookie: the raw token.
pub(crate) const SESSION: &str = "guise_session";
/// The persistent face a browser acts as, when not the first.
pub(crate) const ACTING: &str = "guise_face";
/// Before sign-in: a random value the sign-in form must echo.
pub(crate) const PRE_CSRF: &str = "guise_csrf";
/// What a web session may do.
const SCOPES: &str = "read write follow push";
/// How long the cookie lasts (the token itself does not expire).
const MAX_AGE_SECS: i64 = 30 * 24 * 3600;

/// A signed-in browser.
pub(crate) struct WebSession {
    pub auth: Auth,
    pub csrf: String,
    pub raw: String,
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Secure` over https.
pub(crate) fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.config.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// The CSRF token of a session: a MAC under a key only its raw token
/// yields (the database never holds it).
fn csrf_of(auth: &Auth) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&auth.media_key) else {
        return String::new();
    };
    mac.update(b"guise web csrf");
    hex::encode(mac.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && guise_core::secret::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// The browser's session, if it has a live one of the web app.
pub(crate) async fn current(req: &HttpRequest, state: &AppState) -> Option<WebSession> {
    let raw = cookie(req, SESSION)?;
    let mut auth = crate::extract::authenticate(state, &raw).await.ok()?;
    let app_id = state.web_app_id().await.ok()?;
    if auth.session.app_id != app_id || auth.binding() != Some(Binding::All) {
        return None;
    }
    // The face the browser acts as (favourites, boosts, follows, reports,
    // votes, the home timeline): the one it chose, if still the login's.
    if let Some(chosen) = cookie(req, ACTING).and_then(|c| c.parse::<i64>().ok()) {
        if auth.face.as_ref().is_some_and(|f| f.id != chosen) {
            if let (Ok(mut conn), Ok(account)) = (state.db.conn().await, auth.account_id()) {
                if let Ok(faces) = guise_core::accounts::faces_of(&mut conn, account).await {
                    if let Some(f) = faces.into_iter().find(|f| f.id == chosen) {
                        auth.face = Some(f);
                    }
                }
            }
        }
    }
    Some(WebSession {
        csrf: csrf_of(&auth),
        auth,
        raw,
    })
}

impl WebSession {
    /// 403 unless `given` is this session's CSRF token.
    pub fn check(&self, given: &str) -> ApiResult<()> {
        if same(&self.csrf, given) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "This form has expired: reload the page and try again",
            ))
        }
    }

    /// The sign-out button, for every signed-in page.
    pub fn nav(&self, lang: Lang) -> Markup {
        html! {
            form method="post" action="/auth/sign_out" {
                input type="hidden" name="csrf" value=(self.csrf);
                button type="submit" { (lang.t("sign-out")) }
            }
        }
    }
}

fn sign_in_form(
    state: &AppState,
    l: Lang,
    csrf: &str,
    login: &str,
    error: Option<&str>,
) -> HttpResponse {
    page(
        state,
        l,
        &l.t("sign-in"),
        html! { a href="/auth/sign_in" { (l.t("sign-in")) } },
        html! {
            h1 { (l.t("sign-in")) }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            form method="post" action="/auth/sign_in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="login" { (l.t("sign-in-login")) }
                input #login type="text" name="login" value=(login) autocomplete="username" required autofocus;
                label for="password" { (l.t("sign-in-password")) }
                input #password type="password" name="password" autocomplete="current-password" required;
                label for="otp" { (l.t("sign-in-otp")) }
                input #otp type="text" name="otp" inputmode="numeric" autocomplete="one-time-code" aria-describedby="otp-hint";
                p.hint #otp-hint { (l.t("sign-in-otp-hint")) }
                button type="submit" { (l.t("sign-in")) }
            }
            p.hint { (l.t("sign-in-hint")) }
            p { a href="/auth/recover" { (l.t("recover-link")) } }
            @if state.live().policy.registrations_open {
                p { a href="/auth/sign_up" { (l.t("sign-up-instead")) } }
            }
        },
    )
}

pub(crate) async fn sign_in_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if current(&req, &state).await.is_some() {
        return see_other("/");
    }
    let csrf = cookie(&req, PRE_CSRF).unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()));
    let mut resp = sign_in_form(&state, lang(&req), &csrf, "", None);
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(&state, PRE_CSRF, &csrf, 3600)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
pub(crate) struct SignIn {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    otp: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignIn>,
) -> ApiResult<HttpResponse> {
    let f = form.into_inner();
    let l = lang(&req);
    let pre = cookie(&req, PRE_CSRF).unwrap_or_default();
    if !same(&pre, &f.csrf) {
        return Ok(sign_in_form(
            &state,
            l,
            &pre,
            &f.login,
            Some(&l.t("form-expired")),
        ));
    }
    let permit = match state.passwords.attempt_from(&req, &f.login).await {
        Ok(p) => p,
        Err(r) => {
            let e = ApiError::password_guard(r);
            let mut resp = sign_in_form(&state, l, &pre, &f.login, Some(&e.message));
            *resp.status_mut() = e.status;
            return Ok(resp);
        }
    };
    let mut conn = state.db.conn().await?;
    let Some(account) =
        guise_core::accounts::authenticate(&mut conn, &f.login, &f.password).await?
    else {
        let mut resp = sign_in_form(&state, l, &pre, &f.login, Some(&l.t("sign-in-invalid")));
        *resp.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        return Ok(resp);
    };
    if let Err(e) = guise_core::accounts::ensure_confirmed(&account) {
        let why = if account.confirmed {
            "sign-in-awaiting-approval"
        } else {
            "sign-in-unconfirmed"
        };
        let mut resp = sign_in_form(&state, l, &pre, &f.login, Some(&l.t(why)));
        *resp.status_mut() = ApiError::from(e).status;
        return Ok(resp);
    }
    let second = crate::two_factor::check(&state, &mut conn, &account, Some(&f.otp)).await?;
    let refused = match second {
        crate::two_factor::Outcome::Passed => None,
        crate::two_factor::Outcome::Needed => Some("sign-in-otp-needed"),
        crate::two_factor::Outcome::Wrong => Some("sign-in-otp-wrong"),
    };
    if let Some(why) = refused {
        let mut resp = sign_in_form(&state, l, &pre, &f.login, Some(&l.t(why)));
        *resp.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
        return Ok(resp);
    }
    let (k_anon, recovery) =
        guise_core::accounts::unlock_k_anon(&mut conn, account.id, &f.password).await?;
    drop(permit);
    let session_cookie =
        new_session(&state, &mut conn, account.id, account.token_epoch, &k_anon).await?;
    let mut resp = match recovery {
        // A login made before sealed anonymity gets its key now: its
        // recovery code is shown this once.
        Some(code) => page(
            &state,
            l,
            &l.t("recovery-title"),
            html! {},
            html! {
                h1 { (l.t("recovery-title")) }
                p { (l.t("recovery-body")) }
                p { code #recovery { (code.expose()) } }
                p { a href="/" { (l.t("recovery-continue")) } }
            },
        ),
        None => see_other("/"),
    };
    for c in [session_cookie, set_cookie(&state, PRE_CSRF, "", 0)] {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// A new session for the login (its token, issued as the password grant
/// does for "All my faces"): the `Set-Cookie` value that holds it.
pub(crate) async fn new_session(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    account_id: i64,
    epoch: i64,
    k_anon: &guise_core::seal::KAnon,
) -> ApiResult<String> {
    let app = oauth::web_app(conn, state.clock.as_ref()).await?;
    let issued = oauth::issue_token(
        conn,
        state.clock.as_ref(),
        app.id,
        Some(Grant {
            account_id,
            epoch,
            binding: Binding::All,
        }),
        &Scopes::parse(SCOPES)?,
        Some(k_anon),
    )
    .await?;
    Ok(set_cookie(
        state,
        SESSION,
        issued.access.expose(),
        MAX_AGE_SECS,
    ))
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfOnly>,
) -> ApiResult<HttpResponse> {
    let Some(s) = current(&req, &state).await else {
        return Ok(see_other("/"));
    };
    s.check(&form.csrf)?;
    let mut conn = state.db.conn().await?;
    let app = oauth::web_app(&mut conn, state.clock.as_ref()).await?;
    oauth::revoke(&mut conn, &app, &s.raw).await?;
    let mut resp = see_other("/");
    if let Ok(v) = header::HeaderValue::from_str(&set_cookie(&state, SESSION, "", 0)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// A refusal as a page (for form posts, which a browser shows).
pub(crate) fn refusal(state: &AppState, l: Lang, e: &ApiError) -> HttpResponse {
    let mut resp = html_response(html! {
        (maud::DOCTYPE)
        html lang=(l.tag()) {
            head { meta charset="utf-8"; title { (l.t("refused")) " · " (state.config.instance.name) } link rel="stylesheet" href="/static/guise.css"; }
            body { main #main { h1 { (l.t("refused")) } p.error role="alert" { (e.message) } p { a href="/" { (l.t("back")) } } } }
        }
    });
    *resp.status_mut() = e.status;
    resp
}
