//! Filters: Mastodon's v2 (a filter with keywords and statuses) and the v1
//! view of them (one keyword a filter).

use super::access::{Answer, Group};
use super::{ok, parse_id, types};
use crate::error::{ApiError, ApiResult};
use crate::extract::{attribute_list, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::filters::{self, FilterInput};
use serde_json::{json, Map, Value};

type Raw = Map<String, Value>;

fn text(p: &Raw, k: &str) -> Option<String> {
    p.get(k).and_then(|v| v.as_str().map(str::to_owned))
}

fn flag(v: Option<&Value>) -> Option<bool> {
    v.and_then(|v| {
        v.as_bool()
            .or_else(|| v.as_str().map(|s| matches!(s, "true" | "1" | "on")))
    })
}

fn list(p: &Raw, k: &str) -> Option<Vec<String>> {
    match p.get(k) {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(Value::String(s)) => Some(vec![s.clone()]),
        _ => None,
    }
}

/// `expires_in` in seconds; an empty value removes the expiry.
fn expires_in(p: &Raw) -> ApiResult<Option<Option<i64>>> {
    match p.get("expires_in") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
        Some(v) => {
            let n = v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ApiError::unprocessable("Validation failed: expires_in is seconds")
                })?;
            Ok(Some(Some(n)))
        }
    }
}

fn input(p: &Raw) -> ApiResult<FilterInput> {
    let mut add = Vec::new();
    let mut change = Vec::new();
    for k in attribute_list(p.get("keywords_attributes")) {
        let keyword = k.get("keyword").and_then(|v| v.as_str()).map(str::to_owned);
        let whole = flag(k.get("whole_word"));
        let destroy = flag(k.get("_destroy")).unwrap_or(false);
        match k.get("id").and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        }) {
            Some(id) => change.push((
                id.parse::<i64>().map_err(|_| ApiError::not_found())?,
                keyword,
                whole,
                destroy,
            )),
            None => {
                if let Some(kw) = keyword {
                    add.push((kw, whole.unwrap_or(true)));
                }
            }
        }
    }
    Ok(FilterInput {
        title: text(p, "title"),
        context: list(p, "context"),
        filter_action: text(p, "filter_action"),
        expires_in: expires_in(p)?,
        add_keywords: add,
        change_keywords: change,
    })
}

async fn index(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let all: Vec<_> = filters::of(&mut conn, me.id)
        .await?
        .iter()
        .map(types::filter_json)
        .collect();
    Ok(ok(&all))
}

async fn show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    Ok(ok(&types::filter_json(
        &filters::get(&mut conn, me.id, parse_id(&path)?).await?,
    )))
}

async fn create(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let f = filters::create(&mut conn, state.clock.as_ref(), me.id, input(&p)?).await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&types::filter_json(&f)))
}

async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let f = filters::update(
        &mut conn,
        state.clock.as_ref(),
        me.id,
        parse_id(&path)?,
        input(&p)?,
    )
    .await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&types::filter_json(&f)))
}

async fn delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    filters::delete(&mut conn, me.id, parse_id(&path)?).await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&json!({})))
}

fn keyword_json(k: &filters::Keyword) -> Value {
    json!({ "id": k.id.to_string(), "keyword": k.keyword, "whole_word": k.whole_word })
}

fn status_json(s: &filters::FilteredStatus) -> Value {
    json!({ "id": s.id.to_string(), "status_id": s.status_id.to_string() })
}

async fn keywords(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let f = filters::get(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&f.keywords.iter().map(keyword_json).collect::<Vec<_>>()))
}

async fn add_keyword(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let kw = text(&p, "keyword")
        .ok_or_else(|| ApiError::unprocessable("Validation failed: keyword can't be blank"))?;
    let mut conn = state.db.conn().await?;
    let k = filters::add_keyword(
        &mut conn,
        state.clock.as_ref(),
        me.id,
        parse_id(&path)?,
        &kw,
        flag(p.get("whole_word")).unwrap_or(true),
    )
    .await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&keyword_json(&k)))
}

async fn keyword(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let (_, k) = filters::keyword(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&keyword_json(&k)))
}

async fn change_keyword(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let k = filters::change_keyword(
        &mut conn,
        me.id,
        parse_id(&path)?,
        text(&p, "keyword").as_deref(),
        flag(p.get("whole_word")),
    )
    .await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&keyword_json(&k)))
}

async fn delete_keyword(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    filters::delete_keyword(&mut conn, me.id, parse_id(&path)?).await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&json!({})))
}

async fn statuses(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let f = filters::get(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&f.statuses.iter().map(status_json).collect::<Vec<_>>()))
}

async fn add_status(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let sid = text(&p, "status_id")
        .ok_or_else(|| ApiError::unprocessable("Validation failed: status_id can't be blank"))?;
    let mut conn = state.db.conn().await?;
    let s = filters::add_status(
        &mut conn,
        state.clock.as_ref(),
        me.id,
        parse_id(&path)?,
        parse_id(&sid)?,
    )
    .await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&status_json(&s)))
}

async fn filtered_status(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let (_, s) = filters::filtered_status(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&status_json(&s)))
}

async fn delete_status(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    filters::delete_status(&mut conn, me.id, parse_id(&path)?).await?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&json!({})))
}

// v1: each keyword of a filter is a filter of its own.

fn v1_json(f: &filters::Filter, k: &filters::Keyword) -> Value {
    json!({
        "id": k.id.to_string(),
        "phrase": k.keyword,
        "context": f.row.context,
        "whole_word": k.whole_word,
        "expires_at": f.row.expires_at.map(types::iso),
        "irreversible": f.row.filter_action == "hide",
    })
}

async fn v1_index(state: web::Data<AppState>, auth: Auth) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Ok(ok(&json!([])));
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let mut out = Vec::new();
    for f in filters::of(&mut conn, me.id).await? {
        for k in &f.keywords {
            out.push(v1_json(&f, k));
        }
    }
    Ok(ok(&out))
}

async fn v1_show(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if auth.answer(Group::FiltersRead, "read:filters")? == Answer::Neutral {
        return Err(ApiError::not_found());
    }
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let (f, k) = filters::keyword(&mut conn, me.id, parse_id(&path)?).await?;
    Ok(ok(&v1_json(&f, &k)))
}

fn v1_input(p: &Raw) -> ApiResult<(FilterInput, Option<String>, Option<bool>)> {
    let phrase = text(p, "phrase");
    let whole = flag(p.get("whole_word"));
    let action = flag(p.get("irreversible")).map(|i| if i { "hide" } else { "warn" }.to_owned());
    Ok((
        FilterInput {
            title: phrase.clone(),
            context: list(p, "context"),
            filter_action: action,
            expires_in: expires_in(p)?,
            ..Default::default()
        },
        phrase,
        whole,
    ))
}

async fn v1_create(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let (mut input, phrase, whole) = v1_input(&p)?;
    let phrase = phrase
        .ok_or_else(|| ApiError::unprocessable("Validation failed: phrase can't be blank"))?;
    input.add_keywords = vec![(phrase, whole.unwrap_or(true))];
    let mut conn = state.db.conn().await?;
    let f = filters::create(&mut conn, state.clock.as_ref(), me.id, input).await?;
    let k = f.keywords.first().ok_or_else(ApiError::not_found)?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&v1_json(&f, k)))
}

async fn v1_update(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<Raw>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let kid = parse_id(&path)?;
    let (f, _) = filters::keyword(&mut conn, me.id, kid).await?;
    let (mut input, phrase, whole) = v1_input(&p)?;
    input.change_keywords = vec![(kid, phrase, whole, false)];
    let f = filters::update(&mut conn, state.clock.as_ref(), me.id, f.row.id, input).await?;
    let k = f
        .keywords
        .iter()
        .find(|k| k.id == kid)
        .ok_or_else(ApiError::not_found)?;
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&v1_json(&f, k)))
}

async fn v1_delete(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::FiltersWrite, "write:filters")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    let kid = parse_id(&path)?;
    let (f, _) = filters::keyword(&mut conn, me.id, kid).await?;
    // The v1 filter was the keyword; its v2 filter goes with its last keyword.
    if f.keywords.len() <= 1 && f.statuses.is_empty() {
        filters::delete(&mut conn, me.id, f.row.id).await?;
    } else {
        filters::delete_keyword(&mut conn, me.id, kid).await?;
    }
    changed(&state, &mut conn, me.id).await?;
    Ok(ok(&json!({})))
}

/// Tells the face's live streams that its filters changed.
async fn changed(state: &AppState, conn: &mut guise_core::DbConn, face: i64) -> ApiResult<()> {
    guise_core::events::record(
        conn,
        state.clock.as_ref(),
        guise_core::events::DomainEvent::FiltersChanged { face },
    )
    .await?;
    Ok(())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/filters", web::get().to(index))
        .route("/api/v2/filters", web::post().to(create))
        .route("/api/v2/filters/keywords/{id}", web::get().to(keyword))
        .route(
            "/api/v2/filters/keywords/{id}",
            web::put().to(change_keyword),
        )
        .route(
            "/api/v2/filters/keywords/{id}",
            web::delete().to(delete_keyword),
        )
        .route(
            "/api/v2/filters/statuses/{id}",
            web::get().to(filtered_status),
        )
        .route(
            "/api/v2/filters/statuses/{id}",
            web::delete().to(delete_status),
        )
        .route("/api/v2/filters/{id}", web::get().to(show))
        .route("/api/v2/filters/{id}", web::put().to(update))
        .route("/api/v2/filters/{id}", web::delete().to(delete))
        .route("/api/v2/filters/{id}/keywords", web::get().to(keywords))
        .route("/api/v2/filters/{id}/keywords", web::post().to(add_keyword))
        .route("/api/v2/filters/{id}/statuses", web::get().to(statuses))
        .route("/api/v2/filters/{id}/statuses", web::post().to(add_status))
        .route("/api/v1/filters", web::get().to(v1_index))
        .route("/api/v1/filters", web::post().to(v1_create))
        .route("/api/v1/filters/{id}", web::get().to(v1_show))
        .route("/api/v1/filters/{id}", web::put().to(v1_update))
        .route("/api/v1/filters/{id}", web::delete().to(v1_delete));
}
