//! The live rules in force in this process: the domain rules (the
//! configuration file's blocks and the admin API's), the incoming policy
//! chain's rules, the IP blocks and the instance policy, all in PostgreSQL, each reloaded whenever its
//! `live_versions` number moves — checked once a second by every `guise
//! serve` and `guise worker`, and at once by the process that made a change.

use crate::state::AppState;
use guise_core::CoreResult;
use guise_federation::fetch::DomainRules;
use std::time::Duration;

/// Reads the rules (and the version they are at) and applies them here.
pub async fn reload(state: &AppState) -> CoreResult<i64> {
    let mut conn = state.db.conn().await?;
    // The version first: a change landing between the two reads moves it
    // again, so the next check loads once more.
    let version = guise_core::domains::version(&mut conn).await?;
    let blocks = guise_core::domains::blocks(&mut conn).await?;
    let allows = if state.config.federation.limited {
        Some(
            guise_core::domains::allows(&mut conn)
                .await?
                .into_iter()
                .map(|a| a.domain)
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let mut suspended = state.config.federation.blocked_domains.clone();
    let mut reject_media = Vec::new();
    let mut reject_reports = Vec::new();
    for b in blocks {
        if b.reject_reports {
            reject_reports.push(b.domain.clone());
        }
        if b.severity == "suspend" {
            suspended.push(b.domain.clone());
        }
        if b.reject_media {
            reject_media.push(b.domain);
        }
    }
    state.fetcher.set_domain_rules(
        DomainRules::new(&suspended, &reject_media, allows.as_deref())
            .rejecting_reports(&reject_reports),
    );
    Ok(version)
}

/// Reads the incoming policy chain's rules and applies them here. A
/// stored rule that no longer parses is skipped (and said so).
pub async fn reload_incoming(state: &AppState) -> CoreResult<i64> {
    let mut conn = state.db.conn().await?;
    let version = guise_core::policy_rules::version(&mut conn).await?;
    let mut rules = Vec::new();
    for stored in guise_core::policy_rules::all(&mut conn).await? {
        match stored.rule() {
            Ok(r) => rules.push(r),
            Err(e) => tracing::warn!(rule = stored.id, error = %e, "an incoming rule was skipped"),
        }
    }
    let rules = std::sync::Arc::new(rules);
    match state.incoming.write() {
        Ok(mut r) => *r = rules,
        Err(poisoned) => *poisoned.into_inner() = rules,
    }
    Ok(version)
}

/// Reads the admin's IP blocks and hands them to the password guard here.
pub async fn reload_ip_blocks(state: &AppState) -> CoreResult<i64> {
    let mut conn = state.db.conn().await?;
    let version = guise_core::domains::ip_version(&mut conn).await?;
    let rules = guise_core::domains::ip_blocks(&mut conn)
        .await?
        .iter()
        .filter_map(|b| crate::guard::IpRule::parse(&b.ip, b.severity == "no_access", b.expires_at))
        .collect();
    state.passwords.set_ip_rules(rules);
    Ok(version)
}

/// Keeps this process's rules current, for as long as it runs.
pub async fn watch(state: AppState) {
    // What each kind was loaded at, by its name in `live_versions`.
    let mut loaded: std::collections::HashMap<String, i64> = Default::default();
    loop {
        // One read of every number a second; the connection goes back
        // before anything is reloaded.
        let seen = match state.db.conn().await {
            Ok(mut conn) => guise_core::policies::live_versions(&mut conn)
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        for (name, version) in seen {
            if loaded.get(&name) == Some(&version) {
                continue;
            }
            // Each reload reads its number again before its rows: a change
            // landing meanwhile moves it once more, so it is read again.
            let done = match name.as_str() {
                "domains" => reload(&state).await.map(drop),
                "incoming_rules" => reload_incoming(&state).await.map(drop),
                "ip_blocks" => reload_ip_blocks(&state).await.map(drop),
                "policy" => crate::policy::reload(&state).await.map(drop),
                _ => Ok(()),
            };
            match done {
                Ok(()) => {
                    loaded.insert(name, version);
                }
                Err(e) => tracing::warn!(kind = %name, error = %e, "could not reload live rules"),
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
