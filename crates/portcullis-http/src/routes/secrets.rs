//! The flows of mailed links and codes: resend, forgot, verify email, authorize an IP, check and reset a password.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{Email, Presented, Tenant, Verified};
use serde_json::json;

use super::shared::{Result, captcha, no_content, ok, password_rule, resolve_tenant};
use crate::body::Body;
use crate::captcha::CaptchaEndpoint;
use crate::dto::{EmailRequest, SecretRequest, TokenPairView, UserView, Validator, password_text};
use crate::extract::client_info;
use crate::state::AppState;

/// The address of `verify-email/resend` and `password/forgot`, parsed, and its tenant.
pub(crate) async fn email_and_tenant(
    state: &AppState,
    req: &HttpRequest,
    body: &EmailRequest,
) -> Result<(Email, Tenant)> {
    let mut v = Validator::default();
    let email = v
        .require("email", body.email.as_deref())
        .and_then(|e| v.check("email", Email::parse(e), |_| None));
    let email = v.done(email)?;
    let tenant = resolve_tenant(state, req, body.tenant_slug.as_deref()).await?;
    Ok((email, tenant))
}

/// The mail `verify-email/resend` and `password/forgot` ask for.
#[derive(Clone, Copy)]
enum Asked {
    Verification,
    Reset,
}

/// Records the request for a mail; 202 whether or not a mail will go out.
async fn mail_request(state: &AppState, req: &HttpRequest, body: &EmailRequest, asked: Asked) -> Result<HttpResponse> {
    let (endpoint, message) = match asked {
        Asked::Verification => (
            CaptchaEndpoint::VerificationResend,
            "If this address has an account waiting for verification, a new mail is on its way.",
        ),
        Asked::Reset => (
            CaptchaEndpoint::PasswordForgot,
            "If this address has an account, a mail with a reset link and code is on its way.",
        ),
    };
    captcha(state, req, endpoint, &body.captcha).await?;
    let (email, tenant) = email_and_tenant(state, req, body).await?;
    let client = client_info(req);
    match asked {
        Asked::Verification => state.auth.request_verification_mail(tenant.id, email, &client).await?,
        Asked::Reset => state.auth.request_password_reset(tenant.id, email, &client).await?,
    }
    Ok(ok(StatusCode::ACCEPTED, json!({ "message": message })))
}

/// `POST /v1/auth/verify-email/resend`: 202 whether or not a mail goes out.
pub async fn resend_verification(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse> {
    mail_request(&state, &req, &body, Asked::Verification).await
}

/// `POST /v1/auth/password/forgot`: 202 whether or not a mail goes out.
pub async fn forgot_password(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse> {
    mail_request(&state, &req, &body, Asked::Reset).await
}

/// Reads `token`, or `email` and `code`, into a presented secret. Records what is missing in
/// `v`; the tenant (for codes) is resolved by the caller once validation passed.
pub(crate) fn presented_fields<'a>(v: &mut Validator, body: &'a SecretRequest) -> Option<PresentedFields<'a>> {
    let non_empty = |s: &'a Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if let Some(token) = non_empty(&body.token) {
        return Some(PresentedFields::Token(token));
    }
    match (non_empty(&body.email), non_empty(&body.code)) {
        (Some(email), Some(code)) => v
            .check("email", Email::parse(email), |_| None)
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

pub(crate) enum PresentedFields<'a> {
    Token(&'a str),
    Code(Email, &'a str),
}

pub(crate) async fn presented(
    state: &AppState,
    req: &HttpRequest,
    body: &SecretRequest,
    fields: PresentedFields<'_>,
) -> Result<Presented> {
    let tenant = resolve_tenant(state, req, body.tenant_slug.as_deref()).await?.id;
    Ok(match fields {
        PresentedFields::Token(token) => Presented::Token {
            tenant,
            token: token.to_owned(),
        },
        PresentedFields::Code(email, code) => Presented::Code {
            tenant,
            email,
            code: code.to_owned(),
        },
    })
}

/// The secret of a request that carries nothing else, validated, with its tenant.
async fn secret_only(state: &AppState, req: &HttpRequest, body: &SecretRequest) -> Result<Presented> {
    let mut v = Validator::default();
    let fields = presented_fields(&mut v, body);
    let fields = v.done(fields)?;
    presented(state, req, body, fields).await
}

/// `POST /v1/auth/verify-email`: completes a signup (200 token pair) or confirms an email
/// change (200 `{user}`).
pub async fn verify_email(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<SecretRequest>,
) -> Result<HttpResponse> {
    let presented = secret_only(&state, &req, &body).await?;
    match state.auth.verify_email(&presented, &client_info(&req)).await? {
        Verified::SignedUp(account, pair) => Ok(ok(StatusCode::OK, TokenPairView::new(&pair, &account))),
        Verified::EmailChanged(account) => Ok(ok(StatusCode::OK, json!({ "user": UserView::from(&account) }))),
    }
}

/// `POST /v1/auth/authorize-ip`: marks the network of a refused sign-in as known; the user then
/// logs in again from it. Logs nobody in.
pub async fn authorize_ip(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<SecretRequest>,
) -> Result<HttpResponse> {
    let presented = secret_only(&state, &req, &body).await?;
    state.auth.authorize_network(&presented).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "The network is authorized; log in again from it." }),
    ))
}

/// `POST /v1/auth/password/verify`: 204 when the secret would reset a password; consumes nothing.
pub async fn check_reset(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<SecretRequest>,
) -> Result<HttpResponse> {
    let presented = secret_only(&state, &req, &body).await?;
    state.auth.check_reset_secret(&presented).await?;
    Ok(no_content())
}

/// `POST /v1/auth/password/reset`: new password; every session is revoked.
pub async fn reset_password(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<SecretRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let fields = presented_fields(&mut v, &body);
    let password = v
        .require("new_password", password_text(&body.new_password))
        .and_then(|p| v.check("new_password", state.passwords.parse(p), password_rule(&state)));
    let (fields, password) = v.done((fields, password))?;
    let presented = presented(&state, &req, &body, fields).await?;
    let account = state
        .auth
        .reset_password(&presented, &password, &client_info(&req))
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({
            "message": "Password reset. Every session was signed out; log in with the new password.",
            "user": UserView::from(&account),
        }),
    ))
}
