//! The instance and tier policy's versions (the server reads them as
//! `InstancePolicy`; here they are JSON). The newest is in force.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::{instance_policies as ip, live_versions};
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

/// The number every process compares with the one it loaded, for one
/// kind of live setting (`domains`, `incoming_rules`, `policy`).
pub async fn live_version_of(conn: &mut DbConn, name: &str) -> CoreResult<i64> {
    Ok(live_versions::table
        .find(name)
        .select(live_versions::version)
        .first(conn)
        .await?)
}

/// Every live number, by name.
pub async fn live_versions(conn: &mut DbConn) -> CoreResult<Vec<(String, i64)>> {
    Ok(live_versions::table
        .select((live_versions::name, live_versions::version))
        .load(conn)
        .await?)
}

/// The instance policy's live number.
pub async fn live_version(conn: &mut DbConn) -> CoreResult<i64> {
    live_version_of(conn, "policy").await
}

/// The newest version and its policy; with none yet, `first` becomes
/// version 1 (two processes starting at once agree on one).
pub async fn current_or_first(
    conn: &mut DbConn,
    clock: &dyn Clock,
    first: &Value,
) -> CoreResult<(i64, Value)> {
    if let Some(v) = current(conn).await? {
        return Ok(v);
    }
    diesel::insert_into(ip::table)
        .values((
            ip::version.eq(1_i64),
            ip::policy.eq(first),
            ip::made_on.eq(clock.today()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    current(conn)
        .await?
        .ok_or_else(|| CoreError::Internal("no instance policy".into()))
}

pub async fn current(conn: &mut DbConn) -> CoreResult<Option<(i64, Value)>> {
    Ok(ip::table
        .order(ip::version.desc())
        .select((ip::version, ip::policy))
        .first(conn)
        .await
        .optional()?)
}

/// Every version, newest first: (version, policy, day).
pub async fn history(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<(i64, Value, NaiveDate)>> {
    Ok(ip::table
        .order(ip::version.desc())
        .limit(limit)
        .select((ip::version, ip::policy, ip::made_on))
        .load(conn)
        .await?)
}

/// Adds the version after `after`; refused when another change came first.
pub async fn add(
    conn: &mut DbConn,
    clock: &dyn Clock,
    after: i64,
    policy: &Value,
) -> CoreResult<i64> {
    if current(conn).await?.map(|(v, _)| v) != Some(after) {
        return Err(CoreError::Conflict(
            "the policy changed meanwhile: read it again and retry",
        ));
    }
    let r = diesel::insert_into(ip::table)
        .values((
            ip::version.eq(after + 1),
            ip::policy.eq(policy),
            ip::made_on.eq(clock.today()),
        ))
        .execute(conn)
        .await
        .map_err(CoreError::from);
    match r {
        Ok(_) => Ok(after + 1),
        Err(e) if e.is_unique_violation() => Err(CoreError::Conflict(
            "the policy changed meanwhile: read it again and retry",
        )),
        Err(e) => Err(e),
    }
}
