//! Where the verifier reads the time: the system clock, or a [`ManualClock`] a test moves.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// A source of time. `now` is checked against `exp`, `iat` and `nbf`; `monotonic` times the
/// JWKS cache and the refetch intervals, so a wall clock stepping back cannot keep keys cached.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time.
    fn now(&self) -> SystemTime;
    /// Monotonic time.
    fn monotonic(&self) -> Instant;
}

/// The system's clocks (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves both of its readings, for
/// tests of expiry and caching (for example beside `portcullis_testkit::TestApp::clock`).
///
/// ```
/// use std::time::Duration;
/// use portcullis_verifier::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// let before = clock.monotonic();
/// clock.advance(Duration::from_secs(31));
/// assert_eq!(clock.monotonic() - before, Duration::from_secs(31));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    wall_start: SystemTime,
    monotonic_start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock reading the system's time now, then standing still.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock whose wall time reads `wall` until it is advanced.
    pub fn starting_at(wall: SystemTime) -> Self {
        Self {
            wall_start: wall,
            monotonic_start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward (not past what the platform's clocks can hold: such an advance
    /// is ignored).
    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = offset.checked_add(by)
            && self.wall_start.checked_add(next).is_some()
            && self.monotonic_start.checked_add(next).is_some()
        {
            *offset = next;
        }
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.wall_start + self.offset()
    }

    fn monotonic(&self) -> Instant {
        self.monotonic_start + self.offset()
    }
}

/// Seconds since the Unix epoch (negative before it), as JWT times are written.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}
