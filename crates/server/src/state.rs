//! What every handler shares: the pool, the clock, the configuration.

use crate::config::Config;
use crate::limits::Counters;
use guise_core::{Db, SharedClock};
use guise_policy::PostingRules;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    /// The instance and tier policy in force (`policy::reload` keeps it
    /// current): read it with `live()`.
    pub live: Arc<std::sync::RwLock<Arc<crate::policy::Live>>>,
    pub base_url: Arc<str>,
    pub counters: Arc<Counters>,
    /// Outbound fetches, guarded against private addresses (unless allowed).
    pub fetcher: Arc<guise_federation::fetch::Fetcher>,
    /// The instance's one media store (cached remote media; uploads later).
    pub media_store: Arc<dyn guise_core::media::MediaStore>,
    /// At most one fetch of a remote key's document per minute.
    pub key_fetches: Arc<crate::guard::Recent<guise_federation::remote::RemoteActor>>,
    /// Bounds password checks (in memory only).
    pub passwords: Arc<crate::guard::PasswordGuard>,
    /// Signs media proxy URLs: set from the instance key at start-up, else random.
    pub media_key: Arc<std::sync::OnceLock<[u8; 32]>>,
    /// This process's live streams.
    pub hub: Arc<crate::streaming::Hub>,
    /// The instance's VAPID key, read (or made) on first use.
    pub vapid: Arc<tokio::sync::OnceCell<Arc<guise_federation::webpush::Vapid>>>,
    /// The id of the web face's own app, read (or made) on first use.
    pub web_app_id: Arc<tokio::sync::OnceCell<i64>>,
    /// The incoming policy chain's rules in force (`domain_rules` keeps
    /// them current).
    pub incoming: Arc<std::sync::RwLock<Arc<Vec<guise_policy::incoming::Rule>>>>,
    /// The tokens this process opened (`kept`): used only while
    /// `kept::listen` hears changes.
    pub tokens: Arc<crate::kept::Tokens>,
    /// Remote actors whose signatures this process checked, with their
    /// parsed keys (`kept`), likewise.
    pub senders: Arc<crate::kept::Senders>,
    /// Plain remote notes written many to a statement (`ingest`).
    pub ingest: Arc<crate::ingest::Batcher>,
}

impl AppState {
    /// Redis when `redis.url` is set, else the in-process stand-in.
    pub fn new(
        db: Db,
        clock: SharedClock,
        config: Config,
    ) -> Result<AppState, crate::limits::CounterError> {
        let counters = if config.redis.url.is_empty() {
            Counters::in_process()
        } else {
            Counters::redis(&config.redis.url)?
        };
        let extra_ca = match config.federation.extra_ca_file.as_str() {
            "" => None,
            path => Some(std::fs::read(path).map_err(|e| {
                crate::limits::CounterError::other(format!("federation.extra_ca_file {path}: {e}"))
            })?),
        };
        let fetcher = guise_federation::fetch::Fetcher::trusting(
            config.federation.allow_private_addresses,
            1024 * 1024,
            Arc::new(guise_federation::fetch::SystemLookup),
            clock.clone(),
            extra_ca.as_deref(),
        )
        .map_err(|e| crate::limits::CounterError::other(e.to_string()))?;
        fetcher.block_domains(config.federation.blocked_domains.clone());
        let passwords = Arc::new(crate::guard::PasswordGuard::new(
            clock.clone(),
            config.server.sign_in_attempts,
            config.server.sign_in_window_secs,
            &config.server.trusted_proxies,
        ));
        let media_store: Arc<dyn guise_core::media::MediaStore> =
            Arc::new(guise_core::media::DirStore::new(config.media_dir()));
        let key_fetches = Arc::new(crate::guard::Recent::new(
            clock.clone(),
            std::time::Duration::from_secs(60),
        ));
        let hub = Arc::new(
            crate::streaming::Hub::new(&config.redis.url, &config.instance.domain)
                .map_err(|e| crate::limits::CounterError::other(e.to_string()))?,
        );
        Ok(AppState {
            tokens: Arc::new(crate::kept::Kept::new(clock.clone())),
            senders: Arc::new(crate::kept::Kept::new(clock.clone())),
            ingest: Arc::default(),
            hub,
            vapid: Arc::new(tokio::sync::OnceCell::new()),
            web_app_id: Arc::new(tokio::sync::OnceCell::new()),
            incoming: Arc::default(),
            db,
            key_fetches,
            media_store,
            passwords,
            clock,
            fetcher: Arc::new(fetcher),
            media_key: Arc::new(std::sync::OnceLock::new()),
            counters: Arc::new(counters),
            live: Arc::new(std::sync::RwLock::new(Arc::new(crate::policy::Live::new(
                0,
                crate::policy::InstancePolicy::from_config(&config),
            )))),
            base_url: config.base_url().into(),
            config: Arc::new(config),
        })
    }

    /// The incoming policy chain's rules in force.
    pub fn incoming_rules(&self) -> Arc<Vec<guise_policy::incoming::Rule>> {
        match self.incoming.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// What the worker needs to keep the remote media cache.
    pub fn media_work(&self) -> guise_federation::media::MediaWork {
        let m = &self.config.media;
        guise_federation::media::MediaWork {
            store: self.media_store.clone(),
            max_bytes: usize::try_from(m.max_remote_mb.saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX),
            budget: i64::try_from(m.remote_cache_mb.saturating_mul(1024 * 1024))
                .unwrap_or(i64::MAX),
            max_age: chrono::Duration::days(m.remote_cache_days.max(1)),
        }
    }

    /// The instance's VAPID key (Web Push).
    pub async fn vapid(&self) -> guise_core::CoreResult<Arc<guise_federation::webpush::Vapid>> {
        self.vapid
            .get_or_try_init(|| async {
                let mut conn = self.db.conn().await?;
                Ok(Arc::new(
                    guise_federation::webpush::Vapid::load(&mut conn).await?,
                ))
            })
            .await
            .cloned()
    }

    /// The id of the web face's app (its sessions are this app's tokens).
    pub async fn web_app_id(&self) -> guise_core::CoreResult<i64> {
        self.web_app_id
            .get_or_try_init(|| async {
                let mut conn = self.db.conn().await?;
                Ok(guise_core::oauth::web_app(&mut conn, self.clock.as_ref())
                    .await?
                    .id)
            })
            .await
            .copied()
    }

    pub fn media_key(&self) -> &[u8; 32] {
        self.media_key.get_or_init(rand::random)
    }

    /// The instance and tier policy in force.
    pub fn live(&self) -> Arc<crate::policy::Live> {
        match self.live.read() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn set_live(&self, live: crate::policy::Live) {
        let live = Arc::new(live);
        match self.live.write() {
            Ok(mut l) => *l = live,
            Err(poisoned) => *poisoned.into_inner() = live,
        }
    }

    /// The posting rules in force.
    pub fn rules(&self) -> Arc<PostingRules> {
        self.live().rules.clone()
    }

    pub fn face_per(&self) -> guise_core::anon::FacePer {
        if self.live().policy.anonymous_face_per == crate::config::FacePer::Post {
            guise_core::anon::FacePer::Post
        } else {
            guise_core::anon::FacePer::Thread
        }
    }

    /// The language tag an anonymous post may carry: none, unless the
    /// instance allows it in `instance.anonymous_languages`. A client's
    /// language (often the device's) is one more trait that could pair an
    /// anonymous post with its author's other posts.
    pub fn anonymous_language(&self, asked: Option<String>) -> Option<String> {
        asked.filter(|l| {
            self.config
                .instance
                .anonymous_languages
                .iter()
                .any(|a| a.eq_ignore_ascii_case(l))
        })
    }

    pub fn domain(&self) -> &str {
        &self.config.instance.domain
    }

    pub fn ctx(&self) -> guise_core::statuses::Ctx<'_> {
        guise_core::statuses::Ctx {
            clock: self.clock.as_ref(),
            rules: self.rules(),
            base_url: &self.base_url,
        }
    }
}
