//! What live streams read from the database: the queue of stream events
//! (`events::record` writes it, one process at a time drains it) and the
//! few audience questions the fan-out asks of one event for many readers.

use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use std::future::Future;

/// One queued event as stored: its kind and payload.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Queued {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: Value,
}

impl Queued {
    pub fn event(&self) -> Option<DomainEvent> {
        DomainEvent::parse(&self.kind, &self.payload)
    }
}

/// An arbitrary advisory-lock key: one drainer at a time keeps the order.
const DRAIN_LOCK: i64 = 0x6775_6973_6573_7472;

/// Takes up to `limit` queued events, oldest first, and hands them to
/// `publish` inside the transaction that removes them: if publishing
/// fails, they stay queued. One process drains at a time (an advisory
/// lock), so events go out in the order they were queued; another process
/// finding the lock held takes nothing this round.
pub async fn drain<F, Fut>(conn: &mut DbConn, limit: i64, publish: F) -> CoreResult<Vec<Queued>>
where
    F: FnOnce(Vec<Queued>) -> Fut + Send,
    Fut: Future<Output = Result<(), String>> + Send,
{
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = Bool)]
        locked: bool,
    }
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let got = crate::prepared::cached(diesel::sql_query(format!(
            "SELECT pg_try_advisory_xact_lock({DRAIN_LOCK}) AS locked"
        )))
        .get_result::<Locked>(conn)
        .await?
        .locked;
        if !got {
            return Ok(Vec::new());
        }
        let rows: Vec<Queued> = crate::prepared::cached(
            diesel::sql_query(
                // ANY(ARRAY(...)): a generic plan of `IN` may walk the table.
                "DELETE FROM stream_events WHERE id = ANY(ARRAY(
                   SELECT id FROM stream_events ORDER BY id LIMIT $1))
                 RETURNING id, kind, payload",
            )
            .bind::<BigInt, _>(limit),
        )
        .load(conn)
        .await?;
        let mut rows = rows;
        rows.sort_by_key(|r| r.id);
        if !rows.is_empty() {
            publish(rows.clone()).await.map_err(CoreError::Internal)?;
        }
        Ok(rows)
    })
    .await
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Which of `faces` follow `author`.
pub async fn followers_among(
    conn: &mut DbConn,
    author: i64,
    faces: &[i64],
) -> CoreResult<Vec<i64>> {
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(
        "SELECT identity_id AS id FROM follows
          WHERE target_identity_id = $1 AND identity_id = ANY($2)",
    )
    .bind::<BigInt, _>(author)
    .bind::<Array<BigInt>, _>(faces)
    .load::<IdRow>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// The faces a status mentions.
pub async fn mentioned(conn: &mut DbConn, status: i64) -> CoreResult<Vec<i64>> {
    Ok(
        diesel::sql_query("SELECT identity_id AS id FROM mentions WHERE status_id = $1")
            .bind::<BigInt, _>(status)
            .load::<IdRow>(conn)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect(),
    )
}

/// How many events wait to be published (for tests and health).
pub async fn queued(conn: &mut DbConn) -> CoreResult<i64> {
    Ok(
        diesel::sql_query("SELECT count(*)::bigint AS id FROM stream_events")
            .get_result::<IdRow>(conn)
            .await?
            .id,
    )
}
