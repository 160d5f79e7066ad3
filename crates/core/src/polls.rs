//! Polls: a status's options and their counts, and the votes.
//!
//! A persistent face votes as itself (its vote names it, as a favourite
//! does). An anonymous vote is keyed by `HMAC(k_anon, "vote" ‖ poll)`: one
//! vote per poll per person across all their anonymous faces, and nothing
//! at rest that names a face or a login — the same person's persistent
//! faces vote separately, as they are separate faces.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::{poll_votes, polls};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{json, Value};
use std::collections::HashMap;

pub const MAX_OPTIONS: usize = 4;
pub const MAX_OPTION_CHARS: usize = 50;
pub const MIN_EXPIRATION: i64 = 300;
pub const MAX_EXPIRATION: i64 = 2_629_746;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = polls)]
pub struct Poll {
    pub status_id: i64,
    pub options: Value,
    pub counts: Value,
    pub multiple: bool,
    pub hide_totals: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub voters_count: i64,
    pub ended: bool,
}

impl Poll {
    pub fn titles(&self) -> Vec<String> {
        self.options
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn counts(&self) -> Vec<i64> {
        let n = self.titles().len();
        let mut c: Vec<i64> = self
            .counts
            .as_array()
            .map(|a| a.iter().map(|v| v.as_i64().unwrap_or(0)).collect())
            .unwrap_or_default();
        c.resize(n, 0);
        c
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.ended || self.expires_at.is_some_and(|t| t <= now)
    }
}

/// A poll as a post asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollInput {
    pub options: Vec<String>,
    pub expires_in: i64,
    pub multiple: bool,
    pub hide_totals: bool,
}

impl PollInput {
    pub fn check(&self) -> CoreResult<()> {
        let bad = |m: String| Err(CoreError::invalid("poll", m));
        if self.options.len() < 2 {
            return bad("must have at least 2 options".into());
        }
        if self.options.len() > MAX_OPTIONS {
            return bad(format!("must have at most {MAX_OPTIONS} options"));
        }
        for o in &self.options {
            if o.trim().is_empty() {
                return bad("options can't be blank".into());
            }
            if o.chars().count() > MAX_OPTION_CHARS {
                return bad(format!(
                    "options must be at most {MAX_OPTION_CHARS} characters"
                ));
            }
        }
        let mut seen = self.options.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.options.len() {
            return bad("options must be different from each other".into());
        }
        if !(MIN_EXPIRATION..=MAX_EXPIRATION).contains(&self.expires_in) {
            return bad(format!(
                "expires_in must be from {MIN_EXPIRATION} to {MAX_EXPIRATION} seconds"
            ));
        }
        Ok(())
    }
}

/// Records a new local poll for `status` (in the caller's transaction).
pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status: i64,
    p: &PollInput,
) -> CoreResult<()> {
    p.check()?;
    diesel::insert_into(polls::table)
        .values((
            polls::status_id.eq(status),
            polls::options.eq(json!(p
                .options
                .iter()
                .map(|o| o.trim())
                .collect::<Vec<_>>())),
            polls::counts.eq(json!(vec![0; p.options.len()])),
            polls::multiple.eq(p.multiple),
            polls::hide_totals.eq(p.hide_totals),
            polls::expires_at.eq(Some(clock.now() + chrono::Duration::seconds(p.expires_in))),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut DbConn, status: i64) -> CoreResult<Poll> {
    polls::table
        .find(status)
        .select(Poll::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(CoreError::NotFound)
}

/// A persistent face's voter key.
pub fn face_voter(face: i64) -> Vec<u8> {
    let mut v = b"face:".to_vec();
    v.extend_from_slice(&face.to_be_bytes());
    v
}

/// The choices `voter` made in each of these polls.
pub async fn own_votes(
    conn: &mut DbConn,
    polls_: &[i64],
    voter: &[u8],
) -> CoreResult<HashMap<i64, Vec<i64>>> {
    if polls_.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Value)> = poll_votes::table
        .filter(poll_votes::status_id.eq_any(polls_))
        .filter(poll_votes::voter.eq(voter))
        .select((poll_votes::status_id, poll_votes::choices))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, c)| {
            (
                id,
                c.as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default(),
            )
        })
        .collect())
}

/// Votes in a poll; what the poll looks like after. One vote per voter;
/// a closed poll, a choice out of range, or several choices in a
/// single-choice poll are refused.
pub async fn vote(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status: i64,
    voter: &[u8],
    identity: Option<i64>,
    choices: &[i64],
) -> CoreResult<Poll> {
    let now = clock.now();
    let voter = voter.to_vec();
    let mut choices = choices.to_vec();
    choices.sort_unstable();
    choices.dedup();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let poll: Poll = polls::table
            .find(status)
            .for_update()
            .select(Poll::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(CoreError::NotFound)?;
        if poll.expired(now) {
            return Err(CoreError::invalid("poll", "has already ended"));
        }
        let n = poll.titles().len() as i64;
        if choices.is_empty() || choices.iter().any(|c| *c < 0 || *c >= n) {
            return Err(CoreError::invalid(
                "choices",
                "must name the poll's options",
            ));
        }
        if !poll.multiple && choices.len() > 1 {
            return Err(CoreError::invalid("choices", "this poll takes one choice"));
        }
        let inserted = diesel::insert_into(poll_votes::table)
            .values((
                poll_votes::status_id.eq(status),
                poll_votes::voter.eq(&voter),
                poll_votes::identity_id.eq(identity),
                poll_votes::choices.eq(json!(choices)),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            return Err(CoreError::invalid(
                "poll",
                "You have already voted on this poll",
            ));
        }
        let mut counts = poll.counts();
        for c in &choices {
            if let Some(v) = usize::try_from(*c).ok().and_then(|i| counts.get_mut(i)) {
                *v += 1;
            }
        }
        diesel::update(polls::table.find(status))
            .set((
                polls::counts.eq(json!(counts)),
                polls::voters_count.eq(polls::voters_count + 1),
            ))
            .execute(conn)
            .await?;
        Ok(Poll {
            counts: json!(counts),
            voters_count: poll.voters_count + 1,
            ..poll
        })
    })
    .await
}

/// A remote voter's choice, as it arrives (one activity per choice, and
/// they may arrive at once): the first makes the vote, later ones add
/// choices to a multiple-choice poll. The poll row is locked first, so two
/// choices arriving together both count.
pub async fn remote_vote(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status: i64,
    voter_face: i64,
    choice: i64,
) -> CoreResult<()> {
    let key = face_voter(voter_face);
    let now = clock.now();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let poll: Poll = polls::table
            .find(status)
            .for_update()
            .select(Poll::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or(CoreError::NotFound)?;
        let n = poll.titles().len() as i64;
        if poll.expired(now) || !(0..n).contains(&choice) {
            return Ok(());
        }
        let prev: Option<Value> = poll_votes::table
            .filter(poll_votes::status_id.eq(status))
            .filter(poll_votes::voter.eq(&key))
            .select(poll_votes::choices)
            .first(conn)
            .await
            .optional()?;
        let mut counts = poll.counts();
        let mut new_voter = false;
        match prev {
            None => {
                diesel::insert_into(poll_votes::table)
                    .values((
                        poll_votes::status_id.eq(status),
                        poll_votes::voter.eq(&key),
                        poll_votes::identity_id.eq(Some(voter_face)),
                        poll_votes::choices.eq(json!([choice])),
                    ))
                    .execute(conn)
                    .await?;
                new_voter = true;
            }
            Some(prev) => {
                let mut all: Vec<i64> = prev
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                if !poll.multiple || all.contains(&choice) {
                    return Ok(());
                }
                all.push(choice);
                all.sort_unstable();
                diesel::update(
                    poll_votes::table
                        .filter(poll_votes::status_id.eq(status))
                        .filter(poll_votes::voter.eq(&key)),
                )
                .set(poll_votes::choices.eq(json!(all)))
                .execute(conn)
                .await?;
            }
        }
        if let Some(v) = usize::try_from(choice).ok().and_then(|i| counts.get_mut(i)) {
            *v += 1;
        }
        diesel::update(polls::table.find(status))
            .set((
                polls::counts.eq(json!(counts)),
                polls::voters_count.eq(polls::voters_count + i64::from(new_voter)),
            ))
            .execute(conn)
            .await?;
        announce_counts(conn, clock, status).await
    })
    .await
}

/// Tells other servers a local poll's counts changed: an `Update` of the
/// `Question`, rendered when the worker expands it — so while one is still
/// waiting in the outbox, later votes ride along with it instead of adding
/// another (a burst of votes is one Update per follower inbox).
pub async fn announce_counts(conn: &mut DbConn, clock: &dyn Clock, status: i64) -> CoreResult<()> {
    use crate::schema::outbox_events;
    let post = crate::statuses::get_status(conn, status).await?;
    if !post.local {
        return Ok(());
    }
    let pending: bool = diesel::select(diesel::dsl::exists(
        outbox_events::table
            .filter(outbox_events::kind.eq("status.updated"))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("payload->>'status_id' = ")
                    .bind::<diesel::sql_types::Text, _>(status.to_string()),
            ),
    ))
    .get_result(conn)
    .await?;
    if pending {
        return Ok(());
    }
    crate::events::record(
        conn,
        clock,
        crate::events::DomainEvent::StatusUpdated { status },
    )
    .await
}

/// A remote poll as its server last described it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemotePoll {
    pub options: Vec<(String, i64)>,
    pub multiple: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub voters_count: Option<i64>,
    pub closed: bool,
}

/// Keeps a remote poll's options and counts (on arrival and on Update).
pub async fn upsert_remote(conn: &mut DbConn, status: i64, p: &RemotePoll) -> CoreResult<()> {
    let titles: Vec<&str> = p.options.iter().map(|(t, _)| t.as_str()).collect();
    let counts: Vec<i64> = p.options.iter().map(|(_, c)| (*c).max(0)).collect();
    let voters = p
        .voters_count
        .unwrap_or_else(|| if p.multiple { 0 } else { counts.iter().sum() });
    diesel::insert_into(polls::table)
        .values((
            polls::status_id.eq(status),
            polls::options.eq(json!(titles)),
            polls::counts.eq(json!(counts)),
            polls::multiple.eq(p.multiple),
            polls::expires_at.eq(p.expires_at),
            polls::voters_count.eq(voters),
            polls::ended.eq(p.closed),
        ))
        .on_conflict(polls::status_id)
        .do_update()
        .set((
            polls::counts.eq(json!(counts)),
            polls::voters_count.eq(voters),
            polls::ended.eq(p.closed),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends polls whose time is up: their author (if local) and the local
/// faces that voted get a `poll` notification. How many ended.
pub async fn end_due(conn: &mut DbConn, clock: &dyn Clock, limit: i64) -> CoreResult<usize> {
    let now = clock.now();
    let due: Vec<i64> = polls::table
        .filter(polls::ended.eq(false))
        .filter(polls::expires_at.le(now))
        .select(polls::status_id)
        .limit(limit)
        .load(conn)
        .await?;
    for id in &due {
        let id = *id;
        conn.transaction::<_, CoreError, _>(async move |conn| {
            let n = diesel::update(polls::table.find(id).filter(polls::ended.eq(false)))
                .set(polls::ended.eq(true))
                .execute(conn)
                .await?;
            if n == 0 {
                return Ok(());
            }
            let Ok(status) = crate::statuses::get_status(conn, id).await else {
                return Ok(());
            };
            let author = crate::accounts::get_identity(conn, status.identity_id).await?;
            // Other servers see it closed, with its final counts.
            announce_counts(conn, clock, id).await?;
            let voters: Vec<Option<i64>> = poll_votes::table
                .filter(poll_votes::status_id.eq(id))
                .select(poll_votes::identity_id)
                .load(conn)
                .await?;
            let mut told: Vec<i64> = Vec::new();
            if author.is_local() {
                crate::statuses::notify_about(conn, clock, author.id, author.id, "poll", id)
                    .await?;
                told.push(author.id);
            }
            for v in voters.into_iter().flatten() {
                if told.contains(&v) {
                    continue;
                }
                let face = crate::accounts::get_identity(conn, v).await?;
                if face.is_local() {
                    crate::statuses::notify_about(conn, clock, v, author.id, "poll", id).await?;
                    told.push(v);
                }
            }
            Ok(())
        })
        .await?;
    }
    Ok(due.len())
}

/// Votes, and for a remote poll records the event that tells its author —
/// in one transaction, so a vote is never kept without going out. The
/// vote goes out from the voting face, or for an anonymous vote (`face`
/// none) from the owner's anonymous face of that thread.
pub async fn vote_and_tell(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status: i64,
    voter: &[u8],
    face: Option<i64>,
    anon: Option<(&crate::seal::KAnon, crate::anon::FacePer)>,
    choices: &[i64],
) -> CoreResult<Poll> {
    let post = crate::statuses::get_status(conn, status).await?;
    let author = crate::accounts::get_identity(conn, post.identity_id).await?;
    let voter = voter.to_vec();
    let choices = choices.to_vec();
    let anon = anon.map(|(k, per)| (k.clone(), per));
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let poll = vote(conn, clock, status, &voter, face, &choices).await?;
        if author.is_local() {
            announce_counts(conn, clock, status).await?;
            return Ok(poll);
        }
        let voter_face = match (face, &anon) {
            (Some(f), _) => f,
            (None, Some((k, per))) => {
                crate::anon::face_for_status(conn, clock, k, *per, status, true)
                    .await?
                    .id
            }
            (None, None) => return Err(CoreError::NotFound),
        };
        let mut sorted = choices.clone();
        sorted.sort_unstable();
        sorted.dedup();
        crate::events::record(
            conn,
            clock,
            crate::events::DomainEvent::PollVoted {
                poll: status,
                voter: voter_face,
                choices: sorted,
            },
        )
        .await?;
        Ok(poll)
    })
    .await
}
