//! The social graph between faces: follows and follow requests, blocks,
//! mutes, favourites, reblogs and notifications. Every relation belongs to a
//! face, never to an account (unlisted rule 6): blocking a face touches only
//! that face's relations.

use crate::accounts::get_identity;
use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, DomainEvent};
use crate::id::Id;
use crate::models::{Identity, Notification, Status};
use crate::schema::{blocks, favourites, follow_requests, follows, mutes, notifications, statuses};
use crate::statuses::{notify, visible_status};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::{Tier, Visibility};
use std::collections::HashMap;

fn refuse_anonymous(who: &Identity, field: &'static str) -> CoreResult<()> {
    if who.tier() == Tier::Anonymous {
        return Err(CoreError::invalid(
            field,
            "anonymous faces cannot follow or be followed",
        ));
    }
    Ok(())
}

async fn exists_edge(conn: &mut DbConn, table: &str, from: i64, to: i64) -> CoreResult<bool> {
    #[derive(QueryableByName)]
    struct B {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        b: bool,
    }
    // `table` is one of our own constant names, never user input.
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE identity_id = $1 AND target_identity_id = $2) AS b");
    Ok(crate::prepared::cached(
        diesel::sql_query(sql)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to),
    )
    .get_result::<B>(conn)
    .await?
    .b)
}

/// Follows `target` as `me`; a locked face gets a follow request instead.
pub async fn follow(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    refuse_anonymous(me, "id")?;
    refuse_anonymous(target, "id")?;
    if me.id == target.id {
        return Err(CoreError::invalid("id", "you cannot follow yourself"));
    }
    if exists_edge(conn, "blocks", target.id, me.id).await?
        || exists_edge(conn, "blocks", me.id, target.id).await?
    {
        return Err(CoreError::Forbidden("This action is not allowed"));
    }
    if exists_edge(conn, "follows", me.id, target.id).await?
        || exists_edge(conn, "follow_requests", me.id, target.id).await?
    {
        return Ok(());
    }
    let now = clock.now();
    // The row's id names the Follow activity (and later its Undo).
    let edge = Id::generate(now).get();
    let (me_c, target_c) = (me.clone(), target.clone());
    conn.transaction::<_, CoreError, _>(async move |conn| {
        // Remote faces answer with Accept or Reject through federation, so
        // they start as requests too.
        if target_c.locked || !target_c.is_local() {
            diesel::insert_into(follow_requests::table)
                .values((
                    follow_requests::id.eq(edge),
                    follow_requests::identity_id.eq(me_c.id),
                    follow_requests::target_identity_id.eq(target_c.id),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            notify(conn, clock, &target_c, me_c.id, "follow_request", None).await?;
        } else {
            diesel::insert_into(follows::table)
                .values((
                    follows::id.eq(edge),
                    follows::identity_id.eq(me_c.id),
                    follows::target_identity_id.eq(target_c.id),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            notify(conn, clock, &target_c, me_c.id, "follow", None).await?;
        }
        events::record(
            conn,
            clock,
            DomainEvent::FollowCreated {
                from: me_c.id,
                to: target_c.id,
                edge,
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Applies Mastodon's `reblogs` and `notify` follow options to an existing follow.
pub async fn set_follow_options(
    conn: &mut DbConn,
    me: &Identity,
    target: &Identity,
    reblogs: Option<bool>,
    notify_posts: Option<bool>,
) -> CoreResult<()> {
    let q = follows::table
        .filter(follows::identity_id.eq(me.id))
        .filter(follows::target_identity_id.eq(target.id));
    if let Some(r) = reblogs {
        diesel::update(q)
            .set(follows::show_reblogs.eq(r))
            .execute(conn)
            .await?;
    }
    if let Some(n) = notify_posts {
        diesel::update(q)
            .set(follows::notify.eq(n))
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn unfollow(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    let (me_id, target_id) = (me.id, target.id);
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let mut gone: Vec<i64> = diesel::delete(
            follows::table
                .filter(follows::identity_id.eq(me_id))
                .filter(follows::target_identity_id.eq(target_id)),
        )
        .returning(follows::id)
        .get_results(conn)
        .await?;
        gone.extend(
            diesel::delete(
                follow_requests::table
                    .filter(follow_requests::identity_id.eq(me_id))
                    .filter(follow_requests::target_identity_id.eq(target_id)),
            )
            .returning(follow_requests::id)
            .get_results::<i64>(conn)
            .await?,
        );
        crate::lists::forget_member(conn, me_id, target_id).await?;
        if let Some(&edge) = <[i64]>::first(&gone) {
            events::record(
                conn,
                clock,
                DomainEvent::FollowDeleted {
                    from: me_id,
                    to: target_id,
                    edge,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// Accepts (or rejects) a pending request from `requester` to `me`.
pub async fn answer_follow_request(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    requester: &Identity,
    accept: bool,
) -> CoreResult<()> {
    let (me_c, req_c) = (me.clone(), requester.clone());
    let now = clock.now();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let removed: Vec<Option<String>> = diesel::delete(
            follow_requests::table
                .filter(follow_requests::identity_id.eq(req_c.id))
                .filter(follow_requests::target_identity_id.eq(me_c.id)),
        )
        .returning(follow_requests::uri)
        .get_results(conn)
        .await?;
        let Some(uri) = removed.into_iter().next() else {
            return Err(CoreError::NotFound);
        };
        diesel::delete(
            notifications::table
                .filter(notifications::identity_id.eq(me_c.id))
                .filter(notifications::from_identity_id.eq(req_c.id))
                .filter(notifications::kind.eq("follow_request")),
        )
        .execute(conn)
        .await?;
        if accept {
            diesel::insert_into(follows::table)
                .values((
                    follows::id.eq(Id::generate(now).get()),
                    follows::identity_id.eq(req_c.id),
                    follows::target_identity_id.eq(me_c.id),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            notify(conn, clock, &me_c, req_c.id, "follow", None).await?;
        }
        events::record(
            conn,
            clock,
            DomainEvent::FollowAnswered {
                local: me_c.id,
                remote: req_c.id,
                activity: uri,
                accepted: accept,
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Blocking removes follows both ways and pending requests.
pub async fn block(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    if me.id == target.id {
        return Err(CoreError::invalid("id", "you cannot block yourself"));
    }
    let (a, b) = (me.id, target.id);
    let now = clock.now();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        for (x, y) in [(a, b), (b, a)] {
            diesel::delete(
                follows::table
                    .filter(follows::identity_id.eq(x))
                    .filter(follows::target_identity_id.eq(y)),
            )
            .execute(conn)
            .await?;
            diesel::delete(
                follow_requests::table
                    .filter(follow_requests::identity_id.eq(x))
                    .filter(follow_requests::target_identity_id.eq(y)),
            )
            .execute(conn)
            .await?;
        }
        let edge = Id::generate(now).get();
        let n = diesel::insert_into(blocks::table)
            .values((
                blocks::id.eq(edge),
                blocks::identity_id.eq(a),
                blocks::target_identity_id.eq(b),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if n > 0 {
            events::record(
                conn,
                clock,
                DomainEvent::BlockCreated {
                    from: a,
                    to: b,
                    edge,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await
}

pub async fn unblock(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    let (a, b) = (me.id, target.id);
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let gone: Vec<i64> = diesel::delete(
            blocks::table
                .filter(blocks::identity_id.eq(a))
                .filter(blocks::target_identity_id.eq(b)),
        )
        .returning(blocks::id)
        .get_results(conn)
        .await?;
        if let Some(&edge) = <[i64]>::first(&gone) {
            events::record(
                conn,
                clock,
                DomainEvent::BlockDeleted {
                    from: a,
                    to: b,
                    edge,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await
}

/// Mutes `target`, for `duration` seconds if given (the mute then ends by
/// itself: `end_expired_mutes`).
pub async fn mute(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    target: &Identity,
    hide_notifications: bool,
    duration: Option<i64>,
) -> CoreResult<()> {
    if me.id == target.id {
        return Err(CoreError::invalid("id", "you cannot mute yourself"));
    }
    let expires_at = duration
        .filter(|d| *d > 0)
        .map(|d| clock.now() + chrono::Duration::seconds(d.min(10 * 365 * 86_400)));
    diesel::insert_into(mutes::table)
        .values((
            mutes::id.eq(Id::generate(clock.now()).get()),
            mutes::identity_id.eq(me.id),
            mutes::target_identity_id.eq(target.id),
            mutes::hide_notifications.eq(hide_notifications),
            mutes::expires_at.eq(expires_at),
        ))
        .on_conflict((mutes::identity_id, mutes::target_identity_id))
        .do_update()
        .set((
            mutes::hide_notifications.eq(hide_notifications),
            mutes::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends mutes whose time is up (the worker runs this each minute).
pub async fn end_expired_mutes(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<usize> {
    Ok(
        diesel::delete(mutes::table.filter(mutes::expires_at.le(clock.now())))
            .execute(conn)
            .await?,
    )
}

pub async fn unmute(conn: &mut DbConn, me: &Identity, target: &Identity) -> CoreResult<()> {
    diesel::delete(
        mutes::table
            .filter(mutes::identity_id.eq(me.id))
            .filter(mutes::target_identity_id.eq(target.id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Mastodon's Relationship, as data.
#[derive(Debug, Clone, Default)]
pub struct Relationship {
    pub id: i64,
    pub following: bool,
    pub showing_reblogs: bool,
    pub notifying: bool,
    pub followed_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: bool,
    pub muting_notifications: bool,
    pub muting_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub requested: bool,
    pub requested_by: bool,
    pub domain_blocking: bool,
    pub note: String,
}

pub async fn relationship(conn: &mut DbConn, me: i64, other: i64) -> CoreResult<Relationship> {
    let follow: Option<(bool, bool)> = follows::table
        .filter(follows::identity_id.eq(me))
        .filter(follows::target_identity_id.eq(other))
        .select((follows::show_reblogs, follows::notify))
        .first(conn)
        .await
        .optional()?;
    let mute: Option<(bool, Option<chrono::DateTime<chrono::Utc>>)> = mutes::table
        .filter(mutes::identity_id.eq(me))
        .filter(mutes::target_identity_id.eq(other))
        .select((mutes::hide_notifications, mutes::expires_at))
        .first(conn)
        .await
        .optional()?;
    let other_face = crate::accounts::get_identity(conn, other).await?;
    Ok(Relationship {
        id: other,
        following: follow.is_some(),
        showing_reblogs: follow.is_none_or(|f| f.0),
        notifying: follow.is_some_and(|f| f.1),
        followed_by: exists_edge(conn, "follows", other, me).await?,
        blocking: exists_edge(conn, "blocks", me, other).await?,
        blocked_by: exists_edge(conn, "blocks", other, me).await?,
        muting: mute.is_some(),
        muting_notifications: mute.is_some_and(|m| m.0),
        muting_expires_at: mute.and_then(|m| m.1),
        requested: exists_edge(conn, "follow_requests", me, other).await?,
        requested_by: exists_edge(conn, "follow_requests", other, me).await?,
        domain_blocking: crate::keepings::domain_blocked(conn, me, &other_face).await?,
        note: crate::keepings::note_on(conn, me, other).await?,
    })
}

/// Counters for Account entities, kept by triggers on `identity_stats`
/// (never on an account: an anonymous face's counters are its own).
#[derive(Debug, Clone, Copy, Default, QueryableByName)]
pub struct IdentityStats {
    #[diesel(sql_type = BigInt)]
    pub followers: i64,
    #[diesel(sql_type = BigInt)]
    pub following: i64,
    #[diesel(sql_type = BigInt)]
    pub statuses: i64,
    #[diesel(sql_type = Nullable<diesel::sql_types::Date>)]
    pub last_status_on: Option<chrono::NaiveDate>,
}

/// Each face's counters among the ids bound as `$1` (one row per face that
/// has any): the folded row plus the deltas not folded yet (migration
/// 2026-12-01-000005), exact at every moment while no write waits on a
/// shared counter row. Set-based: PostgreSQL reads both tables once for
/// all the faces (as a correlated subquery per face it took 2.4 times as
/// long for a page's twenty authors).
macro_rules! folded_stats_sql {
    () => {
        "SELECT identity_id, greatest(sum(followers), 0)::int8 AS followers, \
                greatest(sum(following), 0)::int8 AS following, \
                greatest(sum(statuses), 0)::int8 AS statuses, max(last_status_on) AS last_status_on \
           FROM (SELECT identity_id, followers_count AS followers, following_count AS following, \
                        statuses_count AS statuses, last_status_on \
                   FROM identity_stats WHERE identity_id = ANY($1) \
                 UNION ALL \
                 SELECT identity_id, followers, following, statuses, last_status_on \
                   FROM identity_stat_deltas WHERE identity_id = ANY($1)) AS s \
          GROUP BY identity_id"
    };
}
pub(crate) use folded_stats_sql;

pub async fn identity_stats(
    mut conn: &DbConn,
    ids: &[i64],
) -> CoreResult<HashMap<i64, IdentityStats>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<StatsRow> = crate::prepared::cached(
        diesel::sql_query(folded_stats_sql!()).bind::<diesel::sql_types::Array<BigInt>, _>(ids),
    )
    .load(&mut conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.identity_id, r.stats)).collect())
}

/// What a face's own token sees of it besides its row (`verify_credentials`
/// and `update_credentials`): its counters, its preferences and how many
/// follow requests wait for it — in one round trip.
pub async fn own_view(
    conn: &mut DbConn,
    face: i64,
) -> CoreResult<(IdentityStats, crate::models::Preferences, i64)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(embed)]
        stats: IdentityStats,
        #[diesel(sql_type = diesel::sql_types::Text)]
        default_visibility: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        default_sensitive: bool,
        #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
        default_language: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        anonymous_reach: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        hide_anonymous: bool,
        #[diesel(sql_type = BigInt)]
        requests: i64,
    }
    // The counters as `identity_stats` reads them (the folded row plus the
    // deltas not folded yet).
    let row: Option<Row> = crate::prepared::cached(
        diesel::sql_query(
            "SELECT coalesce(greatest(s.followers, 0), 0)::int8 AS followers, \
                    coalesce(greatest(s.following, 0), 0)::int8 AS following, \
                    coalesce(greatest(s.statuses, 0), 0)::int8 AS statuses, s.last_status_on, \
                    p.default_visibility, p.default_sensitive, p.default_language, \
                    p.anonymous_reach, p.hide_anonymous, \
                    (SELECT count(*) FROM follow_requests WHERE target_identity_id = $1) AS requests \
               FROM preferences p, \
                    (SELECT sum(followers) AS followers, sum(following) AS following, \
                            sum(statuses) AS statuses, max(last_status_on) AS last_status_on \
                       FROM (SELECT followers_count AS followers, following_count AS following, \
                                    statuses_count AS statuses, last_status_on \
                               FROM identity_stats WHERE identity_id = $1 \
                             UNION ALL \
                             SELECT followers, following, statuses, last_status_on \
                               FROM identity_stat_deltas WHERE identity_id = $1) AS u) AS s \
              WHERE p.identity_id = $1",
        )
        .bind::<BigInt, _>(face),
    )
    .get_result(conn)
    .await
    .optional()?;
    let row = row.ok_or(CoreError::NotFound)?;
    Ok((
        row.stats,
        crate::models::Preferences {
            identity_id: face,
            default_visibility: row.default_visibility,
            default_sensitive: row.default_sensitive,
            default_language: row.default_language,
            anonymous_reach: row.anonymous_reach,
            hide_anonymous: row.hide_anonymous,
        },
        row.requests,
    ))
}

#[derive(QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = BigInt)]
    identity_id: i64,
    #[diesel(embed)]
    stats: IdentityStats,
}

/// Folds the pending counter deltas into `identity_stats` (a job of the
/// worker, once a second): anonymous faces' in one transaction, all other
/// faces' in another (one transaction writing both would tie them by its
/// `xmin`), then drops deltas of faces deleted since. How many delta rows it
/// took.
pub async fn fold_stat_deltas(conn: &mut DbConn) -> CoreResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut total = 0;
    for sql in [
        "SELECT guise_fold_stat_deltas(true) AS n",
        "SELECT guise_fold_stat_deltas(false) AS n",
        "SELECT guise_drop_orphan_stat_deltas() AS n",
    ] {
        let n: N = diesel::sql_query(sql).get_result(conn).await?;
        total += n.n;
    }
    Ok(total)
}

/// Lists of faces paginated by the relation row's id (Mastodon pages these by
/// the follow id, not the account id).
#[derive(Debug, Clone, Copy)]
pub enum FaceList {
    Followers(i64),
    Following(i64),
    Blocks(i64),
    Mutes(i64),
    FollowRequests(i64),
    FavouritedBy(i64),
    RebloggedBy(i64),
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = BigInt)]
    cursor: i64,
    #[diesel(sql_type = BigInt)]
    who: i64,
}

/// How many follow requests wait for `face` (a count, not a list).
pub async fn follow_requests_count(conn: &mut DbConn, face: i64) -> CoreResult<i64> {
    Ok(follow_requests::table
        .filter(follow_requests::target_identity_id.eq(face))
        .count()
        .get_result(conn)
        .await?)
}

/// Returns (cursor, identity) pairs, newest first.
pub async fn face_list(
    conn: &mut DbConn,
    list: FaceList,
    page: &crate::statuses::Page,
) -> CoreResult<Vec<(i64, Identity)>> {
    let (sql, key) = match list {
        FaceList::Followers(i) => ("SELECT id AS cursor, identity_id AS who FROM follows WHERE target_identity_id = $1", i),
        FaceList::Following(i) => ("SELECT id AS cursor, target_identity_id AS who FROM follows WHERE identity_id = $1", i),
        FaceList::Blocks(i) => ("SELECT id AS cursor, target_identity_id AS who FROM blocks WHERE identity_id = $1", i),
        FaceList::Mutes(i) => ("SELECT id AS cursor, target_identity_id AS who FROM mutes WHERE identity_id = $1", i),
        FaceList::FollowRequests(i) => ("SELECT id AS cursor, identity_id AS who FROM follow_requests WHERE target_identity_id = $1", i),
        FaceList::FavouritedBy(s) => ("SELECT id AS cursor, identity_id AS who FROM favourites WHERE status_id = $1", s),
        FaceList::RebloggedBy(s) => ("SELECT id AS cursor, identity_id AS who FROM statuses WHERE reblog_of_id = $1", s),
    };
    let asc = page.ascending();
    let full = format!(
        "SELECT * FROM ({sql}) x WHERE ($2::bigint IS NULL OR cursor < $2) AND ($3::bigint IS NULL OR cursor > $3) AND ($4::bigint IS NULL OR cursor > $4) ORDER BY cursor {} LIMIT $5",
        if asc { "ASC" } else { "DESC" }
    );
    let mut rows: Vec<PairRow> = diesel::sql_query(full)
        .bind::<BigInt, _>(key)
        .bind::<Nullable<BigInt>, _>(page.max_id)
        .bind::<Nullable<BigInt>, _>(page.since_id)
        .bind::<Nullable<BigInt>, _>(page.min_id)
        .bind::<BigInt, _>(page.limit)
        .load(conn)
        .await?;
    if asc {
        rows.reverse();
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.who).collect();
    let people: HashMap<i64, Identity> = crate::accounts::identities_by_ids(conn, &ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| people.get(&r.who).cloned().map(|p| (r.cursor, p)))
        .collect())
}

pub async fn favourite(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    status_id: i64,
) -> CoreResult<Status> {
    let status = visible_status(conn, Some(me.id), status_id).await?;
    let me_id = me.id;
    let author = get_identity(conn, status.identity_id).await?;
    let now = clock.now();
    let edge = Id::generate(now).get();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let n = diesel::insert_into(favourites::table)
            .values((
                favourites::id.eq(edge),
                favourites::identity_id.eq(me_id),
                favourites::status_id.eq(status_id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if n > 0 {
            notify(conn, clock, &author, me_id, "favourite", Some(status_id)).await?;
            events::record(
                conn,
                clock,
                DomainEvent::FavouriteCreated {
                    from: me_id,
                    status: status_id,
                    edge,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(status)
}

pub async fn unfavourite(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    status_id: i64,
) -> CoreResult<Status> {
    let status = visible_status(conn, Some(me.id), status_id).await?;
    let me_id = me.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let gone: Vec<i64> = diesel::delete(
            favourites::table
                .filter(favourites::identity_id.eq(me_id))
                .filter(favourites::status_id.eq(status_id)),
        )
        .returning(favourites::id)
        .get_results(conn)
        .await?;
        if let Some(edge) = <[i64]>::first(&gone) {
            diesel::delete(
                notifications::table
                    .filter(notifications::from_identity_id.eq(me_id))
                    .filter(notifications::status_id.eq(status_id))
                    .filter(notifications::kind.eq("favourite")),
            )
            .execute(conn)
            .await?;
            events::record(
                conn,
                clock,
                DomainEvent::FavouriteDeleted {
                    from: me_id,
                    status: status_id,
                    edge: *edge,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(status)
}

/// Reblogs a public or unlisted status; returns the reblog row.
pub async fn reblog(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    status_id: i64,
    visibility: Option<Visibility>,
) -> CoreResult<Status> {
    let mut target = visible_status(conn, Some(me.id), status_id).await?;
    if let Some(inner) = target.reblog_of_id {
        target = visible_status(conn, Some(me.id), inner).await?;
    }
    if !matches!(
        target.visibility(),
        Visibility::Public | Visibility::Unlisted
    ) {
        return Err(CoreError::invalid("id", "this status cannot be reblogged"));
    }
    let existing: Option<Status> = statuses::table
        .filter(statuses::identity_id.eq(me.id))
        .filter(statuses::reblog_of_id.eq(target.id))
        .select(Status::as_select())
        .first(conn)
        .await
        .optional()?;
    if let Some(r) = existing {
        return Ok(r);
    }
    let author = get_identity(conn, target.identity_id).await?;
    let visibility = visibility.unwrap_or(Visibility::Public);
    if !matches!(
        visibility,
        Visibility::Public | Visibility::Unlisted | Visibility::Private
    ) {
        return Err(CoreError::invalid(
            "visibility",
            "must be public, unlisted or private",
        ));
    }
    let now = clock.now();
    let id = Id::generate(now).get();
    let me_id = me.id;
    let target_id = target.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let row: Status = diesel::insert_into(statuses::table)
            .values((
                statuses::id.eq(id),
                statuses::identity_id.eq(me_id),
                statuses::visibility.eq(visibility.as_str()),
                statuses::thread_root_id.eq(id),
                statuses::reblog_of_id.eq(Some(target_id)),
                statuses::created_at.eq(now),
            ))
            .returning(Status::as_returning())
            .get_result(conn)
            .await?;
        notify(conn, clock, &author, me_id, "reblog", Some(target_id)).await?;
        events::record(conn, clock, DomainEvent::ReblogCreated { reblog: id }).await?;
        Ok(row)
    })
    .await
}

/// Undoes a reblog; returns the original status.
pub async fn unreblog(
    conn: &mut DbConn,
    clock: &dyn Clock,
    me: &Identity,
    status_id: i64,
) -> CoreResult<Status> {
    let target = visible_status(conn, Some(me.id), status_id).await?;
    let target_id = target.reblog_of_id.unwrap_or(target.id);
    let target_author = crate::statuses::get_status(conn, target_id)
        .await?
        .identity_id;
    let me_id = me.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let gone: Vec<i64> = diesel::delete(
            statuses::table
                .filter(statuses::identity_id.eq(me_id))
                .filter(statuses::reblog_of_id.eq(target_id)),
        )
        .returning(statuses::id)
        .get_results(conn)
        .await?;
        if !gone.is_empty() {
            diesel::delete(
                notifications::table
                    .filter(notifications::from_identity_id.eq(me_id))
                    .filter(notifications::status_id.eq(target_id))
                    .filter(notifications::kind.eq("reblog")),
            )
            .execute(conn)
            .await?;
        }
        for g in gone {
            events::record(
                conn,
                clock,
                DomainEvent::ReblogDeleted {
                    reblog: g,
                    booster: me_id,
                    author: target_author,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    crate::statuses::get_status(conn, target_id).await
}

#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub types: Vec<String>,
    pub exclude_types: Vec<String>,
    pub account_id: Option<i64>,
}

pub async fn list_notifications(
    conn: &mut DbConn,
    faces: &[i64],
    filter: &NotificationFilter,
    page: &crate::statuses::Page,
) -> CoreResult<Vec<Notification>> {
    let mut q = notifications::table
        .filter(notifications::identity_id.eq_any(faces))
        .select(Notification::as_select())
        .into_boxed();
    if !filter.types.is_empty() {
        q = q.filter(notifications::kind.eq_any(filter.types.clone()));
    }
    if !filter.exclude_types.is_empty() {
        q = q.filter(notifications::kind.ne_all(filter.exclude_types.clone()));
    }
    if let Some(a) = filter.account_id {
        q = q.filter(notifications::from_identity_id.eq(a));
    }
    if let Some(m) = page.max_id {
        q = q.filter(notifications::id.lt(m));
    }
    if let Some(s) = page.since_id {
        q = q.filter(notifications::id.gt(s));
    }
    let asc = page.ascending();
    if let Some(m) = page.min_id {
        q = q.filter(notifications::id.gt(m));
    }
    q = if asc {
        q.order(notifications::id.asc())
    } else {
        q.order(notifications::id.desc())
    };
    let mut rows: Vec<Notification> = q.limit(page.limit).load(conn).await?;
    if asc {
        rows.reverse();
    }
    Ok(rows)
}

pub async fn get_notification(
    conn: &mut DbConn,
    faces: &[i64],
    id: i64,
) -> CoreResult<Notification> {
    notifications::table
        .filter(notifications::identity_id.eq_any(faces))
        .filter(notifications::id.eq(id))
        .select(Notification::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or(CoreError::NotFound)
}

pub async fn dismiss_notification(conn: &mut DbConn, faces: &[i64], id: i64) -> CoreResult<()> {
    let n = diesel::delete(
        notifications::table
            .filter(notifications::identity_id.eq_any(faces))
            .filter(notifications::id.eq(id)),
    )
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(CoreError::NotFound);
    }
    Ok(())
}

pub async fn clear_notifications(conn: &mut DbConn, faces: &[i64]) -> CoreResult<()> {
    diesel::delete(notifications::table.filter(notifications::identity_id.eq_any(faces)))
        .execute(conn)
        .await?;
    Ok(())
}
