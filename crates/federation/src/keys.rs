//! Key pairs for faces: made ahead of time into core's pool, so a face never
//! waits ~0.3 s for RSA-2048 at the moment it first needs one.

use guise_core::keys::KeyPair;
use guise_core::{CoreError, CoreResult, Db};

/// A fresh RSA-2048 pair (slow: run it off the async workers).
pub fn generate() -> CoreResult<KeyPair> {
    let k = activitypub_federation::http_signatures::generate_actor_keypair()
        .map_err(|e| CoreError::Internal(format!("key generation: {e}")))?;
    Ok(KeyPair {
        public_pem: k.public_key,
        private_pem: k.private_key,
    })
}

/// Keeps the pool at `target` pairs, forever; run it beside the server.
pub async fn fill_pool(db: Db, target: i64) {
    loop {
        let size = match db.conn().await {
            Ok(mut conn) => guise_core::keys::pool_size(&mut conn)
                .await
                .unwrap_or(target),
            Err(_) => target,
        };
        if size >= target {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            continue;
        }
        let pair = match tokio::task::spawn_blocking(generate).await {
            Ok(Ok(p)) => p,
            _ => {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
        };
        if let Ok(mut conn) = db.conn().await {
            if let Err(e) = guise_core::keys::add_to_pool(&mut conn, &pair).await {
                tracing::warn!(error = %e, "key pool");
            }
        }
    }
}
