//! Any limiter, with its refusals counted by limit (`portcullis_rate_limited_total`), so every
//! store (in-process or shared) reports the same metric.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::limits::{AttemptPermit, Limit, RateDecision, RateLimiter};

/// Requests refused by a rate limit, by `limit` (its configuration name).
pub const RATE_LIMITED: &str = "portcullis_rate_limited_total";

/// Counts the refusals of the limiter it wraps.
#[derive(Debug, Clone)]
pub struct Metered(pub Arc<dyn RateLimiter>);

fn refused(limit: Limit) {
    metrics::counter!(RATE_LIMITED, "limit" => limit.name()).increment(1);
}

#[async_trait]
impl RateLimiter for Metered {
    async fn hit(&self, limit: Limit, key: &str) -> RateDecision {
        let decision = self.0.hit(limit, key).await;
        if !decision.is_allowed() {
            refused(limit);
        }
        decision
    }

    async fn held_back(&self, limit: Limit, key: &str) -> Option<Duration> {
        let wait = self.0.held_back(limit, key).await;
        if wait.is_some() {
            refused(limit);
        }
        wait
    }

    async fn begin_attempt(&self, limit: Limit, key: &str) -> Result<AttemptPermit, Duration> {
        let permit = self.0.begin_attempt(limit, key).await;
        if permit.is_err() {
            refused(limit);
        }
        permit
    }

    async fn end_attempt(&self, limit: Limit, key: &str, permit: AttemptPermit, succeeded: bool) {
        self.0.end_attempt(limit, key, permit, succeeded).await;
    }
}
