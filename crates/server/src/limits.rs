//! Counters that span server processes: Redis when configured, an in-process
//! stand-in otherwise (one machine needs only PostgreSQL).
//!
//! Anonymous posting is limited per account without naming it (rule 5): the
//! key is `HMAC(k_anon, "limit" ‖ epoch)` in hex, and it expires with
//! `EXPIREAT` at the end of its epoch on a fixed grid, so neither the key
//! nor its remaining time says who posted or when their first post was.

use guise_core::seal::KAnon;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
#[error("counter store: {0}")]
pub struct CounterError(String);

impl CounterError {
    /// Start-up failures of other shared parts, reported the same way.
    pub fn other(msg: String) -> CounterError {
        CounterError(msg)
    }
}

/// Increments `key` and makes it expire at the Unix time `expire_at`.
pub enum Counters {
    Redis(deadpool_redis::Pool),
    InProcess(Mutex<HashMap<String, (u64, i64)>>),
}

impl Counters {
    pub fn in_process() -> Counters {
        Counters::InProcess(Mutex::new(HashMap::new()))
    }

    pub fn redis(url: &str) -> Result<Counters, CounterError> {
        let pool = deadpool_redis::Config::from_url(url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| CounterError(e.to_string()))?;
        Ok(Counters::Redis(pool))
    }

    /// The count after this increment. `now` is the caller's clock, for the
    /// in-process store's expiry.
    pub async fn incr(&self, key: &str, expire_at: i64, now: i64) -> Result<u64, CounterError> {
        match self {
            Counters::Redis(pool) => {
                let mut conn = pool.get().await.map_err(|e| CounterError(e.to_string()))?;
                let (n, _): (u64, i64) = redis::pipe()
                    .atomic()
                    .incr(key, 1u64)
                    .expire_at(key, expire_at)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| CounterError(e.to_string()))?;
                Ok(n)
            }
            Counters::InProcess(map) => {
                let mut map = map.lock().map_err(|_| CounterError("poisoned".into()))?;
                map.retain(|_, (_, exp)| *exp > now);
                let entry = map.entry(key.to_owned()).or_insert((0, expire_at));
                entry.0 += 1;
                entry.1 = expire_at;
                Ok(entry.0)
            }
        }
    }
}

/// The limiter's key and its epoch's end for `now` (seconds since the epoch).
pub fn anonymous_limit_key(k: &KAnon, now: i64, epoch_secs: i64) -> (String, i64) {
    let epoch_secs = epoch_secs.max(1);
    let epoch = now.div_euclid(epoch_secs);
    (
        hex::encode(k.tag("limit", &epoch.to_be_bytes())),
        (epoch + 1) * epoch_secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_a_fixed_grid() {
        let k = KAnon::generate();
        let (a, end_a) = anonymous_limit_key(&k, 7_200, 3_600);
        let (b, end_b) = anonymous_limit_key(&k, 10_799, 3_600);
        let (c, end_c) = anonymous_limit_key(&k, 10_800, 3_600);
        assert_eq!(a, b);
        assert_eq!(end_a, 10_800);
        assert_eq!(end_b, 10_800);
        assert_ne!(b, c);
        assert_eq!(end_c, 14_400);
        assert_eq!(a.len(), 64);
        assert_ne!(
            anonymous_limit_key(&KAnon::generate(), 7_200, 3_600).0,
            a,
            "another key, another name"
        );
    }

    #[tokio::test]
    async fn in_process_counts_and_expires() {
        let c = Counters::in_process();
        assert_eq!(c.incr("k", 100, 10).await.unwrap(), 1);
        assert_eq!(c.incr("k", 100, 50).await.unwrap(), 2);
        assert_eq!(c.incr("k", 200, 100).await.unwrap(), 1, "expired at 100");
    }
}
