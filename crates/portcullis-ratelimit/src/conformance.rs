//! The rate-limit contract: what every store behind [`RateLimiter`] must do, as tests that run
//! against any of them. The in-process store passes them in this crate's tests, the shared
//! Redis store in `portcullis-redis`'s, so a limit means the same on one node and on many.
//!
//! Run them for a store with [`limiter_conformance!`](crate::limiter_conformance), given an
//! async function that builds a fresh limiter (no key counted yet) from quotas, settings and a
//! manual clock:
//!
//! ```ignore
//! async fn fresh(quotas: Vec<(Limit, Quota)>, settings: LimiterSettings, clock: Arc<ManualClock>)
//!     -> Arc<dyn RateLimiter> { ... }
//! portcullis_ratelimit::limiter_conformance!(fresh);
//! ```
//!
//! Each test panics with what the store got wrong. Time is the clock's, never the wall clock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use portcullis_domain::ManualClock;
use portcullis_domain::limits::{AttemptPermit, Backoff, Limit, Quota, RateDecision, RateLimiter};

use crate::{BUSY_WAIT, LimiterSettings};

/// Defines one `#[tokio::test]` per contract test, each on a limiter from `$fresh`.
#[macro_export]
macro_rules! limiter_conformance {
    ($fresh:path) => {
        $crate::limiter_conformance!(@each $fresh;
            counts_down_then_refuses_with_the_wait_until_the_next_event,
            held_back_answers_without_spending_and_only_once_the_quota_is_used_up,
            zero_and_missing_quotas_never_limit,
            attempts_run_together_up_to_the_free_failures_left,
            attempts_run_together_no_more_than_the_quota_has_left,
            a_second_attempt_on_a_key_in_progress_is_refused_at_once,
            a_dropped_attempt_frees_its_place,
            one_limiter_shared_by_many_tasks_lets_exactly_the_quota_through,
            consecutive_failures_back_off_growing_to_a_cap_and_a_success_ends_it,
            a_streak_is_forgotten_after_twice_the_longest_wait,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $crate::conformance::$name($fresh).await;
            }
        )*
    };
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(chrono::Utc::now()))
}

fn remaining(d: RateDecision) -> u32 {
    match d {
        RateDecision::Allowed { remaining, .. } => remaining,
        other => panic!("expected allowed, got {other:?}"),
    }
}

fn login(count: u32, secs: u64) -> Vec<(Limit, Quota)> {
    vec![(Limit::Login, Quota::new(count, Duration::from_secs(secs)))]
}

fn with_backoff(after: u32, first: u64, max: u64) -> LimiterSettings {
    LimiterSettings {
        max_keys: 1000,
        backoffs: vec![(
            Limit::FailedLogin,
            Backoff {
                after,
                first: Duration::from_secs(first),
                max: Duration::from_secs(max),
            },
        )],
    }
}

fn advance(clock: &ManualClock, by: Duration) {
    clock.advance(TimeDelta::from_std(by).expect("a short wait"));
}

/// Begins up to `n` failed-login attempts on `key`, keeping the permits.
async fn begun(l: &dyn RateLimiter, key: &str, n: usize) -> Vec<AttemptPermit> {
    let mut permits = Vec::new();
    for _ in 0..n {
        if let Ok(p) = l.begin_attempt(Limit::FailedLogin, key).await {
            permits.push(p);
        }
    }
    permits
}

async fn fail(l: &dyn RateLimiter, key: &str) -> Result<(), Duration> {
    let permit = l.begin_attempt(Limit::FailedLogin, key).await?;
    l.end_attempt(Limit::FailedLogin, key, permit, false).await;
    Ok(())
}

pub async fn counts_down_then_refuses_with_the_wait_until_the_next_event<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let clock = clock();
    let l = fresh(login(3, 60), LimiterSettings::default(), clock.clone()).await;
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 2);
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 1);
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 0);
    let RateDecision::Limited { limit, retry_after } = l.hit(Limit::Login, "a").await else {
        panic!("the fourth event must be refused");
    };
    assert_eq!(limit, 3);
    assert_eq!(retry_after, Duration::from_secs(20));
    // Another key is untouched.
    assert_eq!(remaining(l.hit(Limit::Login, "b").await), 2);
    // One event comes back every period / count.
    advance(&clock, Duration::from_secs(20));
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 0);
    assert!(!l.hit(Limit::Login, "a").await.is_allowed());
    // After a whole period of quiet, the whole quota.
    advance(&clock, Duration::from_secs(60));
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 2);
}

pub async fn held_back_answers_without_spending_and_only_once_the_quota_is_used_up<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let clock = clock();
    let l = fresh(login(2, 60), LimiterSettings::default(), clock.clone()).await;
    assert_eq!(l.held_back(Limit::Login, "a").await, None);
    assert_eq!(l.held_back(Limit::Login, "a").await, None);
    l.hit(Limit::Login, "a").await;
    assert_eq!(l.held_back(Limit::Login, "a").await, None);
    l.hit(Limit::Login, "a").await;
    assert_eq!(l.held_back(Limit::Login, "a").await, Some(Duration::from_secs(30)));
    advance(&clock, Duration::from_secs(29));
    assert_eq!(l.held_back(Limit::Login, "a").await, Some(Duration::from_secs(1)));
    advance(&clock, Duration::from_secs(1));
    assert_eq!(l.held_back(Limit::Login, "a").await, None);
    assert!(l.hit(Limit::Login, "a").await.is_allowed());
}

pub async fn zero_and_missing_quotas_never_limit<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let l = fresh(login(0, 60), LimiterSettings::default(), clock()).await;
    for _ in 0..100 {
        assert_eq!(l.hit(Limit::Login, "a").await, RateDecision::Unlimited);
        assert_eq!(l.hit(Limit::Register, "a").await, RateDecision::Unlimited);
    }
    assert_eq!(l.held_back(Limit::Login, "a").await, None);
    let permits = [
        l.begin_attempt(Limit::Login, "a").await,
        l.begin_attempt(Limit::Login, "a").await,
    ];
    assert!(permits.iter().all(Result::is_ok), "no limit: no guard on attempts");
}

/// With a back-off, as many attempts run at once as the key has free failures left (two
/// devices signing in together are both served); never more, so a burst of guesses gets no
/// more checks than one guess after another would.
pub async fn attempts_run_together_up_to_the_free_failures_left<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let quotas = vec![(Limit::FailedLogin, Quota::new(0, Duration::from_secs(60)))];
    let l = fresh(quotas, with_backoff(3, 2, 60), clock()).await;
    let key = "ada@example.com";
    let attempts = begun(&*l, key, 3).await;
    assert_eq!(attempts.len(), 3, "three free failures: three at once");
    assert_eq!(l.begin_attempt(Limit::FailedLogin, key).await.map(drop), Err(BUSY_WAIT));
    // Two of them fail: one free failure is left, so one attempt at a time.
    let mut attempts = attempts.into_iter();
    for permit in attempts.by_ref().take(2) {
        l.end_attempt(Limit::FailedLogin, key, permit, false).await;
    }
    assert_eq!(l.begin_attempt(Limit::FailedLogin, key).await.map(drop), Err(BUSY_WAIT));
    for permit in attempts {
        l.end_attempt(Limit::FailedLogin, key, permit, true).await;
    }
    // A right password clears the streak: three at once again.
    assert_eq!(begun(&*l, key, 3).await.len(), 3);
}

/// With a quota smaller than the free failures, no more attempts run at once than the quota
/// has left: as many as one after another would get checked.
pub async fn attempts_run_together_no_more_than_the_quota_has_left<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let quotas = vec![(Limit::FailedLogin, Quota::new(2, Duration::from_secs(900)))];
    let l = fresh(quotas, with_backoff(3, 2, 60), clock()).await;
    let key = "ada@example.com";
    let attempts = begun(&*l, key, 3).await;
    assert_eq!(attempts.len(), 2, "a quota of two: two at once");
    let mut attempts = attempts.into_iter();
    let first = attempts.next().expect("two attempts");
    l.end_attempt(Limit::FailedLogin, key, first, false).await;
    // One event of the quota left, and one attempt still running: no room.
    assert_eq!(l.begin_attempt(Limit::FailedLogin, key).await.map(drop), Err(BUSY_WAIT));
    for permit in attempts {
        l.end_attempt(Limit::FailedLogin, key, permit, false).await;
    }
    // The quota is used up: held back by it, not let in.
    assert!(l.begin_attempt(Limit::FailedLogin, key).await.is_err());
}

pub async fn a_second_attempt_on_a_key_in_progress_is_refused_at_once<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let l = fresh(login(2, 60), LimiterSettings::default(), clock()).await;
    let first = l.begin_attempt(Limit::Login, "a").await.expect("fresh key");
    assert_eq!(l.begin_attempt(Limit::Login, "a").await.map(drop), Err(BUSY_WAIT));
    // Another key is not held up.
    drop(l.begin_attempt(Limit::Login, "b").await.expect("other key"));
    // The first attempt fails twice over (two failures use up the quota of 2)...
    l.hit(Limit::Login, "a").await;
    l.end_attempt(Limit::Login, "a", first, false).await;
    // ...so the next one is held back by the quota, not by the attempt in progress.
    assert_eq!(
        l.begin_attempt(Limit::Login, "a").await.map(drop),
        Err(Duration::from_secs(30))
    );
}

/// An attempt whose permit is dropped without an end (a request cancelled half-way) frees its
/// place soon, and counts as nothing.
pub async fn a_dropped_attempt_frees_its_place<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let l = fresh(login(2, 60), LimiterSettings::default(), clock()).await;
    drop(l.begin_attempt(Limit::Login, "a").await.expect("fresh key"));
    // A shared store frees the place off the request's path: give it a moment.
    let mut again = l.begin_attempt(Limit::Login, "a").await;
    for _ in 0..100 {
        if again.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        again = l.begin_attempt(Limit::Login, "a").await;
    }
    let again = again.expect("the dropped attempt's place is free again");
    l.end_attempt(Limit::Login, "a", again, true).await;
    assert_eq!(remaining(l.hit(Limit::Login, "a").await), 1, "nothing was counted");
}

pub async fn one_limiter_shared_by_many_tasks_lets_exactly_the_quota_through<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let l = fresh(login(5, 900), LimiterSettings::default(), clock()).await;
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

pub async fn consecutive_failures_back_off_growing_to_a_cap_and_a_success_ends_it<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let clock = clock();
    let quotas = vec![(Limit::FailedLogin, Quota::new(1000, Duration::from_secs(60)))];
    let l = fresh(quotas, with_backoff(2, 1, 900), clock.clone()).await;
    let l = &*l;
    fail(l, "a").await.expect("a free failure");
    fail(l, "a").await.expect("a free failure");
    // Third failure: one second, then two, four... never more than 900.
    fail(l, "a").await.expect("the last free failure");
    assert_eq!(fail(l, "a").await, Err(Duration::from_secs(1)));
    let mut waits = Vec::new();
    for _ in 0..14 {
        let wait = l.held_back(Limit::FailedLogin, "a").await.unwrap_or_default();
        advance(&clock, wait);
        fail(l, "a").await.expect("after the wait");
        waits.push(wait.as_secs());
    }
    assert_eq!(&waits[..6], &[1, 2, 4, 8, 16, 32]);
    assert_eq!(waits.last(), Some(&900), "capped: {waits:?}");
    // Another key is untouched.
    assert!(l.begin_attempt(Limit::FailedLogin, "b").await.is_ok());
    // A success after the wait ends the streak.
    advance(&clock, Duration::from_secs(900));
    let permit = l.begin_attempt(Limit::FailedLogin, "a").await.expect("after the wait");
    l.end_attempt(Limit::FailedLogin, "a", permit, true).await;
    fail(l, "a").await.expect("a new streak");
    assert_eq!(l.held_back(Limit::FailedLogin, "a").await, None);
}

pub async fn a_streak_is_forgotten_after_twice_the_longest_wait<F, Fut>(fresh: F)
where
    F: Fn(Vec<(Limit, Quota)>, LimiterSettings, Arc<ManualClock>) -> Fut,
    Fut: Future<Output = Arc<dyn RateLimiter>>,
{
    let clock = clock();
    let quotas = vec![(Limit::FailedLogin, Quota::new(1000, Duration::from_secs(60)))];
    let l = fresh(quotas, with_backoff(2, 1, 900), clock.clone()).await;
    for _ in 0..3 {
        fail(&*l, "a").await.expect("free failures");
    }
    assert!(l.held_back(Limit::FailedLogin, "a").await.is_some());
    advance(&clock, Duration::from_secs(1800));
    // The next failure starts a new streak: two free ones again.
    fail(&*l, "a").await.expect("a new streak");
    assert_eq!(l.held_back(Limit::FailedLogin, "a").await, None);
}
