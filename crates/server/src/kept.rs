//! What this process keeps in memory of rows it read, so that the busiest
//! requests do not read them again — and how it learns to forget them.
//!
//! - **Tokens** ([`Tokens`]): the opened session with the face and login
//!   state read with it (two round trips of the three `verify_credentials`
//!   makes, and of every authenticated read). Only for tokens that carry no
//!   `k_anon` (a persistent face's, or an app's own): an "Anonymous" or "All
//!   my faces" token is opened from its row every time, so no anonymity key
//!   lingers in memory past its request.
//! - **Senders** ([`Senders`]): a remote actor's row and its parsed public
//!   key, by the actor URL its signatures name (a round trip and a PEM parse
//!   of every activity an inbox takes).
//!
//! When they are forgotten (docs/scaling.md, "Rows kept in memory"): tokens
//! on every notification on `guise_auth`, which PostgreSQL raises on any
//! change to a token row, a login, or a persistent face; a sender on a
//! notification on `guise_remote` naming its row, raised on any change to a
//! remote actor (migrations 2026-12-03-000001 and -000002), whichever
//! process made it; both, in the process that made a change, at once after
//! any request that may have made one (so its own client's next request
//! never sees the old state). While the listening connection is down nothing
//! is served from here: changes made then could not be heard. An entry also
//! lapses after [`TTL_SECS`], and a token's expiry day is checked on every
//! use.

use guise_core::clock::SharedClock;
use guise_core::models::Identity;
use guise_core::oauth::Session;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest an entry is used without being read again.
pub const TTL_SECS: i64 = 60;
/// Past this many entries a map is emptied and starts over.
const MAX_ENTRIES: usize = 20_000;
/// The channel the token, login and persistent face triggers notify.
pub const AUTH_CHANNEL: &str = "guise_auth";
/// The channel the remote actor trigger notifies (with the row's id).
pub const REMOTE_CHANNEL: &str = "guise_remote";

/// A token opened from its row.
#[derive(Clone)]
pub struct Opened {
    pub session: Session,
    pub face: Option<Identity>,
}

/// A remote actor as its signatures are checked.
#[derive(Clone)]
pub struct Sender {
    pub actor: Identity,
    pub key: Arc<guise_federation::signatures::PublicKey>,
}

pub type Tokens = Kept<Vec<u8>, Opened>;
pub type Senders = Kept<String, Sender>;

struct Entry<V> {
    value: V,
    until: chrono::DateTime<chrono::Utc>,
}

pub struct Kept<K, V> {
    clock: SharedClock,
    map: Mutex<HashMap<K, Entry<V>>>,
    /// Moves on every emptying: a lookup that began before one is not kept.
    generation: AtomicU64,
    /// Whether changes are being heard (the listening connection is up).
    listening: AtomicBool,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub fn new(clock: SharedClock) -> Kept<K, V> {
        Kept {
            clock,
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Where a lookup starts: pass it to [`Kept::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The value kept for `key`, if it may still be used: within its TTL
    /// and, by `usable`, as of now.
    pub fn get(
        &self,
        key: &K,
        usable: impl FnOnce(&V, chrono::DateTime<chrono::Utc>) -> bool,
    ) -> Option<V> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let now = self.clock.now();
        let mut map = self.map();
        let fresh = map
            .get(key)
            .map(|e| e.until > now && usable(&e.value, now))?;
        if !fresh {
            map.remove(key);
            return None;
        }
        map.get(key).map(|e| e.value.clone())
    }

    /// Keeps a value just read — unless anything was forgotten since its
    /// lookup began at `generation` (what it read may be what that change
    /// replaced), or changes are not heard.
    pub fn keep(&self, key: K, generation: u64, value: V) {
        if !self.listening.load(Ordering::SeqCst) {
            return;
        }
        let until = self.clock.now() + chrono::Duration::seconds(TTL_SECS);
        let mut map = self.map();
        // Checked under the lock every forgetting takes too: it either came
        // first (and is seen here) or comes after (and removes this).
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, Entry { value, until });
    }

    /// Forgets everything kept so far.
    pub fn empty(&self) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    /// Forgets the values `gone` picks.
    pub fn forget(&self, gone: impl Fn(&V) -> bool) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.retain(|_, e| !gone(&e.value));
    }

    fn set_listening(&self, on: bool) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
        self.listening.store(on, Ordering::SeqCst);
    }

    /// Whether changes are heard (and so anything kept is used).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a token opened with `expires_on` still works at `now`.
pub fn token_usable(o: &Opened, now: chrono::DateTime<chrono::Utc>) -> bool {
    o.session
        .expires_on
        .is_none_or(|last| last > now.date_naive())
}

/// Whether a request may have changed a token, a login, a persistent face
/// or a remote actor, so this process forgets what it kept once it is
/// answered. Reads change none; of the writes, only the busiest that
/// change none (posting and acting on statuses, markers, media, polls)
/// keep it. An inbox changes remote actors only as their triggers say.
pub fn may_change_kept(method: &actix_web::http::Method, path: &str) -> bool {
    use actix_web::http::Method;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    const KEEPING: [&str; 6] = [
        "/api/v1/statuses",
        "/api/v1/markers",
        "/api/v1/media",
        "/api/v2/media",
        "/api/v1/polls/",
        "/inbox",
    ];
    let inbox = path.starts_with("/users/") && path.ends_with("/inbox");
    !(inbox || KEEPING.iter().any(|p| path.starts_with(p)))
}

/// Hears `guise_auth` and `guise_remote` for as long as the process runs,
/// forgetting what each names. Until they are heard (and whenever the
/// connection drops) nothing kept is used; all is forgotten again once the
/// LISTEN is in place, so nothing changed in between is served.
pub async fn listen(tokens: Arc<Tokens>, senders: Arc<Senders>, url: String) {
    loop {
        if let Err(e) = listen_once(&tokens, &senders, &url).await {
            tracing::warn!(error = %e, "changes are not heard; tokens and senders are read each time");
        }
        tokens.set_listening(false);
        senders.set_listening(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(
    tokens: &Tokens,
    senders: &Senders,
    url: &str,
) -> Result<(), tokio_postgres::Error> {
    use futures::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            let end = m.is_err();
            if tx.send(m).is_err() || end {
                break;
            }
        }
    });
    let listened = client
        .batch_execute(&format!("LISTEN {AUTH_CHANNEL}; LISTEN {REMOTE_CHANNEL}"))
        .await;
    if let Err(e) = listened {
        driver.abort();
        return Err(e);
    }
    tokens.set_listening(true);
    senders.set_listening(true);
    while let Some(m) = rx.recv().await {
        match m {
            Ok(tokio_postgres::AsyncMessage::Notification(n)) if n.channel() == REMOTE_CHANNEL => {
                match n.payload().parse::<i64>() {
                    Ok(id) => senders.forget(|s| s.actor.id == id),
                    Err(_) => senders.empty(),
                }
            }
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => tokens.empty(),
            Ok(_) => {}
            Err(e) => {
                driver.abort();
                return Err(e);
            }
        }
    }
    driver.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use guise_core::clock::{Clock, ManualClock};

    fn opened(expires_on: Option<chrono::NaiveDate>) -> Opened {
        Opened {
            session: Session {
                id: 1,
                app_id: 2,
                grant: None,
                scopes: "read".into(),
                created_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                has_refresh: false,
                k_anon: None,
                expires_on,
                push_tag: [0; 32],
                role: None,
                face: None,
            },
            face: None,
        }
    }

    #[test]
    fn keeps_nothing_until_changes_are_heard_and_nothing_read_before_a_change() {
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
                .unwrap()
                .into(),
        ));
        let kept = Tokens::new(clock.clone());
        let get = |k: &[u8]| kept.get(&k.to_vec(), token_usable);
        kept.keep(b"a".to_vec(), kept.generation(), opened(None));
        assert!(get(b"a").is_none(), "kept while not listening");
        kept.set_listening(true);
        kept.keep(b"a".to_vec(), kept.generation(), opened(None));
        assert!(get(b"a").is_some());
        // A lookup that began before a change is not kept.
        let g = kept.generation();
        kept.empty();
        kept.keep(b"b".to_vec(), g, opened(None));
        assert!(get(b"b").is_none());
        assert!(get(b"a").is_none(), "emptied");
        // Nor one that began before a single value was forgotten.
        kept.keep(b"f".to_vec(), kept.generation(), opened(None));
        let g = kept.generation();
        kept.forget(|o| o.session.id == 99);
        assert!(get(b"f").is_some(), "forgot another");
        kept.keep(b"g".to_vec(), g, opened(None));
        assert!(get(b"g").is_none());
        kept.forget(|o| o.session.id == 1);
        assert!(get(b"f").is_none());
        // Lapses after the TTL, and on the token's expiry day.
        kept.keep(b"c".to_vec(), kept.generation(), opened(None));
        let today = clock.now().date_naive();
        kept.keep(b"d".to_vec(), kept.generation(), opened(Some(today)));
        assert!(get(b"d").is_none(), "expired token served");
        clock.advance(chrono::Duration::seconds(TTL_SECS + 1));
        assert!(get(b"c").is_none());
        // A dropped listener empties and bypasses.
        kept.keep(b"e".to_vec(), kept.generation(), opened(None));
        kept.set_listening(false);
        assert!(kept.is_empty());
        assert!(get(b"e").is_none());
    }

    #[test]
    fn only_writes_that_may_change_a_login_or_face_forget() {
        use actix_web::http::Method;
        assert!(!may_change_kept(
            &Method::GET,
            "/api/v1/accounts/verify_credentials"
        ));
        assert!(!may_change_kept(&Method::POST, "/api/v1/statuses"));
        assert!(!may_change_kept(&Method::POST, "/users/alice/inbox"));
        assert!(may_change_kept(&Method::POST, "/oauth/revoke"));
        assert!(may_change_kept(
            &Method::PATCH,
            "/api/v1/accounts/update_credentials"
        ));
        assert!(may_change_kept(
            &Method::POST,
            "/api/v1/admin/accounts/1/action"
        ));
        assert!(may_change_kept(&Method::DELETE, "/api/v1/faces/3"));
    }
}
