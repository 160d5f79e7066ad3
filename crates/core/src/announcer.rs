//! The shared `anonymous` actor: when the instance allows it, it boosts every
//! public top-level anonymous post, so people who follow it (here or on other
//! servers) see anonymous posts that otherwise have no followers. It is the
//! instance's own bot face: no login owns it, and a boost carries nothing of
//! the author but the post.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::CoreResult;
use crate::events::{self, DomainEvent};
use crate::id::Id;
use crate::models::{Identity, Status};
use crate::schema::{announcer_queue, identities, statuses};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::{Tier, Visibility};

/// Its handle (reserved: nobody may choose it).
pub const HANDLE: &str = "anonymous";

fn the_row() -> identities::BoxedQuery<'static, diesel::pg::Pg> {
    identities::table
        .filter(identities::handle.eq(HANDLE))
        .filter(identities::domain.is_null())
        .filter(identities::account_id.is_null())
        .filter(identities::bot.eq(true))
        .into_boxed()
}

/// The announcer, when it exists and is switched on.
pub async fn active(conn: &mut DbConn) -> CoreResult<Option<Identity>> {
    Ok(the_row()
        .filter(identities::suspended.eq(false))
        .select(Identity::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Creates the announcer (when `enabled`) or switches it off (it is kept,
/// suspended, so its followers come back when it is switched on again).
pub async fn ensure(conn: &mut DbConn, clock: &dyn Clock, enabled: bool) -> CoreResult<()> {
    let existing: Option<i64> = the_row()
        .select(identities::id)
        .first(conn)
        .await
        .optional()?;
    match existing {
        Some(id) => {
            diesel::update(identities::table.find(id))
                .set(identities::suspended.eq(!enabled))
                .execute(conn)
                .await?;
        }
        None if enabled => {
            diesel::insert_into(identities::table)
                .values((
                    identities::id.eq(Id::random().get()),
                    identities::tier.eq(Tier::Pseudonymous.as_str()),
                    identities::handle.eq(HANDLE),
                    identities::display_name.eq("Anonymous posts"),
                    identities::note.eq(
                        "Boosts every public anonymous post that starts a thread here. \
                         Anonymous posts cannot be tied to who wrote them.",
                    ),
                    identities::bot.eq(true),
                    identities::discoverable.eq(true),
                    identities::created_on.eq(clock.today()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
        None => {}
    }
    Ok(())
}

/// Boosts `status` if it is a public anonymous post that starts a thread and
/// the announcer is on — or, when `needs_approval`, puts it in the queue a
/// moderator approves from. Runs in the posting transaction.
pub(crate) async fn boost(
    conn: &mut DbConn,
    clock: &dyn Clock,
    author: &Identity,
    status: &Status,
    needs_approval: bool,
) -> CoreResult<()> {
    if author.tier() != Tier::Anonymous
        || status.in_reply_to_id.is_some()
        || status.visibility() != Visibility::Public
    {
        return Ok(());
    }
    let Some(announcer) = active(conn).await? else {
        return Ok(());
    };
    if needs_approval {
        diesel::insert_into(announcer_queue::table)
            .values(announcer_queue::status_id.eq(status.id))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        return Ok(());
    }
    reblog(conn, clock, &announcer, status.id, status.created_at).await
}

/// The announcer's boost of `status_id`, dated `at`.
async fn reblog(
    conn: &mut DbConn,
    clock: &dyn Clock,
    announcer: &Identity,
    status_id: i64,
    at: chrono::DateTime<chrono::Utc>,
) -> CoreResult<()> {
    let id = Id::generate(clock.now()).get();
    diesel::insert_into(statuses::table)
        .values((
            statuses::id.eq(id),
            statuses::identity_id.eq(announcer.id),
            statuses::visibility.eq(Visibility::Public.as_str()),
            statuses::thread_root_id.eq(id),
            statuses::reblog_of_id.eq(Some(status_id)),
            statuses::created_at.eq(at),
        ))
        .execute(conn)
        .await?;
    events::record(conn, clock, DomainEvent::ReblogCreated { reblog: id }).await?;
    Ok(())
}

/// The posts waiting for a moderator before the announcer boosts them,
/// oldest first (at most `limit`).
pub async fn queue(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<i64>> {
    Ok(announcer_queue::table
        .select(announcer_queue::status_id)
        .order(announcer_queue::status_id.asc())
        .limit(limit)
        .load(conn)
        .await?)
}

/// A moderator's decision on a waiting post: `approve` has the announcer
/// boost it now (dated now, so its followers see it when it is approved);
/// otherwise it is passed over. Either way it leaves the queue. Returns the
/// post; `NotFound` if it was not waiting, `Invalid` if the announcer is off.
pub async fn decide(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status_id: i64,
    approve: bool,
) -> CoreResult<Status> {
    conn.transaction::<_, crate::error::CoreError, _>(async move |conn| {
        let taken = diesel::delete(announcer_queue::table.find(status_id))
            .execute(conn)
            .await?;
        if taken == 0 {
            return Err(crate::error::CoreError::NotFound);
        }
        let status: Status = statuses::table
            .find(status_id)
            .select(Status::as_select())
            .first(conn)
            .await?;
        if approve {
            let Some(announcer) = active(conn).await? else {
                return Err(crate::error::CoreError::invalid(
                    "announcer",
                    "is switched off here",
                ));
            };
            reblog(conn, clock, &announcer, status_id, clock.now()).await?;
        }
        Ok(status)
    })
    .await
}
