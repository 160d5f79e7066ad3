//! Time-ordered 64-bit ids: milliseconds since the Unix epoch in the high
//! bits (43 of them reach the year 2248), 20 random bits below. No counter and no database sequence: two ids
//! made in the same millisecond for two faces must not reveal which came
//! first or that one process made both (unlinkability rule 2).

use chrono::{DateTime, Utc};
use rand::RngCore;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(i64);

impl Id {
    const RANDOM_BITS: u32 = 20;

    /// A fresh id for something that happens at `at`.
    pub fn generate(at: DateTime<Utc>) -> Id {
        let ms = at.timestamp_millis().max(0) as u64;
        let low = u64::from(rand::rngs::OsRng.next_u32()) & ((1 << Self::RANDOM_BITS) - 1);
        Id(((ms << Self::RANDOM_BITS) | low) as i64 & i64::MAX)
    }

    /// An id with no time in it at all, for what must not sort by creation:
    /// faces (whose creation order would pair a login's faces, rule 2) and
    /// token rows. 62 random bits, so it is positive and never 0.
    pub fn random() -> Id {
        let v = (rand::rngs::OsRng.next_u64() >> 2) | 1 << 40;
        Id(v as i64)
    }

    /// The smallest id at `at`, for turning a time into a pagination bound.
    pub fn floor_of(at: DateTime<Utc>) -> Id {
        Id((at.timestamp_millis().max(0) << Self::RANDOM_BITS) & i64::MAX)
    }

    pub fn from_i64(v: i64) -> Id {
        Id(v)
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The millisecond encoded in the id.
    pub fn timestamp_millis(self) -> i64 {
        self.0 >> Self::RANDOM_BITS
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Id {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<i64>().map(Id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_order_by_time_and_carry_the_time() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::milliseconds(1);
        let a = Id::generate(t0);
        let b = Id::generate(t1);
        assert!(a < b);
        assert_eq!(a.timestamp_millis(), t0.timestamp_millis());
        assert!(Id::floor_of(t0) <= a);
        assert!(a.get() > 0);
    }

    #[test]
    fn ids_in_one_millisecond_are_not_a_sequence() {
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let ids: Vec<i64> = (0..64).map(|_| Id::generate(t).get() & 0xffff).collect();
        // A counter would make these strictly increasing by one.
        let increasing = ids.windows(2).all(|w| w[1] == w[0] + 1);
        assert!(!increasing);
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert!(distinct.len() > 48, "low bits should be random: {ids:?}");
    }
}
