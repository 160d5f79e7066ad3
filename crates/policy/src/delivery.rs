//! Delivery decisions: what a remote inbox's answer means, when to try
//! again, and when a host counts as unavailable. Time is passed in (Unix
//! seconds), never read here.

/// What to do with a delivery after one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry(&'static str),
    Drop(&'static str),
}

/// Classifies an inbox's answer; `None` is a network error or time-out.
/// Unlike `activitypub_federation`'s send step, most 4xx are failures, not
/// successes: only 401 (the receiver may not have our key yet), 408 and 429
/// are worth another try.
pub fn classify(status: Option<u16>) -> Outcome {
    match status {
        None => Outcome::Retry("network"),
        Some(200..=299) => Outcome::Delivered,
        Some(401) => Outcome::Retry("unauthorized"),
        Some(408) => Outcome::Retry("timeout"),
        Some(429) => Outcome::Retry("rate_limited"),
        Some(300..=399) => Outcome::Drop("redirect"),
        Some(400..=499) => Outcome::Drop("refused"),
        Some(_) => Outcome::Retry("server_error"),
    }
}

/// Exponential backoff with jitter, giving up only after `give_up_after_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay_secs: i64,
    pub max_delay_secs: i64,
    pub give_up_after_secs: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay_secs: 60,
            max_delay_secs: 6 * 3600,
            // At least three days of tries (servers down for a weekend come
            // back): the horizon leaves room for one longest, jittered delay.
            give_up_after_secs: 3 * 24 * 3600 + 9 * 3600,
        }
    }
}

/// When to try again after `attempts` failed tries (1 for the first), or
/// `None` to give up. `jitter` in [0, 1) spreads retries so that deliveries
/// signed by different faces do not line up.
pub fn next_attempt(
    p: &RetryPolicy,
    attempts: u32,
    first_tried_at: i64,
    now: i64,
    jitter: f64,
) -> Option<i64> {
    let exp = attempts.saturating_sub(1).min(30);
    let base = p
        .first_delay_secs
        .saturating_mul(1i64 << exp)
        .min(p.max_delay_secs);
    let jitter = jitter.clamp(0.0, 0.999);
    let delay = base + (base as f64 * 0.5 * jitter) as i64;
    let at = now + delay;
    if at - first_tried_at > p.give_up_after_secs {
        None
    } else {
        Some(at)
    }
}

/// Days (Unix day numbers) on which deliveries to a host failed, since its
/// last success. A host failing on seven distinct days is unavailable until
/// a delivery succeeds or it sends us a signed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostHealth {
    failed_days: Vec<i64>,
}

pub const UNAVAILABLE_AFTER_DAYS: usize = 7;

impl HostHealth {
    pub fn from_days(mut days: Vec<i64>) -> HostHealth {
        days.sort_unstable();
        days.dedup();
        HostHealth { failed_days: days }
    }

    pub fn failed_on(&mut self, unix_secs: i64) {
        let day = unix_secs.div_euclid(86_400);
        if let Err(i) = self.failed_days.binary_search(&day) {
            self.failed_days.insert(i, day);
        }
    }

    /// A success, or a signed request from the host.
    pub fn heard_from(&mut self) {
        self.failed_days.clear();
    }

    pub fn unavailable(&self) -> bool {
        self.failed_days.len() >= UNAVAILABLE_AFTER_DAYS
    }

    pub fn days(&self) -> &[i64] {
        &self.failed_days
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    #[test]
    fn classification_table() {
        let cases = [
            (None, Retry("network")),
            (Some(200), Delivered),
            (Some(202), Delivered),
            (Some(301), Drop("redirect")),
            (Some(400), Drop("refused")),
            (Some(401), Retry("unauthorized")),
            (Some(403), Drop("refused")),
            (Some(404), Drop("refused")),
            (Some(408), Retry("timeout")),
            (Some(410), Drop("refused")),
            (Some(422), Drop("refused")),
            (Some(429), Retry("rate_limited")),
            (Some(500), Retry("server_error")),
            (Some(503), Retry("server_error")),
        ];
        for (status, want) in cases {
            assert_eq!(classify(status), want, "{status:?}");
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_gives_up_after_three_days() {
        let p = RetryPolicy::default();
        let t0 = 1_000_000;
        assert_eq!(next_attempt(&p, 1, t0, t0, 0.0), Some(t0 + 60));
        assert_eq!(next_attempt(&p, 2, t0, t0, 0.0), Some(t0 + 120));
        assert_eq!(next_attempt(&p, 3, t0, t0, 0.0), Some(t0 + 240));
        assert_eq!(
            next_attempt(&p, 20, t0, t0, 0.0),
            Some(t0 + 6 * 3600),
            "capped"
        );
        assert_eq!(
            next_attempt(&p, 1, t0, t0, 0.5),
            Some(t0 + 75),
            "jitter adds up to half"
        );
        // Still retrying on day three, given up after it.
        let day3 = t0 + 3 * 86_400;
        assert!(next_attempt(&p, 40, t0, day3, 0.0).is_some());
        assert_eq!(next_attempt(&p, 41, t0, day3 + 6 * 3600, 0.0), None);
        // Walk the whole schedule: at least three days of tries, then none.
        let (mut now, mut n) = (t0, 1);
        while let Some(at) = next_attempt(&p, n, t0, now, 0.3) {
            now = at;
            n += 1;
        }
        assert!(now - t0 >= 3 * 86_400, "gave up after {} s", now - t0);
    }

    #[test]
    fn hosts_are_unavailable_after_seven_distinct_failing_days() {
        let mut h = HostHealth::default();
        let day = 86_400;
        for i in 0..6 {
            h.failed_on(i * day);
            h.failed_on(i * day + 3600);
        }
        assert_eq!(h.days().len(), 6);
        assert!(!h.unavailable());
        h.failed_on(6 * day + 10);
        assert!(h.unavailable());
        h.heard_from();
        assert!(!h.unavailable());
        assert_eq!(HostHealth::from_days(vec![3, 1, 3, 2]).days(), &[1, 2, 3]);
    }
}
