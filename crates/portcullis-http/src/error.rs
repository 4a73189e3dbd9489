//! The one error envelope: every failure, including extractor rejections, unknown routes and
//! wrong methods, leaves as `{"success": false, "error": {code, message, details?}}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portcullis_domain::{
    AccountChangeError, AccountConflict, AuthenticateError, FieldError, InfraError, LoginError, MfaError, OneTimeError,
    OverBudget, RefreshError, RegisterError, UsernameError,
};
use serde::Serialize;

/// Whole seconds for `Retry-After`, rounded up and at least 1 (a client told 0 would retry
/// at once and be refused again).
pub(crate) fn whole_seconds(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// One invalid field of a 422.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldDetail {
    /// Field name as sent.
    pub field: &'static str,
    /// Machine code (`required`, `too_short`, `too_long`, `invalid`).
    pub code: &'static str,
    /// Human text.
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldDetail>,
    retry_after: Option<u64>,
    bearer_challenge: bool,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
            bearer_challenge: false,
        }
    }

    /// 400 `malformed_body`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_body", message)
    }

    /// 422 `validation_failed` with field details.
    pub fn validation(details: Vec<FieldDetail>) -> Self {
        Self {
            details,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Some fields are invalid.",
            )
        }
    }

    /// 500 `internal_error`; the cause goes to the log, never to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side.",
        )
    }

    /// 401 for a missing or bad bearer token, with a `WWW-Authenticate` challenge.
    pub fn bearer(code: &'static str, message: &str) -> Self {
        Self {
            bearer_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, code, message)
        }
    }

    /// Adds `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The machine code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    success: bool,
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    details: &'a [FieldDetail],
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.bearer_challenge {
            let challenge = if self.code == "missing_token" {
                HeaderValue::from_static("Bearer realm=\"portcullis\"")
            } else {
                HeaderValue::from_static("Bearer realm=\"portcullis\", error=\"invalid_token\"")
            };
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.json(Envelope {
            success: false,
            error: Body {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        })
    }
}

impl From<InfraError> for ApiError {
    fn from(e: InfraError) -> Self {
        match e {
            InfraError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service_unavailable",
                    "The service is temporarily unavailable.",
                )
                .retry_after(1)
            }
            InfraError::Busy { retry_after_secs } => {
                crate::capacity::warn_at_capacity();
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_busy",
                    "The server is busy; try again shortly.",
                )
                .retry_after(retry_after_secs)
            }
            InfraError::Internal(cause) => Self::internal(&cause),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Conflict(AccountConflict::EmailTaken) => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            ),
            RegisterError::Conflict(AccountConflict::UsernameTaken) => {
                Self::new(StatusCode::CONFLICT, "username_taken", "This username is taken.")
            }
            RegisterError::Conflict(AccountConflict::UnknownTenant) => tenant_not_found(),
            RegisterError::PasswordTooCommon => too_common("password"),
            RegisterError::Infra(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The login or password is wrong.",
            ),
            LoginError::EmailNotVerified => Self::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Verify your email address before logging in.",
            ),
            LoginError::AccountDisabled => account_disabled(),
            LoginError::SecondFactor(e) => authentication_factor(e),
            LoginError::IpAuthorizationRequired => Self::new(
                StatusCode::FORBIDDEN,
                "ip_authorization_required",
                "Sign-ins from this network need authorizing: we mailed a link and a code.",
            ),
            LoginError::Throttled { retry_after } => too_many_attempts(retry_after),
            LoginError::Infra(e) => e.into(),
        }
    }
}

impl From<OneTimeError> for ApiError {
    fn from(e: OneTimeError) -> Self {
        match e {
            OneTimeError::InvalidOrExpired => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_or_expired_token",
                "The link or code is invalid, expired or already used.",
            ),
            OneTimeError::EmailTaken => Self::new(
                StatusCode::CONFLICT,
                "email_taken",
                "Another account has this email address now.",
            ),
            OneTimeError::PasswordTooCommon => too_common("new_password"),
            OneTimeError::AccountDisabled => account_disabled(),
            OneTimeError::Infra(e) => e.into(),
        }
    }
}

/// 403 `account_disabled`: only ever after a correct password or secret.
fn account_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "account_disabled",
        "This account is disabled. Contact support.",
    )
}

impl From<AccountChangeError> for ApiError {
    fn from(e: AccountChangeError) -> Self {
        match e {
            AccountChangeError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The current password is wrong.",
            ),
            AccountChangeError::SameAddress => Self::validation(vec![FieldDetail {
                field: "new_email",
                code: "unchanged",
                message: "new_email is already the address of this account".into(),
            }]),
            AccountChangeError::PasswordTooCommon => too_common("new_password"),
            AccountChangeError::CurrentPasswordRequired => Self::validation(vec![FieldDetail {
                field: "current_password",
                code: "required",
                message: "current_password is required".into(),
            }]),
            AccountChangeError::FreshSessionRequired => Self::new(
                StatusCode::FORBIDDEN,
                "fresh_session_required",
                "This account has no password yet: set one within 10 minutes of signing in, or use a password reset.",
            ),
            AccountChangeError::SecondFactor(e) => authentication_factor(e),
            AccountChangeError::OverBudget(b) => b.into(),
            AccountChangeError::RecipientLimited { retry_after } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "This address has been sent too much mail lately; try again later.",
            )
            .retry_after(whole_seconds(retry_after)),
            AccountChangeError::Infra(e) => e.into(),
        }
    }
}

/// Second-factor failures on the MFA endpoints (a wrong code there is 400, as API.md says).
impl From<MfaError> for ApiError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::Required => Self::new(
                StatusCode::FORBIDDEN,
                "mfa_required",
                "A second factor is required: give totp_code or recovery_code.",
            ),
            MfaError::InvalidCode => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "The code is wrong or was used already.",
            ),
            MfaError::Locked { retry_after_secs } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "mfa_locked",
                "Too many wrong codes; the second factor is locked for a while.",
            )
            .retry_after(retry_after_secs),
            MfaError::AlreadyEnabled => Self::new(
                StatusCode::CONFLICT,
                "mfa_already_enabled",
                "A second factor is enabled already.",
            ),
            MfaError::NotEnabled => Self::new(StatusCode::CONFLICT, "mfa_not_enabled", "No second factor is enabled."),
            MfaError::InvalidCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The current password is wrong.",
            ),
            MfaError::OverBudget(b) => b.into(),
            MfaError::Infra(e) => e.into(),
        }
    }
}

/// A wrong second factor while authenticating (login, re-authentication) is 401.
/// 429 `too_many_attempts`: the account's failed-password budget is used up (login and
/// re-authentication share it).
fn too_many_attempts(retry_after: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        "Too many failed logins for this account; try again later.",
    )
    .retry_after(whole_seconds(retry_after))
}

/// The account's own budgets: wrong passwords, or requests of one kind.
impl From<OverBudget> for ApiError {
    fn from(e: OverBudget) -> Self {
        match e {
            OverBudget::Throttled { retry_after } => too_many_attempts(retry_after),
            OverBudget::RateLimited { retry_after } => account_rate_limited(retry_after),
        }
    }
}

/// 429 `rate_limited`: the account has sent too many requests of this kind lately.
fn account_rate_limited(retry_after: std::time::Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests of this kind for this account; try again later.",
    )
    .retry_after(whole_seconds(retry_after))
}

fn authentication_factor(e: MfaError) -> ApiError {
    match e {
        MfaError::InvalidCode => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_code",
            "The second-factor code is wrong or was used already.",
        ),
        other => other.into(),
    }
}

impl From<UsernameError> for ApiError {
    fn from(e: UsernameError) -> Self {
        match e {
            UsernameError::Taken => Self::new(StatusCode::CONFLICT, "username_taken", "This username is taken."),
            UsernameError::NoAccount => Self::bearer("invalid_token", "The account no longer exists."),
            UsernameError::Infra(e) => e.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is invalid or expired.",
            ),
            RefreshError::Reused => Self::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "This refresh token was already used; the session has been ended. Log in again.",
            ),
            RefreshError::Infra(e) => e.into(),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(e: AuthenticateError) -> Self {
        match e {
            AuthenticateError::Token(reason) => {
                tracing::debug!(%reason, "bearer token refused");
                Self::bearer("invalid_token", "The access token is invalid or expired.")
            }
            AuthenticateError::SessionEnded => Self::bearer("invalid_token", "The session has ended."),
            AuthenticateError::Infra(e) => e.into(),
        }
    }
}

/// 422 with a `too_common` detail on the new password's field.
fn too_common(field: &'static str) -> ApiError {
    ApiError::validation(vec![FieldDetail {
        field,
        code: "too_common",
        message: format!("{field} is one of the most common or breached passwords; choose another"),
    }])
}

/// 404 `tenant_not_found`.
pub fn tenant_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "tenant_not_found", "No such tenant.")
}

/// Builds a detail from a domain field error, with a message that states the rule.
pub fn field_detail(field: &'static str, error: FieldError, rule: Option<String>) -> FieldDetail {
    let message = rule.unwrap_or_else(|| format!("{field} {error}"));
    FieldDetail {
        field,
        code: error.code(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(whole_seconds(Duration::ZERO), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(20)), 20);
        assert_eq!(whole_seconds(Duration::from_millis(20_001)), 21);
    }
}
