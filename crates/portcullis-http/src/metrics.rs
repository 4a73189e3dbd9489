//! Request metrics, recorded through the `metrics` facade (the composition root installs the
//! recorder that renders them): every request counted with its latency by route template,
//! method and status, and logins by outcome. Every label has a bounded set of values: the
//! route's *template* (`/v1/users/{id}/avatar`, never an id), one of the standard methods, the
//! status code, an outcome from a fixed list. No user id, address or IP is ever a label.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use portcullis_domain::{CodeLoginError, InfraError, LoginError, MfaError, OneTimeError};

/// Requests answered, by `route`, `method` and `status`.
pub const HTTP_REQUESTS: &str = "portcullis_http_requests_total";
/// Time to answer, by `route` and `method`.
pub const HTTP_DURATION: &str = "portcullis_http_request_duration_seconds";
/// Password and code logins, by `outcome`.
pub const LOGINS: &str = "portcullis_logins_total";

/// Counts and times one request. Outermost but for the access log, so refusals by the other
/// middleware (limits, oversized headers) are counted too.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await;
    let (route, status) = match &res {
        Ok(res) => (
            res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
            res.status().as_u16(),
        ),
        Err(e) => ("unmatched".to_owned(), e.as_response_error().status_code().as_u16()),
    };
    let (count, time) = series(route, method, status);
    time.record(start.elapsed().as_secs_f64());
    count.increment(1);
    res
}

/// The handles of one route's series, by method and status.
type RouteSeries = HashMap<(&'static str, u16), (metrics::Counter, metrics::Histogram)>;

/// The handles of the request series, made once per (route, method, status) and kept: a request
/// then costs a map lookup, an atomic add and a histogram push, not a key built, hashed and
/// looked up in the recorder twice (118 against 384 ns a request, `cargo bench -p
/// portcullis-http --bench metrics_crates`). Bounded like the labels: route templates × methods
/// × statuses. Handles belong to the recorder installed when they are made, which the server
/// installs before it serves.
fn series(route: String, method: &'static str, status: u16) -> (metrics::Counter, metrics::Histogram) {
    static SERIES: OnceLock<RwLock<HashMap<String, RouteSeries>>> = OnceLock::new();
    let all = SERIES.get_or_init(RwLock::default);
    let known = all
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route.as_str())
        .and_then(|r| r.get(&(method, status)).cloned());
    known.unwrap_or_else(|| {
        let made = (
            metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string()),
            metrics::histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method),
        );
        all.write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(route)
            .or_default()
            .insert((method, status), made.clone());
        made
    })
}

/// On the metrics listener (`metrics.bind`), everything but `GET /metrics` is 404: the
/// service's endpoints are not reachable through the address meant for scrapers.
pub async fn fence(
    metrics_addr: std::net::SocketAddr,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if req.app_config().local_addr() == metrics_addr && req.path() != "/metrics" {
        let (req, _) = req.into_parts();
        return Ok(ServiceResponse::new(req, crate::routes::not_found().await));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts a login that ended as `outcome`.
pub fn login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// The outcome label of a password login.
pub fn login_outcome<T>(result: &Result<T, LoginError>) -> &'static str {
    result.as_ref().map_or_else(login_error, |_| "success")
}

/// The outcome label of a login by mailed code.
pub fn code_login_outcome<T>(result: &Result<T, CodeLoginError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(CodeLoginError::Code(OneTimeError::AccountDisabled)) => "account_disabled",
        Err(CodeLoginError::Code(OneTimeError::Infra(InfraError::Busy { .. }))) => "busy",
        Err(CodeLoginError::Code(OneTimeError::Infra(_))) => "error",
        Err(CodeLoginError::Code(_)) => "invalid_code",
        Err(CodeLoginError::Login(e)) => login_error(e),
    }
}

fn login_error(e: &LoginError) -> &'static str {
    match e {
        LoginError::InvalidCredentials => "invalid_credentials",
        LoginError::EmailNotVerified => "email_not_verified",
        LoginError::AccountDisabled => "account_disabled",
        LoginError::SecondFactor(MfaError::Required) => "mfa_required",
        LoginError::SecondFactor(MfaError::Locked { .. }) => "mfa_locked",
        LoginError::SecondFactor(MfaError::OverBudget(_)) | LoginError::Throttled { .. } => "throttled",
        LoginError::SecondFactor(MfaError::Infra(InfraError::Busy { .. }))
        | LoginError::Infra(InfraError::Busy { .. }) => "busy",
        LoginError::SecondFactor(MfaError::Infra(_)) | LoginError::Infra(_) => "error",
        LoginError::SecondFactor(_) => "mfa_invalid",
        LoginError::IpAuthorizationRequired => "ip_authorization_required",
    }
}
