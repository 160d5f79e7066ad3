//! Direct conversations (`/api/v1/conversations`). A face token reads its
//! face's; an "Anonymous" token reads its anonymous faces', with what it
//! read or removed sealed under `k_anon` outside the database.

use super::access::{Answer, Group};
use super::sealed::{self, Slot};
use super::{paginated, parse_id, types, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Params};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::conversations::{self as conv, Conversation};
use guise_core::seal::KAnon;
use serde_json::{json, Value};

/// Whose conversations the token reads: its face, or (sealed) the
/// anonymous faces its `k_anon` owns.
async fn faces_of(
    conn: &mut guise_core::DbConn,
    auth: &Auth,
    answer: Answer,
) -> ApiResult<Vec<i64>> {
    if answer == Answer::Sealed {
        let k = auth.anon_key()?;
        Ok(guise_core::anon::my_faces(conn, k)
            .await?
            .iter()
            .map(|f| f.id)
            .collect())
    } else {
        Ok(vec![auth.face()?.id])
    }
}

fn slot(k: &KAnon, root: i64) -> Slot {
    Slot::new(k, "conversation", &format!("conversation:{root}"))
}

/// The sealed read state: (last read id, removed).
fn open_state(plain: &[u8]) -> Option<(i64, bool)> {
    let id = i64::from_be_bytes(plain.get(0..8)?.try_into().ok()?);
    Some((id, plain.get(8).copied() == Some(1)))
}

async fn with_sealed_state(state: &AppState, k: &KAnon, c: &mut Conversation) -> ApiResult<()> {
    if let Some((id, hidden)) = sealed::read(state, k, &slot(k, c.root))
        .await?
        .as_deref()
        .and_then(|p| open_state(p))
    {
        c.read_id = Some(id);
        c.hidden = hidden;
    }
    Ok(())
}

pub(crate) async fn json_of(
    state: &AppState,
    conn: &mut guise_core::DbConn,
    c: &Conversation,
) -> ApiResult<Value> {
    let people = guise_core::accounts::identities_by_ids(conn, &c.participants).await?;
    let accounts = types::accounts(state, conn, &people).await?;
    let last = types::statuses_by_ids(state, conn, Some(c.face), &[c.last_status_id]).await?;
    Ok(json!({
        "id": c.root.to_string(),
        "unread": c.unread(),
        "accounts": accounts,
        "last_status": last.into_iter().next(),
    }))
}

async fn index(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Auth,
    Params(p): Params<PageParams>,
) -> ApiResult<HttpResponse> {
    let answer = auth.answer(Group::Conversations, "read:statuses")?;
    let page = p.page(20, 40)?;
    let mut conn = state.db.conn().await?;
    let faces = faces_of(&mut conn, &auth, answer).await?;
    let sealed = answer == Answer::Sealed;
    let mut found = conv::page(&mut conn, &faces, &page, !sealed).await?;
    let cursors: Vec<i64> = found.iter().map(|c| c.last_status_id).collect();
    if sealed {
        let k = auth.anon_key()?;
        for c in &mut found {
            with_sealed_state(&state, k, c).await?;
        }
        found.retain(|c| !c.removed());
    }
    let mut out = Vec::with_capacity(found.len());
    for c in &found {
        out.push(json_of(&state, &mut conn, c).await?);
    }
    Ok(paginated(&req, &state, &out, &cursors))
}

/// Marks a conversation read, or removes it from the list until a newer
/// post arrives.
async fn mark(
    state: &AppState,
    auth: &Auth,
    id: &str,
    hidden: bool,
) -> ApiResult<(Conversation, Value)> {
    let answer = auth.answer(Group::Conversations, "write:conversations")?;
    let root = parse_id(id)?;
    let mut conn = state.db.conn().await?;
    let faces = faces_of(&mut conn, auth, answer).await?;
    let sealed = answer == Answer::Sealed;
    let mut c = conv::get(&mut conn, &faces, root, !sealed)
        .await
        .map_err(|_| ApiError::not_found())?;
    c.read_id = Some(c.last_status_id);
    c.hidden = hidden;
    if sealed {
        let k = auth.anon_key()?;
        let mut plain = c.last_status_id.to_be_bytes().to_vec();
        plain.push(u8::from(hidden));
        sealed::update(state, k, &slot(k, root), |_| plain.clone()).await?;
    } else {
        conv::mark(&mut conn, &c, hidden).await?;
    }
    let v = json_of(state, &mut conn, &c).await?;
    Ok((c, v))
}

async fn read(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (_, v) = mark(&state, &auth, &path, false).await?;
    Ok(super::ok(&v))
}

async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    mark(&state, &auth, &path, true).await?;
    Ok(super::ok(&json!({})))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/conversations", web::get().to(index))
        .route("/api/v1/conversations/{id}", web::delete().to(remove))
        .route("/api/v1/conversations/{id}/read", web::post().to(read));
}
