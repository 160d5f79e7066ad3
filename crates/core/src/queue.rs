//! The outbox and the delivery queue, in PostgreSQL: claimed with
//! `FOR UPDATE SKIP LOCKED` so several workers can share them, and never
//! emptied before the work they stand for is recorded.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::CoreResult;
use crate::id::Id;
use crate::schema::{deliveries, follows, identities, outbox_events};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_events)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// The oldest unexpanded event, locked for this transaction.
pub async fn claim_event(conn: &mut DbConn) -> CoreResult<Option<Event>> {
    Ok(outbox_events::table
        .order(outbox_events::id.asc())
        .limit(1)
        .for_update()
        .skip_locked()
        .select(Event::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// An expanded event goes: what it stood for is now in `deliveries`. Only
/// a count stays (`outbox_events_expanded` in `worker_counts`, kept by the
/// expander), so no drained row keeps naming faces.
pub async fn done_with_event(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    diesel::delete(outbox_events::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds to one of the worker's counters.
pub async fn count(conn: &mut DbConn, name: &str, by: i64) -> CoreResult<()> {
    use crate::schema::worker_counts;
    diesel::insert_into(worker_counts::table)
        .values((worker_counts::name.eq(name), worker_counts::value.eq(by)))
        .on_conflict(worker_counts::name)
        .do_update()
        .set(worker_counts::value.eq(worker_counts::value + by))
        .execute(conn)
        .await?;
    Ok(())
}

/// The worker's counters, for operators.
pub async fn counts(conn: &mut DbConn) -> CoreResult<Vec<(String, i64)>> {
    use crate::schema::worker_counts;
    Ok(worker_counts::table
        .order(worker_counts::name.asc())
        .select((worker_counts::name, worker_counts::value))
        .load(conn)
        .await?)
}

/// One activity for one inbox, signed by a face (or the instance actor).
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub inbox_url: String,
    pub signer_identity_id: Option<i64>,
    /// Shared by the deliveries of one fan-out: one copy in memory,
    /// however many inboxes it goes to.
    pub activity: std::sync::Arc<serde_json::Value>,
    pub not_before: Option<DateTime<Utc>>,
}

/// How far apart one fan-out's deliveries to one host fall due: the k-th
/// to a host is due k steps after the first. The queue is leased oldest
/// first, so a post to 10 000 inboxes on one big server interleaves with
/// every other host's deliveries (each host's first is due at once) instead
/// of holding them back until the big server's last one is out — and one
/// host still can take up to 5 000 a second of it.
const PER_HOST_STEP_MICROS: i64 = 200;

pub async fn enqueue(
    conn: &mut DbConn,
    clock: &dyn Clock,
    items: &[NewDelivery],
) -> CoreResult<()> {
    let now = clock.now();
    let mut turn: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    // Ids of one instant differ in 20 random bits: a thousand of them would
    // collide more often than not, so each is drawn again until it is new.
    let mut taken = std::collections::HashSet::new();
    let mut fresh_id = || loop {
        let id = Id::generate(now).get();
        if taken.insert(id) {
            return id;
        }
    };
    let rows: Vec<_> = items
        .iter()
        .map(|d| {
            let host = d
                .inbox_url
                .split('/')
                .nth(2)
                .unwrap_or(d.inbox_url.as_str());
            let k = turn.entry(host).or_insert(0);
            let due = d.not_before.unwrap_or(now)
                + chrono::Duration::microseconds(*k * PER_HOST_STEP_MICROS);
            *k += 1;
            (
                deliveries::id.eq(fresh_id()),
                deliveries::inbox_url.eq(&d.inbox_url),
                deliveries::signer_identity_id.eq(d.signer_identity_id),
                deliveries::activity.eq(d.activity.as_ref()),
                deliveries::next_at.eq(due),
            )
        })
        .collect();
    // One statement per thousand rows (PostgreSQL takes 65 535 parameters).
    for chunk in rows.chunks(1000) {
        diesel::insert_into(deliveries::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub inbox_url: String,
    pub signer_identity_id: Option<i64>,
    pub activity: serde_json::Value,
    pub attempts: i32,
    pub first_tried_at: Option<DateTime<Utc>>,
    pub next_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// Leases due deliveries for `lease`: a worker that dies mid-send leaves
/// them to be tried again when the lease runs out.
pub async fn lease_due(
    conn: &mut DbConn,
    clock: &dyn Clock,
    limit: i64,
    lease: chrono::Duration,
) -> CoreResult<Vec<Delivery>> {
    let now = clock.now();
    // `id = ANY(ARRAY(...))`, not `id IN (...)`: the statement stays
    // prepared, and the generic plan PostgreSQL settles on for `IN` joined
    // the batch to a walk of the whole queue (a hash join), every batch.
    Ok(crate::prepared::cached(diesel::sql_query(
        "UPDATE deliveries SET next_at = $1 WHERE id = ANY(ARRAY(
             SELECT id FROM deliveries WHERE next_at <= $2 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED))
         RETURNING id, inbox_url, signer_identity_id, activity, attempts, first_tried_at, next_at, last_error",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now + lease)
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::BigInt, _>(limit))
    .load::<DeliveryRow>(conn)
    .await?
    .into_iter()
    .map(DeliveryRow::into_delivery)
    .collect())
}

#[derive(QueryableByName)]
struct DeliveryRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    inbox_url: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    signer_identity_id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    activity: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    first_tried_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    next_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_error: Option<String>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Delivery {
        Delivery {
            id: self.id,
            inbox_url: self.inbox_url,
            signer_identity_id: self.signer_identity_id,
            activity: self.activity,
            attempts: self.attempts,
            first_tried_at: self.first_tried_at,
            next_at: self.next_at,
            last_error: self.last_error,
        }
    }
}

pub async fn finish(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    finish_many(conn, &[id]).await
}

/// Done with these deliveries, in one statement.
pub async fn finish_many(conn: &mut DbConn, ids: &[i64]) -> CoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::delete(deliveries::table.filter(deliveries::id.eq_any(ids)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Puts a delivery back until `at`, counting no attempt.
pub async fn postpone(conn: &mut DbConn, id: i64, at: DateTime<Utc>) -> CoreResult<()> {
    diesel::update(deliveries::table.find(id))
        .set(deliveries::next_at.eq(at))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn retry_at(
    conn: &mut DbConn,
    d: &Delivery,
    at: DateTime<Utc>,
    first: DateTime<Utc>,
    error: &str,
) -> CoreResult<()> {
    diesel::update(deliveries::table.find(d.id))
        .set((
            deliveries::attempts.eq(d.attempts + 1),
            deliveries::first_tried_at.eq(Some(first)),
            deliveries::next_at.eq(at),
            deliveries::last_error.eq(Some(error.chars().take(500).collect::<String>())),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn pending_count(conn: &mut DbConn) -> CoreResult<i64> {
    Ok(deliveries::table.count().get_result(conn).await?)
}

/// Where a local face's followers on other servers receive its posts: one
/// inbox per server (the shared inbox when there is one).
pub async fn remote_follower_inboxes(
    conn: &mut DbConn,
    identity_id: i64,
) -> CoreResult<Vec<String>> {
    let rows: Vec<(Option<String>, Option<String>)> = follows::table
        .inner_join(identities::table.on(identities::id.eq(follows::identity_id)))
        .filter(follows::target_identity_id.eq(identity_id))
        .filter(identities::domain.is_not_null())
        .select((identities::shared_inbox_url, identities::inbox_url))
        .load(conn)
        .await?;
    let mut out: Vec<String> = rows
        .into_iter()
        .filter_map(|(shared, inbox)| shared.or(inbox))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Host health, as stored (Unix day numbers of failures since last heard from).
pub async fn host_failed_days(conn: &mut DbConn, host: &str) -> CoreResult<Vec<i64>> {
    use crate::schema::hosts;
    Ok(hosts::table
        .find(host)
        .select(hosts::failed_days)
        .first::<Vec<i64>>(conn)
        .await
        .optional()?
        .unwrap_or_default())
}

pub async fn set_host_failed_days(conn: &mut DbConn, host: &str, days: &[i64]) -> CoreResult<()> {
    use crate::schema::hosts;
    diesel::insert_into(hosts::table)
        .values((hosts::host.eq(host), hosts::failed_days.eq(days)))
        .on_conflict(hosts::host)
        .do_update()
        .set(hosts::failed_days.eq(days))
        .execute(conn)
        .await?;
    Ok(())
}
