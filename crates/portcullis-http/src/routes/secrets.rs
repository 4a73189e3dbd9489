//! The flows of mailed links and codes: resend, forgot, a login code, verify email, authorize
//! an IP, check and reset a password.

use std::marker::PhantomData;

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{Email, Password, Presented, Verified};
use serde_json::json;

use super::shared::{Result, no_content, ok, password_rule, resolve_tenant};
use crate::captcha::{CaptchaEndpoint, CaptchaFields};
use crate::command::{Command, Valid};
use crate::dto::{EmailRequest, SecretRequest, TokenPairView, UserView, Validator, password_text};
use crate::extract::client_info;
use crate::state::AppState;

/// The mail `verify-email/resend`, `password/forgot` and `login/code/request` ask for.
#[derive(Clone, Copy)]
pub enum Asked {
    Verification,
    Reset,
    LoginCode,
}

/// Which mail an endpoint asks for, as a type, so each endpoint's command knows its captcha.
pub trait MailAsked: 'static {
    const ASKED: Asked;
}

/// `verify-email/resend`.
#[derive(Debug)]
pub struct Resend;

impl MailAsked for Resend {
    const ASKED: Asked = Asked::Verification;
}

/// `password/forgot`.
#[derive(Debug)]
pub struct Forgot;

impl MailAsked for Forgot {
    const ASKED: Asked = Asked::Reset;
}

/// `login/code/request`.
#[derive(Debug)]
pub struct LoginCodeAsked;

impl MailAsked for LoginCodeAsked {
    const ASKED: Asked = Asked::LoginCode;
}

impl Asked {
    fn captcha(self) -> CaptchaEndpoint {
        match self {
            Self::Verification => CaptchaEndpoint::VerificationResend,
            Self::Reset => CaptchaEndpoint::PasswordForgot,
            Self::LoginCode => CaptchaEndpoint::LoginCodeRequest,
        }
    }
}

/// The address a mail is asked for, and its tenant's slug.
pub struct AddressCommand<A> {
    email: Email,
    tenant_slug: Option<String>,
    asked: PhantomData<A>,
}

impl<A: MailAsked> Command for AddressCommand<A> {
    type Body = EmailRequest;

    fn captcha(body: &EmailRequest) -> Option<(CaptchaEndpoint, &CaptchaFields)> {
        Some((A::ASKED.captcha(), &body.captcha))
    }

    fn parse(body: EmailRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        let email = v
            .require("email", body.email.as_deref())
            .and_then(|e| v.check("email", Email::parse(e), |_| None))?;
        Some(Self {
            email,
            tenant_slug: body.tenant_slug,
            asked: PhantomData,
        })
    }
}

/// Records the request for a mail; 202 whether or not a mail will go out.
async fn mail_request<A: MailAsked>(
    state: &AppState,
    req: &HttpRequest,
    cmd: AddressCommand<A>,
) -> Result<HttpResponse> {
    let tenant = resolve_tenant(state, req, cmd.tenant_slug.as_deref()).await?;
    let client = client_info(req);
    let message = match A::ASKED {
        Asked::Verification => {
            state
                .auth
                .request_verification_mail(tenant.id, cmd.email, &client)
                .await?;
            "If this address has an account waiting for verification, a new mail is on its way."
        }
        Asked::Reset => {
            state.auth.request_password_reset(tenant.id, cmd.email, &client).await?;
            "If this address has an account, a mail with a reset link and code is on its way."
        }
        Asked::LoginCode => {
            state.auth.request_login_code(tenant.id, cmd.email, &client).await?;
            "If this address has an account, a sign-in code is on its way."
        }
    };
    Ok(ok(StatusCode::ACCEPTED, json!({ "message": message })))
}

/// `POST /v1/auth/verify-email/resend`: 202 whether or not a mail goes out.
pub async fn resend_verification(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<AddressCommand<Resend>>,
) -> Result<HttpResponse> {
    mail_request(&state, &req, cmd).await
}

/// `POST /v1/auth/password/forgot`: 202 whether or not a mail goes out.
pub async fn forgot_password(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<AddressCommand<Forgot>>,
) -> Result<HttpResponse> {
    mail_request(&state, &req, cmd).await
}

/// `POST /v1/auth/login/code/request`: 202 whether or not a code goes out.
pub async fn request_login_code(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<AddressCommand<LoginCodeAsked>>,
) -> Result<HttpResponse> {
    mail_request(&state, &req, cmd).await
}

/// A presented secret: `token`, or `email` and `code`, with the tenant's slug (resolved by the
/// handler, for codes).
pub struct SecretCommand {
    fields: PresentedFields,
    tenant_slug: Option<String>,
}

enum PresentedFields {
    Token(String),
    Code(Email, String),
}

impl SecretCommand {
    /// Reads `token`, or `email` and `code`; records what is missing in `v`.
    fn read(body: &SecretRequest, v: &mut Validator) -> Option<PresentedFields> {
        let non_empty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(token) = non_empty(&body.token) {
            return Some(PresentedFields::Token(token));
        }
        match (non_empty(&body.email), non_empty(&body.code)) {
            (Some(email), Some(code)) => v
                .check("email", Email::parse(&email), |_| None)
                .map(|email| PresentedFields::Code(email, code)),
            (email, code) => {
                for (field, given) in [("email", email.is_some()), ("code", code.is_some())] {
                    if !given {
                        v.push(crate::error::FieldDetail {
                            field,
                            code: "required",
                            message: "give token, or email and code".into(),
                        });
                    }
                }
                None
            }
        }
    }

    /// The secret as the domain takes it, in the request's tenant.
    async fn presented(self, state: &AppState, req: &HttpRequest) -> Result<Presented> {
        let tenant = resolve_tenant(state, req, self.tenant_slug.as_deref()).await?.id;
        Ok(match self.fields {
            PresentedFields::Token(token) => Presented::Token { tenant, token },
            PresentedFields::Code(email, code) => Presented::Code { tenant, email, code },
        })
    }
}

impl Command for SecretCommand {
    type Body = SecretRequest;

    fn parse(body: SecretRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        Some(Self {
            fields: Self::read(&body, v)?,
            tenant_slug: body.tenant_slug,
        })
    }
}

/// `POST /v1/auth/verify-email`: completes a signup (200 token pair) or confirms an email
/// change (200 `{user}`).
pub async fn verify_email(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<SecretCommand>,
) -> Result<HttpResponse> {
    let presented = cmd.presented(&state, &req).await?;
    match state.auth.verify_email(&presented, &client_info(&req)).await? {
        Verified::SignedUp(account, pair) => Ok(ok(
            StatusCode::OK,
            TokenPairView::new(&pair, &account, &state.public_url),
        )),
        Verified::EmailChanged(account) => Ok(ok(
            StatusCode::OK,
            json!({ "user": UserView::new(&account, &state.public_url) }),
        )),
    }
}

/// `POST /v1/auth/authorize-ip`: marks the network of a refused sign-in as known; the user then
/// logs in again from it. Logs nobody in.
pub async fn authorize_ip(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<SecretCommand>,
) -> Result<HttpResponse> {
    let presented = cmd.presented(&state, &req).await?;
    state.auth.authorize_network(&presented, &client_info(&req)).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "The network is authorized; log in again from it." }),
    ))
}

/// `POST /v1/auth/password/verify`: 204 when the secret would reset a password; consumes nothing.
pub async fn check_reset(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<SecretCommand>,
) -> Result<HttpResponse> {
    let presented = cmd.presented(&state, &req).await?;
    state.auth.check_reset_secret(&presented, &client_info(&req)).await?;
    Ok(no_content())
}

/// A reset: the secret and the new password.
pub struct ResetCommand {
    secret: SecretCommand,
    password: Password,
}

impl Command for ResetCommand {
    type Body = SecretRequest;

    fn parse(body: SecretRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        let fields = SecretCommand::read(&body, v);
        let password = v
            .require("new_password", password_text(&body.new_password))
            .and_then(|p| v.check("new_password", state.passwords.parse(p), password_rule(state)));
        Some(Self {
            secret: SecretCommand {
                fields: fields?,
                tenant_slug: body.tenant_slug,
            },
            password: password?,
        })
    }
}

/// `POST /v1/auth/password/reset`: new password; every session is revoked.
pub async fn reset_password(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<ResetCommand>,
) -> Result<HttpResponse> {
    let presented = cmd.secret.presented(&state, &req).await?;
    let account = state
        .auth
        .reset_password(&presented, &cmd.password, &client_info(&req))
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({
            "message": "Password reset. Every session was signed out; log in with the new password.",
            "user": UserView::new(&account, &state.public_url),
        }),
    ))
}
