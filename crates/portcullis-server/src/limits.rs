//! The rate limiter of a node: in-process counts, shared through Redis when
//! `limits.store = "redis"` (with the in-process counts as the fallback), refusals counted for
//! `/metrics` either way.

use std::sync::Arc;
use std::time::Duration;

use portcullis_domain::{Clock, RateLimiter};

use crate::config::{Config, LimitStore};

/// Builds the node's limiter. With Redis it connects (a node whose Redis is down starts anyway,
/// on its own counts, and connects when it can); key names in Redis are derived under a secret
/// of the refresh key, which every node shares.
pub async fn limiter(
    config: &Config,
    clock: Arc<dyn Clock>,
    refresh_key: &portcullis_domain::ServerKey,
) -> anyhow::Result<Arc<dyn RateLimiter>> {
    let limits = &config.limits;
    let governor = Arc::new(portcullis_ratelimit::GovernorLimiter::with_settings(
        limits.quotas(),
        &limits.limiter_settings(),
        clock.clone(),
    ));
    spawn_housekeeping(governor.clone());
    let store: Arc<dyn RateLimiter> = match (limits.store, &limits.redis_url) {
        (LimitStore::Redis, Some(url)) => {
            let secret = refresh_key.fingerprint("rate-limit key names").into_bytes();
            let mut settings = portcullis_redis::RedisSettings::new(url.clone(), secret);
            settings.prefix.clone_from(&limits.redis_prefix);
            settings.timeout = Duration::from_millis(limits.redis_timeout_ms);
            let shared = portcullis_redis::RedisLimiter::connect(
                settings,
                limits.quotas(),
                &limits.limiter_settings(),
                clock,
                governor,
            )
            .await?;
            tracing::info!(prefix = %limits.redis_prefix, "rate limits shared through Redis");
            Arc::new(shared)
        }
        _ => governor,
    };
    Ok(Arc::new(portcullis_ratelimit::Metered(store)))
}

/// Forgets in-process keys that are back to fresh, every minute, for as long as the limiter is
/// in use anywhere.
fn spawn_housekeeping(limiter: Arc<portcullis_ratelimit::GovernorLimiter>) {
    let weak = Arc::downgrade(&limiter);
    drop(limiter);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let Some(limiter) = weak.upgrade() else { break };
            let held = limiter.housekeeping();
            tracing::debug!(keys = held, "rate-limit housekeeping");
        }
    });
}
