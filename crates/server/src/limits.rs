//! Counters that span server processes: Redis when configured, an in-process
//! stand-in otherwise (one machine needs only PostgreSQL).
//!
//! Anonymous posting is limited per account without naming it (rule 5): the
//! key is `HMAC(k_anon, "limit" ‖ epoch)` in hex, and it expires with
//! `EXPIREAT` at the end of its epoch on a fixed grid, so neither the key
//! nor its remaining time says who posted or when their first post was.
//! Nor does its value say how many: it is `HMAC(k_anon, "limit-count" ‖
//! epoch ‖ n)`, which only the owner's key can tell apart from noise (by
//! trying n = 1 … limit). A dump of Redis thus shows how many people posted
//! anonymously in an epoch, but not how the epoch's posts divide among them.

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

/// Small values that expire at a Unix time, shared by every process.
pub enum Counters {
    Redis(deadpool_redis::Pool),
    InProcess(Mutex<HashMap<String, (String, i64)>>),
}

/// Sets KEYS[1] to ARGV[2] (expiring at ARGV[3]) only if it holds ARGV[1]
/// (the empty string: only if it is absent).
const CAS: &str = r"
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('EXPIREAT', KEYS[1], ARGV[3])
  return 1
end
return 0
";

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

    /// Whether Redis answers a PING: `None` with the in-process store.
    pub async fn ping(&self) -> Option<Result<(), CounterError>> {
        match self {
            Counters::InProcess(_) => None,
            Counters::Redis(pool) => Some(
                async {
                    let mut conn = pool.get().await.map_err(|e| CounterError(e.to_string()))?;
                    redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .map(|_| ())
                        .map_err(|e| CounterError(e.to_string()))
                }
                .await,
            ),
        }
    }

    /// The value under `key`, if any. `now` is the caller's clock, for the
    /// in-process store's expiry.
    pub async fn get(&self, key: &str, now: i64) -> Result<Option<String>, CounterError> {
        match self {
            Counters::Redis(pool) => {
                let mut conn = pool.get().await.map_err(|e| CounterError(e.to_string()))?;
                redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| CounterError(e.to_string()))
            }
            Counters::InProcess(map) => {
                let map = map.lock().map_err(|_| CounterError("poisoned".into()))?;
                Ok(map
                    .get(key)
                    .filter(|(_, exp)| *exp > now)
                    .map(|(v, _)| v.clone()))
            }
        }
    }

    /// Sets `key` to `new`, expiring at `expire_at`, if it still holds
    /// `expected` (`None`: if it is absent). Whether it did.
    pub async fn swap(
        &self,
        key: &str,
        expected: Option<&str>,
        new: &str,
        expire_at: i64,
        now: i64,
    ) -> Result<bool, CounterError> {
        match self {
            Counters::Redis(pool) => {
                let mut conn = pool.get().await.map_err(|e| CounterError(e.to_string()))?;
                let done: i64 = redis::cmd("EVAL")
                    .arg(CAS)
                    .arg(1)
                    .arg(key)
                    .arg(expected.unwrap_or(""))
                    .arg(new)
                    .arg(expire_at)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| CounterError(e.to_string()))?;
                Ok(done == 1)
            }
            Counters::InProcess(map) => {
                let mut map = map.lock().map_err(|_| CounterError("poisoned".into()))?;
                map.retain(|_, (_, exp)| *exp > now);
                if map.get(key).map(|(v, _)| v.as_str()) != expected {
                    return Ok(false);
                }
                map.insert(key.to_owned(), (new.to_owned(), expire_at));
                Ok(true)
            }
        }
    }
}

/// The limiter's key, its epoch number, and the epoch's end for `now`
/// (seconds since the Unix epoch).
pub fn anonymous_limit_key(k: &KAnon, now: i64, epoch_secs: i64) -> (String, i64, i64) {
    let epoch_secs = epoch_secs.max(1);
    let epoch = now.div_euclid(epoch_secs);
    (
        hex::encode(k.tag("limit", &epoch.to_be_bytes())),
        epoch,
        (epoch + 1) * epoch_secs,
    )
}

/// The stored form of "n anonymous actions in this epoch": noise without `k`.
fn count_value(k: &KAnon, epoch: i64, n: u64) -> String {
    let mut data = epoch.to_be_bytes().to_vec();
    data.extend_from_slice(&n.to_be_bytes());
    hex::encode(k.tag("limit-count", &data))
}

/// Takes one anonymous action (a post, a favourite) from the budget of the
/// owner of `k`: 429 past the instance's limit, 503 if the store is down.
pub async fn anonymous_budget(
    state: &crate::state::AppState,
    k: &KAnon,
) -> crate::error::ApiResult<()> {
    let limit = state.live().policy.anonymous_posts_per_epoch;
    if limit == 0 {
        return Ok(());
    }
    let epoch_secs = state.config.instance.anonymous_limit_epoch_secs;
    let now = state.clock.now().timestamp();
    let taken = take_anonymous(&state.counters, k, now, epoch_secs, limit).await;
    verdict(taken, || {
        format!(
            "Too many anonymous posts: at most {limit} per {} minutes",
            epoch_secs / 60
        )
    })
}

/// A budget's answer as the API gives it: 429 with `refusal` when spent,
/// 503 when the store is down.
fn verdict(
    taken: Result<bool, CounterError>,
    refusal: impl FnOnce() -> String,
) -> crate::error::ApiResult<()> {
    if taken.map_err(store_down)? {
        Ok(())
    } else {
        Err(crate::error::ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            refusal(),
        ))
    }
}

/// Takes one anonymous action from the owner of `k`'s budget for the epoch
/// of `now`: whether it was still under `limit`. A refused action changes
/// nothing.
pub async fn take_anonymous(
    counters: &Counters,
    k: &KAnon,
    now: i64,
    epoch_secs: i64,
    limit: u64,
) -> Result<bool, CounterError> {
    let (key, epoch, end) = anonymous_limit_key(k, now, epoch_secs);
    take(counters, &key, now, end, limit, |n| {
        count_value(k, epoch, n)
    })
    .await
}

/// Takes one post from a persistent face's budget for the epoch of `now`:
/// whether it was still under `limit`. The key names the face (whose posts
/// are public anyway) and its epoch; nothing of a login.
pub async fn take_face(
    counters: &Counters,
    face: i64,
    now: i64,
    epoch_secs: i64,
    limit: u64,
) -> Result<bool, CounterError> {
    let epoch = now.div_euclid(epoch_secs.max(1));
    let key = format!("limit-face:{face}:{epoch}");
    let end = (epoch + 1) * epoch_secs.max(1);
    take(counters, &key, now, end, limit, |n| n.to_string()).await
}

/// One step of a counter under `key` (until `end`) kept below `limit`;
/// `value(n)` is how "n so far" is stored. Compare-and-swap: racing
/// requests retry; a refused one changes nothing.
async fn take(
    counters: &Counters,
    key: &str,
    now: i64,
    end: i64,
    limit: u64,
    value: impl Fn(u64) -> String,
) -> Result<bool, CounterError> {
    for _ in 0..16 {
        let current = counters.get(key, now).await?;
        let n = match &current {
            None => 0,
            // A value that reads as no count (another limit's, say) counts as full.
            Some(v) => (1..=limit).find(|i| value(*i) == *v).unwrap_or(limit),
        };
        if n >= limit {
            return Ok(false);
        }
        if counters
            .swap(key, current.as_deref(), &value(n + 1), end, now)
            .await?
        {
            return Ok(true);
        }
    }
    Err(CounterError("a limit is contended".into()))
}

/// Takes one post from a persistent face's budget: 429 past its tier's
/// limit, 503 if the store is down. Anonymous faces are counted per login
/// instead (`anonymous_budget`).
pub async fn face_budget(
    state: &crate::state::AppState,
    face: &guise_core::models::Identity,
) -> crate::error::ApiResult<()> {
    let tier = face.tier();
    let limit = state.live().policy.posts_per_epoch(tier);
    if limit == 0 || tier == guise_policy::Tier::Anonymous {
        return Ok(());
    }
    let epoch_secs = state.config.instance.anonymous_limit_epoch_secs;
    let now = state.clock.now().timestamp();
    let taken = take_face(&state.counters, face.id, now, epoch_secs, limit).await;
    verdict(taken, || {
        format!(
            "Too many posts: a {} face may make at most {limit} per {} minutes",
            tier.as_str().replace('_', "-"),
            epoch_secs / 60
        )
    })
}

fn store_down(e: CounterError) -> crate::error::ApiError {
    tracing::error!(error = %e, "rate-limit store");
    crate::error::ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "Try again later",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_a_fixed_grid() {
        let k = KAnon::generate();
        let (a, _, end_a) = anonymous_limit_key(&k, 7_200, 3_600);
        let (b, _, end_b) = anonymous_limit_key(&k, 10_799, 3_600);
        let (c, _, end_c) = anonymous_limit_key(&k, 10_800, 3_600);
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
    async fn in_process_budgets_count_and_expire_and_say_nothing_of_the_count() {
        let c = Counters::in_process();
        let k = KAnon::generate();
        for _ in 0..3 {
            assert!(take_anonymous(&c, &k, 10, 100, 3).await.unwrap());
        }
        assert!(!take_anonymous(&c, &k, 50, 100, 3).await.unwrap());
        assert!(
            take_anonymous(&c, &k, 100, 100, 3).await.unwrap(),
            "a new epoch"
        );
        // Two owners' values look alike whatever their counts.
        let other = KAnon::generate();
        assert!(take_anonymous(&c, &other, 120, 100, 3).await.unwrap());
        let (ka, _, _) = anonymous_limit_key(&k, 120, 100);
        let (kb, _, _) = anonymous_limit_key(&other, 120, 100);
        let (va, vb) = (
            c.get(&ka, 120).await.unwrap().unwrap(),
            c.get(&kb, 120).await.unwrap().unwrap(),
        );
        assert_eq!((va.len(), vb.len()), (64, 64));
        assert!(va.parse::<u64>().is_err() && vb.parse::<u64>().is_err());
        assert!(c.swap("x", None, "1", 500, 120).await.unwrap());
        assert!(!c.swap("x", None, "2", 500, 120).await.unwrap());
        assert!(c.swap("x", Some("1"), "2", 500, 120).await.unwrap());
    }
}
