//! Whether the shared store is answering, and when to try it again while it is not.
//!
//! While Redis is down every node answers from its own in-process limits. A node does not wait
//! on a dead store for every request: after a failure it asks Redis again only once a second
//! (one request probes, the others go straight to the fallback), and goes back to the shared
//! store as soon as a probe succeeds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// 1 while this node's limits are shared through Redis, 0 while it counts on its own.
pub const SHARED_UP: &str = "portcullis_ratelimit_shared_store_up";
/// Decisions a node answered from its in-process limits because Redis could not.
pub const FALLBACK: &str = "portcullis_ratelimit_fallback_total";

/// How long after a failure the next request probes the store again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Health {
    epoch: Instant,
    down: AtomicBool,
    /// When (milliseconds since `epoch`) the next probe may go out while the store is down.
    next_probe: AtomicU64,
}

impl Health {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            down: AtomicBool::new(false),
            next_probe: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this request should ask the store: always while it is up; while it is down, one
    /// request per [`PROBE_EVERY`].
    pub(crate) fn may_try(&self) -> bool {
        if !self.down.load(Ordering::Acquire) {
            return true;
        }
        let now = self.now_ms();
        let due = self.next_probe.load(Ordering::Acquire);
        now >= due
            && self
                .next_probe
                .compare_exchange(due, now + probe_ms(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// The store answered.
    pub(crate) fn up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!("rate limits: the shared store answers again; limits are shared across nodes");
            metrics::gauge!(SHARED_UP).set(1.0);
        }
    }

    /// The store failed to answer (`why`).
    pub(crate) fn down(&self, why: &str) {
        self.next_probe.store(self.now_ms() + probe_ms(), Ordering::Release);
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = why,
                "rate limits: the shared store does not answer; this node counts its limits on its own until it does"
            );
            metrics::gauge!(SHARED_UP).set(0.0);
        }
    }

    /// Marks the store down from the start (no connection yet), without probing before the
    /// connection exists.
    pub(crate) fn start_down(&self) {
        self.down.store(true, Ordering::Release);
        metrics::gauge!(SHARED_UP).set(0.0);
    }

    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

fn probe_ms() -> u64 {
    u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(1000)
}
