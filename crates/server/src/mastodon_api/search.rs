//! Local search: persistent faces by handle or name, hashtags in use, and a
//! status by its URL. Anonymous faces are never found by search (they are
//! reached through the threads they post in).

use super::{ok, types};
use crate::error::ApiResult;
use crate::extract::{de, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default, deserialize_with = "de::opt_string")]
    q: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "de::opt_string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    limit: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_i64")]
    offset: Option<i64>,
    #[serde(default, deserialize_with = "de::flex_bool")]
    resolve: bool,
}

/// A local status named by its URL (`…/@handle/ID`, `…/statuses/ID`).
fn status_id_in(state: &AppState, q: &str) -> Option<i64> {
    let rest = q.strip_prefix(&*state.base_url)?;
    rest.rsplit('/').next()?.parse().ok()
}

/// What a search found, as the API shows it.
pub(crate) struct Found {
    pub accounts: Vec<types::Account>,
    pub statuses: Vec<types::Status>,
    /// Hashtag names.
    pub hashtags: Vec<String>,
}

/// Searches as `viewer` (signed in when `signed_in`): `kind` limits it to
/// "accounts", "statuses" or "hashtags"; `resolve` looks up `user@host`
/// and URLs of other servers (signed in only, as Mastodon does).
pub(crate) async fn find(
    state: &AppState,
    viewer: Option<i64>,
    signed_in: bool,
    q: &str,
    kind: Option<&str>,
    limit: i64,
    resolve: bool,
) -> ApiResult<Found> {
    let mut conn = state.db.conn().await?;
    let mut found = Found {
        accounts: Vec::new(),
        statuses: Vec::new(),
        hashtags: Vec::new(),
    };
    if q.trim().is_empty() {
        return Ok(found);
    }
    if kind.is_none() || kind == Some("accounts") {
        let mut faces = guise_core::accounts::search_faces(&mut conn, q, limit).await?;
        // `user@host` of another server: look it up there.
        let wanted = q.trim().trim_start_matches('@');
        if let Some((user, host)) = wanted.split_once('@') {
            if resolve
                && signed_in
                && !host.eq_ignore_ascii_case(state.domain())
                && faces.is_empty()
            {
                if let Some(face) = crate::inbox::resolve_acct(state, user, host).await? {
                    faces.push(face);
                }
            }
        }
        found.accounts = types::accounts(state, &mut conn, &faces).await?;
    }
    if kind.is_none() || kind == Some("hashtags") {
        found.hashtags = guise_core::accounts::search_tags(&mut conn, q, limit).await?;
    }
    // A URL of another server: a note or an actor, fetched when asked to.
    let remote_url = url::Url::parse(q.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .filter(|u| !u.as_str().starts_with(&*state.base_url));
    if let (Some(url), true, true) = (&remote_url, resolve, signed_in) {
        drop(conn);
        let mut found_status = None;
        if kind.is_none() || kind == Some("statuses") {
            found_status = crate::inbox::resolve_status(state, url.as_str()).await?;
        }
        let mut found_face = None;
        if found_status.is_none() && (kind.is_none() || kind == Some("accounts")) {
            found_face = crate::inbox::resolve_actor(state, url).await?;
        }
        conn = state.db.conn().await?;
        if let Some(st) = found_status {
            if guise_core::statuses::visible_status(&mut conn, viewer, st.id)
                .await
                .is_ok()
            {
                found.statuses = types::statuses_by_ids(state, &mut conn, viewer, &[st.id]).await?;
            }
        }
        if let Some(face) = found_face {
            found.accounts = types::accounts(state, &mut conn, &[face]).await?;
        }
    }
    if kind.is_none() || kind == Some("statuses") {
        if let Some(id) = status_id_in(state, q.trim()) {
            if guise_core::statuses::visible_status(&mut conn, viewer, id)
                .await
                .is_ok()
            {
                found.statuses = types::statuses_by_ids(state, &mut conn, viewer, &[id]).await?;
            }
        }
    }
    Ok(found)
}

async fn search(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    Params(p): Params<SearchParams>,
) -> ApiResult<HttpResponse> {
    if let Some(a) = &auth.0 {
        a.require("read:search")?;
    }
    let q = p.q.unwrap_or_default();
    let limit = p.limit.unwrap_or(20).clamp(1, 40);
    // Offsets beyond the first page find nothing more locally.
    let found = if p.offset.unwrap_or(0) == 0 {
        find(
            &state,
            auth.viewer(),
            auth.0.is_some(),
            &q,
            p.kind.as_deref(),
            limit,
            p.resolve,
        )
        .await?
    } else {
        Found {
            accounts: Vec::new(),
            statuses: Vec::new(),
            hashtags: Vec::new(),
        }
    };
    let hashtags: Vec<serde_json::Value> = found
        .hashtags
        .iter()
        .map(|t| json!({ "name": t, "url": format!("{}/tags/{}", state.base_url, t), "history": [] }))
        .collect();
    Ok(ok(
        &json!({ "accounts": found.accounts, "statuses": found.statuses, "hashtags": hashtags }),
    ))
}

async fn account_search(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    Params(p): Params<SearchParams>,
) -> ApiResult<HttpResponse> {
    if let Some(a) = &auth.0 {
        a.require("read:accounts")?;
    }
    let q = p.q.unwrap_or_default();
    let mut conn = state.db.conn().await?;
    let faces =
        guise_core::accounts::search_faces(&mut conn, &q, p.limit.unwrap_or(40).clamp(1, 80))
            .await?;
    Ok(ok(&types::accounts(&state, &mut conn, &faces).await?))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/search", web::get().to(search))
        .route("/api/v1/accounts/search", web::get().to(account_search));
}
