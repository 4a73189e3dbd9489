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
mod routes;
mod span;
mod state;

use actix_web::Route;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::web::{self, ServiceConfig};
use portcullis_domain::limits::Limit;

pub use captcha::{CaptchaEndpoint, CaptchaGate};
pub use error::{ApiError, FieldDetail};
pub use limit::{RequestLimits, pace_busy_refusals, request_limits};
pub use span::RequestSpan;
pub use state::{AppState, AvatarUploads, Draining, MetricsEndpoint, MetricsText};

/// Registers every route. The composition root wraps this in an `App` with [`request_id`] and
/// the tracing logger.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg: &mut ServiceConfig| {
        // Every path answers a wrong method with 405, an `Allow` header and the envelope.
        let post = |path: &str, route: Route| {
            web::resource(path.to_owned())
                .route(route)
                .default_service(web::to(|| async { routes::method_not_allowed("POST") }))
        };
        // A POST resource counted per client network against `limit`.
        let limited = |path: &str, route: Route, limit: Limit| {
            web::resource(path.to_owned())
                .wrap(from_fn(move |req, next| limit::per_client(limit, req, next)))
                .route(route)
                .default_service(web::to(|| async { routes::method_not_allowed("POST") }))
        };
        let get = |path: &str, route: Route| {
            web::resource(path.to_owned())
                .route(route)
                .default_service(web::to(|| async { routes::method_not_allowed("GET") }))
        };
        // A query string that does not parse (`limit=abc`) is a 422 in the envelope, like a body.
        let query = web::QueryConfig::default().error_handler(|err, _| {
            error::ApiError::validation(vec![error::FieldDetail {
                field: "query",
                code: "invalid",
                message: err.to_string(),
            }])
            .into()
        });
        cfg.app_data(state)
            .app_data(query)
            .service(limited(
                "/v1/auth/register",
                web::post().to(routes::register),
                Limit::Register,
            ))
            .service(limited(
                "/v1/auth/verify-email",
                web::post().to(routes::verify_email),
                Limit::SecretSubmission,
            ))
            .service(limited(
                "/v1/auth/verify-email/resend",
                web::post().to(routes::resend_verification),
                Limit::VerificationResend,
            ))
            .service(limited("/v1/auth/login", web::post().to(routes::login), Limit::Login))
            .service(limited(
                "/v1/auth/login/code/request",
                web::post().to(routes::request_login_code),
                Limit::LoginCodeRequest,
            ))
            .service(limited(
                "/v1/auth/login/code",
                web::post().to(routes::login_with_code),
                Limit::Login,
            ))
            .service(limited(
                "/v1/auth/authorize-ip",
                web::post().to(routes::authorize_ip),
                Limit::SecretSubmission,
            ))
            .service(limited(
                "/v1/auth/password/forgot",
                web::post().to(routes::forgot_password),
                Limit::PasswordResetRequest,
            ))
            .service(limited(
                "/v1/auth/password/verify",
                web::post().to(routes::check_reset),
                Limit::SecretSubmission,
            ))
            .service(limited(
                "/v1/auth/password/reset",
                web::post().to(routes::reset_password),
                Limit::SecretSubmission,
            ))
            .service(post("/v1/auth/refresh", web::post().to(routes::refresh)))
            .service(post("/v1/auth/logout", web::post().to(routes::logout)))
            .service(get("/v1/auth/session", web::get().to(routes::session)))
            .service(
                web::resource("/v1/account")
                    .route(web::get().to(routes::account))
                    .route(web::patch().to(routes::update_account))
                    .default_service(web::to(|| async { routes::method_not_allowed("GET, PATCH") })),
            )
            .service(
                web::resource("/v1/account/avatar")
                    .route(web::put().to(routes::put_avatar))
                    .route(web::delete().to(routes::delete_avatar))
                    .default_service(web::to(|| async { routes::method_not_allowed("PUT, DELETE") })),
            )
            .service(
                get("/v1/users/{id}/avatar", web::get().to(routes::get_avatar))
                    .route(web::head().to(routes::get_avatar)),
            )
            .service(post("/v1/account/mfa/totp", web::post().to(routes::enroll_totp)))
            .service(post(
                "/v1/account/mfa/totp/activate",
                web::post().to(routes::activate_totp),
            ))
            .service(post(
                "/v1/account/mfa/totp/disable",
                web::post().to(routes::disable_totp),
            ))
            .service(post(
                "/v1/account/mfa/recovery-codes",
                web::post().to(routes::regenerate_recovery_codes),
            ))
            .service(get("/v1/account/sessions", web::get().to(routes::list_sessions)))
            .service(get("/v1/account/events", web::get().to(routes::my_events)))
            .service(post(
                "/v1/account/sessions/revoke",
                web::post().to(routes::revoke_sessions),
            ))
            .service(
                web::resource("/v1/account/sessions/{id}")
                    .route(web::delete().to(routes::delete_session))
                    .default_service(web::to(|| async { routes::method_not_allowed("DELETE") })),
            )
            .service(post("/v1/account/password", web::post().to(routes::change_password)))
            .service(post("/v1/account/email", web::post().to(routes::change_email)))
            .service(get(
                "/v1/public/signup/plans/{tenant_slug}",
                web::get().to(routes::signup_plans),
            ))
            .service(limited(
                "/v1/public/signup",
                web::post().to(routes::sign_up),
                Limit::Register,
            ))
            .service(limited(
                "/v1/public/signup/verify",
                web::post().to(routes::verify_signup),
                Limit::SecretSubmission,
            ))
            .service(post("/v1/auth/introspect", web::post().to(routes::introspect)))
            .service(
                web::resource("/v1/admin/tenants")
                    .route(web::get().to(routes::list_tenants))
                    .route(web::post().to(routes::create_tenant))
                    .default_service(web::to(|| async { routes::method_not_allowed("GET, POST") })),
            )
            .service(
                web::resource("/v1/admin/tenants/{slug}")
                    .route(web::get().to(routes::show_tenant))
                    .route(web::patch().to(routes::update_tenant))
                    .default_service(web::to(|| async { routes::method_not_allowed("GET, PATCH") })),
            )
            .service(get("/v1/admin/tenants/{slug}/plans", web::get().to(routes::list_plans)))
            .service(
                web::resource("/v1/admin/tenants/{slug}/plans/{name}")
                    .route(web::put().to(routes::put_plan))
                    .route(web::delete().to(routes::delete_plan))
                    .default_service(web::to(|| async { routes::method_not_allowed("PUT, DELETE") })),
            )
            .service(
                web::resource("/v1/admin/tenants/{slug}/nodes")
                    .route(web::get().to(routes::list_nodes))
                    .route(web::post().to(routes::add_node))
                    .default_service(web::to(|| async { routes::method_not_allowed("GET, POST") })),
            )
            .service(
                web::resource("/v1/admin/tenants/{slug}/nodes/{id}")
                    .route(web::patch().to(routes::update_node))
                    .default_service(web::to(|| async { routes::method_not_allowed("PATCH") })),
            )
            .service(get(
                "/v1/admin/tenants/{slug}/customers",
                web::get().to(routes::list_customers),
            ))
            .service(get("/v1/admin/tenants/{slug}/users", web::get().to(routes::list_users)))
            .service(get(
                "/v1/admin/tenants/{slug}/events",
                web::get().to(routes::tenant_events),
            ))
            .service(
                web::resource("/v1/admin/tenants/{slug}/users/{id}")
                    .route(web::get().to(routes::show_user))
                    .route(web::delete().to(routes::erase_user))
                    .default_service(web::to(|| async { routes::method_not_allowed("GET, DELETE") })),
            )
            .service(post(
                "/v1/admin/tenants/{slug}/users/{id}/disable",
                web::post().to(routes::disable_user),
            ))
            .service(post(
                "/v1/admin/tenants/{slug}/users/{id}/enable",
                web::post().to(routes::enable_user),
            ))
            .service(post(
                "/v1/admin/tenants/{slug}/users/{id}/sessions/revoke",
                web::post().to(routes::revoke_user_sessions),
            ))
            .service(get("/health/live", web::get().to(routes::live)).route(web::head().to(routes::live)))
            .service(get("/health/ready", web::get().to(routes::ready)).route(web::head().to(routes::ready)))
            .service(get("/.well-known/jwks.json", web::get().to(routes::jwks)))
            .service(get("/metrics", web::get().to(routes::metrics)));
    }
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
