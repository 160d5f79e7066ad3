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
    let face = crate::accounts::get_identity(conn, face_id).await?;
    conn.transaction::<_, CoreError, _>(async move |conn| {
        diesel::update(identities::table.find(face_id))
            .set(identities::suspended.eq(suspended))
            .execute(conn)
            .await?;
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
