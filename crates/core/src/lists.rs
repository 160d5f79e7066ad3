//! Lists: a face's named sets of faces it follows, each with a timeline.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::id::Id;
use crate::models::Identity;
use crate::schema::{follows, list_members, lists};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lists)]
pub struct List {
    pub id: i64,
    pub identity_id: i64,
    pub title: String,
    pub replies_policy: String,
    pub exclusive: bool,
}

pub const REPLIES_POLICIES: [&str; 3] = ["followed", "list", "none"];

fn check(title: &str, replies_policy: &str) -> CoreResult<()> {
    if title.trim().is_empty() || title.chars().count() > 100 {
        return Err(CoreError::invalid("title", "must be 1 to 100 characters"));
    }
    if !REPLIES_POLICIES.contains(&replies_policy) {
        return Err(CoreError::invalid(
            "replies_policy",
            "is followed, list or none",
        ));
    }
    Ok(())
}

pub async fn create(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    title: &str,
    replies_policy: &str,
    exclusive: bool,
) -> CoreResult<List> {
    check(title, replies_policy)?;
    let count: i64 = lists::table
        .filter(lists::identity_id.eq(face.id))
        .count()
        .get_result(conn)
        .await?;
    if count >= 50 {
        return Err(CoreError::invalid("title", "at most 50 lists"));
    }
    Ok(diesel::insert_into(lists::table)
        .values((
            lists::id.eq(Id::generate(clock.now()).get()),
            lists::identity_id.eq(face.id),
            lists::title.eq(title.trim()),
            lists::replies_policy.eq(replies_policy),
            lists::exclusive.eq(exclusive),
        ))
        .returning(List::as_returning())
        .get_result(conn)
        .await?)
}

/// One of the face's lists (404 for anyone else's).
pub async fn get(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<List> {
    lists::table
        .find(id)
        .filter(lists::identity_id.eq(face))
        .select(List::as_select())
        .first(conn)
        .await
        .found()
}

pub async fn of(conn: &mut DbConn, face: i64) -> CoreResult<Vec<List>> {
    Ok(lists::table
        .filter(lists::identity_id.eq(face))
        .order(lists::title.asc())
        .select(List::as_select())
        .load(conn)
        .await?)
}

pub async fn update(
    conn: &mut DbConn,
    face: i64,
    id: i64,
    title: Option<&str>,
    replies_policy: Option<&str>,
    exclusive: Option<bool>,
) -> CoreResult<List> {
    let old = get(conn, face, id).await?;
    let title = title.unwrap_or(&old.title).to_owned();
    let policy = replies_policy.unwrap_or(&old.replies_policy).to_owned();
    check(&title, &policy)?;
    Ok(diesel::update(lists::table.find(id))
        .set((
            lists::title.eq(title.trim()),
            lists::replies_policy.eq(policy),
            lists::exclusive.eq(exclusive.unwrap_or(old.exclusive)),
        ))
        .returning(List::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut DbConn, face: i64, id: i64) -> CoreResult<()> {
    get(conn, face, id).await?;
    diesel::delete(lists::table.find(id)).execute(conn).await?;
    Ok(())
}

/// The list's members (after `after`, by face id), at most `limit`.
pub async fn members(conn: &mut DbConn, face: i64, id: i64, limit: i64) -> CoreResult<Vec<i64>> {
    get(conn, face, id).await?;
    Ok(list_members::table
        .filter(list_members::list_id.eq(id))
        .order(list_members::identity_id.asc())
        .limit(limit)
        .select(list_members::identity_id)
        .load(conn)
        .await?)
}

/// Adds faces the list's owner follows (422 for any other).
pub async fn add(conn: &mut DbConn, face: i64, id: i64, who: &[i64]) -> CoreResult<()> {
    get(conn, face, id).await?;
    for w in who {
        let follows: bool = diesel::select(diesel::dsl::exists(
            follows::table
                .filter(follows::identity_id.eq(face))
                .filter(follows::target_identity_id.eq(w)),
        ))
        .get_result(conn)
        .await?;
        if !follows {
            return Err(CoreError::invalid(
                "account_ids",
                "only faces you follow can be added to a list",
            ));
        }
    }
    for w in who {
        diesel::insert_into(list_members::table)
            .values((
                list_members::list_id.eq(id),
                list_members::identity_id.eq(w),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn remove(conn: &mut DbConn, face: i64, id: i64, who: &[i64]) -> CoreResult<()> {
    get(conn, face, id).await?;
    diesel::delete(
        list_members::table
            .filter(list_members::list_id.eq(id))
            .filter(list_members::identity_id.eq_any(who)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The face's lists that hold `member`.
pub async fn holding(conn: &mut DbConn, face: i64, member: i64) -> CoreResult<Vec<List>> {
    Ok(lists::table
        .inner_join(list_members::table.on(list_members::list_id.eq(lists::id)))
        .filter(lists::identity_id.eq(face))
        .filter(list_members::identity_id.eq(member))
        .order(lists::title.asc())
        .select(List::as_select())
        .load(conn)
        .await?)
}

/// Unfollowing a face takes it off the follower's lists (as Mastodon does).
pub async fn forget_member(conn: &mut DbConn, face: i64, member: i64) -> CoreResult<()> {
    diesel::delete(
        list_members::table
            .filter(list_members::identity_id.eq(member))
            .filter(
                list_members::list_id.eq_any(
                    lists::table
                        .filter(lists::identity_id.eq(face))
                        .select(lists::id),
                ),
            ),
    )
    .execute(conn)
    .await?;
    Ok(())
}
