//! Where the ledger gets the time it stamps `recorded_at` with.

use chrono::{DateTime, Utc};

/// The clock the writer stamps `recorded_at` with (a value, so tests can fix time).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
