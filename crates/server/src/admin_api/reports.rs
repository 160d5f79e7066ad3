//! Mastodon's admin reports: the queue, one report, taking it on, resolving
//! and reopening it. Staff (moderators and admins) handle reports; a report
//! names faces — the reporter's and the reported one's — never the logins
//! behind anonymous ones.

use super::staff;
use crate::error::ApiResult;
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{paginated, parse_id, types, PageParams};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::audit::{logged, Target};
use guise_core::keepings::Report;
use guise_core::models::Account;
use guise_core::reports::{self, Filter, Handling};
use serde::Deserialize;
use serde_json::{json, Value};

/// A staff login as an `Admin::Account`: its first persistent face.
async fn staff_face(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    login: Option<i64>,
    viewer: &Account,
) -> ApiResult<Value> {
    let Some(login) = login else {
        return Ok(Value::Null);
    };
    match guise_core::accounts::faces_of(conn, login).await?.first() {
        Some(face) => super::accounts::admin_account(state, conn, face, viewer).await,
        None => Ok(Value::Null),
    }
}

/// Mastodon's `Admin::Report`.
async fn report_json(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    r: &Report,
    h: Handling,
    viewer: &Account,
) -> ApiResult<Value> {
    let reporter = match r.identity_id {
        Some(id) => {
            let face = guise_core::accounts::get_identity(conn, id).await?;
            super::accounts::admin_account(state, conn, &face, viewer).await?
        }
        None => Value::Null,
    };
    let target = guise_core::accounts::get_identity(conn, r.target_identity_id).await?;
    let target = super::accounts::admin_account(state, conn, &target, viewer).await?;
    let statuses = types::statuses_by_ids(state, conn, None, &r.status_ids).await?;
    Ok(json!({
        "id": r.id.to_string(),
        "action_taken": r.action_taken_at.is_some(),
        "action_taken_at": r.action_taken_at.map(types::iso),
        "category": r.category,
        "comment": r.comment,
        "forwarded": r.forwarded,
        "created_at": types::iso(r.created_at),
        "updated_at": types::iso(r.action_taken_at.unwrap_or(r.created_at)),
        "account": reporter,
        "target_account": target,
        "assigned_account": staff_face(state, conn, h.assigned, viewer).await?,
        "action_taken_by_account": staff_face(state, conn, h.action_taken_by, viewer).await?,
        "statuses": statuses,
        "rules": crate::mastodon_api::instance::rules_json(conn)
            .await?
            .into_iter()
            .filter(|rule| {
                let id = rule["id"].as_str().and_then(|s| s.parse::<i64>().ok());
                id.is_some_and(|id| r.rule_ids.contains(&id))
            })
            .collect::<Vec<_>>(),
    }))
}

async fn one(state: &AppState, viewer: &Account, id: i64) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let r = reports::get(&mut conn, id).await?;
    let h = reports::handling(&mut conn, &[id])
        .await?
        .get(&id)
        .copied()
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(report_json(state, &mut conn, &r, h, viewer).await?))
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::opt_bool")]
    resolved: Option<bool>,
    #[serde(default, deserialize_with = "de::opt_id")]
    account_id: Option<String>,
    #[serde(default, deserialize_with = "de::opt_id")]
    target_account_id: Option<String>,
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<ListParams>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:read:reports").await?;
    let face = |v: &Option<String>| v.as_deref().map(parse_id).transpose();
    let filter = Filter {
        resolved: p.resolved.unwrap_or(false),
        reporter: face(&p.account_id)?,
        target: face(&p.target_account_id)?,
    };
    let page = p.page.page(100, 200)?;
    let mut conn = state.db.conn().await?;
    let found = reports::list(&mut conn, filter, &page).await?;
    let ids: Vec<i64> = found.iter().map(|r| r.id).collect();
    let handling = reports::handling(&mut conn, &ids).await?;
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        let h = handling.get(&r.id).copied().unwrap_or_default();
        out.push(report_json(&state, &mut conn, r, h, &viewer).await?);
    }
    Ok(paginated(&req, &state, &out, &ids))
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = staff(&state, &auth, "admin:read:reports").await?;
    one(&state, &viewer, parse_id(&path)?).await
}

/// What staff may do to a report.
#[derive(Clone, Copy)]
enum Step {
    AssignToSelf,
    Unassign,
    Resolve,
    Reopen,
}

async fn step(state: &AppState, auth: &Auth, id: &str, step: Step) -> ApiResult<HttpResponse> {
    let viewer = staff(state, auth, "admin:write:reports").await?;
    let id = parse_id(id)?;
    let clock = state.clock.as_ref();
    let me = viewer.id;
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(me), async |c| {
        let what = match step {
            Step::AssignToSelf => {
                reports::assign(c, id, Some(me)).await?;
                "assign_report"
            }
            Step::Unassign => {
                reports::assign(c, id, None).await?;
                "unassign_report"
            }
            Step::Resolve => {
                reports::resolve(c, clock, id, Some(me)).await?;
                "resolve_report"
            }
            Step::Reopen => {
                reports::reopen(c, id).await?;
                "reopen_report"
            }
        };
        Ok(((), what, Target::Report(id)))
    })
    .await?;
    one(state, &viewer, id).await
}

/// Resolves a report after a moderation action that named it.
pub(super) async fn resolve_after_action(state: &AppState, staff: i64, id: i64) -> ApiResult<()> {
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff), async |c| {
        reports::resolve(c, clock, id, Some(staff)).await?;
        Ok(((), "resolve_report", Target::Report(id)))
    })
    .await?;
    Ok(())
}

macro_rules! step_handler {
    ($name:ident, $step:expr) => {
        async fn $name(
            state: web::Data<AppState>,
            auth: Auth,
            path: web::Path<String>,
        ) -> ApiResult<HttpResponse> {
            step(&state, &auth, &path, $step).await
        }
    };
}

step_handler!(assign_to_self, Step::AssignToSelf);
step_handler!(unassign, Step::Unassign);
step_handler!(resolve, Step::Resolve);
step_handler!(reopen, Step::Reopen);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/reports", web::get().to(list))
        .route("/api/v1/admin/reports/{id}", web::get().to(show))
        .route(
            "/api/v1/admin/reports/{id}/assign_to_self",
            web::post().to(assign_to_self),
        )
        .route(
            "/api/v1/admin/reports/{id}/unassign",
            web::post().to(unassign),
        )
        .route(
            "/api/v1/admin/reports/{id}/resolve",
            web::post().to(resolve),
        )
        .route("/api/v1/admin/reports/{id}/reopen", web::post().to(reopen));
}
