//! Guise: the incoming policy chain over the admin API (admins only, as
//! federation is theirs): its rules, and what it did to remote posts.

use crate::error::ApiResult;
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::audit::{logged, Target};
use guise_core::policy_rules::{self, NewRule, StoredRule};
use serde::Deserialize;
use serde_json::{json, Value};

fn rule_json(r: &StoredRule) -> Value {
    json!({
        "id": r.id.to_string(),
        "kind": r.kind,
        "pattern": r.pattern,
        "amount": r.amount,
        "action": r.action,
        "replacement": r.replacement,
        "tiers": r.tiers,
        "contexts": r.contexts,
        // What admins find in the decision log when it fires.
        "code": r.rule().map(|x| x.code()).ok(),
        "created_at": types::iso(r.created_at),
    })
}

/// Applies a change here now (other processes follow within a second).
async fn apply(state: &AppState) {
    if let Err(e) = crate::domain_rules::reload_incoming(state).await {
        tracing::warn!(error = %e, "could not reload the incoming rules");
    }
}

async fn list(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let all = policy_rules::all(&mut conn).await?;
    Ok(ok(&all.iter().map(rule_json).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct RuleParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    pattern: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    amount: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_string")]
    action: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    replacement: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    tiers: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    contexts: Vec<String>,
}

async fn add(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<RuleParams>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write").await?;
    let new = NewRule {
        kind: p.kind.unwrap_or_default(),
        pattern: p.pattern.unwrap_or_default(),
        amount: p.amount,
        action: p.action.unwrap_or_default(),
        replacement: p.replacement.unwrap_or_default(),
        tiers: p.tiers,
        contexts: p.contexts,
    };
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let r = logged(&mut conn, clock, Some(staff.id), async |c| {
        let r = policy_rules::add(c, clock, &new).await?;
        let target = Target::IncomingRule(r.id);
        Ok((r, "create_incoming_rule", target))
    })
    .await?;
    apply(&state).await;
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
        policy_rules::remove(c, id).await?;
        Ok(((), "destroy_incoming_rule", Target::IncomingRule(id)))
    })
    .await?;
    apply(&state).await;
    Ok(ok(&json!({})))
}

#[derive(Deserialize)]
struct DecisionParams {
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
}

async fn decisions(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<DecisionParams>,
) -> ApiResult<HttpResponse> {
    super::admin(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let lines = policy_rules::recent(&mut conn, p.limit.unwrap_or(100).clamp(1, 500)).await?;
    Ok(ok(&lines
        .iter()
        .map(|l| {
            json!({
                "id": l.id.to_string(),
                "uri": l.object_uri,
                "domain": l.domain,
                "codes": l.codes,
                "rejected": l.rejected,
                "created_on": l.decided_on.to_string(),
            })
        })
        .collect::<Vec<_>>()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/guise/incoming_rules", web::get().to(list))
        .route("/api/v1/admin/guise/incoming_rules", web::post().to(add))
        .route(
            "/api/v1/admin/guise/incoming_rules/{id}",
            web::delete().to(remove),
        )
        .route(
            "/api/v1/admin/guise/policy_decisions",
            web::get().to(decisions),
        );
}
