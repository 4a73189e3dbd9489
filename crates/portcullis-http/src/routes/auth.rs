//! Signing up, in and out: register, login, refresh, logout, the session.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{Email, LoginId, LogoutScope, Registered, Registration};
use serde_json::json;

use super::shared::{
    Result, caller_account, captcha, no_content, ok, password_rule, resolve_tenant, second_factor, username_rule,
};
use crate::body::Body;
use crate::captcha::CaptchaEndpoint;
use crate::dto::{
    LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, SessionView, TokenPairView, UserView, Validator,
    password_text,
};
use crate::error::ApiError;
use crate::extract::{Authenticated, client_info};
use crate::state::AppState;

/// `POST /v1/auth/register`.
pub async fn register(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<RegisterRequest>,
) -> Result<HttpResponse> {
    captcha(&state, &req, CaptchaEndpoint::Register, &body.captcha).await?;
    let mut v = Validator::default();
    let email = v
        .require("email", body.email.as_deref())
        .and_then(|e| v.check("email", Email::parse(e), |_| None));
    let password = v
        .require("password", password_text(&body.password))
        .and_then(|p| v.check("password", state.passwords.parse(p), password_rule(&state)));
    // HTML forms send empty optional fields; an empty username means none.
    let username = match body.username.as_deref().filter(|u| !u.trim().is_empty()) {
        None => Some(None),
        Some(u) => v.check("username", state.usernames.parse(u), username_rule).map(Some),
    };
    let (email, password, username) = v.done((email, password, username))?;
    let tenant = resolve_tenant(&state, &req, body.tenant_slug.as_deref()).await?;
    let registration = Registration {
        tenant,
        email,
        password,
        username,
    };
    match state.auth.register(registration, &client_info(&req)).await? {
        Registered::Active(account, pair) => Ok(ok(StatusCode::CREATED, TokenPairView::new(&pair, &account))),
        // The same answer whether the address was new or had an account (its owner got a notice).
        Registered::MailSent => Ok(ok(
            StatusCode::ACCEPTED,
            json!({ "message": "Check your email: we sent a link and a code to finish signing up." }),
        )),
    }
}

/// `POST /v1/auth/login`.
pub async fn login(state: Data<AppState>, req: HttpRequest, Body(body): Body<LoginRequest>) -> Result<HttpResponse> {
    captcha(&state, &req, CaptchaEndpoint::Login, &body.captcha).await?;
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
        .require("password", password_text(&body.password))
        .and_then(|p| v.check("password", state.passwords.parse_for_check(p), password_rule(&state)));
    let (login, password) = v.done((login, password))?;
    let tenant = resolve_tenant(&state, &req, body.tenant_slug.as_deref()).await?;
    let factor = second_factor(body.totp_code.as_deref(), body.recovery_code.as_deref());
    let (account, pair) = state
        .auth
        .login(&tenant, &login, &password, factor.as_ref(), &client_info(&req))
        .await?;
    Ok(ok(StatusCode::OK, TokenPairView::new(&pair, &account)))
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(state: Data<AppState>, Body(body): Body<RefreshRequest>) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let presented = v.require("refresh_token", body.refresh_token.as_deref());
    v.finish()?;
    let presented = presented.unwrap_or_default();
    let (account, pair) = state.auth.rotate_refresh_token(presented).await?;
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
    Ok(no_content())
}

/// `GET /v1/auth/session`.
pub async fn session(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let account = caller_account(&state, &caller).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "user": UserView::from(&account), "session": SessionView::from(&caller.0.session) }),
    ))
}
