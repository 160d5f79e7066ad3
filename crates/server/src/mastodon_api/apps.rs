//! App registration: `POST /api/v1/apps`, `GET /api/v1/apps/verify_credentials`.

use super::types::Application;
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::oauth::{NewApp, Scopes};
use serde::Deserialize;

#[derive(Deserialize)]
struct CreateApp {
    #[serde(default, deserialize_with = "de::opt_string")]
    client_name: Option<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    scopes: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    website: Option<String>,
}

async fn create(
    state: web::Data<AppState>,
    Params(p): Params<CreateApp>,
) -> ApiResult<HttpResponse> {
    let name = p
        .client_name
        .ok_or_else(|| ApiError::unprocessable("Validation failed: client_name can't be blank"))?;
    // One string may carry several URIs separated by newlines.
    let redirect_uris: Vec<String> = p
        .redirect_uris
        .iter()
        .flat_map(|u| u.split('\n'))
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    let scopes = Scopes::parse(p.scopes.as_deref().unwrap_or("read"))?;
    let mut conn = state.db.conn().await?;
    let app = guise_core::oauth::create_app(
        &mut conn,
        state.clock.as_ref(),
        NewApp {
            name: &name,
            website: p.website.as_deref(),
            redirect_uris,
            scopes,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(Application::new(
        &app,
        true,
        state.vapid().await?.public_key(),
    )))
}

async fn verify(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    let mut conn = state.db.conn().await?;
    let app = guise_core::oauth::get_app(&mut conn, auth.session.app_id).await?;
    Ok(HttpResponse::Ok().json(Application::new(
        &app,
        false,
        state.vapid().await?.public_key(),
    )))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/apps", web::post().to(create))
        .route("/api/v1/apps/verify_credentials", web::get().to(verify));
}
