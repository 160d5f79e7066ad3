//! Persistent faces: pseudonyms and the real-name face, and the admin's
//! verification of real names. Each face is socially a separate person;
//! nothing here links one face to another in public.

use crate::accounts::{faces_of, get_identity, insert_local_identity, Username};
use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, DomainEvent};
use crate::id::Id;
use crate::models::Identity;
use crate::schema::identities;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use guise_policy::Tier;

pub const MAX_DISPLAY_NAME: usize = 30;
pub const MAX_NOTE: usize = 500;

/// Handles starting with this are minted for anonymous faces only.
pub const ANON_PREFIX: &str = "anon_";

/// Handles nobody may choose: anonymous faces' prefix, the shared
/// announcer, and anything that reads as "Anonymous" (a face without a
/// display name is shown by its handle).
pub fn reserved(handle: &str) -> bool {
    let h = handle.to_ascii_lowercase();
    h.starts_with(ANON_PREFIX)
        || h == crate::announcer::HANDLE
        || guise_policy::names::poses_as_anonymous(&h)
}

/// A handle a person may choose: a valid username outside the anonymous prefix.
pub fn chosen_handle(s: &str) -> CoreResult<Username> {
    let u = Username::parse(s)?;
    if reserved(u.as_str()) {
        return Err(CoreError::invalid("handle", "is reserved"));
    }
    Ok(u)
}

fn check_display_name(s: &str) -> CoreResult<()> {
    if s.chars().count() > MAX_DISPLAY_NAME {
        return Err(CoreError::invalid(
            "display_name",
            format!("is longer than {MAX_DISPLAY_NAME} characters"),
        ));
    }
    Ok(())
}

/// A display name may not pass for "Anonymous", nor (for a pseudonym) for
/// one of the instance's verified real names other than the face's own:
/// compared by skeleton (`guise_policy::names`), so look-alike letters,
/// spacing and invisible characters do not get through. Real names may
/// share a name: staff verify those.
async fn check_name_poses(
    conn: &mut DbConn,
    display_name: &str,
    tier: Tier,
    own: Option<i64>,
) -> CoreResult<()> {
    if guise_policy::names::poses_as_anonymous(display_name) {
        return Err(CoreError::invalid(
            "display_name",
            "may not pass for \"Anonymous\"",
        ));
    }
    if tier == Tier::Pseudonymous {
        let verified = verified_real_names(conn, own).await?;
        if guise_policy::names::poses_as_one_of(display_name, verified.iter().map(String::as_str)) {
            return Err(CoreError::invalid(
                "display_name",
                "may not pass for a verified real name",
            ));
        }
    }
    Ok(())
}

/// The display names of this instance's verified real-name faces (but `own`).
pub async fn verified_real_names(conn: &mut DbConn, own: Option<i64>) -> CoreResult<Vec<String>> {
    Ok(identities::table
        .filter(identities::tier.eq(Tier::RealName.as_str()))
        .filter(identities::domain.is_null())
        .filter(identities::verified.eq(true))
        .filter(identities::id.ne(own.unwrap_or(0)))
        .select(identities::display_name)
        .load(conn)
        .await?)
}

fn check_note(s: &str) -> CoreResult<()> {
    if s.chars().count() > MAX_NOTE {
        return Err(CoreError::invalid(
            "note",
            format!("is longer than {MAX_NOTE} characters"),
        ));
    }
    Ok(())
}

fn taken(e: CoreError) -> CoreError {
    if e.is_unique_violation() {
        CoreError::Conflict("that handle is already taken")
    } else {
        e
    }
}

pub async fn create_pseudonym(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
    handle: &str,
    display_name: &str,
    note: &str,
) -> CoreResult<Identity> {
    let handle = chosen_handle(handle)?;
    let display_name = &guise_policy::names::clean_display_name(display_name);
    check_display_name(display_name)?;
    check_name_poses(conn, display_name, Tier::Pseudonymous, None).await?;
    check_note(note)?;
    let id = Id::random().get();
    let (h, d, n) = (
        handle.as_str().to_owned(),
        display_name.to_owned(),
        note.to_owned(),
    );
    let today = clock.today();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let face = insert_local_identity(
            conn,
            id,
            Some(account_id),
            Tier::Pseudonymous,
            &h,
            &d,
            today,
        )
        .await?;
        diesel::update(identities::table.find(id))
            .set(identities::note.eq(&n))
            .execute(conn)
            .await?;
        Ok(Identity { note: n, ..face })
    })
    .await
    .map_err(taken)
}

/// Asks for the account's one real-name face; it posts (if policy allows)
/// but shows as verified only once an admin verified it.
pub async fn request_real_name(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
    handle: &str,
    real_name: &str,
) -> CoreResult<Identity> {
    let handle = chosen_handle(handle)?;
    let real_name = &guise_policy::names::clean_display_name(real_name);
    if real_name.is_empty() {
        return Err(CoreError::invalid("display_name", "can't be blank"));
    }
    check_display_name(real_name)?;
    check_name_poses(conn, real_name, Tier::RealName, None).await?;
    if faces_of(conn, account_id)
        .await?
        .iter()
        .any(|f| f.tier() == Tier::RealName)
    {
        return Err(CoreError::Conflict(
            "this login already has a real-name face",
        ));
    }
    let id = Id::random().get();
    let (h, n) = (handle.as_str().to_owned(), real_name.to_owned());
    let today = clock.today();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let position = crate::accounts::next_position(conn, account_id).await?;
        diesel::insert_into(identities::table)
            .values((
                identities::id.eq(id),
                identities::account_id.eq(account_id),
                identities::position.eq(position),
                identities::tier.eq(Tier::RealName.as_str()),
                identities::handle.eq(&h),
                identities::display_name.eq(&n),
                identities::created_on.eq(today),
                identities::real_name_status.eq("pending"),
            ))
            .execute(conn)
            .await?;
        diesel::insert_into(crate::schema::preferences::table)
            .values(crate::schema::preferences::identity_id.eq(id))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
    .map_err(taken)?;
    get_identity(conn, id).await
}

#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub handle: Option<String>,
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    pub discoverable: Option<bool>,
    /// Profile fields (name, value), replacing the old ones; at most four.
    pub fields: Option<Vec<(String, String)>>,
}

/// How many profile fields a face has at most, and how long each part is.
pub const MAX_FIELDS: usize = 4;
pub const MAX_FIELD_CHARS: usize = 255;

#[derive(AsChangeset)]
#[diesel(table_name = identities)]
struct FaceChanges {
    handle: Option<String>,
    display_name: Option<String>,
    note: Option<String>,
    locked: Option<bool>,
    bot: Option<bool>,
    discoverable: Option<bool>,
    verified: Option<bool>,
    verified_by: Option<Option<String>>,
    real_name_status: Option<Option<String>>,
    fields: Option<serde_json::Value>,
}

impl FaceChanges {
    fn any(&self) -> bool {
        self.handle.is_some()
            || self.display_name.is_some()
            || self.note.is_some()
            || self.locked.is_some()
            || self.bot.is_some()
            || self.discoverable.is_some()
            || self.fields.is_some()
            || self.verified.is_some()
    }
}

/// Edits a persistent face. A verified real name is locked: changing it
/// sends the face back to pending verification.
pub async fn update_profile(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    c: ProfileChange,
) -> CoreResult<Identity> {
    if face.tier() == Tier::Anonymous || !face.is_local() {
        return Err(CoreError::Forbidden("this face has no profile to edit"));
    }
    let handle = match &c.handle {
        Some(h) if !h.eq_ignore_ascii_case(&face.handle) => {
            Some(chosen_handle(h)?.as_str().to_owned())
        }
        _ => None,
    };
    let mut c = c;
    if let Some(d) = c.display_name.take() {
        c.display_name = Some(guise_policy::names::clean_display_name(&d));
    }
    if let Some(d) = &c.display_name {
        check_display_name(d)?;
        check_name_poses(conn, d, face.tier(), Some(face.id)).await?;
        if face.tier() == Tier::RealName && d.trim().is_empty() {
            return Err(CoreError::invalid(
                "display_name",
                "a real name can't be blank",
            ));
        }
    }
    if let Some(n) = &c.note {
        check_note(n)?;
    }
    let fields = match &c.fields {
        None => None,
        Some(f) if f.len() > MAX_FIELDS => {
            return Err(CoreError::invalid(
                "fields_attributes",
                format!("at most {MAX_FIELDS} fields"),
            ))
        }
        Some(f) => {
            let mut out = Vec::new();
            for (name, value) in f {
                let (name, value) = (name.trim(), value.trim());
                if name.is_empty() && value.is_empty() {
                    continue;
                }
                if name.chars().count() > MAX_FIELD_CHARS || value.chars().count() > MAX_FIELD_CHARS
                {
                    return Err(CoreError::invalid(
                        "fields_attributes",
                        format!("names and values are at most {MAX_FIELD_CHARS} characters"),
                    ));
                }
                out.push(serde_json::json!({
                    "name": guise_policy::names::clean_display_name(name),
                    "value": value,
                }));
            }
            Some(serde_json::Value::Array(out))
        }
    };
    let renamed_real = face.tier() == Tier::RealName
        && c.display_name
            .as_deref()
            .is_some_and(|d| d.trim() != face.display_name);
    let id = face.id;
    // One UPDATE: fields left out (None) are not touched.
    let changes = FaceChanges {
        handle,
        display_name: c.display_name.map(|d| d.trim().to_owned()),
        note: c.note,
        locked: c.locked,
        bot: c.bot,
        discoverable: c.discoverable,
        verified: renamed_real.then_some(false),
        verified_by: renamed_real.then_some(None),
        real_name_status: renamed_real.then(|| Some("pending".to_owned())),
        fields,
    };
    conn.transaction::<_, CoreError, _>(async move |conn| {
        if changes.any() {
            diesel::update(identities::table.find(id))
                .set(&changes)
                .execute(conn)
                .await?;
        }
        events::record(conn, clock, DomainEvent::FaceUpdated { face: id }).await?;
        Ok(())
    })
    .await
    .map_err(taken)?;
    get_identity(conn, id).await
}

/// Deletes a persistent face and everything it posted. The account's last
/// face stays: a login always has one face to sign in as.
pub async fn delete_face(
    conn: &mut DbConn,
    clock: &dyn Clock,
    account_id: i64,
    face_id: i64,
) -> CoreResult<()> {
    let faces = faces_of(conn, account_id).await?;
    if !faces.iter().any(|f| f.id == face_id) {
        return Err(CoreError::NotFound);
    }
    if faces.len() == 1 {
        return Err(CoreError::invalid(
            "id",
            "the last face of a login cannot be deleted",
        ));
    }
    conn.transaction::<_, CoreError, _>(async move |conn| {
        tombstone(conn, clock, face_id, None).await
    })
    .await
}

/// Ends a persistent face: its posts, follows, blocks, notifications and
/// tokens go; the row stays as a tombstone that owns nothing (no login, no
/// name) so its handle is never reused, its actor answers 410 and its key
/// signs the `Delete(Person)` until those deliveries drain
/// (`keys::purge_departed` then drops the key). Remote followers and followed
/// faces are named in the event, since the follows go now.
///
/// `not_before` holds the `Delete(Person)` back (a login's faces are not
/// announced gone at one instant, which would tie them together).
pub(crate) async fn tombstone(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face_id: i64,
    not_before: Option<chrono::DateTime<chrono::Utc>>,
) -> CoreResult<()> {
    use crate::schema::{favourites, follows, idempotency_keys, preferences, statuses};
    let followers: Vec<i64> = follows::table
        .filter(follows::target_identity_id.eq(face_id))
        .select(follows::identity_id)
        .union(
            follows::table
                .filter(follows::identity_id.eq(face_id))
                .select(follows::target_identity_id),
        )
        .load(conn)
        .await?;
    let remote: Vec<i64> = identities::table
        .filter(identities::id.eq_any(&followers))
        .filter(identities::domain.is_not_null())
        .select(identities::id)
        .load::<i64>(conn)
        .await?;
    events::record_at(
        conn,
        clock,
        DomainEvent::FaceDeleted {
            face: face_id,
            addressed: remote,
        },
        not_before,
    )
    .await?;
    diesel::delete(statuses::table.filter(statuses::identity_id.eq(face_id)))
        .execute(conn)
        .await?;
    // Every edge from or to the face (table, one end, the other end).
    for (table, a, b) in [
        ("follows", "identity_id", "target_identity_id"),
        ("follow_requests", "identity_id", "target_identity_id"),
        ("blocks", "identity_id", "target_identity_id"),
        ("mutes", "identity_id", "target_identity_id"),
        ("notifications", "identity_id", "from_identity_id"),
    ] {
        diesel::sql_query(format!("DELETE FROM {table} WHERE {a} = $1 OR {b} = $1"))
            .bind::<diesel::sql_types::BigInt, _>(face_id)
            .execute(conn)
            .await?;
    }
    diesel::delete(favourites::table.filter(favourites::identity_id.eq(face_id)))
        .execute(conn)
        .await?;
    // Tokens bound to the face name it only sealed: they die when next
    // presented, since the face is a tombstone (`oauth::ensure_face_of`).
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::identity_id.eq(face_id)))
        .execute(conn)
        .await?;
    diesel::delete(preferences::table.filter(preferences::identity_id.eq(face_id)))
        .execute(conn)
        .await?;
    diesel::update(identities::table.find(face_id))
        .set((
            identities::account_id.eq(None::<i64>),
            identities::position.eq(None::<i32>),
            identities::tombstoned.eq(true),
            identities::display_name.eq(""),
            identities::note.eq(""),
            identities::discoverable.eq(false),
            identities::locked.eq(false),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Real-name faces by status, oldest day first (ids carry no time), for the
/// admin queue.
pub async fn real_names(conn: &mut DbConn, status: &str) -> CoreResult<Vec<Identity>> {
    Ok(identities::table
        .filter(identities::tier.eq(Tier::RealName.as_str()))
        .filter(identities::domain.is_null())
        .filter(identities::real_name_status.eq(status))
        .order((identities::created_on.asc(), identities::id.asc()))
        .select(Identity::as_select())
        .load(conn)
        .await?)
}

/// An admin's decision on a real name; `domain` is this instance, recorded
/// as the verifier that other servers will show.
pub async fn decide_real_name(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face_id: i64,
    verify: bool,
    domain: &str,
) -> CoreResult<Identity> {
    let face = get_identity(conn, face_id).await?;
    if face.tier() != Tier::RealName || !face.is_local() {
        return Err(CoreError::NotFound);
    }
    let domain = domain.to_owned();
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::update(identities::table.find(face_id))
            .set((
                identities::verified.eq(verify),
                identities::verified_by.eq(verify.then_some(domain)),
                identities::real_name_status.eq(if verify { "verified" } else { "rejected" }),
            ))
            .execute(conn)
            .await?;
        events::record(conn, clock, DomainEvent::FaceUpdated { face: face_id }).await?;
        Ok(())
    })
    .await?;
    get_identity(conn, face_id).await
}

/// A face's posting preferences (Mastodon's `source[privacy]`,
/// `source[sensitive]`, `source[language]`); `None` leaves one as it is.
/// Who may reach `face` anonymously (`crate::reach`), and whether it keeps
/// anonymous posts out of its timelines. Persistent faces only.
pub async fn set_anonymous_reach(
    conn: &mut DbConn,
    face: &Identity,
    reach: Option<&str>,
    hide: Option<bool>,
) -> CoreResult<crate::models::Preferences> {
    use crate::schema::preferences;
    if face.tier() == guise_policy::Tier::Anonymous {
        return Err(CoreError::invalid(
            "anonymous_reach",
            "is set on persistent faces only",
        ));
    }
    if let Some(r) = reach {
        if !crate::reach::ALL.contains(&r) {
            return Err(CoreError::invalid(
                "anonymous_reach",
                "is everyone, own_threads or nobody",
            ));
        }
        diesel::update(preferences::table.find(face.id))
            .set(preferences::anonymous_reach.eq(r))
            .execute(conn)
            .await?;
    }
    if let Some(h) = hide {
        diesel::update(preferences::table.find(face.id))
            .set(preferences::hide_anonymous.eq(h))
            .execute(conn)
            .await?;
    }
    crate::accounts::preferences_of(conn, face.id).await
}

pub async fn set_preferences(
    conn: &mut DbConn,
    face: &Identity,
    privacy: Option<&str>,
    sensitive: Option<bool>,
    language: Option<&str>,
) -> CoreResult<()> {
    use crate::schema::preferences;
    if let Some(p) = privacy {
        if !["public", "unlisted", "private", "direct"].contains(&p) {
            return Err(CoreError::invalid(
                "source[privacy]",
                "is public, unlisted, private or direct",
            ));
        }
        diesel::update(preferences::table.find(face.id))
            .set(preferences::default_visibility.eq(p))
            .execute(conn)
            .await?;
    }
    if let Some(s) = sensitive {
        diesel::update(preferences::table.find(face.id))
            .set(preferences::default_sensitive.eq(s))
            .execute(conn)
            .await?;
    }
    if let Some(l) = language {
        let l = l.trim();
        if l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CoreError::invalid(
                "source[language]",
                "is not a language code",
            ));
        }
        diesel::update(preferences::table.find(face.id))
            .set(preferences::default_language.eq((!l.is_empty()).then_some(l)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Which picture of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picture {
    Avatar,
    Header,
}

/// Sets (or, with `None`, removes) a local persistent face's avatar or
/// header: `key` names the file in the media store. The key it replaces is
/// returned, for the caller to delete the file.
pub async fn set_picture(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face: &Identity,
    which: Picture,
    key: Option<String>,
) -> CoreResult<Option<String>> {
    if face.tier() == Tier::Anonymous || !face.is_local() {
        return Err(CoreError::Forbidden("this face has no profile to edit"));
    }
    let id = face.id;
    let old = match which {
        Picture::Avatar => face.avatar_key.clone(),
        Picture::Header => face.header_key.clone(),
    };
    conn.transaction::<_, CoreError, _>(async move |conn| {
        let target = identities::table.find(id);
        match which {
            Picture::Avatar => {
                diesel::update(target)
                    .set(identities::avatar_key.eq(&key))
                    .execute(conn)
                    .await?
            }
            Picture::Header => {
                diesel::update(target)
                    .set(identities::header_key.eq(&key))
                    .execute(conn)
                    .await?
            }
        };
        events::record(conn, clock, DomainEvent::FaceUpdated { face: id }).await?;
        Ok(())
    })
    .await?;
    Ok(old)
}
