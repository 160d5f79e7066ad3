//! Anonymous faces and the sealed index.
//!
//! An anonymous face stores no account id. Its owner is known only to whoever
//! holds the account's `k_anon`: `owner_tag = HMAC(k_anon, "face" ‖ nonce)`,
//! and per-thread reuse looks up `thread_tag = HMAC(k_anon, "thread" ‖ root)`.
//! The owner finds their faces through the sealed index: rows keyed by
//! `HMAC(k_anon, "slot" ‖ n)`, n = 0, 1, 2, …, holding sealed (face, root).
//! Creating, editing or deleting anonymous content writes nothing tied to the
//! account (unlinkability rule 4).

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::id::Id;
use crate::models::{Identity, Status};
use crate::schema::{identities, sealed_idempotency, sealed_index, statuses};
use crate::seal::{self, KAnon};
use crate::statuses::{self as st, Ctx, NewStatus};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::Tier;
use rand::Rng;

/// Whether a new anonymous face is minted per thread (the default, so a
/// conversation stays readable) or per post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacePer {
    Thread,
    Post,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub n: u64,
    pub face_id: i64,
    pub thread_root: i64,
}

fn slot_key(k: &KAnon, n: u64) -> Vec<u8> {
    k.tag("slot", &n.to_be_bytes()).to_vec()
}

fn thread_tag(k: &KAnon, root: i64) -> Vec<u8> {
    k.tag("thread", &root.to_be_bytes()).to_vec()
}

/// Whether `k` owns this anonymous face.
pub fn owns(k: &KAnon, face: &Identity) -> bool {
    sealed_by(k, &face.owner_tag, &face.owner_nonce)
}

/// Whether an owner tag and its nonce are `k`'s.
fn sealed_by(k: &KAnon, tag: &Option<Vec<u8>>, nonce: &Option<Vec<u8>>) -> bool {
    match (tag, nonce) {
        (Some(tag), Some(nonce)) => crate::secret::constant_time_eq(tag, &k.tag("face", nonce)),
        _ => false,
    }
}

/// Slots are read (and probed) this many at a time.
const BATCH: u64 = 32;

/// Reads the index from slot 0 until a whole batch of slots is empty. A
/// slot inside may be empty — a writer that took it rolled back while a
/// racing one took the next — and the slots past it are read all the same.
pub async fn walk(conn: &mut DbConn, k: &KAnon) -> CoreResult<Vec<IndexEntry>> {
    let mut out = Vec::new();
    let mut start = 0u64;
    loop {
        let keys: Vec<Vec<u8>> = (start..start + BATCH).map(|n| slot_key(k, n)).collect();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sealed_index::table
            .filter(sealed_index::slot.eq_any(&keys))
            .select((sealed_index::slot, sealed_index::payload))
            .load(conn)
            .await?;
        if rows.is_empty() {
            return Ok(out);
        }
        for (i, key) in keys.iter().enumerate() {
            let Some((_, payload)) = rows.iter().find(|(s, _)| s == key) else {
                continue;
            };
            let n = start + i as u64;
            let Some(plain) = k.open(key, payload) else {
                continue;
            };
            if let (Some(face), Some(root)) = (plain.get(0..8), plain.get(8..16)) {
                out.push(IndexEntry {
                    n,
                    face_id: i64::from_be_bytes(face.try_into().unwrap_or_default()),
                    thread_root: i64::from_be_bytes(root.try_into().unwrap_or_default()),
                });
            }
        }
        start += BATCH;
    }
}

/// Which of the slots `ns` are taken, in one query.
async fn taken(conn: &mut DbConn, k: &KAnon, ns: &[u64]) -> CoreResult<Vec<bool>> {
    let keys: Vec<Vec<u8>> = ns.iter().map(|n| slot_key(k, *n)).collect();
    let found: Vec<Vec<u8>> = sealed_index::table
        .filter(sealed_index::slot.eq_any(&keys))
        .select(sealed_index::slot)
        .load(conn)
        .await?;
    Ok(keys.iter().map(|key| found.contains(key)).collect())
}

/// A free slot with a taken one just before it (or slot 0): the index's
/// end, or a slot a rolled-back writer left empty. Found by galloping over
/// slots 2^i − 1 and narrowing between a taken and a free one, up to 31
/// slots a query: three or four queries for an index of thousands of
/// faces, where walking it costs one per 32 slots — and each anonymous
/// post that starts a thread appends to it.
async fn free_slot(conn: &mut DbConn, k: &KAnon) -> CoreResult<u64> {
    let gallop: Vec<u64> = (0..63).map(|i| (1u64 << i) - 1).collect();
    let t = taken(conn, k, &gallop).await?;
    let first_free = t.iter().position(|x| !x).unwrap_or(gallop.len());
    let (Some(&lo), Some(&hi)) = (
        first_free.checked_sub(1).and_then(|i| gallop.get(i)),
        gallop.get(first_free),
    ) else {
        // Slot 0 is free (or, absurdly, every probe is taken).
        return if first_free == 0 {
            Ok(0)
        } else {
            Err(CoreError::Internal("the sealed index is full".into()))
        };
    };
    // `lo` is taken and `hi` free: narrow until they touch.
    let (mut lo, mut hi) = (lo, hi);
    while hi - lo > 1 {
        let width = hi - lo;
        let steps = width.min(BATCH);
        let mut points: Vec<u64> = (1..steps).map(|j| lo + width * j / steps).collect();
        points.dedup();
        let t = taken(conn, k, &points).await?;
        match t.iter().position(|x| !x) {
            Some(i) => {
                hi = points.get(i).copied().unwrap_or(hi);
                if let Some(before) = i.checked_sub(1).and_then(|b| points.get(b)) {
                    lo = *before;
                }
            }
            None => lo = points.last().copied().unwrap_or(lo),
        }
    }
    Ok(hi)
}

/// Appends (face, root) at a free slot. The owner's appends take turns:
/// each holds, until its transaction ends, an advisory lock named by a tag
/// of `k_anon` (a number no one without the key can tie to anyone, and
/// kept nowhere). Without it, racing writers of one owner met on the same
/// slot, each waiting for the other's commit and probing again, and under
/// sixteen at once some ran out of attempts. Whoever watches live locks
/// learns what those slot waits showed before: that two requests in flight
/// are one owner's — never which owner.
async fn append(conn: &mut DbConn, k: &KAnon, face_id: i64, root: i64) -> CoreResult<()> {
    let tag = k.tag("index lock", b"");
    let lock = i64::from_be_bytes(
        tag.get(..8)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_default(),
    );
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(lock)
        .execute(conn)
        .await?;
    let mut plain = Vec::with_capacity(16);
    plain.extend_from_slice(&face_id.to_be_bytes());
    plain.extend_from_slice(&root.to_be_bytes());
    for _ in 0..64 {
        let n = free_slot(conn, k).await?;
        let key = slot_key(k, n);
        let inserted = diesel::insert_into(sealed_index::table)
            .values((
                sealed_index::slot.eq(&key),
                sealed_index::payload.eq(k.seal(&key, &plain)),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 1 {
            return Ok(());
        }
    }
    Err(CoreError::Unavailable(
        "too many anonymous posts at once; try again",
    ))
}

/// The owner's anonymous faces, oldest first (in the index's order: ids
/// are random).
pub async fn my_faces(conn: &mut DbConn, k: &KAnon) -> CoreResult<Vec<Identity>> {
    let ids: Vec<i64> = walk(conn, k)
        .await?
        .into_iter()
        .map(|e| e.face_id)
        .collect();
    let mut faces = crate::accounts::identities_by_ids(conn, &ids).await?;
    // The index is only a hint: ownership is proved by the face's own tag.
    faces.retain(|f| owns(k, f));
    faces.sort_by_key(|f| ids.iter().position(|i| *i == f.id));
    Ok(faces)
}

fn random_handle() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let tail: String = (0..12)
        .map(|_| {
            char::from(
                ALPHABET
                    .get(rng.gen_range(0..ALPHABET.len()))
                    .copied()
                    .unwrap_or(b'a'),
            )
        })
        .collect();
    format!("anon_{tail}")
}

/// The owner's face for the thread rooted at `root`, minted if needed; a
/// minted face is `Minted`, still to be appended to the owner's index
/// (`append`) before the transaction ends.
async fn face_for_thread(
    conn: &mut DbConn,
    clock: &dyn Clock,
    k: &KAnon,
    root: i64,
    per: FacePer,
) -> CoreResult<Face> {
    let tag = thread_tag(k, root);
    if per == FacePer::Thread {
        let existing: Option<Identity> = identities::table
            .filter(identities::thread_tag.eq(&tag))
            .select(Identity::as_select())
            .first(conn)
            .await
            .optional()?;
        if let Some(face) = existing {
            if face.suspended {
                return Err(CoreError::Refused(guise_policy::Refusal::Suspended));
            }
            return Ok(Face::Known(face));
        }
    }
    let nonce = seal::new_nonce().to_vec();
    let id = Id::random().get();
    let face: Identity = diesel::insert_into(identities::table)
        .values((
            identities::id.eq(id),
            identities::tier.eq(Tier::Anonymous.as_str()),
            identities::handle.eq(random_handle()),
            identities::display_name.eq("Anonymous"),
            identities::discoverable.eq(false),
            identities::created_on.eq(clock.today()),
            identities::owner_tag.eq(k.tag("face", &nonce).to_vec()),
            identities::owner_nonce.eq(&nonce),
            identities::thread_tag.eq((per == FacePer::Thread).then_some(&tag)),
        ))
        .returning(Identity::as_returning())
        .get_result(conn)
        .await?;
    Ok(Face::Minted(face))
}

/// A face for a thread: one the owner had, or one just minted and not yet
/// in the owner's index.
enum Face {
    Known(Identity),
    Minted(Identity),
}

impl Face {
    /// The face, appended to the owner's index (under `root`) if it is new.
    /// Called last in the transaction: the owner's turn at the index
    /// (`append`'s advisory lock) lasts until the commit, so whatever the
    /// transaction writes after it, one owner's racing posts would write
    /// one at a time.
    async fn indexed(self, conn: &mut DbConn, k: &KAnon, root: i64) -> CoreResult<Identity> {
        match self {
            Face::Known(face) => Ok(face),
            Face::Minted(face) => {
                append(conn, k, face.id, root).await?;
                Ok(face)
            }
        }
    }

    fn identity(&self) -> &Identity {
        match self {
            Face::Known(face) | Face::Minted(face) => face,
        }
    }
}

/// A moderator's suspension of any of the owner's faces holds the owner back,
/// without anyone learning who the owner is. Asked of the suspended
/// anonymous faces (few, on any instance), each tested against the owner's
/// key — not of the owner's index, whose walk grows with every thread the
/// owner ever started and which, being only a hint, must not be what a
/// ban rests on.
pub async fn ensure_not_banned(conn: &mut DbConn, k: &KAnon) -> CoreResult<()> {
    type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>);
    let suspended: Vec<Sealed> = identities::table
        .filter(identities::tier.eq(Tier::Anonymous.as_str()))
        .filter(identities::suspended.eq(true))
        .filter(identities::owner_tag.is_not_null())
        .select((identities::owner_tag, identities::owner_nonce))
        .load(conn)
        .await?;
    if suspended
        .iter()
        .any(|(tag, nonce)| sealed_by(k, tag, nonce))
    {
        return Err(CoreError::Refused(guise_policy::Refusal::Suspended));
    }
    Ok(())
}

/// Posts anonymously: through the owner's face for the thread (or a new one).
pub async fn publish(
    conn: &mut DbConn,
    ctx: &Ctx<'_>,
    k: &KAnon,
    per: FacePer,
    mut new: NewStatus,
) -> CoreResult<Status> {
    ensure_not_banned(conn, k).await?;
    let key_tag = new
        .idempotency_key
        .take()
        .map(|key| k.tag("idempotency", key.as_bytes()).to_vec());
    if let Some(tag) = &key_tag {
        let existing: Option<i64> = sealed_idempotency::table
            .find(tag)
            .select(sealed_idempotency::status_id)
            .first(conn)
            .await
            .optional()?;
        if let Some(id) = existing {
            return st::get_status(conn, id).await;
        }
    }
    let root = match new.in_reply_to_id {
        Some(parent) => {
            st::get_status(conn, parent)
                .await
                .map_err(|_| CoreError::invalid("in_reply_to_id", "Record not found"))?
                .thread_root_id
        }
        None => {
            let id = Id::generate(ctx.clock.now()).get();
            new.id = Some(id);
            id
        }
    };
    let k = k.clone();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let face = face_for_thread(conn, ctx.clock, &k, root, per).await?;
        let status = st::publish(conn, ctx, face.identity(), new).await?;
        let wait = ctx.rules.announcer_needs_approval;
        crate::announcer::boost(conn, ctx.clock, face.identity(), &status, wait).await?;
        if let Some(tag) = key_tag {
            diesel::insert_into(sealed_idempotency::table)
                .values((
                    sealed_idempotency::key_tag.eq(tag),
                    sealed_idempotency::status_id.eq(status.id),
                ))
                .execute(conn)
                .await?;
        }
        // Last: from here to the commit, the owner's other posts wait.
        face.indexed(conn, &k, root).await?;
        Ok(status)
    })
    .await
}

/// The owner's face that may act on `status`'s thread (to favourite, say).
pub async fn face_for_status(
    conn: &mut DbConn,
    clock: &dyn Clock,
    k: &KAnon,
    per: FacePer,
    status_id: i64,
    viewer_check: bool,
) -> CoreResult<Identity> {
    ensure_not_banned(conn, k).await?;
    let status = st::get_status(conn, status_id).await?;
    if viewer_check && !st::can_see(conn, None, &status).await? {
        return Err(CoreError::NotFound);
    }
    let root = status.thread_root_id;
    let k = k.clone();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        face_for_thread(conn, clock, &k, root, per)
            .await?
            .indexed(conn, &k, root)
            .await
    })
    .await
}

/// Which of the owner's anonymous faces favourited `status_id`, if any.
pub async fn face_that_favourited(
    conn: &mut DbConn,
    k: &KAnon,
    status_id: i64,
) -> CoreResult<Option<Identity>> {
    use crate::schema::favourites;
    let faces = my_faces(conn, k).await?;
    let ids: Vec<i64> = faces.iter().map(|f| f.id).collect();
    let who: Option<i64> = favourites::table
        .filter(favourites::status_id.eq(status_id))
        .filter(favourites::identity_id.eq_any(&ids))
        .select(favourites::identity_id)
        .first(conn)
        .await
        .optional()?;
    Ok(who.and_then(|w| faces.into_iter().find(|f| f.id == w)))
}

/// The anonymous author of `status_id` if `k` owns it.
pub async fn own_author(
    conn: &mut DbConn,
    k: &KAnon,
    status_id: i64,
) -> CoreResult<Option<Identity>> {
    let status = st::get_status(conn, status_id).await?;
    let author = crate::accounts::get_identity(conn, status.identity_id).await?;
    Ok((author.tier() == Tier::Anonymous && owns(k, &author)).then_some(author))
}

/// After a delete: a face with no statuses left becomes a tombstone.
pub async fn tombstone_if_empty(conn: &mut DbConn, face: &Identity) -> CoreResult<()> {
    let left: i64 = statuses::table
        .filter(statuses::identity_id.eq(face.id))
        .count()
        .get_result(conn)
        .await?;
    if left == 0 {
        // A tombstone stays gone: the owner's next post in the thread gets a
        // new face, so the thread tag moves on.
        diesel::update(identities::table.find(face.id))
            .set((
                identities::tombstoned.eq(true),
                identities::thread_tag.eq(None::<Vec<u8>>),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Ids of the owner's anonymous statuses, newest first, paginated.
pub async fn my_statuses(conn: &mut DbConn, k: &KAnon, page: &st::Page) -> CoreResult<Vec<i64>> {
    let faces: Vec<i64> = my_faces(conn, k).await?.into_iter().map(|f| f.id).collect();
    if faces.is_empty() {
        return Ok(Vec::new());
    }
    let asc = page.ascending();
    let mut q = statuses::table
        .filter(statuses::identity_id.eq_any(&faces))
        .select(statuses::id)
        .into_boxed();
    if let Some(m) = page.max_id {
        q = q.filter(statuses::id.lt(m));
    }
    if let Some(s) = page.since_id {
        q = q.filter(statuses::id.gt(s));
    }
    if let Some(m) = page.min_id {
        q = q.filter(statuses::id.gt(m));
    }
    q = if asc {
        q.order(statuses::id.asc())
    } else {
        q.order(statuses::id.desc())
    };
    let mut ids: Vec<i64> = q.limit(page.limit).load(conn).await?;
    if asc {
        ids.reverse();
    }
    Ok(ids)
}

/// Schedules the deletion of everything anonymous the owner of `k` posted,
/// for account deletion: each post at its own random time within `spread`,
/// to be carried out by the worker (`run_due_deletions`), each in its own
/// transaction. Nothing about an anonymous face is written in the request
/// that deletes the login, next to its persistent faces' deletion: the
/// public sees the posts go one by one, and the database keeps no
/// transaction or neighbour that holds both. Returns how many were
/// scheduled. The index goes now: without the owner's key it is noise.
pub async fn schedule_deletion(
    conn: &mut DbConn,
    clock: &dyn Clock,
    k: &KAnon,
    spread: chrono::Duration,
) -> CoreResult<usize> {
    use crate::schema::pending_deletions;
    let entries = walk(conn, k).await?;
    let faces = my_faces(conn, k).await?;
    // A suspended face stays as moderators left it: its owner cannot undo a ban.
    let ids: Vec<i64> = faces
        .iter()
        .filter(|f| !f.suspended)
        .map(|f| f.id)
        .collect();
    let posts: Vec<i64> = statuses::table
        .filter(statuses::identity_id.eq_any(&ids))
        .select(statuses::id)
        .load(conn)
        .await?;
    let now = clock.now();
    let slots: Vec<Vec<u8>> = entries.iter().map(|e| slot_key(k, e.n)).collect();
    let n = posts.len();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let mut rng = rand::rngs::OsRng;
        for id in posts {
            let delay = rng.gen_range(0..=spread.num_milliseconds().max(0));
            diesel::insert_into(pending_deletions::table)
                .values((
                    pending_deletions::id.eq(Id::random().get()),
                    pending_deletions::status_id.eq(id),
                    pending_deletions::run_at.eq(now + chrono::Duration::milliseconds(delay)),
                ))
                .execute(conn)
                .await?;
        }
        diesel::delete(sealed_index::table.filter(sealed_index::slot.eq_any(slots)))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(n)
}

/// Carries out due scheduled deletions, each in its own transaction: the
/// post goes with its `Delete` (to the faces it addressed), the job row
/// with it, and its face becomes a tombstone once it has nothing left.
/// Returns how many were done.
pub async fn run_due_deletions(
    conn: &mut DbConn,
    clock: &dyn Clock,
    limit: usize,
) -> CoreResult<usize> {
    use crate::schema::pending_deletions;
    let mut done = 0;
    while done < limit {
        let now = clock.now();
        let ran = conn
            .transaction::<_, CoreError, _>(async move |conn| {
                let job: Option<(i64, i64)> = pending_deletions::table
                    .filter(pending_deletions::run_at.le(now))
                    .order(pending_deletions::run_at.asc())
                    .for_update()
                    .skip_locked()
                    .select((pending_deletions::id, pending_deletions::status_id))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((job, status_id)) = job else {
                    return Ok(false);
                };
                diesel::delete(pending_deletions::table.find(job))
                    .execute(conn)
                    .await?;
                let Ok(post) = st::get_status(conn, status_id).await else {
                    return Ok(true);
                };
                let addressed = st::addressed_by(conn, &post).await?;
                diesel::delete(statuses::table.find(status_id))
                    .execute(conn)
                    .await?;
                crate::events::record(
                    conn,
                    clock,
                    crate::events::DomainEvent::StatusDeleted {
                        status: status_id,
                        author: post.identity_id,
                        addressed,
                        by_moderator: false,
                    },
                )
                .await?;
                let face = crate::accounts::get_identity(conn, post.identity_id).await?;
                tombstone_if_empty(conn, &face).await?;
                Ok(true)
            })
            .await?;
        if !ran {
            break;
        }
        done += 1;
    }
    Ok(done)
}
