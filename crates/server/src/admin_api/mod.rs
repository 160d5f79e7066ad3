//! The admin API: staff-only endpoints, role-checked against the token's
//! login. Moderation acts on faces, never on the accounts behind them.

use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::audit::{self, logged, Target};
use guise_core::models::Account;
use serde::Deserialize;
use serde_json::json;

pub(crate) mod accounts;
pub(crate) mod announcer;
pub(crate) mod domains;
pub(crate) mod held;
mod measures;
mod policy;
mod reports;
mod rules;

/// The token's login, if it is an admin (federation is theirs to change,
/// as Mastodon's "Manage Federation" permission is the admin role's).
async fn admin(state: &AppState, auth: &Auth, scope: &str) -> ApiResult<Account> {
    let account = staff(state, auth, scope).await?;
    if !account.is_admin() {
        return Err(ApiError::forbidden("This action is not allowed"));
    }
    Ok(account)
}

/// The token's login, if it is staff (moderator or admin).
async fn staff(state: &AppState, auth: &Auth, scope: &str) -> ApiResult<Account> {
    auth.require(scope)?;
    let id = auth
        .session
        .account_id()
        .ok_or_else(|| ApiError::forbidden("This action is not allowed"))?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, id).await?;
    if !account.is_staff() {
        return Err(ApiError::forbidden("This action is not allowed"));
    }
    if state.config.instance.staff_two_factor && account.otp_secret.is_none() {
        return Err(ApiError::forbidden(
            "Staff must turn on two-factor sign-in (on the web face's account page, /web/account) before using the admin API",
        ));
    }
    Ok(account)
}

#[derive(Deserialize)]
struct Queue {
    #[serde(default, deserialize_with = "de::opt_string")]
    status: Option<String>,
}

async fn real_names(
    state: web::Data<AppState>,
    auth: Auth,
    Params(q): Params<Queue>,
) -> ApiResult<HttpResponse> {
    staff(&state, &auth, "admin:read:accounts").await?;
    let status = q.status.unwrap_or_else(|| "pending".into());
    if !matches!(status.as_str(), "pending" | "verified" | "rejected") {
        return Err(ApiError::unprocessable(
            "Validation failed: status is not one of pending, verified, rejected",
        ));
    }
    let mut conn = state.db.conn().await?;
    let faces = guise_core::faces::real_names(&mut conn, &status).await?;
    let accounts = types::accounts(&state, &mut conn, &faces).await?;
    let out: Vec<_> = faces
        .iter()
        .zip(accounts)
        .map(|(f, a)| json!({ "account": a, "real_name_status": f.real_name_status }))
        .collect();
    Ok(ok(&out))
}

async fn decide(state: &AppState, auth: &Auth, id: &str, verify: bool) -> ApiResult<HttpResponse> {
    let staff = staff(state, auth, "admin:write:accounts").await?;
    let id = parse_id(id)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let face = logged(&mut conn, clock, Some(staff.id), async |c| {
        let face =
            guise_core::faces::decide_real_name(c, clock, id, verify, state.domain()).await?;
        let what = if verify {
            "verify_real_name"
        } else {
            "reject_real_name"
        };
        Ok((face, what, Target::Face(id)))
    })
    .await?;
    Ok(ok(
        &json!({ "account": types::account(state, &mut conn, &face).await?, "real_name_status": face.real_name_status }),
    ))
}

async fn verify(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    decide(&state, &auth, &path, true).await
}

async fn reject(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    decide(&state, &auth, &path, false).await
}

#[derive(Deserialize)]
struct Action {
    #[serde(rename = "type", default, deserialize_with = "de::opt_string")]
    kind: Option<String>,
    /// Resolves this report with the action (Mastodon's `report_id`).
    #[serde(default, deserialize_with = "de::opt_id")]
    report_id: Option<String>,
    /// Guise: a suspension lapses after this many seconds (rounded up to
    /// whole days); none: until lifted.
    #[serde(default, deserialize_with = "de::opt_i64")]
    duration: Option<i64>,
}

/// Mastodon's `POST /api/v1/admin/accounts/:id/action`, on a face:
/// `suspend`, `silence`, or `none` (lifts a suspension, as before). A
/// suspended anonymous face also holds back its hidden author.
async fn action(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(a): Params<Action>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write:accounts").await?;
    let face = parse_id(&path)?;
    match a.kind.as_deref() {
        Some("suspend") => {
            let until = match a.duration {
                None => None,
                Some(secs) if secs > 0 => {
                    let days = secs.div_euclid(86_400) + i64::from(secs.rem_euclid(86_400) > 0);
                    Some(state.clock.today() + chrono::Duration::days(days))
                }
                Some(_) => {
                    return Err(ApiError::unprocessable(
                        "Validation failed: duration must be above zero",
                    ))
                }
            };
            suspend_face_until(&state, staff.id, face, true, until).await?;
        }
        Some("none") => {
            suspend_face(&state, staff.id, face, false).await?;
        }
        Some("silence") => {
            silence_face(&state, staff.id, face, true).await?;
        }
        Some("disable") => {
            accounts::set_disabled(&state, staff.id, face, true).await?;
        }
        Some("sensitive") => {
            sensitize_face(&state, staff.id, face, true).await?;
        }
        other => {
            return Err(ApiError::unprocessable(format!(
                "Validation failed: type {other:?} is not one of suspend, silence, sensitive, disable, none"
            )))
        }
    }
    if let Some(report) = a.report_id.as_deref().filter(|r| !r.is_empty()) {
        reports::resolve_after_action(&state, staff.id, parse_id(report)?).await?;
    }
    Ok(ok(&json!({})))
}

async fn unsuspend(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write:accounts").await?;
    let face = suspend_face(&state, staff.id, parse_id(&path)?, false).await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&types::account(&state, &mut conn, &face).await?))
}

async fn unsilence(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write:accounts").await?;
    let face = silence_face(&state, staff.id, parse_id(&path)?, false).await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&types::account(&state, &mut conn, &face).await?))
}

async fn unsensitive(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write:accounts").await?;
    let face = sensitize_face(&state, staff.id, parse_id(&path)?, false).await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&types::account(&state, &mut conn, &face).await?))
}

/// Marks (or stops marking) a face's posts sensitive from now on, and
/// logs it.
async fn sensitize_face(
    state: &AppState,
    staff: i64,
    face: i64,
    on: bool,
) -> ApiResult<guise_core::models::Identity> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    Ok(logged(&mut conn, clock, Some(staff), async |c| {
        let f = guise_core::moderation::set_sensitized(c, face, on).await?;
        let what = if on { "sensitive" } else { "unsensitive" };
        Ok((f, what, Target::Face(face)))
    })
    .await?)
}

/// Silences (or lifts the silence of) a face, and logs it.
async fn silence_face(
    state: &AppState,
    staff: i64,
    face: i64,
    silence: bool,
) -> ApiResult<guise_core::models::Identity> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    Ok(logged(&mut conn, clock, Some(staff), async |c| {
        let f = guise_core::moderation::set_silenced(c, face, silence).await?;
        let what = if silence { "silence" } else { "unsilence" };
        Ok((f, what, Target::Face(face)))
    })
    .await?)
}

/// Suspends (or lifts the suspension of) a face, and logs it.
async fn suspend_face(
    state: &AppState,
    staff: i64,
    face: i64,
    suspend: bool,
) -> ApiResult<guise_core::models::Identity> {
    suspend_face_until(state, staff, face, suspend, None).await
}

/// `suspend_face`, lapsing on `until` (a day) when given.
async fn suspend_face_until(
    state: &AppState,
    staff: i64,
    face: i64,
    suspend: bool,
    until: Option<chrono::NaiveDate>,
) -> ApiResult<guise_core::models::Identity> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    Ok(logged(&mut conn, clock, Some(staff), async |c| {
        let f = guise_core::moderation::suspend_until(c, clock, face, suspend, until).await?;
        let what = if suspend { "suspend" } else { "unsuspend" };
        Ok((f, what, Target::Face(face)))
    })
    .await?)
}

/// Guise: delete any status as a moderator.
async fn delete_status(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        let s = guise_core::moderation::delete_status(c, clock, id).await?;
        let author = s.identity_id;
        Ok(((), "delete_status", Target::Status { id, author }))
    })
    .await?;
    Ok(ok(&json!({})))
}

// Announcements.

#[derive(Deserialize)]
struct AnnouncementParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    starts_at: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    ends_at: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    all_day: Option<bool>,
}

fn announcement_input(
    p: AnnouncementParams,
) -> ApiResult<guise_core::announcements::AnnouncementInput> {
    let time = |v: Option<String>, field: &str| -> ApiResult<_> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => crate::mastodon_api::scheduled::parse_time(s, field).map(Some),
        }
    };
    Ok(guise_core::announcements::AnnouncementInput {
        text: p.text.unwrap_or_default(),
        starts_at: time(p.starts_at, "starts_at")?,
        ends_at: time(p.ends_at, "ends_at")?,
        all_day: p.all_day.unwrap_or(false),
    })
}

async fn announcements(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    staff(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let all = guise_core::announcements::all(&mut conn).await?;
    let out: Vec<_> = all
        .iter()
        .map(|a| crate::mastodon_api::announcements::announcement_json(&state, a, None, &[]))
        .collect();
    Ok(ok(&out))
}

async fn announce(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<AnnouncementParams>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write").await?;
    let input = announcement_input(p)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let a = logged(&mut conn, clock, Some(staff.id), async |c| {
        let a = guise_core::announcements::create(c, clock, &input).await?;
        let target = Target::Announcement(a.id);
        Ok((a, "create_announcement", target))
    })
    .await?;
    Ok(ok(&crate::mastodon_api::announcements::announcement_json(
        &state,
        &a,
        None,
        &[],
    )))
}

async fn change_announcement(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<AnnouncementParams>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write").await?;
    let input = announcement_input(p)?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let a = logged(&mut conn, clock, Some(staff.id), async |c| {
        let a = guise_core::announcements::update(c, clock, id, &input).await?;
        Ok((a, "update_announcement", Target::Announcement(id)))
    })
    .await?;
    Ok(ok(&crate::mastodon_api::announcements::announcement_json(
        &state,
        &a,
        None,
        &[],
    )))
}

async fn withdraw_announcement(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = staff(&state, &auth, "admin:write").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        guise_core::announcements::delete(c, id).await?;
        Ok(((), "delete_announcement", Target::Announcement(id)))
    })
    .await?;
    Ok(ok(&json!({})))
}

#[derive(Deserialize)]
struct LogParams {
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
    /// Only days before this one (YYYY-MM-DD): the next page.
    #[serde(default, deserialize_with = "de::opt_string")]
    before: Option<String>,
}

/// Guise: the audit log, newest day first. Each line: the staff login (its
/// id and email), the action, what it acted on (and the face), the day.
async fn audit_log(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<LogParams>,
) -> ApiResult<HttpResponse> {
    staff(&state, &auth, "admin:read").await?;
    let limit = p.limit.unwrap_or(100).clamp(1, 500);
    let before = match p.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ApiError::unprocessable("Validation failed: before is not a date (YYYY-MM-DD)")
            })?,
        ),
    };
    let mut conn = state.db.conn().await?;
    let lines = audit::recent(&mut conn, limit, before).await?;
    let out: Vec<_> = lines
        .iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "account_id": e.staff_account_id.map(|a| a.to_string()),
                "account_email": e.staff_email,
                "action": e.action,
                "target_type": e.target_kind,
                "target_id": e.target_id.to_string(),
                "face_id": e.face_id.map(|f| f.to_string()),
                "created_on": e.logged_on.to_string(),
            })
        })
        .collect();
    Ok(ok(&out))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    domains::routes(cfg);
    accounts::routes(cfg);
    reports::routes(cfg);
    announcer::routes(cfg);
    held::routes(cfg);
    policy::routes(cfg);
    measures::routes(cfg);
    rules::routes(cfg);
    cfg.route("/api/v1/admin/guise/audit_log", web::get().to(audit_log));
    cfg.route("/api/v1/admin/accounts/{id}/action", web::post().to(action))
        .route(
            "/api/v1/admin/accounts/{id}/unsuspend",
            web::post().to(unsuspend),
        )
        .route(
            "/api/v1/admin/accounts/{id}/unsilence",
            web::post().to(unsilence),
        )
        .route(
            "/api/v1/admin/accounts/{id}/unsensitive",
            web::post().to(unsensitive),
        )
        .route(
            "/api/v1/admin/guise/statuses/{id}",
            web::delete().to(delete_status),
        );
    cfg.route("/api/v1/admin/guise/real_names", web::get().to(real_names))
        .route(
            "/api/v1/admin/guise/real_names/{id}/verify",
            web::post().to(verify),
        )
        .route(
            "/api/v1/admin/guise/real_names/{id}/reject",
            web::post().to(reject),
        );
    cfg.route(
        "/api/v1/admin/guise/announcements",
        web::get().to(announcements),
    )
    .route(
        "/api/v1/admin/guise/announcements",
        web::post().to(announce),
    )
    .route(
        "/api/v1/admin/guise/announcements/{id}",
        web::put().to(change_announcement),
    )
    .route(
        "/api/v1/admin/guise/announcements/{id}",
        web::delete().to(withdraw_announcement),
    );
}
