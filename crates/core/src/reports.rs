//! Reports as staff handle them (Mastodon's admin reports): listed and
//! filtered, taken on by a staff login, resolved and reopened. Who took a
//! report on and who acted on it live in `report_handling`, which names
//! staff logins only (the database refuses any other).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::keepings::Report;
use crate::schema::{report_handling as rh, reports};
use crate::statuses::Page;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::collections::HashMap;

/// Which reports a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Acted on (true) or still open (false, the default).
    pub resolved: bool,
    /// Filed by this face.
    pub reporter: Option<i64>,
    /// About this face.
    pub target: Option<i64>,
}

/// The staff logins on a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handling {
    pub assigned: Option<i64>,
    pub action_taken_by: Option<i64>,
}

/// A page of reports, newest first (`min_id`: the page just newer, oldest first).
pub async fn list(conn: &mut DbConn, filter: Filter, page: &Page) -> CoreResult<Vec<Report>> {
    let mut q = reports::table.select(Report::as_select()).into_boxed();
    q = if filter.resolved {
        q.filter(reports::action_taken_at.is_not_null())
    } else {
        q.filter(reports::action_taken_at.is_null())
    };
    if let Some(r) = filter.reporter {
        q = q.filter(reports::identity_id.eq(r));
    }
    if let Some(t) = filter.target {
        q = q.filter(reports::target_identity_id.eq(t));
    }
    if let Some(m) = page.max_id {
        q = q.filter(reports::id.lt(m));
    }
    if let Some(s) = page.since_id {
        q = q.filter(reports::id.gt(s));
    }
    let up = page.ascending();
    if let Some(m) = page.min_id {
        q = q.filter(reports::id.gt(m));
    }
    q = if up {
        q.order(reports::id.asc())
    } else {
        q.order(reports::id.desc())
    };
    let mut out: Vec<Report> = q.limit(page.limit).load(conn).await?;
    if up {
        out.reverse();
    }
    Ok(out)
}

pub async fn get(conn: &mut DbConn, id: i64) -> CoreResult<Report> {
    reports::table
        .find(id)
        .select(Report::as_select())
        .first(conn)
        .await
        .found()
}

/// The staff logins on each of `ids` (reports nobody handled are missing).
pub async fn handling(conn: &mut DbConn, ids: &[i64]) -> CoreResult<HashMap<i64, Handling>> {
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = rh::table
        .filter(rh::report_id.eq_any(ids))
        .select((
            rh::report_id,
            rh::assigned_account_id,
            rh::action_taken_by_account_id,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, assigned, action_taken_by)| {
            (
                id,
                Handling {
                    assigned,
                    action_taken_by,
                },
            )
        })
        .collect())
}

async fn set_handling(conn: &mut DbConn, id: i64, h: Handling) -> CoreResult<()> {
    get(conn, id).await?;
    diesel::insert_into(rh::table)
        .values((
            rh::report_id.eq(id),
            rh::assigned_account_id.eq(h.assigned),
            rh::action_taken_by_account_id.eq(h.action_taken_by),
        ))
        .on_conflict(rh::report_id)
        .do_update()
        .set((
            rh::assigned_account_id.eq(h.assigned),
            rh::action_taken_by_account_id.eq(h.action_taken_by),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

async fn current(conn: &mut DbConn, id: i64) -> CoreResult<Handling> {
    Ok(handling(conn, &[id])
        .await?
        .get(&id)
        .copied()
        .unwrap_or_default())
}

/// Gives the report to `staff` (a staff login), or to nobody.
pub async fn assign(conn: &mut DbConn, id: i64, staff: Option<i64>) -> CoreResult<Report> {
    let h = current(conn, id).await?;
    set_handling(
        conn,
        id,
        Handling {
            assigned: staff,
            ..h
        },
    )
    .await?;
    get(conn, id).await
}

/// Marks the report acted on, by `staff` (None: the command line).
pub async fn resolve(
    conn: &mut DbConn,
    clock: &dyn Clock,
    id: i64,
    staff: Option<i64>,
) -> CoreResult<Report> {
    mark(conn, id, Some(clock.now()), staff).await
}

/// Opens a resolved report again.
pub async fn reopen(conn: &mut DbConn, id: i64) -> CoreResult<Report> {
    mark(conn, id, None, None).await
}

/// Sets when the report was acted on (None: open) and by whom.
async fn mark(
    conn: &mut DbConn,
    id: i64,
    at: Option<chrono::DateTime<chrono::Utc>>,
    by: Option<i64>,
) -> CoreResult<Report> {
    let n = diesel::update(reports::table.find(id))
        .set(reports::action_taken_at.eq(at))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    let h = current(conn, id).await?;
    set_handling(
        conn,
        id,
        Handling {
            action_taken_by: by,
            ..h
        },
    )
    .await?;
    get(conn, id).await
}

/// Files a report that came from another server (a `Flag` from `sender`):
/// about `target` (one of this instance's faces; None: the author of the
/// first post named) and those of `statuses` that are its posts. None when
/// it names nothing here.
pub async fn file_remote(
    conn: &mut DbConn,
    clock: &dyn Clock,
    sender: i64,
    target: Option<i64>,
    statuses: &[i64],
    comment: &str,
) -> CoreResult<Option<Report>> {
    use crate::schema::statuses as st;
    let authors: Vec<(i64, i64)> = st::table
        .filter(st::id.eq_any(statuses))
        .filter(st::local.eq(true))
        .select((st::id, st::identity_id))
        .load(conn)
        .await?;
    let target = match target.or_else(|| {
        statuses
            .iter()
            .find_map(|s| authors.iter().find(|(id, _)| id == s).map(|(_, a)| *a))
    }) {
        Some(t) => t,
        None => return Ok(None),
    };
    let mut kept: Vec<i64> = authors
        .iter()
        .filter(|(_, a)| *a == target)
        .map(|(id, _)| *id)
        .collect();
    kept.sort_unstable();
    let comment: String = comment.chars().take(1000).collect();
    Ok(Some(
        diesel::insert_into(reports::table)
            .values((
                reports::id.eq(crate::id::Id::generate(clock.now()).get()),
                reports::identity_id.eq(Some(sender)),
                reports::target_identity_id.eq(target),
                reports::status_ids.eq(kept),
                reports::comment.eq(comment),
                reports::category.eq("other"),
                reports::rule_ids.eq(Vec::<i64>::new()),
                reports::forwarded.eq(false),
                reports::created_at.eq(clock.now()),
            ))
            .returning(Report::as_returning())
            .get_result(conn)
            .await?,
    ))
}

/// Marks a report as forwarded to the reported face's server.
pub async fn mark_forwarded(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    diesel::update(reports::table.find(id))
        .set(reports::forwarded.eq(true))
        .execute(conn)
        .await?;
    Ok(())
}
