//! Remote posts an incoming rule holds for a moderator. A held post is not
//! a status: nothing shows it until staff release it (the server stores it
//! then, as if it had just arrived) or reject it. Its note is kept as its
//! server sent it; its author is a remote face.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreResult, OptionalExt};
use crate::id::Id;
use crate::schema::held_posts as hp;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = hp)]
pub struct HeldPost {
    pub id: i64,
    pub uri: String,
    pub identity_id: i64,
    pub in_reply_to: Option<String>,
    pub note: serde_json::Value,
    pub codes: Vec<String>,
    pub held_on: NaiveDate,
}

/// Holds a note (or, held already, keeps its newest version and codes).
pub async fn hold(
    conn: &mut DbConn,
    clock: &dyn Clock,
    uri: &str,
    author: i64,
    in_reply_to: Option<&str>,
    note: &serde_json::Value,
    codes: &[String],
) -> CoreResult<HeldPost> {
    Ok(diesel::insert_into(hp::table)
        .values((
            hp::id.eq(Id::random().get()),
            hp::uri.eq(uri),
            hp::identity_id.eq(author),
            hp::in_reply_to.eq(in_reply_to),
            hp::note.eq(note),
            hp::codes.eq(codes),
            hp::held_on.eq(clock.today()),
        ))
        .on_conflict(hp::uri)
        .do_update()
        .set((hp::note.eq(note), hp::codes.eq(codes)))
        .returning(HeldPost::as_returning())
        .get_result(conn)
        .await?)
}

/// The held post with this URI, if one is held.
pub async fn by_uri(conn: &mut DbConn, uri: &str) -> CoreResult<Option<HeldPost>> {
    Ok(hp::table
        .filter(hp::uri.eq(uri))
        .select(HeldPost::as_select())
        .first(conn)
        .await
        .optional()?)
}

pub async fn get(conn: &mut DbConn, id: i64) -> CoreResult<HeldPost> {
    hp::table
        .find(id)
        .select(HeldPost::as_select())
        .first(conn)
        .await
        .found()
}

/// The oldest held posts first, up to `limit`.
pub async fn list(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<HeldPost>> {
    Ok(hp::table
        .order((hp::held_on.asc(), hp::id.asc()))
        .limit(limit)
        .select(HeldPost::as_select())
        .load(conn)
        .await?)
}

/// The held replies to `uri`.
pub async fn replies_to(conn: &mut DbConn, uri: &str) -> CoreResult<Vec<HeldPost>> {
    Ok(hp::table
        .filter(hp::in_reply_to.eq(uri))
        .select(HeldPost::as_select())
        .load(conn)
        .await?)
}

/// How many posts wait.
pub async fn count(conn: &mut DbConn) -> CoreResult<i64> {
    Ok(hp::table.count().get_result(conn).await?)
}

/// Lets a held post go (released: stored by the caller first; rejected:
/// dropped).
pub async fn remove(conn: &mut DbConn, id: i64) -> CoreResult<HeldPost> {
    diesel::delete(hp::table.find(id))
        .returning(HeldPost::as_returning())
        .get_result(conn)
        .await
        .found()
}

/// Its author deleted a held note: it goes. Whether one did.
pub async fn withdraw(conn: &mut DbConn, author: i64, uri: &str) -> CoreResult<bool> {
    Ok(diesel::delete(
        hp::table
            .filter(hp::uri.eq(uri))
            .filter(hp::identity_id.eq(author)),
    )
    .execute(conn)
    .await?
        > 0)
}
