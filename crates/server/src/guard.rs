//! Bounds on password checks: online guessing is slowed per login name and
//! per remote address, and Argon2 (19 MiB and tens of milliseconds a check)
//! runs only a few at a time, so a flood of sign-ins cannot exhaust memory.
//! Counted in process memory only, never written anywhere (an address next
//! to a login name is exactly what must not be kept), on the injected clock.

use guise_core::SharedClock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Buckets kept at most; past this, refilled ones are dropped, and if all
/// are in use the map starts afresh (memory stays bounded under a spray of
/// made-up login names; the per-address bucket still holds such a spray).
const MAX_BUCKETS: usize = 100_000;

/// How long a password check waits for an Argon2 slot before it is refused.
const QUEUE_WAIT: Duration = Duration::from_secs(10);

/// What was learnt about a key lately, kept for a window (in memory, on the
/// clock): a remote key's document is fetched at most once a minute however
/// many badly signed requests name it; within the minute the fetched
/// document (or the failure) is reused.
pub struct Recent<T> {
    clock: SharedClock,
    window_ms: i64,
    seen: Mutex<HashMap<String, (i64, Option<T>)>>,
}

impl<T: Clone> Recent<T> {
    pub fn new(clock: SharedClock, window: std::time::Duration) -> Recent<T> {
        Recent {
            clock,
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(found)` if `key` was looked up within the window.
    pub fn get(&self, key: &str) -> Option<Option<T>> {
        let now = self.clock.now().timestamp_millis();
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(key)
            .filter(|(at, _)| now - *at < self.window_ms)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: &str, value: Option<T>) {
        let now = self.clock.now().timestamp_millis();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_BUCKETS {
            let w = self.window_ms;
            seen.retain(|_, (at, _)| now - *at < w);
            if seen.len() >= MAX_BUCKETS {
                seen.clear();
            }
        }
        seen.insert(key.to_owned(), (now, value));
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

pub struct PasswordGuard {
    clock: SharedClock,
    per_login: f64,
    per_address: f64,
    window_ms: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    hashing: std::sync::Arc<Semaphore>,
    proxies: Vec<(IpAddr, u8)>,
    /// The last TOTP step each login signed in with, so a code is taken
    /// once (RFC 6238, 5.2). In memory only, like the attempt counts.
    otp_steps: Mutex<HashMap<i64, i64>>,
    /// The admin's IP blocks in force (`domain_rules` keeps them current).
    ip_rules: std::sync::RwLock<Vec<IpRule>>,
}

/// One IP block, as the guard applies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRule {
    pub net: IpAddr,
    pub bits: u8,
    /// No sign-in either (else: no sign-up only).
    pub no_access: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl IpRule {
    /// From CIDR text ("192.0.2.0/24", or one address).
    pub fn parse(
        ip: &str,
        no_access: bool,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Option<IpRule> {
        let (net, bits) = cidr(ip)?;
        Some(IpRule {
            net,
            bits,
            no_access,
            expires_at,
        })
    }
}

/// Why a password check was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many attempts: try again after this many seconds.
    TooMany(u64),
    /// Too many checks at once.
    Busy,
    /// The address is blocked here (an admin's IP block).
    Blocked,
}

impl PasswordGuard {
    pub fn new(
        clock: SharedClock,
        attempts: u32,
        window_secs: u32,
        trusted_proxies: &[String],
    ) -> PasswordGuard {
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
        PasswordGuard {
            clock,
            per_login: f64::from(attempts.max(1)),
            per_address: f64::from(attempts.max(1)) * 5.0,
            window_ms: f64::from(window_secs.max(1)) * 1000.0,
            buckets: Mutex::new(HashMap::new()),
            hashing: std::sync::Arc::new(Semaphore::new(slots)),
            proxies: trusted_proxies.iter().filter_map(|c| cidr(c)).collect(),
            otp_steps: Mutex::new(HashMap::new()),
            ip_rules: std::sync::RwLock::default(),
        }
    }

    /// Applies these IP blocks from now on.
    pub fn set_ip_rules(&self, rules: Vec<IpRule>) {
        match self.ip_rules.write() {
            Ok(mut r) => *r = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }

    /// Whether `address` may not sign in (or, for a sign-up, sign up). An
    /// unknown address is never blocked.
    fn ip_blocked(&self, address: Option<IpAddr>, sign_up: bool) -> bool {
        let Some(a) = address else {
            return false;
        };
        let now = self.clock.now();
        let rules = match self.ip_rules.read() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        rules.iter().any(|r| {
            (r.no_access || sign_up)
                && r.expires_at.is_none_or(|e| e > now)
                && in_net(a, r.net, r.bits)
        })
    }

    /// Whether a TOTP `step` is newer than any this login used before (and
    /// records it). Entries older than a few steps are dropped as it goes.
    pub fn fresh_otp_step(&self, account: i64, step: i64) -> bool {
        let Ok(mut steps) = self.otp_steps.lock() else {
            return false;
        };
        steps.retain(|_, s| *s >= step - 4);
        match steps.get(&account) {
            Some(last) if *last >= step => false,
            _ => {
                steps.insert(account, step);
                true
            }
        }
    }

    /// The client's address: the peer's, or, when the peer is a trusted
    /// proxy, the last address in `X-Forwarded-For` that is not one.
    pub fn client(&self, req: &actix_web::HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted(peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|a| !self.trusted(*a))
                .unwrap_or(peer),
        )
    }

    fn trusted(&self, a: IpAddr) -> bool {
        self.proxies
            .iter()
            .any(|(net, bits)| in_net(a, *net, *bits))
    }

    /// `attempt` for a request's client.
    pub async fn attempt_from(
        &self,
        req: &actix_web::HttpRequest,
        login: &str,
    ) -> Result<OwnedSemaphorePermit, Refused> {
        let address = self.client(req);
        if self.ip_blocked(address, false) {
            return Err(Refused::Blocked);
        }
        self.attempt(address, login).await
    }

    /// `attempt_from` for a sign-up, which sign-up IP blocks refuse too.
    pub async fn attempt_sign_up(
        &self,
        req: &actix_web::HttpRequest,
        login: &str,
    ) -> Result<OwnedSemaphorePermit, Refused> {
        let address = self.client(req);
        if self.ip_blocked(address, true) {
            return Err(Refused::Blocked);
        }
        self.attempt(address, login).await
    }

    /// Takes one attempt for `login` (from `address`, when known) and a slot
    /// to check the password in; the slot is held until the permit drops.
    pub async fn attempt(
        &self,
        address: Option<IpAddr>,
        login: &str,
    ) -> Result<OwnedSemaphorePermit, Refused> {
        self.take(address, login)?;
        match tokio::time::timeout(QUEUE_WAIT, self.hashing.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Refused::Busy),
        }
    }

    fn take(&self, address: Option<IpAddr>, login: &str) -> Result<(), Refused> {
        let now = self.clock.now().timestamp_millis();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            let (cap, window) = (self.per_address, self.window_ms);
            buckets.retain(|_, b| refilled(b, now, cap, window) < cap);
            if buckets.len() >= MAX_BUCKETS {
                buckets.clear();
            }
        }
        let mut keys = vec![(
            format!("login:{}", login.trim().to_lowercase()),
            self.per_login,
        )];
        if let Some(a) = address {
            keys.push((format!("addr:{}", prefix(a)), self.per_address));
        }
        // Both must have an attempt left before either is charged.
        let mut wait_ms = 0.0f64;
        for (key, cap) in &keys {
            let left = buckets
                .get(key)
                .map_or(*cap, |b| refilled(b, now, *cap, self.window_ms));
            if left < 1.0 {
                wait_ms = wait_ms.max((1.0 - left) * self.window_ms / cap);
            }
        }
        if wait_ms > 0.0 {
            return Err(Refused::TooMany((wait_ms / 1000.0).ceil() as u64));
        }
        for (key, cap) in keys {
            let left = buckets
                .get(&key)
                .map_or(cap, |b| refilled(b, now, cap, self.window_ms));
            buckets.insert(
                key,
                Bucket {
                    tokens: left - 1.0,
                    at_ms: now,
                },
            );
        }
        Ok(())
    }
}

/// Attempts left in `b` at `now`: `cap` refill evenly over one window.
fn refilled(b: &Bucket, now: i64, cap: f64, window_ms: f64) -> f64 {
    let elapsed = (now - b.at_ms).max(0) as f64;
    (b.tokens + elapsed * cap / window_ms).min(cap)
}

/// CIDR text for what `s` names, its host bits cleared: "192.0.2.7/24"
/// is "192.0.2.0/24", a lone address a /32 (or /128).
pub fn cidr_text(s: &str) -> Option<String> {
    let (a, bits) = cidr(s)?;
    let net = match a {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    };
    Some(format!("{net}/{bits}"))
}

pub(crate) fn cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let a = s.parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if a.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((a, bits))
}

fn in_net(a: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, net, width) = match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        (IpAddr::V6(a), IpAddr::V4(n)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
            None => return false,
        },
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (a >> shift) == (net >> shift)
}

/// An IPv4 address, or an IPv6 address's /64: one host rarely has more, and
/// one with a /64 would otherwise have endless fresh addresses.
fn prefix(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::Arc;

    #[tokio::test]
    async fn attempts_run_out_per_login_and_per_address_and_come_back() {
        let clock = Arc::new(guise_core::ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2019, 3, 1, 12, 0, 0).unwrap(),
        ));
        let g = PasswordGuard::new(clock.clone(), 3, 60, &[]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(g.attempt(Some(a), "Alice").await.is_ok());
        }
        // Another spelling of the same login shares its attempts.
        assert!(matches!(
            g.attempt(Some(a), " alice").await,
            Err(Refused::TooMany(s)) if s > 0 && s <= 20
        ));
        // Another login from the same address still has its own.
        assert!(g.attempt(Some(a), "bob").await.is_ok());
        // The address runs out after five times the login's attempts.
        for i in 0..11 {
            assert!(g.attempt(Some(a), &format!("user{i}")).await.is_ok(), "{i}");
        }
        assert!(g.attempt(Some(a), "carol").await.is_err());
        let other: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(g.attempt(Some(other), "carol").await.is_ok());
        // The same /64 is one address.
        let same64: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        for i in 0..14 {
            let _ = g.attempt(Some(same64), &format!("v6user{i}")).await;
        }
        assert!(g.attempt(Some(other), "dave").await.is_err());
        clock.advance(chrono::Duration::seconds(61));
        assert!(g.attempt(Some(a), "alice").await.is_ok());
    }

    #[test]
    fn the_client_is_named_by_a_trusted_proxy_only() {
        let clock = Arc::new(guise_core::SystemClock);
        let g = PasswordGuard::new(clock, 10, 60, &["127.0.0.0/8".into(), "10.0.0.0/8".into()]);
        let req = |peer: &str, xff: Option<&str>| {
            let mut r = actix_web::test::TestRequest::default()
                .peer_addr(format!("{peer}:4000").parse().unwrap());
            if let Some(x) = xff {
                r = r.insert_header(("X-Forwarded-For", x));
            }
            r.to_http_request()
        };
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(g.client(&req("127.0.0.1", None)), ip("127.0.0.1"));
        assert_eq!(
            g.client(&req("127.0.0.1", Some("198.51.100.7"))),
            ip("198.51.100.7")
        );
        // A client cannot name itself through a proxy: the last untrusted hop counts.
        assert_eq!(
            g.client(&req(
                "127.0.0.1",
                Some("203.0.113.9, 198.51.100.7, 10.1.2.3")
            )),
            ip("198.51.100.7")
        );
        // Nobody else is believed.
        assert_eq!(
            g.client(&req("192.0.2.5", Some("198.51.100.7"))),
            ip("192.0.2.5")
        );
        assert!(in_net(
            "10.200.0.1".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(!in_net(
            "11.0.0.1".parse().unwrap(),
            "10.0.0.0".parse().unwrap(),
            8
        ));
        assert!(in_net(
            "::ffff:127.0.0.1".parse().unwrap(),
            "127.0.0.0".parse().unwrap(),
            8
        ));
    }

    #[tokio::test]
    async fn few_checks_run_at_once() {
        let clock = Arc::new(guise_core::SystemClock);
        let g = PasswordGuard::new(clock, 1000, 60, &[]);
        let mut held = Vec::new();
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
        for i in 0..slots {
            held.push(g.attempt(None, &format!("u{i}")).await.unwrap());
        }
        assert_eq!(g.hashing.available_permits(), 0);
        drop(held);
        assert_eq!(g.hashing.available_permits(), slots);
    }
}
