//! Rate limits shared by every node, on Redis: the same [`RateLimiter`] contract as the
//! in-process store (`portcullis_ratelimit::conformance` runs against both), so a budget of
//! five logins is five across the whole cluster, not five per node.
//!
//! Each decision is one call of one Lua script ([`gcra.lua`](../src/gcra.lua)), atomic on the
//! server: GCRA for quotas (a burst of `count`, one event back every `period / count`), the
//! back-off after consecutive failures, and the attempts in progress on a key (leased, so an
//! attempt whose node died frees its place after [`RedisSettings::attempt_lease`]). Every key
//! carries a lifetime that ends when its state is fresh again, so Redis holds only keys that
//! still limit someone. Time comes from the caller's [`Clock`], so nodes must keep their clocks
//! in sync (NTP; a skew of a second is a second of a limit's period).
//!
//! Keys are `{prefix}:{<limit>:<digest>}`: the digest is an HMAC-SHA-256 (truncated to 128 bits)
//! under [`RedisSettings::key_secret`], a secret every node shares, so whoever can read Redis
//! cannot tell which login name, address or network a key counts (not even by hashing every
//! IPv4 address), and keys have a bounded length. The braces would keep a key's state and its
//! attempts in one slot; the client speaks to one Redis endpoint (Redis Cluster is not
//! supported).
//!
//! When Redis does not answer (down, unreachable, slower than [`RedisSettings::timeout`]) the
//! node answers from its in-process limits, logs the change once, sets
//! [`SHARED_UP`](health::SHARED_UP) to 0 and counts [`FALLBACK`](health::FALLBACK); it asks Redis
//! again once a second and goes back as soon as it answers. Limits then hold per node, as they
//! would with no Redis at all: never off, never failing a request.

mod health;

pub use health::{FALLBACK, SHARED_UP};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use portcullis_domain::Clock;
use portcullis_domain::limits::{AttemptPermit, Backoff, Limit, Quota, RateDecision, RateLimiter};
use portcullis_ratelimit::{BUSY_WAIT, LimiterSettings};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};

use crate::health::Health;

/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a node that has no connection yet tries to make one.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// Where the shared store is and how long to wait for it.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS.
    pub url: SecretString,
    /// Prefix of every key, so several deployments (or brands) can share one Redis.
    pub prefix: String,
    /// How long one decision may wait for Redis before the node answers from its own limits.
    pub timeout: Duration,
    /// How long an attempt in progress holds its place if its node never ends it (a crash).
    pub attempt_lease: Duration,
    /// The secret key names are derived under; the same on every node, or nodes count apart.
    pub key_secret: Vec<u8>,
}

impl RedisSettings {
    /// Settings for `url` with the defaults: prefix `portcullis:rl`, 250 ms, 60 s leases, and
    /// key names derived under `key_secret`.
    pub fn new(url: SecretString, key_secret: Vec<u8>) -> Self {
        Self {
            url,
            prefix: "portcullis:rl".into(),
            timeout: Duration::from_millis(250),
            attempt_lease: Duration::from_secs(60),
            key_secret,
        }
    }
}

/// The shared store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is not a Redis URL.
    #[error("limits.redis_url is not a usable Redis URL: {0}")]
    Url(String),
}

/// What one limit allows.
#[derive(Debug, Clone, Copy)]
struct Rule {
    quota: Quota,
    backoff: Option<Backoff>,
}

/// The shared [`RateLimiter`] on Redis, with the in-process limiter it falls back to.
pub struct RedisLimiter {
    rules: HashMap<Limit, Rule>,
    settings: RedisSettings,
    clock: Arc<dyn Clock>,
    script: redis::Script,
    conn: Arc<OnceLock<ConnectionManager>>,
    health: Arc<Health>,
    fallback: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.settings.prefix)
            .field("connected", &self.conn.get().is_some())
            .field("down", &self.health.is_down())
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter with these quotas and back-offs on the Redis at `settings.url`, answering from
    /// `fallback` while Redis cannot. Tries to connect (a second per attempt, two attempts);
    /// if that fails the node starts anyway on its own limits and keeps trying in the
    /// background. Call it inside a Tokio runtime.
    pub async fn connect(
        settings: RedisSettings,
        quotas: impl IntoIterator<Item = (Limit, Quota)>,
        limiter_settings: &LimiterSettings,
        clock: Arc<dyn Clock>,
        fallback: Arc<dyn RateLimiter>,
    ) -> Result<Self, Error> {
        let client = redis::Client::open(settings.url.expose_secret()).map_err(|e| Error::Url(e.to_string()))?;
        let rules = quotas
            .into_iter()
            .filter_map(|(limit, quota)| {
                let backoff = limiter_settings.backoff_for(limit);
                (quota.is_enabled() || backoff.is_some()).then_some((limit, Rule { quota, backoff }))
            })
            .collect();
        let limiter = Self {
            rules,
            clock,
            script: redis::Script::new(include_str!("gcra.lua")),
            conn: Arc::new(OnceLock::new()),
            health: Arc::new(Health::new()),
            fallback,
            settings,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(limiter.settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(RECONNECT_EVERY);
        match client.get_connection_manager_with_config(config.clone()).await {
            Ok(conn) => {
                let _ = limiter.conn.set(conn);
                metrics::gauge!(SHARED_UP).set(1.0);
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "rate limits: the shared store does not answer; this node counts its limits on its own until it does"
                );
                limiter.health.start_down();
                spawn_connector(client, config, Arc::clone(&limiter.conn));
            }
        }
        spawn_gauge(Arc::downgrade(&limiter.health), Arc::downgrade(&limiter.conn));
        Ok(limiter)
    }

    /// The state and attempts keys of `key` under `limit`.
    fn keys(&self, limit: Limit, key: &str) -> Keys {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.settings.key_secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(key.as_bytes());
        let digest = mac.finalize().into_bytes();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
        let state = format!("{}:{{{}:{tag}}}", self.settings.prefix, limit.name());
        let attempts = format!("{state}:a");
        Keys { state, attempts }
    }

    /// Runs one operation of the script, or `None` when Redis cannot answer now.
    async fn run(&self, op: &str, rule: &Rule, keys: &Keys, attempt: &str) -> Option<(i64, i64)> {
        let conn = self.conn.get()?;
        if !self.health.may_try() {
            return None;
        }
        let mut conn = conn.clone();
        let backoff = rule.backoff.unwrap_or(Backoff {
            after: 0,
            first: Duration::ZERO,
            max: Duration::ZERO,
        });
        let mut call = self.script.prepare_invoke();
        call.key(&keys.state)
            .key(&keys.attempts)
            .arg(op)
            .arg(self.clock.now().timestamp_micros())
            .arg(micros(rule.quota.period))
            .arg(rule.quota.count)
            .arg(backoff.after)
            .arg(micros(backoff.first))
            .arg(micros(backoff.max))
            .arg(micros(self.settings.attempt_lease))
            .arg(attempt);
        match tokio::time::timeout(self.settings.timeout, call.invoke_async::<(i64, i64)>(&mut conn)).await {
            Ok(Ok(answer)) => {
                self.health.up();
                Some(answer)
            }
            Ok(Err(e)) => {
                self.health.down(&e.to_string());
                None
            }
            Err(_) => {
                self.health.down("no answer within limits.redis_timeout_ms");
                None
            }
        }
    }

    /// Removes attempt `id` from `key`, off the request's path (best effort: the lease ends on
    /// its own).
    fn release_lease(&self, key: String, id: String) {
        if let Some(conn) = self.conn.get() {
            give_back(conn.clone(), key, id);
        }
    }

    /// The in-process limiter, for a decision Redis could not make.
    fn fallback(&self) -> &dyn RateLimiter {
        metrics::counter!(FALLBACK).increment(1);
        &*self.fallback
    }
}

/// Sets [`SHARED_UP`] every few seconds (not only on a change, which a recorder installed later
/// would miss), for as long as the limiter lives.
fn spawn_gauge(health: std::sync::Weak<Health>, conn: std::sync::Weak<OnceLock<ConnectionManager>>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            let (Some(health), Some(conn)) = (health.upgrade(), conn.upgrade()) else {
                return;
            };
            let up = conn.get().is_some() && !health.is_down();
            metrics::gauge!(SHARED_UP).set(if up { 1.0 } else { 0.0 });
        }
    });
}

/// Keeps trying to connect until it does.
fn spawn_connector(client: redis::Client, config: ConnectionManagerConfig, slot: Arc<OnceLock<ConnectionManager>>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RECONNECT_EVERY).await;
            if let Ok(conn) = client.get_connection_manager_with_config(config.clone()).await {
                let _ = slot.set(conn);
                tracing::info!("rate limits: connected to the shared store");
                return;
            }
        }
    });
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn wait(micros: i64) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

struct Keys {
    state: String,
    attempts: String,
}

/// An attempt leased on Redis. Ended by [`RateLimiter::end_attempt`] in the same script call
/// that counts it; dropped without an end, it gives its place back off the request's path.
struct LeasedAttempt {
    id: String,
    attempts_key: String,
    conn: ConnectionManager,
    ended: bool,
}

impl Drop for LeasedAttempt {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        give_back(
            self.conn.clone(),
            std::mem::take(&mut self.attempts_key),
            std::mem::take(&mut self.id),
        );
    }
}

/// Removes attempt `id` from the attempts `key`, off the caller's path and best effort: outside
/// a Tokio runtime, or if Redis does not answer within a second, the lease ends on its own.
fn give_back(mut conn: ConnectionManager, key: String, id: String) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut release = redis::cmd("ZREM");
        release.arg(&key).arg(&id);
        let _ = tokio::time::timeout(Duration::from_secs(1), release.query_async::<()>(&mut conn)).await;
    });
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn hit(&self, limit: Limit, key: &str) -> RateDecision {
        let Some(rule) = self.rules.get(&limit).filter(|r| r.quota.is_enabled()) else {
            return RateDecision::Unlimited;
        };
        match self.run("hit", rule, &self.keys(limit, key), "").await {
            Some((1, remaining)) => RateDecision::Allowed {
                limit: rule.quota.count,
                remaining: u32::try_from(remaining).unwrap_or(0),
            },
            Some((_, micros)) => RateDecision::Limited {
                limit: rule.quota.count,
                retry_after: wait(micros),
            },
            None => self.fallback().hit(limit, key).await,
        }
    }

    async fn held_back(&self, limit: Limit, key: &str) -> Option<Duration> {
        let rule = self.rules.get(&limit)?;
        match self.run("held", rule, &self.keys(limit, key), "").await {
            Some((micros, _)) => (micros > 0).then(|| wait(micros)),
            None => self.fallback().held_back(limit, key).await,
        }
    }

    async fn begin_attempt(&self, limit: Limit, key: &str) -> Result<AttemptPermit, Duration> {
        let Some(rule) = self.rules.get(&limit) else {
            return Ok(AttemptPermit::unguarded());
        };
        let keys = self.keys(limit, key);
        let id = uuid::Uuid::now_v7().simple().to_string();
        let answer = self.run("begin", rule, &keys, &id).await;
        if answer.is_none() {
            // The script may have leased the attempt before the answer was lost (a timeout):
            // give the place back, or it would hold the key for a whole lease on every node.
            self.release_lease(keys.attempts.clone(), id.clone());
        }
        match answer {
            Some((0, _)) => match self.conn.get() {
                Some(conn) => Ok(AttemptPermit::new(LeasedAttempt {
                    id,
                    attempts_key: keys.attempts,
                    conn: conn.clone(),
                    ended: false,
                })),
                None => Ok(AttemptPermit::unguarded()),
            },
            Some((1, micros)) => Err(wait(micros)),
            Some(_) => Err(BUSY_WAIT),
            None => self.fallback().begin_attempt(limit, key).await,
        }
    }

    async fn end_attempt(&self, limit: Limit, key: &str, permit: AttemptPermit, succeeded: bool) {
        let Some(rule) = self.rules.get(&limit) else { return };
        match permit.into_guard::<LeasedAttempt>() {
            Ok(mut attempt) => {
                let op = if succeeded { "ok" } else { "fail" };
                if self.run(op, rule, &self.keys(limit, key), &attempt.id).await.is_some() {
                    attempt.ended = true;
                } else {
                    // Counted here instead; the lease is given back (or runs out) on its own.
                    self.fallback()
                        .end_attempt(limit, key, AttemptPermit::unguarded(), succeeded)
                        .await;
                }
            }
            // An attempt the fallback began ends there.
            Err(permit) => self.fallback().end_attempt(limit, key, permit, succeeded).await,
        }
    }
}
