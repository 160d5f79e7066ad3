//! Polls (`/api/v1/polls`). A face votes as itself; an "Anonymous" token's
//! vote is keyed by `HMAC(k_anon, "vote" ‖ poll)`, one per person across
//! their anonymous faces. A vote in a remote poll goes to its author (from
//! the thread's anonymous face, for an anonymous vote).

use super::access::Group;
use super::{ok, parse_id, types};
use crate::error::{ApiError, ApiResult};
use crate::extract::{de, Auth, MaybeAuth, Params};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use guise_core::polls;
use serde::Deserialize;

/// Who votes: the key the vote is kept under, and the face named (none
/// for an anonymous vote).
fn voter(auth: &Auth, poll: i64) -> ApiResult<(Vec<u8>, Option<i64>)> {
    if auth.is_anonymous() {
        let k = auth.anon_key()?;
        return Ok((k.tag("vote", &poll.to_be_bytes()).to_vec(), None));
    }
    let face = auth.face()?;
    Ok((polls::face_voter(face.id), Some(face.id)))
}

async fn show(
    state: web::Data<AppState>,
    auth: MaybeAuth,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    guise_core::statuses::visible_status(&mut conn, auth.viewer(), id).await?;
    let poll = polls::get(&mut conn, id).await?;
    let own = match &auth.0 {
        Some(a) => {
            let (key, _) = voter(a, id)?;
            Some(polls::own_votes(&mut conn, &[id], &key).await?)
        }
        None => None,
    };
    Ok(ok(&types::poll_json(
        &poll,
        own.as_ref().map(|o| o.get(&id)),
        state.clock.now(),
    )))
}

#[derive(Deserialize)]
struct VoteParams {
    #[serde(default, deserialize_with = "de::string_list")]
    choices: Vec<String>,
}

async fn vote(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    Params(p): Params<VoteParams>,
) -> ApiResult<HttpResponse> {
    auth.answer(Group::Voting, "write:statuses")?;
    let id = parse_id(&path)?;
    let choices: Vec<i64> = p
        .choices
        .iter()
        .map(|c| c.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::unprocessable("Validation failed: choices must be option indexes")
        })?;
    Ok(ok(&vote_as(&state, &auth, id, &choices).await?))
}

/// `auth` votes `choices` (option indexes) in the poll of status `id`;
/// the poll as the API shows it after.
pub(crate) async fn vote_as(
    state: &AppState,
    auth: &Auth,
    id: i64,
    choices: &[i64],
) -> ApiResult<serde_json::Value> {
    let mut conn = state.db.conn().await?;
    let viewer = auth.face.as_ref().map(|f| f.id);
    guise_core::statuses::visible_status(&mut conn, viewer, id).await?;
    if auth.is_anonymous() {
        super::statuses::anonymous_allowed(state, auth, &mut conn).await?;
    }
    let (key, face) = voter(auth, id)?;
    let anon = auth.k_anon.as_ref().map(|k| (k, state.face_per()));
    let poll = polls::vote_and_tell(
        &mut conn,
        state.clock.as_ref(),
        id,
        &key,
        face,
        anon,
        choices,
    )
    .await?;
    let own = polls::own_votes(&mut conn, &[id], &key).await?;
    Ok(types::poll_json(
        &poll,
        Some(own.get(&id)),
        state.clock.now(),
    ))
}

/// Ends due polls and tells their authors and voters (a job).
pub async fn end_due(state: &AppState) -> guise_core::CoreResult<usize> {
    let mut conn = state.db.conn().await?;
    polls::end_due(&mut conn, state.clock.as_ref(), 50).await
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/polls/{id}", web::get().to(show))
        .route("/api/v1/polls/{id}/votes", web::post().to(vote));
}
