//! The delivery worker: expands outbox events into deliveries (one per
//! inbox, signed by the face that acted) and sends what is due, classifying
//! answers itself (guise_policy::delivery) rather than trusting
//! `activitypub_federation`'s send step, which counts most 4xx as success.

use crate::fetch::Fetcher;
use crate::protocol::{self, Urls};
use futures::StreamExt;
use guise_core::accounts::get_identity;
use guise_core::events::{DomainEvent, Envelope};
use guise_core::queue::{self, Delivery, NewDelivery};
use guise_core::{Clock, CoreError, CoreResult, Db, DbConn, Id};
use guise_policy::delivery::{classify, next_attempt, HostHealth, Outcome, RetryPolicy};
use guise_policy::Visibility;
use rand::Rng;
use url::Url;

/// Where a remote face takes deliveries: its shared inbox, else its own.
fn inbox_of(face: &guise_core::models::Identity) -> Option<String> {
    if face.is_local() {
        return None;
    }
    face.shared_inbox_url.clone().or(face.inbox_url.clone())
}

/// One delivery per distinct inbox, all signed by `signer`.
fn to_each(
    mut inboxes: Vec<String>,
    signer: i64,
    activity: &serde_json::Value,
    not_before: Option<chrono::DateTime<chrono::Utc>>,
) -> Vec<NewDelivery> {
    inboxes.sort();
    inboxes.dedup();
    let activity = std::sync::Arc::new(activity.clone());
    inboxes
        .into_iter()
        .map(|inbox_url| NewDelivery {
            inbox_url,
            signer_identity_id: Some(signer),
            activity: activity.clone(),
            not_before,
        })
        .collect()
}

/// A local status as a Note, and the inboxes it goes to: remote followers
/// (unless direct), the remote faces it mentions, and a remote parent's author.
async fn note_and_audience(
    conn: &mut DbConn,
    clock: &dyn Clock,
    urls: &Urls,
    id: i64,
    update: bool,
) -> CoreResult<Option<(guise_core::models::Identity, serde_json::Value, Vec<String>)>> {
    let Ok(view) = guise_core::statuses::load_view(conn, None, id).await else {
        return Ok(None);
    };
    let s = &view.status;
    if !view.author.is_local() || s.reblog_of_id.is_some() {
        return Ok(None);
    }
    let parent = match s.in_reply_to_id {
        Some(pid) => guise_core::statuses::load_view(conn, None, pid).await.ok(),
        None => None,
    };
    let parent_uri = parent.as_ref().map(|pv| {
        pv.status
            .uri
            .clone()
            .unwrap_or_else(|| urls.status(&pv.author, pv.status.id))
    });
    let mentions: Vec<(String, String)> = view
        .mentions
        .iter()
        .map(|m| {
            (
                m.actor_url.clone().unwrap_or_else(|| urls.actor(m)),
                if m.is_local() {
                    format!("{}@{}", m.handle, urls.domain())
                } else {
                    m.acct()
                },
            )
        })
        .collect();
    let mut note = protocol::note_document(
        urls,
        &view.author,
        s,
        parent_uri.as_deref(),
        &mentions,
        &view.tags,
    );
    question(conn, Some(clock.now()), &mut note, s.id).await?;
    let mut inboxes = if s.visibility() == Visibility::Direct {
        Vec::new()
    } else {
        queue::remote_follower_inboxes(conn, view.author.id).await?
    };
    for m in view
        .mentions
        .iter()
        .chain(parent.as_ref().map(|pv| &pv.author))
    {
        inboxes.extend(inbox_of(m));
    }
    // A thread-starting public anonymous post was boosted to the announcer's
    // followers: its edits go to them too — but not its Create, which they
    // would refuse as unsolicited (the announcer's Announce carries it).
    if update
        && view.author.tier() == guise_policy::Tier::Anonymous
        && s.in_reply_to_id.is_none()
        && s.visibility() == Visibility::Public
    {
        if let Some(a) = guise_core::announcer::active(conn).await? {
            inboxes.extend(queue::remote_follower_inboxes(conn, a.id).await?);
        }
    }
    Ok(Some((view.author.clone(), note, inboxes)))
}

/// A note with a poll goes out as a `Question` with its counts.
pub async fn question(
    conn: &mut DbConn,
    now: Option<chrono::DateTime<chrono::Utc>>,
    note: &mut serde_json::Value,
    status: i64,
) -> CoreResult<()> {
    if let Ok(p) = guise_core::polls::get(conn, status).await {
        let options: Vec<(String, i64)> = p.titles().into_iter().zip(p.counts()).collect();
        let closed = p.ended || now.is_some_and(|n| p.expired(n));
        protocol::as_question(
            note,
            &options,
            p.multiple,
            p.expires_at,
            closed,
            p.voters_count,
        );
    }
    Ok(())
}

/// What one event means for other servers. Every kind is named here: a new
/// one does not compile until it says what it sends (if anything).
async fn expand(
    conn: &mut DbConn,
    clock: &dyn Clock,
    urls: &Urls,
    e: &Envelope,
) -> CoreResult<Vec<NewDelivery>> {
    let not_before = e.not_before;
    let mut out = Vec::new();
    match &e.event {
        DomainEvent::StatusCreated { status } | DomainEvent::StatusUpdated { status } => {
            let update = matches!(e.event, DomainEvent::StatusUpdated { .. });
            let Some((author, note, inboxes)) =
                note_and_audience(conn, clock, urls, *status, update).await?
            else {
                return Ok(out);
            };
            let activity = if matches!(e.event, DomainEvent::StatusCreated { .. }) {
                protocol::create_activity(&note)
            } else {
                protocol::update_activity(urls, &author, &note, e.id)
            };
            out.extend(to_each(inboxes, author.id, &activity, not_before));
        }
        DomainEvent::ReblogCreated { reblog: id } => {
            let Ok(reblog) = guise_core::statuses::get_status(conn, *id).await else {
                return Ok(out);
            };
            let Some(target_id) = reblog.reblog_of_id else {
                return Ok(out);
            };
            let booster = get_identity(conn, reblog.identity_id).await?;
            let Ok(target) = guise_core::statuses::get_status(conn, target_id).await else {
                return Ok(out);
            };
            let author = get_identity(conn, target.identity_id).await?;
            if !booster.is_local() {
                return Ok(out);
            }
            let object = target
                .uri
                .clone()
                .unwrap_or_else(|| urls.status(&author, target.id));
            let author_actor = author
                .actor_url
                .clone()
                .unwrap_or_else(|| urls.actor(&author));
            let activity = protocol::announce_activity(
                urls,
                &booster,
                reblog.id,
                &object,
                &author_actor,
                reblog.created_at,
                reblog.visibility(),
            );
            let mut inboxes = queue::remote_follower_inboxes(conn, booster.id).await?;
            inboxes.extend(inbox_of(&author));
            out.extend(to_each(inboxes, booster.id, &activity, not_before));
        }
        DomainEvent::ReblogDeleted {
            reblog,
            booster,
            author,
        } => {
            let Ok(booster) = get_identity(conn, *booster).await else {
                return Ok(out);
            };
            if !booster.is_local() {
                return Ok(out);
            }
            let announce = serde_json::json!({
                "id": protocol::announce_id(urls, &booster, *reblog),
                "type": "Announce",
                "actor": urls.actor(&booster),
                "to": [protocol::PUBLIC],
            });
            let activity = protocol::undo_activity(urls, &booster, announce, e.id);
            let mut inboxes = queue::remote_follower_inboxes(conn, booster.id).await?;
            if let Ok(author) = get_identity(conn, *author).await {
                inboxes.extend(inbox_of(&author));
            }
            out.extend(to_each(inboxes, booster.id, &activity, not_before));
        }
        // A profile edit, or a moderator's suspension (or its lifting): the
        // actor document says `suspended`, as Mastodon's does.
        DomainEvent::FaceUpdated { face }
        | DomainEvent::FaceSuspended { face }
        | DomainEvent::FaceUnsuspended { face } => {
            let Ok(face) = get_identity(conn, *face).await else {
                return Ok(out);
            };
            if !face.is_local() || face.tombstoned {
                return Ok(out);
            }
            let key = guise_core::keys::key_of(conn, face.id, crate::keys::generate).await?;
            let doc = protocol::actor_document(urls, &face, &key);
            let activity = protocol::update_activity(urls, &face, &doc, e.id);
            let inboxes = queue::remote_follower_inboxes(conn, face.id).await?;
            out.extend(to_each(inboxes, face.id, &activity, not_before));
        }
        DomainEvent::FaceDeleted { face, addressed } => {
            let Ok(face) = get_identity(conn, *face).await else {
                return Ok(out);
            };
            if !face.is_local() {
                return Ok(out);
            }
            let activity = protocol::delete_actor_activity(urls, &face);
            let mut inboxes = Vec::new();
            for f in guise_core::accounts::identities_by_ids(conn, addressed).await? {
                inboxes.extend(inbox_of(&f));
            }
            out.extend(to_each(inboxes, face.id, &activity, not_before));
        }
        DomainEvent::FollowDeleted { from, to, edge }
        | DomainEvent::BlockCreated { from, to, edge }
        | DomainEvent::BlockDeleted { from, to, edge } => {
            let (Ok(me), Ok(other)) = (
                get_identity(conn, *from).await,
                get_identity(conn, *to).await,
            ) else {
                return Ok(out);
            };
            let (Some(actor), Some(inbox)) = (other.actor_url.clone(), inbox_of(&other)) else {
                return Ok(out);
            };
            if !me.is_local() {
                return Ok(out);
            }
            // The undone activity keeps the id it was sent with (the row's).
            let activity = match &e.event {
                DomainEvent::FollowDeleted { .. } => protocol::undo_activity(
                    urls,
                    &me,
                    protocol::follow_activity(urls, &me, &actor, *edge),
                    e.id,
                ),
                DomainEvent::BlockCreated { .. } => {
                    protocol::block_activity(urls, &me, &actor, *edge)
                }
                _ => protocol::undo_activity(
                    urls,
                    &me,
                    protocol::block_activity(urls, &me, &actor, *edge),
                    e.id,
                ),
            };
            out.push(NewDelivery {
                inbox_url: inbox,
                signer_identity_id: Some(me.id),
                activity: activity.into(),
                not_before,
            });
        }
        DomainEvent::FollowCreated { from, to, edge } => {
            let (follower, target) = (
                get_identity(conn, *from).await?,
                get_identity(conn, *to).await?,
            );
            if follower.is_local() && !target.is_local() {
                if let (Some(actor), Some(inbox)) =
                    (target.actor_url.clone(), target.inbox_url.clone())
                {
                    let activity = protocol::follow_activity(urls, &follower, &actor, *edge);
                    out.push(NewDelivery {
                        inbox_url: inbox,
                        signer_identity_id: Some(follower.id),
                        activity: activity.into(),
                        not_before,
                    });
                }
            }
        }
        DomainEvent::FollowAnswered {
            local,
            remote,
            activity,
            accepted,
        } => {
            let (local, remote) = (
                get_identity(conn, *local).await?,
                get_identity(conn, *remote).await?,
            );
            if !local.is_local() || remote.is_local() {
                return Ok(out);
            }
            if let (Some(actor), Some(inbox)) = (remote.actor_url.clone(), remote.inbox_url.clone())
            {
                let activity = protocol::answer_follow(
                    urls,
                    &local,
                    &actor,
                    activity.as_deref().unwrap_or_default(),
                    *accepted,
                    Id::generate(clock.now()).get(),
                );
                out.push(NewDelivery {
                    inbox_url: inbox,
                    signer_identity_id: Some(local.id),
                    activity: activity.into(),
                    not_before,
                });
            }
        }
        DomainEvent::StatusDeleted {
            status,
            author,
            addressed,
            ..
        } => {
            // A face that is gone has no key left to sign with.
            let Ok(author) = get_identity(conn, *author).await else {
                return Ok(out);
            };
            if !author.is_local() {
                return Ok(out);
            }
            let activity = protocol::delete_note_activity(urls, &author, *status);
            let mut inboxes = queue::remote_follower_inboxes(conn, author.id).await?;
            // An anonymous post may have reached the announcer's followers.
            if author.tier() == guise_policy::Tier::Anonymous {
                if let Some(a) = guise_core::announcer::active(conn).await? {
                    inboxes.extend(queue::remote_follower_inboxes(conn, a.id).await?);
                }
            }
            for face in guise_core::accounts::identities_by_ids(conn, addressed).await? {
                inboxes.extend(inbox_of(&face));
            }
            out.extend(to_each(inboxes, author.id, &activity, not_before));
        }
        // A Like of a remote note, or its Undo; both to the author's own
        // inbox, with the id the like's row gave it.
        DomainEvent::FavouriteCreated { from, status, edge }
        | DomainEvent::FavouriteDeleted { from, status, edge } => {
            let liker = get_identity(conn, *from).await?;
            let Ok(status) = guise_core::statuses::get_status(conn, *status).await else {
                return Ok(out);
            };
            let author = get_identity(conn, status.identity_id).await?;
            if liker.is_local() && !author.is_local() {
                if let (Some(uri), Some(inbox)) = (status.uri.clone(), author.inbox_url.clone()) {
                    let like = protocol::like_activity(urls, &liker, &uri, *edge);
                    let activity = if matches!(e.event, DomainEvent::FavouriteCreated { .. }) {
                        like
                    } else {
                        protocol::undo_activity(urls, &liker, like, e.id)
                    };
                    out.push(NewDelivery {
                        inbox_url: inbox,
                        signer_identity_id: Some(liker.id),
                        activity: activity.into(),
                        not_before,
                    });
                }
            }
        }
        // A vote in a remote poll: one Create(Note) per choice, to its author.
        DomainEvent::PollVoted {
            poll,
            voter,
            choices,
        } => {
            let Ok(status) = guise_core::statuses::get_status(conn, *poll).await else {
                return Ok(out);
            };
            let author = get_identity(conn, status.identity_id).await?;
            let voter_face = get_identity(conn, *voter).await?;
            let Ok(p) = guise_core::polls::get(conn, *poll).await else {
                return Ok(out);
            };
            if let (false, Some(uri), Some(inbox), Some(actor)) = (
                author.is_local(),
                status.uri.clone(),
                inbox_of(&author),
                author.actor_url.clone(),
            ) {
                let titles = p.titles();
                for c in choices {
                    let Some(title) = usize::try_from(*c).ok().and_then(|i| titles.get(i)) else {
                        continue;
                    };
                    let activity = protocol::vote_activity(
                        urls,
                        &voter_face,
                        &uri,
                        &actor,
                        title,
                        &format!("{}-{}-{c}", e.id, poll),
                    );
                    out.push(NewDelivery {
                        inbox_url: inbox.clone(),
                        signer_identity_id: Some(voter_face.id),
                        activity: activity.into(),
                        not_before,
                    });
                }
            }
        }
        // Live-client events never enter the outbox (`DomainEvent::routes`).
        DomainEvent::NotificationCreated { .. }
        | DomainEvent::RemoteStatusCreated { .. }
        | DomainEvent::RemoteStatusUpdated { .. }
        | DomainEvent::RemoteStatusDeleted { .. }
        | DomainEvent::FiltersChanged { .. } => {}
    }
    Ok(out)
}

/// Outbox events expanded at once when there is a backlog, each lane on its
/// own connection. An event's deliveries are ordered by their due time, not
/// by which lane wrote them first; receivers already take a Delete that
/// overtakes its Create (it is remembered, and the late Create stores
/// nothing), as ours does.
const EXPANDERS: usize = 4;

/// Turns up to `limit` outbox events into deliveries, each in its own
/// transaction: an event goes only with its deliveries recorded, and no
/// transaction holds the deliveries of two events (of two faces that might
/// be one person's). Returns how many were expanded; the count is kept once
/// for all of them, so lanes do not queue on its row.
pub async fn expand_once(db: &Db, clock: &dyn Clock, urls: &Urls, limit: i64) -> CoreResult<usize> {
    if limit <= 0 {
        return Ok(0);
    }
    let mut conn = db.conn().await?;
    // An idle worker asks once, not once per lane.
    if !expand_one(&mut conn, clock, urls).await? {
        return Ok(0);
    }
    let claimed = std::sync::atomic::AtomicI64::new(1);
    let lane = async |first: Option<guise_core::db::PooledConn>| -> (usize, CoreResult<()>) {
        let mut done = 0;
        let mut conn = match first {
            Some(c) => c,
            None => match db.conn().await {
                Ok(c) => c,
                Err(e) => return (done, Err(e)),
            },
        };
        while claimed.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < limit {
            match expand_one(&mut conn, clock, urls).await {
                Ok(true) => done += 1,
                Ok(false) => break,
                Err(e) => return (done, Err(e)),
            }
        }
        (done, Ok(()))
    };
    let lanes = std::iter::once(Some(conn))
        .chain(std::iter::repeat_with(|| None).take(EXPANDERS - 1))
        .map(lane);
    let mut done = 1;
    let mut failed = None;
    for (n, result) in futures::future::join_all(lanes).await {
        done += n;
        if let Err(e) = result {
            failed.get_or_insert(e);
        }
    }
    let mut conn = db.conn().await?;
    queue::count(
        &mut conn,
        "outbox_events_expanded",
        i64::try_from(done).unwrap_or(0),
    )
    .await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Expands the oldest unclaimed outbox event in its own transaction;
/// whether there was one.
async fn expand_one(conn: &mut DbConn, clock: &dyn Clock, urls: &Urls) -> CoreResult<bool> {
    use diesel_async::AsyncConnection;
    let urls = urls.clone();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let Some(e) = queue::claim_event(conn).await? else {
            return Ok(false);
        };
        // An event naming a row that is gone meanwhile (a remote actor
        // deleted, say) means nothing more; it must not stall the rest.
        match Envelope::of(&e) {
            None => {
                tracing::warn!(kind = %e.kind, "an event this build cannot read; dropped");
            }
            Some(env) => match expand(conn, clock, &urls, &env).await {
                Ok(items) => queue::enqueue(conn, clock, &items).await?,
                Err(CoreError::NotFound) => {
                    tracing::debug!(kind = %e.kind, "event names something gone; skipped");
                }
                Err(err) => return Err(err),
            },
        }
        queue::done_with_event(conn, e.id).await?;
        Ok(true)
    })
    .await
}

/// A signer's key id and parsed private key, shared by its deliveries.
type Signer = std::sync::Arc<(String, crate::signatures::SigningKey)>;

/// Loads and parses the key of each face (or the instance actor) that signs
/// one of a batch's deliveries: once per batch, not once per delivery. A
/// signer whose key cannot be had is left out (its deliveries fail and are
/// retried).
async fn signers(
    db: &Db,
    urls: &Urls,
    who: Vec<Option<i64>>,
) -> CoreResult<std::collections::HashMap<Option<i64>, Signer>> {
    let mut out = std::collections::HashMap::new();
    let mut conn = db.conn().await?;
    for who in who {
        if out.contains_key(&who) {
            continue;
        }
        match signer(&mut conn, urls, who).await {
            Ok(s) => {
                out.insert(who, s);
            }
            Err(e) => tracing::warn!(error = %e, "no key to sign deliveries with"),
        }
    }
    Ok(out)
}

async fn signer(conn: &mut DbConn, urls: &Urls, who: Option<i64>) -> CoreResult<Signer> {
    let (pair, key_id) = match who {
        Some(id) => {
            let face = get_identity(conn, id).await?;
            let pair = guise_core::keys::key_of(conn, id, crate::keys::generate).await?;
            (pair, urls.key_id(&face))
        }
        None => (
            guise_core::keys::instance_key(conn, "instance", crate::keys::generate).await?,
            format!("{}#main-key", urls.instance_actor()),
        ),
    };
    let key =
        tokio::task::spawn_blocking(move || crate::signatures::private_key(&pair.private_pem))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
            .map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(std::sync::Arc::new((key_id, key)))
}

async fn send(
    clock: &dyn Clock,
    fetcher: &Fetcher,
    d: &Delivery,
    signer: Option<Signer>,
) -> Result<Option<u16>, String> {
    let signer = signer.ok_or("no key to sign with")?;
    let body = serde_json::to_vec(&d.activity).map_err(|e| e.to_string())?;
    let body = std::sync::Arc::new(body);
    let url = Url::parse(&d.inbox_url).map_err(|e| e.to_string())?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    // RSA signing is CPU work: off the async threads, so sends overlap.
    let now = clock.now();
    let to_sign = body.clone();
    let headers = tokio::task::spawn_blocking(move || {
        crate::signatures::sign_with(
            "POST",
            &host,
            &path,
            Some(&to_sign),
            &signer.0,
            &signer.1,
            now,
        )
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let body = std::sync::Arc::try_unwrap(body).unwrap_or_else(|b| b.as_ref().clone());
    fetcher.post(&url, headers, body).await
}

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Sleep when there is nothing to do.
    pub poll: std::time::Duration,
    /// How long a claimed delivery stays with its worker before another may
    /// take it (a worker killed mid-send leaves its deliveries for others).
    pub lease: chrono::Duration,
    pub retry: RetryPolicy,
    /// Deliveries in flight at once (each to a different inbox or not).
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: std::time::Duration::from_secs(1),
            lease: chrono::Duration::minutes(10),
            retry: RetryPolicy::default(),
            concurrency: 16,
        }
    }
}

/// Sends up to `limit` due deliveries; returns how many were tried.
pub async fn deliver_once(
    db: &Db,
    clock: &dyn Clock,
    urls: &Urls,
    fetcher: &Fetcher,
    limit: i64,
    settings: &Settings,
) -> CoreResult<usize> {
    let due = {
        let mut conn = db.conn().await?;
        queue::lease_due(&mut conn, clock, limit, settings.lease).await?
    };
    let policy = settings.retry;
    let tried = due.len();
    // Each host's health, read once per batch. A host unavailable (failing
    // on seven distinct days since it last answered) is skipped, but for
    // one probe a day: when it answers, it is available again.
    let today = clock.now().timestamp().div_euclid(86_400);
    let mut health_of: std::collections::HashMap<String, Vec<i64>> = Default::default();
    {
        let mut conn = db.conn().await?;
        for d in &due {
            let host = host_of(&d.inbox_url);
            if let std::collections::hash_map::Entry::Vacant(e) = health_of.entry(host) {
                let days = queue::host_failed_days(&mut conn, e.key()).await?;
                e.insert(days);
            }
        }
    }
    let mut probing = std::collections::HashSet::new();
    let plans: Vec<(Delivery, Plan)> = due
        .into_iter()
        .map(|d| {
            let host = host_of(&d.inbox_url);
            let days = health_of.get(&host).cloned().unwrap_or_default();
            let plan = if Url::parse(&d.inbox_url).is_ok_and(|u| fetcher.is_blocked(&u)) {
                Plan::Blocked
            } else if !HostHealth::from_days(days.clone()).unavailable() {
                Plan::Send
            } else if days.contains(&today) {
                // Today's probe failed: skipped, as for any unavailable host.
                Plan::Unavailable
            } else if probing.insert(host) {
                Plan::Send
            } else {
                // Another delivery probes the host now: wait for its answer.
                Plan::AfterProbe
            };
            (d, plan)
        })
        .collect();
    // Sent concurrently; answers are recorded one by one as they come.
    type Sent = (Delivery, Plan, Option<Result<Option<u16>, String>>);
    let who = plans.iter().map(|(d, _)| d.signer_identity_id).collect();
    let keys = signers(db, urls, who).await?;
    let keys = &keys;
    let sent: Vec<Sent> = futures::stream::iter(plans)
        .map(|(d, plan)| async move {
            if plan != Plan::Send {
                return (d, plan, None);
            }
            let signer = keys.get(&d.signer_identity_id).cloned();
            let result = send(clock, fetcher, &d, signer).await;
            (d, plan, Some(result))
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
    // Delivered to a host with no failures on record: nothing to change but
    // the queue, done in one statement for the whole batch.
    let (plain, sent): (Vec<Sent>, Vec<Sent>) = sent.into_iter().partition(|(d, _, r)| {
        matches!(r, Some(Ok(status)) if matches!(classify(*status), Outcome::Delivered))
            && health_of
                .get(&host_of(&d.inbox_url))
                .is_some_and(Vec::is_empty)
    });
    if !plain.is_empty() {
        let ids: Vec<i64> = plain.iter().map(|(d, _, _)| d.id).collect();
        let mut conn = db.conn().await?;
        queue::finish_many(&mut conn, &ids).await?;
        *counts.entry("deliveries_sent").or_default() += i64::try_from(ids.len()).unwrap_or(0);
    }
    for (d, plan, result) in sent {
        let Some(result) = result else {
            let mut conn = db.conn().await?;
            if plan == Plan::AfterProbe {
                queue::postpone(&mut conn, d.id, clock.now() + chrono::Duration::minutes(1))
                    .await?;
                continue;
            }
            queue::finish(&mut conn, d.id).await?;
            let what = if plan == Plan::Blocked {
                "deliveries_blocked"
            } else {
                tracing::info!(inbox = %d.inbox_url, "delivery skipped: host unavailable");
                "deliveries_skipped_unavailable"
            };
            *counts.entry(what).or_default() += 1;
            continue;
        };
        let (outcome, error) = match &result {
            Ok(status) => (
                classify(*status),
                status.map_or("network".to_owned(), |s| format!("status {s}")),
            ),
            Err(e) => (classify(None), e.clone()),
        };
        let host = host_of(&d.inbox_url);
        let mut conn = db.conn().await?;
        let failed_before = queue::host_failed_days(&mut conn, &host).await?;
        let mut health = HostHealth::from_days(failed_before.clone());
        match outcome {
            Outcome::Delivered => {
                health.heard_from();
                queue::finish(&mut conn, d.id).await?;
                *counts.entry("deliveries_sent").or_default() += 1;
            }
            Outcome::Drop(reason) => {
                tracing::info!(inbox = %d.inbox_url, reason, answer = %error, "delivery dropped");
                queue::finish(&mut conn, d.id).await?;
                *counts.entry("deliveries_refused").or_default() += 1;
            }
            Outcome::Retry(reason) => {
                health.failed_on(clock.now().timestamp());
                let now = clock.now();
                let first = d.first_tried_at.unwrap_or(now);
                let jitter: f64 = rand::rngs::OsRng.gen_range(0.0..1.0);
                let attempts = u32::try_from(d.attempts + 1).unwrap_or(u32::MAX);
                match next_attempt(
                    &policy,
                    attempts,
                    first.timestamp(),
                    now.timestamp(),
                    jitter,
                ) {
                    Some(at) => {
                        let at = chrono::DateTime::from_timestamp(at, 0).unwrap_or(now);
                        queue::retry_at(&mut conn, &d, at, first, &format!("{reason}: {error}"))
                            .await?;
                    }
                    None => {
                        tracing::info!(inbox = %d.inbox_url, "delivery given up after three days");
                        queue::finish(&mut conn, d.id).await?;
                        *counts.entry("deliveries_given_up").or_default() += 1;
                    }
                }
            }
        }
        // Written only when it changed (a healthy host's success writes nothing).
        if health.days() != failed_before.as_slice() {
            queue::set_host_failed_days(&mut conn, &host, health.days()).await?;
        }
    }
    if !counts.is_empty() {
        let mut conn = db.conn().await?;
        for (name, n) in counts {
            queue::count(&mut conn, name, n).await?;
        }
    }
    Ok(tried)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Send,
    Blocked,
    Unavailable,
    AfterProbe,
}

fn host_of(inbox: &str) -> String {
    Url::parse(inbox)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// Runs the worker until the process ends: outbox expansion, deliveries,
/// and the remote media cache (fetched as things arrive, swept each minute).
pub async fn run(
    db: Db,
    clock: std::sync::Arc<dyn Clock>,
    urls: Urls,
    fetcher: std::sync::Arc<Fetcher>,
    settings: Settings,
    media: crate::media::MediaWork,
) {
    let mut swept_at: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let deleted = match db.conn().await {
            Ok(mut conn) => guise_core::anon::run_due_deletions(&mut conn, clock.as_ref(), 32)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "scheduled deletions");
                    0
                }),
            Err(e) => {
                tracing::warn!(error = %e, "scheduled deletions");
                0
            }
        };
        let fetched = crate::media::fetch_once(&db, clock.as_ref(), &fetcher, &media, 16)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "remote media");
                0
            });
        let now = clock.now();
        if swept_at.is_none_or(|t| now - t >= chrono::Duration::minutes(1)) {
            swept_at = Some(now);
            if let Err(e) = crate::media::sweep(&db, clock.as_ref(), &media).await {
                tracing::warn!(error = %e, "sweeping the media cache");
            }
            if let Ok(mut conn) = db.conn().await {
                if let Err(e) = guise_core::remote::prune_deleted(&mut conn, clock.as_ref()).await {
                    tracing::warn!(error = %e, "forgetting old remote deletions");
                }
                if let Err(e) =
                    guise_core::social::end_expired_mutes(&mut conn, clock.as_ref()).await
                {
                    tracing::warn!(error = %e, "ending expired mutes");
                }
            }
        }
        let expanded = expand_once(&db, clock.as_ref(), &urls, 100)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "outbox expansion");
                0
            });
        let batch = i64::try_from(settings.concurrency * 8).unwrap_or(128);
        let sent = deliver_once(&db, clock.as_ref(), &urls, &fetcher, batch, &settings)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "delivery");
                0
            });
        if expanded > 0 || sent > 0 {
            // Gone faces keep their keys only until their last delivery is out.
            if let Ok(mut conn) = db.conn().await {
                if let Err(e) = guise_core::keys::purge_departed(&mut conn).await {
                    tracing::warn!(error = %e, "purging keys of gone faces");
                }
            }
        }
        if expanded == 0 && sent == 0 && fetched == 0 && deleted == 0 {
            tokio::time::sleep(settings.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fan_out_holds_one_copy_of_its_activity() {
        let activity =
            serde_json::json!({"type": "Create", "object": {"content": "x".repeat(4096)}});
        let inboxes = (0..1000)
            .map(|i| format!("https://h{}.example/inbox", i % 300))
            .collect();
        let items = to_each(inboxes, 7, &activity, None);
        // One delivery per distinct inbox...
        assert_eq!(items.len(), 300);
        // ...all sharing the first one's activity, not a copy each.
        let first = &items[0].activity;
        assert!(items
            .iter()
            .all(|d| std::sync::Arc::ptr_eq(&d.activity, first)));
        assert_eq!(*first.as_ref(), activity);
        assert!(items.iter().all(|d| d.signer_identity_id == Some(7)));
    }
}
