//! Health, keys, and the answers for unknown routes and methods.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::web::Data;
use serde_json::json;

use super::shared::{Result, ok};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /health/live`: the process is up.
pub async fn live() -> HttpResponse {
    ok(StatusCode::OK, json!({ "status": "ok" }))
}

/// `GET /health/ready`: the node is not shutting down, and the database answers.
pub async fn ready(state: Data<AppState>) -> Result<HttpResponse> {
    if state.draining.is_draining() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "This node is shutting down.",
        )
        .retry_after(1));
    }
    state.auth.ready().await?;
    Ok(ok(StatusCode::OK, json!({ "status": "ok", "database": "ok" })))
}

/// `GET /metrics`: the Prometheus text format (no envelope: scrapers read it as is). 404 in
/// the envelope where this server does not serve metrics.
pub async fn metrics(req: actix_web::HttpRequest, state: Data<AppState>) -> HttpResponse {
    let local = req.app_config().local_addr();
    let allowed = |m: &crate::state::MetricsEndpoint| match m.only_on {
        Some(only) => only == local,
        None => crate::extract::client_ip(&req).is_some_and(|ip| m.allowed.iter().any(|net| net.contains(&ip))),
    };
    match &state.metrics {
        Some(m) if allowed(m) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(m.text.render()),
        _ => not_found().await,
    }
}

/// `GET /.well-known/jwks.json`: the keys that verify our access tokens (no envelope: JWKS is a
/// standard document that verifiers fetch as is).
pub async fn jwks(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .json(state.auth.keys().jwks())
}

/// `GET /v1/openapi.json`: the OpenAPI 3.1 document (no envelope: a standard document, read
/// by tools as is).
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .body(crate::openapi::document())
}

/// Unknown path. (Answers built with `HttpResponse::from_error` keep the error on the response,
/// so the request log records them like every other refusal.)
pub async fn not_found() -> HttpResponse {
    HttpResponse::from_error(ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint."))
}

/// Known path, wrong method.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut res = HttpResponse::from_error(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
    ));
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_str(allow)
            .unwrap_or_else(|_| actix_web::http::header::HeaderValue::from_static("GET")),
    );
    res
}
