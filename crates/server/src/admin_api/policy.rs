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

fn policy_json(live: &crate::policy::Live) -> Value {
    json!({ "version": live.version, "policy": live.policy })
}

/// `GET /api/v1/admin/guise/instance_policy`: the policy in force (staff).
async fn instance_policy(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::staff(&state, &auth, "admin:read").await?;
    // What the database says now, not what this process last loaded.
    crate::policy::reload(&state).await?;
    Ok(ok(&policy_json(&state.live())))
}

/// `PUT /api/v1/admin/guise/instance_policy` (admins): the fields given
/// change, the rest stay; `version`, if given, must be the one in force
/// (else 422: someone changed it meanwhile). A new version, logged, in
/// force here at once and everywhere within a second.
async fn change_policy(
    state: web::Data<AppState>,
    auth: Auth,
    Params(given): Params<serde_json::Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let staff = super::admin(&state, &auth, "admin:write").await?;
    crate::policy::reload(&state).await?;
    let live = state.live();
    let mut doc =
        serde_json::to_value(&live.policy).map_err(|_| crate::error::ApiError::internal())?;
    let mut after = live.version;
    for (k, v) in given {
        if k == "version" {
            after = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    crate::error::ApiError::unprocessable(
                        "Validation failed: version is not a number",
                    )
                })?;
            continue;
        }
        let Some(slot) = doc.get_mut(&k) else {
            return Err(crate::error::ApiError::unprocessable(format!(
                "Validation failed: {k} is not a policy setting"
            )));
        };
        *slot = coerce(slot, v);
    }
    let policy: crate::policy::InstancePolicy = serde_json::from_value(doc.clone())
        .map_err(|e| crate::error::ApiError::unprocessable(format!("Validation failed: {e}")))?;
    let problems = policy.problems();
    if !problems.is_empty() {
        return Err(crate::error::ApiError::unprocessable(format!(
            "Validation failed: {}",
            problems.join("; ")
        )));
    }
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let version = logged(&mut conn, clock, Some(staff.id), async |c| {
        let v = guise_core::policies::add(c, clock, after, &doc).await?;
        Ok((v, "update_instance_policy", Target::Policy(v)))
    })
    .await?;
    state.set_live(crate::policy::Live::new(version, policy));
    Ok(ok(&policy_json(&state.live())))
}

/// A form's strings as the setting's own type (JSON bodies pass as they are).
fn coerce(current: &Value, given: Value) -> Value {
    match (current, &given) {
        (Value::Bool(_), Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (Value::Number(_), Value::String(s)) => s.parse::<u64>().map(Value::from).unwrap_or(given),
        (Value::Array(_), Value::String(s)) => Value::Array(
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| Value::String(x.to_owned()))
                .collect(),
        ),
        _ => given,
    }
}

/// Every version of the policy, newest first (staff).
async fn policy_versions(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    super::staff(&state, &auth, "admin:read").await?;
    let mut conn = state.db.conn().await?;
    let all = guise_core::policies::history(&mut conn, 100).await?;
    Ok(ok(&all
        .iter()
        .map(|(v, p, d)| json!({ "version": v, "policy": p, "created_on": d.to_string() }))
        .collect::<Vec<_>>()))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/admin/guise/instance_policy",
        web::get().to(instance_policy),
    )
    .route(
        "/api/v1/admin/guise/instance_policy",
        web::put().to(change_policy),
    )
    .route(
        "/api/v1/admin/guise/instance_policy/versions",
        web::get().to(policy_versions),
    );
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
