//! Moderation acts on faces and statuses, never on the accounts behind them:
//! suspending an anonymous face holds back its hidden author (through their
//! own sealed index at posting time) without anyone learning who it is.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::events::{self, DomainEvent};
use crate::models::{Identity, Status};
use crate::schema::{identities, statuses};
use crate::statuses::get_status;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

pub async fn set_suspended(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face_id: i64,
    suspended: bool,
) -> CoreResult<Identity> {
    suspend_until(conn, clock, face_id, suspended, None).await
}

/// Suspends a face until `until` (a day; None: until lifted), or lifts
/// its suspension.
pub async fn suspend_until(
    conn: &mut DbConn,
    clock: &dyn Clock,
    face_id: i64,
    suspended: bool,
    until: Option<chrono::NaiveDate>,
) -> CoreResult<Identity> {
    let face = crate::accounts::get_identity(conn, face_id).await?;
    let until = until.filter(|_| suspended);
    conn.transaction::<_, CoreError, _>(async move |conn| {
        use crate::schema::suspension_ends as se;
        diesel::update(identities::table.find(face_id))
            .set(identities::suspended.eq(suspended))
            .execute(conn)
            .await?;
        diesel::delete(se::table.find(face_id))
            .execute(conn)
            .await?;
        if let Some(day) = until {
            diesel::insert_into(se::table)
                .values((se::identity_id.eq(face_id), se::ends_on.eq(day)))
                .execute(conn)
                .await?;
        }
        let event = if suspended {
            DomainEvent::FaceSuspended { face: face_id }
        } else {
            DomainEvent::FaceUnsuspended { face: face_id }
        };
        events::record(conn, clock, event).await?;
        Ok(())
    })
    .await?;
    Ok(Identity { suspended, ..face })
}

/// Lifts the suspensions whose day has come (each as a moderator lifting
/// it would: remote followers hear of it). How many were lifted.
pub async fn lift_lapsed(conn: &mut DbConn, clock: &dyn Clock) -> CoreResult<usize> {
    use crate::schema::suspension_ends as se;
    let due: Vec<i64> = se::table
        .filter(se::ends_on.le(clock.today()))
        .select(se::identity_id)
        .limit(500)
        .load(conn)
        .await?;
    for id in &due {
        set_suspended(conn, clock, *id, false).await?;
    }
    Ok(due.len())
}

/// Silences (or lifts the silence of) a face: its posts stay with its
/// followers and off the public and hashtag timelines.
pub async fn set_silenced(conn: &mut DbConn, face_id: i64, silenced: bool) -> CoreResult<Identity> {
    let face = crate::accounts::get_identity(conn, face_id).await?;
    diesel::update(identities::table.find(face_id))
        .set(identities::silenced.eq(silenced))
        .execute(conn)
        .await?;
    Ok(Identity { silenced, ..face })
}

/// Marks (or stops marking) every post the face makes from now on as
/// sensitive (Mastodon's "sensitive" action; a trigger applies it to every
/// status written, local or remote).
pub async fn set_sensitized(conn: &mut DbConn, face_id: i64, on: bool) -> CoreResult<Identity> {
    use crate::schema::sensitized_faces as sf;
    let face = crate::accounts::get_identity(conn, face_id).await?;
    if on {
        diesel::insert_into(sf::table)
            .values(sf::identity_id.eq(face_id))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    } else {
        diesel::delete(sf::table.find(face_id))
            .execute(conn)
            .await?;
    }
    Ok(face)
}

/// Whether the face's posts are marked sensitive by staff.
pub async fn is_sensitized(conn: &mut DbConn, face_id: i64) -> CoreResult<bool> {
    use crate::schema::sensitized_faces as sf;
    Ok(diesel::select(diesel::dsl::exists(sf::table.find(face_id)))
        .get_result(conn)
        .await?)
}

/// Deletes any status (and its reblogs) as a moderator.
pub async fn delete_status(
    conn: &mut DbConn,
    clock: &dyn Clock,
    status_id: i64,
) -> CoreResult<Status> {
    let status = get_status(conn, status_id).await?;
    let author = status.identity_id;
    let addressed = crate::statuses::addressed_by(conn, &status).await?;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::delete(statuses::table.find(status_id))
            .execute(conn)
            .await?;
        events::record(
            conn,
            clock,
            DomainEvent::StatusDeleted {
                status: status_id,
                author,
                addressed,
                by_moderator: true,
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    let face = crate::accounts::get_identity(conn, author).await?;
    if face.tier() == guise_policy::Tier::Anonymous {
        crate::anon::tombstone_if_empty(conn, &face).await?;
    }
    Ok(status)
}

/// Local and remote faces this instance suspended, for the staff page.
pub async fn suspended_faces(conn: &mut DbConn, limit: i64) -> CoreResult<Vec<Identity>> {
    Ok(identities::table
        .filter(identities::suspended.eq(true))
        .order(identities::id.desc())
        .limit(limit)
        .select(Identity::as_select())
        .load(conn)
        .await?)
}

/// Which faces staff look for (Mastodon's admin accounts filters).
#[derive(Debug, Clone, Default)]
pub struct FaceFilter {
    /// Some(true): this instance's faces; Some(false): remote ones.
    pub local: Option<bool>,
    /// Remote faces of this domain.
    pub domain: Option<String>,
    /// `active`, `pending`, `disabled`, `silenced` or `suspended`.
    pub status: Option<String>,
    /// Handle or display name containing these (case-insensitive).
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// Persistent faces of the login with this email (admins only: the
    /// caller checks). Anonymous faces name no login, so never match.
    pub email: Option<String>,
    /// Only persistent faces of staff logins.
    pub staff: bool,
}

/// SQL `LIKE` pattern matching `s` anywhere, its wildcards taken literally.
fn containing(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A page of faces for staff, by id, newest-id first. Deleted persistent
/// faces (tombstones) are not listed.
pub async fn find_faces(
    conn: &mut DbConn,
    f: &FaceFilter,
    page: &crate::statuses::Page,
) -> CoreResult<Vec<Identity>> {
    use crate::schema::accounts;
    let mut q = identities::table
        .left_join(accounts::table.on(identities::account_id.eq(accounts::id.nullable())))
        .select(Identity::as_select())
        .filter(
            identities::tombstoned
                .eq(false)
                .or(identities::tier.eq(guise_policy::Tier::Anonymous.as_str())),
        )
        .into_boxed();
    match f.local {
        Some(true) => q = q.filter(identities::domain.is_null()),
        Some(false) => q = q.filter(identities::domain.is_not_null()),
        None => {}
    }
    if let Some(d) = &f.domain {
        q = q.filter(identities::domain.eq(d));
    }
    match f.status.as_deref() {
        None => {}
        Some("active") => {
            q = q
                .filter(identities::suspended.eq(false))
                .filter(
                    accounts::disabled
                        .is_null()
                        .or(accounts::disabled.eq(false)),
                )
                .filter(accounts::approved.is_null().or(accounts::approved.eq(true)));
        }
        // Sign-ups waiting for approval (their persistent faces).
        Some("pending") => {
            q = q
                .filter(accounts::approved.eq(false))
                .filter(identities::tier.ne(guise_policy::Tier::Anonymous.as_str()))
        }
        Some("disabled") => q = q.filter(accounts::disabled.eq(true)),
        Some("silenced") => q = q.filter(identities::silenced.eq(true)),
        Some("suspended") => q = q.filter(identities::suspended.eq(true)),
        Some(_) => {
            return Err(CoreError::invalid(
                "status",
                "is not one of active, pending, disabled, silenced, suspended",
            ))
        }
    }
    if let Some(u) = f.username.as_deref().filter(|u| !u.is_empty()) {
        q = q.filter(identities::handle.ilike(containing(u)));
    }
    if let Some(n) = f.display_name.as_deref().filter(|n| !n.is_empty()) {
        q = q.filter(identities::display_name.ilike(containing(n)));
    }
    if let Some(e) = f.email.as_deref().filter(|e| !e.is_empty()) {
        q = q
            .filter(accounts::email.ilike(containing(e)))
            .filter(identities::tier.ne(guise_policy::Tier::Anonymous.as_str()));
    }
    if f.staff {
        q = q
            .filter(accounts::role.eq_any(["moderator", "admin"]))
            .filter(identities::tier.ne(guise_policy::Tier::Anonymous.as_str()));
    }
    if let Some(m) = page.max_id {
        q = q.filter(identities::id.lt(m));
    }
    if let Some(s) = page.since_id {
        q = q.filter(identities::id.gt(s));
    }
    let up = page.ascending();
    if let Some(m) = page.min_id {
        q = q.filter(identities::id.gt(m));
    }
    q = if up {
        q.order(identities::id.asc())
    } else {
        q.order(identities::id.desc())
    };
    let mut out: Vec<Identity> = q.limit(page.limit).load(conn).await?;
    if up {
        out.reverse();
    }
    Ok(out)
}

/// The day a face's suspension lapses, if it does.
pub async fn suspension_end(
    conn: &mut DbConn,
    face_id: i64,
) -> CoreResult<Option<chrono::NaiveDate>> {
    use crate::schema::suspension_ends as se;
    Ok(se::table
        .find(face_id)
        .select(se::ends_on)
        .first(conn)
        .await
        .optional()?)
}
