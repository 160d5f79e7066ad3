//! Lists and their timelines; followed hashtags.

use super::access::{Answer, Group};
use super::{ok, paginated, parse_id, types, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::lists::{self, List};
use serde::Deserialize;
use serde_json::json;

fn list_json(l: &List) -> serde_json::Value {
    json!({
        "id": l.id.to_string(),
        "title": l.title,
        "replies_policy": l.replies_policy,
        "exclusive": l.exclusive,
    })
}

async fn index(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ListsRead, "read:lists")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let all: Vec<_> = lists::of(&mut conn, me.id)
        .await?
        .iter()
        .map(list_json)
        .collect();
    Ok(ok(&all))
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ListsRead, "read:lists")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&list_json(
        &lists::get(&mut conn, me.id, parse_id(&path)?).await?,
    )))
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de::opt_string")]
    replies_policy: Option<String>,
    #[serde(default, deserialize_with = "de::opt_bool")]
    exclusive: Option<bool>,
}

async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<ListParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ListsWrite, "write:lists")?;
    let me = auth.face()?;
    let title = p
        .title
        .ok_or_else(|| ApiError::unprocessable("Validation failed: title can't be blank"))?;
    let mut conn = state.db.conn().await?;
    let l = lists::create(
        &mut conn,
        state.clock.as_ref(),
        me,
        &title,
        p.replies_policy.as_deref().unwrap_or("list"),
        p.exclusive.unwrap_or(false),
    )
    .await?;
    Ok(ok(&list_json(&l)))
}

async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<ListParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ListsWrite, "write:lists")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let l = lists::update(
        &mut conn,
        me.id,
        parse_id(&path)?,
        p.title.as_deref(),
        p.replies_policy.as_deref(),
        p.exclusive,
    )
    .await?;
    Ok(ok(&list_json(&l)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ListsWrite, "write:lists")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    lists::delete(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&json!({})))
}

#[derive(Deserialize)]
struct MembersQuery {
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
}

async fn members(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<MembersQuery>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ListsRead, "read:lists")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    // `limit=0` means all, as in Mastodon.
    let limit = match p.limit.unwrap_or(40) {
        0 => 10_000,
        n => n.clamp(1, 80),
    };
    let mut conn = state.db.conn().await?;
    let ids = lists::members(&mut conn, me.id, parse_id(&path)?, limit).await?;
    let faces = guise_core::accounts::identities_by_ids(&mut conn, &ids).await?;
    Ok(ok(&types::accounts(&state, &mut conn, &faces).await?))
}

#[derive(Deserialize)]
struct AccountIds {
    #[serde(default, deserialize_with = "de::string_list")]
    account_ids: Vec<String>,
}

fn ids_of(p: &AccountIds) -> ApiResult<Vec<i64>> {
    if p.account_ids.is_empty() {
        return Err(ApiError::unprocessable(
            "Validation failed: account_ids can't be blank",
        ));
    }
    p.account_ids
        .iter()
        .map(|s| s.parse::<i64>().map_err(|_| ApiError::not_found()))
        .collect()
}

async fn add_members(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<AccountIds>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ListsWrite, "write:lists")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    lists::add(&mut conn, me.id, parse_id(&path)?, &ids_of(&p)?).await?;
    Ok(ok(&json!({})))
}

async fn remove_members(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<AccountIds>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::ListsWrite, "write:lists")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    lists::remove(&mut conn, me.id, parse_id(&path)?, &ids_of(&p)?).await?;
    Ok(ok(&json!({})))
}

async fn timeline(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ListsRead, "read:lists")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    let l = lists::get(&mut conn, me.id, parse_id(&path)?).await?;
    let ids = guise_core::timelines::merged(
        &mut conn,
        me.id,
        &guise_core::timelines::Source::List {
            list_id: l.id,
            replies_policy: l.replies_policy,
        },
        &page,
    )
    .await?;
    let out = types::statuses_in(&state, &mut conn, Some(me.id), &ids, "home").await?;
    Ok(paginated(&req, &state, &out, &ids))
}

async fn account_lists(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::ListsRead, "read:lists")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let found = lists::holding(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&found.iter().map(list_json).collect::<Vec<_>>()))
}

// Hashtags.

fn tag_json(
    state: &AppState,
    t: &guise_core::keepings::TagInfo,
    signed_in: bool,
) -> serde_json::Value {
    let mut v = json!({
        "id": t.name,
        "name": t.name,
        "url": format!("{}/tags/{}", state.base_url, t.name),
        "history": t.history.iter().map(|(day, uses, accounts)| json!({
            "day": day.and_hms_opt(0, 0, 0).map_or(0, |d| d.and_utc().timestamp()).to_string(),
            "uses": uses.to_string(),
            "accounts": accounts.to_string(),
        })).collect::<Vec<_>>(),
    });
    if signed_in {
        if let Some(o) = v.as_object_mut() {
            o.insert("following".into(), json!(t.following));
        }
    }
    v
}

async fn tag(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let viewer = auth.viewer();
    let mut conn = state.db.conn().await?;
    let t = guise_core::keepings::tag_info(&mut conn, state.clock.as_ref(), viewer, &path).await?;
    Ok(ok(&tag_json(&state, &t, auth.0.is_some())))
}

async fn follow_tag(
    state: &AppState,
    auth: &Auth,
    name: &str,
    follow: bool,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::TagsWrite, "write:follows")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    guise_core::keepings::follow_tag(&mut conn, me, name, follow).await?;
    let t =
        guise_core::keepings::tag_info(&mut conn, state.clock.as_ref(), Some(me.id), name).await?;
    Ok(ok(&tag_json(state, &t, true)))
}

async fn follow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    follow_tag(&state, &auth, &path, true).await
}

async fn unfollow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    follow_tag(&state, &auth, &path, false).await
}

async fn followed(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if auth.answer(Group::TagsRead, "read:follows")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let mut out = Vec::new();
    for name in guise_core::keepings::followed_tags(&mut conn, me.id).await? {
        let t = guise_core::keepings::tag_info(&mut conn, state.clock.as_ref(), Some(me.id), &name)
            .await?;
        out.push(tag_json(&state, &t, true));
    }
    Ok(ok(&out))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/lists", web::get().to(index))
        .route("/api/v1/lists", web::post().to(create))
        .route("/api/v1/lists/{id}", web::get().to(show))
        .route("/api/v1/lists/{id}", web::put().to(update))
        .route("/api/v1/lists/{id}", web::delete().to(delete))
        .route("/api/v1/lists/{id}/accounts", web::get().to(members))
        .route("/api/v1/lists/{id}/accounts", web::post().to(add_members))
        .route(
            "/api/v1/lists/{id}/accounts",
            web::delete().to(remove_members),
        )
        .route("/api/v1/timelines/list/{id}", web::get().to(timeline))
        .route("/api/v1/accounts/{id}/lists", web::get().to(account_lists))
        .route("/api/v1/tags/{name}", web::get().to(tag))
        .route("/api/v1/tags/{name}/follow", web::post().to(follow))
        .route("/api/v1/tags/{name}/unfollow", web::post().to(unfollow))
        .route("/api/v1/followed_tags", web::get().to(followed));
}
