//! Small sealed slots kept outside the database for "Anonymous" and "All my
//! faces" tokens: markers and the read state of anonymous conversations. A
//! slot's name is a MAC under the login's `k_anon` and its value is sealed
//! under it, in Redis (or the process's memory), so nothing at rest names
//! the login or moves each time its owner reads. Slots expire on a fixed
//! 90-day grid: the expiry says nothing of when they were written.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use guise_core::seal::KAnon;
use zeroize::Zeroizing;

pub struct Slot {
    key: String,
    slot: Vec<u8>,
}

impl Slot {
    /// The slot `name` of kind `label` (which keeps kinds apart).
    pub fn new(k: &KAnon, label: &str, name: &str) -> Slot {
        let slot = name.as_bytes().to_vec();
        Slot {
            key: hex::encode(k.tag(label, &slot)),
            slot,
        }
    }
}

fn expiry(now: i64) -> i64 {
    const GRID: i64 = 90 * 86_400;
    (now.div_euclid(GRID) + 2) * GRID
}

fn store_down(e: crate::limits::CounterError) -> ApiError {
    tracing::error!(error = %e, "sealed store");
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
    )
}

/// The stored value as held (for a later swap) and opened.
async fn read_raw(
    state: &AppState,
    k: &KAnon,
    s: &Slot,
) -> ApiResult<(Option<String>, Option<Zeroizing<Vec<u8>>>)> {
    let now = state.clock.now().timestamp();
    let stored = state.counters.get(&s.key, now).await.map_err(store_down)?;
    let plain = stored
        .as_deref()
        .and_then(|v| k.open(&s.slot, &hex::decode(v).ok()?));
    Ok((stored, plain))
}

/// The slot's plaintext, if any.
pub async fn read(state: &AppState, k: &KAnon, s: &Slot) -> ApiResult<Option<Zeroizing<Vec<u8>>>> {
    Ok(read_raw(state, k, s).await?.1)
}

/// Writes `next(old)` into the slot, compare-and-set, so two devices do not
/// undo each other; returns what was written.
pub async fn update(
    state: &AppState,
    k: &KAnon,
    s: &Slot,
    mut next: impl FnMut(Option<&[u8]>) -> Vec<u8>,
) -> ApiResult<Vec<u8>> {
    for _ in 0..8 {
        let (stored, old) = read_raw(state, k, s).await?;
        let plain = next(old.as_deref().map(|v| v.as_slice()));
        let value = hex::encode(k.seal(&s.slot, &plain));
        let now = state.clock.now().timestamp();
        let done = state
            .counters
            .swap(&s.key, stored.as_deref(), &value, expiry(now), now)
            .await
            .map_err(store_down)?;
        if done {
            return Ok(plain);
        }
    }
    Err(ApiError::new(
        actix_web::http::StatusCode::CONFLICT,
        "It changed meanwhile; try again",
    ))
}
