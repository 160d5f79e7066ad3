//! Hand-written SQL that PostgreSQL prepares once per connection.
//!
//! `diesel::sql_query` marks its statement as never to be cached, so every
//! call parses and plans it anew (a prepare round trip, and the planner's
//! time, on each request). The hot paths' hand-written queries are fixed
//! text with their values bound, so they are safe to keep prepared:
//! `cached(sql_query(…).bind(…))` is the same query without that mark,
//! kept in the connection's statement cache under its text and bind types.
//!
//! Only text from a finite set may be wrapped — never text with a value
//! spliced in: the cache would grow without bound (and the value belongs
//! in a bind anyway).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;
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

impl<Q> Query for Cached<Q> {
    type SqlType = Untyped;
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
