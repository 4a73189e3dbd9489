//! Per-client rate limits on the public endpoints, as middleware around each limited resource:
//! counted before the body is read, so malformed floods are cut off too.

use actix_web::Error;
use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Data;
use portcullis_domain::limits::{Limit, RateDecision, client_key};

use crate::error::{ApiError, whole_seconds};
use crate::extract::client_ip;
use crate::state::AppState;

/// Counts the request against `limit` for its client network; answers 429 when over.
pub(crate) async fn per_client(
    limit: Limit,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Only the POST that does the work counts: a browser's CORS preflight (`OPTIONS`) or a
    // wrong method costs nothing and must not use up the budget of the request it precedes.
    let Some(state) = req
        .app_data::<Data<AppState>>()
        .cloned()
        .filter(|_| req.method() == actix_web::http::Method::POST)
    else {
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
            let res = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests from your network; try again later.",
            )
            .retry_after(whole_seconds(retry_after));
            // `error_response` keeps the error on the response, so the request log records it.
            let mut res = req.error_response(res);
            advertise(res.headers_mut(), count, 0);
            Ok(res)
        }
    }
}

/// How long a request line and its headers may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Longest path and query, in bytes.
    pub max_uri_bytes: usize,
    /// Most header bytes (names and values together).
    pub max_header_bytes: usize,
    /// Most headers.
    pub max_headers: usize,
}

/// Refuses over-long request targets (414 `uri_too_long`) and oversized header sections (431
/// `headers_too_large`) in the envelope, before any route runs. Heads beyond the HTTP parser's
/// own limits never get this far; actix answers those itself.
pub async fn request_limits(
    limits: RequestLimits,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let uri = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    let headers = req.headers();
    let header_bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    let refusal = if uri > limits.max_uri_bytes {
        Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("The request path and query exceed {} bytes.", limits.max_uri_bytes),
        ))
    } else if header_bytes > limits.max_header_bytes || headers.len() > limits.max_headers {
        Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "The request headers exceed {} bytes or {} fields.",
                limits.max_header_bytes, limits.max_headers
            ),
        ))
    } else {
        None
    };
    match refusal {
        Some(error) => Ok(req.error_response(error)),
        None => next.call(req).await,
    }
}

fn advertise(headers: &mut HeaderMap, limit: u32, remaining: u32) {
    headers.insert(HeaderName::from_static("ratelimit-limit"), HeaderValue::from(limit));
    headers.insert(
        HeaderName::from_static("ratelimit-remaining"),
        HeaderValue::from(remaining),
    );
}

/// Sends a `server_busy` refusal (503, password hashing at capacity) only after `delay`. The
/// wait costs a timer, not a thread; a client that retries at once, as a flood does, then asks
/// a few times a second instead of thousands, and the CPU goes to the hashes that were admitted.
/// Every other response goes out at once.
pub async fn pace_busy_refusals(
    delay: std::time::Duration,
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<actix_web::body::BoxBody>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let busy = res.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE
        && res
            .response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
            .is_some_and(|e| e.code() == "server_busy");
    if busy && !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::{RequestLimits, request_limits};
    use actix_web::http::StatusCode;
    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpResponse, middleware::from_fn, web};

    /// A refusal must carry its error, or the request log (which reads it from the response)
    /// would leave it out.
    #[actix_web::test]
    async fn refusals_keep_their_error_for_the_request_log() {
        let limits = RequestLimits {
            max_uri_bytes: 64,
            max_header_bytes: 1024,
            max_headers: 16,
        };
        let app = init_service(
            App::new()
                .wrap(from_fn(move |req, next| request_limits(limits, req, next)))
                .route("/ok", web::get().to(HttpResponse::Ok))
                .default_service(crate::not_found_service()),
        )
        .await;
        let long = format!("/ok?{}", "q".repeat(100));
        let res = call_service(&app, TestRequest::get().uri(&long).to_request()).await;
        assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
        assert!(res.response().error().is_some());

        let res = call_service(&app, TestRequest::get().uri("/nope").to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.response().error().is_some());

        let res = call_service(&app, TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.response().error().is_none());
    }
}
