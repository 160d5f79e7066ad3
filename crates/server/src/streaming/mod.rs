//! Live streams: Mastodon's streaming API over WebSocket and server-sent
//! events.
//!
//! How an event travels:
//! 1. core records a `DomainEvent` in the transaction that made it happen;
//!    those that matter to live clients land in `stream_events`;
//! 2. a pump in some process drains that queue (one process at a time, in
//!    order) and publishes each event on its kind's Redis channel — or,
//!    without Redis, straight to its own process;
//! 3. every process subscribes once to those channels (one per kind, never
//!    one per face) and hands each event to its dispatcher, which asks the
//!    database once per event who among *its* open streams may see it,
//!    renders once per reader (or once for all, on public streams), and
//!    queues a frame on each socket.
//!
//! A subscription is held in memory only: opening, subscribing and closing
//! a stream write nothing anywhere.

mod dispatch;
pub mod endpoints;

use crate::state::AppState;
use guise_core::events::{DomainEvent, STREAM_KINDS};
use guise_core::seal::KAnon;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

/// The Redis channel of an event kind on this instance (instances may
/// share one Redis: channels are not per database).
fn channel(prefix: &str, kind: &str) -> String {
    format!("{prefix}{kind}")
}

/// Who a stream is for.
#[derive(Clone)]
pub struct Viewer {
    /// The face whose home, lists and conversations it follows (the first
    /// face of an "All my faces" token); none for "Anonymous".
    pub face: Option<i64>,
    /// The persistent faces whose notifications it carries.
    pub notified: Vec<i64>,
    /// The anonymity key of "Anonymous" and "All my faces" tokens: a
    /// notification to an anonymous face is theirs when the face's own tag
    /// says so — faces minted after the stream opened, on any process,
    /// included, and no index read for it.
    pub k_anon: Option<KAnon>,
    /// "Anonymous": the home it follows is its own anonymous posts.
    pub anonymous: bool,
    pub read_statuses: bool,
    pub read_notifications: bool,
}

impl Viewer {
    /// Whether an anonymous face is this viewer's.
    pub fn owns(&self, face: &guise_core::models::Identity) -> bool {
        self.k_anon
            .as_ref()
            .is_some_and(|k| guise_core::anon::owns(k, face))
    }
}

/// A stream one can subscribe to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Sub {
    User,
    UserNotification,
    /// `local`: only local (`Some(true)`) or only remote (`Some(false)`);
    /// `media`: only posts with media.
    Public {
        local: Option<bool>,
        media: bool,
    },
    Hashtag {
        tag: String,
        local: bool,
    },
    List(i64),
    Direct,
}

impl Sub {
    /// Parses a stream name with its parameter, as Mastodon names them.
    pub fn parse(stream: &str, tag: Option<&str>, list: Option<&str>) -> Result<Sub, SubError> {
        let tag = || {
            tag.map(|t| t.trim_start_matches('#').to_lowercase())
                .filter(|t| !t.is_empty())
                .ok_or(SubError::NoTag)
        };
        Ok(match stream {
            "user" => Sub::User,
            "user:notification" => Sub::UserNotification,
            "public" => Sub::Public {
                local: None,
                media: false,
            },
            "public:media" => Sub::Public {
                local: None,
                media: true,
            },
            "public:local" => Sub::Public {
                local: Some(true),
                media: false,
            },
            "public:local:media" => Sub::Public {
                local: Some(true),
                media: true,
            },
            "public:remote" => Sub::Public {
                local: Some(false),
                media: false,
            },
            "public:remote:media" => Sub::Public {
                local: Some(false),
                media: true,
            },
            "hashtag" => Sub::Hashtag {
                tag: tag()?,
                local: false,
            },
            "hashtag:local" => Sub::Hashtag {
                tag: tag()?,
                local: true,
            },
            "list" => Sub::List(list.and_then(|l| l.parse().ok()).ok_or(SubError::NoList)?),
            "direct" => Sub::Direct,
            _ => return Err(SubError::Unknown),
        })
    }

    /// The `stream` array of an event on this subscription.
    pub fn names(&self) -> Vec<String> {
        let one = |s: &str| vec![s.to_owned()];
        match self {
            Sub::User => one("user"),
            Sub::UserNotification => one("user:notification"),
            Sub::Public { local, media } => {
                let mut n = String::from("public");
                match local {
                    Some(true) => n.push_str(":local"),
                    Some(false) => n.push_str(":remote"),
                    None => {}
                }
                if *media {
                    n.push_str(":media");
                }
                vec![n]
            }
            Sub::Hashtag { tag, local } => vec![
                if *local { "hashtag:local" } else { "hashtag" }.to_owned(),
                tag.clone(),
            ],
            Sub::List(id) => vec!["list".to_owned(), id.to_string()],
            Sub::Direct => one("direct"),
        }
    }
}

/// Why a subscription was refused, as Mastodon words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubError {
    Unknown,
    NoTag,
    NoList,
    NotYourList,
    Scope,
}

impl SubError {
    pub fn message(self) -> (&'static str, u16) {
        match self {
            SubError::Unknown => ("Unknown stream type", 400),
            SubError::NoTag => ("No tag for stream provided", 400),
            SubError::NoList => ("No list for stream provided", 400),
            SubError::NotYourList => ("Not authorized to stream this list", 401),
            SubError::Scope => ("Access token does not have the required scopes", 401),
        }
    }
}

/// One frame for one socket.
#[derive(Clone, Debug)]
pub struct Out {
    pub stream: Vec<String>,
    pub event: &'static str,
    pub payload: Option<Arc<str>>,
}

impl Out {
    /// As a WebSocket text message.
    pub fn ws(&self) -> String {
        let mut o = serde_json::Map::new();
        o.insert("stream".into(), serde_json::json!(self.stream));
        o.insert("event".into(), serde_json::json!(self.event));
        if let Some(p) = &self.payload {
            o.insert("payload".into(), serde_json::json!(p.as_ref()));
        }
        serde_json::Value::Object(o).to_string()
    }

    /// As a server-sent event. An event without a payload
    /// (`filters_changed`) says `undefined`, as Mastodon's does — clients
    /// such as Mastodon.py expect exactly that.
    pub fn sse(&self) -> String {
        let data = self.payload.as_deref().unwrap_or("undefined");
        format!("event: {}\ndata: {}\n\n", self.event, data)
    }
}

/// How many frames a slow socket may have waiting before new ones are
/// dropped for it.
const QUEUE: usize = 512;

/// One open stream (a WebSocket with its subscriptions, or one SSE).
pub struct Conn {
    pub viewer: Viewer,
    subs: Mutex<Vec<Sub>>,
    /// The face's filters, read once and again after `filters_changed`.
    filters: Mutex<Option<Arc<Vec<guise_core::filters::Filter>>>>,
    tx: mpsc::Sender<Out>,
}

impl Conn {
    pub fn subs(&self) -> Vec<Sub> {
        self.subs.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn subscribe(&self, sub: Sub) {
        if let Ok(mut s) = self.subs.lock() {
            if !s.contains(&sub) {
                s.push(sub);
            }
        }
    }

    pub fn unsubscribe(&self, sub: &Sub) {
        if let Ok(mut s) = self.subs.lock() {
            s.retain(|x| x != sub);
        }
    }

    /// Queues a frame; a socket too slow to keep up loses it.
    fn send(&self, out: Out) {
        let _ = self.tx.try_send(out);
    }
}

/// This process's streams and the events they are fed from.
pub struct Hub {
    events: broadcast::Sender<Arc<DomainEvent>>,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
    /// Where events are published, when Redis is configured.
    redis: Option<redis::Client>,
    /// `guise:stream:<domain>:`, before each kind.
    prefix: String,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Frames queued, for the benchmark and tests.
    pub sent: AtomicU64,
}

/// Removes its stream from the hub when dropped (the socket closed).
pub struct Registration {
    hub: Arc<Hub>,
    id: u64,
    pub conn: Arc<Conn>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut c) = self.hub.conns.lock() {
            c.remove(&self.id);
        }
    }
}

impl Hub {
    pub fn new(redis_url: &str, domain: &str) -> Result<Hub, redis::RedisError> {
        let redis = if redis_url.is_empty() {
            None
        } else {
            Some(redis::Client::open(redis_url)?)
        };
        Ok(Hub {
            events: broadcast::channel(4096).0,
            conns: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            redis,
            prefix: format!("guise:stream:{domain}:"),
            publisher: tokio::sync::Mutex::new(None),
            sent: AtomicU64::new(0),
        })
    }

    /// Opens a stream; it closes when the registration is dropped.
    pub fn register(self: &Arc<Self>, viewer: Viewer) -> (Registration, mpsc::Receiver<Out>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            viewer,
            subs: Mutex::new(Vec::new()),
            filters: Mutex::new(None),
            tx,
        });
        if let Ok(mut c) = self.conns.lock() {
            c.insert(id, conn.clone());
        }
        (
            Registration {
                hub: self.clone(),
                id,
                conn,
            },
            rx,
        )
    }

    /// How many streams are open in this process.
    pub fn open(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    fn snapshot(&self) -> Vec<Arc<Conn>> {
        self.conns
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Hands an event to this process's dispatcher.
    pub fn deliver_local(&self, event: DomainEvent) {
        let _ = self.events.send(Arc::new(event));
    }

    /// Publishes drained events where every process hears them.
    async fn publish(&self, rows: &[guise_core::stream::Queued]) -> Result<(), String> {
        let Some(client) = &self.redis else {
            return Ok(());
        };
        let mut guard = self.publisher.lock().await;
        if guard.is_none() {
            *guard = Some(
                client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        let Some(con) = guard.as_mut() else {
            return Err("no Redis connection".into());
        };
        let mut pipe = redis::pipe();
        for r in rows {
            pipe.cmd("PUBLISH")
                .arg(channel(&self.prefix, &r.kind))
                .arg(r.payload.to_string())
                .ignore();
        }
        let res: redis::RedisResult<()> = pipe.query_async(con).await;
        if let Err(e) = res {
            *guard = None;
            return Err(e.to_string());
        }
        Ok(())
    }
}

/// One pump round: drains and publishes what is queued. How many.
pub async fn pump_once(state: &AppState) -> guise_core::CoreResult<usize> {
    let hub = state.hub.clone();
    let mut conn = state.db.conn().await?;
    let rows = guise_core::stream::drain(&mut conn, 256, |rows| {
        let hub = hub.clone();
        async move { hub.publish(&rows).await }
    })
    .await?;
    if state.hub.redis.is_none() {
        for r in &rows {
            if let Some(e) = r.event() {
                state.hub.deliver_local(e);
            }
        }
    }
    Ok(rows.len())
}

/// Drains the queue until the process ends.
pub async fn pump(state: AppState) {
    loop {
        match pump_once(&state).await {
            Ok(256) => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "stream pump"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Listens on every kind's channel and feeds the dispatcher, reconnecting
/// when Redis goes away.
async fn subscribe(hub: Arc<Hub>) {
    use futures::StreamExt;
    let Some(client) = hub.redis.clone() else {
        return;
    };
    loop {
        match client.get_async_pubsub().await {
            Ok(mut ps) => {
                let mut ok = true;
                for k in STREAM_KINDS {
                    if let Err(e) = ps.subscribe(channel(&hub.prefix, k)).await {
                        tracing::warn!(error = %e, "stream subscribe");
                        ok = false;
                        break;
                    }
                }
                if ok {
                    let mut msgs = ps.on_message();
                    while let Some(m) = msgs.next().await {
                        let name = m.get_channel_name();
                        let kind = name.strip_prefix(hub.prefix.as_str()).unwrap_or(name);
                        let Ok(p) = serde_json::from_slice(m.get_payload_bytes()) else {
                            continue;
                        };
                        if let Some(e) = DomainEvent::parse(kind, &p) {
                            hub.deliver_local(e);
                        }
                    }
                    tracing::warn!("stream subscription ended; reconnecting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "stream subscription"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// What a process runs for live streams. `serve` is true for processes
/// that hold sockets: they subscribe and dispatch. Every process pumps
/// when Redis carries events between them; without Redis only socket
/// holders pump (an event drained elsewhere would reach no socket).
pub fn start(state: &AppState, serve: bool) {
    if serve {
        let rx = state.hub.events.subscribe();
        tokio::spawn(dispatch::run(state.clone(), rx));
        tokio::spawn(subscribe(state.hub.clone()));
    }
    if serve || state.hub.redis.is_some() {
        tokio::spawn(pump(state.clone()));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_as_mastodon_writes_them() {
        let changed = Out {
            stream: vec!["user".into()],
            event: "filters_changed",
            payload: None,
        };
        assert_eq!(changed.sse(), "event: filters_changed\ndata: undefined\n\n");
        let ws: serde_json::Value = serde_json::from_str(&changed.ws()).unwrap();
        assert_eq!(
            ws,
            serde_json::json!({ "event": "filters_changed", "stream": ["user"] })
        );
        let delete = Out {
            stream: vec!["public:local".into()],
            event: "delete",
            payload: Some("123".into()),
        };
        assert_eq!(delete.sse(), "event: delete\ndata: 123\n\n");
        let ws: serde_json::Value = serde_json::from_str(&delete.ws()).unwrap();
        assert_eq!(
            ws,
            serde_json::json!({ "event": "delete", "payload": "123", "stream": ["public:local"] })
        );
    }

    #[test]
    fn streams_are_named_as_mastodon_names_them() {
        for (name, tag, list) in [
            ("user", None, None),
            ("user:notification", None, None),
            ("public", None, None),
            ("public:local", None, None),
            ("public:remote:media", None, None),
            ("hashtag", Some("guise"), None),
            ("hashtag:local", Some("guise"), None),
            ("list", None, Some("12")),
            ("direct", None, None),
        ] {
            let sub = Sub::parse(name, tag, list).unwrap();
            assert_eq!(sub.names().first().map(String::as_str), Some(name));
        }
        assert_eq!(Sub::parse("hashtag", None, None), Err(SubError::NoTag));
        assert_eq!(Sub::parse("everything", None, None), Err(SubError::Unknown));
    }
}
