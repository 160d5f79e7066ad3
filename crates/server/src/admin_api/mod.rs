//! The admin API: staff-only endpoints, role-checked against the token's
//! login. Moderation acts on faces, never on the accounts behind them.

use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::mastodon_api::{ok, parse_id, types};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::models::Account;
use serde::Deserialize;
use serde_json::json;

/// The token's login, if it is staff (moderator or admin).
async fn staff(state: &AppState, auth: &Auth, scope: &str) -> ApiResult<Account> {
    auth.require(scope)?;
    let id = auth
        .token
        .account_id
        .ok_or_else(|| ApiError::forbidden("This action is not allowed"))?;
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, id).await?;
    if !account.is_staff() {
        return Err(ApiError::forbidden("This action is not allowed"));
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
    staff(state, auth, "admin:write:accounts").await?;
    let mut conn = state.db.conn().await?;
    let face = guise_core::faces::decide_real_name(
        &mut conn,
        state.clock.as_ref(),
        parse_id(id)?,
        verify,
        state.domain(),
    )
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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/admin/guise/real_names", web::get().to(real_names))
        .route(
            "/api/v1/admin/guise/real_names/{id}/verify",
            web::post().to(verify),
        )
        .route(
            "/api/v1/admin/guise/real_names/{id}/reject",
            web::post().to(reject),
        );
}
