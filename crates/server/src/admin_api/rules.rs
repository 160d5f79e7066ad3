//! Guise: the instance's rules over the admin API (admins; Mastodon keeps
//! them in its web settings). Anyone reads them at `/api/v1/instance/rules`.

use crate::error::ApiResult;
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::audit::{logged, Target};
use guise_core::rules::{self, InstanceRule};
use serde::Deserialize;
use serde_json::{json, Value};

fn rule_json(r: &InstanceRule) -> Value {
    json!({
        "id": r.id.to_string(),
        "text": r.text,
        "hint": r.hint,
        "position": r.position,
        "created_at": types::iso(r.created_at),
    })
}

async fn list(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::staff(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&rules::all(&mut conn)
        .await?
        .iter()
        .map(rule_json)
        .collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct RuleParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    text: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    hint: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    position: Option<i64>,
}

fn position(p: Option<i64>) -> ApiResult<Option<i32>> {
    p.map(|n| {
        i32::try_from(n).map_err(|_| {
            crate::error::ApiError::unprocessable("Validation failed: position is out of range")
        })
    })
    .transpose()
}

async fn add(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<RuleParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write").await?;
    let at = position(p.position)?;
    let (text, hint) = (p.text.unwrap_or_default(), p.hint.unwrap_or_default());
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let r = logged(&mut conn, clock, Some(staff.id), async |c| {
        let r = rules::add(c, clock, &text, &hint, at).await?;
        let target = Target::Rule(r.id);
        Ok((r, "create_rule", target))
    })
    .await?;
    Ok(ok(&rule_json(&r)))
}

async fn change(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<RuleParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write").await?;
    let id = parse_id(&path)?;
    let at = position(p.position)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let r = logged(&mut conn, clock, Some(staff.id), async |c| {
        let r = rules::change(c, id, p.text.as_deref(), p.hint.as_deref(), at).await?;
        Ok((r, "update_rule", Target::Rule(id)))
    })
    .await?;
    Ok(ok(&rule_json(&r)))
}

async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write").await?;
    let id = parse_id(&path)?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    logged(&mut conn, clock, Some(staff.id), async |c| {
        rules::remove(c, id).await?;
        Ok(((), "destroy_rule", Target::Rule(id)))
    })
    .await?;
    Ok(ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/guise/rules", web::get().to(list))
        .route("/api/v1/admin/guise/rules", web::post().to(add))
        .route("/api/v1/admin/guise/rules/{id}", web::put().to(change))
        .route("/api/v1/admin/guise/rules/{id}", web::delete().to(remove));
}
