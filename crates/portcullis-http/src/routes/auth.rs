//! Signing up, in and out: register, login, refresh, logout, the session.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{Email, LoginId, LogoutScope, Password, Registered, Registration, SecondFactor, Username};
use serde_json::json;

use super::shared::{Result, no_content, ok, password_rule, resolve_tenant, username_rule};
use crate::captcha::{CaptchaEndpoint, CaptchaFields};
use crate::command::{Command, Signed, Valid};
use crate::dto::{
    LoginRequest, LogoutRequest, RefreshRequest, RegisterRequest, SessionView, TokenPairView, UserView, Validator,
    password_text,
};
use crate::extract::{CallerAccount, client_info};
use crate::state::AppState;

/// A registration that passed validation.
pub struct RegisterCommand {
    email: Email,
    password: Password,
    username: Option<Username>,
    tenant_slug: Option<String>,
}

impl Command for RegisterCommand {
    type Body = RegisterRequest;

    fn captcha(body: &RegisterRequest) -> Option<(CaptchaEndpoint, &CaptchaFields)> {
        Some((CaptchaEndpoint::Register, &body.captcha))
    }

    fn parse(body: RegisterRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        let email = v
            .require("email", body.email.as_deref())
            .and_then(|e| v.check("email", Email::parse(e), |_| None));
        let password = v
            .require("password", password_text(&body.password))
            .and_then(|p| v.check("password", state.passwords.parse(p), password_rule(state)));
        // HTML forms send empty optional fields; an empty username means none.
        let username = match body.username.as_deref().filter(|u| !u.trim().is_empty()) {
            None => Some(None),
            Some(u) => v.check("username", state.usernames.parse(u), username_rule).map(Some),
        };
        Some(Self {
            email: email?,
            password: password?,
            username: username?,
            tenant_slug: body.tenant_slug,
        })
    }
}

/// `POST /v1/auth/register`.
pub async fn register(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<RegisterCommand>,
) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, cmd.tenant_slug.as_deref()).await?;
    let registration = Registration {
        tenant,
        email: cmd.email,
        password: cmd.password,
        username: cmd.username,
    };
    match state.auth.register(registration, &client_info(&req)).await? {
        Registered::Active(account, pair) => Ok(ok(
            StatusCode::CREATED,
            TokenPairView::new(&pair, &account, &state.public_url),
        )),
        // The same answer whether the address was new or had an account (its owner got a notice).
        Registered::MailSent => Ok(ok(
            StatusCode::ACCEPTED,
            json!({ "message": "Check your email: we sent a link and a code to finish signing up." }),
        )),
    }
}

/// A login that passed validation.
pub struct LoginCommand {
    login: LoginId,
    password: Password,
    factor: Option<SecondFactor>,
    tenant_slug: Option<String>,
}

impl Command for LoginCommand {
    type Body = LoginRequest;

    fn captcha(body: &LoginRequest) -> Option<(CaptchaEndpoint, &CaptchaFields)> {
        Some((CaptchaEndpoint::Login, &body.captcha))
    }

    fn parse(body: LoginRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
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
            .and_then(|p| v.check("password", state.passwords.parse_for_check(p), password_rule(state)));
        Some(Self {
            login: login?,
            password: password?,
            factor: body.second_factor.factor(),
            tenant_slug: body.tenant_slug,
        })
    }
}

/// `POST /v1/auth/login`.
pub async fn login(state: Data<AppState>, req: HttpRequest, Valid(cmd): Valid<LoginCommand>) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, cmd.tenant_slug.as_deref()).await?;
    let result = state
        .auth
        .login(
            &tenant,
            &cmd.login,
            &cmd.password,
            cmd.factor.as_ref(),
            &client_info(&req),
        )
        .await;
    crate::metrics::login(crate::metrics::login_outcome(&result));
    let (account, pair) = result?;
    Ok(ok(
        StatusCode::OK,
        TokenPairView::new(&pair, &account, &state.public_url),
    ))
}

/// A refresh token, present.
pub struct RefreshCommand(String);

impl Command for RefreshCommand {
    type Body = RefreshRequest;

    fn parse(body: RefreshRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        v.require("refresh_token", body.refresh_token.as_deref())
            .map(|t| Self(t.to_owned()))
    }
}

/// `POST /v1/auth/refresh`.
pub async fn refresh(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<RefreshCommand>,
) -> Result<HttpResponse> {
    let (account, pair) = state.auth.rotate_refresh_token(&cmd.0, &client_info(&req)).await?;
    Ok(ok(
        StatusCode::OK,
        TokenPairView::new(&pair, &account, &state.public_url),
    ))
}

impl Command for LogoutScope {
    type Body = LogoutRequest;

    fn parse(body: LogoutRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        match body.scope.as_deref().map(str::trim) {
            None | Some("local") => Some(Self::Local),
            Some("others") => Some(Self::Others),
            Some("global") => Some(Self::Global),
            Some(_) => {
                v.push(crate::error::FieldDetail {
                    field: "scope",
                    code: "invalid",
                    message: "scope must be one of local, others, global".into(),
                });
                None
            }
        }
    }
}

/// `POST /v1/auth/logout`.
pub async fn logout(state: Data<AppState>, Signed(caller, scope): Signed<LogoutScope>) -> Result<HttpResponse> {
    state.auth.logout(&caller.0, scope).await?;
    Ok(no_content())
}

/// `GET /v1/auth/session`.
pub async fn session(state: Data<AppState>, CallerAccount(principal, account): CallerAccount) -> Result<HttpResponse> {
    Ok(ok(
        StatusCode::OK,
        json!({ "user": UserView::new(&account, &state.public_url), "session": SessionView::from(&principal.session) }),
    ))
}
