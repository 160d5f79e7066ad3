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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConfig {
    /// The public host name (a port is allowed in development).
    pub domain: String,
    /// "https" or "http"; empty means http for localhost/loopback, https otherwise.
    pub scheme: String,
    pub name: String,
    pub description: String,
    pub contact_email: String,
    pub max_characters: usize,
    pub registrations_open: bool,
    /// Tiers offered here: any of "real_name", "pseudonymous", "anonymous".
    pub tiers: Vec<String>,
    pub real_name_requires_verification: bool,
    /// "thread": one anonymous face per (account, thread), so a conversation
    /// stays readable; "post": a new anonymous face for every post.
    pub anonymous_face_per: String,
    /// Days anonymous posting pauses after a password reset that lost the
    /// anonymity key, so that a new key cannot shed a ban.
    pub anonymous_reset_cooldown_days: i64,
    /// Anonymous posts one login may make per epoch (0: no limit).
    pub anonymous_posts_per_epoch: u64,
    /// The epoch length in seconds; epochs sit on a fixed grid.
    pub anonymous_limit_epoch_secs: i64,
    /// Language tags anonymous posts may carry (any other is dropped). Empty:
    /// anonymous posts carry none.
    pub anonymous_languages: Vec<String>,
    /// When a login is deleted, its anonymous posts go one by one, each at a
    /// random time within this many seconds (and its faces' `Delete`s too).
    pub deletion_spread_secs: i64,
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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// postgres://… ; empty means the local cluster `./dev run` starts.
    pub url: String,
    pub pool_size: usize,
    /// Start even though PostgreSQL logs statements with their values (which
    /// would write what each request did, and for whom, next to the data).
    pub allow_statement_logging: bool,
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
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            allow_private_addresses: false,
            blocked_domains: Vec::new(),
            key_pool_size: 8,
            trusted_verifiers: Vec::new(),
            worker_poll_ms: 1000,
            delivery_lease_secs: 600,
            retry_first_delay_secs: 60,
            delivery_concurrency: 16,
            anonymous_announcer: true,
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
    /// A tracing filter, e.g. "info" or "guise=debug".
    pub level: String,
}

impl Default for InstanceConfig {
    fn default() -> Self {
        InstanceConfig {
            domain: "localhost:8080".into(),
            scheme: String::new(),
            name: "Guise".into(),
            description: "A fediverse server where every post picks its face.".into(),
            contact_email: String::new(),
            max_characters: 500,
            registrations_open: false,
            tiers: vec![
                "real_name".into(),
                "pseudonymous".into(),
                "anonymous".into(),
            ],
            real_name_requires_verification: false,
            anonymous_face_per: "thread".into(),
            anonymous_reset_cooldown_days: 14,
            anonymous_posts_per_epoch: 30,
            anonymous_limit_epoch_secs: 3600,
            deletion_spread_secs: 86_400,
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
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: String::new(),
            pool_size: 16,
            allow_statement_logging: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}")]
    Parse(String),
}

pub struct Loaded {
    pub config: Config,
    /// Keys that matched nothing, to report at start-up.
    pub unknown: Vec<String>,
}

impl Config {
    /// Reads `path` (if any), applies environment overrides from `env`.
    pub fn load(
        path: Option<&std::path::Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Loaded, ConfigError> {
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
        let mut overrides: Vec<(String, String, String)> = Vec::new();
        for (name, value) in env {
            if let Some((_, section, key)) = SHORT_FORMS.iter().find(|(n, _, _)| n == name) {
                overrides.push((section.to_string(), key.to_string(), value.clone()));
            } else if let Some(rest) = name.strip_prefix("GUISE_") {
                if let Some((section, key)) = rest.split_once("__") {
                    overrides.push((
                        section.to_ascii_lowercase(),
                        key.to_ascii_lowercase(),
                        value.clone(),
                    ));
                }
            }
        }
        for (section, key, value) in overrides {
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(key, env_value(&value));
            }
        }
        let unknown = unknown_keys(&table);
        let has = |section: &str, key: &str| table.get(section).and_then(|s| s.get(key)).is_some();
        let (domain_given, listen_given) = (has("instance", "domain"), has("server", "listen"));
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse(e.to_string()))?;
        // Started on another local address with no domain given, the public
        // address follows the listening one, so links point where it serves.
        if !domain_given && listen_given {
            config.instance.domain = config.server.listen.replace("0.0.0.0", "localhost");
        }
        Ok(Loaded { config, unknown })
    }

    pub fn scheme(&self) -> &str {
        match self.instance.scheme.as_str() {
            "" => {
                let host = self.instance.domain.split(':').next().unwrap_or("");
                if host == "localhost" || host.starts_with("127.") || host == "[::1]" {
                    "http"
                } else {
                    "https"
                }
            }
            s => s,
        }
    }

    /// e.g. `https://guise.example`
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.instance.domain)
    }

    pub fn posting_rules(&self) -> guise_policy::PostingRules {
        guise_policy::PostingRules {
            max_characters: self.instance.max_characters,
            tiers_enabled: self
                .instance
                .tiers
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect(),
            real_name_requires_verification: self.instance.real_name_requires_verification,
        }
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
    }
}
