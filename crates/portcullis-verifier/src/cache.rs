//! The JWKS cache: keys by `kid` with the time they are good until, refreshed by one caller
//! at a time, with the refetch rates bounded.
//!
//! - A `kid` found in fresh keys is answered without waiting on anything.
//! - Stale keys (or none yet) are refreshed, by one caller while the others wait for its result;
//!   after a failed fetch, none is tried for the retry interval.
//! - A `kid` not in fresh keys causes a fetch only when the last attempt is at least the
//!   unknown-kid interval old, so random `kid`s cost at most one fetch per interval.
//! - While fetches fail, keys past their lifetime are still used for `max_stale`.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::error::{JwksError, VerifyError};
use crate::fetch::Fetcher;
use crate::keyset::{Key, Keys};

/// Keys from one successful fetch.
#[derive(Debug)]
struct Snapshot {
    keys: Keys,
    fetched_at: Instant,
    lifetime: Duration,
}

impl Snapshot {
    fn fresh_at(&self, now: Instant) -> bool {
        within(now, self.fetched_at, self.lifetime)
    }

    fn usable_at(&self, now: Instant, max_stale: Duration) -> bool {
        within(now, self.fetched_at, self.lifetime.saturating_add(max_stale))
    }

    fn get(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        self.keys.get(kid).cloned().ok_or(VerifyError::UnknownKey)
    }
}

/// Whether `now` is less than `span` after `start` (a span past what `Instant` holds never ends).
fn within(now: Instant, start: Instant, span: Duration) -> bool {
    start.checked_add(span).is_none_or(|end| now < end)
}

/// What the refreshing caller knows of past attempts.
#[derive(Debug, Default)]
struct Attempts {
    last: Option<Instant>,
    last_failure: Option<(Instant, JwksError)>,
}

/// The rates and grace of the cache.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) unknown_kid_interval: Duration,
    pub(crate) retry_interval: Duration,
    pub(crate) max_stale: Duration,
}

/// Cached keys and the single flight that refreshes them.
#[derive(Debug)]
pub(crate) struct KeyCache {
    fetcher: Fetcher,
    policy: Policy,
    clock: Arc<dyn Clock>,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    // Held across the fetch: whoever holds it is the one caller fetching.
    attempts: tokio::sync::Mutex<Attempts>,
}

/// Whether a caller without a usable key fetches.
enum Decision {
    Fetch,
    /// Answer from the keys at hand (fresh, or stale within grace), or fail.
    Answer,
}

impl KeyCache {
    pub(crate) fn new(fetcher: Fetcher, policy: Policy, clock: Arc<dyn Clock>) -> Self {
        Self {
            fetcher,
            policy,
            clock,
            snapshot: RwLock::new(None),
            attempts: tokio::sync::Mutex::new(Attempts::default()),
        }
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The key with this `kid`.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        if let Some(snapshot) = self.current()
            && snapshot.fresh_at(self.clock.monotonic())
            && let Ok(key) = snapshot.get(kid)
        {
            return Ok(key);
        }
        self.slow(kid).await
    }

    /// Fetches the JWKS now (at start-up, to fail early), whatever the cache holds.
    pub(crate) async fn refresh(&self) -> Result<(), JwksError> {
        let mut attempts = self.attempts.lock().await;
        self.fetch(&mut attempts).await
    }

    async fn slow(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        let mut attempts = self.attempts.lock().await;
        // Read again under the lock: the caller before may just have refreshed.
        let now = self.clock.monotonic();
        let snapshot = self.current();
        let decision = match &snapshot {
            Some(s) if s.fresh_at(now) => {
                if let Ok(key) = s.get(kid) {
                    return Ok(key);
                }
                let recent = attempts
                    .last
                    .is_some_and(|at| within(now, at, self.policy.unknown_kid_interval));
                if recent { Decision::Answer } else { Decision::Fetch }
            }
            _ => match &attempts.last_failure {
                Some((at, _)) if within(now, *at, self.policy.retry_interval) => Decision::Answer,
                _ => Decision::Fetch,
            },
        };
        if let Decision::Fetch = decision {
            let fetched = self.fetch(&mut attempts).await;
            if fetched.is_ok() {
                return self.current().map_or(Err(VerifyError::UnknownKey), |s| s.get(kid));
            }
        }
        let now = self.clock.monotonic();
        match snapshot {
            Some(s) if s.usable_at(now, self.policy.max_stale) => s.get(kid),
            _ => Err(VerifyError::JwksUnavailable(
                attempts
                    .last_failure
                    .as_ref()
                    .map_or_else(|| JwksError::Request("not fetched yet".to_owned()), |(_, e)| e.clone()),
            )),
        }
    }

    /// Fetches and installs the keys; the caller holds the lock.
    async fn fetch(&self, attempts: &mut Attempts) -> Result<(), JwksError> {
        let started = self.clock.monotonic();
        attempts.last = Some(started);
        match self.fetcher.fetch().await {
            Ok(fetched) => {
                tracing::debug!(
                    keys = fetched.keys.len(),
                    lifetime_secs = fetched.lifetime.as_secs(),
                    "JWKS fetched"
                );
                attempts.last_failure = None;
                // Timed from the request, so an answer that was slow does not live longer.
                let snapshot = Arc::new(Snapshot {
                    keys: fetched.keys,
                    fetched_at: started,
                    lifetime: fetched.lifetime,
                });
                *self.snapshot.write().unwrap_or_else(PoisonError::into_inner) = Some(snapshot);
                Ok(())
            }
            Err(e) => {
                let cached = self.current().is_some();
                tracing::warn!(url = %self.fetcher.url(), error = %e, cached_keys = cached, "JWKS fetch failed");
                attempts.last_failure = Some((started, e.clone()));
                Err(e)
            }
        }
    }
}
