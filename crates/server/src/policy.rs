//! The instance and tier policy in force: which tiers are on, real-name
//! verification, anonymous faces per thread or per post, whether anonymous
//! posts may start threads, the posting limits of each tier, sign-ups (and
//! whether they wait for approval), the
//! character limit, whose real-name verifications are trusted, and
//! whether the shared announcer waits for a moderator's approval.
//!
//! The configuration file's values are the first version; admins change
//! it over the admin API, each change a new version in PostgreSQL
//! (`instance_policies`), applied at once in the process that made it and
//! within a second in every other (`domain_rules::watch`). Once a version
//! exists, the database's policy wins over the file's values for these
//! keys.

use crate::config::{Config, FacePer, TierSetting};
use crate::state::AppState;
use guise_core::CoreResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstancePolicy {
    pub tiers: Vec<TierSetting>,
    pub real_name_requires_verification: bool,
    pub anonymous_face_per: FacePer,
    pub anonymous_top_level: bool,
    /// Anonymous posts one login may make per epoch (0: no limit).
    pub anonymous_posts_per_epoch: u64,
    /// Posts one real-name face may make per epoch (0: no limit; absent
    /// in versions written before it existed).
    #[serde(default)]
    pub real_name_posts_per_epoch: u64,
    /// Posts one pseudonymous face may make per epoch (0: no limit).
    #[serde(default)]
    pub pseudonymous_posts_per_epoch: u64,
    pub registrations_open: bool,
    /// Open sign-ups wait for a moderator's approval (absent in versions
    /// written before it existed: no approval).
    #[serde(default)]
    pub registrations_require_approval: bool,
    pub max_characters: usize,
    /// Domains whose "verified real name" claims are shown as verified.
    pub trusted_verifiers: Vec<String>,
    /// The shared announcer boosts an anonymous thread only once a
    /// moderator approves it (absent in older versions: at once).
    #[serde(default)]
    pub announcer_needs_approval: bool,
}

impl InstancePolicy {
    /// The configuration file's values.
    pub fn from_config(c: &Config) -> InstancePolicy {
        let i = &c.instance;
        InstancePolicy {
            tiers: i.tiers.clone(),
            real_name_requires_verification: i.real_name_requires_verification,
            anonymous_face_per: i.anonymous_face_per,
            anonymous_top_level: i.anonymous_top_level,
            anonymous_posts_per_epoch: i.anonymous_posts_per_epoch,
            real_name_posts_per_epoch: i.real_name_posts_per_epoch,
            pseudonymous_posts_per_epoch: i.pseudonymous_posts_per_epoch,
            registrations_open: i.registrations_open,
            registrations_require_approval: i.registrations_require_approval,
            max_characters: i.max_characters,
            trusted_verifiers: c.federation.trusted_verifiers.clone(),
            announcer_needs_approval: c.federation.announcer_needs_approval,
        }
    }

    /// What is wrong with it, if anything (every problem, one per line).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.tiers.is_empty() {
            out.push("tiers: at least one tier is needed".to_owned());
        }
        if self
            .tiers
            .iter()
            .enumerate()
            .any(|(n, t)| self.tiers.iter().skip(n + 1).any(|u| u == t))
        {
            out.push("tiers: a tier is named twice".to_owned());
        }
        if !(1..=100_000).contains(&self.max_characters) {
            out.push("max_characters: from 1 to 100000".to_owned());
        }
        for d in &self.trusted_verifiers {
            if guise_federation::fetch::normalize_domain(d).is_none_or(|n| n.contains(':')) {
                out.push(format!("trusted_verifiers: {d:?} is not a domain name"));
            }
        }
        out
    }

    /// How many posts a face of `tier` may make per epoch (0: no limit).
    /// The anonymous limit counts per login, the others per face.
    pub fn posts_per_epoch(&self, tier: guise_policy::Tier) -> u64 {
        match tier {
            guise_policy::Tier::RealName => self.real_name_posts_per_epoch,
            guise_policy::Tier::Pseudonymous => self.pseudonymous_posts_per_epoch,
            guise_policy::Tier::Anonymous => self.anonymous_posts_per_epoch,
        }
    }

    pub fn offers(&self, tier: guise_policy::Tier) -> bool {
        self.tiers.iter().any(|t| t.tier() == tier)
    }

    pub fn posting_rules(&self) -> guise_policy::PostingRules {
        guise_policy::PostingRules {
            max_characters: self.max_characters,
            tiers_enabled: self.tiers.iter().map(|t| t.tier()).collect(),
            real_name_requires_verification: self.real_name_requires_verification,
            anonymous_top_level: self.anonymous_top_level,
            announcer_needs_approval: self.announcer_needs_approval,
        }
    }
}

/// The policy in force, with the posting rules made from it.
#[derive(Debug, Clone)]
pub struct Live {
    pub version: i64,
    pub policy: InstancePolicy,
    pub rules: std::sync::Arc<guise_policy::PostingRules>,
}

impl Live {
    pub fn new(version: i64, policy: InstancePolicy) -> Live {
        let rules = std::sync::Arc::new(policy.posting_rules());
        Live {
            version,
            policy,
            rules,
        }
    }
}

/// Reads the newest version (making the file's values the first one if
/// there is none) and applies it here.
pub async fn reload(state: &AppState) -> CoreResult<i64> {
    let mut conn = state.db.conn().await?;
    let first = serde_json::to_value(InstancePolicy::from_config(&state.config))
        .map_err(|e| guise_core::CoreError::Internal(e.to_string()))?;
    let (version, doc) =
        guise_core::policies::current_or_first(&mut conn, state.clock.as_ref(), &first).await?;
    let policy = match serde_json::from_value::<InstancePolicy>(doc) {
        Ok(p) if p.problems().is_empty() => p,
        // A version this build cannot read: keep what is in force.
        Ok(_) | Err(_) => {
            tracing::warn!(
                version,
                "the stored instance policy could not be read; kept the one in force"
            );
            return Ok(version);
        }
    };
    state.set_live(Live::new(version, policy));
    Ok(version)
}
