//! Instance announcements: written by staff, shown to every face until they
//! end, dismissed and reacted to per face.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::{announcement_dismissals, announcement_reactions, announcements};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = announcements)]
pub struct Announcement {
    pub id: i64,
    pub text: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub all_day: bool,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an announcement says and when its event is.
#[derive(Debug, Clone, Default)]
pub struct AnnouncementInput {
    pub text: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub all_day: bool,
}

/// A reaction's emoji: a Unicode emoji (custom emoji are not kept here).
pub fn valid_reaction(name: &str) -> bool {
    let n = name.chars().count();
    (1..=16).contains(&n)
        && name
            .chars()
            .all(|c| !c.is_ascii() && !c.is_whitespace() && !c.is_control())
}

fn check(a: &AnnouncementInput) -> CoreResult<()> {
    let n = a.text.trim().chars().count();
    if n == 0 || n > 5000 {
        return Err(CoreError::invalid("text", "must be 1 to 5000 characters"));
    }
    if let (Some(s), Some(e)) = (a.starts_at, a.ends_at) {
        if e < s {
            return Err(CoreError::invalid(
                "ends_at",
                "must not be before starts_at",
            ));
        }
    }
    Ok(())
}

pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    a: &AnnouncementInput,
) -> CoreResult<Announcement> {
    check(a)?;
    let now = clock.now();
    Ok(diesel::insert_into(announcements::table)
        .values((
            announcements::id.eq(Id::generate(now).get()),
            announcements::text.eq(a.text.trim()),
            announcements::starts_at.eq(a.starts_at),
            announcements::ends_at.eq(a.ends_at),
            announcements::all_day.eq(a.all_day),
            announcements::published_at.eq(now),
            announcements::updated_at.eq(now),
        ))
        .returning(Announcement::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn update(
    conn: &mut DbConn,
    clock: &dyn Clock,
    id: i64,
    a: &AnnouncementInput,
) -> CoreResult<Announcement> {
    check(a)?;
    diesel::update(announcements::table.find(id))
        .set((
            announcements::text.eq(a.text.trim()),
            announcements::starts_at.eq(a.starts_at),
            announcements::ends_at.eq(a.ends_at),
            announcements::all_day.eq(a.all_day),
            announcements::updated_at.eq(clock.now()),
        ))
        .returning(Announcement::as_returning())
        .get_result(conn)
        .await
        .found()
}

pub async fn delete(conn: &mut DbConn, id: i64) -> CoreResult<()> {
    let n = diesel::delete(announcements::table.find(id))
        .execute(conn)
        .await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

/// Every announcement, newest first (for staff).
pub async fn all(conn: &mut DbConn) -> CoreResult<Vec<Announcement>> {
    Ok(announcements::table
        .order(announcements::id.desc())
        .select(Announcement::as_select())
        .load(conn)
        .await?)
}

/// The announcements shown now: not yet ended, oldest first.
pub async fn current(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<Vec<Announcement>> {
    let now = clock.now();
    Ok(announcements::table
        .filter(
            announcements::ends_at
                .is_null()
                .or(announcements::ends_at.gt(now)),
        )
        .order(announcements::published_at.asc())
        .select(Announcement::as_select())
        .load(conn)
        .await?)
}

pub async fn get_current(
    conn: &mut DbConn,
    clock: &dyn Clock,
    id: i64,
) -> CoreResult<Announcement> {
    current(conn, clock)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or(CoreError::NotFound)
}

/// Which of `ids` the face dismissed.
pub async fn dismissed(conn: &mut DbConn, face: i64, ids: &[i64]) -> CoreResult<HashSet<i64>> {
    Ok(announcement_dismissals::table
        .filter(announcement_dismissals::identity_id.eq(face))
        .filter(announcement_dismissals::announcement_id.eq_any(ids))
        .select(announcement_dismissals::announcement_id)
        .load::<i64>(conn)
        .await?
        .into_iter()
        .collect())
}

pub async fn dismiss(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<()> {
    diesel::insert_into(announcement_dismissals::table)
        .values((
            announcement_dismissals::identity_id.eq(face),
            announcement_dismissals::announcement_id.eq(id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// A reaction as shown: its emoji, how many faces chose it, and whether
/// the viewer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub name: String,
    pub count: i64,
    pub me: bool,
}

/// Each announcement's reactions, in the order they were first given.
pub async fn reactions(
    conn: &mut DbConn,
    viewer: Option<i64>,
    ids: &[i64],
) -> CoreResult<HashMap<i64, Vec<Reaction>>> {
    let rows: Vec<(i64, i64, String)> = announcement_reactions::table
        .filter(announcement_reactions::announcement_id.eq_any(ids))
        .select((
            announcement_reactions::announcement_id,
            announcement_reactions::identity_id,
            announcement_reactions::name,
        ))
        .load(conn)
        .await?;
    let mut out: HashMap<i64, Vec<Reaction>> = HashMap::new();
    for (a, who, name) in rows {
        let list = out.entry(a).or_default();
        match list.iter_mut().find(|r| r.name == name) {
            Some(r) => {
                r.count += 1;
                r.me |= Some(who) == viewer;
            }
            None => list.push(Reaction {
                name,
                count: 1,
                me: Some(who) == viewer,
            }),
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    }
    Ok(out)
}

pub async fn react(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: i64,
    id: i64,
    name: &str,
    on: bool,
) -> CoreResult<()> {
    get_current(conn, clock, id).await?;
    if !valid_reaction(name) {
        return Err(CoreError::invalid("name", "is not an emoji"));
    }
    if on {
        diesel::insert_into(announcement_reactions::table)
            .values((
                announcement_reactions::announcement_id.eq(id),
                announcement_reactions::identity_id.eq(face),
                announcement_reactions::name.eq(name),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(
            announcement_reactions::table
                .filter(announcement_reactions::announcement_id.eq(id))
                .filter(announcement_reactions::identity_id.eq(face))
                .filter(announcement_reactions::name.eq(name)),
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactions_are_emoji() {
        for ok in ["👍", "🎉", "❤️", "🏳️‍🌈"] {
            assert!(valid_reaction(ok), "{ok}");
        }
        for bad in ["", "ok", ":blobcat:", "👍 👍", "a👍", &"👍".repeat(17)] {
            assert!(!valid_reaction(bad), "{bad}");
        }
    }
}
