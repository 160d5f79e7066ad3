//! Who may reach a face anonymously. Blocking one per-thread anonymous face
//! stops nothing — the next thread brings a new one — so each face says
//! whether anonymous faces may reply to it, mention it or message it:
//! `everyone`, `own_threads` (only within threads it started) or `nobody`.
//! It holds for remote anonymous faces too (the tier extension says who is
//! anonymous).
//!
//! A local anonymous post that would reach a face against its wish is
//! refused, saying why; a remote one still arrives, but that face is not
//! mentioned or notified by it.

use crate::db::DbConn;
use crate::error::{CoreError, CoreResult};
use crate::models::Identity;
use crate::schema::preferences;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use guise_policy::reach::{may_reach, AnonymousReach, ReachAttempt, ReachRefusal};
use guise_policy::Tier;

/// The settings, as stored and as the API names them.
pub const ALL: &[&str] = &["everyone", "own_threads", "nobody"];

/// Whether `author` may reach local face `to` in the thread whose root
/// `root_author` wrote (`None` for a new thread): the facts, looked up and
/// handed to `guise_policy::reach`.
pub async fn decide(
    conn: &mut DbConn,
    author: &Identity,
    to: &Identity,
    root_author: Option<i64>,
) -> CoreResult<Result<(), ReachRefusal>> {
    if author.tier() != Tier::Anonymous || !to.is_local() {
        return Ok(Ok(()));
    }
    let stored: Option<String> = preferences::table
        .find(to.id)
        .select(preferences::anonymous_reach)
        .first(conn)
        .await
        .optional()?;
    let setting = stored
        .as_deref()
        .and_then(AnonymousReach::parse)
        .unwrap_or(AnonymousReach::Everyone);
    Ok(may_reach(&ReachAttempt {
        author: author.tier(),
        to_self: to.id == author.id,
        setting,
        in_own_thread: root_author == Some(to.id),
    }))
}

/// Whether `author` may reach `to` (see `decide`).
pub async fn allows(
    conn: &mut DbConn,
    author: &Identity,
    to: &Identity,
    root_author: Option<i64>,
) -> CoreResult<bool> {
    Ok(decide(conn, author, to, root_author).await?.is_ok())
}

/// The author of the thread `root`'s first post.
pub async fn root_author(conn: &mut DbConn, root: i64) -> CoreResult<Option<i64>> {
    use crate::schema::statuses;
    Ok(statuses::table
        .find(root)
        .select(statuses::identity_id)
        .first(conn)
        .await
        .optional()?)
}

/// Refuses a local anonymous post that would reach one of `faces` against
/// its wish.
pub async fn check(
    conn: &mut DbConn,
    author: &Identity,
    faces: &[Identity],
    root_author: Option<i64>,
) -> CoreResult<()> {
    for f in faces {
        if let Err(refusal) = decide(conn, author, f, root_author).await? {
            let where_ = match refusal {
                ReachRefusal::Nobody => "",
                ReachRefusal::OutsideOwnThreads => " outside threads it started",
            };
            return Err(CoreError::invalid(
                "status",
                format!(
                    "@{} does not take anonymous replies, mentions or messages{where_} ({})",
                    f.handle,
                    refusal.code()
                ),
            ));
        }
    }
    Ok(())
}

/// Keeps of `faces` those anonymous `author` may reach (remote posts).
pub async fn reachable(
    conn: &mut DbConn,
    author: &Identity,
    faces: &[Identity],
    root_author: Option<i64>,
) -> CoreResult<Vec<Identity>> {
    let mut out = Vec::with_capacity(faces.len());
    for f in faces {
        if allows(conn, author, f, root_author).await? {
            out.push(f.clone());
        }
    }
    Ok(out)
}
