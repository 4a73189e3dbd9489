//! The request log's root span. `tracing-actix-web`'s default span takes `http.client_ip` from
//! `Forwarded` / `X-Forwarded-For` whoever sent them, so any client could write any address
//! into the log an operator investigates abuse with. This span records the address the rate
//! limits and sessions use instead (see [`crate::extract::client_ip`]), and the path without
//! its query string.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::USER_AGENT;
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// When the request began, for its access line.
#[derive(Debug, Clone, Copy)]
struct Started(std::time::Instant);

/// Root span for `TracingLogger::<RequestSpan>::new()`.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(std::time::Instant::now()));
        let client_ip = crate::extract::client_ip(request.request()).map_or_else(String::new, |ip| ip.to_string());
        let request_id = crate::extract::request_id(request.request());
        let route = request.match_pattern().unwrap_or_else(|| "default".to_owned());
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.client_ip = %client_ip,
            http.user_agent = %user_agent,
            request_id = %request_id,
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        // Status code and error fields are recorded exactly as the default builder does.
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // One access line per request, in the request's span (method, route template, client,
        // request id): its status and latency. No query string, no header value.
        let started = match outcome {
            Ok(res) => res.request().extensions().get::<Started>().copied(),
            Err(_) => None,
        };
        // Milliseconds with microsecond precision (three decimals), not a float's noise.
        let latency_ms = started.map_or(0.0, |s| {
            let micros = u32::try_from(s.0.elapsed().as_micros()).unwrap_or(u32::MAX);
            f64::from(micros) / 1000.0
        });
        let status = match outcome {
            Ok(res) => res.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        let error_code = match outcome {
            Ok(res) => res
                .response()
                .error()
                .and_then(|e| e.as_error::<crate::ApiError>())
                .map(|e| e.code()),
            Err(e) => e.as_error::<crate::ApiError>().map(|e| e.code()),
        };
        span.in_scope(|| match error_code {
            Some(code) => tracing::info!(status, latency_ms, error = code, "request"),
            None => tracing::info!(status, latency_ms, "request"),
        });
    }
}
