//! Statuses: publish, edit, delete, read, threads and timelines.
//!
//! Every write runs in one transaction together with its notifications and
//! its `outbox_events` row, so nothing is half-written and nothing accepted
//! is lost before federation and streaming pick it up.

use crate::accounts::{find_identity_by_acct, identities_by_ids};
use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult, OptionalExt};
use crate::events::{self, DomainEvent};
use crate::id::Id;
use crate::models::{Identity, Status, StatusEdit};
use crate::schema::{
    idempotency_keys, mentions, notifications, status_edits, status_tags, statuses,
};
use crate::text;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::{check_post, Decision, PostAttempt, PostingRules, Visibility};
use std::collections::{HashMap, HashSet};

/// What a use case needs besides the connection: the clock, the posting rules
/// and the public base URL (for links the formatter makes).
pub struct Ctx<'a> {
    pub clock: &'a dyn Clock,
    pub rules: std::sync::Arc<PostingRules>,
    pub base_url: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct NewStatus {
    /// A preset id (an anonymous thread's root id is chosen before its face).
    pub id: Option<i64>,
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Option<Visibility>,
    pub language: Option<String>,
    pub in_reply_to_id: Option<i64>,
    pub idempotency_key: Option<String>,
    /// Uploads to attach, with the capability the caller presents for each.
    pub media: Vec<crate::uploads::Claim>,
    pub poll: Option<crate::polls::PollInput>,
}

/// A status with everything a client entity needs, for one viewer.
#[derive(Debug, Clone)]
pub struct StatusView {
    pub status: Status,
    pub author: Identity,
    /// The author's counters (for its Account entity).
    pub author_stats: crate::social::IdentityStats,
    pub reblog: Option<Box<StatusView>>,
    pub poll: Option<crate::polls::Poll>,
    pub mentions: Vec<Identity>,
    pub tags: Vec<String>,
    pub replies_count: i64,
    pub reblogs_count: i64,
    pub favourites_count: i64,
    pub favourited: bool,
    pub reblogged: bool,
    pub bookmarked: bool,
    /// Pinned by its author, when the viewer is its author.
    pub pinned: bool,
    /// The viewer muted its thread.
    pub muted: bool,
}

/// Cursor pagination as Mastodon clients send it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub max_id: Option<i64>,
    pub since_id: Option<i64>,
    pub min_id: Option<i64>,
    pub limit: i64,
}

impl Page {
    /// Newer than `min_id` with nothing older asked: the walk goes upwards
    /// (and the rows are turned round before they are returned).
    pub fn ascending(&self) -> bool {
        self.min_id.is_some() && self.max_id.is_none()
    }

    /// The SQL direction of that walk.
    pub fn order(&self) -> &'static str {
        if self.ascending() {
            "ASC"
        } else {
            "DESC"
        }
    }

    pub fn clamp(limit: Option<i64>, default: i64, max: i64) -> i64 {
        limit.unwrap_or(default).clamp(1, max)
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn key_hash(key: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A face's profile page: a remote actor's own `url` when it gave one
/// (what its server's mention links and apps use), else its id.
pub fn profile_url(base_url: &str, who: &Identity) -> String {
    match (&who.domain, &who.actor_url) {
        (Some(_), Some(actor)) => who.profile().url.unwrap_or_else(|| actor.clone()),
        _ => format!("{base_url}/@{}", who.handle),
    }
}

/// Formats text, resolving mentions to known faces. Returns HTML, the
/// mentioned faces and the hashtags.
async fn format_text(
    conn: &mut DbConn,
    base_url: &str,
    raw: &str,
) -> CoreResult<(String, Vec<Identity>, Vec<String>)> {
    let segments = text::parse(raw);
    let mut found: Vec<Identity> = Vec::new();
    for (user, domain) in text::mentions(&segments) {
        let local_domain = base_url.split("://").nth(1).unwrap_or(base_url);
        let domain = domain.filter(|d| !d.eq_ignore_ascii_case(local_domain));
        if let Some(who) = find_identity_by_acct(conn, &user, domain.as_deref()).await? {
            // Anonymous faces are reached by replying, not by name.
            if who.tier() != guise_policy::Tier::Anonymous && !who.suspended {
                found.push(who);
            }
        }
    }
    let html = text::render(&segments, base_url, |user, domain| {
        found
            .iter()
            .find(|w| {
                w.handle.eq_ignore_ascii_case(user)
                    && match (domain, &w.domain) {
                        (None, None) => true,
                        (Some(d), Some(wd)) => d.eq_ignore_ascii_case(wd),
                        (Some(d), None) => base_url.ends_with(d),
                        _ => false,
                    }
            })
            .map(|w| text::ResolvedMention {
                profile_url: profile_url(base_url, w),
                handle: w.handle.clone(),
            })
    });
    Ok((html, found, text::hashtags(&segments)))
}

async fn insert_notification(
    conn: &mut DbConn,
    clock: &dyn Clock,
    to: i64,
    from: i64,
    kind: &str,
    status_id: Option<i64>,
) -> CoreResult<()> {
    if to == from {
        return Ok(());
    }
    // A face that blocked or muted (with notifications) the sender, muted
    // the thread, or blocked the sender's domain hears nothing.
    let now = clock.now();
    #[derive(QueryableByName)]
    struct Silenced {
        #[diesel(sql_type = Bool)]
        silenced: bool,
    }
    let silenced = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE identity_id = $1 AND target_identity_id = $2)
             OR EXISTS (SELECT 1 FROM mutes WHERE hide_notifications AND identity_id = $1
                          AND target_identity_id = $2 AND (expires_at IS NULL OR expires_at > $4))
             OR EXISTS (SELECT 1 FROM statuses s JOIN thread_mutes t ON t.thread_root_id = s.thread_root_id
                         WHERE s.id = $3 AND t.identity_id = $1)
             OR EXISTS (SELECT 1 FROM identities i JOIN face_domain_blocks d
                           ON d.domain = split_part(i.domain, ':', 1)
                         WHERE i.id = $2 AND d.identity_id = $1) AS silenced",
    )
    .bind::<BigInt, _>(to)
    .bind::<BigInt, _>(from)
    .bind::<diesel::sql_types::Nullable<BigInt>, _>(status_id)
    .bind::<diesel::sql_types::Timestamptz, _>(now);
    let silenced = crate::prepared::cached(silenced)
        .get_result::<Silenced>(conn)
        .await?
        .silenced;
    if silenced {
        return Ok(());
    }
    write_notification(conn, clock, to, from, kind, status_id).await
}

/// A notification about a status that may be one's own (a poll of yours
/// has ended): no silencing applies.
pub async fn notify_about(
    conn: &mut DbConn,
    clock: &dyn Clock,
    to: i64,
    from: i64,
    kind: &str,
    status_id: i64,
) -> CoreResult<()> {
    write_notification(conn, clock, to, from, kind, Some(status_id)).await
}

async fn write_notification(
    conn: &mut DbConn,
    clock: &dyn Clock,
    to: i64,
    from: i64,
    kind: &str,
    status_id: Option<i64>,
) -> CoreResult<()> {
    let now = clock.now();
    let id = Id::generate(now).get();
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(id),
            notifications::identity_id.eq(to),
            notifications::from_identity_id.eq(from),
            notifications::kind.eq(kind),
            notifications::status_id.eq(status_id),
            notifications::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    crate::push::enqueue(conn, clock, id, to, from, kind).await?;
    events::record(
        conn,
        clock,
        DomainEvent::NotificationCreated {
            notification: id,
            face: to,
        },
    )
    .await
}

pub(crate) async fn notify(
    conn: &mut DbConn,
    clock: &dyn Clock,
    to: &Identity,
    from: i64,
    kind: &str,
    status_id: Option<i64>,
) -> CoreResult<()> {
    // Remote faces get notified by their own server, through federation.
    if to.is_local() {
        insert_notification(conn, clock, to.id, from, kind, status_id).await?;
    }
    Ok(())
}

pub async fn get_status(conn: &mut DbConn, id: i64) -> CoreResult<Status> {
    statuses::table
        .find(id)
        .select(Status::as_select())
        .first(conn)
        .await
        .found()
}

/// Whether `viewer` may see `status` by its visibility and the block graph.
pub async fn can_see(conn: &mut DbConn, viewer: Option<i64>, status: &Status) -> CoreResult<bool> {
    Ok(!visible_ids(conn, viewer, &[status.id], false)
        .await?
        .is_empty())
}

/// Which of `ids` the viewer may see, in one query: their own, public and
/// unlisted ones, followers-only ones of faces they follow, and those that
/// mention them; never one whose author blocks them, and never one by a
/// suspended face unless `include_suspended` (staff).
pub async fn visible_ids(
    conn: &mut DbConn,
    viewer: Option<i64>,
    ids: &[i64],
    include_suspended: bool,
) -> CoreResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<IdRow> = diesel::sql_query(
        "SELECT s.id FROM statuses s
          WHERE s.id = ANY($2)
            AND ($3 OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = s.identity_id AND i.suspended))
            AND (s.identity_id = $1 OR (
                  (s.visibility IN ('public', 'unlisted')
                   OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f
                         WHERE f.identity_id = $1 AND f.target_identity_id = s.identity_id))
                   OR EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = s.id AND m.identity_id = $1))
                  AND NOT EXISTS (SELECT 1 FROM blocks b
                         WHERE b.identity_id = s.identity_id AND b.target_identity_id = $1)))",
    )
    .bind::<BigInt, _>(viewer.unwrap_or(0))
    .bind::<Array<BigInt>, _>(ids)
    .bind::<diesel::sql_types::Bool, _>(include_suspended)
    .load(conn)
    .await?;
    let seen: HashSet<i64> = rows.into_iter().map(|r| r.id).collect();
    Ok(ids.iter().copied().filter(|i| seen.contains(i)).collect())
}

/// Loads a status the viewer may see, or NotFound (never 403: existence is private).
pub async fn visible_status(conn: &mut DbConn, viewer: Option<i64>, id: i64) -> CoreResult<Status> {
    let s = get_status(conn, id).await?;
    if can_see(conn, viewer, &s).await? {
        Ok(s)
    } else {
        Err(CoreError::NotFound)
    }
}

pub async fn publish(
    conn: &mut DbConn,
    ctx: &Ctx<'_>,
    author: &Identity,
    new: NewStatus,
) -> CoreResult<Status> {
    if let Some(key) = &new.idempotency_key {
        let existing: Option<i64> = idempotency_keys::table
            .filter(idempotency_keys::identity_id.eq(author.id))
            .filter(idempotency_keys::key_hash.eq(key_hash(key)))
            .select(idempotency_keys::status_id)
            .first(conn)
            .await
            .optional()?;
        if let Some(id) = existing {
            return get_status(conn, id).await;
        }
    }
    let prefs = crate::accounts::preferences_of(conn, author.id).await.ok();
    let visibility = new.visibility.unwrap_or_else(|| {
        prefs
            .as_ref()
            .and_then(|p| p.default_visibility.parse().ok())
            .unwrap_or(Visibility::Public)
    });
    let decision = check_post(
        &ctx.rules,
        &PostAttempt {
            tier: author.tier(),
            verified: author.verified,
            suspended: author.suspended,
            visibility,
            text: &new.text,
            spoiler_text: &new.spoiler_text,
            has_media: !new.media.is_empty(),
            reply: new.in_reply_to_id.is_some(),
        },
    );
    if let Decision::Refuse(r) = decision {
        return Err(CoreError::Refused(r));
    }
    if let Some(p) = &new.poll {
        if !new.media.is_empty() {
            return Err(CoreError::invalid(
                "poll",
                "a post cannot have both media and a poll",
            ));
        }
        p.check()?;
    }
    let uploads = crate::uploads::check_claims(conn, &new.media).await?;
    let attachments = serde_json::Value::Array(
        uploads
            .iter()
            .map(crate::uploads::attachment_json)
            .collect(),
    );
    let parent = match new.in_reply_to_id {
        Some(pid) => Some(visible_status(conn, Some(author.id), pid).await.map_err(
            |e| match e {
                CoreError::NotFound => CoreError::invalid("in_reply_to_id", "Record not found"),
                e => e,
            },
        )?),
        None => None,
    };
    let (content, mut mentioned, tags) = format_text(conn, ctx.base_url, &new.text).await?;
    let mut parent_author: Option<Identity> = None;
    if let Some(p) = &parent {
        let pa = crate::accounts::get_identity(conn, p.identity_id).await?;
        if pa.id != author.id && !mentioned.iter().any(|m| m.id == pa.id) {
            mentioned.push(pa.clone());
        }
        parent_author = Some(pa);
    }
    // Anonymous faces reach only faces that take them (crate::reach).
    if author.tier() == guise_policy::Tier::Anonymous {
        let root_author = match &parent {
            Some(p) => crate::reach::root_author(conn, p.thread_root_id).await?,
            None => None,
        };
        crate::reach::check(conn, author, &mentioned, root_author).await?;
    }
    let now = ctx.clock.now();
    let id = new.id.unwrap_or_else(|| Id::generate(now).get());
    let thread_root = parent.as_ref().map_or(id, |p| p.thread_root_id);
    let language = new
        .language
        .filter(|l| !l.is_empty())
        .or_else(|| prefs.and_then(|p| p.default_language));
    let key = new.idempotency_key.clone();
    let clock = ctx.clock;
    let author_id = author.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let status: Status = diesel::insert_into(statuses::table)
            .values((
                statuses::id.eq(id),
                statuses::identity_id.eq(author_id),
                statuses::source_text.eq(&new.text),
                statuses::content.eq(&content),
                statuses::spoiler_text.eq(new.spoiler_text.trim()),
                statuses::sensitive.eq(new.sensitive || !new.spoiler_text.trim().is_empty()),
                statuses::visibility.eq(visibility.as_str()),
                statuses::language.eq(&language),
                statuses::in_reply_to_id.eq(parent.as_ref().map(|p| p.id)),
                statuses::in_reply_to_identity_id.eq(parent_author.as_ref().map(|p| p.id)),
                statuses::thread_root_id.eq(thread_root),
                statuses::created_at.eq(now),
                statuses::attachments.eq(&attachments),
            ))
            .returning(Status::as_returning())
            .get_result(conn)
            .await?;
        crate::uploads::attach(conn, id, &new.media).await?;
        if let Some(p) = &new.poll {
            crate::polls::create(conn, clock, id, p).await?;
        }
        for m in &mentioned {
            diesel::insert_into(mentions::table)
                .values((mentions::status_id.eq(id), mentions::identity_id.eq(m.id)))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            notify(conn, clock, m, author_id, "mention", Some(id)).await?;
        }
        for t in &tags {
            diesel::insert_into(status_tags::table)
                .values((status_tags::status_id.eq(id), status_tags::name.eq(t)))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
        // Followers who asked to be told of new posts (`notify`), for
        // posts they may see; mentioned faces were told already.
        if visibility != Visibility::Direct {
            let watchers: Vec<i64> = crate::schema::follows::table
                .filter(crate::schema::follows::target_identity_id.eq(author_id))
                .filter(crate::schema::follows::notify.eq(true))
                .select(crate::schema::follows::identity_id)
                .load(conn)
                .await?;
            for w in watchers {
                if !mentioned.iter().any(|m| m.id == w) {
                    insert_notification(conn, clock, w, author_id, "status", Some(id)).await?;
                }
            }
        }
        if let Some(key) = &key {
            diesel::insert_into(idempotency_keys::table)
                .values((
                    idempotency_keys::identity_id.eq(author_id),
                    idempotency_keys::key_hash.eq(key_hash(key)),
                    idempotency_keys::status_id.eq(id),
                    idempotency_keys::created_at.eq(now),
                ))
                .execute(conn)
                .await?;
        }
        events::record(conn, clock, DomainEvent::StatusCreated { status: id }).await?;
        Ok(status)
    })
    .await
}

#[derive(Debug, Clone, Default)]
pub struct StatusEditInput {
    pub text: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    /// The post's media after the edit, in order: ones it carries already
    /// (by id; any tag) and new uploads (with their capability). `None`
    /// keeps them as they are.
    pub media: Option<Vec<crate::uploads::Claim>>,
    /// New descriptions and focal points for media the post carries.
    pub media_attributes: Vec<crate::uploads::Attribute>,
    /// The poll after the edit: `None` keeps it; the same options keep it
    /// and its votes; other options replace it, and its votes start over.
    pub poll: Option<crate::polls::PollInput>,
}

pub async fn edit(
    conn: &mut DbConn,
    ctx: &Ctx<'_>,
    author: &Identity,
    id: i64,
    input: StatusEditInput,
) -> CoreResult<Status> {
    let old = get_status(conn, id).await?;
    if old.identity_id != author.id || old.reblog_of_id.is_some() {
        return Err(CoreError::NotFound);
    }
    let media = crate::uploads::plan_edit(conn, id, input.media.as_deref()).await?;
    let old_poll = crate::polls::get(conn, id).await.ok();
    let new_poll = match (&input.poll, &old_poll) {
        (Some(p), Some(have)) if have.titles() == p.options && have.multiple == p.multiple => None,
        (Some(p), _) => {
            p.check()?;
            Some(p.clone())
        }
        (None, _) => None,
    };
    let has_media = match &media {
        Some(plan) => !plan.order.is_empty(),
        None => old.attachments.as_array().is_some_and(|a| !a.is_empty()),
    };
    if has_media && (input.poll.is_some() || old_poll.is_some()) {
        return Err(CoreError::invalid(
            "poll",
            "a post cannot have both media and a poll",
        ));
    }
    let decision = check_post(
        &ctx.rules,
        &PostAttempt {
            tier: author.tier(),
            verified: author.verified,
            suspended: author.suspended,
            visibility: old.visibility(),
            text: &input.text,
            spoiler_text: &input.spoiler_text,
            has_media,
            // An edit keeps the post where it is: rules for starting a
            // thread are not asked again.
            reply: true,
        },
    );
    if let Decision::Refuse(r) = decision {
        return Err(CoreError::Refused(r));
    }
    let (content, mentioned, tags) = format_text(conn, ctx.base_url, &input.text).await?;
    if author.tier() == guise_policy::Tier::Anonymous {
        // Faces it mentions already stay; new ones must take anonymous faces.
        let already: Vec<i64> = mentions::table
            .filter(mentions::status_id.eq(id))
            .select(mentions::identity_id)
            .load(conn)
            .await?;
        let new_ones: Vec<Identity> = mentioned
            .iter()
            .filter(|m| !already.contains(&m.id))
            .cloned()
            .collect();
        let root_author = crate::reach::root_author(conn, old.thread_root_id).await?;
        crate::reach::check(conn, author, &new_ones, root_author).await?;
    }
    let now = ctx.clock.now();
    let clock = ctx.clock;
    let author_id = author.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let has_history: bool = diesel::select(diesel::dsl::exists(
            status_edits::table.filter(status_edits::status_id.eq(id)),
        ))
        .get_result(conn)
        .await?;
        if !has_history {
            diesel::insert_into(status_edits::table)
                .values((
                    status_edits::id.eq(Id::generate(old.created_at).get()),
                    status_edits::status_id.eq(id),
                    status_edits::source_text.eq(&old.source_text),
                    status_edits::content.eq(&old.content),
                    status_edits::spoiler_text.eq(&old.spoiler_text),
                    status_edits::sensitive.eq(old.sensitive),
                    status_edits::created_at.eq(old.created_at),
                ))
                .execute(conn)
                .await?;
        }
        let sensitive = input.sensitive || !input.spoiler_text.trim().is_empty();
        diesel::insert_into(status_edits::table)
            .values((
                status_edits::id.eq(Id::generate(now).get()),
                status_edits::status_id.eq(id),
                status_edits::source_text.eq(&input.text),
                status_edits::content.eq(&content),
                status_edits::spoiler_text.eq(input.spoiler_text.trim()),
                status_edits::sensitive.eq(sensitive),
                status_edits::created_at.eq(now),
            ))
            .execute(conn)
            .await?;
        let status: Status = diesel::update(statuses::table.find(id))
            .set((
                statuses::source_text.eq(&input.text),
                statuses::content.eq(&content),
                statuses::spoiler_text.eq(input.spoiler_text.trim()),
                statuses::sensitive.eq(sensitive),
                statuses::language.eq(input
                    .language
                    .filter(|l| !l.is_empty())
                    .or(old.language.clone())),
                statuses::edited_at.eq(Some(now)),
            ))
            .returning(Status::as_returning())
            .get_result(conn)
            .await?;
        let status = if media.is_some() || !input.media_attributes.is_empty() {
            crate::uploads::apply_edit(conn, id, media.as_ref(), &input.media_attributes).await?
        } else {
            status
        };
        if let Some(p) = &new_poll {
            // Other options are another poll: the old one and its votes go.
            diesel::delete(crate::schema::polls::table.find(id))
                .execute(conn)
                .await?;
            crate::polls::create(conn, clock, id, p).await?;
        }
        diesel::delete(status_tags::table.filter(status_tags::status_id.eq(id)))
            .execute(conn)
            .await?;
        for t in &tags {
            diesel::insert_into(status_tags::table)
                .values((status_tags::status_id.eq(id), status_tags::name.eq(t)))
                .execute(conn)
                .await?;
        }
        let before: HashSet<i64> = mentions::table
            .filter(mentions::status_id.eq(id))
            .select(mentions::identity_id)
            .load::<i64>(conn)
            .await?
            .into_iter()
            .collect();
        for m in &mentioned {
            if !before.contains(&m.id) {
                diesel::insert_into(mentions::table)
                    .values((mentions::status_id.eq(id), mentions::identity_id.eq(m.id)))
                    .execute(conn)
                    .await?;
                notify(conn, clock, m, author_id, "mention", Some(id)).await?;
            }
        }
        events::record(conn, clock, DomainEvent::StatusUpdated { status: id }).await?;
        Ok(status)
    })
    .await
}

/// Which of `faces` wrote last in the thread of `root`, if any.
pub async fn last_author_in_thread(
    conn: &mut DbConn,
    root: i64,
    faces: &[i64],
) -> CoreResult<Option<i64>> {
    Ok(statuses::table
        .filter(statuses::thread_root_id.eq(root))
        .filter(statuses::identity_id.eq_any(faces))
        .order(statuses::id.desc())
        .select(statuses::identity_id)
        .first(conn)
        .await
        .optional()?)
}

pub async fn history(conn: &mut DbConn, status: &Status) -> CoreResult<Vec<StatusEdit>> {
    Ok(status_edits::table
        .filter(status_edits::status_id.eq(status.id))
        .order(status_edits::id.asc())
        .select(StatusEdit::as_select())
        .load(conn)
        .await?)
}

/// Who a status addressed besides followers (its mentions, the replied-to
/// face), as the ids a `status.deleted` event keeps: they go with the row,
/// and the Delete must still reach them.
pub async fn addressed_by(conn: &mut DbConn, status: &Status) -> CoreResult<Vec<i64>> {
    let mut addressed: Vec<i64> = mentions::table
        .filter(mentions::status_id.eq(status.id))
        .select(mentions::identity_id)
        .load(conn)
        .await?;
    addressed.extend(status.in_reply_to_identity_id);
    Ok(addressed)
}

/// Deletes the author's own status (and the reblogs of it).
pub async fn delete(
    conn: &mut DbConn,
    clock: &dyn Clock,
    author: &Identity,
    id: i64,
) -> CoreResult<Status> {
    let status = get_status(conn, id).await?;
    if status.identity_id != author.id || status.reblog_of_id.is_some() {
        return Err(CoreError::NotFound);
    }
    let author_id = author.id;
    let addressed = addressed_by(conn, &status).await?;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::delete(statuses::table.find(id))
            .execute(conn)
            .await?;
        events::record(
            conn,
            clock,
            DomainEvent::StatusDeleted {
                status: id,
                author: author_id,
                addressed,
                by_moderator: false,
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(status)
}

/// Ancestors and descendants visible to the viewer, oldest first.
pub async fn context(
    conn: &mut DbConn,
    viewer: Option<i64>,
    status: &Status,
) -> CoreResult<(Vec<i64>, Vec<i64>)> {
    let thread: Vec<(i64, Option<i64>)> = statuses::table
        .filter(statuses::thread_root_id.eq(status.thread_root_id))
        .filter(statuses::reblog_of_id.is_null())
        .order(statuses::id.asc())
        .limit(4096)
        .select((statuses::id, statuses::in_reply_to_id))
        .load(conn)
        .await?;
    let parent_of: HashMap<i64, Option<i64>> = thread.iter().copied().collect();
    let mut ancestors = Vec::new();
    let mut cur = status.in_reply_to_id;
    while let Some(p) = cur {
        if ancestors.len() >= 256 || ancestors.contains(&p) {
            break;
        }
        ancestors.push(p);
        cur = parent_of.get(&p).copied().flatten();
    }
    ancestors.reverse();
    let mut in_subtree: HashSet<i64> = HashSet::from([status.id]);
    let mut descendants = Vec::new();
    for (id, parent) in &thread {
        if let Some(p) = parent {
            if in_subtree.contains(p) && *id != status.id {
                in_subtree.insert(*id);
                descendants.push(*id);
            }
        }
    }
    let ancestors = filter_visible(conn, viewer, ancestors).await?;
    let descendants = filter_visible(conn, viewer, descendants).await?;
    Ok((ancestors, descendants))
}

async fn filter_visible(
    conn: &mut DbConn,
    viewer: Option<i64>,
    ids: Vec<i64>,
) -> CoreResult<Vec<i64>> {
    visible_ids(conn, viewer, &ids, false).await
}

const VISIBLE_TO_VIEWER: &str = "(s.visibility IN ('public', 'unlisted') OR s.identity_id = $1
      OR (s.visibility = 'private' AND EXISTS (SELECT 1 FROM follows f WHERE f.identity_id = $1 AND f.target_identity_id = s.identity_id))
      OR EXISTS (SELECT 1 FROM mentions m WHERE m.status_id = s.id AND m.identity_id = $1))
  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = $1 AND b.target_identity_id = s.identity_id) OR (b.identity_id = s.identity_id AND b.target_identity_id = $1))";

/// A page's bounds over `col` (`$2` max_id, `$3` since_id, `$4` min_id;
/// each may be NULL). Written as two plain range conditions, not as
/// `($2 IS NULL OR s.id < $2)`, so that one plan serves every page: the
/// index takes both bounds whichever are given, and PostgreSQL can keep
/// the statement's generic plan instead of planning each call anew (for a
/// timeline query, planning cost three times what running it did). Ids
/// are never negative.
pub(crate) fn cursor(col: &str) -> String {
    format!("{col} < COALESCE($2::bigint, 9223372036854775807) AND {col} > GREATEST($3::bigint, $4::bigint, -1)")
}

fn paged(sql_where: &str, page: &Page) -> String {
    let order = page.order();
    format!(
        "SELECT s.id FROM statuses s WHERE {sql_where}
           AND {}
         ORDER BY s.id {order} LIMIT $5",
        cursor("s.id")
    )
}

async fn run_paged(
    conn: &mut DbConn,
    sql: String,
    viewer: i64,
    page: &Page,
    extra: Option<&str>,
) -> CoreResult<Vec<i64>> {
    // `sql` is assembled from fixed pieces only (values go in binds).
    let q = crate::prepared::cached(
        diesel::sql_query(sql)
            .bind::<BigInt, _>(viewer)
            .bind::<Nullable<BigInt>, _>(page.max_id)
            .bind::<Nullable<BigInt>, _>(page.since_id)
            .bind::<Nullable<BigInt>, _>(page.min_id)
            .bind::<BigInt, _>(page.limit)
            .bind::<Nullable<Text>, _>(extra),
    );
    let mut ids: Vec<i64> = q
        .load::<IdRow>(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if page.ascending() {
        ids.reverse();
    }
    Ok(ids)
}

/// The viewer's own statuses and those of the faces it follows (and its
/// followed hashtags), newest first: see `timelines` for how this stays as
/// fast at a million statuses as at ten thousand.
pub async fn home_timeline(conn: &mut DbConn, viewer: i64, page: &Page) -> CoreResult<Vec<i64>> {
    crate::timelines::merged(conn, viewer, &crate::timelines::Source::Home, page).await
}

/// Public statuses, optionally local only. `viewer` 0 means nobody signed in.
pub async fn public_timeline(
    conn: &mut DbConn,
    viewer: Option<i64>,
    local: Option<bool>,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    public_timeline_of(conn, viewer, local, false, page).await
}

/// `public_timeline`, of posts with media only when `only_media`.
pub async fn public_timeline_of(
    conn: &mut DbConn,
    viewer: Option<i64>,
    local: Option<bool>,
    only_media: bool,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    let mut wh = format!(
        "s.visibility = 'public' AND s.reblog_of_id IS NULL
         AND ($6::text IS NULL OR ($6 = 'local') = s.local)
         AND NOT {off_public}
         AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = $1 AND b.target_identity_id = s.identity_id) OR (b.identity_id = s.identity_id AND b.target_identity_id = $1))
         AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = $1 AND mu.target_identity_id = s.identity_id)
         AND {}",
        crate::timelines::not_hidden_anonymous("$1"),
        off_public = crate::domains::OFF_PUBLIC,
    );
    if only_media {
        wh.push_str(WITH_MEDIA);
    }
    let scope = local.map(|l| if l { "local" } else { "remote" });
    run_paged(conn, paged(&wh, page), viewer.unwrap_or(0), page, scope).await
}

/// Which of `viewers` (0 for a reader without a face) would find `status`
/// in the public timelines — `public_timeline`'s rules, asked of one status
/// for many readers at once (live streams).
pub async fn public_readers(
    conn: &mut DbConn,
    status: i64,
    viewers: &[i64],
) -> CoreResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    if viewers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(format!(
        "SELECT v.id FROM unnest($2::bigint[]) AS v(id), statuses s
          WHERE s.id = $1 AND s.visibility = 'public' AND s.reblog_of_id IS NULL
            AND NOT {off_public}
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = v.id AND b.target_identity_id = s.identity_id)
                                                     OR (b.identity_id = s.identity_id AND b.target_identity_id = v.id))
            AND NOT EXISTS (SELECT 1 FROM mutes mu WHERE mu.identity_id = v.id AND mu.target_identity_id = s.identity_id)
            AND {}",
        crate::timelines::not_hidden_anonymous("v.id"),
        off_public = crate::domains::OFF_PUBLIC,
    ))
    .bind::<BigInt, _>(status)
    .bind::<diesel::sql_types::Array<BigInt>, _>(viewers)
    .load::<Row>(conn)
    .await?
    .into_iter()
    .map(|r| r.id)
    .collect())
}

/// The hashtags of a status.
pub async fn tags_of(conn: &mut DbConn, status: i64) -> CoreResult<Vec<String>> {
    use crate::schema::status_tags;
    Ok(status_tags::table
        .filter(status_tags::status_id.eq(status))
        .select(status_tags::name)
        .load(conn)
        .await?)
}

/// Statuses by hashtag, public only.
pub async fn tag_timeline(
    conn: &mut DbConn,
    viewer: Option<i64>,
    tag: &str,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    // Walked from the tag's own index (`status_tags (name, status_id
    // DESC)`), each row joined to its post: the rows read are the tag's,
    // never the instance's, whatever plan the statement gets. (Walking
    // `statuses` and probing the tag per post, which a generic plan of the
    // prepared statement chose, reads the whole table for a rare tag.)
    let order = page.order();
    let sql = format!(
        "SELECT t.status_id AS id FROM status_tags t JOIN statuses s ON s.id = t.status_id
          WHERE t.name = lower($6)
            AND s.visibility = 'public' AND s.reblog_of_id IS NULL
            AND NOT {off_public}
            AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.identity_id = $1 AND b.target_identity_id = s.identity_id) OR (b.identity_id = s.identity_id AND b.target_identity_id = $1))
            AND {cursor}
          ORDER BY t.status_id {order} LIMIT $5",
        off_public = crate::domains::OFF_PUBLIC,
        cursor = cursor("t.status_id"),
    );
    run_paged(conn, sql, viewer.unwrap_or(0), page, Some(tag)).await
}

#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorFilter {
    pub exclude_replies: bool,
    pub exclude_reblogs: bool,
    pub only_media: bool,
}

pub async fn author_timeline(
    conn: &mut DbConn,
    viewer: Option<i64>,
    author: i64,
    filter: AuthorFilter,
    page: &Page,
) -> CoreResult<Vec<i64>> {
    // The author is bound (as text in `$6`): the statement's text is one of
    // a few, so it stays prepared.
    let mut wh = format!("s.identity_id = $6::text::bigint AND {VISIBLE_TO_VIEWER}");
    if filter.only_media {
        wh.push_str(WITH_MEDIA);
    }
    if filter.exclude_replies {
        // Mastodon keeps self-replies (threads) when excluding replies.
        wh.push_str(" AND (s.in_reply_to_id IS NULL OR s.in_reply_to_identity_id = s.identity_id)");
    }
    if filter.exclude_reblogs {
        wh.push_str(" AND s.reblog_of_id IS NULL");
    }
    let author = author.to_string();
    run_paged(
        conn,
        paged(&wh, page),
        viewer.unwrap_or(0),
        page,
        Some(&author),
    )
    .await
}

/// Posts with at least one attachment (`only_media`).
const WITH_MEDIA: &str = " AND jsonb_array_length(s.attachments) > 0";

/// A tagged pair: which question (`k`), about which status (`key`), and
/// how many (`n`; 1 for a yes).
#[derive(QueryableByName)]
struct Tagged {
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = BigInt)]
    key: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// What the viewer did with the statuses being hydrated.
#[derive(Default)]
struct Mine {
    favourited: HashSet<i64>,
    reblogged: HashSet<i64>,
    bookmarked: HashSet<i64>,
    pinned: HashSet<i64>,
    muted_roots: HashSet<i64>,
}

/// A page's author with its counters.
#[derive(QueryableByName)]
struct Author {
    #[diesel(embed)]
    face: Identity,
    #[diesel(embed)]
    counted: crate::social::IdentityStats,
}

/// A status with its poll, the faces it mentions and its hashtags.
type Hydrated = (Status, Option<crate::polls::Poll>, Vec<i64>, Vec<String>);

/// Statuses with their polls, for [`hydrated_columns`].
fn hydrated() -> diesel::dsl::LeftJoinOn<
    statuses::table,
    crate::schema::polls::table,
    diesel::dsl::Eq<crate::schema::polls::status_id, statuses::id>,
> {
    use crate::schema::polls;
    statuses::table.left_join(polls::table.on(polls::status_id.eq(statuses::id)))
}

/// A [`Hydrated`] row: the status, its poll, and its mentions and hashtags
/// each as an array read through its key (`(status_id, …)`).
#[allow(clippy::type_complexity)]
fn hydrated_columns() -> (
    diesel::dsl::AsSelect<Status, diesel::pg::Pg>,
    diesel::dsl::AsSelect<Option<crate::polls::Poll>, diesel::pg::Pg>,
    diesel::expression::SqlLiteral<Array<BigInt>>,
    diesel::expression::SqlLiteral<Array<Text>>,
) {
    (
        Status::as_select(),
        Option::<crate::polls::Poll>::as_select(),
        diesel::dsl::sql::<Array<BigInt>>(
            "ARRAY(SELECT m.identity_id FROM mentions m WHERE m.status_id = statuses.id)",
        ),
        diesel::dsl::sql::<Array<Text>>(
            "ARRAY(SELECT t.name FROM status_tags t WHERE t.status_id = statuses.id)",
        ),
    )
}

/// Replies, boosts and favourites of each of `ids`, and what `viewer` (if
/// any) did with them (favourited, boosted, bookmarked, pinned, muted the
/// thread of: `roots`), in one statement.
async fn counts_and_marks(
    mut conn: &DbConn,
    viewer: Option<i64>,
    ids: &[i64],
    roots: &[i64],
) -> CoreResult<([HashMap<i64, i64>; 3], Mine)> {
    const COUNTS: &str = "SELECT 'r' AS k, in_reply_to_id AS key, count(*) AS n FROM statuses
          WHERE in_reply_to_id = ANY($1) GROUP BY 2
         UNION ALL
         SELECT 'b', reblog_of_id, count(*) FROM statuses
          WHERE reblog_of_id = ANY($1) GROUP BY 2
         UNION ALL
         SELECT 'f', status_id, count(*) FROM favourites
          WHERE status_id = ANY($1) GROUP BY 2";
    let rows: Vec<Tagged> = match viewer {
        None => {
            crate::prepared::cached(diesel::sql_query(COUNTS).bind::<Array<BigInt>, _>(ids))
                .load(&mut conn)
                .await?
        }
        Some(v) => {
            crate::prepared::cached(
                diesel::sql_query(format!(
                    "{COUNTS}
                     UNION ALL
                     SELECT 'mf', status_id, 1 FROM favourites
                      WHERE identity_id = $2 AND status_id = ANY($1)
                     UNION ALL
                     SELECT 'mr', reblog_of_id, 1 FROM statuses
                      WHERE identity_id = $2 AND reblog_of_id = ANY($1)
                     UNION ALL
                     SELECT 'mb', status_id, 1 FROM bookmarks
                      WHERE identity_id = $2 AND status_id = ANY($1)
                     UNION ALL
                     SELECT 'mp', status_id, 1 FROM pinned_statuses
                      WHERE identity_id = $2 AND status_id = ANY($1)
                     UNION ALL
                     SELECT 'mm', thread_root_id, 1 FROM thread_mutes
                      WHERE identity_id = $2 AND thread_root_id = ANY($3)"
                ))
                .bind::<Array<BigInt>, _>(ids)
                .bind::<BigInt, _>(v)
                .bind::<Array<BigInt>, _>(roots),
            )
            .load(&mut conn)
            .await?
        }
    };
    let mut counted: [HashMap<i64, i64>; 3] = Default::default();
    let mut mine = Mine::default();
    for r in rows {
        let slot = match r.k.as_str() {
            "r" => counted.get_mut(0),
            "b" => counted.get_mut(1),
            "f" => counted.get_mut(2),
            mark => {
                let set = match mark {
                    "mf" => &mut mine.favourited,
                    "mr" => &mut mine.reblogged,
                    "mb" => &mut mine.bookmarked,
                    "mp" => &mut mine.pinned,
                    _ => &mut mine.muted_roots,
                };
                set.insert(r.key);
                None
            }
        };
        if let Some(m) = slot {
            m.insert(r.key, r.n);
        }
    }
    Ok((counted, mine))
}

/// Hydrates statuses for one viewer, in the order of `ids`; missing ids are skipped.
pub async fn load_views(
    conn: &mut DbConn,
    viewer: Option<i64>,
    ids: &[i64],
) -> CoreResult<Vec<StatusView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // One status (posting, an action on a post, a post's page) by its key:
    // a statement of its own, whose generic plan PostgreSQL keeps. Through
    // `= ANY` it was planned anew on every call (the generic plan is costed
    // for a longer array, so a one-element call's custom plan always looked
    // cheaper): 0.11 ms of planning, twice per post.
    // Each status comes with its poll, its mentions and its hashtags, read
    // by its key: one statement where there were four (on a page, what each
    // statement costs PostgreSQL to start and end outweighs these reads).
    // Kept prepared: the text is fixed.
    let mut rows: Vec<Hydrated> = match ids {
        [one] => {
            crate::prepared::cached(
                hydrated()
                    .filter(statuses::id.eq(*one))
                    .select(hydrated_columns()),
            )
            .load(conn)
            .await?
        }
        _ => {
            crate::prepared::cached(
                hydrated()
                    .filter(statuses::id.eq_any(ids))
                    .select(hydrated_columns()),
            )
            .load(conn)
            .await?
        }
    };
    let reblog_ids: Vec<i64> = rows.iter().filter_map(|s| s.0.reblog_of_id).collect();
    if !reblog_ids.is_empty() {
        let inner: Vec<Hydrated> = crate::prepared::cached(
            hydrated()
                .filter(statuses::id.eq_any(&reblog_ids))
                .select(hydrated_columns()),
        )
        .load(conn)
        .await?;
        rows.extend(inner);
    }
    let all_ids: Vec<i64> = rows.iter().map(|s| s.0.id).collect();
    let mut author_ids: Vec<i64> = rows.iter().map(|s| s.0.identity_id).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let roots: Vec<i64> = rows.iter().map(|s| s.0.thread_root_id).collect();
    // What the rest depends on only the statuses: sent together (pipelined
    // on the one connection), so PostgreSQL runs them back to back and the
    // page costs one round trip for them.
    let shared: &DbConn = conn;
    // The authors with their counters (`social::folded_stats_sql`), in
    // the one statement.
    let authors = async {
        let rows: Vec<Author> = crate::prepared::cached(
            diesel::sql_query(concat!(
                "SELECT i.*, coalesce(c.followers, 0) AS followers, coalesce(c.following, 0) AS following,
                        coalesce(c.statuses, 0) AS statuses, c.last_status_on
                   FROM identities i LEFT JOIN (",
                crate::social::folded_stats_sql!(),
                ") c ON c.identity_id = i.id WHERE i.id = ANY($1)"
            ))
            .bind::<Array<BigInt>, _>(&author_ids),
        )
        .load(&mut { shared })
        .await?;
        CoreResult::Ok(rows)
    };
    let (authors, (counted, mine)) =
        tokio::try_join!(authors, counts_and_marks(shared, viewer, &all_ids, &roots))?;
    let [replies, reblogs, favs] = counted;
    let mut stats: HashMap<i64, crate::social::IdentityStats> = HashMap::new();
    let mut people: HashMap<i64, Identity> = HashMap::new();
    for Author { face, counted } in authors {
        stats.insert(face.id, counted);
        people.insert(face.id, face);
    }
    // Faces mentioned that wrote none of these (only when there are some).
    let mut others: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.2.iter().copied())
        .filter(|i| !people.contains_key(i))
        .collect();
    others.sort_unstable();
    others.dedup();
    people.extend(
        identities_by_ids(conn, &others)
            .await?
            .into_iter()
            .map(|i| (i.id, i)),
    );
    let by_id: HashMap<i64, Hydrated> = rows.into_iter().map(|r| (r.0.id, r)).collect();
    let build = |(s, poll, mentioned, tags): &Hydrated| -> Option<StatusView> {
        let author = people.get(&s.identity_id)?.clone();
        let mut ms: Vec<Identity> = mentioned
            .iter()
            .filter_map(|i| people.get(i).cloned())
            .collect();
        ms.sort_by_key(|i| i.id);
        ms.dedup_by_key(|i| i.id);
        let mut tags = tags.clone();
        tags.sort();
        Some(StatusView {
            status: s.clone(),
            author_stats: stats.get(&author.id).copied().unwrap_or_default(),
            author,
            reblog: None,
            poll: poll.clone(),
            mentions: ms,
            tags,
            replies_count: replies.get(&s.id).copied().unwrap_or(0),
            reblogs_count: reblogs.get(&s.id).copied().unwrap_or(0),
            favourites_count: favs.get(&s.id).copied().unwrap_or(0),
            favourited: mine.favourited.contains(&s.id),
            reblogged: mine.reblogged.contains(&s.id),
            bookmarked: mine.bookmarked.contains(&s.id),
            pinned: mine.pinned.contains(&s.id),
            muted: mine.muted_roots.contains(&s.thread_root_id),
        })
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(s) = by_id.get(id) else { continue };
        let Some(mut view) = build(s) else { continue };
        if let Some(inner_id) = s.0.reblog_of_id {
            match by_id.get(&inner_id).and_then(build) {
                Some(inner) => view.reblog = Some(Box::new(inner)),
                None => continue,
            }
        }
        out.push(view);
    }
    Ok(out)
}

pub async fn load_view(conn: &mut DbConn, viewer: Option<i64>, id: i64) -> CoreResult<StatusView> {
    load_views(conn, viewer, &[id])
        .await?
        .into_iter()
        .next()
        .ok_or(CoreError::NotFound)
}
