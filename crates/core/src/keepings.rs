//! What a face keeps for itself: bookmarks, favourites listed, pinned
//! posts, muted threads, notes on other faces, blocked domains, timeline
//! markers, and the reports it files. Every row belongs to a face, never to
//! a login (unlinkability rule 6).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::id::Id;
use crate::models::{Identity, Status};
use crate::schema::{
    account_notes, bookmarks, face_domain_blocks, favourites, markers, pinned_statuses, reports,
    thread_mutes,
};
use crate::statuses::{self as st, Page};
use chrono::{DateTime, Timelike, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// How many posts a face may pin.
pub const MAX_PINNED: i64 = 5;

/// (cursor, status id) pairs of a face's list, newest first, paginated by
/// the list's own row ids as Mastodon does.
pub type Listed = Vec<(i64, i64)>;

macro_rules! listed {
    ($conn:expr, $table:ident, $face:expr, $page:expr) => {{
        let asc = $page.ascending();
        let mut q = $table::table
            .filter($table::identity_id.eq($face))
            .select(($table::id, $table::status_id))
            .into_boxed();
        if let Some(m) = $page.max_id {
            q = q.filter($table::id.lt(m));
        }
        if let Some(s) = $page.since_id {
            q = q.filter($table::id.gt(s));
        }
        if let Some(m) = $page.min_id {
            q = q.filter($table::id.gt(m));
        }
        q = if asc {
            q.order($table::id.asc())
        } else {
            q.order($table::id.desc())
        };
        let mut rows: Listed = q.limit($page.limit).load($conn).await?;
        if asc {
            rows.reverse();
        }
        rows
    }};
}

/// The face's favourites, newest first.
pub async fn favourites_of(conn: &mut DbConn, face: i64, page: &Page) -> CoreResult<Listed> {
    Ok(listed!(conn, favourites, face, page))
}

/// The face's bookmarks, newest first.
pub async fn bookmarks_of(conn: &mut DbConn, face: i64, page: &Page) -> CoreResult<Listed> {
    Ok(listed!(conn, bookmarks, face, page))
}

/// Bookmarks a status the face can see (again: nothing changes).
pub async fn bookmark(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    status_id: i64,
) -> CoreResult<()> {
    st::visible_status(conn, Some(face.id), status_id).await?;
    diesel::insert_into(bookmarks::table)
        .values((
            bookmarks::id.eq(Id::generate(clock.now()).get()),
            bookmarks::identity_id.eq(face.id),
            bookmarks::status_id.eq(status_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unbookmark(conn: &mut DbConn, face: &Identity, status_id: i64) -> CoreResult<()> {
    diesel::delete(
        bookmarks::table
            .filter(bookmarks::identity_id.eq(face.id))
            .filter(bookmarks::status_id.eq(status_id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Pins one of the face's own public or unlisted posts (not a boost) to
/// its profile; at most `MAX_PINNED`.
pub async fn pin(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    status_id: i64,
) -> CoreResult<()> {
    let s: Status = st::get_status(conn, status_id).await?;
    if s.identity_id != face.id {
        return Err(CoreError::NotFound);
    }
    if s.reblog_of_id.is_some() || !matches!(s.visibility.as_str(), "public" | "unlisted") {
        return Err(CoreError::invalid(
            "status",
            "only your own public or unlisted posts can be pinned",
        ));
    }
    let pinned: i64 = pinned_statuses::table
        .filter(pinned_statuses::identity_id.eq(face.id))
        .count()
        .get_result(conn)
        .await?;
    if pinned >= MAX_PINNED {
        return Err(CoreError::invalid(
            "status",
            format!("at most {MAX_PINNED} posts can be pinned"),
        ));
    }
    diesel::insert_into(pinned_statuses::table)
        .values((
            pinned_statuses::identity_id.eq(face.id),
            pinned_statuses::status_id.eq(status_id),
            pinned_statuses::pinned_at.eq(clock.now()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unpin(conn: &mut DbConn, face: &Identity, status_id: i64) -> CoreResult<()> {
    diesel::delete(
        pinned_statuses::table
            .filter(pinned_statuses::identity_id.eq(face.id))
            .filter(pinned_statuses::status_id.eq(status_id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A face's pinned posts, most recently pinned first.
pub async fn pinned_of(conn: &mut DbConn, face: i64) -> CoreResult<Vec<i64>> {
    Ok(pinned_statuses::table
        .filter(pinned_statuses::identity_id.eq(face))
        .order(pinned_statuses::pinned_at.desc())
        .select(pinned_statuses::status_id)
        .load(conn)
        .await?)
}

/// Mutes (or unmutes) the thread a status belongs to, for notifications:
/// the face must take part in it (its author or mentioned) or see it.
pub async fn mute_thread(
    conn: &mut DbConn,
    face: &Identity,
    status_id: i64,
    mute: bool,
) -> CoreResult<()> {
    let s = st::visible_status(conn, Some(face.id), status_id).await?;
    if mute {
        diesel::insert_into(thread_mutes::table)
            .values((
                thread_mutes::identity_id.eq(face.id),
                thread_mutes::thread_root_id.eq(s.thread_root_id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(
            thread_mutes::table
                .filter(thread_mutes::identity_id.eq(face.id))
                .filter(thread_mutes::thread_root_id.eq(s.thread_root_id)),
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Whether `face` muted the thread rooted at `root`.
pub async fn thread_muted(conn: &mut DbConn, face: i64, root: i64) -> CoreResult<bool> {
    Ok(
        diesel::select(diesel::dsl::exists(thread_mutes::table.find((face, root))))
            .get_result(conn)
            .await?,
    )
}

/// A face's private note on another face; empty removes it.
pub async fn set_note(
    conn: &mut DbConn,
    face: &Identity,
    target: &Identity,
    comment: &str,
) -> CoreResult<()> {
    if comment.chars().count() > 2000 {
        return Err(CoreError::invalid(
            "comment",
            "is longer than 2000 characters",
        ));
    }
    if comment.trim().is_empty() {
        diesel::delete(account_notes::table.find((face.id, target.id)))
            .execute(conn)
            .await?;
        return Ok(());
    }
    diesel::insert_into(account_notes::table)
        .values((
            account_notes::identity_id.eq(face.id),
            account_notes::target_identity_id.eq(target.id),
            account_notes::comment.eq(comment),
        ))
        .on_conflict((
            account_notes::identity_id,
            account_notes::target_identity_id,
        ))
        .do_update()
        .set(account_notes::comment.eq(comment))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn note_on(conn: &mut DbConn, face: i64, target: i64) -> CoreResult<String> {
    Ok(account_notes::table
        .find((face, target))
        .select(account_notes::comment)
        .first(conn)
        .await
        .optional()?
        .unwrap_or_default())
}

/// A domain as a face blocks it: lower-case host, as blocks compare hosts.
fn domain_key(d: &str) -> CoreResult<String> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let u = url::Url::parse(&format!("https://{d}/"))
        .map_err(|_| CoreError::invalid("domain", "is not a domain"))?;
    u.host_str()
        .filter(|h| !h.is_empty() && !d.contains('/') && !d.contains('@'))
        .map(str::to_owned)
        .ok_or_else(|| CoreError::invalid("domain", "is not a domain"))
}

pub async fn block_domain(conn: &mut DbConn, face: &Identity, domain: &str) -> CoreResult<()> {
    let d = domain_key(domain)?;
    diesel::insert_into(face_domain_blocks::table)
        .values((
            face_domain_blocks::identity_id.eq(face.id),
            face_domain_blocks::domain.eq(d),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn unblock_domain(conn: &mut DbConn, face: &Identity, domain: &str) -> CoreResult<()> {
    let d = domain_key(domain)?;
    diesel::delete(face_domain_blocks::table.find((face.id, d)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn blocked_domains(conn: &mut DbConn, face: i64, limit: i64) -> CoreResult<Vec<String>> {
    Ok(face_domain_blocks::table
        .filter(face_domain_blocks::identity_id.eq(face))
        .order(face_domain_blocks::domain.asc())
        .limit(limit)
        .select(face_domain_blocks::domain)
        .load(conn)
        .await?)
}

/// Whether `face` blocked the domain `other`'s face lives on.
pub async fn domain_blocked(conn: &mut DbConn, face: i64, other: &Identity) -> CoreResult<bool> {
    let Some(d) = &other.domain else {
        return Ok(false);
    };
    let host = d.split(':').next().unwrap_or(d).to_owned();
    Ok(diesel::select(diesel::dsl::exists(
        face_domain_blocks::table.find((face, host)),
    ))
    .get_result(conn)
    .await?)
}

/// A timeline marker: the last item read, its version and when it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub last_read_id: i64,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

pub const TIMELINES: [&str; 2] = ["home", "notifications"];

pub async fn markers_of(conn: &mut DbConn, face: i64) -> CoreResult<Vec<(String, Marker)>> {
    let rows: Vec<(String, i64, i32, DateTime<Utc>)> = markers::table
        .filter(markers::identity_id.eq(face))
        .select((
            markers::timeline,
            markers::last_read_id,
            markers::version,
            markers::updated_at,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(t, last_read_id, version, updated_at)| {
            (
                t,
                Marker {
                    last_read_id,
                    version,
                    updated_at,
                },
            )
        })
        .collect())
}

/// Moves a face's marker; its time is kept to the minute.
pub async fn set_marker(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    timeline: &str,
    last_read_id: i64,
) -> CoreResult<()> {
    if !TIMELINES.contains(&timeline) {
        return Err(CoreError::invalid("timeline", "is home or notifications"));
    }
    let now = minute(clock.now());
    diesel::insert_into(markers::table)
        .values((
            markers::identity_id.eq(face),
            markers::timeline.eq(timeline),
            markers::last_read_id.eq(last_read_id),
            markers::version.eq(0),
            markers::updated_at.eq(now),
        ))
        .on_conflict((markers::identity_id, markers::timeline))
        .do_update()
        .set((
            markers::last_read_id.eq(last_read_id),
            markers::version.eq(markers::version + 1),
            markers::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// `t` to the minute.
pub fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// A report as filed by a face.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub target: i64,
    pub status_ids: Vec<i64>,
    pub comment: String,
    pub category: String,
    pub rule_ids: Vec<i64>,
    pub forward: bool,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: i64,
    pub identity_id: Option<i64>,
    pub target_identity_id: i64,
    pub status_ids: Vec<i64>,
    pub comment: String,
    pub category: String,
    pub rule_ids: Vec<i64>,
    pub forwarded: bool,
    pub created_at: DateTime<Utc>,
    pub action_taken_at: Option<DateTime<Utc>>,
}

/// Files a report about a face (any face: anonymous ones included — the
/// report names the face, which names nobody) and some of its posts.
pub async fn report(
    conn: &mut DbConn,
    clock: &dyn Clock,
    reporter: &Identity,
    r: NewReport,
) -> CoreResult<Report> {
    if r.comment.chars().count() > 1000 {
        return Err(CoreError::invalid(
            "comment",
            "is longer than 1000 characters",
        ));
    }
    let category = if !r.rule_ids.is_empty() {
        "violation".to_owned()
    } else if ["spam", "legal", "violation", "other"].contains(&r.category.as_str()) {
        r.category.clone()
    } else {
        return Err(CoreError::invalid(
            "category",
            "is spam, legal, violation or other",
        ));
    };
    crate::accounts::get_identity(conn, r.target).await?;
    if !crate::rules::all_exist(conn, &r.rule_ids).await? {
        return Err(CoreError::invalid(
            "rule_ids",
            "are not rules of this instance",
        ));
    }
    // Only posts of the reported face, which the reporter can see.
    let mut status_ids = Vec::new();
    for id in r.status_ids.iter().take(100) {
        let s = st::visible_status(conn, Some(reporter.id), *id).await?;
        if s.identity_id != r.target {
            return Err(CoreError::invalid(
                "status_ids",
                "are not posts of the reported account",
            ));
        }
        status_ids.push(*id);
    }
    Ok(diesel::insert_into(reports::table)
        .values((
            reports::id.eq(Id::generate(clock.now()).get()),
            reports::identity_id.eq(Some(reporter.id)),
            reports::target_identity_id.eq(r.target),
            reports::status_ids.eq(status_ids),
            reports::comment.eq(&r.comment),
            reports::category.eq(category),
            reports::rule_ids.eq(&r.rule_ids),
            // Set once the server has sent it on as a `Flag`.
            reports::forwarded.eq(false),
            reports::created_at.eq(clock.now()),
        ))
        .returning(Report::as_returning())
        .get_result(conn)
        .await?)
}

/// A hashtag as a face sees it: whether it follows it, and its use over the
/// last week (per day: posts, and faces that posted).
#[derive(Debug, Clone)]
pub struct TagInfo {
    pub name: String,
    pub following: bool,
    /// (day, uses, accounts), today first.
    pub history: Vec<(chrono::NaiveDate, i64, i64)>,
}

/// A hashtag's name as stored: without `#`, lower case, letters, digits and `_`.
pub fn tag_name(s: &str) -> CoreResult<String> {
    let n = s.trim().trim_start_matches('#').to_lowercase();
    if n.is_empty()
        || n.chars().count() > 100
        || !n.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(CoreError::NotFound);
    }
    Ok(n)
}

pub async fn tag_info(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: Option<i64>,
    name: &str,
) -> CoreResult<TagInfo> {
    use crate::schema::followed_tags;
    let name = tag_name(name)?;
    let following = match face {
        Some(f) => {
            diesel::select(diesel::dsl::exists(
                followed_tags::table.find((f, name.clone())),
            ))
            .get_result(conn)
            .await?
        }
        None => false,
    };
    let today = clock.today();
    let since = today - chrono::Duration::days(6);
    #[derive(QueryableByName)]
    struct Day {
        #[diesel(sql_type = diesel::sql_types::Date)]
        day: chrono::NaiveDate,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        uses: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        accounts: i64,
    }
    // Public posts only, from the tag's index: bounded by a week of the tag.
    let since_id =
        crate::id::Id::floor_of(since.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()).get();
    let days: Vec<Day> = diesel::sql_query(
        "SELECT (s.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS uses,
                count(DISTINCT s.identity_id) AS accounts
           FROM status_tags t JOIN statuses s ON s.id = t.status_id
          WHERE t.name = $1 AND t.status_id >= $2 AND s.visibility = 'public'
          GROUP BY 1",
    )
    .bind::<diesel::sql_types::Text, _>(&name)
    .bind::<diesel::sql_types::BigInt, _>(since_id)
    .load(conn)
    .await?;
    let history = (0..7)
        .map(|back| {
            let d = today - chrono::Duration::days(back);
            let found = days.iter().find(|x| x.day == d);
            (
                d,
                found.map_or(0, |x| x.uses),
                found.map_or(0, |x| x.accounts),
            )
        })
        .collect();
    Ok(TagInfo {
        name,
        following,
        history,
    })
}

pub async fn follow_tag(
    conn: &mut DbConn,
    face: &Identity,
    name: &str,
    follow: bool,
) -> CoreResult<()> {
    use crate::schema::followed_tags;
    let name = tag_name(name)?;
    if follow {
        diesel::insert_into(followed_tags::table)
            .values((
                followed_tags::identity_id.eq(face.id),
                followed_tags::name.eq(name),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(followed_tags::table.find((face.id, name)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn followed_tags(conn: &mut DbConn, face: i64) -> CoreResult<Vec<String>> {
    use crate::schema::followed_tags;
    Ok(followed_tags::table
        .filter(followed_tags::identity_id.eq(face))
        .order(followed_tags::name.asc())
        .select(followed_tags::name)
        .load(conn)
        .await?)
}

/// Reports no moderator has acted on yet, newest first.
pub async fn open_reports(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<Report>> {
    Ok(reports::table
        .filter(reports::action_taken_at.is_null())
        .order(reports::id.desc())
        .limit(limit)
        .select(Report::as_select())
        .load(conn)
        .await?)
}
