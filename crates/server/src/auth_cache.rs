//! The tokens this process has opened, kept so that a request does not
//! read its token row and its login again (two round trips of the three
//! `verify_credentials` makes, and of every authenticated read).
//!
//! What is kept: the opened session with the face and login state read with
//! it — only for tokens that carry no `k_anon` (a persistent face's, or an
//! app's own); an "Anonymous" or "All my faces" token is opened from its
//! row every time, so no anonymity key lingers in memory past its request.
//!
//! When it is emptied (docs/scaling.md, "Tokens"): on every notification on
//! the `guise_auth` channel, which PostgreSQL raises on any change to a
//! token row, a login, or a persistent face (migration
//! 2026-12-03-000001), whichever process made it; and, in the process that
//! made a change, at once after any request that may change one (so its own
//! client's next request never sees the old state). While the listening
//! connection is down nothing is served from here: changes made then could
//! not be heard. An entry also lapses after [`TTL_SECS`], and the token's
//! expiry day is checked on every use.

use guise_core::clock::SharedClock;
use guise_core::models::Identity;
use guise_core::oauth::Session;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The longest an entry is used without being read again.
pub const TTL_SECS: i64 = 60;
/// Past this many tokens the map is emptied and starts over.
const MAX_ENTRIES: usize = 20_000;
/// The channel the triggers notify.
pub const CHANNEL: &str = "guise_auth";

#[derive(Clone)]
pub struct Opened {
    pub session: Session,
    pub face: Option<Identity>,
}

struct Entry {
    opened: Opened,
    until: chrono::DateTime<chrono::Utc>,
}

pub struct AuthCache {
    clock: SharedClock,
    map: Mutex<HashMap<Vec<u8>, Entry>>,
    /// Moves on every emptying: a lookup that began before one is not kept.
    generation: AtomicU64,
    /// Whether changes are being heard (the listening connection is up).
    listening: AtomicBool,
}

impl AuthCache {
    pub fn new(clock: SharedClock) -> AuthCache {
        AuthCache {
            clock,
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
        match self.map.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Where a lookup starts: pass it to [`AuthCache::keep`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The token opened before, if it may still be used as it was.
    pub fn get(&self, key: &[u8]) -> Option<Opened> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let now = self.clock.now();
        let mut map = self.map();
        let fresh = map.get(key).map(|e| {
            e.until > now
                && e.opened
                    .session
                    .expires_on
                    .is_none_or(|last| last > now.date_naive())
        })?;
        if !fresh {
            map.remove(key);
            return None;
        }
        map.get(key).map(|e| e.opened.clone())
    }

    /// Keeps a token just opened — unless it carries `k_anon`, or anything
    /// was emptied since its lookup began at `generation` (what it read may
    /// be what that change replaced).
    pub fn keep(&self, key: Vec<u8>, generation: u64, opened: &Opened) {
        if opened.session.k_anon.is_some() || !self.listening.load(Ordering::SeqCst) {
            return;
        }
        let until = self.clock.now() + chrono::Duration::seconds(TTL_SECS);
        let mut map = self.map();
        // Checked under the lock `empty` takes too: an emptying either
        // came first (and is seen here) or comes after (and removes this).
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                opened: opened.clone(),
                until,
            },
        );
    }

    /// Forgets every token opened so far.
    pub fn empty(&self) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
    }

    fn set_listening(&self, on: bool) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::SeqCst);
        map.clear();
        self.listening.store(on, Ordering::SeqCst);
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a request may have changed a token, a login or a persistent
/// face, so this process forgets what it kept once it is answered. Reads
/// change none; of the writes, only the busiest that change none (posting
/// and acting on statuses, markers, media, polls, and the inboxes) keep it.
pub fn may_change_auth(method: &actix_web::http::Method, path: &str) -> bool {
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

/// Hears `guise_auth` for as long as the process runs, emptying the cache
/// on each notification. Until the channel is heard (and whenever its
/// connection drops) the cache is bypassed; it is emptied again once the
/// LISTEN is in place, so nothing changed in between is served.
pub async fn listen(cache: std::sync::Arc<AuthCache>, url: String) {
    loop {
        if let Err(e) = listen_once(&cache, &url).await {
            tracing::warn!(error = %e, "token changes are not heard; tokens are read each time");
        }
        cache.set_listening(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(cache: &AuthCache, url: &str) -> Result<(), tokio_postgres::Error> {
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
    let listened = client.batch_execute(&format!("LISTEN {CHANNEL}")).await;
    if let Err(e) = listened {
        driver.abort();
        return Err(e);
    }
    cache.set_listening(true);
    while let Some(m) = rx.recv().await {
        match m {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => cache.empty(),
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
    fn keeps_nothing_until_changes_are_heard_and_nothing_read_before_an_emptying() {
        let clock = std::sync::Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
                .unwrap()
                .into(),
        ));
        let cache = AuthCache::new(clock.clone());
        let g = cache.generation();
        cache.keep(b"a".to_vec(), g, &opened(None));
        assert!(cache.get(b"a").is_none(), "kept while not listening");
        cache.set_listening(true);
        let g = cache.generation();
        cache.keep(b"a".to_vec(), g, &opened(None));
        assert!(cache.get(b"a").is_some());
        // A lookup that began before a change is not kept.
        let g = cache.generation();
        cache.empty();
        cache.keep(b"b".to_vec(), g, &opened(None));
        assert!(cache.get(b"b").is_none());
        assert!(cache.get(b"a").is_none(), "emptied");
        // Lapses after the TTL, and on the token's expiry day.
        cache.keep(b"c".to_vec(), cache.generation(), &opened(None));
        let today = clock.now().date_naive();
        cache.keep(b"d".to_vec(), cache.generation(), &opened(Some(today)));
        assert!(cache.get(b"d").is_none(), "expired token served");
        clock.advance(chrono::Duration::seconds(TTL_SECS + 1));
        assert!(cache.get(b"c").is_none());
        // A dropped listener empties and bypasses.
        cache.keep(b"e".to_vec(), cache.generation(), &opened(None));
        cache.set_listening(false);
        assert!(cache.is_empty());
        assert!(cache.get(b"e").is_none());
    }

    #[test]
    fn only_writes_that_may_change_a_login_or_face_empty_it() {
        use actix_web::http::Method;
        assert!(!may_change_auth(
            &Method::GET,
            "/api/v1/accounts/verify_credentials"
        ));
        assert!(!may_change_auth(&Method::POST, "/api/v1/statuses"));
        assert!(!may_change_auth(&Method::POST, "/users/alice/inbox"));
        assert!(may_change_auth(&Method::POST, "/oauth/revoke"));
        assert!(may_change_auth(
            &Method::PATCH,
            "/api/v1/accounts/update_credentials"
        ));
        assert!(may_change_auth(
            &Method::POST,
            "/api/v1/admin/accounts/1/action"
        ));
        assert!(may_change_auth(&Method::DELETE, "/api/v1/faces/3"));
    }
}
