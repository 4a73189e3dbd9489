//! Portcullis HTTP layer (actix-web): routes, extractors, the error envelope. Thin by design:
//! handlers parse input into domain types, call one use case of
//! [`portcullis_domain::AuthService`], and shape the answer.

mod body;
mod capacity;
mod captcha;
mod command;
mod dto;
mod error;
mod extract;
mod limit;
pub mod metrics;
pub mod openapi;
mod routes;
mod routing;
mod span;
mod state;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, ServiceConfig};
use portcullis_domain::limits::Limit;

use crate::routing::{Routes, on};

pub use captcha::{CaptchaEndpoint, CaptchaGate};
pub use error::{ApiError, FieldDetail};
pub use limit::{RequestLimits, pace_busy_refusals, request_limits};
pub use span::RequestSpan;
pub use state::{AppState, AvatarUploads, Draining, MetricsEndpoint, MetricsText};

/// Registers every route. The composition root wraps this in an `App` with [`request_id`] and
/// the tracing logger.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg: &mut ServiceConfig| {
        // A query string that does not parse (`limit=abc`) is a 422 in the envelope, like a body.
        let query = web::QueryConfig::default().error_handler(|err, _| {
            error::ApiError::validation(vec![error::FieldDetail {
                field: "query",
                code: "invalid",
                message: err.to_string(),
            }])
            .into()
        });
        cfg.app_data(state).app_data(query);
        register(&mut Routes {
            cfg,
            seen: &mut Vec::new(),
        });
    }
}

/// Every (method, path template) the API serves, as registered: what the OpenAPI document
/// must describe, no more and no less.
pub fn routes() -> Vec<(Method, &'static str)> {
    let mut seen = Vec::new();
    let _ = actix_web::App::new().configure(|cfg| register(&mut Routes { cfg, seen: &mut seen }));
    seen
}

/// The route table. Every path answers a wrong method with 405, an `Allow` header and the
/// envelope.
fn register(r: &mut Routes<'_>) {
    use Method as M;
    r.limited("/v1/auth/register", Limit::Register, routes::register);
    r.limited("/v1/auth/verify-email", Limit::SecretSubmission, routes::verify_email);
    r.limited(
        "/v1/auth/verify-email/resend",
        Limit::VerificationResend,
        routes::resend_verification,
    );
    r.limited("/v1/auth/login", Limit::Login, routes::login);
    r.limited(
        "/v1/auth/login/code/request",
        Limit::LoginCodeRequest,
        routes::request_login_code,
    );
    r.limited("/v1/auth/login/code", Limit::Login, routes::login_with_code);
    r.limited("/v1/auth/authorize-ip", Limit::SecretSubmission, routes::authorize_ip);
    r.limited(
        "/v1/auth/password/forgot",
        Limit::PasswordResetRequest,
        routes::forgot_password,
    );
    r.limited("/v1/auth/password/verify", Limit::SecretSubmission, routes::check_reset);
    r.limited(
        "/v1/auth/password/reset",
        Limit::SecretSubmission,
        routes::reset_password,
    );
    r.post("/v1/auth/refresh", routes::refresh);
    r.post("/v1/auth/logout", routes::logout);
    r.get("/v1/auth/session", routes::session);
    r.post("/v1/auth/introspect", routes::introspect);
    r.add(
        "/v1/account",
        None,
        vec![on(M::GET, routes::account), on(M::PATCH, routes::update_account)],
    );
    r.add(
        "/v1/account/avatar",
        None,
        vec![on(M::PUT, routes::put_avatar), on(M::DELETE, routes::delete_avatar)],
    );
    r.add(
        "/v1/users/{id}/avatar",
        None,
        vec![on(M::GET, routes::get_avatar), on(M::HEAD, routes::get_avatar)],
    );
    r.post("/v1/account/mfa/totp", routes::enroll_totp);
    r.post("/v1/account/mfa/totp/activate", routes::activate_totp);
    r.post("/v1/account/mfa/totp/disable", routes::disable_totp);
    r.post("/v1/account/mfa/recovery-codes", routes::regenerate_recovery_codes);
    r.get("/v1/account/sessions", routes::list_sessions);
    r.get("/v1/account/events", routes::my_events);
    r.post("/v1/account/sessions/revoke", routes::revoke_sessions);
    r.add(
        "/v1/account/sessions/{id}",
        None,
        vec![on(M::DELETE, routes::delete_session)],
    );
    r.post("/v1/account/password", routes::change_password);
    r.post("/v1/account/email", routes::change_email);
    r.get("/v1/public/signup/plans/{tenant_slug}", routes::signup_plans);
    r.limited("/v1/public/signup", Limit::Register, routes::sign_up);
    r.limited(
        "/v1/public/signup/verify",
        Limit::SecretSubmission,
        routes::verify_signup,
    );
    r.add(
        "/v1/admin/tenants",
        None,
        vec![on(M::GET, routes::list_tenants), on(M::POST, routes::create_tenant)],
    );
    r.add(
        "/v1/admin/tenants/{slug}",
        None,
        vec![on(M::GET, routes::show_tenant), on(M::PATCH, routes::update_tenant)],
    );
    r.get("/v1/admin/tenants/{slug}/plans", routes::list_plans);
    r.add(
        "/v1/admin/tenants/{slug}/plans/{name}",
        None,
        vec![on(M::PUT, routes::put_plan), on(M::DELETE, routes::delete_plan)],
    );
    r.add(
        "/v1/admin/tenants/{slug}/nodes",
        None,
        vec![on(M::GET, routes::list_nodes), on(M::POST, routes::add_node)],
    );
    r.add(
        "/v1/admin/tenants/{slug}/nodes/{id}",
        None,
        vec![on(M::PATCH, routes::update_node)],
    );
    r.get("/v1/admin/tenants/{slug}/customers", routes::list_customers);
    r.get("/v1/admin/tenants/{slug}/users", routes::list_users);
    r.get("/v1/admin/tenants/{slug}/events", routes::tenant_events);
    r.add(
        "/v1/admin/tenants/{slug}/users/{id}",
        None,
        vec![on(M::GET, routes::show_user), on(M::DELETE, routes::erase_user)],
    );
    r.post("/v1/admin/tenants/{slug}/users/{id}/disable", routes::disable_user);
    r.post("/v1/admin/tenants/{slug}/users/{id}/enable", routes::enable_user);
    r.post(
        "/v1/admin/tenants/{slug}/users/{id}/sessions/revoke",
        routes::revoke_user_sessions,
    );
    r.add(
        "/health/live",
        None,
        vec![on(M::GET, routes::live), on(M::HEAD, routes::live)],
    );
    r.add(
        "/health/ready",
        None,
        vec![on(M::GET, routes::ready), on(M::HEAD, routes::ready)],
    );
    r.get("/.well-known/jwks.json", routes::jwks);
    r.get("/metrics", routes::metrics);
    r.get("/v1/openapi.json", routes::openapi);
}

/// The handler for unknown paths, for `App::default_service`.
pub fn not_found_service() -> actix_web::Route {
    web::to(routes::not_found)
}

/// Echoes the request's id as `X-Request-Id` (the one a trusted proxy passed on, else the one
/// `tracing-actix-web` made), so a client can quote it and an operator can find the request's
/// log lines.
pub fn request_id<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>> + use<S, B>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
    let id = Some(extract::request_id(req.request()));
    let fut = srv.call(req);
    async move {
        let mut res = fut.await?;
        if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
        }
        Ok(res)
    }
}
