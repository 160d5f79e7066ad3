//! Home, public and hashtag timelines.

use super::{paginated, types, PageParams};
use crate::error::ApiResult;
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

fn respond(
    req: &HttpRequest,
    state: &AppState,
    ids: &[i64],
    out: Vec<types::Status>,
) -> HttpResponse {
    paginated(req, state, &out, ids)
}

async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    auth.require("read:statuses")?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    if auth.is_anonymous() {
        // No feed rows exist for the owner: their anonymous posts come from
        // the sealed index at read time (unlinkability rule 4).
        let ids = guise_core::anon::my_statuses(&mut conn, auth.anon_key()?, &page).await?;
        let out = types::statuses_by_ids(&state, &mut conn, None, &ids).await?;
        return Ok(respond(&req, &state, &ids, out));
    }
    let me = auth.face()?;
    let ids = guise_core::statuses::home_timeline(&mut conn, me.id, &page).await?;
    let out = types::statuses_in(&state, &mut conn, Some(me.id), &ids, "home").await?;
    Ok(respond(&req, &state, &ids, out))
}

#[derive(Deserialize)]
struct PublicParams {
    #[serde(flatten)]
    page: PageParams,
    #[serde(default, deserialize_with = "de::flex_bool")]
    local: bool,
    #[serde(default, deserialize_with = "de::flex_bool")]
    remote: bool,
    #[serde(default, deserialize_with = "de::flex_bool")]
    only_media: bool,
}

async fn public(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    Params(p): Params<PublicParams>,
) -> ApiResult<HttpResponse> {
    if let Some(a) = &auth.0 {
        a.require("read:statuses")?;
    }
    let page = p.page.page(20, 40)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    let scope = if p.local {
        Some(true)
    } else if p.remote {
        Some(false)
    } else {
        None
    };
    let ids =
        guise_core::statuses::public_timeline_of(&mut conn, viewer, scope, p.only_media, &page)
            .await?;
    let out = types::statuses_in(&state, &mut conn, viewer, &ids, "public").await?;
    Ok(respond(&req, &state, &ids, out))
}

async fn tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    let page = p.page(20, 40)?;
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    let ids = guise_core::statuses::tag_timeline(&mut conn, viewer, &path, &page).await?;
    let out = types::statuses_in(&state, &mut conn, viewer, &ids, "public").await?;
    Ok(respond(&req, &state, &ids, out))
}

/// Guise: the owner's anonymous posts, newest first ("Anonymous" and "All my faces" tokens).
async fn my_anonymous(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    auth.require("read:statuses")?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    let ids = guise_core::anon::my_statuses(&mut conn, auth.anon_key()?, &page).await?;
    let out = types::statuses_by_ids(&state, &mut conn, None, &ids).await?;
    Ok(respond(&req, &state, &ids, out))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/guise/anonymous/statuses",
        web::get().to(my_anonymous),
    );
    cfg.route("/api/v1/timelines/home", web::get().to(home))
        .route("/api/v1/timelines/public", web::get().to(public))
        .route("/api/v1/timelines/tag/{tag}", web::get().to(tag));
}
