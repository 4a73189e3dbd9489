//! In-process rate limits on governor: one keyed GCRA limiter per [`Limit`], built once per
//! process and shared by every HTTP worker and the mail worker.
//!
//! Time comes from the domain's [`Clock`], so tests that move a `ManualClock` see limits reset.
//! Memory stays bounded: [`GovernorLimiter::housekeeping`] (run every minute by the server)
//! forgets every key whose state is back to fresh. With several nodes, each keeps its own
//! counts; a shared store implements the same port.
//!
//! A quota of `count` per `period` lets `count` events through at once, then one more every
//! `period / count`; after `period` of quiet the whole quota is back.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use governor::clock::Reference as _;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::DashMapStateStore;
use portcullis_domain::Clock;
use portcullis_domain::limits::{AttemptPermit, Limit, Quota, RateDecision, RateLimiter};

/// governor's view of the domain clock: nanoseconds since the Unix epoch.
#[derive(Debug, Clone)]
struct DomainClock(Arc<dyn Clock>);

impl governor::clock::Clock for DomainClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        // Before 1970 or after 2262 cannot happen with a sane clock; saturate rather than panic.
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        Nanos::from(u64::try_from(nanos).unwrap_or(0))
    }
}

type Keyed = governor::RateLimiter<String, DashMapStateStore<String>, DomainClock, StateInformationMiddleware>;

struct Bucket {
    quota: Quota,
    limiter: Keyed,
    /// Keys that have used their whole quota, with the moment the next event is allowed: what
    /// [`RateLimiter::held_back`] answers from without spending an event.
    exhausted: DashMap<String, Nanos>,
    /// One lock per key with an attempt in progress ([`RateLimiter::begin_attempt`]).
    attempts: DashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

/// The in-process [`RateLimiter`].
pub struct GovernorLimiter {
    clock: DomainClock,
    buckets: HashMap<Limit, Bucket>,
}

impl std::fmt::Debug for GovernorLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut quotas: Vec<_> = self.buckets.iter().map(|(l, b)| (l.name(), b.quota)).collect();
        quotas.sort_by_key(|(name, _)| *name);
        f.debug_struct("GovernorLimiter")
            .field("quotas", &quotas)
            .finish_non_exhaustive()
    }
}

impl GovernorLimiter {
    /// A limiter with these quotas; limits that are missing or have `count == 0` never limit.
    pub fn new(quotas: impl IntoIterator<Item = (Limit, Quota)>, clock: Arc<dyn Clock>) -> Self {
        let clock = DomainClock(clock);
        let buckets = quotas
            .into_iter()
            .filter_map(|(limit, quota)| {
                let governed = governor_quota(quota)?;
                let limiter = governor::RateLimiter::dashmap_with_clock(governed, clock.clone())
                    .with_middleware::<StateInformationMiddleware>();
                Some((
                    limit,
                    Bucket {
                        quota,
                        limiter,
                        exhausted: DashMap::new(),
                        attempts: DashMap::new(),
                    },
                ))
            })
            .collect();
        Self { clock, buckets }
    }

    /// Forgets every key that is back to a fresh state and returns how many keys are still
    /// held. Run it periodically; nothing else evicts.
    pub fn housekeeping(&self) -> usize {
        let now = governor::clock::Clock::now(&self.clock);
        self.buckets
            .values()
            .map(|bucket| {
                bucket.limiter.retain_recent();
                bucket.limiter.shrink_to_fit();
                bucket.exhausted.retain(|_, until| *until > now);
                bucket.exhausted.shrink_to_fit();
                // A lock nobody holds or waits for: the map's reference is its only one, and
                // nobody can take another while `retain` holds the shard.
                bucket.attempts.retain(|_, lock| Arc::strong_count(lock) > 1);
                bucket.attempts.shrink_to_fit();
                bucket.limiter.len() + bucket.exhausted.len() + bucket.attempts.len()
            })
            .sum()
    }

    fn wait(&self, until: Nanos) -> Duration {
        let now = governor::clock::Clock::now(&self.clock);
        until.duration_since(now).into()
    }
}

/// `count` per `period` as a GCRA quota: a burst of `count`, one cell back every
/// `period / count`.
fn governor_quota(quota: Quota) -> Option<governor::Quota> {
    if !quota.is_enabled() {
        return None;
    }
    let burst = NonZeroU32::new(quota.count)?;
    governor::Quota::with_period(quota.period / quota.count).map(|q| q.allow_burst(burst))
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn hit(&self, limit: Limit, key: &str) -> RateDecision {
        let Some(bucket) = self.buckets.get(&limit) else {
            return RateDecision::Unlimited;
        };
        let key = key.to_owned();
        match bucket.limiter.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                if remaining == 0 {
                    // A refused check spends nothing: it only tells when the next event fits.
                    if let Err(not_until) = bucket.limiter.check_key(&key) {
                        bucket.exhausted.insert(key, not_until.earliest_possible());
                    }
                }
                RateDecision::Allowed {
                    limit: bucket.quota.count,
                    remaining,
                }
            }
            Err(not_until) => {
                let until = not_until.earliest_possible();
                bucket.exhausted.insert(key, until);
                RateDecision::Limited {
                    limit: bucket.quota.count,
                    retry_after: self.wait(until),
                }
            }
        }
    }

    async fn held_back(&self, limit: Limit, key: &str) -> Option<Duration> {
        let bucket = self.buckets.get(&limit)?;
        let until = *bucket.exhausted.get(key)?;
        let wait = self.wait(until);
        (!wait.is_zero()).then_some(wait)
    }

    async fn begin_attempt(&self, limit: Limit, key: &str) -> Result<AttemptPermit, Duration> {
        let Some(bucket) = self.buckets.get(&limit) else {
            return Ok(AttemptPermit::unguarded());
        };
        // Clone the lock out of the map before waiting on it: a shard guard held across the
        // wait would block every other key in the shard.
        let lock = bucket.attempts.entry(key.to_owned()).or_default().clone();
        let guard = lock.lock_owned().await;
        match self.held_back(limit, key).await {
            Some(wait) => Err(wait),
            None => Ok(AttemptPermit::new(guard)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use portcullis_domain::ManualClock;

    fn limiter(count: u32, period: Duration) -> (GovernorLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let limiter = GovernorLimiter::new([(Limit::Login, Quota::new(count, period))], clock.clone());
        (limiter, clock)
    }

    fn remaining(d: RateDecision) -> u32 {
        match d {
            RateDecision::Allowed { remaining, .. } => remaining,
            other => panic!("expected allowed, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn counts_down_then_refuses_with_the_wait_until_the_next_event() {
        let (l, clock) = limiter(3, Duration::from_secs(60));
        assert_eq!(remaining(l.hit(Limit::Login, "a").await), 2);
        assert_eq!(remaining(l.hit(Limit::Login, "a").await), 1);
        assert_eq!(remaining(l.hit(Limit::Login, "a").await), 0);
        let RateDecision::Limited { limit, retry_after } = l.hit(Limit::Login, "a").await else {
            panic!("fourth event must be refused");
        };
        assert_eq!(limit, 3);
        assert_eq!(retry_after, Duration::from_secs(20));
        // Another key is untouched.
        assert_eq!(remaining(l.hit(Limit::Login, "b").await), 2);
        // One event comes back every period / count.
        clock.advance(TimeDelta::seconds(20));
        assert_eq!(remaining(l.hit(Limit::Login, "a").await), 0);
        assert!(!l.hit(Limit::Login, "a").await.is_allowed());
        // After a whole period of quiet, the whole quota.
        clock.advance(TimeDelta::seconds(60));
        assert_eq!(remaining(l.hit(Limit::Login, "a").await), 2);
    }

    #[tokio::test]
    async fn held_back_answers_without_spending_and_only_once_the_quota_is_used_up() {
        let (l, clock) = limiter(2, Duration::from_secs(60));
        assert_eq!(l.held_back(Limit::Login, "a").await, None);
        assert_eq!(l.held_back(Limit::Login, "a").await, None);
        l.hit(Limit::Login, "a").await;
        assert_eq!(l.held_back(Limit::Login, "a").await, None);
        l.hit(Limit::Login, "a").await;
        assert_eq!(l.held_back(Limit::Login, "a").await, Some(Duration::from_secs(30)));
        clock.advance(TimeDelta::seconds(29));
        assert_eq!(l.held_back(Limit::Login, "a").await, Some(Duration::from_secs(1)));
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(l.held_back(Limit::Login, "a").await, None);
        assert!(l.hit(Limit::Login, "a").await.is_allowed());
    }

    #[tokio::test]
    async fn zero_and_missing_quotas_never_limit() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let l = GovernorLimiter::new([(Limit::Login, Quota::new(0, Duration::from_secs(60)))], clock);
        for _ in 0..100 {
            assert_eq!(l.hit(Limit::Login, "a").await, RateDecision::Unlimited);
            assert_eq!(l.hit(Limit::Register, "a").await, RateDecision::Unlimited);
        }
        assert_eq!(l.held_back(Limit::Login, "a").await, None);
    }

    #[tokio::test]
    async fn housekeeping_forgets_keys_that_are_fresh_again() {
        let (l, clock) = limiter(2, Duration::from_secs(60));
        for i in 0..1000 {
            l.hit(Limit::Login, &format!("client-{i}")).await;
            l.hit(Limit::Login, &format!("client-{i}")).await;
        }
        assert_eq!(l.housekeeping(), 2000, "1000 limiter states and 1000 exhausted marks");
        // governor keeps a state one replenish interval past its last event before calling it
        // fresh: a period plus period / count.
        clock.advance(TimeDelta::seconds(91));
        assert_eq!(l.housekeeping(), 0);
    }

    #[tokio::test]
    async fn attempts_on_one_key_wait_for_each_other_and_their_locks_are_forgotten() {
        let (l, _clock) = limiter(2, Duration::from_secs(60));
        let l = Arc::new(l);
        let first = l.begin_attempt(Limit::Login, "a").await.expect("fresh key");
        let second = tokio::spawn({
            let l = l.clone();
            async move { l.begin_attempt(Limit::Login, "a").await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "a second attempt on the key waits for the first");
        // Another key does not wait.
        drop(l.begin_attempt(Limit::Login, "b").await.expect("other key"));
        // The first attempt fails and uses up the quota before it ends...
        l.hit(Limit::Login, "a").await;
        l.hit(Limit::Login, "a").await;
        drop(first);
        // ...so the one that waited is held back rather than let through.
        let waited = second.await.expect("task");
        assert_eq!(waited, Err(Duration::from_secs(30)));
        // No permit is held: only the limiter state and the exhausted mark of "a" remain.
        assert_eq!(l.housekeeping(), 2);
    }

    #[tokio::test]
    async fn one_limiter_shared_by_many_tasks_lets_exactly_the_quota_through() {
        let (l, _clock) = limiter(5, Duration::from_secs(900));
        let l = Arc::new(l);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.hit(Limit::Login, "flood").await.is_allowed() })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            allowed += usize::from(t.await.expect("task"));
        }
        assert_eq!(allowed, 5);
    }
}
