//! The clock port. Use cases never read the system time themselves, so tests can move time.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Source of the current time.
///
/// ```
/// use portcullis_domain::{Clock, ManualClock};
/// let clock = ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(chrono::Duration::seconds(5));
/// assert_eq!(clock.now().to_rfc3339(), "2030-01-01T00:00:05+00:00");
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to; for tests and harnesses.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// A clock stopped at the current real time (truncated to whole seconds).
    pub fn starting_now() -> Self {
        let now = Utc::now();
        let secs = now.timestamp();
        Self::new(DateTime::from_timestamp(secs, 0).unwrap_or(now))
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
