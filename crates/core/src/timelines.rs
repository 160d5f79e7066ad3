//! Timelines made of many authors (home, lists) whose cost depends on the
//! page asked for and on how many faces the reader follows — never on how
//! many statuses the instance holds.
//!
//! A page of the `n` newest posts by a set of authors is found in two steps,
//! both walking the per-author index `statuses (identity_id, id DESC)`:
//! 1. each author's newest visible post past the cursor (one index probe
//!    per author); the `n`-th largest of those is a cut-off `L`: at least
//!    `n` posts are at or above it, so the page lies entirely at or above it;
//! 2. only the authors whose newest post reaches `L` (at most `n` of them)
//!    give up to `n` posts each at or above `L`, and the newest `n` of
//!    those are the page.
//!
//! So a page reads one row per followed face plus at most `n²` rows, at a
//! million statuses as at ten thousand. (Walking the whole table backwards
//! and filtering — what this replaced — costs what the instance holds when
//! the reader follows quiet faces.) Followed hashtags add a second source,
//! merged the same way. The older of the two directions (`max_id`) and the
//! newer (`min_id`) are mirror images.

use crate::db::DbConn;
use crate::error::CoreResult;
use crate::statuses::Page;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Who a merged timeline draws from.
pub enum Source {
    /// The face itself and those it follows (without muted, blocked,
    /// suspended or domain-blocked ones, nor members of its exclusive
    /// lists), and its followed hashtags.
    Home,
    /// The members of a list (checked to be the reader's by the caller).
    List {
        list_id: i64,
        replies_policy: String,
    },
}

/// SQL over `s` (a post): false when the reader `viewer` (an SQL
/// expression) keeps anonymous posts out of its timelines
/// (`preferences.hide_anonymous`) and `s` is, or boosts, an anonymous post.
pub(crate) fn not_hidden_anonymous(viewer: &str) -> String {
    format!(
        "NOT (COALESCE((SELECT p.hide_anonymous FROM preferences p WHERE p.identity_id = {viewer}), FALSE)
              AND EXISTS (SELECT 1 FROM statuses r JOIN identities ri ON ri.id = r.identity_id
                           WHERE r.id = COALESCE(s.reblog_of_id, s.id) AND ri.tier = 'anonymous'))"
    )
}

/// What a reader may see of one author's post, as SQL over `s` (the post)
/// and `a` (the author row, with `reblogs`): private posts of faces it
/// follows (home and lists hold only those), direct posts that mention it,
/// boosts unless it turned them off, and replies by the source's rule.
fn visible(replies: &str) -> String {
    let replies = match replies {
        // Replies to the reader, to oneself, or to faces the reader follows.
        "followed" => {
            "(s.in_reply_to_identity_id IS NULL OR s.in_reply_to_identity_id IN (s.identity_id, $1)
              OR EXISTS (SELECT 1 FROM follows f2 WHERE f2.identity_id = $1
                           AND f2.target_identity_id = s.in_reply_to_identity_id))"
        }
        // Replies to members of the list (or oneself, or the reader).
        "list" => {
            "(s.in_reply_to_identity_id IS NULL OR s.in_reply_to_identity_id IN (s.identity_id, $1)
              OR EXISTS (SELECT 1 FROM list_members lm2 WHERE lm2.list_id = $6
                           AND lm2.identity_id = s.in_reply_to_identity_id))"
        }
        // No replies but to oneself.
        _ => "(s.in_reply_to_identity_id IS NULL OR s.in_reply_to_identity_id = s.identity_id)",
    };
    format!(
        "(s.visibility IN ('public', 'unlisted') OR s.identity_id = $1
            OR EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = s.id AND m.identity_id = $1)
            OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f3
                  WHERE f3.identity_id = $1 AND f3.target_identity_id = s.identity_id)))
         AND (a.reblogs OR s.reblog_of_id IS NULL)
         AND (s.reblog_of_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM statuses r WHERE r.id = s.reblog_of_id AND (
                 EXISTS (SELECT 1 FROM blocks b WHERE b.identity_id = $1 AND b.target_identity_id = r.identity_id)
                 OR EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = $1 AND mu.target_identity_id = r.identity_id))))
         AND {replies}
         AND {hidden}",
        hidden = not_hidden_anonymous("$1")
    )
}

/// The authors of a source, as SQL yielding `(id, reblogs)`: never a face
/// the reader muted or blocks (or that blocks it), nor a suspended one.
fn authors(source: &Source) -> String {
    let from = match source {
        // Members of the reader's exclusive lists show only there, and
        // faces on domains it blocked not at all.
        Source::Home => {
            "SELECT $1::bigint AS id, TRUE AS reblogs
             UNION ALL
             SELECT f.target_identity_id, f.show_reblogs FROM follows f
              WHERE f.identity_id = $1
                AND NOT EXISTS (SELECT 1 FROM lists l JOIN list_members lm ON lm.list_id = l.id
                                 WHERE l.identity_id = $1 AND l.exclusive AND lm.identity_id = f.target_identity_id)
                AND NOT EXISTS (SELECT 1 FROM identities i JOIN face_domain_blocks d
                                   ON d.domain = split_part(i.domain, ':', 1)
                                 WHERE i.id = f.target_identity_id AND d.identity_id = $1)"
        }
        Source::List { .. } => {
            "SELECT lm.identity_id AS id, COALESCE(f.show_reblogs, TRUE) AS reblogs
               FROM list_members lm
               LEFT JOIN follows f ON f.identity_id = $1 AND f.target_identity_id = lm.identity_id
              WHERE lm.list_id = $6"
        }
    };
    format!(
        "SELECT x.id, x.reblogs FROM ({from}) x
          WHERE NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = $1 AND mu.target_identity_id = x.id)
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = $1 AND b.target_identity_id = x.id)
                                                     OR (b.identity_id = x.id AND b.target_identity_id = $1))
            AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = x.id AND i.suspended)"
    )
}

/// A page of the source's timeline for `viewer`, newest first.
pub async fn merged(
    conn: &mut DbConn,
    viewer: i64,
    source: &Source,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    run(conn, viewer, source, page, false).await
}

/// The same page the plain way: every post of every author, filtered and
/// sorted. Slow on a big instance; kept to check `merged` against.
#[doc(hidden)]
pub async fn reference(
    conn: &mut DbConn,
    viewer: i64,
    source: &Source,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    run(conn, viewer, source, page, true).await
}

async fn run(
    conn: &mut DbConn,
    viewer: i64,
    source: &Source,
    page: &Page,
    plain: bool,
) -> CoreResult<Vec<i64>> {
    // Newer than `min_id` (and nothing older given): walk upwards.
    let up = page.ascending();
    let (order, cmp, pick) = if up {
        ("ASC", "<=", "ASC")
    } else {
        ("DESC", ">=", "DESC")
    };
    let (replies, list_id) = match source {
        Source::Home => ("followed", 0),
        Source::List {
            list_id,
            replies_policy,
        } => (replies_policy.as_str(), *list_id),
    };
    let cursor = crate::statuses::cursor("s.id");
    let vis = visible(replies);
    let tags = match source {
        Source::Home => format!(
            "UNION ALL
             SELECT c.id FROM followed_tags ft CROSS JOIN LATERAL (
               SELECT st.status_id AS id FROM status_tags st JOIN statuses s ON s.id = st.status_id
                WHERE st.name = ft.name AND s.visibility = 'public' AND s.reblog_of_id IS NULL AND {cursor}
                  AND NOT {off_public}
                  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = $1 AND b.target_identity_id = s.identity_id)
                                                           OR (b.identity_id = s.identity_id AND b.target_identity_id = $1))
                  AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = $1 AND mu.target_identity_id = s.identity_id)
                  AND {hidden}
                ORDER BY st.status_id {order} LIMIT $5) c
             WHERE ft.identity_id = $1",
            hidden = not_hidden_anonymous("$1"),
            off_public = crate::domains::OFF_PUBLIC,
        ),
        Source::List { .. } => String::new(),
    };
    let sql = if plain {
        format!(
            "WITH a AS ({authors})
             SELECT id FROM (
               SELECT s.id FROM a JOIN statuses s ON s.identity_id = a.id WHERE {cursor} AND {vis}
               {tags}
             ) u GROUP BY id ORDER BY id {order} LIMIT $5",
            authors = authors(source),
        )
    } else {
        format!(
            "WITH a AS ({authors}),
         newest AS (
           SELECT a.id, a.reblogs, n.id AS edge FROM a CROSS JOIN LATERAL (
             SELECT s.id FROM statuses s WHERE s.identity_id = a.id AND {cursor} AND {vis}
              ORDER BY s.id {order} LIMIT 1) n),
         cut AS (
           SELECT COALESCE((SELECT edge FROM newest ORDER BY edge {pick} OFFSET ($5 - 1) LIMIT 1),
                           CASE WHEN '{order}' = 'DESC' THEN 0 ELSE 9223372036854775807 END) AS l)
         SELECT id FROM (
           SELECT p.id FROM newest a, cut CROSS JOIN LATERAL (
             SELECT s.id FROM statuses s
              WHERE s.identity_id = a.id AND s.id {cmp} cut.l AND {cursor} AND {vis}
              ORDER BY s.id {order} LIMIT $5) p
            WHERE a.edge {cmp} cut.l
           {tags}
         ) u GROUP BY id ORDER BY id {order} LIMIT $5",
            authors = authors(source),
        )
    };
    // One of a few fixed texts (values are bound): kept prepared.
    let query = crate::prepared::cached(
        diesel::sql_query(sql)
            .bind::<BigInt, _>(viewer)
            .bind::<Nullable<BigInt>, _>(page.max_id)
            .bind::<Nullable<BigInt>, _>(page.since_id)
            .bind::<Nullable<BigInt>, _>(page.min_id)
            .bind::<BigInt, _>(page.limit)
            .bind::<BigInt, _>(list_id),
    );
    let mut ids: Vec<i64> = crate::prepared::generic(conn, query)
        .await?
        .into_iter()
        .map(|r: IdRow| r.id)
        .collect();
    if up {
        ids.reverse();
    }
    Ok(ids)
}

/// Which of `readers` would find `status` in their home timeline — the same
/// rules as `merged` (authors, visibility, boosts, replies, followed tags),
/// asked of one status for many readers at once. For live streams: the
/// cost is one query per status, whatever the number of readers.
pub async fn home_readers(conn: &mut DbConn, status: i64, readers: &[i64]) -> CoreResult<Vec<i64>> {
    if readers.is_empty() {
        return Ok(Vec::new());
    }
    // The page query's reader (`$1`) becomes each candidate in turn.
    let authors = authors(&Source::Home).replace("$1", "v.id");
    let vis = visible("followed").replace("$1", "v.id");
    let sql = format!(
        "SELECT v.id FROM unnest($2::bigint[]) AS v(id)
          WHERE EXISTS (SELECT 1 FROM ({authors}) a JOIN statuses s ON s.identity_id = a.id
                         WHERE s.id = $1 AND {vis})
             OR EXISTS (SELECT 1 FROM followed_tags ft JOIN status_tags st ON st.name = ft.name
                          JOIN statuses s ON s.id = st.status_id
                         WHERE ft.identity_id = v.id AND st.status_id = $1
                           AND s.visibility = 'public' AND s.reblog_of_id IS NULL
                           AND NOT {off_public}
                           AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = v.id AND b.target_identity_id = s.identity_id)
                                                                    OR (b.identity_id = s.identity_id AND b.target_identity_id = v.id))
                           AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = v.id AND mu.target_identity_id = s.identity_id))",
        off_public = crate::domains::OFF_PUBLIC,
    );
    Ok(crate::prepared::cached(
        diesel::sql_query(sql)
            .bind::<BigInt, _>(status)
            .bind::<diesel::sql_types::Array<BigInt>, _>(readers),
    )
    .load::<IdRow>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// Which of `lists` would show `status` — the rules of `merged` for a list,
/// each list read by its owner.
pub async fn list_readers(conn: &mut DbConn, status: i64, lists: &[i64]) -> CoreResult<Vec<i64>> {
    let mut out = Vec::new();
    if lists.is_empty() {
        return Ok(out);
    }
    for policy in ["followed", "list", "none"] {
        let source = Source::List {
            list_id: 0,
            replies_policy: policy.into(),
        };
        let authors = authors(&source)
            .replace("$1", "rl.identity_id")
            .replace("$6", "rl.id");
        let vis = visible(policy)
            .replace("$1", "rl.identity_id")
            .replace("$6", "rl.id");
        let sql = format!(
            "SELECT rl.id FROM lists rl
              WHERE rl.id = ANY($2) AND rl.replies_policy = $3
                AND EXISTS (SELECT 1 FROM ({authors}) a JOIN statuses s ON s.identity_id = a.id
                             WHERE s.id = $1 AND {vis})"
        );
        out.extend(
            diesel::sql_query(sql)
                .bind::<BigInt, _>(status)
                .bind::<diesel::sql_types::Array<BigInt>, _>(lists)
                .bind::<diesel::sql_types::Text, _>(policy)
                .load::<IdRow>(conn)
                .await?
                .into_iter()
                .map(|r| r.id),
        );
    }
    Ok(out)
}
