//! The server's own timed jobs, beside the delivery worker: scheduled
//! posts are published when due, Web Push notifications are sent,
//! uploads never attached (or left by a deleted post) are removed,
//! counter deltas are folded into the per-face counters, suspensions
//! whose day has come are lifted, and the incoming policy's decisions are
//! forgotten after 90 days. Each runs in
//! `guise serve` and in `guise worker`; row locks keep two processes from doing one job twice.

use crate::state::AppState;

/// One round: publishes what is due. What it did.
pub async fn run_once(
    state: &AppState,
) -> guise_core::CoreResult<guise_core::scheduled::Published> {
    let mut conn = state.db.conn().await?;
    guise_core::scheduled::publish_due(&mut conn, &state.ctx(), 32).await
}

/// Deltas a second above which the fold runs ten times a second.
const BUSY_FOLD: i64 = 64;

/// Folds counter deltas until the process ends: once a second, or ten
/// times a second while deltas arrive faster than [`BUSY_FOLD`] a second. Reading a face's counters sums its pending
/// deltas, so a busy face's pile is kept short: at 900 posts a second a
/// once-a-second fold let some 450 rows wait on average (0.15 ms of every
/// read of that face), a tenth of a second about 45.
pub async fn fold(state: AppState) {
    let mut pause_ms: i64 = 1000;
    loop {
        let folded = match state.db.conn().await {
            Ok(mut conn) => match guise_core::social::fold_stat_deltas(&mut conn).await {
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(folded = n, "counter deltas");
                    }
                    n
                }
                Err(e) => {
                    tracing::warn!(error = %e, "counter deltas");
                    0
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "counter deltas");
                0
            }
        };
        // The rate over the pause just slept, so a fast cadence is kept
        // exactly as long as the rate that earned it.
        pause_ms = if folded * 1000 > BUSY_FOLD * pause_ms {
            100
        } else {
            1000
        };
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms.unsigned_abs())).await;
    }
}

/// Dead rows above which a churned table (`db::CHURNED`) is vacuumed,
/// checked every ten seconds.
const CHURN: i64 = 1_000;

/// Runs the jobs until the process ends, one round a second (uploads
/// once a minute).
pub async fn run(state: AppState) {
    let mut round: u64 = 0;
    loop {
        round += 1;
        if round % 5 == 1 {
            match crate::mastodon_api::polls::end_due(&state).await {
                Ok(n) if n > 0 => tracing::info!(ended = n, "polls"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "polls"),
            }
        }
        if round.is_multiple_of(10) {
            match state.db.conn().await {
                Ok(mut conn) => match guise_core::db::vacuum_churned(&mut conn, CHURN).await {
                    Ok(t) if !t.is_empty() => tracing::debug!(tables = ?t, "vacuumed"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "vacuuming churned tables"),
                },
                Err(e) => tracing::warn!(error = %e, "vacuuming churned tables"),
            }
        }
        if round % 60 == 1 {
            match state.db.conn().await {
                Ok(mut conn) => {
                    match guise_core::push::sweep(&mut conn, state.clock.as_ref()).await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "dead push subscriptions"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "dead push subscriptions"),
                    }
                    match guise_core::moderation::lift_lapsed(&mut conn, state.clock.as_ref()).await
                    {
                        Ok(n) if n > 0 => tracing::info!(lifted = n, "lapsed suspensions"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "lapsed suspensions"),
                    }
                    match guise_core::policy_rules::prune(&mut conn, state.clock.as_ref()).await {
                        Ok(n) if n > 0 => tracing::info!(removed = n, "old policy decisions"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "old policy decisions"),
                    }
                }
                Err(e) => tracing::warn!(error = %e, "dead push subscriptions"),
            }
            match crate::mastodon_api::media::sweep(&state).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "unattached uploads"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "unattached uploads"),
            }
        }
        match crate::mastodon_api::push::send_due(&state).await {
            Ok(n) if n > 0 => tracing::debug!(tried = n, "web push"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "web push"),
        }
        match run_once(&state).await {
            Ok(p) if p.published + p.dropped > 0 => {
                tracing::info!(
                    published = p.published,
                    dropped = p.dropped,
                    "scheduled posts"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled posts"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
