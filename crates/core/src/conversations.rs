//! Direct conversations: a face's direct posts and the direct posts naming
//! it, one conversation per thread, newest first by its last post. What a
//! face has read or removed of each is a `conversation_reads` row; for the
//! anonymous faces of an "Anonymous" token the caller keeps it sealed
//! instead and passes `stored = false`.

use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::schema::{conversation_reads, mentions, statuses};
use crate::statuses::Page;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable};
use diesel_async::RunQueryDsl;
use std::collections::{BTreeSet, HashMap};

/// One conversation as one face sees it.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// The thread's root: the conversation's id.
    pub root: i64,
    /// The face of the viewer's that takes part.
    pub face: i64,
    pub last_status_id: i64,
    pub last_author: i64,
    /// The other faces that wrote or were named, in id order.
    pub participants: Vec<i64>,
    /// What the face read up to (from its row when `stored`).
    pub read_id: Option<i64>,
    pub hidden: bool,
}

impl Conversation {
    /// Unread: the last post is someone else's, and newer than what was read.
    pub fn unread(&self) -> bool {
        self.last_author != self.face && self.read_id.is_none_or(|r| r < self.last_status_id)
    }

    /// Removed from the list, and nothing newer came since.
    pub fn removed(&self) -> bool {
        self.hidden && self.read_id.is_some_and(|r| r >= self.last_status_id)
    }
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    root: i64,
    #[diesel(sql_type = BigInt)]
    last_id: i64,
    #[diesel(sql_type = BigInt)]
    face: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    read_id: Option<i64>,
    #[diesel(sql_type = Bool)]
    hidden: bool,
}

/// The direct posts `faces` wrote or are named in, as (id, root, face).
const DIRECT: &str = "SELECT s.id, s.thread_root_id, s.identity_id AS face FROM statuses s \
       WHERE s.visibility = 'direct' AND s.identity_id = ANY($1) \
     UNION ALL \
     SELECT m.status_id, s.thread_root_id, m.identity_id FROM mentions m \
       JOIN statuses s ON s.id = m.status_id \
       WHERE m.direct AND m.identity_id = ANY($1)";

/// A page of the conversations of `faces` (one face, or an "Anonymous"
/// token's anonymous faces), by their last post's id. With `stored`, the
/// faces' read rows are joined and removed conversations left out.
pub async fn page(
    conn: &mut DbConn,
    faces: &[i64],
    page: &Page,
    stored: bool,
) -> CoreResult<Vec<Conversation>> {
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    let ascending = page.min_id.is_some();
    let sql = format!(
        "SELECT g.root, g.last_id, g.face, r.last_read_id AS read_id, \
                COALESCE(r.hidden, FALSE) AS hidden \
         FROM (SELECT d.thread_root_id AS root, max(d.id) AS last_id, min(d.face) AS face \
               FROM ({DIRECT}) d GROUP BY d.thread_root_id) g \
         LEFT JOIN conversation_reads r \
           ON $5 AND r.identity_id = g.face AND r.thread_root_id = g.root \
         WHERE ($2::BIGINT IS NULL OR g.last_id < $2) \
           AND ($3::BIGINT IS NULL OR g.last_id > $3) \
           AND NOT (COALESCE(r.hidden, FALSE) AND r.last_read_id >= g.last_id) \
         ORDER BY g.last_id {} LIMIT $4",
        if ascending { "ASC" } else { "DESC" }
    );
    let mut rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(faces)
        .bind::<Nullable<BigInt>, _>(page.max_id)
        .bind::<Nullable<BigInt>, _>(page.min_id.or(page.since_id))
        .bind::<BigInt, _>(page.limit)
        .bind::<Bool, _>(stored)
        .load(conn)
        .await?;
    if ascending {
        rows.reverse();
    }
    complete(conn, rows).await
}

/// One conversation of `faces`, removed or not.
pub async fn get(
    conn: &mut DbConn,
    faces: &[i64],
    root: i64,
    stored: bool,
) -> CoreResult<Conversation> {
    let sql = format!(
        "SELECT g.root, g.last_id, g.face, r.last_read_id AS read_id, \
                COALESCE(r.hidden, FALSE) AS hidden \
         FROM (SELECT d.thread_root_id AS root, max(d.id) AS last_id, min(d.face) AS face \
               FROM ({DIRECT}) d WHERE d.thread_root_id = $2 GROUP BY d.thread_root_id) g \
         LEFT JOIN conversation_reads r \
           ON $3 AND r.identity_id = g.face AND r.thread_root_id = g.root"
    );
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<Array<BigInt>, _>(faces)
        .bind::<BigInt, _>(root)
        .bind::<Bool, _>(stored)
        .load(conn)
        .await?;
    complete(conn, rows).await?.pop().ok_or(CoreError::NotFound)
}

/// Adds each conversation's last author and participants.
async fn complete(conn: &mut DbConn, rows: Vec<Row>) -> CoreResult<Vec<Conversation>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let roots: Vec<i64> = rows.iter().map(|r| r.root).collect();
    let last_ids: Vec<i64> = rows.iter().map(|r| r.last_id).collect();
    let authors: HashMap<i64, i64> = statuses::table
        .filter(statuses::id.eq_any(&last_ids))
        .select((statuses::id, statuses::identity_id))
        .load::<(i64, i64)>(conn)
        .await?
        .into_iter()
        .collect();
    // Everyone on the direct posts of these threads: authors and named.
    let posts: Vec<(i64, i64, i64)> = statuses::table
        .filter(statuses::thread_root_id.eq_any(&roots))
        .filter(statuses::visibility.eq("direct"))
        .select((
            statuses::id,
            statuses::thread_root_id,
            statuses::identity_id,
        ))
        .load(conn)
        .await?;
    let post_ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
    let named: Vec<(i64, i64)> = mentions::table
        .filter(mentions::status_id.eq_any(&post_ids))
        .select((mentions::status_id, mentions::identity_id))
        .load(conn)
        .await?;
    let mut people: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for r in &rows {
        // Only the posts this face took part in count.
        let mine: BTreeSet<i64> = posts
            .iter()
            .filter(|p| p.1 == r.root)
            .filter(|p| p.2 == r.face || named.iter().any(|n| n.0 == p.0 && n.1 == r.face))
            .map(|p| p.0)
            .collect();
        let set = people.entry(r.root).or_default();
        for p in posts.iter().filter(|p| mine.contains(&p.0)) {
            set.insert(p.2);
        }
        for n in named.iter().filter(|n| mine.contains(&n.0)) {
            set.insert(n.1);
        }
        set.remove(&r.face);
    }
    Ok(rows
        .into_iter()
        .map(|r| Conversation {
            root: r.root,
            face: r.face,
            last_status_id: r.last_id,
            last_author: authors.get(&r.last_id).copied().unwrap_or(r.face),
            participants: people
                .remove(&r.root)
                .map(|s| s.into_iter().collect())
                .unwrap_or_default(),
            read_id: r.read_id,
            hidden: r.hidden,
        })
        .collect())
}

/// Marks a face's conversation read (and shown again, if removed).
pub async fn mark(conn: &mut DbConn, c: &Conversation, hidden: bool) -> CoreResult<()> {
    diesel::insert_into(conversation_reads::table)
        .values((
            conversation_reads::identity_id.eq(c.face),
            conversation_reads::thread_root_id.eq(c.root),
            conversation_reads::last_read_id.eq(c.last_status_id),
            conversation_reads::hidden.eq(hidden),
        ))
        .on_conflict((
            conversation_reads::identity_id,
            conversation_reads::thread_root_id,
        ))
        .do_update()
        .set((
            conversation_reads::last_read_id.eq(c.last_status_id),
            conversation_reads::hidden.eq(hidden),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
