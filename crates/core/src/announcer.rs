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
use crate::schema::{identities, statuses};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
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
/// the announcer is on. Runs in the posting transaction.
pub(crate) async fn boost(
    conn: &mut DbConn,
    clock: &dyn Clock,
    author: &Identity,
    status: &Status,
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
    let id = Id::generate(clock.now()).get();
    diesel::insert_into(statuses::table)
        .values((
            statuses::id.eq(id),
            statuses::identity_id.eq(announcer.id),
            statuses::visibility.eq(Visibility::Public.as_str()),
            statuses::thread_root_id.eq(id),
            statuses::reblog_of_id.eq(Some(status.id)),
            statuses::created_at.eq(status.created_at),
        ))
        .execute(conn)
        .await?;
    events::record(conn, clock, DomainEvent::ReblogCreated { reblog: id }).await?;
    Ok(())
}
