//! The rate-limit contract on a real Redis (`REDIS_URL`; `scripts/test.sh` starts a throwaway
//! one when none is given). Every test gets keys of its own under a fresh prefix.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use portcullis_domain::ManualClock;
use portcullis_domain::limits::{Limit, NoLimits, Quota, RateLimiter};
use portcullis_ratelimit::LimiterSettings;
use portcullis_redis::{RedisLimiter, RedisSettings};

fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL must point at a Redis server (scripts/test.sh sets it)")
}

async fn fresh(
    quotas: Vec<(Limit, Quota)>,
    settings: LimiterSettings,
    clock: Arc<ManualClock>,
) -> Arc<dyn RateLimiter> {
    let mut redis = RedisSettings::new(redis_url().into(), vec![7; 32]);
    redis.prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    // No fallback that could hide a failure: an unlimited one would fail every test.
    let limiter = RedisLimiter::connect(redis, quotas, &settings, clock, Arc::new(NoLimits))
        .await
        .unwrap();
    Arc::new(limiter)
}

portcullis_ratelimit::limiter_conformance!(fresh);
