//! `GET /health` (liveness: the process answers) and `GET /health/ready`
//! (readiness: PostgreSQL, and Redis when configured, answer). Neither
//! writes anything nor needs a token; neither says more than up or down.

use crate::state::AppState;
use actix_web::{web, HttpResponse};
use std::time::Duration;

/// How long a dependency may take before it counts as down.
const WAIT: Duration = Duration::from_secs(3);

async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "status": "ok" }))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database = tokio::time::timeout(WAIT, async {
        let mut conn = state.db.conn().await.map_err(|e| e.to_string())?;
        guise_core::db::ping(&mut conn)
            .await
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| "timed out".to_string())
    .and_then(|r| r);
    let redis = match tokio::time::timeout(WAIT, state.counters.ping()).await {
        Err(_) => Some(Err("timed out".to_string())),
        Ok(None) => None,
        Ok(Some(r)) => Some(r.map_err(|e| e.to_string())),
    };
    let word = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "down" };
    let up = database.is_ok() && redis.as_ref().is_none_or(|r| r.is_ok());
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: the database does not answer");
    }
    if let Some(Err(e)) = &redis {
        tracing::warn!(error = %e, "readiness: Redis does not answer");
    }
    let body = serde_json::json!({
        "status": if up { "ok" } else { "down" },
        "database": word(&database),
        "redis": redis.as_ref().map_or("not configured", word),
    });
    if up {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    }
    .insert_header(("cache-control", "no-store"))
    .json(body)
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(live))
        .route("/health/ready", web::get().to(ready));
}
