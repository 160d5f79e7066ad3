//! The instance's rules: what staff ask of everyone here, shown to anyone
//! and named by reports (`rule_ids`).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::instance_rules as r;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = r)]
pub struct InstanceRule {
    pub id: i64,
    pub text: String,
    pub hint: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
}

/// Every rule, in order.
pub async fn all(conn: &mut DbConn) -> CoreResult<Vec<InstanceRule>> {
    Ok(r::table
        .order((r::position.asc(), r::id.asc()))
        .select(InstanceRule::as_select())
        .load(conn)
        .await?)
}

fn check(text: &str, hint: &str) -> CoreResult<()> {
    if text.trim().is_empty() {
        return Err(CoreError::invalid("text", "can't be blank"));
    }
    if text.chars().count() > 1000 || hint.chars().count() > 1000 {
        return Err(CoreError::invalid("text", "is longer than 1000 characters"));
    }
    Ok(())
}

/// Adds a rule (at `position`, else after the others).
pub async fn add(
    conn: &mut DbConn,
    clock: &dyn Clock,
    text: &str,
    hint: &str,
    position: Option<i32>,
) -> CoreResult<InstanceRule> {
    check(text, hint)?;
    let position = match position {
        Some(p) => p,
        None => all(conn)
            .await?
            .last()
            .map_or(0, |l| l.position.saturating_add(1)),
    };
    Ok(diesel::insert_into(r::table)
        .values((
            r::id.eq(Id::generate(clock.now()).get()),
            r::text.eq(text.trim()),
            r::hint.eq(hint.trim()),
            r::position.eq(position),
            r::created_at.eq(clock.now()),
        ))
        .returning(InstanceRule::as_returning())
        .get_result(conn)
        .await?)
}

/// Changes the fields given.
pub async fn change(
    conn: &mut DbConn,
    id: i64,
    text: Option<&str>,
    hint: Option<&str>,
    position: Option<i32>,
) -> CoreResult<InstanceRule> {
    let old = r::table
        .find(id)
        .select(InstanceRule::as_select())
        .first(conn)
        .await
        .found()?;
    let text = text.unwrap_or(&old.text).trim().to_owned();
    let hint = hint.unwrap_or(&old.hint).trim().to_owned();
    check(&text, &hint)?;
    Ok(diesel::update(r::table.find(id))
        .set((
            r::text.eq(text),
            r::hint.eq(hint),
            r::position.eq(position.unwrap_or(old.position)),
        ))
        .returning(InstanceRule::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn remove(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    let n = diesel::delete(r::table.find(id)).execute(conn).await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// Whether every one of `ids` is a rule here.
pub async fn all_exist(conn: &mut DbConn, ids: &[i64]) -> CoreResult<bool> {
    if ids.is_empty() {
        return Ok(true);
    }
    let found: i64 = r::table
        .filter(r::id.eq_any(ids))
        .count()
        .get_result(conn)
        .await?;
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    Ok(usize::try_from(found).ok() == Some(distinct.len()))
}
