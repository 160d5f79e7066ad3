//! Counts for the admin dashboard (Mastodon's measures), per day. Only what
//! is kept without tracking anyone: sign-ups (a login's creation day) and
//! reports. Activity per login (active users, interactions) is never
//! recorded here — the unlinkability contract forbids it — so it has no
//! measure.

use crate::db::DbConn;
use crate::error::CoreResult;
use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date};
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct DayCount {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A measure this instance keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    NewUsers,
    OpenedReports,
    ResolvedReports,
}

impl Measure {
    pub fn parse(key: &str) -> Option<Measure> {
        match key {
            "new_users" => Some(Measure::NewUsers),
            "opened_reports" => Some(Measure::OpenedReports),
            "resolved_reports" => Some(Measure::ResolvedReports),
            _ => None,
        }
    }

    fn day_sql(self) -> &'static str {
        match self {
            Measure::NewUsers => "SELECT created_on AS day, count(*) AS n FROM accounts
                                   WHERE created_on BETWEEN $1 AND $2 GROUP BY 1",
            Measure::OpenedReports => "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM reports
                                        WHERE (created_at AT TIME ZONE 'UTC')::date BETWEEN $1 AND $2 GROUP BY 1",
            Measure::ResolvedReports => "SELECT (action_taken_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM reports
                                          WHERE (action_taken_at AT TIME ZONE 'UTC')::date BETWEEN $1 AND $2 GROUP BY 1",
        }
    }
}

/// Each day from `from` to `to` (inclusive) with its count.
pub async fn per_day(
    conn: &mut DbConn,
    m: Measure,
    from: NaiveDate,
    to: NaiveDate,
) -> CoreResult<Vec<(NaiveDate, i64)>> {
    let rows: Vec<DayCount> = diesel::sql_query(m.day_sql())
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load(conn)
        .await?;
    Ok(from
        .iter_days()
        .take_while(|d| *d <= to)
        .map(|d| {
            let n = rows.iter().find(|r| r.day == d).map_or(0, |r| r.n);
            (d, n)
        })
        .collect())
}
