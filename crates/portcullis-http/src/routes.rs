//! Handlers. Each one parses its input into domain types, calls one use case and shapes the
//! answer; nothing else.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use portcullis_domain::{FieldError, LoginId, LogoutScope, Registration, Tenant, TenantId};
use serde::Serialize;
use serde_json::json;

use crate::body::Body;
use crate::dto::{
    LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, SessionView, TokenPairView, UserView, Validator,
};
use crate::error::{ApiError, tenant_not_found};
use crate::extract::{Authenticated, client_info};
use crate::state::AppState;

type Result<T> = std::result::Result<T, ApiError>;

#[derive(Serialize)]
struct Success<T> {
    success: bool,
    data: T,
}

fn ok<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(Success { success: true, data })
}

/// Public endpoints take the tenant from `X-Tenant` or a `tenant_slug` field; default otherwise.
async fn resolve_tenant(state: &AppState, req: &HttpRequest, body_slug: Option<&str>) -> Result<Tenant> {
    let header = req
        .headers()
        .get("x-tenant")
        .map(|v| v.to_str().map_err(|_| tenant_not_found()));
    let slug = match header {
        Some(h) => Some(h?.trim().to_owned()),
        None => body_slug.map(|s| s.trim().to_owned()),
    };
    match slug.as_deref() {
        None | Some(TenantId::DEFAULT_SLUG) => Ok(Tenant {
            id: TenantId::DEFAULT,
            slug: TenantId::DEFAULT_SLUG.to_owned(),
        }),
        Some(s) if s.is_empty() || s.len() > 100 => Err(tenant_not_found()),
        Some(s) => state.auth.tenant(s).await?.ok_or_else(tenant_not_found),
    }
}

fn password_rule(state: &AppState) -> impl Fn(FieldError) -> Option<String> + '_ {
    move |e| match e {
        FieldError::TooShort => Some(format!(
            "password must be at least {} characters",
            state.passwords.min_chars
        )),
        FieldError::TooLong => Some(format!(
            "password must be at most {} characters",
            state.passwords.max_chars
        )),
        _ => None,
    }
}

/// `POST /v1/auth/register`.
pub async fn register(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<RegisterRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let email = v
        .require("email", body.email.as_deref())
        .and_then(|e| v.check("email", portcullis_domain::Email::parse(e), |_| None));
    let password = v
        .require("password", body.password.as_deref())
        .and_then(|p| v.check("password", state.passwords.parse(p), password_rule(&state)));
    // HTML forms send empty optional fields; an empty username means none.
    let username = match body.username.as_deref().filter(|u| !u.trim().is_empty()) {
        None => Some(None),
        Some(u) => v
            .check("username", state.usernames.parse(u), |e| {
                (e == FieldError::Invalid)
                    .then(|| "username has characters or a length the policy does not allow".into())
            })
            .map(Some),
    };
    v.finish()?;
    let (Some(email), Some(password), Some(username)) = (email, password, username) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
    let tenant = resolve_tenant(&state, &req, body.tenant_slug.as_deref()).await?;
    let registration = Registration {
        tenant,
        email,
        password,
        username,
    };
    let (account, pair) = state.auth.register(registration, &client_info(&req)).await?;
    Ok(ok(StatusCode::CREATED, TokenPairView::new(&pair, &account)))
}

/// `POST /v1/auth/login`.
pub async fn login(state: Data<AppState>, req: HttpRequest, Body(body): Body<LoginRequest>) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let (field, raw) = match (&body.login, &body.email, &body.username) {
        (Some(l), _, _) => ("login", Some(l.as_str())),
        (None, Some(e), _) => ("email", Some(e.as_str())),
        (None, None, Some(u)) => ("username", Some(u.as_str())),
        (None, None, None) => ("login", None),
    };
    let login = v
        .require(field, raw)
        .and_then(|l| v.check(field, LoginId::parse(l), |_| None));
    let password = v
        .require("password", body.password.as_deref())
        .and_then(|p| v.check("password", state.passwords.parse_for_check(p), password_rule(&state)));
    v.finish()?;
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
    let tenant = resolve_tenant(&state, &req, body.tenant_slug.as_deref()).await?;
    let (account, pair) = state.auth.login(&tenant, &login, &password, &client_info(&req)).await?;
    Ok(ok(StatusCode::OK, TokenPairView::new(&pair, &account)))
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(state: Data<AppState>, Body(body): Body<RefreshRequest>) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let presented = v.require("refresh_token", body.refresh_token.as_deref());
    v.finish()?;
    let presented = presented.unwrap_or_default();
    let (account, pair) = state.auth.refresh(presented).await?;
    Ok(ok(StatusCode::OK, TokenPairView::new(&pair, &account)))
}

/// `POST /v1/auth/logout`.
pub async fn logout(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<LogoutRequest>,
) -> Result<HttpResponse> {
    let scope = match body.scope.as_deref().map(str::trim) {
        None | Some("local") => LogoutScope::Local,
        Some("others") => LogoutScope::Others,
        Some("global") => LogoutScope::Global,
        Some(_) => {
            return Err(ApiError::validation(vec![crate::error::FieldDetail {
                field: "scope",
                code: "invalid",
                message: "scope must be one of local, others, global".into(),
            }]));
        }
    };
    state.auth.logout(&caller.0, scope).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish())
}

async fn caller_account(state: &AppState, caller: &Authenticated) -> Result<portcullis_domain::Account> {
    // A live session whose account is gone: the account was deleted; treat the token as dead.
    state
        .auth
        .account(&caller.0)
        .await?
        .ok_or_else(|| ApiError::bearer("invalid_token", "The account no longer exists."))
}

/// `GET /v1/auth/session`.
pub async fn session(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let account = caller_account(&state, &caller).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "user": UserView::from(&account), "session": SessionView::from(&caller.0.session) }),
    ))
}

/// `GET /v1/account`.
pub async fn account(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let account = caller_account(&state, &caller).await?;
    Ok(ok(StatusCode::OK, UserView::from(&account)))
}

/// `GET /health/live`: the process is up.
pub async fn live() -> HttpResponse {
    ok(StatusCode::OK, json!({ "status": "ok" }))
}

/// `GET /health/ready`: the database answers.
pub async fn ready(state: Data<AppState>) -> Result<HttpResponse> {
    state.auth.ready().await?;
    Ok(ok(StatusCode::OK, json!({ "status": "ok", "database": "ok" })))
}

/// `GET /.well-known/jwks.json`: the keys that verify our access tokens (no envelope: JWKS is a
/// standard document that verifiers fetch as is).
pub async fn jwks(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .json(state.auth.keys().jwks())
}

/// Unknown path.
pub async fn not_found() -> HttpResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.").error_response()
}

/// Known path, wrong method.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
    )
    .error_response();
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    res
}
