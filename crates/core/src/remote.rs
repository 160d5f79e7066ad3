//! Remote faces and what arrives from them: stored only after the request
//! that names them has been verified (federation checks first, then calls in).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, DomainEvent};
use crate::id::Id;
use crate::models::Identity;
use crate::schema::{identities, inbox_seen};
use crate::statuses::notify;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::Tier;

/// A remote actor as federation parsed and verified it.
#[derive(Debug, Clone)]
pub struct RemoteFace {
    pub actor_url: String,
    pub domain: String,
    pub username: String,
    pub display_name: String,
    pub note: String,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub public_key_pem: String,
    pub locked: bool,
    pub bot: bool,
    /// Whether the actor says it may be suggested and listed (`discoverable`);
    /// an anonymous face never is.
    pub discoverable: bool,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    pub tier: Tier,
    /// Set only when the claimed verifier is trusted by this instance.
    pub verified_by: Option<String>,
    pub profile: crate::models::ActorProfile,
    /// Profile fields as `[{name, value}]`, values sanitized HTML.
    pub fields: serde_json::Value,
    /// When the actor says it was made.
    pub published: Option<chrono::NaiveDate>,
}

pub async fn by_actor_url(conn: &mut DbConn, url: &str) -> CoreResult<Option<Identity>> {
    Ok(identities::table
        .filter(identities::actor_url.eq(url))
        .select(Identity::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// `fields` as sent, each keeping the `checked_on` and `verified_at` it had
/// in `before` when its name and value did not change.
fn keep_checks(before: &serde_json::Value, fields: &serde_json::Value) -> serde_json::Value {
    let old = before.as_array().cloned().unwrap_or_default();
    let same = |a: &serde_json::Value, b: &serde_json::Value| {
        a.get("name") == b.get("name") && a.get("value") == b.get("value")
    };
    serde_json::Value::Array(
        fields
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| match old.iter().find(|o| same(o, f)) {
                Some(o) => o.clone(),
                None => f.clone(),
            })
            .collect(),
    )
}

/// Whether a face has profile fields whose links were not checked.
pub fn fields_unchecked(face: &Identity) -> bool {
    face.fields
        .as_array()
        .is_some_and(|a| a.iter().any(|f| f.get("checked_on").is_none()))
}

/// Records the outcome of checking a face's fields: `fields` as they were
/// read before the check, now with `checked_on` (and `verified_at` where a
/// link was confirmed). Nothing is written if they changed meanwhile.
pub async fn set_field_checks(
    conn: &mut DbConn,
    face: i64,
    before: &serde_json::Value,
    checked: &serde_json::Value,
) -> CoreResult<bool> {
    let n = diesel::update(
        identities::table
            .find(face)
            .filter(identities::fields.eq(before)),
    )
    .set(identities::fields.eq(checked))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// The remote faces known by these actor URLs (unknown ones left out).
pub async fn by_actor_urls(conn: &mut DbConn, urls: &[String]) -> CoreResult<Vec<Identity>> {
    Ok(identities::table
        .filter(identities::actor_url.eq_any(urls))
        .select(Identity::as_select())
        .load(conn)
        .await?)
}

/// A remote face moved to `target` (whose `alsoKnownAs` the caller checked
/// names it): it is marked moved, and each local face following it follows
/// `target` instead (a follow request, answered by `target`'s server).
/// Returns how many follows moved.
pub async fn moved(
    conn: &mut DbConn,
    clock: &dyn Clock,
    old: &Identity,
    target: &Identity,
) -> CoreResult<usize> {
    let mut profile = old.profile();
    profile.moved_to = target.actor_url.clone();
    diesel::update(identities::table.find(old.id))
        .set(identities::profile.eq(profile.to_json()))
        .execute(conn)
        .await?;
    let followers: Vec<Identity> = identities::table
        .inner_join(
            crate::schema::follows::table
                .on(crate::schema::follows::identity_id.eq(identities::id)),
        )
        .filter(crate::schema::follows::target_identity_id.eq(old.id))
        .filter(identities::domain.is_null())
        .select(Identity::as_select())
        .load(conn)
        .await?;
    let mut n = 0;
    for f in &followers {
        // A block between them keeps the new follow from happening; the
        // old one ends either way (the old account is gone).
        match crate::social::follow(conn, clock, f, target).await {
            Ok(()) => n += 1,
            Err(CoreError::Forbidden(_)) => {}
            Err(e) => return Err(e),
        }
        crate::social::unfollow(conn, clock, f, old).await?;
    }
    Ok(n)
}

/// Inserts or refreshes a remote face, keyed by its actor URL. Its display
/// name loses invisible and direction-changing characters, and a name that
/// passes for "Anonymous" (on a face that is not anonymous) or for one of
/// this instance's verified real names is dropped: the face is shown by its
/// handle instead.
pub async fn upsert(conn: &mut DbConn, clock: &dyn Clock, r: &RemoteFace) -> CoreResult<Identity> {
    let mut owned = r.clone();
    owned.display_name = guise_policy::names::clean_display_name(&r.display_name);
    let verified = crate::faces::verified_real_names(conn, None).await?;
    if (r.tier != Tier::Anonymous && guise_policy::names::poses_as_anonymous(&owned.display_name))
        || guise_policy::names::poses_as_one_of(
            &owned.display_name,
            verified.iter().map(String::as_str),
        )
    {
        owned.display_name = String::new();
    }
    let r = &owned;
    let tier = if r.tier == Tier::Anonymous {
        Tier::Anonymous
    } else {
        r.tier
    };
    let verified = tier == Tier::RealName && r.verified_by.is_some();
    // Its pictures are fetched now, by the worker, never when someone looks.
    let pictures: Vec<String> = r
        .avatar_url
        .iter()
        .chain(r.header_url.iter())
        .cloned()
        .collect();
    crate::media::want(conn, clock, &pictures).await?;
    // An anonymous face has no profile to speak of.
    let anonymous = tier == Tier::Anonymous;
    let kept = if anonymous {
        crate::models::ActorProfile {
            suspended: r.profile.suspended,
            ..Default::default()
        }
    } else {
        r.profile.clone()
    };
    let existing = by_actor_url(conn, &r.actor_url).await?;
    let fields = if anonymous {
        serde_json::json!([])
    } else {
        match &existing {
            Some(before) => keep_checks(&before.fields, &r.fields),
            None => r.fields.clone(),
        }
    };
    let profile = (
        identities::profile.eq(kept.to_json()),
        identities::fields.eq(fields),
    );
    if let Some(existing) = existing {
        diesel::update(identities::table.find(existing.id))
            .set((
                identities::display_name.eq(&r.display_name),
                identities::note.eq(&r.note),
                identities::inbox_url.eq(&r.inbox_url),
                identities::shared_inbox_url.eq(&r.shared_inbox_url),
                identities::public_key_pem.eq(&r.public_key_pem),
                identities::locked.eq(r.locked),
                identities::bot.eq(r.bot),
                identities::discoverable.eq(r.discoverable && tier != Tier::Anonymous),
                identities::avatar_url.eq(&r.avatar_url),
                identities::header_url.eq(&r.header_url),
                identities::tier.eq(tier.as_str()),
                identities::verified.eq(verified),
                identities::verified_by.eq(&r.verified_by),
                profile.clone(),
            ))
            .execute(conn)
            .await?;
        return crate::accounts::get_identity(conn, existing.id).await;
    }
    let id = Id::random().get();
    let inserted = diesel::insert_into(identities::table)
        .values((
            identities::id.eq(id),
            identities::tier.eq(tier.as_str()),
            identities::handle.eq(&r.username),
            identities::domain.eq(r.domain.to_ascii_lowercase()),
            identities::display_name.eq(&r.display_name),
            identities::note.eq(&r.note),
            identities::locked.eq(r.locked),
            identities::bot.eq(r.bot),
            identities::avatar_url.eq(&r.avatar_url),
            identities::header_url.eq(&r.header_url),
            identities::discoverable.eq(r.discoverable && tier != Tier::Anonymous),
            identities::verified.eq(verified),
            identities::verified_by.eq(&r.verified_by),
            identities::actor_url.eq(&r.actor_url),
            identities::inbox_url.eq(&r.inbox_url),
            identities::shared_inbox_url.eq(&r.shared_inbox_url),
            identities::public_key_pem.eq(&r.public_key_pem),
            // The day it says it was made (never later than today).
            identities::created_on.eq(r.published.map_or(clock.today(), |d| d.min(clock.today()))),
            profile,
        ))
        .execute(conn)
        .await;
    match inserted {
        Ok(_) => crate::accounts::get_identity(conn, id).await,
        Err(e) => match CoreError::from(e) {
            // Two activities from a new actor at once: the other one stored it.
            e if e.is_unique_violation() => match by_actor_url(conn, &r.actor_url).await? {
                Some(existing) => Ok(existing),
                None => Err(CoreError::Conflict(
                    "another actor holds that handle on that domain",
                )),
            },
            e => Err(e),
        },
    }
}

/// Records an activity id; false if it was seen before (a replay).
/// Takes back a sighting, when acting on the activity failed: the sender's
/// retry is then acted on rather than ignored as a replay.
pub async fn forget_sight(conn: &mut DbConn, activity_id: &str) -> CoreResult<()> {
    use sha2::{Digest, Sha256};
    diesel::delete(
        inbox_seen::table
            .filter(inbox_seen::activity_hash.eq(Sha256::digest(activity_id.as_bytes()).to_vec())),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an activity is seen for the first time (a replay is not), its
/// id remembered either way. A signed POST from `host` means the host is up
/// again: one that was failing is marked healthy in the same statement (a
/// healthy host's requests write nothing there).
pub async fn first_sight(
    conn: &mut DbConn,
    clock: &dyn Clock,
    activity_id: &str,
    host: &str,
) -> CoreResult<bool> {
    use diesel::sql_types::{Bytea, Date, Text};
    use sha2::{Digest, Sha256};
    let n = crate::prepared::cached(
        diesel::sql_query(
            "WITH healed AS (
             UPDATE hosts SET failed_days = '{}'
              WHERE host = $3 AND cardinality(failed_days) > 0
         )
         INSERT INTO inbox_seen (activity_hash, seen_on) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
        )
        .bind::<Bytea, _>(Sha256::digest(activity_id.as_bytes()).to_vec())
        .bind::<Date, _>(clock.today())
        .bind::<Text, _>(host),
    )
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// An activity's first sighting, recorded (as `first_sight` records it)
/// in the same statement as the note the activity stores, so that the
/// commonest activity costs one statement and one commit.
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    pub activity_id: &'a str,
    /// The host that signed it (marked healthy, as `first_sight` does).
    pub host: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowAnswer {
    Accepted,
    Pending,
    Rejected,
}

/// A remote face asks to follow a local one. Anonymous faces refuse; locked
/// faces hold the request; others accept. The answer to send back is queued
/// in the outbox with the remote activity's id.
pub async fn follow(
    conn: &mut DbConn,
    clock: &dyn Clock,
    follower: &Identity,
    target: &Identity,
    activity_id: &str,
) -> CoreResult<FollowAnswer> {
    use crate::schema::{follow_requests, follows};
    let now = clock.now();
    let blocked = {
        use crate::schema::blocks;
        let (f, t) = (follower.id, target.id);
        diesel::select(diesel::dsl::exists(
            blocks::table.filter(
                blocks::identity_id
                    .eq(f)
                    .and(blocks::target_identity_id.eq(t))
                    .or(blocks::identity_id
                        .eq(t)
                        .and(blocks::target_identity_id.eq(f))),
            ),
        ))
        .get_result::<bool>(conn)
        .await?
    };
    let answer =
        if target.tier() == Tier::Anonymous || target.suspended || target.tombstoned || blocked {
            FollowAnswer::Rejected
        } else if target.locked {
            FollowAnswer::Pending
        } else {
            FollowAnswer::Accepted
        };
    let (f, t, activity) = (follower.clone(), target.clone(), activity_id.to_owned());
    conn.transaction::<_, CoreError, _>(async move |conn| {
        match answer {
            FollowAnswer::Accepted => {
                diesel::insert_into(follows::table)
                    .values((
                        follows::id.eq(Id::generate(now).get()),
                        follows::identity_id.eq(f.id),
                        follows::target_identity_id.eq(t.id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                notify(conn, clock, &t, f.id, "follow", None).await?;
            }
            FollowAnswer::Pending => {
                diesel::insert_into(follow_requests::table)
                    .values((
                        follow_requests::id.eq(Id::generate(now).get()),
                        follow_requests::identity_id.eq(f.id),
                        follow_requests::target_identity_id.eq(t.id),
                        follow_requests::uri.eq(Some(&activity)),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                notify(conn, clock, &t, f.id, "follow_request", None).await?;
            }
            FollowAnswer::Rejected => {}
        }
        if answer != FollowAnswer::Pending {
            events::record(
                conn,
                clock,
                DomainEvent::FollowAnswered {
                    local: t.id,
                    remote: f.id,
                    activity: Some(activity),
                    accepted: answer == FollowAnswer::Accepted,
                },
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(answer)
}

/// A remote face undoes its follow (or its pending request).
pub async fn unfollow(conn: &mut DbConn, follower: &Identity, target: &Identity) -> CoreResult<()> {
    use crate::schema::{follow_requests, follows};
    diesel::delete(
        follows::table
            .filter(follows::identity_id.eq(follower.id))
            .filter(follows::target_identity_id.eq(target.id)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        follow_requests::table
            .filter(follow_requests::identity_id.eq(follower.id))
            .filter(follow_requests::target_identity_id.eq(target.id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Our own Follow was accepted: the pending request becomes a follow.
pub async fn follow_accepted(
    conn: &mut DbConn,
    _clock: &dyn Clock,
    local: &Identity,
    remote_target: &Identity,
) -> CoreResult<bool> {
    use crate::schema::{follow_requests, follows};
    let (l, r) = (local.id, remote_target.id);
    conn.transaction::<_, CoreError, _>(async move |conn| {
        // The follow keeps the request's id: it names our Follow activity.
        let gone: Vec<i64> = diesel::delete(
            follow_requests::table
                .filter(follow_requests::identity_id.eq(l))
                .filter(follow_requests::target_identity_id.eq(r)),
        )
        .returning(follow_requests::id)
        .get_results(conn)
        .await?;
        let Some(edge) = <[i64]>::first(&gone).copied() else {
            return Ok(false);
        };
        diesel::insert_into(follows::table)
            .values((
                follows::id.eq(edge),
                follows::identity_id.eq(l),
                follows::target_identity_id.eq(r),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(true)
    })
    .await
}

/// A note from a remote face, checked and reduced to plain text by federation.
#[derive(Debug, Clone)]
pub struct RemoteNote {
    pub uri: String,
    pub url: Option<String>,
    pub text: String,
    pub summary: String,
    pub sensitive: bool,
    pub visibility: guise_policy::Visibility,
    pub published: chrono::DateTime<chrono::Utc>,
    pub in_reply_to: Option<i64>,
    /// Local faces the note mentions.
    pub mentions: Vec<Identity>,
    /// Hashtag names, lowercased, without `#`.
    pub hashtags: Vec<String>,
    /// Remote media, as federation parsed them (JSON array).
    pub attachments: serde_json::Value,
    /// Custom emoji (JSON array of `{shortcode, url}`).
    pub emojis: serde_json::Value,
    /// A `Question`'s poll.
    pub poll: Option<crate::polls::RemotePoll>,
    /// The author's HTML, already sanitized to the status allow-list; none
    /// when it could not be kept as markup (then `text` is rendered).
    pub html: Option<String>,
}

/// A status known by its ActivityPub id.
pub async fn status_by_uri(
    conn: &mut DbConn,
    uri: &str,
) -> CoreResult<Option<crate::models::Status>> {
    use crate::schema::statuses;
    Ok(statuses::table
        .filter(statuses::uri.eq(uri))
        .select(crate::models::Status::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Stores a remote note once (by its URI): its id, or `None` if it was known
/// already or its author deleted it.
///
/// The hot path of every inbox: a note with no local mentions, no media and
/// no poll is one statement (the status, its tags and its stream event
/// written together); the rest go with it in one transaction.
pub async fn store_note(
    conn: &mut DbConn,
    clock: &dyn Clock,
    base_url: &str,
    author: &Identity,
    n: RemoteNote,
) -> CoreResult<Option<i64>> {
    store_note_seen(conn, clock, base_url, author, n, None).await
}

/// `store_note` for a note that arrived in an activity whose sighting was
/// not recorded yet: recorded here, with the note when the note is plain
/// (one statement, `store_plain`), else first (a replay then stores nothing).
pub async fn store_note_seen(
    conn: &mut DbConn,
    clock: &dyn Clock,
    base_url: &str,
    author: &Identity,
    n: RemoteNote,
    sight: Option<Sighting<'_>>,
) -> CoreResult<Option<i64>> {
    let n = match PlainNote::of(clock, base_url, author, n, sight) {
        Ok(plain) => {
            let stored = store_plain(conn, clock, std::slice::from_ref(&plain)).await?;
            return Ok(stored.into_iter().next().flatten());
        }
        Err(n) => *n,
    };
    // Not plain: looked up first, so a note seen before costs no lookups
    // of its parent and mentions.
    if let Some(s) = sight {
        if !first_sight(conn, clock, s.activity_id, s.host).await? {
            return Ok(None);
        }
    }
    if gone_or_known(conn, &n.uri).await? {
        return Ok(None);
    }
    let media = crate::media::urls_of(&n.attachments, &n.emojis);
    let parent = match n.in_reply_to {
        Some(p) => crate::statuses::get_status(conn, p).await.ok(),
        None => None,
    };
    // A remote anonymous face reaches only local faces that take them.
    let root_author = match &parent {
        Some(p) => crate::reach::root_author(conn, p.thread_root_id).await?,
        None => None,
    };
    let reached = crate::reach::reachable(conn, author, &n.mentions, root_author).await?;
    let id = Id::generate(n.published.min(clock.now())).get();
    let content = n.html.clone().unwrap_or_else(|| {
        crate::text::render(&crate::text::parse(&n.text), base_url, |_, _| None)
    });
    let mut tags = n.hashtags.clone();
    tags.sort();
    tags.dedup();
    let event = DomainEvent::RemoteStatusCreated { status: id };
    // Only its stream row is written below: it must not be one that federates.
    debug_assert!(!event.routes().federates);
    let stream = events::stream_row(clock, &event)
        .ok_or_else(|| CoreError::Internal("a remote status streams".into()))?;
    let insert = crate::prepared::cached(
        diesel::sql_query(
            "WITH s AS (
             INSERT INTO statuses (id, identity_id, uri, url, source_text, content,
                 spoiler_text, sensitive, visibility, in_reply_to_id,
                 in_reply_to_identity_id, thread_root_id, local, created_at,
                 attachments, emojis)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, false, $13, $14, $15
             -- Not one its author deleted (a late or replayed Create).
             WHERE NOT EXISTS (SELECT 1 FROM remote_deleted WHERE uri_hash = $20)
             -- One stored already, or the same note arriving twice at once
             -- (a Create and a boost that fetched it): the first one stores it.
             ON CONFLICT DO NOTHING
             RETURNING id
         ), tagged AS (
             INSERT INTO status_tags (status_id, name)
             SELECT s.id, t FROM s, unnest($16::text[]) AS t
         ), streamed AS (
             INSERT INTO stream_events (id, kind, payload)
             SELECT $17, $18, $19 FROM s
         )
         SELECT id FROM s",
        )
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(author.id)
        .bind::<Text, _>(&n.uri)
        .bind::<Nullable<Text>, _>(&n.url)
        .bind::<Text, _>(&n.text)
        .bind::<Text, _>(&content)
        .bind::<Text, _>(&n.summary)
        .bind::<Bool, _>(n.sensitive || !n.summary.is_empty())
        .bind::<Text, _>(n.visibility.as_str())
        .bind::<Nullable<BigInt>, _>(parent.as_ref().map(|p| p.id))
        .bind::<Nullable<BigInt>, _>(parent.as_ref().map(|p| p.identity_id))
        .bind::<BigInt, _>(parent.as_ref().map_or(id, |p| p.thread_root_id))
        .bind::<Timestamptz, _>(n.published)
        .bind::<Jsonb, _>(&n.attachments)
        .bind::<Jsonb, _>(&n.emojis)
        .bind::<Array<Text>, _>(&tags)
        .bind::<BigInt, _>(stream.id)
        .bind::<Text, _>(stream.kind)
        .bind::<Jsonb, _>(&stream.payload)
        .bind::<Bytea, _>(crate::media::url_hash(&n.uri)),
    );
    if reached.is_empty() && media.is_empty() && n.poll.is_none() {
        let stored: Option<StoredId> = insert.get_result(conn).await.optional()?;
        return Ok(stored.map(|s| s.id));
    }
    let (author_id, poll) = (author.id, n.poll.as_ref());
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let stored: Option<StoredId> = insert.get_result(conn).await.optional()?;
        let Some(StoredId { id }) = stored else {
            return Ok(None);
        };
        crate::media::want(conn, clock, &media).await?;
        for m in &reached {
            diesel::insert_into(crate::schema::mentions::table)
                .values((
                    crate::schema::mentions::status_id.eq(id),
                    crate::schema::mentions::identity_id.eq(m.id),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            notify(conn, clock, m, author_id, "mention", Some(id)).await?;
        }
        if let Some(p) = poll {
            crate::polls::upsert_remote(conn, id, p).await?;
        }
        Ok(Some(id))
    })
    .await
}

/// A plain remote note, ready to be written: neither a reply nor mentioning
/// anyone, with no media and no poll (most of what arrives), with the
/// sighting of the activity that brought it. Such notes are written many
/// to a statement (`store_plain`).
#[derive(Debug, Clone)]
pub struct PlainNote {
    id: i64,
    identity_id: i64,
    uri: String,
    url: Option<String>,
    text: String,
    content: String,
    summary: String,
    sensitive: bool,
    visibility: &'static str,
    published: chrono::DateTime<chrono::Utc>,
    attachments: serde_json::Value,
    emojis: serde_json::Value,
    tags: Vec<String>,
    stream: events::StreamRow,
    uri_hash: Vec<u8>,
    sight_hash: Option<Vec<u8>>,
    host: Option<String>,
}

impl PlainNote {
    /// The note ready to be written, or (not plain) the note back.
    pub fn of(
        clock: &dyn Clock,
        base_url: &str,
        author: &Identity,
        n: RemoteNote,
        sight: Option<Sighting<'_>>,
    ) -> Result<PlainNote, Box<RemoteNote>> {
        use sha2::{Digest, Sha256};
        let plain = n.in_reply_to.is_none()
            && n.mentions.is_empty()
            && n.poll.is_none()
            && crate::media::urls_of(&n.attachments, &n.emojis).is_empty();
        if !plain {
            return Err(Box::new(n));
        }
        let id = Id::generate(n.published.min(clock.now())).get();
        let event = DomainEvent::RemoteStatusCreated { status: id };
        // Only its stream row is written: it must not be one that federates.
        debug_assert!(!event.routes().federates);
        let Some(stream) = events::stream_row(clock, &event) else {
            return Err(Box::new(n));
        };
        let content = n.html.clone().unwrap_or_else(|| {
            crate::text::render(&crate::text::parse(&n.text), base_url, |_, _| None)
        });
        let mut tags = n.hashtags;
        tags.sort();
        tags.dedup();
        Ok(PlainNote {
            id,
            identity_id: author.id,
            uri_hash: crate::media::url_hash(&n.uri),
            uri: n.uri,
            url: n.url,
            sensitive: n.sensitive || !n.summary.is_empty(),
            text: n.text,
            content,
            summary: n.summary,
            visibility: n.visibility.as_str(),
            published: n.published,
            attachments: n.attachments,
            emojis: n.emojis,
            tags,
            stream,
            sight_hash: sight.map(|s| Sha256::digest(s.activity_id.as_bytes()).to_vec()),
            host: sight.map(|s| s.host.to_owned()),
        })
    }
}

/// Writes plain notes in one statement (one commit, one run of the
/// counting trigger), each with its tags, its stream event and its
/// activity's sighting; a failing host that sent one is marked up. A URI
/// stored already (or twice in the batch) or deleted by its author is
/// skipped. Each note's id when it was stored.
pub async fn store_plain(
    conn: &mut DbConn,
    clock: &dyn Clock,
    notes: &[PlainNote],
) -> CoreResult<Vec<Option<i64>>> {
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let col =
        |f: fn(&PlainNote) -> Option<&str>| -> Vec<Option<&str>> { notes.iter().map(f).collect() };
    let ids: Vec<i64> = notes.iter().map(|n| n.id).collect();
    let authors: Vec<i64> = notes.iter().map(|n| n.identity_id).collect();
    let uris = col(|n| Some(&n.uri));
    let urls = col(|n| n.url.as_deref());
    let texts = col(|n| Some(&n.text));
    let contents = col(|n| Some(&n.content));
    let summaries = col(|n| Some(&n.summary));
    let sensitive: Vec<bool> = notes.iter().map(|n| n.sensitive).collect();
    let visibility = col(|n| Some(n.visibility));
    let published: Vec<chrono::DateTime<chrono::Utc>> = notes.iter().map(|n| n.published).collect();
    let emojis: Vec<&serde_json::Value> = notes.iter().map(|n| &n.emojis).collect();
    let attachments: Vec<&serde_json::Value> = notes.iter().map(|n| &n.attachments).collect();
    let uri_hashes: Vec<&[u8]> = notes.iter().map(|n| n.uri_hash.as_slice()).collect();
    let sights: Vec<&[u8]> = notes
        .iter()
        .filter_map(|n| n.sight_hash.as_deref())
        .collect();
    let mut hosts: Vec<&str> = notes.iter().filter_map(|n| n.host.as_deref()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    let (tag_ids, tag_names): (Vec<i64>, Vec<&str>) = notes
        .iter()
        .flat_map(|n| n.tags.iter().map(|t| (n.id, t.as_str())))
        .unzip();
    let event_ids: Vec<i64> = notes.iter().map(|n| n.stream.id).collect();
    let event_kinds = col(|n| Some(n.stream.kind));
    let event_payloads: Vec<&serde_json::Value> = notes.iter().map(|n| &n.stream.payload).collect();
    let stored: Vec<StoredId> = crate::prepared::cached(
        diesel::sql_query(
            "WITH seen AS (
             INSERT INTO inbox_seen (activity_hash, seen_on)
             SELECT h, $1 FROM unnest($2::bytea[]) AS h
             ON CONFLICT DO NOTHING
         ), healed AS (
             UPDATE hosts SET failed_days = '{}'
              WHERE host = ANY($3) AND cardinality(failed_days) > 0
         ), s AS (
             INSERT INTO statuses (id, identity_id, uri, url, source_text, content,
                 spoiler_text, sensitive, visibility, thread_root_id, local,
                 created_at, attachments, emojis)
             SELECT i.id, i.identity_id, i.uri, i.url, i.source_text, i.content,
                    i.spoiler_text, i.sensitive, i.visibility, i.id, false,
                    i.created_at, i.attachments, i.emojis
               FROM unnest($4::int8[], $5::int8[], $6::text[], $7::text[], $8::text[],
                           $9::text[], $10::text[], $11::bool[], $12::text[],
                           $13::timestamptz[], $14::jsonb[], $15::bytea[], $21::jsonb[])
                    AS i(id, identity_id, uri, url, source_text, content, spoiler_text,
                         sensitive, visibility, created_at, emojis, uri_hash, attachments)
              -- Not one its author deleted (a late or replayed Create).
              WHERE NOT EXISTS (SELECT 1 FROM remote_deleted d WHERE d.uri_hash = i.uri_hash)
             -- One stored already, or the same note arriving twice at once:
             -- the first one stores it.
             ON CONFLICT DO NOTHING
             RETURNING id
         ), tagged AS (
             INSERT INTO status_tags (status_id, name)
             SELECT t.status_id, t.name
               FROM unnest($16::int8[], $17::text[]) AS t(status_id, name)
               JOIN s ON s.id = t.status_id
         ), streamed AS (
             INSERT INTO stream_events (id, kind, payload)
             SELECT e.id, e.kind, e.payload
               FROM unnest($18::int8[], $4::int8[], $19::text[], $20::jsonb[])
                    AS e(id, status_id, kind, payload)
               JOIN s ON s.id = e.status_id
         )
         SELECT id FROM s",
        )
        .bind::<diesel::sql_types::Date, _>(clock.today())
        .bind::<Array<Bytea>, _>(&sights)
        .bind::<Array<Text>, _>(&hosts)
        .bind::<Array<BigInt>, _>(&ids)
        .bind::<Array<BigInt>, _>(&authors)
        .bind::<Array<Nullable<Text>>, _>(&uris)
        .bind::<Array<Nullable<Text>>, _>(&urls)
        .bind::<Array<Nullable<Text>>, _>(&texts)
        .bind::<Array<Nullable<Text>>, _>(&contents)
        .bind::<Array<Nullable<Text>>, _>(&summaries)
        .bind::<Array<Bool>, _>(&sensitive)
        .bind::<Array<Nullable<Text>>, _>(&visibility)
        .bind::<Array<Timestamptz>, _>(&published)
        .bind::<Array<Jsonb>, _>(&emojis)
        .bind::<Array<Bytea>, _>(&uri_hashes)
        .bind::<Array<BigInt>, _>(&tag_ids)
        .bind::<Array<Text>, _>(&tag_names)
        .bind::<Array<BigInt>, _>(&event_ids)
        .bind::<Array<Nullable<Text>>, _>(&event_kinds)
        .bind::<Array<Jsonb>, _>(&event_payloads)
        .bind::<Array<Jsonb>, _>(&attachments),
    )
    .load(conn)
    .await?;
    Ok(ids
        .iter()
        .map(|id| stored.iter().any(|s| s.id == *id).then_some(*id))
        .collect())
}

#[derive(QueryableByName)]
struct StoredId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Whether a note's URI names one deleted by its author (and not long ago)
/// or one stored already: one round trip for both.
async fn gone_or_known(conn: &mut DbConn, uri: &str) -> CoreResult<bool> {
    use crate::schema::{remote_deleted, statuses};
    Ok(diesel::select(
        diesel::dsl::exists(remote_deleted::table.find(crate::media::url_hash(uri))).or(
            diesel::dsl::exists(statuses::table.filter(statuses::uri.eq(uri))),
        ),
    )
    .get_result(conn)
    .await?)
}

/// Tells live streams that remote posts (or boosts) are gone.
async fn streamed_gone(
    conn: &mut DbConn,
    clock: &dyn Clock,
    gone: &[i64],
    author: i64,
) -> CoreResult<()> {
    for status in gone {
        events::record(
            conn,
            clock,
            DomainEvent::RemoteStatusDeleted {
                status: *status,
                author,
            },
        )
        .await?;
    }
    Ok(())
}

/// How long a remote note's deletion is remembered.
pub const DELETIONS_KEPT_DAYS: i64 = 30;

/// A remote face deletes one of its notes (by URI); others' notes are
/// untouched. The deletion is remembered even for a note not seen yet (the
/// caller has checked the URI sits on the author's host), so that a late
/// Create, a boost or a fetch does not bring it back.
pub async fn delete_note(
    conn: &mut DbConn,
    clock: &dyn Clock,
    author: &Identity,
    uri: &str,
) -> CoreResult<bool> {
    use crate::schema::{remote_deleted, statuses};
    let gone: Vec<i64> = diesel::delete(
        statuses::table
            .filter(statuses::uri.eq(uri))
            .filter(statuses::identity_id.eq(author.id)),
    )
    .returning(statuses::id)
    .get_results(conn)
    .await?;
    streamed_gone(conn, clock, &gone, author.id).await?;
    let n = gone.len();
    diesel::insert_into(remote_deleted::table)
        .values((
            remote_deleted::uri_hash.eq(crate::media::url_hash(uri)),
            remote_deleted::deleted_on.eq(clock.today()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n > 0)
}

/// Forgets deletions older than `DELETIONS_KEPT_DAYS`.
pub async fn prune_deleted(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<usize> {
    use crate::schema::remote_deleted;
    let before = clock.today() - chrono::Duration::days(DELETIONS_KEPT_DAYS);
    Ok(
        diesel::delete(remote_deleted::table.filter(remote_deleted::deleted_on.lt(before)))
            .execute(conn)
            .await?,
    )
}

/// A remote face edits one of its notes: the old text goes to the history
/// (as local edits do), mentions and tags are replaced. Only the author's own.
pub async fn update_note(
    conn: &mut DbConn,
    clock: &dyn Clock,
    base_url: &str,
    author: &Identity,
    n: RemoteNote,
) -> CoreResult<bool> {
    use crate::schema::{mentions, status_edits, status_tags, statuses};
    let Some(old) = status_by_uri(conn, &n.uri).await? else {
        return Ok(false);
    };
    if old.identity_id != author.id || old.reblog_of_id.is_some() {
        return Ok(false);
    }
    let content = n.html.clone().unwrap_or_else(|| {
        crate::text::render(&crate::text::parse(&n.text), base_url, |_, _| None)
    });
    let root_author = crate::reach::root_author(conn, old.thread_root_id).await?;
    let reached = crate::reach::reachable(conn, author, &n.mentions, root_author).await?;
    if let Some(p) = &n.poll {
        crate::polls::upsert_remote(conn, old.id, p).await?;
    }
    // Poll tallies and re-sends update nothing a reader sees: no "edited" mark.
    if old.content == content
        && old.spoiler_text == n.summary
        && old.sensitive == (n.sensitive || !n.summary.is_empty())
        && old.attachments == n.attachments
    {
        return Ok(false);
    }
    let now = clock.now();
    let author_id = author.id;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let has_history: bool = diesel::select(diesel::dsl::exists(
            status_edits::table.filter(status_edits::status_id.eq(old.id)),
        ))
        .get_result(conn)
        .await?;
        let sensitive = n.sensitive || !n.summary.is_empty();
        let mut versions = Vec::new();
        if !has_history {
            versions.push((
                old.created_at,
                old.source_text.clone(),
                old.content.clone(),
                old.spoiler_text.clone(),
                old.sensitive,
            ));
        }
        versions.push((
            now,
            n.text.clone(),
            content.clone(),
            n.summary.clone(),
            sensitive,
        ));
        for (at, source, html, spoiler, sens) in versions {
            diesel::insert_into(status_edits::table)
                .values((
                    status_edits::id.eq(Id::generate(at).get()),
                    status_edits::status_id.eq(old.id),
                    status_edits::source_text.eq(source),
                    status_edits::content.eq(html),
                    status_edits::spoiler_text.eq(spoiler),
                    status_edits::sensitive.eq(sens),
                    status_edits::created_at.eq(at),
                ))
                .execute(conn)
                .await?;
        }
        crate::media::want(
            conn,
            clock,
            &crate::media::urls_of(&n.attachments, &n.emojis),
        )
        .await?;
        diesel::update(statuses::table.find(old.id))
            .set((
                statuses::source_text.eq(&n.text),
                statuses::content.eq(&content),
                statuses::spoiler_text.eq(&n.summary),
                statuses::sensitive.eq(sensitive),
                statuses::attachments.eq(&n.attachments),
                statuses::emojis.eq(&n.emojis),
                statuses::edited_at.eq(Some(now)),
            ))
            .execute(conn)
            .await?;
        diesel::delete(status_tags::table.filter(status_tags::status_id.eq(old.id)))
            .execute(conn)
            .await?;
        for t in &n.hashtags {
            diesel::insert_into(status_tags::table)
                .values((status_tags::status_id.eq(old.id), status_tags::name.eq(t)))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
        }
        let before: Vec<i64> = mentions::table
            .filter(mentions::status_id.eq(old.id))
            .select(mentions::identity_id)
            .load(conn)
            .await?;
        for m in &reached {
            if !before.contains(&m.id) {
                diesel::insert_into(mentions::table)
                    .values((
                        mentions::status_id.eq(old.id),
                        mentions::identity_id.eq(m.id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                notify(conn, clock, m, author_id, "mention", Some(old.id)).await?;
            }
        }
        events::record(
            conn,
            clock,
            DomainEvent::RemoteStatusUpdated { status: old.id },
        )
        .await?;
        Ok(true)
    })
    .await
}

/// A remote face boosts a status we know (`announce_uri` is its Announce's
/// id, kept so an Undo finds it). Once per face and status.
pub async fn announce(
    conn: &mut DbConn,
    clock: &dyn Clock,
    booster: &Identity,
    target: &crate::models::Status,
    announce_uri: &str,
    published: chrono::DateTime<chrono::Utc>,
) -> CoreResult<bool> {
    use crate::schema::statuses;
    if !matches!(
        target.visibility(),
        guise_policy::Visibility::Public | guise_policy::Visibility::Unlisted
    ) || target.reblog_of_id.is_some()
    {
        return Ok(false);
    }
    let exists: bool = diesel::select(diesel::dsl::exists(
        statuses::table
            .filter(statuses::identity_id.eq(booster.id))
            .filter(statuses::reblog_of_id.eq(target.id)),
    ))
    .get_result(conn)
    .await?;
    if exists || status_by_uri(conn, announce_uri).await?.is_some() {
        return Ok(false);
    }
    let author = crate::accounts::get_identity(conn, target.identity_id).await?;
    let id = Id::generate(published.min(clock.now())).get();
    let (booster_id, target_id, uri) = (booster.id, target.id, announce_uri.to_owned());
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let stored = diesel::insert_into(statuses::table)
            .values((
                statuses::id.eq(id),
                statuses::identity_id.eq(booster_id),
                statuses::uri.eq(&uri),
                statuses::visibility.eq("public"),
                statuses::thread_root_id.eq(id),
                statuses::reblog_of_id.eq(Some(target_id)),
                statuses::local.eq(false),
                statuses::created_at.eq(published.min(clock.now())),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if stored > 0 {
            events::record(conn, clock, DomainEvent::RemoteStatusCreated { status: id }).await?;
        }
        if author.is_local() {
            notify(conn, clock, &author, booster_id, "reblog", Some(target_id)).await?;
        }
        Ok(true)
    })
    .await
}

/// A remote face takes back a boost, named by its Announce id (or by the
/// boosted status's id, as some servers send).
pub async fn undo_announce(
    conn: &mut DbConn,
    clock: &dyn Clock,
    booster: &Identity,
    uri: &str,
    object: Option<&str>,
) -> CoreResult<bool> {
    use crate::schema::statuses;
    let mut gone: Vec<i64> = diesel::delete(
        statuses::table
            .filter(statuses::uri.eq(uri))
            .filter(statuses::identity_id.eq(booster.id))
            .filter(statuses::reblog_of_id.is_not_null()),
    )
    .returning(statuses::id)
    .get_results(conn)
    .await?;
    if gone.is_empty() {
        if let Some(target) = match object {
            Some(o) => status_by_uri(conn, o).await?,
            None => None,
        } {
            gone = diesel::delete(
                statuses::table
                    .filter(statuses::identity_id.eq(booster.id))
                    .filter(statuses::reblog_of_id.eq(target.id)),
            )
            .returning(statuses::id)
            .get_results(conn)
            .await?;
        }
    }
    streamed_gone(conn, clock, &gone, booster.id).await?;
    Ok(!gone.is_empty())
}

/// A remote actor is gone (`Delete` of itself): its row goes, and with it its
/// statuses, follows, favourites and notifications.
pub async fn delete_actor(conn: &mut DbConn, face: &Identity) -> CoreResult<()> {
    if face.is_local() {
        return Err(CoreError::NotFound);
    }
    diesel::delete(identities::table.find(face.id))
        .execute(conn)
        .await?;
    Ok(())
}

/// A remote face blocks a local one: follows both ways end, and the block
/// is recorded so the local face sees `blocked_by` and nothing more is sent.
pub async fn blocked_by_remote(
    conn: &mut DbConn,
    clock: &dyn Clock,
    blocker: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    use crate::schema::blocks;
    let (blocker, target) = (blocker.clone(), target.clone());
    let id = Id::generate(clock.now()).get();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        unfollow(conn, &blocker, &target).await?;
        unfollow(conn, &target, &blocker).await?;
        diesel::insert_into(blocks::table)
            .values((
                blocks::id.eq(id),
                blocks::identity_id.eq(blocker.id),
                blocks::target_identity_id.eq(target.id),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// A remote face lifts its block.
pub async fn unblocked_by_remote(
    conn: &mut DbConn,
    blocker: &Identity,
    target: &Identity,
) -> CoreResult<()> {
    use crate::schema::blocks;
    diesel::delete(
        blocks::table
            .filter(blocks::identity_id.eq(blocker.id))
            .filter(blocks::target_identity_id.eq(target.id)),
    )
    .execute(conn)
    .await?;
    Ok(())
}
