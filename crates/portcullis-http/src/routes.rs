//! Handlers. Each one parses its input into domain types, calls one use case and shapes the
//! answer; nothing else.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{
    Email, FieldError, LoginId, LogoutScope, Presented, Registered, Registration, RevokeRequest, SecondFactor,
    SessionId, Tenant, TenantId, Verified,
};
use serde::Serialize;
use serde_json::json;

use crate::body::Body;
use crate::captcha::CaptchaEndpoint;
use crate::dto::{
    ChangeEmailRequest, ChangePasswordRequest, DisableMfaRequest, EmailRequest, LoginRequest, LogoutRequest,
    MfaCodeRequest, RefreshRequest, RegisterRequest, RevokeSessionsRequest, SecretRequest, SessionListItem,
    SessionView, TokenPairView, UpdateAccountRequest, UserView, Validator, password_text,
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
        // No slug holds a control character (and storage could not look one up).
        Some(s) if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) => Err(tenant_not_found()),
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

fn username_rule(e: FieldError) -> Option<String> {
    (e == FieldError::Invalid).then(|| "username has characters or a length the policy does not allow".into())
}

/// The captcha check of a public endpoint: first, before the body is validated, so nothing
/// about accounts or usernames is learnt without one.
async fn captcha(
    state: &AppState,
    req: &HttpRequest,
    endpoint: CaptchaEndpoint,
    fields: &crate::captcha::CaptchaFields,
) -> Result<()> {
    match &state.captcha {
        Some(gate) => gate.check(endpoint, fields, crate::extract::client_ip(req)).await,
        None => Ok(()),
    }
}

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
    match state.auth.register(registration, &client_info(&req)).await? {
        Registered::Active(account, pair) => Ok(ok(StatusCode::CREATED, TokenPairView::new(&pair, &account))),
        // The same answer whether the address was new or had an account (its owner got a notice).
        Registered::MailSent => Ok(ok(
            StatusCode::ACCEPTED,
            json!({ "message": "Check your email: we sent a link and a code to finish signing up." }),
        )),
    }
}

/// The address of `verify-email/resend` and `password/forgot`, parsed, and its tenant.
async fn email_and_tenant(state: &AppState, req: &HttpRequest, body: &EmailRequest) -> Result<(Email, Tenant)> {
    let mut v = Validator::default();
    let email = v
        .require("email", body.email.as_deref())
        .and_then(|e| v.check("email", Email::parse(e), |_| None));
    v.finish()?;
    let email = email.ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))?;
    let tenant = resolve_tenant(state, req, body.tenant_slug.as_deref()).await?;
    Ok((email, tenant))
}

/// `POST /v1/auth/verify-email/resend`: 202 whether or not a mail goes out.
pub async fn resend_verification(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse> {
    captcha(&state, &req, CaptchaEndpoint::VerificationResend, &body.captcha).await?;
    let (email, tenant) = email_and_tenant(&state, &req, &body).await?;
    state
        .auth
        .request_verification_mail(tenant.id, email, &client_info(&req))
        .await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        json!({ "message": "If this address has an account waiting for verification, a new mail is on its way." }),
    ))
}

/// `POST /v1/auth/password/forgot`: 202 whether or not a mail goes out.
pub async fn forgot_password(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<EmailRequest>,
) -> Result<HttpResponse> {
    captcha(&state, &req, CaptchaEndpoint::PasswordForgot, &body.captcha).await?;
    let (email, tenant) = email_and_tenant(&state, &req, &body).await?;
    state
        .auth
        .request_password_reset(tenant.id, email, &client_info(&req))
        .await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        json!({ "message": "If this address has an account, a mail with a reset link and code is on its way." }),
    ))
}

/// Reads `token`, or `email` and `code`, into a presented secret. Records what is missing in
/// `v`; the tenant (for codes) is resolved by the caller once validation passed.
fn presented_fields<'a>(v: &mut Validator, body: &'a SecretRequest) -> Option<PresentedFields<'a>> {
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

enum PresentedFields<'a> {
    Token(&'a str),
    Code(Email, &'a str),
}

async fn presented(
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

/// `POST /v1/auth/verify-email`: completes a signup (200 token pair) or confirms an email
/// change (200 `{user}`).
pub async fn verify_email(
    state: Data<AppState>,
    req: HttpRequest,
    Body(body): Body<SecretRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let fields = presented_fields(&mut v, &body);
    v.finish()?;
    let fields = fields.ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))?;
    let presented = presented(&state, &req, &body, fields).await?;
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
    let mut v = Validator::default();
    let fields = presented_fields(&mut v, &body);
    v.finish()?;
    let fields = fields.ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))?;
    let presented = presented(&state, &req, &body, fields).await?;
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
    let mut v = Validator::default();
    let fields = presented_fields(&mut v, &body);
    v.finish()?;
    let fields = fields.ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))?;
    let presented = presented(&state, &req, &body, fields).await?;
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
    v.finish()?;
    let (Some(fields), Some(password)) = (fields, password) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
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
    v.finish()?;
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
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
    Ok(no_content())
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

/// `POST /v1/account/password`: needs the current password; ends every other session.
pub async fn change_password(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<ChangePasswordRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    // Optional here: an account without a password sets its first one without it (the use case
    // asks for it when the account has one).
    let current = match password_text(&body.current_password).filter(|p| !p.is_empty()) {
        Some(raw) => current_password(&mut v, &state, Some(raw)).map(Some),
        None => Some(None),
    };
    let new = v
        .require("new_password", password_text(&body.new_password))
        .and_then(|p| v.check("new_password", state.passwords.parse(p), password_rule(&state)));
    v.finish()?;
    let (Some(current), Some(new)) = (current, new) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
    let factor = second_factor(body.totp_code.as_deref(), body.recovery_code.as_deref());
    let revoked = state
        .auth
        .change_password(&caller.0, current.as_ref(), &new, factor.as_ref())
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "Password changed; other sessions were signed out.", "revoked_sessions": revoked }),
    ))
}

/// `POST /v1/account/email`: needs the current password; the address changes when the new one
/// is confirmed through `verify-email`.
pub async fn change_email(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<ChangeEmailRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let new_email = v
        .require("new_email", body.new_email.as_deref())
        .and_then(|e| v.check("new_email", Email::parse(e), |_| None));
    let current = current_password(&mut v, &state, password_text(&body.current_password));
    v.finish()?;
    let (Some(new_email), Some(current)) = (new_email, current) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
    let factor = second_factor(body.totp_code.as_deref(), body.recovery_code.as_deref());
    state
        .auth
        .request_email_change(&caller.0, new_email, &current, factor.as_ref())
        .await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        json!({ "message": "Check the new address: we sent a link and a code to confirm it. Until then, the email stays as it is." }),
    ))
}

/// Most session ids or refresh tokens one revoke request may name.
const MAX_REVOKE_ITEMS: usize = 100;

/// `PATCH /v1/account`: sets or changes the username.
pub async fn update_account(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<UpdateAccountRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let username = v
        .require("username", body.username.as_deref())
        .and_then(|u| v.check("username", state.usernames.parse(u), username_rule));
    v.finish()?;
    let username = username.ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))?;
    let account = state.auth.set_username(&caller.0, &username).await?;
    Ok(ok(StatusCode::OK, UserView::from(&account)))
}

/// `GET /v1/account/sessions`: the caller's live sessions, most recently used first.
pub async fn list_sessions(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let sessions = state.auth.sessions(&caller.0).await?;
    let current = caller.0.session.id;
    let items: Vec<SessionListItem> = sessions.iter().map(|s| SessionListItem::new(s, current)).collect();
    Ok(ok(StatusCode::OK, items))
}

fn no_such_session() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such session.")
}

/// `DELETE /v1/account/sessions/{id}`: 404 unless it is one of the caller's live sessions.
pub async fn delete_session(
    state: Data<AppState>,
    caller: Authenticated,
    id: actix_web::web::Path<String>,
) -> Result<HttpResponse> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| no_such_session())?;
    if state
        .auth
        .revoke_own_session(&caller.0, SessionId::from_uuid(id))
        .await?
    {
        Ok(no_content())
    } else {
        Err(no_such_session())
    }
}

/// `POST /v1/account/sessions/revoke`: `{revoked: n}`; only the caller's sessions.
pub async fn revoke_sessions(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<RevokeSessionsRequest>,
) -> Result<HttpResponse> {
    let mut details = Vec::new();
    let ids = body.session_ids.unwrap_or_default();
    let tokens = body.refresh_tokens.unwrap_or_default();
    let all = body.all.unwrap_or(false);
    for (field, len) in [("session_ids", ids.len()), ("refresh_tokens", tokens.len())] {
        if len > MAX_REVOKE_ITEMS {
            details.push(crate::error::FieldDetail {
                field,
                code: "too_long",
                message: format!("{field} may name at most {MAX_REVOKE_ITEMS} items"),
            });
        }
    }
    let session_ids: Vec<SessionId> = ids
        .iter()
        .filter_map(|id| uuid::Uuid::parse_str(id.trim()).ok().map(SessionId::from_uuid))
        .collect();
    if session_ids.len() != ids.len() {
        details.push(crate::error::FieldDetail {
            field: "session_ids",
            code: "invalid",
            message: "session_ids must be session ids (UUIDs)".into(),
        });
    }
    if !all && ids.is_empty() && tokens.is_empty() {
        details.push(crate::error::FieldDetail {
            field: "all",
            code: "required",
            message: "give all, session_ids or refresh_tokens".into(),
        });
    }
    if !details.is_empty() {
        return Err(ApiError::validation(details));
    }
    let request = RevokeRequest {
        all,
        exclude_current: body.exclude_current.unwrap_or(false),
        session_ids,
        refresh_tokens: tokens,
    };
    let revoked = state.auth.revoke_own_sessions(&caller.0, &request).await?;
    Ok(ok(StatusCode::OK, json!({ "revoked": revoked })))
}

/// Parses the `current_password` of a re-authentication (length-checked, never hashed here).
fn current_password(v: &mut Validator, state: &AppState, raw: Option<&str>) -> Option<portcullis_domain::Password> {
    v.require("current_password", raw).and_then(|p| {
        v.check(
            "current_password",
            state.passwords.parse_for_check(p),
            password_rule(state),
        )
    })
}

/// The second factor a request carries: `totp_code`, else `recovery_code` (empty ones are none).
fn second_factor(totp: Option<&str>, recovery: Option<&str>) -> Option<SecondFactor> {
    let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    given(totp)
        .map(SecondFactor::Totp)
        .or_else(|| given(recovery).map(SecondFactor::Recovery))
}

fn required_code(field: &'static str, code: Option<&str>) -> Result<String> {
    let mut v = Validator::default();
    let code = v.require(field, code.map(str::trim).filter(|c| !c.is_empty()));
    v.finish()?;
    code.map(str::to_owned)
        .ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))
}

/// `POST /v1/account/mfa/totp`: a new secret to enrol, as text, `otpauth://` URI and QR code.
pub async fn enroll_totp(state: Data<AppState>, caller: Authenticated) -> Result<HttpResponse> {
    let enrollment = state.auth.enroll_totp(&caller.0).await?;
    let qr = qrcode::QrCode::new(enrollment.otpauth_uri.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(ok(
        StatusCode::OK,
        json!({
            "secret": enrollment.secret.as_str(),
            "otpauth_uri": enrollment.otpauth_uri.as_str(),
            "qr_svg": qr_svg,
        }),
    ))
}

/// `POST /v1/account/mfa/totp/activate`: the first valid code enables TOTP; returns the
/// recovery codes (shown only here).
pub async fn activate_totp(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<MfaCodeRequest>,
) -> Result<HttpResponse> {
    let code = required_code("code", body.code.as_deref())?;
    let codes = state.auth.activate_totp(&caller.0, &code).await?;
    Ok(ok(StatusCode::OK, json!({ "recovery_codes": codes })))
}

/// `POST /v1/account/mfa/totp/disable`: current password plus a code or recovery code.
pub async fn disable_totp(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<DisableMfaRequest>,
) -> Result<HttpResponse> {
    let mut v = Validator::default();
    let current = current_password(&mut v, &state, password_text(&body.current_password));
    let factor = second_factor(body.code.as_deref(), body.recovery_code.as_deref());
    if factor.is_none() {
        v.require("code", None);
    }
    v.finish()?;
    let (Some(current), Some(factor)) = (current, factor) else {
        return Err(ApiError::internal(&"validator passed with missing fields"));
    };
    let revoked = state.auth.disable_mfa(&caller.0, &current, &factor).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "Second factor disabled; other sessions were signed out.", "revoked_sessions": revoked }),
    ))
}

/// `POST /v1/account/mfa/recovery-codes`: a new set, confirmed with a TOTP code; the old set dies.
pub async fn regenerate_recovery_codes(
    state: Data<AppState>,
    caller: Authenticated,
    Body(body): Body<MfaCodeRequest>,
) -> Result<HttpResponse> {
    let code = required_code("code", body.code.as_deref())?;
    let codes = state.auth.regenerate_recovery_codes(&caller.0, &code).await?;
    Ok(ok(StatusCode::OK, json!({ "recovery_codes": codes })))
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
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

/// Unknown path. (Answers built with `HttpResponse::from_error` keep the error on the response,
/// so the request log records them like every other refusal.)
pub async fn not_found() -> HttpResponse {
    HttpResponse::from_error(ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint."))
}

/// Known path, wrong method.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = HttpResponse::from_error(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
    ));
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    res
}
