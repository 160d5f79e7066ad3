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
    Ok(page(
        state,
        l,
        &l.t("account"),
        nav(l, s),
        html! {
            h1 { (l.t("account")) }
            @if let Some(n) = notice { p.notice-text role="status" { (n) } }
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
