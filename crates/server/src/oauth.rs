//! OAuth 2: the authorize pages (sign in, then pick the face the token acts
//! as), the token endpoint (authorization_code with PKCE, password,
//! client_credentials, refresh_token), revocation and server metadata.

use crate::error::{ApiError, ApiResult};
use crate::extract::{collect_params, de};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use guise_core::oauth::{self, Binding, GrantError, Scopes, OOB_REDIRECT};
use guise_core::text::escape;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
struct AuthorizeParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    response_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    code_challenge: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    code_challenge_method: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    login: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
    /// The second factor: a TOTP code or a recovery code.
    #[serde(default, deserialize_with = "de::opt_string")]
    otp: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pending: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    face: Option<String>,
}

fn page(title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>{t} — Guise</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
label{{display:block;margin:.6rem 0}}input[type=text],input[type=password]{{width:100%;padding:.4rem}}button{{padding:.5rem 1rem;margin-top:.8rem}}\
.face{{border:1px solid #ccc;border-radius:6px;padding:.5rem;margin:.4rem 0}}.err{{color:#a00}}</style></head>\
<body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .body(html)
}

fn hidden(name: &str, value: &Option<String>) -> String {
    match value {
        Some(v) => format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(v)
        ),
        None => String::new(),
    }
}

/// Validated authorization request: the app, its redirect and the scopes asked.
struct Checked {
    app: guise_core::models::App,
    redirect_uri: String,
    scopes: Scopes,
}

async fn check_request(state: &AppState, p: &AuthorizeParams) -> ApiResult<Checked> {
    if p.response_type.as_deref().unwrap_or("code") != "code" {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "Only response_type=code is supported",
        ));
    }
    let client_id = p.client_id.as_deref().ok_or_else(|| {
        ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is missing",
        )
    })?;
    let mut conn = state.db.conn().await?;
    let app = oauth::app_by_client_id(&mut conn, client_id)
        .await?
        .ok_or_else(|| {
            ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed due to unknown client",
            )
        })?;
    let redirect_uri = match &p.redirect_uri {
        Some(u) => u.clone(),
        None => app
            .redirect_uris
            .lines()
            .next()
            .unwrap_or(OOB_REDIRECT)
            .to_owned(),
    };
    if !oauth::redirect_allowed(&app, &redirect_uri) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_redirect_uri",
            "The redirect uri included is not valid",
        ));
    }
    let scopes = Scopes::parse(p.scope.as_deref().unwrap_or("")).map_err(|_| {
        ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed",
        )
    })?;
    if !scopes.within(&oauth::app_scopes(&app)) {
        return Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid, unknown, or malformed",
        ));
    }
    if let Some(m) = &p.code_challenge_method {
        if m != "S256" {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Only the S256 code challenge method is supported",
            ));
        }
    }
    Ok(Checked {
        app,
        redirect_uri,
        scopes,
    })
}

fn sign_in_form(p: &AuthorizeParams, c: &Checked, error: Option<&str>) -> HttpResponse {
    let scopes: Vec<String> = c.scopes.iter().map(escape).collect();
    let body = format!(
        "<p><strong>{app}</strong> asks to use your account with: {scopes}.</p>{err}\
<form method=\"post\" action=\"/oauth/authorize\">{h}\
<label>Email or username <input type=\"text\" name=\"login\" autocomplete=\"username\" required></label>\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
<label>Two-factor code (if you turned it on) <input type=\"text\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label>\
<button type=\"submit\">Sign in</button></form>",
        app = escape(&c.app.name),
        scopes = scopes.join(", "),
        err = error.map(|e| format!("<p class=\"err\">{}</p>", escape(e))).unwrap_or_default(),
        h = [
            hidden("response_type", &Some("code".into())),
            hidden("client_id", &p.client_id),
            hidden("redirect_uri", &Some(c.redirect_uri.clone())),
            hidden("scope", &Some(c.scopes.as_string())),
            hidden("state", &p.state),
            hidden("code_challenge", &p.code_challenge),
            hidden("code_challenge_method", &p.code_challenge_method),
        ]
        .concat()
    );
    page("Sign in", &body)
}

async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = params::<AuthorizeParams>(&req, &state, payload).await?;
    let c = check_request(&state, &p).await?;
    Ok(sign_in_form(&p, &c, None))
}

async fn params<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> ApiResult<T> {
    let mut inner: Payload = payload.into_inner();
    let map = collect_params(req, &mut inner, state.config.server.max_body_bytes).await?;
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = params::<AuthorizeParams>(&req, &state, payload).await?;
    let c = check_request(&state, &p).await?;
    let mut conn = state.db.conn().await?;
    let clock = state.clock.as_ref();

    // Step 2: the face was picked; bind the code and send the user back.
    if let (Some(pending), Some(face)) = (&p.pending, &p.face) {
        let info = oauth::pending_code(&mut conn, clock, pending).await?;
        let Some(info) = info.filter(|i| i.app_id == c.app.id && i.redirect_uri == c.redirect_uri)
        else {
            return Ok(sign_in_form(
                &p,
                &c,
                Some("That sign-in expired. Please sign in again."),
            ));
        };
        let _ = info;
        let Some(binding) = parse_binding(face) else {
            return Ok(sign_in_form(&p, &c, Some("Pick one of your faces.")));
        };
        if binding == Binding::Anonymous
            && !state
                .rules()
                .tiers_enabled
                .contains(&guise_policy::Tier::Anonymous)
        {
            return Ok(sign_in_form(
                &p,
                &c,
                Some("Anonymous posting is not offered here."),
            ));
        }
        oauth::bind_code(&mut conn, clock, pending, binding).await?;
        if c.redirect_uri == OOB_REDIRECT {
            let body = format!(
                "<p>Copy this authorization code and paste it into the app:</p><p><code id=\"code\">{}</code></p>",
                escape(pending)
            );
            return Ok(page("Authorization code", &body));
        }
        let mut target = url::Url::parse(&c.redirect_uri)
            .map_err(|_| ApiError::bad_request("Invalid redirect_uri"))?;
        target.query_pairs_mut().append_pair("code", pending);
        if let Some(s) = &p.state {
            target.query_pairs_mut().append_pair("state", s);
        }
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, target.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }

    // Step 1: sign in.
    let (Some(login), Some(password)) = (&p.login, &p.password) else {
        return Ok(sign_in_form(&p, &c, None));
    };
    let permit = match state.passwords.attempt_from(&req, login).await {
        Ok(p) => p,
        Err(r) => {
            let e = ApiError::password_guard(r);
            let mut page = sign_in_form(&p, &c, Some(&e.message));
            *page.status_mut() = e.status;
            return Ok(page);
        }
    };
    let account = guise_core::accounts::authenticate(&mut conn, login, password).await?;
    let Some(account) = account else {
        return Ok(sign_in_form(
            &p,
            &c,
            Some("Invalid email, username or password."),
        ));
    };
    if let Err(e) = guise_core::accounts::ensure_confirmed(&account) {
        return Ok(sign_in_form(&p, &c, Some(&ApiError::from(e).message)));
    }
    match crate::two_factor::check(&state, &mut conn, &account, p.otp.as_deref()).await? {
        crate::two_factor::Outcome::Passed => {}
        crate::two_factor::Outcome::Needed => {
            return Ok(sign_in_form(
                &p,
                &c,
                Some("This login has two-factor sign-in on: enter your password again with the code from your authenticator app (or a recovery code)."),
            ));
        }
        crate::two_factor::Outcome::Wrong => {
            return Ok(sign_in_form(
                &p,
                &c,
                Some("That two-factor code is wrong or was already used."),
            ));
        }
    }
    // The password opens k_anon now; the code carries it until the face is picked.
    let (k_anon, new_recovery) =
        guise_core::accounts::unlock_k_anon(&mut conn, account.id, password).await?;
    drop(permit);
    let code = oauth::create_code(
        &mut conn,
        clock,
        oauth::PendingCode {
            app_id: c.app.id,
            account_id: account.id,
            epoch: account.token_epoch,
            scopes: &c.scopes,
            redirect_uri: &c.redirect_uri,
            code_challenge: p.code_challenge.as_deref(),
            k_anon: Some(&k_anon),
        },
    )
    .await?;
    let faces = guise_core::accounts::faces_of(&mut conn, account.id).await?;
    let mut choices = String::new();
    for (i, f) in faces.iter().enumerate() {
        let tier = match f.tier() {
            guise_policy::Tier::RealName => "real name",
            guise_policy::Tier::Pseudonymous => "pseudonym",
            guise_policy::Tier::Anonymous => "anonymous",
        };
        choices.push_str(&format!(
            "<label class=\"face\"><input type=\"radio\" name=\"face\" value=\"{id}\"{checked}> <strong>{name}</strong> @{handle} <small>({tier})</small></label>",
            id = f.id,
            checked = if i == 0 { " checked" } else { "" },
            name = escape(if f.display_name.is_empty() { &f.handle } else { &f.display_name }),
            handle = escape(&f.handle),
        ));
    }
    if state
        .rules()
        .tiers_enabled
        .contains(&guise_policy::Tier::Anonymous)
    {
        choices.push_str(
            "<label class=\"face\"><input type=\"radio\" name=\"face\" value=\"anonymous\"> <strong>Anonymous</strong> \
<small>posts, replies and favourites through a new anonymous face per thread; cannot follow</small></label>",
        );
    }
    choices.push_str(
        "<label class=\"face\"><input type=\"radio\" name=\"face\" value=\"all\"> <strong>All my faces</strong> \
<small>for apps that know Guise: pick the face per post</small></label>",
    );
    let recovery = match new_recovery {
        Some(code) => format!(
            "<p class=\"err\">Your anonymity recovery code (shown once, keep it safe): <code>{}</code></p>",
            escape(code.expose())
        ),
        None => String::new(),
    };
    let body = format!(
        "{recovery}<p>Which face should <strong>{app}</strong> act as? The app will be able to act only as the face you pick.</p>\
<form method=\"post\" action=\"/oauth/authorize\">{h}{choices}<button type=\"submit\">Authorize</button></form>",
        app = escape(&c.app.name),
        h = [
            hidden("response_type", &Some("code".into())),
            hidden("client_id", &p.client_id),
            hidden("redirect_uri", &Some(c.redirect_uri.clone())),
            hidden("scope", &Some(c.scopes.as_string())),
            hidden("state", &p.state),
            hidden("code_challenge", &p.code_challenge),
            hidden("code_challenge_method", &p.code_challenge_method),
            hidden("pending", &Some(code.expose().to_owned())),
        ]
        .concat()
    );
    Ok(page("Pick a face", &body))
}

/// `anonymous`, `all`, or a face id.
fn parse_binding(face: &str) -> Option<Binding> {
    match face {
        "anonymous" => Some(Binding::Anonymous),
        "all" => Some(Binding::All),
        id => id.parse::<i64>().ok().map(Binding::Face),
    }
}

#[derive(Debug, Default, Deserialize)]
struct TokenParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    grant_type: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    client_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    client_secret: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    code: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    redirect_uri: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    code_verifier: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    password: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    refresh_token: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    token: Option<String>,
    /// Guise: what a password-grant token acts as: a face id, `anonymous` or `all`.
    #[serde(default, deserialize_with = "de::opt_string")]
    face: Option<String>,
    /// Guise: the second factor for a login that has two-factor sign-in on.
    #[serde(default, deserialize_with = "de::opt_string")]
    otp: Option<String>,
}

fn invalid_client() -> ApiError {
    ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
}

fn invalid_grant() -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.")
}

/// Client credentials from the body or an HTTP Basic header.
fn client_credentials(req: &HttpRequest, p: &TokenParams) -> (Option<String>, Option<String>) {
    if let Some(basic) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
    {
        if let Some((id, secret)) = basic.split_once(':') {
            return (Some(id.to_owned()), Some(secret.to_owned()));
        }
    }
    (p.client_id.clone(), p.client_secret.clone())
}

fn grant_err(e: GrantError) -> ApiError {
    match e {
        GrantError::InvalidGrant => invalid_grant(),
        GrantError::InvalidClient => invalid_client(),
        GrantError::Core(e) => e.into(),
    }
}

/// A token as `/oauth/token` answers it; `extra` fields are added (the
/// password change says what it did).
pub(crate) fn token_response(
    state: &AppState,
    t: &oauth::IssuedToken,
    extra: serde_json::Map<String, serde_json::Value>,
) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert("access_token".into(), json!(t.access.expose()));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("scope".into(), json!(t.session.scopes));
    body.insert("created_at".into(), json!(state.clock.now().timestamp()));
    if t.session.has_refresh {
        body.insert("refresh_token".into(), json!(t.refresh.expose()));
    }
    body.extend(extra);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = params::<TokenParams>(&req, &state, payload).await?;
    let (client_id, client_secret) = client_credentials(&req, &p);
    let client_id = client_id.ok_or_else(invalid_client)?;
    let mut conn = state.db.conn().await?;
    let clock = state.clock.as_ref();
    let app = oauth::app_by_client_id(&mut conn, &client_id)
        .await?
        .ok_or_else(invalid_client)?;
    let secret_ok = client_secret
        .as_deref()
        .is_some_and(|s| oauth::client_secret_matches(&app, s));
    let grant = p.grant_type.as_deref().unwrap_or("");
    // A public client may omit its secret only when it proves PKCE.
    let pkce_only =
        grant == "authorization_code" && client_secret.is_none() && p.code_verifier.is_some();
    if !secret_ok && !pkce_only {
        return Err(invalid_client());
    }
    let asked_scopes = |fallback: &str| -> ApiResult<Scopes> {
        let s = Scopes::parse(p.scope.as_deref().unwrap_or(fallback)).map_err(|_| {
            ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            )
        })?;
        if !s.within(&oauth::app_scopes(&app)) {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            ));
        }
        Ok(s)
    };
    let issued = match grant {
        "authorization_code" => {
            let code = p.code.as_deref().ok_or_else(invalid_grant)?;
            let redirect = p
                .redirect_uri
                .clone()
                .unwrap_or_else(|| app.redirect_uris.lines().next().unwrap_or("").to_owned());
            oauth::exchange_code(
                &mut conn,
                clock,
                &app,
                secret_ok,
                code,
                &redirect,
                p.code_verifier.as_deref(),
            )
            .await
            .map_err(grant_err)?
        }
        "password" => {
            let scopes = asked_scopes("read")?;
            let (Some(user), Some(password)) = (&p.username, &p.password) else {
                return Err(invalid_grant());
            };
            let permit = state
                .passwords
                .attempt_from(&req, user)
                .await
                .map_err(ApiError::password_guard)?;
            let account = guise_core::accounts::authenticate(&mut conn, user, password)
                .await?
                .ok_or_else(invalid_grant)?;
            guise_core::accounts::ensure_confirmed(&account)?;
            match crate::two_factor::check(&state, &mut conn, &account, p.otp.as_deref()).await? {
                crate::two_factor::Outcome::Passed => {}
                crate::two_factor::Outcome::Needed => {
                    return Err(ApiError::oauth(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "Two-factor sign-in is on for this login: pass the code from the authenticator app (or a recovery code) as otp",
                    ))
                }
                crate::two_factor::Outcome::Wrong => {
                    return Err(ApiError::oauth(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The two-factor code is wrong or was already used",
                    ))
                }
            }
            let not_yours =
                || ApiError::unprocessable("Validation failed: face is not one of your faces");
            let binding = match p.face.as_deref() {
                None | Some("") => {
                    let faces = guise_core::accounts::faces_of(&mut conn, account.id).await?;
                    Binding::Face(faces.first().map(|f| f.id).ok_or_else(not_yours)?)
                }
                Some(f) => parse_binding(f).ok_or_else(not_yours)?,
            };
            if binding == Binding::Anonymous
                && !state
                    .rules()
                    .tiers_enabled
                    .contains(&guise_policy::Tier::Anonymous)
            {
                return Err(ApiError::unprocessable(
                    "Validation failed: anonymous posting is not offered here",
                ));
            }
            // Every token gets the key at hand, so that its owner can list
            // and revoke it later; only "Anonymous" and "All my faces"
            // tokens carry it themselves.
            let k_anon = guise_core::accounts::unlock_k_anon(&mut conn, account.id, password)
                .await?
                .0;
            drop(permit);
            let k_anon = Some(k_anon);
            oauth::issue_token(
                &mut conn,
                clock,
                app.id,
                Some(oauth::Grant {
                    account_id: account.id,
                    epoch: account.token_epoch,
                    binding,
                }),
                &scopes,
                k_anon.as_ref(),
            )
            .await
            .map_err(|e| match e {
                guise_core::CoreError::Invalid { .. } => not_yours(),
                e => e.into(),
            })?
        }
        "client_credentials" => {
            let scopes = asked_scopes("read")?;
            oauth::issue_token(&mut conn, clock, app.id, None, &scopes, None).await?
        }
        "refresh_token" => {
            let rt = p.refresh_token.as_deref().ok_or_else(invalid_grant)?;
            oauth::refresh(&mut conn, clock, &app, rt)
                .await
                .map_err(grant_err)?
        }
        _ => {
            return Err(ApiError::oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            ));
        }
    };
    Ok(token_response(&state, &issued, serde_json::Map::new()))
}

async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let p = params::<TokenParams>(&req, &state, payload).await?;
    let (client_id, client_secret) = client_credentials(&req, &p);
    let mut conn = state.db.conn().await?;
    let app = match client_id {
        Some(id) => oauth::app_by_client_id(&mut conn, &id).await?,
        None => None,
    };
    let app = app.filter(|a| {
        client_secret
            .as_deref()
            .is_some_and(|s| oauth::client_secret_matches(a, s))
    });
    let Some(app) = app else {
        return Err(ApiError::oauth(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "You are not authorized to revoke this token",
        ));
    };
    if let Some(t) = &p.token {
        oauth::revoke(&mut conn, &app, t).await?;
    }
    Ok(HttpResponse::Ok().json(json!({})))
}

async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    let b = &state.base_url;
    HttpResponse::Ok().json(json!({
        "issuer": format!("{b}/"),
        "service_documentation": "https://docs.joinmastodon.org/",
        "authorization_endpoint": format!("{b}/oauth/authorize"),
        "token_endpoint": format!("{b}/oauth/token"),
        "app_registration_endpoint": format!("{b}/api/v1/apps"),
        "revocation_endpoint": format!("{b}/oauth/revoke"),
        "scopes_supported": ["read", "write", "follow", "push", "profile",
            "read:accounts", "read:blocks", "read:bookmarks", "read:favourites", "read:filters", "read:follows",
            "read:lists", "read:mutes", "read:notifications", "read:search", "read:statuses",
            "write:accounts", "write:blocks", "write:bookmarks", "write:conversations", "write:favourites",
            "write:filters", "write:follows", "write:lists", "write:media", "write:mutes",
            "write:notifications", "write:reports", "write:statuses",
            // The admin scopes whose endpoints exist (the others are
            // accepted, as Mastodon's, but guard nothing yet).
            "admin:read", "admin:write",
            "admin:read:accounts", "admin:read:reports", "admin:read:domain_allows", "admin:read:domain_blocks", "admin:read:email_domain_blocks", "admin:read:ip_blocks",
            "admin:write:accounts", "admin:write:reports", "admin:write:domain_allows", "admin:write:domain_blocks", "admin:write:email_domain_blocks", "admin:write:ip_blocks"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "password", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"]
    }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize_get))
        .route("/oauth/authorize", web::post().to(authorize_post))
        .route("/oauth/token", web::post().to(token))
        .route("/oauth/revoke", web::post().to(revoke))
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(metadata),
        );
}
