//! Announcements (`/api/v1/announcements`): read by every token; dismissed
//! per face, or sealed under `k_anon` for an "Anonymous" token; reacted to
//! by faces only.

use super::access::{Answer, Group};
use super::sealed::{self, Slot};
use super::{ok, parse_id, types};
use crate::error::ApiResult;
use crate::extract::{de, Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::announcements::{self as ann, Announcement, Reaction};
use serde::Deserialize;
use serde_json::{json, Value};

/// Mastodon's Announcement entity.
pub fn announcement_json(
    state: &AppState,
    a: &Announcement,
    read: Option<bool>,
    reactions: &[Reaction],
) -> Value {
    let content = guise_core::text::render(
        &guise_core::text::parse(&a.text),
        &state.base_url,
        |_, _| None,
    );
    let mut v = json!({
        "id": a.id.to_string(),
        "content": content,
        "starts_at": a.starts_at.map(types::iso),
        "ends_at": a.ends_at.map(types::iso),
        "all_day": a.all_day,
        "published_at": types::iso(a.published_at),
        "updated_at": types::iso(a.updated_at),
        "mentions": [],
        "statuses": [],
        "tags": [],
        "emojis": [],
        "reactions": reactions.iter().map(|r| json!({
            "name": r.name, "count": r.count, "me": r.me,
        })).collect::<Vec<_>>(),
    });
    if let (Some(read), Some(o)) = (read, v.as_object_mut()) {
        o.insert("read".into(), Value::Bool(read));
    }
    v
}

fn slot(k: &guise_core::seal::KAnon, id: i64) -> Slot {
    Slot::new(k, "announcement", &format!("announcement:{id}"))
}

#[derive(Deserialize)]
struct IndexParams {
    #[serde(default, deserialize_with = "de::opt_bool")]
    with_dismissed: Option<bool>,
}

async fn index(
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<IndexParams>,
) -> ApiResult<HttpResponse> {
    let answer = auth.answer(Group::Announcements, "read")?;
    let mut conn = state.db.conn().await?;
    let all = ann::current(&mut conn, state.clock.as_ref()).await?;
    let ids: Vec<i64> = all.iter().map(|a| a.id).collect();
    let mut read = std::collections::HashSet::new();
    let mut viewer = None;
    if answer == Answer::Sealed {
        let k = auth.anon_key()?;
        for id in &ids {
            if sealed::read(&state, k, &slot(k, *id)).await?.is_some() {
                read.insert(*id);
            }
        }
    } else {
        let me = auth.face()?;
        viewer = Some(me.id);
        read = ann::dismissed(&mut conn, me.id, &ids).await?;
    }
    let reactions = ann::reactions(&mut conn, viewer, &ids).await?;
    let out: Vec<Value> = all
        .iter()
        .filter(|a| p.with_dismissed.unwrap_or(false) || !read.contains(&a.id))
        .map(|a| {
            announcement_json(
                &state,
                a,
                Some(read.contains(&a.id)),
                reactions.get(&a.id).map_or(&[][..], Vec::as_slice),
            )
        })
        .collect();
    Ok(ok(&out))
}

async fn dismiss(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let answer = auth.answer(Group::Announcements, "write:accounts")?;
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    ann::get_current(&mut conn, state.clock.as_ref(), id).await?;
    if answer == Answer::Sealed {
        let k = auth.anon_key()?;
        sealed::update(&state, k, &slot(k, id), |_| vec![1]).await?;
    } else {
        ann::dismiss(&mut conn, auth.face()?.id, id).await?;
    }
    Ok(ok(&json!({})))
}

async fn react(
    state: &AppState,
    auth: &Auth,
    path: &(String, String),
    on: bool,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::AnnouncementReactions, "write:favourites")?;
    let me = auth.face()?;
    let mut conn = state.db.conn().await?;
    ann::react(
        &mut conn,
        state.clock.as_ref(),
        me.id,
        parse_id(&path.0)?,
        &path.1,
        on,
    )
    .await?;
    Ok(ok(&json!({})))
}

async fn add_reaction(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    react(&state, &auth, &path, true).await
}

async fn remove_reaction(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    react(&state, &auth, &path, false).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/announcements", web::get().to(index))
        .route(
            "/api/v1/announcements/{id}/dismiss",
            web::post().to(dismiss),
        )
        .route(
            "/api/v1/announcements/{id}/reactions/{name}",
            web::put().to(add_reaction),
        )
        .route(
            "/api/v1/announcements/{id}/reactions/{name}",
            web::delete().to(remove_reaction),
        );
}
