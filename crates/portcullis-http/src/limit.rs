//! Per-client rate limits on the public endpoints, as middleware around each limited resource:
//! counted before the body is read, so malformed floods are cut off too.

use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, ResponseError};
use portcullis_domain::limits::{Limit, RateDecision, client_key};

use crate::error::ApiError;
use crate::extract::client_ip;
use crate::state::AppState;

/// Whole seconds for `Retry-After`, rounded up and at least 1 (a client told 0 would retry
/// at once and be refused again).
pub(crate) fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Counts the request against `limit` for its client network; answers 429 when over.
pub(crate) async fn per_client(
    limit: Limit,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let key = client_ip(req.request()).map_or_else(|| "unknown".to_owned(), client_key);
    match state.limiter.hit(limit, &key).await {
        RateDecision::Unlimited => next.call(req).await,
        RateDecision::Allowed { limit, remaining } => {
            let mut res = next.call(req).await?;
            advertise(res.headers_mut(), limit, remaining);
            Ok(res)
        }
        RateDecision::Limited {
            limit: count,
            retry_after,
        } => {
            tracing::warn!(limit = limit.name(), client = %key, "rate limited");
            let mut res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests from your network; try again later.",
            )
            .retry_after(whole_seconds(retry_after))
            .error_response();
            advertise(res.headers_mut(), count, 0);
            Ok(req.into_response(res))
        }
    }
}

fn advertise(headers: &mut HeaderMap, limit: u32, remaining: u32) {
    headers.insert(HeaderName::from_static("ratelimit-limit"), HeaderValue::from(limit));
    headers.insert(
        HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(remaining),
    );
}

#[cfg(test)]
mod tests {
    use super::whole_seconds;
    use std::time::Duration;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(20)), 20);
        assert_eq!(whole_seconds(Duration::from_millis(20_001)), 21);
    }
}
