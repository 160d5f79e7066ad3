//! One vocabulary for what happened: core records a `DomainEvent` in the
//! transaction that made it happen (the outbox), and the delivery worker
//! and the streaming fan-out read the same typed value. A new kind is a new
//! variant, and every `match` on it is a compile error until it is handled.
//!
//! Stored as before (a kind string and a JSON payload with ids as strings),
//! so rows written by older builds still read.

use crate::clock::Clock;
use crate::db::DbConn;
use crate::error::CoreResult;
use crate::id::Id;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A local post was published.
    StatusCreated {
        status: i64,
    },
    /// A local post was edited.
    StatusUpdated {
        status: i64,
    },
    /// A local post was deleted (its row is gone): who it addressed besides
    /// followers goes with the event, so the Delete still reaches them.
    StatusDeleted {
        status: i64,
        author: i64,
        addressed: Vec<i64>,
        by_moderator: bool,
    },
    /// A local face boosted a post (`reblog` is the boost's own row).
    ReblogCreated {
        reblog: i64,
    },
    /// A boost was undone (its row is gone).
    ReblogDeleted {
        reblog: i64,
        booster: i64,
        author: i64,
    },
    /// A profile changed.
    FaceUpdated {
        face: i64,
    },
    FaceSuspended {
        face: i64,
    },
    FaceUnsuspended {
        face: i64,
    },
    /// A face was deleted; `addressed` are remote faces that knew it.
    FaceDeleted {
        face: i64,
        addressed: Vec<i64>,
    },
    FollowCreated {
        from: i64,
        to: i64,
        edge: i64,
    },
    FollowDeleted {
        from: i64,
        to: i64,
        edge: i64,
    },
    /// A face answered a follow request (`activity` is a remote Follow's
    /// id; none for a local follower).
    FollowAnswered {
        local: i64,
        remote: i64,
        activity: Option<String>,
        accepted: bool,
    },
    BlockCreated {
        from: i64,
        to: i64,
        edge: i64,
    },
    BlockDeleted {
        from: i64,
        to: i64,
        edge: i64,
    },
    FavouriteCreated {
        from: i64,
        status: i64,
        edge: i64,
    },
    FavouriteDeleted {
        from: i64,
        status: i64,
        edge: i64,
    },
    /// A face was notified (stream only: nothing federates).
    NotificationCreated {
        notification: i64,
        face: i64,
    },
    /// A remote post arrived (stream only).
    RemoteStatusCreated {
        status: i64,
    },
    /// A remote post was edited (stream only).
    RemoteStatusUpdated {
        status: i64,
    },
    /// A remote post was deleted (stream only; its row is gone).
    RemoteStatusDeleted {
        status: i64,
        author: i64,
    },
    /// A face's filters changed (stream only).
    FiltersChanged {
        face: i64,
    },
    /// A local face voted in a (remote) poll: each choice goes to its author.
    PollVoted {
        poll: i64,
        voter: i64,
        choices: Vec<i64>,
    },
}

/// The kinds that go to live streams: one pub/sub channel each.
pub const STREAM_KINDS: &[&str] = &[
    "status.created",
    "status.updated",
    "status.deleted",
    "reblog.created",
    "reblog.deleted",
    "notification.created",
    "remote_status.created",
    "remote_status.updated",
    "remote_status.deleted",
    "filters.changed",
];

/// Where a recorded event goes: the outbox (federation), the stream queue
/// (live clients), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    pub federates: bool,
    pub streams: bool,
}

/// A recorded event: its id, what it says, and when it may first go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: i64,
    pub event: DomainEvent,
    pub not_before: Option<DateTime<Utc>>,
}

fn s(id: i64) -> Value {
    Value::String(id.to_string())
}

fn list(ids: &[i64]) -> Value {
    Value::Array(ids.iter().map(|i| s(*i)).collect())
}

fn id(p: &Value, key: &str) -> Option<i64> {
    p.get(key)?.as_str()?.parse().ok()
}

fn ids(p: &Value, key: &str) -> Vec<i64> {
    p.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

impl DomainEvent {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        use DomainEvent::*;
        match self {
            StatusCreated { .. } => "status.created",
            StatusUpdated { .. } => "status.updated",
            StatusDeleted { .. } => "status.deleted",
            ReblogCreated { .. } => "reblog.created",
            ReblogDeleted { .. } => "reblog.deleted",
            FaceUpdated { .. } => "face.updated",
            FaceSuspended { .. } => "face.suspended",
            FaceUnsuspended { .. } => "face.unsuspended",
            FaceDeleted { .. } => "face.deleted",
            FollowCreated { .. } => "follow.created",
            FollowDeleted { .. } => "follow.deleted",
            FollowAnswered { accepted: true, .. } => "follow.accepted",
            FollowAnswered {
                accepted: false, ..
            } => "follow.rejected",
            BlockCreated { .. } => "block.created",
            BlockDeleted { .. } => "block.deleted",
            FavouriteCreated { .. } => "favourite.created",
            FavouriteDeleted { .. } => "favourite.deleted",
            NotificationCreated { .. } => "notification.created",
            RemoteStatusCreated { .. } => "remote_status.created",
            RemoteStatusUpdated { .. } => "remote_status.updated",
            RemoteStatusDeleted { .. } => "remote_status.deleted",
            FiltersChanged { .. } => "filters.changed",
            PollVoted { .. } => "poll.voted",
        }
    }

    /// Where it goes. Every kind says so here, so a new one cannot be
    /// forgotten by either reader.
    pub fn routes(&self) -> Routes {
        use DomainEvent::*;
        let (federates, streams) = match self {
            StatusCreated { .. }
            | StatusUpdated { .. }
            | StatusDeleted { .. }
            | ReblogCreated { .. }
            | ReblogDeleted { .. } => (true, true),
            FaceUpdated { .. }
            | FaceSuspended { .. }
            | FaceUnsuspended { .. }
            | FaceDeleted { .. }
            | FollowCreated { .. }
            | FollowDeleted { .. }
            | FollowAnswered { .. }
            | BlockCreated { .. }
            | BlockDeleted { .. }
            | FavouriteCreated { .. }
            | FavouriteDeleted { .. }
            | PollVoted { .. } => (true, false),
            NotificationCreated { .. }
            | RemoteStatusCreated { .. }
            | RemoteStatusUpdated { .. }
            | RemoteStatusDeleted { .. }
            | FiltersChanged { .. } => (false, true),
        };
        Routes { federates, streams }
    }

    /// The stored payload.
    pub fn payload(&self) -> Value {
        use DomainEvent::*;
        match self {
            StatusCreated { status } | StatusUpdated { status } => {
                json!({ "status_id": s(*status) })
            }
            StatusDeleted {
                status,
                author,
                addressed,
                by_moderator,
            } => {
                let mut v = json!({
                    "status_id": s(*status),
                    "identity_id": s(*author),
                    "addressed": list(addressed),
                });
                if let (true, Some(o)) = (*by_moderator, v.as_object_mut()) {
                    o.insert("by".into(), json!("moderator"));
                }
                v
            }
            ReblogCreated { reblog } => json!({ "status_id": s(*reblog) }),
            ReblogDeleted {
                reblog,
                booster,
                author,
            } => json!({
                "status_id": s(*reblog), "identity_id": s(*booster), "author_id": s(*author),
            }),
            FaceUpdated { face } | FaceSuspended { face } | FaceUnsuspended { face } => {
                json!({ "identity_id": s(*face) })
            }
            FaceDeleted { face, addressed } => {
                json!({ "identity_id": s(*face), "addressed": list(addressed) })
            }
            FollowCreated { from, to, edge }
            | FollowDeleted { from, to, edge }
            | BlockCreated { from, to, edge }
            | BlockDeleted { from, to, edge } => {
                json!({ "from": s(*from), "to": s(*to), "edge": s(*edge) })
            }
            FollowAnswered {
                local,
                remote,
                activity,
                ..
            } => json!({ "from": s(*remote), "to": s(*local), "activity": activity }),
            FavouriteCreated { from, status, edge } | FavouriteDeleted { from, status, edge } => {
                json!({ "from": s(*from), "status_id": s(*status), "edge": s(*edge) })
            }
            NotificationCreated { notification, face } => {
                json!({ "notification_id": s(*notification), "identity_id": s(*face) })
            }
            RemoteStatusCreated { status } | RemoteStatusUpdated { status } => {
                json!({ "status_id": s(*status) })
            }
            RemoteStatusDeleted { status, author } => {
                json!({ "status_id": s(*status), "identity_id": s(*author) })
            }
            FiltersChanged { face } => json!({ "identity_id": s(*face) }),
            PollVoted {
                poll,
                voter,
                choices,
            } => json!({ "status_id": s(*poll), "identity_id": s(*voter), "choices": choices }),
        }
    }

    /// Reads a stored event; `None` for a kind this build does not know or
    /// a payload missing what its kind needs.
    pub fn parse(kind: &str, p: &Value) -> Option<DomainEvent> {
        Self::read(kind, p, 0)
    }

    /// As `parse`; an edge missing from an old row is `fallback_edge`.
    fn read(kind: &str, p: &Value, fallback_edge: i64) -> Option<DomainEvent> {
        use DomainEvent::*;
        let edge = || id(p, "edge").unwrap_or(fallback_edge);
        Some(match kind {
            "status.created" => StatusCreated {
                status: id(p, "status_id")?,
            },
            "status.updated" => StatusUpdated {
                status: id(p, "status_id")?,
            },
            "status.deleted" => StatusDeleted {
                status: id(p, "status_id")?,
                author: id(p, "identity_id")?,
                addressed: ids(p, "addressed"),
                by_moderator: p.get("by").and_then(Value::as_str) == Some("moderator"),
            },
            "reblog.created" => ReblogCreated {
                reblog: id(p, "status_id")?,
            },
            "reblog.deleted" => ReblogDeleted {
                reblog: id(p, "status_id")?,
                booster: id(p, "identity_id")?,
                author: id(p, "author_id").unwrap_or(0),
            },
            "face.updated" => FaceUpdated {
                face: id(p, "identity_id")?,
            },
            "face.suspended" => FaceSuspended {
                face: id(p, "identity_id")?,
            },
            "face.unsuspended" => FaceUnsuspended {
                face: id(p, "identity_id")?,
            },
            "face.deleted" => FaceDeleted {
                face: id(p, "identity_id")?,
                addressed: ids(p, "addressed"),
            },
            "follow.created" => FollowCreated {
                from: id(p, "from")?,
                to: id(p, "to")?,
                edge: edge(),
            },
            "follow.deleted" => FollowDeleted {
                from: id(p, "from")?,
                to: id(p, "to")?,
                edge: edge(),
            },
            "block.created" => BlockCreated {
                from: id(p, "from")?,
                to: id(p, "to")?,
                edge: edge(),
            },
            "block.deleted" => BlockDeleted {
                from: id(p, "from")?,
                to: id(p, "to")?,
                edge: edge(),
            },
            "follow.accepted" | "follow.rejected" => FollowAnswered {
                remote: id(p, "from")?,
                local: id(p, "to")?,
                activity: p.get("activity").and_then(Value::as_str).map(str::to_owned),
                accepted: kind == "follow.accepted",
            },
            // Older builds wrote an automatic answer with the sides swapped.
            "remote_follow.accepted" | "remote_follow.rejected" => FollowAnswered {
                local: id(p, "from")?,
                remote: id(p, "to")?,
                activity: p.get("activity").and_then(Value::as_str).map(str::to_owned),
                accepted: kind == "remote_follow.accepted",
            },
            "favourite.created" => FavouriteCreated {
                from: id(p, "from")?,
                status: id(p, "status_id")?,
                edge: edge(),
            },
            "favourite.deleted" => FavouriteDeleted {
                from: id(p, "from")?,
                status: id(p, "status_id")?,
                edge: edge(),
            },
            "notification.created" => NotificationCreated {
                notification: id(p, "notification_id")?,
                face: id(p, "identity_id")?,
            },
            "remote_status.created" => RemoteStatusCreated {
                status: id(p, "status_id")?,
            },
            "remote_status.updated" => RemoteStatusUpdated {
                status: id(p, "status_id")?,
            },
            "remote_status.deleted" => RemoteStatusDeleted {
                status: id(p, "status_id")?,
                author: id(p, "identity_id")?,
            },
            "filters.changed" => FiltersChanged {
                face: id(p, "identity_id")?,
            },
            "poll.voted" => PollVoted {
                poll: id(p, "status_id")?,
                voter: id(p, "identity_id")?,
                choices: p
                    .get("choices")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default(),
            },
            _ => return None,
        })
    }
}

/// The stream queue's row for an event.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRow {
    pub id: i64,
    pub kind: &'static str,
    pub payload: Value,
}

/// What `record` writes to the stream queue for `event` (none for an event
/// live clients do not hear of): for a statement that writes it beside the
/// change it reports.
pub fn stream_row(clock: &dyn Clock, event: &DomainEvent) -> Option<StreamRow> {
    event.routes().streams.then(|| StreamRow {
        id: Id::generate(clock.now()).get(),
        kind: event.kind(),
        payload: event.payload(),
    })
}

/// Records `event` in the caller's transaction, to go out now: into the
/// outbox for the delivery worker, the stream queue for live clients, or
/// both, as `DomainEvent::routes` says.
pub async fn record(conn: &mut DbConn, clock: &dyn Clock, event: DomainEvent) -> CoreResult<()> {
    record_at(conn, clock, event, None).await
}

/// Records `event`, held back until `not_before` when given.
pub async fn record_at(
    conn: &mut DbConn,
    clock: &dyn Clock,
    event: DomainEvent,
    not_before: Option<DateTime<Utc>>,
) -> CoreResult<()> {
    use crate::schema::{outbox_events, stream_events};
    let routes = event.routes();
    let now = clock.now();
    if let Some(row) = stream_row(clock, &event) {
        diesel::insert_into(stream_events::table)
            .values((
                stream_events::id.eq(row.id),
                stream_events::kind.eq(row.kind),
                stream_events::payload.eq(row.payload),
            ))
            .execute(conn)
            .await?;
    }
    if !routes.federates {
        return Ok(());
    }
    let mut payload = event.payload();
    if let (Some(t), Some(o)) = (not_before, payload.as_object_mut()) {
        o.insert("not_before".into(), Value::String(t.to_rfc3339()));
    }
    diesel::insert_into(outbox_events::table)
        .values((
            outbox_events::id.eq(Id::generate(now).get()),
            outbox_events::kind.eq(event.kind()),
            outbox_events::payload.eq(payload),
            outbox_events::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl Envelope {
    /// A stored row, typed; `None` for what this build cannot read.
    pub fn of(row: &crate::queue::Event) -> Option<Envelope> {
        Some(Envelope {
            id: row.id,
            event: DomainEvent::read(&row.kind, &row.payload, row.id)?,
            not_before: row
                .payload
                .get("not_before")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DomainEvent::*;

    fn every_kind() -> Vec<DomainEvent> {
        vec![
            StatusCreated { status: 1 },
            StatusUpdated { status: 2 },
            StatusDeleted {
                status: 3,
                author: 4,
                addressed: vec![5, 6],
                by_moderator: true,
            },
            StatusDeleted {
                status: 3,
                author: 4,
                addressed: vec![],
                by_moderator: false,
            },
            ReblogCreated { reblog: 7 },
            ReblogDeleted {
                reblog: 8,
                booster: 9,
                author: 10,
            },
            FaceUpdated { face: 11 },
            FaceSuspended { face: 12 },
            FaceUnsuspended { face: 13 },
            FaceDeleted {
                face: 14,
                addressed: vec![15],
            },
            FollowCreated {
                from: 16,
                to: 17,
                edge: 18,
            },
            FollowDeleted {
                from: 19,
                to: 20,
                edge: 21,
            },
            FollowAnswered {
                local: 22,
                remote: 23,
                activity: Some("https://remote.test/follows/1".into()),
                accepted: true,
            },
            FollowAnswered {
                local: 24,
                remote: 25,
                activity: None,
                accepted: false,
            },
            BlockCreated {
                from: 26,
                to: 27,
                edge: 28,
            },
            BlockDeleted {
                from: 29,
                to: 30,
                edge: 31,
            },
            FavouriteCreated {
                from: 32,
                status: 33,
                edge: 34,
            },
            FavouriteDeleted {
                from: 35,
                status: 36,
                edge: 37,
            },
            NotificationCreated {
                notification: 38,
                face: 39,
            },
            RemoteStatusCreated { status: 40 },
            RemoteStatusUpdated { status: 41 },
            RemoteStatusDeleted {
                status: 42,
                author: 43,
            },
            FiltersChanged { face: 44 },
            PollVoted {
                poll: 45,
                voter: 46,
                choices: vec![0, 2],
            },
        ]
    }

    #[test]
    fn every_event_reads_back_as_written() {
        for e in every_kind() {
            assert_eq!(
                DomainEvent::parse(e.kind(), &e.payload()),
                Some(e.clone()),
                "{e:?}"
            );
        }
    }

    #[test]
    fn every_streamed_kind_has_its_channel() {
        for e in every_kind() {
            assert_eq!(
                STREAM_KINDS.contains(&e.kind()),
                e.routes().streams,
                "{e:?}"
            );
        }
    }

    #[test]
    fn rows_of_older_builds_still_read() {
        let old = json!({ "from": "1", "to": "2", "activity": "https://r.test/f" });
        assert_eq!(
            DomainEvent::parse("remote_follow.accepted", &old),
            Some(FollowAnswered {
                local: 1,
                remote: 2,
                activity: Some("https://r.test/f".into()),
                accepted: true
            })
        );
        // Unknown kinds and payloads missing their ids read as nothing.
        assert_eq!(DomainEvent::parse("poll.created", &json!({})), None);
        assert_eq!(
            DomainEvent::parse("status.created", &json!({ "status_id": 5 })),
            None
        );
    }
}
