//! Time comes from here, never from `Utc::now()` in logic, so tests can move
//! days in milliseconds (token expiry, code lifetime, backoff).

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Day-granular date for account-tied rows (unlinkability rule 4).
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that tests set and advance by hand. Like real time, it moves on
/// by a millisecond each time it is read, so that two events never share an
/// instant only because the test froze time.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }

    pub fn set(&self, to: DateTime<Utc>) {
        if let Ok(mut t) = self.0.lock() {
            *t = to;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        match self.0.lock() {
            Ok(mut t) => {
                let now = *t;
                *t += chrono::Duration::milliseconds(1);
                now
            }
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}
