//! Configuration: one typed struct, built once from a TOML file plus
//! `GUISE_<SECTION>__<KEY>` environment overrides (and a few short forms),
//! then passed down as a value. Unknown keys are reported, not ignored.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub instance: InstanceConfig,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub mail: MailConfig,
    pub federation: FederationConfig,
    pub media: MediaConfig,
    pub log: LogConfig,
}

/// A tier as the configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierSetting {
    RealName,
    Pseudonymous,
    Anonymous,
}

impl TierSetting {
    pub fn tier(self) -> guise_policy::Tier {
        match self {
            TierSetting::RealName => guise_policy::Tier::RealName,
            TierSetting::Pseudonymous => guise_policy::Tier::Pseudonymous,
            TierSetting::Anonymous => guise_policy::Tier::Anonymous,
        }
    }
}

/// The scheme of the public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// http for localhost and loopback addresses, https otherwise.
    #[default]
    #[serde(rename = "")]
    Auto,
    Http,
    Https,
}

/// How many anonymous faces one login gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FacePer {
    /// One per (login, thread): a conversation stays readable.
    Thread,
    /// A new one for every anonymous post.
    Post,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConfig {
    /// The public host name (a port is allowed in development).
    pub domain: String,
    /// "https" or "http"; empty means http for localhost/loopback, https otherwise.
    pub scheme: Scheme,
    pub name: String,
    pub description: String,
    pub contact_email: String,
    pub max_characters: usize,
    pub registrations_open: bool,
    /// Open sign-ups wait for a moderator's approval before they can act.
    pub registrations_require_approval: bool,
    /// Tiers offered here: any of "real_name", "pseudonymous", "anonymous".
    pub tiers: Vec<TierSetting>,
    pub real_name_requires_verification: bool,
    /// "thread": one anonymous face per (account, thread), so a conversation
    /// stays readable; "post": a new anonymous face for every post.
    pub anonymous_face_per: FacePer,
    /// Anonymous posts may start threads (false: they may only reply).
    pub anonymous_top_level: bool,
    /// Days anonymous posting pauses after a password reset that lost the
    /// anonymity key, so that a new key cannot shed a ban.
    pub anonymous_reset_cooldown_days: i64,
    /// Anonymous posts one login may make per epoch (0: no limit).
    pub anonymous_posts_per_epoch: u64,
    /// Posts one real-name face may make per epoch (0: no limit).
    pub real_name_posts_per_epoch: u64,
    /// Posts one pseudonymous face may make per epoch (0: no limit).
    pub pseudonymous_posts_per_epoch: u64,
    /// The epoch length in seconds; epochs sit on a fixed grid.
    pub anonymous_limit_epoch_secs: i64,
    /// Language tags anonymous posts may carry (any other is dropped). Empty:
    /// anonymous posts carry none.
    pub anonymous_languages: Vec<String>,
    /// When a login is deleted, its anonymous posts go one by one, each at a
    /// random time within this many seconds (and its faces' `Delete`s too).
    pub deletion_spread_secs: i64,
    /// Staff may use the admin API only once two-factor sign-in is on.
    pub staff_two_factor: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// address:port to listen on.
    pub listen: String,
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds a request body may take to arrive (408 after that).
    pub body_timeout_secs: u64,
    /// Password checks allowed per login name in `sign_in_window_secs`
    /// (sign-in, the password grant, password change, recovery); five
    /// times as many per remote address. Counted in memory only.
    pub sign_in_attempts: u32,
    pub sign_in_window_secs: u32,
    /// Reverse proxies (CIDR) whose `X-Forwarded-For` names the client, for
    /// the per-address limits above. The address is never stored or logged.
    pub trusted_proxies: Vec<String>,
    /// Run the delivery worker and background jobs inside `guise serve`
    /// (false: run `guise worker` beside it).
    pub worker: bool,
    /// Listen with SO_REUSEPORT, so several `guise serve` processes share
    /// one address and the kernel spreads connections among them (and a
    /// new process can start before the old one stops).
    pub reuse_port: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// postgres://… ; empty means the local cluster `./dev run` starts.
    pub url: String,
    /// Connections that serve requests, shared out among the HTTP workers;
    /// the delivery worker, jobs and streaming have a pool of the same size.
    /// By default 4 per CPU core (see `default_pool_size`).
    pub pool_size: usize,
    /// Start even though PostgreSQL logs statements with their values (which
    /// would write what each request did, and for whom, next to the data).
    pub allow_statement_logging: bool,
    /// `serve` and `worker` apply pending migrations themselves (`./dev run`
    /// sets this). Otherwise they refuse to start on a schema that is behind,
    /// naming `guise migrate`, so an upgrade migrates once, after a backup.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// The SMTP relay mail is handed to (plain SMTP: a relay on this
    /// machine or network that does TLS onward). Empty: Guise sends no
    /// mail, and signed-up logins need no email confirmation.
    pub smtp_host: String,
    /// 25 unless set.
    pub smtp_port: u16,
    /// The sender address; `noreply@<domain>` unless set.
    pub from: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// redis://… ; empty means an in-process stand-in (one machine only).
    pub url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FederationConfig {
    /// Allow outbound fetches to loopback and private addresses (tests, development).
    pub allow_private_addresses: bool,
    pub blocked_domains: Vec<String>,
    /// Limited federation: only the domains allowed over the admin API
    /// (`/api/v1/admin/domain_allows`) federate.
    pub limited: bool,
    /// RSA key pairs kept ready so a new face never waits for one.
    pub key_pool_size: i64,
    /// Domains whose "verified real name" claims are shown as verified.
    pub trusted_verifiers: Vec<String>,
    /// How long the delivery worker sleeps when it finds nothing to do.
    pub worker_poll_ms: u64,
    /// How long a claimed delivery stays with the worker that claimed it.
    pub delivery_lease_secs: i64,
    /// The first retry's delay; later ones double, with jitter, up to 6 h.
    pub retry_first_delay_secs: i64,
    /// Deliveries a worker has in flight at once.
    pub delivery_concurrency: usize,
    /// The shared `anonymous` actor boosts public anonymous posts that start
    /// a thread, so its followers see them.
    pub anonymous_announcer: bool,
    /// The announcer boosts an anonymous thread only once a moderator
    /// approves it (false: at once).
    pub announcer_needs_approval: bool,
    /// A PEM bundle of certificate authorities trusted for outgoing HTTPS
    /// besides the system's (a private network's own CA); empty: none.
    pub extra_ca_file: String,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            allow_private_addresses: false,
            blocked_domains: Vec::new(),
            limited: false,
            key_pool_size: 8,
            trusted_verifiers: Vec::new(),
            worker_poll_ms: 1000,
            delivery_lease_secs: 600,
            retry_first_delay_secs: 60,
            delivery_concurrency: 16,
            anonymous_announcer: true,
            announcer_needs_approval: false,
            extra_ca_file: String::new(),
        }
    }
}

/// The instance's media store and the cache of remote media in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaConfig {
    /// Where media are kept; empty means `media/` in `server.data_dir`.
    pub dir: String,
    /// Largest remote file fetched, in MiB.
    pub max_remote_mb: u64,
    /// Size budget of the remote media cache, in MiB.
    pub remote_cache_mb: u64,
    /// Days a fetched remote file is kept.
    pub remote_cache_days: i64,
    /// Largest upload (an image), in MiB.
    pub max_upload_mb: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            dir: String::new(),
            max_remote_mb: 16,
            remote_cache_mb: 2048,
            remote_cache_days: 30,
            max_upload_mb: 16,
        }
    }
}

impl Config {
    pub fn media_dir(&self) -> PathBuf {
        if self.media.dir.is_empty() {
            self.server.data_dir.join("media")
        } else {
            PathBuf::from(&self.media.dir)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// A level ("info") or level and per-module levels ("info,guise_federation=debug").
    pub level: String,
    /// "text" (one readable line per event) or "json" (one JSON object per line).
    pub format: LogFormat,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            domain: "localhost:8080".into(),
            scheme: Scheme::Auto,
            name: "Guise".into(),
            description: "A fediverse server where every post picks its face.".into(),
            contact_email: String::new(),
            max_characters: 500,
            registrations_open: false,
            registrations_require_approval: false,
            tiers: vec![
                TierSetting::RealName,
                TierSetting::Pseudonymous,
                TierSetting::Anonymous,
            ],
            real_name_requires_verification: false,
            anonymous_face_per: FacePer::Thread,
            anonymous_top_level: true,
            anonymous_reset_cooldown_days: 14,
            anonymous_posts_per_epoch: 30,
            real_name_posts_per_epoch: 0,
            pseudonymous_posts_per_epoch: 0,
            anonymous_limit_epoch_secs: 3600,
            deletion_spread_secs: 86_400,
            staff_two_factor: true,
            anonymous_languages: Vec::new(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            max_body_bytes: 1024 * 1024,
            workers: 0,
            body_timeout_secs: 10,
            sign_in_attempts: 10,
            sign_in_window_secs: 300,
            trusted_proxies: vec!["127.0.0.0/8".into(), "::1/128".into()],
            worker: true,
            reuse_port: false,
        }
    }
}

/// Four connections per CPU core, at least four. More connections than
/// PostgreSQL has cores to run them does not make requests faster: they wait
/// in the CPU's run queue instead of the pool's, and the CPU's is not first
/// come, first served. On two cores shared with PostgreSQL, 16 connections
/// gave p99 latencies 3 to 5 times the median, 8 gave 2 to 2.5 times, with
/// more requests a second (docs/scaling.md, "The latency tail").
pub fn default_pool_size() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    (4 * cores).clamp(4, 64)
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            pool_size: default_pool_size(),
            allow_statement_logging: false,
            migrate_on_start: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Short environment names and the keys they stand for.
const SHORT_FORMS: &[(&str, &str, &str)] = &[
    ("GUISE_DATABASE_URL", "database", "url"),
    ("GUISE_REDIS_URL", "redis", "url"),
    ("GUISE_LISTEN", "server", "listen"),
    ("GUISE_DOMAIN", "instance", "domain"),
    ("GUISE_DATA_DIR", "server", "data_dir"),
];

/// Where `guise` looks for its configuration when neither `--config` nor
/// `GUISE_CONFIG` names a file (and the file exists), so that every command
/// run on a server reads what `guise serve` reads.
pub const DEFAULT_PATH: &str = "/etc/guise/guise.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}")]
    Parse(String),
    /// Every value that is wrong, each as `section.key = value: why`.
    #[error("the configuration is not valid:\n  {}", .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    /// Derived from another value (the domain from `server.listen`).
    Derived(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Env(n) => write!(f, "environment {n}"),
            Source::Derived(from) => write!(f, "from {from}"),
        }
    }
}

pub struct Loaded {
    pub config: Config,
    /// Keys that matched nothing, to report at start-up.
    pub unknown: Vec<String>,
    /// Where each value set other than by default came from, by `section.key`.
    pub sources: BTreeMap<String, Source>,
}

impl Loaded {
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key).unwrap_or(&Source::Default)
    }
}

impl Config {
    /// Reads `path` (if any), applies environment overrides from `env`,
    /// and checks every value: a wrong one is an error naming its key and
    /// what it may be, never a silent default.
    pub fn load(
        path: Option<&std::path::Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Loaded, ConfigError> {
        let mut sources = BTreeMap::new();
        let mut table: toml::Table = match path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_owned(), e))?;
                text.parse().map_err(|e: toml::de::Error| {
                    ConfigError::Parse(format!("{}: {e}", p.display()))
                })?
            }
            None => toml::Table::new(),
        };
        if let Some(p) = path {
            for (section, value) in &table {
                if let toml::Value::Table(t) = value {
                    for key in t.keys() {
                        sources.insert(format!("{section}.{key}"), Source::File(p.to_owned()));
                    }
                }
            }
        }
        let mut overrides: Vec<(String, String, String, String)> = Vec::new();
        for (name, value) in env {
            if let Some((_, section, key)) = SHORT_FORMS.iter().find(|(n, _, _)| n == name) {
                overrides.push((
                    name.clone(),
                    section.to_string(),
                    key.to_string(),
                    value.clone(),
                ));
            } else if let Some(rest) = name.strip_prefix("GUISE_") {
                if let Some((section, key)) = rest.split_once("__") {
                    overrides.push((
                        name.clone(),
                        section.to_ascii_lowercase(),
                        key.to_ascii_lowercase(),
                        value.clone(),
                    ));
                }
            }
        }
        for (name, section, key, value) in overrides {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                sources.insert(format!("{section}.{key}"), Source::Env(name));
                t.insert(key, env_value(&value));
            }
        }
        let unknown = unknown_keys(&table);
        let has = |section: &str, key: &str| table.get(section).and_then(|s| s.get(key)).is_some();
        let (domain_given, listen_given) = (has("instance", "domain"), has("server", "listen"));
        // Each value alone first, so that an error names its key (and every
        // wrong value is reported at once, not the first only).
        let mut problems = Vec::new();
        let mut wrong: Vec<(String, String)> = Vec::new();
        for (section, value) in &table {
            let toml::Value::Table(t) = value else {
                if !unknown.contains(section) {
                    problems.push(format!("[{section}] must be a table of keys"));
                }
                continue;
            };
            for (key, v) in t {
                if unknown.contains(&format!("{section}.{key}")) {
                    continue;
                }
                let mut one = toml::Table::new();
                one.insert(key.clone(), v.clone());
                let mut single = toml::Table::new();
                single.insert(section.clone(), toml::Value::Table(one));
                if let Err(e) = toml::Value::Table(single).try_into::<Config>() {
                    let why = e.message().trim_end().replace(
                        "expected one of ``, ",
                        "expected `` (http for localhost and loopback, https otherwise), ",
                    );
                    problems.push(format!("{section}.{key} = {v}: {why}"));
                    wrong.push((section.clone(), key.clone()));
                }
            }
        }
        // The rest is still checked, so one run names every wrong value.
        for (section, key) in &wrong {
            if let Some(toml::Value::Table(t)) = table.get_mut(section) {
                t.remove(key);
            }
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        // Started on another local address with no domain given, the public
        // address follows the listening one, so links point where it serves.
        if !domain_given && listen_given {
            config.instance.domain = config.server.listen.replace("0.0.0.0", "localhost");
            sources.insert("instance.domain".into(), Source::Derived("server.listen"));
        }
        problems.extend(config.problems());
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        Ok(Loaded {
            config,
            unknown,
            sources,
        })
    }

    /// What is wrong with the values themselves (each well-typed).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut bad = |key: &str, value: &dyn std::fmt::Debug, why: &str| {
            out.push(format!("{key} = {value:?}: {why}"));
        };
        let i = &self.instance;
        if let Err(why) = check_domain(&i.domain, true) {
            bad("instance.domain", &i.domain, &why);
        }
        if i.tiers.is_empty() {
            bad(
                "instance.tiers",
                &i.tiers,
                "at least one tier is needed, or nothing can be posted (\"real_name\", \"pseudonymous\", \"anonymous\")",
            );
        }
        if i.tiers
            .iter()
            .enumerate()
            .any(|(n, t)| i.tiers.iter().skip(n + 1).any(|u| u == t))
        {
            bad("instance.tiers", &i.tiers, "a tier is named twice");
        }
        if !i.contact_email.is_empty() && !looks_like_email(&i.contact_email) {
            bad(
                "instance.contact_email",
                &i.contact_email,
                "not an email address",
            );
        }
        for l in &i.anonymous_languages {
            let ok = (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase());
            if !ok {
                bad(
                    "instance.anonymous_languages",
                    l,
                    "an ISO 639 language code in lower case, like \"en\" or \"zh\"",
                );
            }
        }
        let s = &self.server;
        if s.listen.parse::<std::net::SocketAddr>().is_err() {
            bad(
                "server.listen",
                &s.listen,
                "an address and port, like \"127.0.0.1:8080\" or \"[::1]:8080\"",
            );
        }
        for p in &s.trusted_proxies {
            if crate::guard::cidr(p).is_none() {
                bad(
                    "server.trusted_proxies",
                    p,
                    "an address or network, like \"10.0.0.0/8\" or \"::1/128\"",
                );
            }
        }
        let d = &self.database;
        let postgres = d.url.starts_with("postgres://") || d.url.starts_with("postgresql://");
        if !d.url.is_empty() && !postgres {
            bad(
                "database.url",
                &redact_url(&d.url),
                "a postgres:// URL (or empty for the cluster ./dev run starts)",
            );
        }
        let r = &self.redis.url;
        if !r.is_empty()
            && !["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|p| r.starts_with(p))
        {
            bad(
                "redis.url",
                &redact_url(r),
                "a redis://, rediss:// or unix:// URL (or empty for none)",
            );
        }
        let m = &self.mail;
        if !m.from.is_empty() && !looks_like_email(&m.from) {
            bad("mail.from", &m.from, "not an email address");
        }
        if !m.smtp_host.is_empty() && check_domain(&m.smtp_host, false).is_err() {
            bad(
                "mail.smtp_host",
                &m.smtp_host,
                "a host name or address, without a port (that is mail.smtp_port)",
            );
        }
        let f = &self.federation;
        for (key, list) in [
            ("federation.blocked_domains", &f.blocked_domains),
            ("federation.trusted_verifiers", &f.trusted_verifiers),
        ] {
            for d in list {
                // Matched however spelled (case, a final dot, Unicode or xn--).
                let plain = d.trim_end_matches('.').to_lowercase();
                let host_only = !plain.contains([':', '/', '@', ' ']) && !plain.is_empty();
                if !host_only || url::Host::parse(&plain).is_err() {
                    bad(
                        key,
                        d,
                        "a domain name only, like \"bad.example\" (no scheme, port or path)",
                    );
                }
            }
        }
        if !f.extra_ca_file.is_empty() && !std::path::Path::new(&f.extra_ca_file).is_file() {
            bad(
                "federation.extra_ca_file",
                &f.extra_ca_file,
                "no such file (a PEM bundle of certificate authorities)",
            );
        }
        // Numbers and the least (and most) each may be.
        let (md, big) = (&self.media, i128::MAX);
        let n = |v: u64| i128::from(v);
        for (key, value, least, most) in [
            (
                "instance.max_characters",
                n(i.max_characters as u64),
                1,
                100_000,
            ),
            (
                "instance.anonymous_reset_cooldown_days",
                i128::from(i.anonymous_reset_cooldown_days),
                0,
                big,
            ),
            (
                "instance.anonymous_limit_epoch_secs",
                i128::from(i.anonymous_limit_epoch_secs),
                1,
                big,
            ),
            (
                "instance.deletion_spread_secs",
                i128::from(i.deletion_spread_secs),
                0,
                big,
            ),
            (
                "server.max_body_bytes",
                n(s.max_body_bytes as u64),
                256,
                big,
            ),
            ("server.body_timeout_secs", n(s.body_timeout_secs), 1, big),
            (
                "server.sign_in_attempts",
                n(u64::from(s.sign_in_attempts)),
                1,
                big,
            ),
            (
                "server.sign_in_window_secs",
                n(u64::from(s.sign_in_window_secs)),
                1,
                big,
            ),
            ("database.pool_size", n(d.pool_size as u64), 1, 1000),
            (
                "federation.key_pool_size",
                i128::from(f.key_pool_size),
                0,
                big,
            ),
            ("federation.worker_poll_ms", n(f.worker_poll_ms), 1, big),
            (
                "federation.delivery_lease_secs",
                i128::from(f.delivery_lease_secs),
                1,
                big,
            ),
            (
                "federation.retry_first_delay_secs",
                i128::from(f.retry_first_delay_secs),
                1,
                big,
            ),
            (
                "federation.delivery_concurrency",
                n(f.delivery_concurrency as u64),
                1,
                big,
            ),
            ("media.max_upload_mb", n(md.max_upload_mb), 1, big),
            ("media.max_remote_mb", n(md.max_remote_mb), 1, big),
            (
                "media.remote_cache_days",
                i128::from(md.remote_cache_days),
                1,
                big,
            ),
        ] {
            if value < least || value > most {
                let why = if most == big {
                    format!("must be {least} or more")
                } else {
                    format!("must be {least} to {most}")
                };
                bad(key, &value, &why);
            }
        }
        if let Err(why) = check_log_level(&self.log.level) {
            bad("log.level", &self.log.level, &why);
        }
        out
    }
}

impl Config {
    pub fn scheme(&self) -> &str {
        match self.instance.scheme {
            Scheme::Auto => {
                let host = self.instance.domain.split(':').next().unwrap_or("");
                if host == "localhost" || host.starts_with("127.") || host == "[::1]" {
                    "http"
                } else {
                    "https"
                }
            }
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// e.g. `https://guise.example`
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.instance.domain)
    }

    pub fn posting_rules(&self) -> guise_policy::PostingRules {
        guise_policy::PostingRules {
            max_characters: self.instance.max_characters,
            tiers_enabled: self.instance.tiers.iter().map(|t| t.tier()).collect(),
            real_name_requires_verification: self.instance.real_name_requires_verification,
            anonymous_top_level: self.instance.anonymous_top_level,
            announcer_needs_approval: self.federation.announcer_needs_approval,
        }
    }
}

/// A public host name, optionally with a port; `with_port` allows one.
fn check_domain(d: &str, with_port: bool) -> Result<(), String> {
    if d.contains("://") || d.contains('/') {
        return Err("a host name only, without scheme or path (like \"guise.example\")".into());
    }
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p))
            if with_port
                && !h.is_empty()
                && !p.contains(']')
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            (h, Some(p))
        }
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!("{p:?} is not a port"));
        }
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| "not an IPv6 address".into());
    }
    let labels_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if labels_ok {
        Ok(())
    } else {
        Err("not a host name (letters a-z in lower case, digits, '-' and '.'; non-ASCII names in their xn-- form)".into())
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && check_domain(domain, false).is_ok(),
        None => false,
    }
}

const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A log filter Guise accepts: a level, and optionally `module=level` pairs,
/// comma-separated. (A bare word is not taken as a module name: "loud"
/// would otherwise silence every line, the unknown-key warnings included.)
fn check_log_level(level: &str) -> Result<(), String> {
    let why = || {
        "a level (off, error, warn, info, debug, trace), optionally followed by module=level pairs, like \"info,guise_federation=debug\"".to_string()
    };
    if level.trim().is_empty() {
        return Err(why());
    }
    for directive in level.split(',').map(str::trim) {
        let level_ok = |l: &str| LEVELS.contains(&l.to_ascii_lowercase().as_str());
        let ok = match directive.split_once('=') {
            Some((module, l)) => {
                !module.is_empty()
                    && module
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                    && level_ok(l)
            }
            None => level_ok(directive),
        };
        if !ok {
            return Err(why());
        }
    }
    Ok(())
}

/// A URL with its password (if any) replaced, for printing.
pub fn redact_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => u.to_owned(),
    }
}

/// Environment values are strings; take booleans, numbers and TOML arrays as such.
fn env_value(s: &str) -> toml::Value {
    let trimmed = s.trim();
    if trimmed == "true"
        || trimmed == "false"
        || trimmed.starts_with('[')
        || trimmed.parse::<i64>().is_ok()
    {
        if let Ok(t) = format!("v = {trimmed}").parse::<toml::Table>() {
            if let Some(v) = t.get("v") {
                return v.clone();
            }
        }
    }
    toml::Value::String(s.to_owned())
}

fn unknown_keys(table: &toml::Table) -> Vec<String> {
    let known = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for (section, value) in table {
        match (known.get(section), value) {
            (Some(toml::Value::Table(k)), toml::Value::Table(v)) => {
                for key in v.keys() {
                    if !k.contains_key(key) {
                        out.push(format!("{section}.{key}"));
                    }
                }
            }
            _ => out.push(section.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn env_overrides_and_short_forms() {
        let l = Config::load(
            None,
            &env(&[
                ("GUISE_FEDERATION__ALLOW_PRIVATE_ADDRESSES", "true"),
                ("GUISE_DATABASE_URL", "postgres://x/y"),
                ("GUISE_LISTEN", "127.0.0.2:9000"),
                ("GUISE_DOMAIN", "a.example"),
                ("GUISE_INSTANCE__MAX_CHARACTERS", "1000"),
                ("GUISE_NOPE__THING", "1"),
                ("GUISE_INSTANCE__COLOUR", "red"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert!(l.config.federation.allow_private_addresses);
        assert_eq!(l.config.database.url, "postgres://x/y");
        assert_eq!(l.config.server.listen, "127.0.0.2:9000");
        assert_eq!(l.config.instance.max_characters, 1000);
        assert_eq!(l.config.base_url(), "https://a.example");
        let mut unknown = l.unknown.clone();
        unknown.sort();
        assert_eq!(
            unknown,
            vec!["instance.colour".to_string(), "nope".to_string()]
        );
    }

    #[test]
    fn the_domain_follows_the_listening_address_when_not_given() {
        let l = Config::load(None, &env(&[("GUISE_LISTEN", "127.0.0.1:18080")])).unwrap();
        assert_eq!(l.config.base_url(), "http://127.0.0.1:18080");
        let l = Config::load(
            None,
            &env(&[
                ("GUISE_LISTEN", "0.0.0.0:80"),
                ("GUISE_DOMAIN", "g.example"),
            ]),
        )
        .unwrap();
        assert_eq!(l.config.base_url(), "https://g.example");
    }

    #[test]
    fn defaults_serve_locally_over_http() {
        let l = Config::load(None, &BTreeMap::new()).unwrap();
        assert_eq!(l.config.base_url(), "http://localhost:8080");
        assert_eq!(l.config.server.listen, "127.0.0.1:8080");
        assert!(l.unknown.is_empty());
    }

    #[test]
    fn the_example_file_is_valid_and_complete() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guise.example.toml");
        let l = Config::load(Some(&path), &BTreeMap::new()).unwrap();
        assert!(
            l.unknown.is_empty(),
            "unknown keys in example: {:?}",
            l.unknown
        );
        // Every key is in it (and so documented), each from the file.
        let toml::Value::Table(all) = toml::Value::try_from(Config::default()).unwrap() else {
            panic!()
        };
        for (section, keys) in all {
            for key in keys.as_table().unwrap().keys() {
                let name = format!("{section}.{key}");
                assert_eq!(
                    l.source(&name),
                    &Source::File(path.clone()),
                    "{name} is missing from guise.example.toml"
                );
            }
        }
    }

    fn problems_of(text: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!("guise-config-{}", rand::random::<u64>()));
        std::fs::write(&dir, text).unwrap();
        let r = Config::load(Some(&dir), &BTreeMap::new());
        let _ = std::fs::remove_file(&dir);
        match r {
            Err(ConfigError::Invalid(p)) => p,
            Err(e) => vec![format!("other error: {e}")],
            Ok(_) => Vec::new(),
        }
    }

    /// Each wrong value is named with its key and what it may be, all in
    /// one run; none becomes a silent default.
    #[test]
    fn wrong_values_are_named_every_one() {
        let p = problems_of(
            r#"
[instance]
tiers = ["realname"]
scheme = "gopher"
anonymous_face_per = "forum"
domain = "https://x.example/"
[server]
listen = "nowhere"
trusted_proxies = ["10.0.0.0/33"]
[log]
level = "loud"
format = "xml"
"#,
        );
        let expect = [
            ("instance.tiers", "real_name"),
            ("instance.scheme", "https"),
            ("instance.anonymous_face_per", "thread"),
            ("instance.domain", "without scheme"),
            ("server.listen", "127.0.0.1:8080"),
            ("server.trusted_proxies", "10.0.0.0/8"),
            ("log.level", "debug"),
            ("log.format", "json"),
        ];
        assert_eq!(p.len(), expect.len(), "{p:#?}");
        for (key, hint) in expect {
            assert!(
                p.iter()
                    .any(|l| l.starts_with(&format!("{key} = ")) && l.contains(hint)),
                "{key} not named with {hint:?}: {p:#?}"
            );
        }
    }

    #[test]
    fn values_that_type_check_but_cannot_work_are_refused() {
        for (text, key) in [
            ("[instance]\ntiers = []", "instance.tiers"),
            (
                "[instance]\ntiers = [\"anonymous\", \"anonymous\"]",
                "instance.tiers",
            ),
            ("[instance]\ndomain = \"Guise.Example\"", "instance.domain"),
            (
                "[instance]\ndomain = \"guise.example:80800\"",
                "instance.domain",
            ),
            ("[instance]\nmax_characters = 0", "instance.max_characters"),
            (
                "[instance]\nanonymous_languages = [\"English\"]",
                "instance.anonymous_languages",
            ),
            (
                "[instance]\nanonymous_limit_epoch_secs = 0",
                "instance.anonymous_limit_epoch_secs",
            ),
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            ("[database]\npool_size = 0", "database.pool_size"),
            ("[redis]\nurl = \"http://x\"", "redis.url"),
            ("[mail]\nfrom = \"nobody\"", "mail.from"),
            ("[mail]\nsmtp_host = \"mail.example:25\"", "mail.smtp_host"),
            (
                "[federation]\nblocked_domains = [\"https://bad.example\"]",
                "federation.blocked_domains",
            ),
            (
                "[federation]\nextra_ca_file = \"/nonexistent/ca.pem\"",
                "federation.extra_ca_file",
            ),
            (
                "[federation]\ndelivery_concurrency = 0",
                "federation.delivery_concurrency",
            ),
            ("[log]\nlevel = \"info,guise=loud\"", "log.level"),
            ("[log]\nlevel = \"\"", "log.level"),
            (
                "[server]\nmax_characters = 5\nlisten = 8080",
                "server.listen",
            ),
        ] {
            let p = problems_of(text);
            assert!(
                p.len() == 1 && p[0].starts_with(&format!("{key} = ")),
                "{text:?} should name {key}: {p:#?}"
            );
        }
        for ok in [
            "[instance]\ndomain = \"[::1]:8080\"\ntiers = [\"pseudonymous\"]",
            "[instance]\ndomain = \"xn--bcher-kva.example\"\nscheme = \"http\"",
            "[log]\nlevel = \"warn,guise_federation=debug,actix_web=off\"\nformat = \"json\"",
            "[redis]\nurl = \"rediss://:pw@cache.example:6380/0\"",
            "[federation]\nblocked_domains = [\"Evil.Example.\", \"bücher.example\"]",
        ] {
            assert_eq!(problems_of(ok), Vec::<String>::new(), "{ok:?}");
        }
    }

    #[test]
    fn sources_say_where_each_value_came_from() {
        let path = std::env::temp_dir().join(format!("guise-config-{}", rand::random::<u64>()));
        std::fs::write(
            &path,
            "[instance]\nname = \"From file\"\nmax_characters = 600\n",
        )
        .unwrap();
        let l = Config::load(
            Some(&path),
            &env(&[
                ("GUISE_INSTANCE__MAX_CHARACTERS", "700"),
                ("GUISE_LISTEN", "127.0.0.1:9"),
            ]),
        )
        .unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(l.config.instance.max_characters, 700);
        assert_eq!(l.source("instance.name"), &Source::File(path.clone()));
        assert_eq!(
            l.source("instance.max_characters"),
            &Source::Env("GUISE_INSTANCE__MAX_CHARACTERS".into())
        );
        assert_eq!(
            l.source("instance.domain"),
            &Source::Derived("server.listen")
        );
        assert_eq!(l.source("server.workers"), &Source::Default);
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://guise:s3cret@db.example:5432/guise"),
            "postgres://guise:REDACTED@db.example:5432/guise"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        assert!(!redact_url("redis://:s3cret@cache/").contains("s3cret"));
    }
}
