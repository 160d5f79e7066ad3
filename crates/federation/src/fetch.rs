//! Outbound fetches that cannot be turned against the server's own network.
//!
//! No connection goes to a loopback, private, link-local, CGNAT, multicast,
//! broadcast or unspecified address: names are checked as they resolve, at
//! connect time (so a name that answers a public address first and a private
//! one next is caught), IP literals before the request, and the one redirect
//! allowed is checked the same way. Plain `http` and private addresses are
//! allowed only with `federation.allow_private_addresses` (tests, local
//! development). Bodies are size-limited and every request times out.

use futures::future::BoxFuture;
use futures::StreamExt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("refused: {0}")]
    Refused(String),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("http: {0}")]
    Http(String),
    #[error("not JSON: {0}")]
    Json(String),
}

fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn v6_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_public(v4);
    }
    // IPv4 forms carried in IPv6 reach the IPv4 address they carry: judge that.
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return v4_public(embedded(s[6], s[7])); // IPv4-compatible ::a.b.c.d
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return v4_public(embedded(s[6], s[7])); // NAT64 64:ff9b::/96
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        return false; // local-use NAT64 64:ff9b:1::/48
    }
    if s[0] == 0x2002 {
        return v4_public(embedded(s[1], s[2])); // 6to4 2002::/16
    }
    let first = s[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed by some)
        || (first == 0x2001 && s[1] == 0x0db8) // documentation
        || (first == 0x2001 && s[1] == 0x0000) // Teredo 2001::/32 (carries an IPv4 peer)
        || (first == 0x0100 && s[1..4] == [0; 3])) // discard-only 100::/64
}

/// A domain as blocks compare it: lower case, ASCII (IDN as punycode), no
/// trailing dot. `None` for what is not a domain.
pub fn normalize_domain(d: &str) -> Option<String> {
    let d = d.trim().trim_end_matches('.');
    if d.is_empty() || d.contains(['/', '@', ' ']) {
        return None;
    }
    let u = Url::parse(&format!("https://{d}/")).ok()?;
    let host = u.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    Some(host)
}

/// Which remote domains the instance will deal with, as the admin set them
/// (the configuration file's blocks, and the admin API's, reloaded live).
/// Domains are kept normalized; each covers its subdomains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainRules {
    /// Nothing in or out: inboxes refuse them, nothing is fetched from or
    /// delivered to them.
    suspended: Vec<String>,
    /// Their media are never fetched.
    reject_media: Vec<String>,
    /// Their reports (`Flag`) are dropped.
    reject_reports: Vec<String>,
    /// Limited federation: when set, only these domains federate.
    allowed: Option<Vec<String>>,
}

fn under(list: &[String], host: &str) -> bool {
    list.iter().any(|d| {
        host == d
            || host
                .strip_suffix(d.as_str())
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

impl DomainRules {
    pub fn new(
        suspended: &[String],
        reject_media: &[String],
        allowed: Option<&[String]>,
    ) -> DomainRules {
        let norm = |l: &[String]| l.iter().filter_map(|d| normalize_domain(d)).collect();
        DomainRules {
            suspended: norm(suspended),
            reject_media: norm(reject_media),
            reject_reports: Vec::new(),
            allowed: allowed.map(norm),
        }
    }

    /// These rules, also dropping reports from `domains`.
    pub fn rejecting_reports(mut self, domains: &[String]) -> DomainRules {
        self.reject_reports = domains.iter().filter_map(|d| normalize_domain(d)).collect();
        self
    }

    /// Whether reports (`Flag`) from `host` are dropped.
    pub fn refuses_reports(&self, host: &str) -> bool {
        self.refuses(host)
            || normalize_domain(host).is_some_and(|h| under(&self.reject_reports, &h))
    }

    /// Whether the instance refuses all traffic with `host`.
    pub fn refuses(&self, host: &str) -> bool {
        // No host at all: nothing to judge here (the signature check fails).
        let Some(host) = normalize_domain(host) else {
            return false;
        };
        under(&self.suspended, &host) || self.allowed.as_ref().is_some_and(|a| !under(a, &host))
    }

    /// Whether media from `host` are refused.
    pub fn refuses_media(&self, host: &str) -> bool {
        self.refuses(host) || normalize_domain(host).is_some_and(|h| under(&self.reject_media, &h))
    }
}

/// Whether `host` is one of `blocked` or under one of them, however either
/// is spelled (case, trailing dot, Unicode or punycode).
pub fn domain_blocked(blocked: &[String], host: &str) -> bool {
    let Some(host) = normalize_domain(host) else {
        return false;
    };
    blocked.iter().filter_map(|d| normalize_domain(d)).any(|d| {
        host == d
            || host
                .strip_suffix(&d)
                .is_some_and(|rest| rest.ends_with('.'))
    })
}

/// Whether a connection to `ip` is allowed when private addresses are not.
pub fn address_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_public(v4),
        IpAddr::V6(v6) => v6_public(v6),
    }
}

/// `application/activity+json`, or `application/ld+json` with the
/// ActivityStreams profile (as the spec has it; some servers quote it
/// differently or not at all).
pub fn activitypub_type(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    let base = ct.split(';').next().unwrap_or_default().trim();
    base == "application/activity+json"
        || (base == "application/ld+json" && ct.contains("https://www.w3.org/ns/activitystreams"))
}

/// Scheme and IP-literal checks on a URL, before any request.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), FetchError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        s => return Err(FetchError::Refused(format!("scheme {s} (https only)"))),
    }
    match url.host() {
        None => Err(FetchError::Refused("no host".into())),
        Some(url::Host::Ipv4(ip)) if !allow_private && !v4_public(ip) => {
            Err(FetchError::Refused(format!("private address {ip}")))
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && !v6_public(ip) => {
            Err(FetchError::Refused(format!("private address {ip}")))
        }
        Some(url::Host::Domain(d))
            if !allow_private && (d == "localhost" || d.ends_with(".localhost")) =>
        {
            Err(FetchError::Refused(format!("local name {d}")))
        }
        _ => Ok(()),
    }
}

/// Name resolution; tests give their own to play DNS tricks.
pub trait Lookup: Send + Sync {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A resolver that drops every non-public address (unless allowed) and
/// fails when none is left. reqwest asks it at every new connection.
pub struct GuardedResolver {
    pub lookup: Arc<dyn Lookup>,
    pub allow_private: bool,
}

impl GuardedResolver {
    pub async fn resolve_checked(&self, host: String) -> Result<Vec<IpAddr>, FetchError> {
        let all = self
            .lookup
            .lookup(host.clone())
            .await
            .map_err(|e| FetchError::Http(e.to_string()))?;
        let allowed: Vec<IpAddr> = all
            .iter()
            .copied()
            .filter(|ip| self.allow_private || address_public(*ip))
            .collect();
        if allowed.is_empty() {
            return Err(FetchError::Refused(format!(
                "{host} resolves only to private addresses {all:?}"
            )));
        }
        Ok(allowed)
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = GuardedResolver {
            lookup: self.lookup.clone(),
            allow_private: self.allow_private,
        };
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = this
                .resolve_checked(host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// One redirect at most, and only to a URL that passes `check_url`.
pub fn redirect_allowed(
    previous_hops: usize,
    next: &Url,
    allow_private: bool,
) -> Result<(), FetchError> {
    if previous_hops >= 1 {
        return Err(FetchError::Refused("more than one redirect".into()));
    }
    check_url(next, allow_private)
}

pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    max_bytes: usize,
    /// The instance actor's key id and private key: it alone signs our GETs
    /// (servers in secure mode answer only signed fetches). Set at start-up.
    signer: std::sync::OnceLock<(String, String)>,
    /// Domains the admin blocked: never fetched from (nor through a
    /// redirect), never delivered to. Replaced whole when the rules change.
    rules: std::sync::RwLock<std::sync::Arc<DomainRules>>,
    /// Dates the signatures of our GETs.
    clock: guise_core::SharedClock,
}

impl Fetcher {
    pub fn new(
        allow_private: bool,
        max_bytes: usize,
        lookup: Arc<dyn Lookup>,
        clock: guise_core::SharedClock,
    ) -> Result<Fetcher, FetchError> {
        Self::trusting(allow_private, max_bytes, lookup, clock, None)
    }

    /// Like [`Fetcher::new`]; HTTPS trusts the system's certificate
    /// authorities (and the bundled Mozilla set) plus those in `extra_ca_pem`,
    /// a PEM bundle (a private network's own CA).
    pub fn trusting(
        allow_private: bool,
        max_bytes: usize,
        lookup: Arc<dyn Lookup>,
        clock: guise_core::SharedClock,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Fetcher, FetchError> {
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            match redirect_allowed(
                attempt.previous().len().saturating_sub(1),
                attempt.url(),
                allow_private,
            ) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        });
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| FetchError::Http(format!("extra CA bundle: {e}")))?;
            if certs.is_empty() {
                return Err(FetchError::Http(
                    "extra CA bundle: no certificate in it".into(),
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder
            .dns_resolver(Arc::new(GuardedResolver {
                lookup,
                allow_private,
            }))
            .redirect(policy)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("Guise/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(Fetcher {
            client,
            allow_private,
            max_bytes,
            signer: std::sync::OnceLock::new(),
            rules: std::sync::RwLock::default(),
            clock,
        })
    }

    /// Never fetch from these domains (or their subdomains).
    pub fn block_domains(&self, domains: Vec<String>) {
        self.set_domain_rules(DomainRules::new(&domains, &[], None));
    }

    /// Applies new domain rules from now on (every later request and delivery).
    pub fn set_domain_rules(&self, rules: DomainRules) {
        let rules = std::sync::Arc::new(rules);
        match self.rules.write() {
            Ok(mut r) => *r = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }

    /// The rules in force.
    pub fn domain_rules(&self) -> std::sync::Arc<DomainRules> {
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the instance refuses all traffic with `url`'s host.
    pub fn is_blocked(&self, url: &Url) -> bool {
        self.domain_rules()
            .refuses(url.host_str().unwrap_or_default())
    }

    fn media_blocked(&self, url: &Url) -> bool {
        self.domain_rules()
            .refuses_media(url.host_str().unwrap_or_default())
    }

    /// Makes the instance actor sign every GET from now on.
    pub fn sign_with(&self, key_id: String, private_pem: String) {
        let _ = self.signer.set((key_id, private_pem));
    }

    /// POSTs a signed activity; the inbox's status, or `None` on a network error.
    pub async fn post(
        &self,
        url: &Url,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Option<u16>, String> {
        check_url(url, self.allow_private).map_err(|e| e.to_string())?;
        let mut req = self.client.post(url.clone()).body(body);
        for (k, v) in headers {
            if k != "host" {
                req = req.header(k, v);
            }
        }
        match req.send().await {
            Ok(resp) => Ok(Some(resp.status().as_u16())),
            Err(e) if e.is_builder() || e.is_redirect() => Err(e.to_string()),
            Err(_) => Ok(None),
        }
    }

    /// GETs media (for the media proxy): the bytes and their content type,
    /// within `max_bytes`. Unsigned: media servers do not ask who fetches.
    pub async fn get_media(
        &self,
        url: &Url,
        max_bytes: usize,
    ) -> Result<(String, Vec<u8>), FetchError> {
        check_url(url, self.allow_private)?;
        if self.media_blocked(url) {
            return Err(FetchError::Refused("the domain is blocked".into()));
        }
        let resp = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| FetchError::Http(format!("{e:?}")))?;
        if self.media_blocked(resp.url()) {
            return Err(FetchError::Refused("redirected to a blocked domain".into()));
        }
        if !resp.status().is_success() {
            return Err(FetchError::Http(format!("status {}", resp.status())));
        }
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        if resp
            .content_length()
            .is_some_and(|n| n as usize > max_bytes)
        {
            return Err(FetchError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Http(e.to_string()))?;
            if body.len() + chunk.len() > max_bytes {
                return Err(FetchError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((kind, body))
    }

    /// GETs ActivityPub JSON (and only that: see `activitypub_type`).
    /// Returns the final URL (after a redirect) with the body.
    pub async fn get_json(&self, url: &Url) -> Result<(Url, serde_json::Value), FetchError> {
        self.get_typed(
            url,
            "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            activitypub_type,
        )
        .await
    }

    /// GETs a WebFinger answer (JRD, or plain JSON as some servers send it).
    pub async fn get_webfinger(&self, url: &Url) -> Result<(Url, serde_json::Value), FetchError> {
        self.get_typed(url, "application/jrd+json, application/json", |ct| {
            let base = ct.split(';').next().unwrap_or_default().trim();
            base == "application/jrd+json" || base == "application/json"
        })
        .await
    }

    /// GETs a web page (HTML, unsigned), for `rel="me"` links.
    pub async fn get_page(&self, url: &Url) -> Result<(Url, String), FetchError> {
        let (final_url, body) = self
            .get_bytes(url, "text/html, application/xhtml+xml", false, |ct| {
                let base = ct.split(';').next().unwrap_or_default().trim();
                base == "text/html" || base == "application/xhtml+xml"
            })
            .await?;
        Ok((final_url, String::from_utf8_lossy(&body).into_owned()))
    }

    async fn get_typed(
        &self,
        url: &Url,
        accept: &str,
        accepted: fn(&str) -> bool,
    ) -> Result<(Url, serde_json::Value), FetchError> {
        let (final_url, body) = self.get_bytes(url, accept, true, accepted).await?;
        let v = serde_json::from_slice(&body).map_err(|e| FetchError::Json(e.to_string()))?;
        Ok((final_url, v))
    }

    async fn get_bytes(
        &self,
        url: &Url,
        accept: &str,
        signed: bool,
        accepted: fn(&str) -> bool,
    ) -> Result<(Url, Vec<u8>), FetchError> {
        check_url(url, self.allow_private)?;
        if self.is_blocked(url) {
            return Err(FetchError::Refused("the domain is blocked".into()));
        }
        let mut req = self.client.get(url.clone()).header("Accept", accept);
        if let Some((key_id, pem)) = self.signer.get().filter(|_| signed) {
            let host = match url.port() {
                Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
                None => url.host_str().unwrap_or_default().to_owned(),
            };
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let headers =
                crate::signatures::sign("GET", &host, &path, None, key_id, pem, self.clock.now())
                    .map_err(|e| FetchError::Http(format!("signing: {e}")))?;
            for (k, v) in headers {
                if k != "host" {
                    req = req.header(k, v);
                }
            }
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FetchError::Http(format!("{e:?}")))?;
        let final_url = resp.url().clone();
        if self.is_blocked(&final_url) {
            return Err(FetchError::Refused("redirected to a blocked domain".into()));
        }
        if !resp.status().is_success() {
            return Err(FetchError::Http(format!("status {}", resp.status())));
        }
        // Only ActivityPub documents: a JSON file uploaded to a server (as
        // media, say) is not that server speaking (CVE-2024-23832).
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !accepted(&kind) {
            return Err(FetchError::Refused(format!(
                "not the document asked for ({kind})"
            )));
        }
        if resp
            .content_length()
            .is_some_and(|n| n as usize > self.max_bytes)
        {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Http(e.to_string()))?;
            if body.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((final_url, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn test_clock() -> guise_core::SharedClock {
        use chrono::TimeZone;
        Arc::new(guise_core::ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2019, 3, 1, 12, 0, 0).unwrap(),
        ))
    }

    #[test]
    fn address_table() {
        let cases = [
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("172.32.0.1", true),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("100.128.0.1", true),
            ("0.0.0.0", false),
            ("224.0.0.1", false),
            ("255.255.255.255", false),
            ("93.184.216.34", true),
            ("::1", false),
            ("::", false),
            ("fe80::1", false),
            ("fd00::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:93.184.216.34", true),
            ("2606:4700::1111", true),
            ("ff02::1", false),
            // Private IPv4 carried inside IPv6.
            ("64:ff9b::127.0.0.1", false),
            ("64:ff9b::10.0.0.1", false),
            ("64:ff9b::93.184.216.34", true),
            ("64:ff9b:1::1", false),
            ("2002:7f00:1::", false),
            ("2002:c0a8:0101::1", false),
            ("2002:5db8:d822::1", true),
            ("::127.0.0.1", false),
            ("::10.1.2.3", false),
            ("::93.184.216.34", true),
            ("fec0::1", false),
            ("2001:0:4136:e378::1", false),
            ("100::1", false),
        ];
        for (ip, want) in cases {
            assert_eq!(address_public(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn domain_rules_suspend_allow_and_reject_media() {
        let s = |l: &[&str]| l.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        let r = DomainRules::new(&s(&["Evil.Example."]), &s(&["pics.example"]), None)
            .rejecting_reports(&s(&["noisy.example"]));
        assert!(r.refuses_reports("a.noisy.example") && r.refuses_reports("evil.example"));
        assert!(!r.refuses_reports("pics.example") && !r.refuses("noisy.example"));
        for (host, refused, media) in [
            ("evil.example", true, true),
            ("a.EVIL.example.", true, true),
            ("notevil.example", false, false),
            ("pics.example", false, true),
            ("cdn.pics.example", false, true),
            ("friendly.example", false, false),
        ] {
            assert_eq!(r.refuses(host), refused, "{host}");
            assert_eq!(r.refuses_media(host), media, "{host}");
        }
        // Limited federation: only the allowed (and their subdomains), and
        // a block still wins over an allow.
        let r = DomainRules::new(
            &s(&["bad.friends.example"]),
            &[],
            Some(&s(&["friends.example"])[..]),
        );
        for (host, refused) in [
            ("friends.example", false),
            ("www.friends.example", false),
            ("bad.friends.example", true),
            ("stranger.example", true),
            ("otherfriends.example", true),
        ] {
            assert_eq!(r.refuses(host), refused, "{host}");
        }
    }

    #[test]
    fn domain_blocks_cover_subdomains_however_spelled() {
        let blocked = vec!["Evil.Example.".to_owned(), "bücher.example".to_owned()];
        for host in [
            "evil.example",
            "EVIL.EXAMPLE",
            "evil.example.",
            "a.b.evil.example",
            "xn--bcher-kva.example",
            "shop.xn--bcher-kva.example",
            "BÜCHER.example",
        ] {
            assert!(domain_blocked(&blocked, host), "{host}");
        }
        for host in [
            "notevil.example",
            "evil.example.org",
            "example",
            "bucher.example",
        ] {
            assert!(!domain_blocked(&blocked, host), "{host}");
        }
    }

    #[test]
    fn only_activitypub_content_types_are_documents() {
        for ok in [
            "application/activity+json",
            "application/activity+json; charset=utf-8",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            "Application/LD+JSON;profile=https://www.w3.org/ns/activitystreams",
        ] {
            assert!(activitypub_type(ok), "{ok}");
        }
        for bad in [
            "application/json",
            "text/html",
            "image/png",
            "application/ld+json",
            "",
        ] {
            assert!(!activitypub_type(bad), "{bad}");
        }
    }

    #[test]
    fn url_table() {
        let cases = [
            ("https://remote.example/users/a", false, true),
            ("http://remote.example/users/a", false, false),
            ("http://remote.example/users/a", true, true),
            ("https://127.0.0.1/x", false, false),
            ("https://127.0.0.1/x", true, true),
            ("https://[::1]/x", false, false),
            ("https://localhost/x", false, false),
            ("ftp://remote.example/x", true, false),
            ("https://169.254.169.254/latest/meta-data", false, false),
        ];
        for (u, allow, want) in cases {
            assert_eq!(
                check_url(&Url::parse(u).unwrap(), allow).is_ok(),
                want,
                "{u} allow={allow}"
            );
        }
        assert!(redirect_allowed(0, &Url::parse("https://a.example").unwrap(), false).is_ok());
        assert!(
            redirect_allowed(1, &Url::parse("https://a.example").unwrap(), false).is_err(),
            "one redirect only"
        );
        assert!(redirect_allowed(0, &Url::parse("https://10.0.0.1").unwrap(), false).is_err());
    }

    /// Answers a public address first and loopback next (DNS rebinding).
    struct Rebinding(AtomicUsize);

    impl Lookup for Rebinding {
        fn lookup(&self, _host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![if n == 0 {
                    "93.184.216.34".parse().unwrap()
                } else {
                    "127.0.0.1".parse().unwrap()
                }])
            })
        }
    }

    #[tokio::test]
    async fn rebinding_is_caught_at_connect_time() {
        let r = GuardedResolver {
            lookup: Arc::new(Rebinding(AtomicUsize::new(0))),
            allow_private: false,
        };
        assert!(r.resolve_checked("evil.example".into()).await.is_ok());
        let second = r.resolve_checked("evil.example".into()).await;
        assert!(matches!(second, Err(FetchError::Refused(_))), "{second:?}");
    }

    struct Fixed(Vec<IpAddr>);

    impl Lookup for Fixed {
        fn lookup(&self, _host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let v = self.0.clone();
            Box::pin(async move { Ok(v) })
        }
    }

    async fn serve_once(body: Vec<u8>) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\nConnection: close\r\n\r\n";
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            }
        });
        port
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed_and_bodies_are_capped() {
        let port = serve_once(br#"{"id":"x"}"#.to_vec()).await;
        let lookup: Arc<dyn Lookup> = Arc::new(Fixed(vec!["127.0.0.1".parse().unwrap()]));
        let strict = Fetcher::new(false, 1024, lookup.clone(), test_clock()).unwrap();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/actor")).unwrap();
        assert!(matches!(
            strict.get_json(&url).await,
            Err(FetchError::Refused(_))
        ));
        // A name that resolves to loopback is refused by the resolver, at connect time.
        let named = Url::parse(&format!("https://looks-public.example:{port}/actor")).unwrap();
        let err = strict.get_json(&named).await.unwrap_err();
        assert!(format!("{err}").contains("private"), "{err}");
        let open = Fetcher::new(true, 1024, lookup.clone(), test_clock()).unwrap();
        let (final_url, v) = open.get_json(&url).await.unwrap();
        assert_eq!(v["id"], "x");
        assert_eq!(final_url, url);
        let port = serve_once(vec![b' '; 4096]).await;
        let big = Url::parse(&format!("http://127.0.0.1:{port}/big")).unwrap();
        assert!(matches!(
            open.get_json(&big).await,
            Err(FetchError::TooLarge(1024))
        ));
    }

    #[tokio::test]
    async fn blocked_domains_are_never_fetched() {
        let port = serve_once(br#"{"id":"x"}"#.to_vec()).await;
        let lookup: Arc<dyn Lookup> = Arc::new(Fixed(vec!["127.0.0.1".parse().unwrap()]));
        let f = Fetcher::new(true, 1024, lookup, test_clock()).unwrap();
        f.block_domains(vec!["Blocked.example".into()]);
        for host in ["blocked.example", "sub.blocked.example"] {
            let url = Url::parse(&format!("http://{host}:{port}/actor")).unwrap();
            assert!(f.is_blocked(&url), "{host}");
            assert!(matches!(
                f.get_json(&url).await,
                Err(FetchError::Refused(_))
            ));
            assert!(matches!(
                f.get_media(&url, 1024).await,
                Err(FetchError::Refused(_))
            ));
        }
        assert!(!f.is_blocked(&Url::parse("http://notblocked.example/").unwrap()));
        // The one server answers: it was never asked.
        let (_, v) = f
            .get_json(&Url::parse(&format!("http://127.0.0.1:{port}/actor")).unwrap())
            .await
            .unwrap();
        assert_eq!(v["id"], "x");
    }
}
