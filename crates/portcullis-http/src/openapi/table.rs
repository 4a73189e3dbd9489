//! The table: one entry per operation the API serves.

use actix_web::http::Method;

use super::ops::{Answer, Op, data, image, list, message, object, objects, page, raw_json, text};
use crate::dto;

#[allow(clippy::too_many_lines)] // The table: one entry per operation.
pub(super) fn operations() -> Vec<Op> {
    use Method as M;
    let ok = 200;
    vec![
        Op::new(M::POST, "/v1/auth/register", "auth", "Register an account")
            .tenant()
            .body::<dto::RegisterRequest>()
            .answer(
                201,
                "Registered and signed in (no email verification)",
                data::<dto::TokenPairView>(),
            )
            .answer(202, "A link and a code were mailed", message()),
        Op::new(
            M::POST,
            "/v1/auth/verify-email",
            "auth",
            "Verify an email address (link token or code)",
        )
        .tenant()
        .body::<dto::SecretRequest>()
        .answer(
            ok,
            "Verified: a token pair (signup) or the account (email change)",
            object(),
        ),
        Op::new(
            M::POST,
            "/v1/auth/verify-email/resend",
            "auth",
            "Mail the verification again",
        )
        .tenant()
        .body::<dto::EmailRequest>()
        .answer(202, "Mailed if the address has a pending verification", message()),
        Op::new(M::POST, "/v1/auth/login", "auth", "Log in with a password")
            .tenant()
            .body::<dto::LoginRequest>()
            .answer(ok, "Signed in", data::<dto::TokenPairView>()),
        Op::new(M::POST, "/v1/auth/login/code/request", "auth", "Mail a login code")
            .tenant()
            .body::<dto::EmailRequest>()
            .answer(202, "Mailed if the address has an account", message()),
        Op::new(M::POST, "/v1/auth/login/code", "auth", "Log in with a mailed code")
            .tenant()
            .body::<dto::CodeLoginRequest>()
            .answer(ok, "Signed in", data::<dto::TokenPairView>()),
        Op::new(
            M::POST,
            "/v1/auth/authorize-ip",
            "auth",
            "Authorize a new network (link token or code)",
        )
        .tenant()
        .body::<dto::SecretRequest>()
        .answer(ok, "Authorized: log in again from that network", message()),
        Op::new(M::POST, "/v1/auth/password/forgot", "auth", "Mail a password reset")
            .tenant()
            .body::<dto::EmailRequest>()
            .answer(202, "Mailed if the address has an account", message()),
        Op::new(
            M::POST,
            "/v1/auth/password/verify",
            "auth",
            "Check a reset link or code without using it",
        )
        .tenant()
        .body::<dto::SecretRequest>()
        .answer(204, "Valid", Answer::Empty),
        Op::new(
            M::POST,
            "/v1/auth/password/reset",
            "auth",
            "Set a new password with a reset link or code",
        )
        .tenant()
        .body::<dto::SecretRequest>()
        .answer(ok, "Changed; every session ended", object()),
        Op::new(M::POST, "/v1/auth/refresh", "auth", "Rotate a refresh token")
            .body::<dto::RefreshRequest>()
            .answer(ok, "A new token pair", data::<dto::TokenPairView>()),
        Op::new(
            M::POST,
            "/v1/auth/logout",
            "auth",
            "Log out this session, or every session",
        )
        .user()
        .body::<dto::LogoutRequest>()
        .answer(204, "Logged out", Answer::Empty),
        Op::new(
            M::GET,
            "/v1/auth/session",
            "auth",
            "The caller and the session of the token",
        )
        .user()
        .answer(ok, "The user and the session", object()),
        Op::new(
            M::POST,
            "/v1/auth/introspect",
            "tokens",
            "Introspect an access token (RFC 7662 fields)",
        )
        .operator()
        .body::<dto::IntrospectRequest>()
        .answer(ok, "`active` and, when active, the token's claims", object()),
        Op::new(M::GET, "/v1/account", "account", "The caller's account")
            .user()
            .answer(ok, "The account", data::<dto::UserView>()),
        Op::new(M::PATCH, "/v1/account", "account", "Change the username")
            .user()
            .body::<dto::UpdateAccountRequest>()
            .answer(ok, "The account", data::<dto::UserView>()),
        Op::new(M::PUT, "/v1/account/avatar", "account", "Upload an avatar")
            .user()
            .picture()
            .answer(ok, "`avatar_url` of the new picture", object()),
        Op::new(M::DELETE, "/v1/account/avatar", "account", "Remove the avatar")
            .user()
            .answer(204, "Removed", Answer::Empty),
        Op::new(M::GET, "/v1/users/{id}/avatar", "account", "A user's avatar")
            .query::<crate::routes::AvatarQuery>()
            .answer(ok, "The picture", image())
            .answer(304, "Unchanged since the ETag given", Answer::Empty),
        Op::new(
            M::HEAD,
            "/v1/users/{id}/avatar",
            "account",
            "A user's avatar, headers only",
        )
        .query::<crate::routes::AvatarQuery>()
        .answer(ok, "The picture's headers", Answer::Empty)
        .answer(304, "Unchanged since the ETag given", Answer::Empty),
        Op::new(M::POST, "/v1/account/mfa/totp", "mfa", "Start TOTP enrolment")
            .user()
            .answer(ok, "The secret and its otpauth URI", object()),
        Op::new(
            M::POST,
            "/v1/account/mfa/totp/activate",
            "mfa",
            "Confirm TOTP with a code",
        )
        .user()
        .body::<dto::MfaCodeRequest>()
        .answer(ok, "The recovery codes", object()),
        Op::new(M::POST, "/v1/account/mfa/totp/disable", "mfa", "Turn TOTP off")
            .user()
            .body::<dto::DisableMfaRequest>()
            .answer(ok, "Turned off", object()),
        Op::new(M::POST, "/v1/account/mfa/recovery-codes", "mfa", "New recovery codes")
            .user()
            .body::<dto::MfaCodeRequest>()
            .answer(ok, "The recovery codes", object()),
        Op::new(M::GET, "/v1/account/sessions", "sessions", "The caller's sessions")
            .user()
            .answer(ok, "Live sessions, newest first", list::<dto::SessionListItem>()),
        Op::new(M::GET, "/v1/account/events", "audit", "The caller's audit events")
            .user()
            .query::<dto::EventSearch>()
            .answer(ok, "A page of events", page()),
        Op::new(M::POST, "/v1/account/sessions/revoke", "sessions", "End sessions")
            .user()
            .body::<dto::RevokeSessionsRequest>()
            .answer(ok, "How many ended", object()),
        Op::new(M::DELETE, "/v1/account/sessions/{id}", "sessions", "End one session")
            .user()
            .answer(204, "Ended", Answer::Empty),
        Op::new(M::POST, "/v1/account/password", "account", "Change the password")
            .user()
            .body::<dto::ChangePasswordRequest>()
            .answer(ok, "Changed; the other sessions ended", object()),
        Op::new(M::POST, "/v1/account/email", "account", "Change the email address")
            .user()
            .body::<dto::ChangeEmailRequest>()
            .answer(202, "A confirmation was mailed to the new address", object()),
        Op::new(
            M::GET,
            "/v1/public/signup/plans/{tenant_slug}",
            "signup",
            "A brand's plans",
        )
        .answer(ok, "Active plans", objects()),
        Op::new(M::POST, "/v1/public/signup", "signup", "Sign a customer up on a plan")
            .body::<dto::SignupRequest>()
            .answer(201, "Placed; a code was mailed", object()),
        Op::new(
            M::POST,
            "/v1/public/signup/verify",
            "signup",
            "Confirm a signup with its code",
        )
        .body::<dto::SignupVerifyRequest>()
        .answer(ok, "Confirmed", object()),
        Op::new(M::GET, "/v1/admin/tenants", "admin", "Tenants")
            .operator()
            .answer(ok, "Every tenant", object()),
        Op::new(M::POST, "/v1/admin/tenants", "admin", "Create a tenant")
            .operator()
            .body::<dto::TenantRequest>()
            .answer(201, "The tenant", object()),
        Op::new(M::GET, "/v1/admin/tenants/{slug}", "admin", "A tenant")
            .operator()
            .answer(ok, "The tenant", object()),
        Op::new(M::PATCH, "/v1/admin/tenants/{slug}", "admin", "Change a tenant")
            .operator()
            .body::<dto::TenantPatch>()
            .answer(ok, "The tenant", object()),
        Op::new(M::GET, "/v1/admin/tenants/{slug}/plans", "admin", "A tenant's plans")
            .operator()
            .answer(ok, "Plans", object()),
        Op::new(
            M::PUT,
            "/v1/admin/tenants/{slug}/plans/{name}",
            "admin",
            "Create or change a plan",
        )
        .operator()
        .body::<dto::PlanRequest>()
        .answer(ok, "The plan", object()),
        Op::new(
            M::DELETE,
            "/v1/admin/tenants/{slug}/plans/{name}",
            "admin",
            "Delete a plan",
        )
        .operator()
        .answer(204, "Deleted", Answer::Empty),
        Op::new(M::GET, "/v1/admin/tenants/{slug}/nodes", "admin", "A tenant's nodes")
            .operator()
            .answer(ok, "Nodes", object()),
        Op::new(M::POST, "/v1/admin/tenants/{slug}/nodes", "admin", "Add a node")
            .operator()
            .body::<dto::NodeRequest>()
            .answer(201, "The node", object()),
        Op::new(
            M::PATCH,
            "/v1/admin/tenants/{slug}/nodes/{id}",
            "admin",
            "Change a node",
        )
        .operator()
        .body::<dto::NodeRequest>()
        .answer(ok, "The node", object()),
        Op::new(
            M::GET,
            "/v1/admin/tenants/{slug}/customers",
            "admin",
            "A tenant's customers",
        )
        .operator()
        .query::<dto::PageQuery>()
        .answer(ok, "A page of customers", page()),
        Op::new(M::GET, "/v1/admin/tenants/{slug}/users", "admin", "Find accounts")
            .operator()
            .query::<dto::UserSearch>()
            .answer(ok, "A page of accounts", page()),
        Op::new(
            M::GET,
            "/v1/admin/tenants/{slug}/events",
            "audit",
            "A tenant's audit events",
        )
        .operator()
        .query::<dto::EventSearch>()
        .answer(ok, "A page of events", page()),
        Op::new(M::GET, "/v1/admin/tenants/{slug}/users/{id}", "admin", "An account")
            .operator()
            .answer(ok, "The account, its sessions and second factor", object()),
        Op::new(
            M::DELETE,
            "/v1/admin/tenants/{slug}/users/{id}",
            "admin",
            "Erase an account",
        )
        .operator()
        .answer(204, "Erased", Answer::Empty),
        Op::new(
            M::POST,
            "/v1/admin/tenants/{slug}/users/{id}/disable",
            "admin",
            "Disable an account",
        )
        .operator()
        .body::<dto::DisableRequest>()
        .answer(ok, "The account", object()),
        Op::new(
            M::POST,
            "/v1/admin/tenants/{slug}/users/{id}/enable",
            "admin",
            "Enable an account",
        )
        .operator()
        .answer(ok, "The account", object()),
        Op::new(
            M::POST,
            "/v1/admin/tenants/{slug}/users/{id}/sessions/revoke",
            "admin",
            "End an account's sessions",
        )
        .operator()
        .answer(ok, "How many ended", object()),
        Op::new(M::GET, "/health/live", "operations", "Liveness").answer(ok, "The process answers", object()),
        Op::new(M::HEAD, "/health/live", "operations", "Liveness, headers only").answer(
            ok,
            "The process answers",
            Answer::Empty,
        ),
        Op::new(M::GET, "/health/ready", "operations", "Readiness").answer(ok, "Ready", object()),
        Op::new(M::HEAD, "/health/ready", "operations", "Readiness, headers only").answer(ok, "Ready", Answer::Empty),
        Op::new(
            M::GET,
            "/.well-known/jwks.json",
            "tokens",
            "The keys that verify access tokens",
        )
        .answer(ok, "A JWK set", raw_json()),
        Op::new(
            M::GET,
            "/metrics",
            "operations",
            "Prometheus metrics (allowed networks only)",
        )
        .answer(ok, "The Prometheus text format", text()),
        Op::new(M::GET, "/v1/openapi.json", "operations", "This document").answer(ok, "OpenAPI 3.1", raw_json()),
    ]
}
