//! In-process rate limits on governor: one keyed GCRA limiter per [`Limit`], built once per
//! process and shared by every HTTP worker and the mail worker.
//!
//! Time comes from the domain's [`Clock`], so tests that move a `ManualClock` see limits reset.
//! With several nodes, each keeps its own counts; a shared store implements the same port.
//!
//! A quota of `count` per `period` lets `count` events through at once, then one more every
//! `period / count`; after `period` of quiet the whole quota is back. A limit may also have a
//! [`Backoff`]: consecutive failed attempts (see [`RateLimiter::end_attempt`]) make its key wait
//! longer and longer, up to a cap, until an attempt succeeds.
//!
//! Memory is bounded twice over. [`GovernorLimiter::housekeeping`] (run every minute by the
//! server) forgets every key whose state is back to fresh. And each limit tracks at most
//! `max_keys` keys: keys are chosen by whoever sends requests (login names, mail recipients,
//! client networks), so beyond the cap every new key shares one overflow key. Someone who
//! invents names by the million therefore neither grows memory nor buys fresh budgets, and the
//! keys already tracked (a victim's among them) keep their counts.

pub mod conformance;
mod metered;

pub use metered::{Metered, RATE_LIMITED};

use std::borrow::Cow;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use governor::middleware::StateInformationMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::ShrinkableKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use portcullis_domain::Clock;
use portcullis_domain::limits::{AttemptPermit, Backoff, Limit, Quota, RateDecision, RateLimiter};

/// The key every new key shares once a limit tracks `max_keys` keys. (No key the domain builds
/// starts with a NUL.)
const OVERFLOW_KEY: &str = "\u{0}overflow";

/// What an attempt refused because another one on its key is in progress is told to wait (every
/// store answers the same).
pub const BUSY_WAIT: Duration = Duration::from_secs(1);

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

impl DomainClock {
    fn nanos(&self) -> u64 {
        governor::clock::Clock::now(self).into()
    }
}

/// Everything one limit keeps about one key.
#[derive(Default)]
struct KeyState {
    /// governor's GCRA cell.
    gcra: InMemoryState,
    /// Once the quota is used up: when the next event is allowed (nanoseconds on the domain
    /// clock); 0 otherwise. What `held_back` answers from without spending an event.
    exhausted_until: AtomicU64,
    /// Failed attempts in a row, and when the last one was.
    failures: AtomicU32,
    last_failure: AtomicU64,
    /// Attempts in progress.
    in_flight: AtomicU32,
    /// The quota's events left after the last counted one, plus one (0: none counted yet).
    quota_left: AtomicU32,
}

impl KeyState {
    fn gcra_tat(&self) -> Option<Nanos> {
        // Reads governor's theoretical arrival time without changing it: a measurement that
        // refuses to write hands back what it saw.
        self.gcra
            .measure_and_replace(&NotKeyed::NonKey, Err::<((), Nanos), _>)
            .err()
            .flatten()
    }

    /// How long the back-off still holds this key, if it does.
    fn backoff_wait(&self, backoff: Option<&Backoff>, now: u64) -> Option<Duration> {
        let backoff = backoff?;
        let failures = self.failures.load(Ordering::Acquire);
        let wait = backoff.wait(failures);
        let until = self.last_failure.load(Ordering::Acquire).saturating_add(nanos(wait));
        (until > now).then(|| Duration::from_nanos(until - now))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The keys of one limit, shared by its governor limiter and by the limiter's own bookkeeping.
struct Keys {
    map: DashMap<String, Arc<KeyState>>,
    max_keys: usize,
    clock: DomainClock,
    backoff: Option<Backoff>,
    /// Set when a key had to share the overflow key; reported and cleared by housekeeping.
    overflowed: AtomicBool,
}

impl Keys {
    /// The key `key` is tracked under: itself, or the overflow key once the limit is full.
    fn resolve<'a>(&self, key: &'a str) -> Cow<'a, str> {
        if self.map.contains_key(key) || self.map.len() < self.max_keys {
            Cow::Borrowed(key)
        } else {
            self.overflowed.store(true, Ordering::Relaxed);
            Cow::Borrowed(OVERFLOW_KEY)
        }
    }

    fn state(&self, key: &str) -> Arc<KeyState> {
        if let Some(state) = self.map.get(key) {
            return Arc::clone(&state);
        }
        Arc::clone(&self.map.entry(key.to_owned()).or_default())
    }

    /// Whether a key's state differs from a fresh one at `now` (`drop_below`: governor's
    /// threshold for its cell).
    fn in_use(&self, state: &Arc<KeyState>, drop_below: Nanos, now: u64) -> bool {
        let forget = self.backoff.map_or(Duration::ZERO, |b| b.forget_after());
        Arc::strong_count(state) > 1
            || state.in_flight.load(Ordering::Acquire) > 0
            || state.gcra_tat().is_some_and(|tat| tat > drop_below)
            || state.exhausted_until.load(Ordering::Acquire) > now
            || (state.failures.load(Ordering::Acquire) > 0
                && state.last_failure.load(Ordering::Acquire).saturating_add(nanos(forget)) > now)
    }
}

/// The governor state store over [`Keys`].
#[derive(Clone)]
struct SharedKeys(Arc<Keys>);

impl StateStore for SharedKeys {
    type Key = String;

    fn measure_and_replace<T, F, E>(&self, key: &Self::Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0.state(key).gcra.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

impl ShrinkableKeyedStateStore<String> for SharedKeys {
    fn retain_recent(&self, drop_below: Nanos) {
        let now = self.0.clock.nanos();
        self.0.map.retain(|_, state| self.0.in_use(state, drop_below, now));
    }

    fn shrink_to_fit(&self) {
        self.0.map.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.0.map.len()
    }

    fn is_empty(&self) -> bool {
        self.0.map.is_empty()
    }
}

type Keyed = governor::RateLimiter<String, SharedKeys, DomainClock, StateInformationMiddleware>;

struct Bucket {
    quota: Quota,
    /// `None` when the limit has a back-off but no quota.
    limiter: Option<Keyed>,
    keys: Arc<Keys>,
}

/// Settings beyond the quotas.
#[derive(Debug, Clone)]
pub struct LimiterSettings {
    /// Most keys each limit tracks (default 100 000); beyond, new keys share one.
    pub max_keys: usize,
    /// Back-off after consecutive failed attempts, per limit.
    pub backoffs: Vec<(Limit, Backoff)>,
}

impl LimiterSettings {
    /// The back-off of `limit`, if it has one that ever makes anyone wait.
    pub fn backoff_for(&self, limit: Limit) -> Option<Backoff> {
        self.backoffs
            .iter()
            .find(|(l, b)| *l == limit && b.is_enabled())
            .map(|(_, b)| *b)
    }
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            max_keys: 100_000,
            backoffs: Vec::new(),
        }
    }
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
    /// A limiter with these quotas and default settings; limits that are missing or have
    /// `count == 0` never limit.
    pub fn new(quotas: impl IntoIterator<Item = (Limit, Quota)>, clock: Arc<dyn Clock>) -> Self {
        Self::with_settings(quotas, &LimiterSettings::default(), clock)
    }

    /// A limiter with these quotas and settings.
    pub fn with_settings(
        quotas: impl IntoIterator<Item = (Limit, Quota)>,
        settings: &LimiterSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let clock = DomainClock(clock);
        let buckets = quotas
            .into_iter()
            .filter_map(|(limit, quota)| {
                let backoff = settings.backoff_for(limit);
                let governed = governor_quota(quota);
                if governed.is_none() && backoff.is_none() {
                    return None;
                }
                let keys = Arc::new(Keys {
                    map: DashMap::new(),
                    max_keys: settings.max_keys.max(1),
                    clock: clock.clone(),
                    backoff,
                    overflowed: AtomicBool::new(false),
                });
                let limiter = governed.map(|governed| {
                    let limiter: governor::RateLimiter<_, _, _, governor::middleware::NoOpMiddleware<Nanos>> =
                        governor::RateLimiter::new(governed, SharedKeys(Arc::clone(&keys)), clock.clone());
                    limiter.with_middleware::<StateInformationMiddleware>()
                });
                Some((limit, Bucket { quota, limiter, keys }))
            })
            .collect();
        Self { clock, buckets }
    }

    /// Forgets every key that is back to a fresh state and returns how many keys are still
    /// held. Run it periodically; nothing else evicts.
    pub fn housekeeping(&self) -> usize {
        self.buckets
            .iter()
            .map(|(limit, bucket)| {
                match &bucket.limiter {
                    Some(limiter) => limiter.retain_recent(),
                    // No GCRA cells: every key's cell is fresh.
                    None => SharedKeys(Arc::clone(&bucket.keys)).retain_recent(Nanos::from(u64::MAX)),
                }
                bucket.keys.map.shrink_to_fit();
                if bucket.keys.overflowed.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        limit = limit.name(),
                        max_keys = bucket.keys.max_keys,
                        "rate limit tracks its most keys; new keys share one budget"
                    );
                }
                bucket.keys.map.len()
            })
            .sum()
    }

    fn wait(&self, until: u64) -> Duration {
        Duration::from_nanos(until.saturating_sub(self.clock.nanos()))
    }

    fn held_back_on(&self, bucket: &Bucket, key: &str) -> Option<Duration> {
        let state = bucket.keys.map.get(key).map(|s| Arc::clone(&s))?;
        let now = self.clock.nanos();
        let exhausted = self.wait(state.exhausted_until.load(Ordering::Acquire));
        let wait = state
            .backoff_wait(bucket.keys.backoff.as_ref(), now)
            .map_or(exhausted, |b| b.max(exhausted));
        (!wait.is_zero()).then_some(wait)
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

/// Counts one attempt in progress on a key, until the attempt ends.
struct InProgress(Arc<KeyState>);

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How many attempts on a key may run at once: as many as it has failures left that cost
/// nothing (before its back-off begins), so a burst of concurrent guesses never gets more
/// checks than one guess after another would; one at a time once none is left, or when the
/// limit has a quota and no back-off.
/// Never more than the quota had left after the last failure either (the quota only replenishes
/// meanwhile, so that is a lower bound).
fn attempt_slots(backoff: Option<&Backoff>, quota: Quota, state: &KeyState) -> u32 {
    let Some(backoff) = backoff else { return 1 };
    let failures = state.failures.load(Ordering::Acquire);
    let mut slots = backoff.after.saturating_sub(failures);
    if quota.is_enabled() {
        let left = match state.quota_left.load(Ordering::Acquire) {
            0 => quota.count,
            n => n - 1,
        };
        slots = slots.min(left);
    }
    slots.max(1)
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn hit(&self, limit: Limit, key: &str) -> RateDecision {
        let Some((bucket, limiter)) = self.buckets.get(&limit).and_then(|b| Some((b, b.limiter.as_ref()?))) else {
            return RateDecision::Unlimited;
        };
        let key = bucket.keys.resolve(key).into_owned();
        let exhausted = |until: Nanos| {
            bucket
                .keys
                .state(&key)
                .exhausted_until
                .store(until.into(), Ordering::Release);
        };
        match limiter.check_key(&key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                bucket
                    .keys
                    .state(&key)
                    .quota_left
                    .store(remaining.saturating_add(1), Ordering::Release);
                if remaining == 0 {
                    // A refused check spends nothing: it only tells when the next event fits.
                    if let Err(not_until) = limiter.check_key(&key) {
                        exhausted(not_until.earliest_possible());
                    }
                }
                RateDecision::Allowed {
                    limit: bucket.quota.count,
                    remaining,
                }
            }
            Err(not_until) => {
                let until = not_until.earliest_possible();
                exhausted(until);
                bucket.keys.state(&key).quota_left.store(1, Ordering::Release);
                RateDecision::Limited {
                    limit: bucket.quota.count,
                    retry_after: self.wait(until.into()),
                }
            }
        }
    }

    async fn held_back(&self, limit: Limit, key: &str) -> Option<Duration> {
        let bucket = self.buckets.get(&limit)?;
        self.held_back_on(bucket, &bucket.keys.resolve(key))
    }

    async fn begin_attempt(&self, limit: Limit, key: &str) -> Result<AttemptPermit, Duration> {
        let Some(bucket) = self.buckets.get(&limit) else {
            return Ok(AttemptPermit::unguarded());
        };
        let key = bucket.keys.resolve(key);
        if let Some(wait) = self.held_back_on(bucket, &key) {
            return Err(wait);
        }
        let state = bucket.keys.state(&key);
        // A failure is counted before its attempt leaves the count in progress, and the slots
        // are worked out after the count in progress is read (inside the update, again on every
        // retry): whoever sees an attempt gone also sees its failure, so failures plus attempts
        // in progress never undercount what may still fail.
        if state
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < attempt_slots(bucket.keys.backoff.as_ref(), bucket.quota, &state)).then_some(n + 1)
            })
            .is_err()
        {
            return Err(BUSY_WAIT);
        }
        Ok(AttemptPermit::new(InProgress(state)))
    }

    async fn end_attempt(&self, limit: Limit, key: &str, permit: AttemptPermit, succeeded: bool) {
        if let Some(bucket) = self.buckets.get(&limit) {
            let state = bucket.keys.state(&bucket.keys.resolve(key));
            if succeeded {
                state.failures.store(0, Ordering::Release);
            } else {
                let now = self.clock.nanos();
                let forget = bucket.keys.backoff.map_or(0, |b| nanos(b.forget_after()));
                // A streak whose last failure is long past starts again.
                if state.last_failure.load(Ordering::Acquire).saturating_add(forget) <= now {
                    state.failures.store(0, Ordering::Release);
                }
                state.failures.fetch_add(1, Ordering::AcqRel);
                state.last_failure.store(now, Ordering::Release);
                self.hit(limit, key).await;
            }
        }
        drop(permit);
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

    /// The contract every store keeps, on this one.
    mod contract {
        use std::sync::Arc;

        use portcullis_domain::ManualClock;
        use portcullis_domain::limits::{Limit, Quota, RateLimiter};

        use crate::{GovernorLimiter, LimiterSettings};

        #[allow(clippy::unused_async)]
        async fn fresh(
            quotas: Vec<(Limit, Quota)>,
            settings: LimiterSettings,
            clock: Arc<ManualClock>,
        ) -> Arc<dyn RateLimiter> {
            Arc::new(GovernorLimiter::with_settings(quotas, &settings, clock))
        }

        crate::limiter_conformance!(fresh);
    }

    #[tokio::test]
    async fn a_forgotten_streak_and_an_ended_attempt_leave_no_key_behind() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let settings = LimiterSettings {
            backoffs: vec![(
                Limit::FailedLogin,
                Backoff {
                    after: 2,
                    first: Duration::from_secs(1),
                    max: Duration::from_secs(900),
                },
            )],
            ..LimiterSettings::default()
        };
        let l = GovernorLimiter::with_settings(
            [(Limit::FailedLogin, Quota::new(1000, Duration::from_secs(60)))],
            &settings,
            clock.clone(),
        );
        for _ in 0..3 {
            let permit = l.begin_attempt(Limit::FailedLogin, "a").await.expect("free failures");
            l.end_attempt(Limit::FailedLogin, "a", permit, false).await;
        }
        assert_eq!(l.housekeeping(), 1);
        clock.advance(TimeDelta::seconds(1800));
        assert_eq!(l.housekeeping(), 0, "the streak is forgotten with its key");
    }

    #[tokio::test]
    async fn housekeeping_forgets_keys_that_are_fresh_again() {
        let (l, clock) = limiter(2, Duration::from_secs(60));
        for i in 0..1000 {
            l.hit(Limit::Login, &format!("client-{i}")).await;
            l.hit(Limit::Login, &format!("client-{i}")).await;
        }
        assert_eq!(l.housekeeping(), 1000);
        // governor keeps a state one replenish interval past its last event before calling it
        // fresh: a period plus period / count.
        clock.advance(TimeDelta::seconds(91));
        assert_eq!(l.housekeeping(), 0);
    }

    /// With a back-off, as many attempts run at once as the key has free failures left (two
    /// devices signing in together are both served); never more, so a burst of guesses gets
    /// no more checks than one guess after another would.
    #[tokio::test]
    async fn beyond_max_keys_new_keys_share_one_budget_and_tracked_ones_keep_theirs() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let settings = LimiterSettings {
            max_keys: 100,
            ..LimiterSettings::default()
        };
        let l = GovernorLimiter::with_settings(
            [(Limit::MailPerDay, Quota::new(2, Duration::from_secs(86_400)))],
            &settings,
            clock,
        );
        // A victim's key, tracked and used up.
        l.hit(Limit::MailPerDay, "victim").await;
        l.hit(Limit::MailPerDay, "victim").await;
        // A flood of invented keys fills the rest and then shares the overflow budget.
        let mut allowed = 0;
        for i in 0..10_000 {
            allowed += usize::from(l.hit(Limit::MailPerDay, &format!("invented-{i}")).await.is_allowed());
        }
        assert_eq!(
            allowed,
            99 + 2,
            "99 new keys tracked, then one shared budget of 2 for the rest"
        );
        assert!(l.housekeeping() <= 101, "memory stays bounded");
        // The victim's count was not flushed out.
        assert!(!l.hit(Limit::MailPerDay, "victim").await.is_allowed());
    }
}
