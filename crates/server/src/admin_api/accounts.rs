//! Mastodon's admin accounts, on faces: list and find them (v1 and v2
//! filters), show one, disable and enable the login behind a persistent
//! face, approve or reject a sign-up waiting for approval. An admin sees the login (email, role) behind persistent faces; an
//! anonymous face names no login, so nobody — staff included — sees one.

use super::staff;
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::accounts::staff_role;
use crate::mastodon_api::{paginated, parse_id, types, PageParams};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::audit::{logged, Target};
use guise_core::models::{Account, Identity};
use guise_core::moderation::FaceFilter;
use guise_policy::Tier;
use serde::Deserialize;
use serde_json::{json, Value};

/// Mastodon's `Admin::Account` for `face`, as `viewer` (staff) may see it.
pub async fn admin_account(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    face: &Identity,
    viewer: &Account,
) -> ApiResult<Value> {
    let login = match face.account_id {
        Some(id) if face.tier() != Tier::Anonymous => {
            Some(guise_core::accounts::get_account(conn, id).await?)
        }
        _ => None,
    };
    let account = types::account(state, conn, face).await?;
    let suspended_until = guise_core::moderation::suspension_end(conn, face.id).await?;
    let sensitized = guise_core::moderation::is_sensitized(conn, face.id).await?;
    let role = staff_role(login.as_ref().map_or("", |l| l.role.as_str()));
    // What a sign-up waiting for approval wrote (staff read it to decide).
    let invite_request = match &login {
        Some(l) if !l.approved => guise_core::accounts::approval_state(conn, l.id).await?.1,
        _ => None,
    };
    Ok(json!({
        "id": face.id.to_string(),
        "username": face.handle,
        "domain": face.domain,
        "created_at": types::iso_date(face.created_on),
        // The email only to admins (Mastodon's "Manage User Access").
        "email": login.as_ref().filter(|_| viewer.is_admin()).map(|l| l.email.clone()),
        // Guise keeps no IP address of anyone.
        "ip": null,
        "ips": [],
        "locale": "",
        "invite_request": invite_request,
        "role": role,
        "confirmed": login.as_ref().is_some_and(|l| l.confirmed),
        // Remote and anonymous faces name no login: nothing of theirs waits.
        "approved": login.as_ref().is_none_or(|l| l.approved),
        "disabled": login.as_ref().is_some_and(|l| l.disabled),
        "silenced": face.silenced,
        "suspended": face.suspended,
        // Guise: the day a suspension lapses (null: until lifted).
        "suspended_until": suspended_until.map(|d| d.to_string()),
        "sensitized": sensitized,
        "account": account,
    }))
}

async fn admin_accounts(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    faces: &[Identity],
    viewer: &Account,
) -> ApiResult<Vec<Value>> {
    let mut out = Vec::with_capacity(faces.len());
    for f in faces {
        out.push(admin_account(state, conn, f, viewer).await?);
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
struct V1Filters {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::opt_bool")]
    local: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    remote: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    by_domain: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    active: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    pending: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    disabled: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    silenced: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    suspended: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    staff: Option<bool>,
    // v2's names.
    #[serde(default, deserialize_with = "de::opt_string")]
    origin: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    permissions: Option<String>,
}

impl V1Filters {
    fn v1(&self) -> FaceFilter {
        let status = [
            (self.pending, "pending"),
            (self.disabled, "disabled"),
            (self.silenced, "silenced"),
            (self.suspended, "suspended"),
            (self.active, "active"),
        ]
        .into_iter()
        .find(|(on, _)| *on == Some(true))
        .map(|(_, s)| s.to_owned());
        FaceFilter {
            local: match (self.local, self.remote) {
                (Some(true), _) => Some(true),
                (_, Some(true)) => Some(false),
                _ => None,
            },
            domain: self.by_domain.clone(),
            status,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            staff: self.staff == Some(true),
        }
    }

    fn v2(&self) -> ApiResult<FaceFilter> {
        let local = match self.origin.as_deref() {
            None | Some("") => None,
            Some("local") => Some(true),
            Some("remote") => Some(false),
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "Validation failed: origin is not one of local, remote",
                ))
            }
        };
        Ok(FaceFilter {
            local,
            domain: self.by_domain.clone(),
            status: self.status.clone().filter(|s| !s.is_empty()),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            email: self.email.clone(),
            staff: self.permissions.as_deref() == Some("staff"),
        })
    }
}

async fn list(
    req: &HttpRequest,
    state: &AppState,
    auth: &Auth,
    page: &PageParams,
    filter: FaceFilter,
) -> ApiResult<HttpResponse> {
    let viewer = staff(state, auth, "admin:read:accounts").await?;
    if filter.email.is_some() && !viewer.is_admin() {
        return Err(ApiError::forbidden(
            "Only admins may look faces up by email",
        ));
    }
    let page = page.page(100, 200)?;
    let mut conn = state.db.conn().await?;
    let faces = guise_core::moderation::find_faces(&mut conn, &filter, &page).await?;
    let out = admin_accounts(state, &mut conn, &faces, &viewer).await?;
    let ids: Vec<i64> = faces.iter().map(|f| f.id).collect();
    Ok(paginated(req, state, &out, &ids))
}

async fn list_v1(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(f): Params<V1Filters>,
) -> ApiResult<HttpResponse> {
    list(&req, &state, &auth, &f.page, f.v1()).await
}

async fn list_v2(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(f): Params<V1Filters>,
) -> ApiResult<HttpResponse> {
    let filter = f.v2()?;
    list(&req, &state, &auth, &f.page, filter).await
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:read:accounts").await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, parse_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &mut conn, &face, &viewer).await?))
}

/// The login behind a persistent local face, for disabling it.
fn login_of(face: &Identity) -> ApiResult<i64> {
    match face.account_id {
        Some(id) if face.tier() != Tier::Anonymous => Ok(id),
        _ => Err(ApiError::unprocessable(
            "Validation failed: this face names no login here (an anonymous or remote face); suspend the face instead",
        )),
    }
}

/// Disables (or enables) the login behind a face: it cannot sign in, and
/// every token it had is dead. Logged against the login, not the face.
pub(super) async fn set_disabled(
    state: &AppState,
    staff: i64,
    face: i64,
    disabled: bool,
) -> ApiResult<Identity> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, face).await?;
    let login = login_of(&face)?;
    logged(&mut conn, clock, Some(staff), async |c| {
        guise_core::accounts::set_disabled(c, login, disabled).await?;
        let what = if disabled { "disable" } else { "enable" };
        Ok(((), what, Target::Login(login)))
    })
    .await?;
    Ok(face)
}

async fn enable(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write:accounts").await?;
    let face = set_disabled(&state, viewer.id, parse_id(&path)?, false).await?;
    let mut conn = state.db.conn().await?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &mut conn, &face, &viewer).await?))
}

/// `POST /api/v1/admin/accounts/:id/approve`: lets a sign-up waiting for
/// approval act (and tells it by mail, when the instance sends mail).
/// Refused (403, as Mastodon does) for a login that does not wait.
async fn approve(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write:accounts").await?;
    let face = parse_id(&path)?;
    decide_sign_up(&state, viewer.id, face, true).await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, face).await?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &mut conn, &face, &viewer).await?))
}

/// `POST /api/v1/admin/accounts/:id/reject`: deletes a sign-up waiting for
/// approval, with its faces. Refused (403) for a login that does not wait.
async fn reject(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:write:accounts").await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, parse_id(&path)?).await?;
    // What it was, answered once it is gone (as Mastodon does).
    let shown = admin_account(&state, &mut conn, &face, &viewer).await?;
    drop(conn);
    decide_sign_up(&state, viewer.id, face.id, false).await?;
    Ok(HttpResponse::Ok().json(shown))
}

/// Approves (telling the login by mail, when the instance sends mail) or
/// rejects (deleting it) the sign-up behind `face`, in the audit log as
/// `staff`'s. Refused (403) unless that login waits for approval. For the
/// admin API and the staff page alike.
pub(crate) async fn decide_sign_up(
    state: &AppState,
    staff: i64,
    face: i64,
    approve: bool,
) -> ApiResult<()> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, face).await?;
    let login = waiting_login(&mut conn, &face).await?;
    if !approve {
        let spread = chrono::Duration::seconds(state.config.instance.deletion_spread_secs.max(0));
        logged(&mut conn, clock, Some(staff), async |c| {
            guise_core::accounts::delete_account_as_staff(c, clock, login, spread).await?;
            Ok(((), "reject", Target::Login(login)))
        })
        .await?;
        return Ok(());
    }
    let email = logged(&mut conn, clock, Some(staff), async |c| {
        let email = guise_core::accounts::approve(c, login).await?;
        Ok((email, "approve", Target::Login(login)))
    })
    .await?;
    drop(conn);
    crate::mail::send_approved(&state.config, &email).await;
    Ok(())
}

/// The login behind `face` when it waits for approval; 403 otherwise.
async fn waiting_login(conn: &mut guise_core::DbConn, face: &Identity) -> ApiResult<i64> {
    let login = login_of(face)?;
    let (approved, _) = guise_core::accounts::approval_state(conn, login).await?;
    if approved {
        return Err(ApiError::forbidden(
            "This action is not allowed: the login is not waiting for approval",
        ));
    }
    Ok(login)
}

/// `DELETE /api/v1/admin/accounts/:id` (admins): deletes the login behind
/// a persistent face, with all its persistent faces. Its anonymous posts
/// stay — only its owner's key finds them. Not one's own login, nor a
/// staff login (change its role first).
async fn delete_login(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = super::admin(&state, &auth, "admin:write:accounts").await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, parse_id(&path)?).await?;
    let login = login_of(&face)?;
    let account = guise_core::accounts::get_account(&mut conn, login).await?;
    if account.id == viewer.id || account.is_staff() {
        return Err(ApiError::unprocessable(
            "Validation failed: staff logins are not deleted here (change the role first; never your own)",
        ));
    }
    let clock = state.clock.as_ref();
    let spread = chrono::Duration::seconds(state.config.instance.deletion_spread_secs.max(0));
    logged(&mut conn, clock, Some(viewer.id), async |c| {
        guise_core::accounts::delete_account_as_staff(c, clock, login, spread).await?;
        Ok(((), "delete_login", Target::Login(login)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({})))
}

#[derive(Deserialize)]
struct RoleParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    role: Option<String>,
}

/// Guise: `POST /api/v1/admin/guise/accounts/:id/role` (admins): gives the
/// login behind a persistent face the role `user`, `moderator` or `admin`
/// (never one's own: another admin does that). Answers the face's
/// `Admin::Account`.
async fn set_role(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<RoleParams>,
) -> ApiResult<HttpResponse> {
    use guise_core::accounts::Role;
    let viewer = super::admin(&state, &auth, "admin:write:accounts").await?;
    let role = match p.role.as_deref() {
        Some("user") => Role::User,
        Some("moderator") => Role::Moderator,
        Some("admin") => Role::Admin,
        _ => {
            return Err(ApiError::unprocessable(
                "Validation failed: role is not one of user, moderator, admin",
            ))
        }
    };
    let mut conn = state.db.conn().await?;
    let face = guise_core::accounts::get_identity(&mut conn, parse_id(&path)?).await?;
    let login = login_of(&face)?;
    if login == viewer.id {
        return Err(ApiError::unprocessable(
            "Validation failed: your own role is changed by another admin",
        ));
    }
    let clock = state.clock.as_ref();
    logged(&mut conn, clock, Some(viewer.id), async |c| {
        guise_core::accounts::set_role_of(c, login, role).await?;
        Ok(((), "set_role", Target::Login(login)))
    })
    .await?;
    Ok(HttpResponse::Ok().json(admin_account(&state, &mut conn, &face, &viewer).await?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/accounts", web::get().to(list_v1))
        .route("/api/v2/admin/accounts", web::get().to(list_v2))
        .route("/api/v1/admin/accounts/{id}", web::get().to(show))
        .route(
            "/api/v1/admin/accounts/{id}",
            web::delete().to(delete_login),
        )
        .route("/api/v1/admin/accounts/{id}/enable", web::post().to(enable))
        .route(
            "/api/v1/admin/accounts/{id}/approve",
            web::post().to(approve),
        )
        .route("/api/v1/admin/accounts/{id}/reject", web::post().to(reject))
        .route(
            "/api/v1/admin/guise/accounts/{id}/role",
            web::post().to(set_role),
        );
}
