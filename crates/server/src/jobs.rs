//! The server's own timed jobs, beside the delivery worker: scheduled
//! posts are published when due. Each runs in `guise serve` and in
//! `guise worker`; row locks keep two processes from doing one job twice.

use crate::state::AppState;

/// One round: publishes what is due. What it did.
pub async fn run_once(
    state: &AppState,
) -> guise_core::CoreResult<guise_core::scheduled::Published> {
    let mut conn = state.db.conn().await?;
    guise_core::scheduled::publish_due(&mut conn, &state.ctx(), 32).await
}

/// Runs the jobs until the process ends, one round a second.
pub async fn run(state: AppState) {
    loop {
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
