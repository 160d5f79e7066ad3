//! Hand-written SQL that PostgreSQL prepares once per connection.
//!
//! `diesel::sql_query` marks its statement as never to be cached, so every
//! call parses and plans it anew (a prepare round trip, and the planner's
//! time, on each request). The hot paths' hand-written queries are fixed
//! text with their values bound, so they are safe to keep prepared:
//! `cached(sql_query(…).bind(…))` is the same query without that mark,
//! kept in the connection's statement cache under its text and bind types.
//!
//! The same holds for a query built with diesel's DSL around a fixed
//! `diesel::dsl::sql` fragment (which diesel marks the same way).
//!
//! Only text from a finite set may be wrapped — never text with a value
//! spliced in: the cache would grow without bound (and the value belongs
//! in a bind anyway).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::QueryResult;

/// A hand-written statement that stays prepared (see the module).
#[derive(Debug, Clone)]
#[must_use = "queries run only when loaded or executed"]
pub struct Cached<Q>(Q);

/// Keeps `query` (a `diesel::sql_query` with its binds, of fixed text)
/// prepared on the connection.
pub fn cached<Q>(query: Q) -> Cached<Q> {
    Cached(query)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    /// The one difference from `sql_query`: fixed text is safe to keep.
    fn is_safe_to_cache_prepared(&self, _: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// A `sql_query`'s rows are untyped; a query built with diesel's DSL (with
/// a fixed `sql` fragment in it) keeps its row type.
impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

/// Loads a kept-prepared statement under its generic plan, the one
/// PostgreSQL makes once per connection for any values.
///
/// Left to itself, PostgreSQL plans a prepared statement anew for each
/// call's values (a custom plan) as long as the generic plan's estimated
/// cost is higher than the custom plans' — and for a timeline merge it
/// always is: a reader following ten faces gets a custom plan costed for
/// ten, while the generic one is costed for the average reader. Planning
/// the home merge (some forty relations and sub-queries) took 63% of the
/// machine in `guise-bench profile growth`, several times what running it
/// costs. The generic plan of each such statement is checked to read rows
/// bounded by the page (`crates/server/tests/plans.rs`). `SET LOCAL` in a
/// transaction of its own: a request dropped half-way leaves the
/// connection mid-transaction, which the pool discards, never a connection
/// whose setting outlives the statement.
pub async fn generic<Q, U>(
    conn: &mut crate::db::DbConn,
    query: Cached<Q>,
) -> crate::error::CoreResult<Vec<U>>
where
    Q: QueryFragment<Pg> + Query<SqlType = diesel::sql_types::Untyped> + Send + 'static,
    U: diesel::QueryableByName<Pg> + Send + 'static,
{
    use diesel_async::{
        AnsiTransactionManager, AsyncConnection, RunQueryDsl, SimpleAsyncConnection,
        TransactionManager,
    };
    const FORCE: &str = "SET LOCAL plan_cache_mode = force_generic_plan";
    // The transaction and the setting in one message (one round trip, one
    // wake-up of the backend), begun through diesel's transaction manager
    // so that it knows of the transaction (a dropped request's connection
    // is still seen as mid-transaction and discarded).
    match AnsiTransactionManager::begin_transaction_sql(&mut *conn, &format!("BEGIN; {FORCE}"))
        .await
    {
        Ok(()) => match query.load::<U>(&mut *conn).await {
            Ok(rows) => {
                <AnsiTransactionManager as TransactionManager<_>>::commit_transaction(&mut *conn)
                    .await?;
                Ok(rows)
            }
            Err(e) => {
                // The query's error is the one to report.
                let _ = <AnsiTransactionManager as TransactionManager<_>>::rollback_transaction(
                    &mut *conn,
                )
                .await;
                Err(e.into())
            }
        },
        // Inside a caller's transaction: a savepoint of its own.
        Err(diesel::result::Error::AlreadyInTransaction) => {
            conn.transaction::<_, crate::error::CoreError, _>(async move |conn| {
                conn.batch_execute(FORCE).await?;
                Ok(query.load::<U>(conn).await?)
            })
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_and_binds_are_kept_and_the_statement_may_be_cached() {
        let plain = diesel::sql_query("SELECT $1::int8 + $2::int8 AS n")
            .bind::<diesel::sql_types::BigInt, _>(1_i64)
            .bind::<diesel::sql_types::BigInt, _>(2_i64);
        assert!(
            !plain.is_safe_to_cache_prepared(&Pg).unwrap(),
            "the reason this module exists"
        );
        let kept = cached(plain.clone());
        assert_eq!(
            diesel::debug_query::<Pg, _>(&kept).to_string(),
            diesel::debug_query::<Pg, _>(&plain).to_string()
        );
        assert!(kept.is_safe_to_cache_prepared(&Pg).unwrap());
    }
}
