//! Wire shapes: request bodies (every field optional, checked by validation) and responses.

use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_domain::FieldError;
use portcullis_domain::{Account, Session, SessionId, TokenPair};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{ApiError, FieldDetail, field_detail};

mod admin;
pub use admin::{
    DisableRequest, EventSearch, IntrospectRequest, NodeRequest, PageQuery, PlanRequest, TenantPatch, TenantRequest,
    UserSearch,
};

/// A password as it arrives: wiped from memory when the request is done with it. (The request
/// body it was parsed from is actix's buffer, which is not.)
pub type PasswordField = Option<zeroize::Zeroizing<String>>;

/// The text of a password field, if given.
pub fn password_text(field: &PasswordField) -> Option<&str> {
    field.as_deref().map(String::as_str)
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// `POST /v1/auth/register`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    #[schema(required = true, value_type = String)]
    pub password: PasswordField,
    pub username: Option<String>,
    pub tenant_slug: Option<String>,
    #[serde(flatten)]
    pub captcha: crate::captcha::CaptchaFields,
}

/// `POST /v1/auth/login`: `login` or its aliases `email` / `username`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub login: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    #[schema(required = true, value_type = String)]
    pub password: PasswordField,
    pub tenant_slug: Option<String>,
    #[serde(flatten)]
    pub second_factor: SecondFactorFields,
    #[serde(flatten)]
    pub captcha: crate::captcha::CaptchaFields,
}

/// The second factor of a login or a sensitive change: `totp_code`, else `recovery_code`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct SecondFactorFields {
    pub totp_code: Option<String>,
    pub recovery_code: Option<String>,
}

impl SecondFactorFields {
    /// The factor given, if any (empty fields are none).
    pub fn factor(&self) -> Option<portcullis_domain::SecondFactor> {
        second_factor(self.totp_code.as_deref(), self.recovery_code.as_deref())
    }
}

/// The second factor a request carries: `totp_code`, else `recovery_code` (empty ones are none).
pub(crate) fn second_factor(totp: Option<&str>, recovery: Option<&str>) -> Option<portcullis_domain::SecondFactor> {
    let given = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    given(totp)
        .map(portcullis_domain::SecondFactor::Totp)
        .or_else(|| given(recovery).map(portcullis_domain::SecondFactor::Recovery))
}

/// `POST /v1/auth/refresh`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    #[schema(required = true, value_type = String)]
    pub refresh_token: Option<String>,
}

/// `POST /v1/auth/logout`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct LogoutRequest {
    pub scope: Option<String>,
}

/// `verify-email/resend` and `password/forgot`.
// No Debug: it may carry a captcha token.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct EmailRequest {
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    pub tenant_slug: Option<String>,
    #[serde(flatten)]
    pub captcha: crate::captcha::CaptchaFields,
}

/// A one-time secret: `token`, or `email` and `code` (`verify-email`, `password/verify`,
/// `password/reset`).
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct SecretRequest {
    pub token: Option<String>,
    pub email: Option<String>,
    pub code: Option<String>,
    pub tenant_slug: Option<String>,
    /// Only for `password/reset`, where it is required.
    #[schema(value_type = Option<String>)]
    pub new_password: PasswordField,
}

/// `POST /v1/auth/login/code`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct CodeLoginRequest {
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    #[schema(required = true, value_type = String)]
    pub code: Option<String>,
    pub tenant_slug: Option<String>,
    #[serde(flatten)]
    pub second_factor: SecondFactorFields,
}

/// `POST /v1/public/signup`.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct SignupRequest {
    #[schema(required = true, value_type = String)]
    pub company_name: Option<String>,
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    pub plan: Option<String>,
    #[schema(required = true, value_type = String)]
    pub tenant_slug: Option<String>,
    #[serde(flatten)]
    pub captcha: crate::captcha::CaptchaFields,
}

/// `POST /v1/public/signup/verify`.
// No Debug: it carries the code.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct SignupVerifyRequest {
    #[schema(required = true, value_type = String)]
    pub code: Option<String>,
    #[schema(required = true, value_type = String)]
    pub email: Option<String>,
    #[schema(required = true, value_type = String)]
    pub tenant_slug: Option<String>,
}

/// `POST /v1/account/password`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordRequest {
    #[schema(value_type = Option<String>)]
    pub current_password: PasswordField,
    #[schema(required = true, value_type = String)]
    pub new_password: PasswordField,
    #[serde(flatten)]
    pub second_factor: SecondFactorFields,
}

/// `POST /v1/account/mfa/totp/activate` and `.../recovery-codes`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct MfaCodeRequest {
    #[schema(required = true, value_type = String)]
    pub code: Option<String>,
}

/// `POST /v1/account/mfa/totp/disable`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct DisableMfaRequest {
    pub code: Option<String>,
    pub recovery_code: Option<String>,
    #[schema(required = true, value_type = String)]
    pub current_password: PasswordField,
}

/// `POST /v1/account/email`.
// No Debug: it carries secrets.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct ChangeEmailRequest {
    #[schema(required = true, value_type = String)]
    pub new_email: Option<String>,
    #[schema(required = true, value_type = String)]
    pub current_password: PasswordField,
    #[serde(flatten)]
    pub second_factor: SecondFactorFields,
}

/// `POST /v1/account/sessions/revoke`. Lists come in JSON bodies only (form encoding has none).
// No Debug: it carries refresh tokens.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct RevokeSessionsRequest {
    pub all: Option<bool>,
    pub exclude_current: Option<bool>,
    pub session_ids: Option<Vec<String>>,
    pub refresh_tokens: Option<Vec<String>>,
}

/// `PATCH /v1/account`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateAccountRequest {
    #[schema(required = true, value_type = String)]
    pub username: Option<String>,
}

/// One of the caller's sessions, in `GET /v1/account/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionListItem {
    pub id: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub last_used_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub amr: Vec<String>,
    pub current: bool,
}

impl SessionListItem {
    pub fn new(s: &Session, current: SessionId) -> Self {
        Self {
            id: s.id.to_string(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip.map(|ip| ip.to_string()),
            user_agent: s.user_agent.clone(),
            amr: s.amr.clone(),
            current: s.id == current,
        }
    }
}

/// The tenant of a user, in responses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub slug: String,
}

/// The URL of `user`'s avatar of `version`, under the public base URL.
pub(crate) fn avatar_url(base: &str, user: portcullis_domain::UserId, version: &str) -> String {
    format!("{base}/v1/users/{user}/avatar?v={version}")
}

/// A user, in responses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub mfa_enabled: bool,
    pub tenant: TenantView,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl UserView {
    /// The account as clients see it; `base` is the public URL its avatar's is made under.
    pub fn new(a: &Account, base: &str) -> Self {
        Self {
            id: a.id.to_string(),
            email: a.email.as_str().to_owned(),
            email_verified: a.email_verified,
            username: a.username.as_ref().map(|u| u.as_str().to_owned()),
            avatar_url: a.avatar_version.as_deref().map(|v| avatar_url(base, a.id, v)),
            mfa_enabled: a.mfa_enabled,
            tenant: TenantView {
                id: a.tenant.id.to_string(),
                slug: a.tenant.slug.clone(),
            },
            created_at: a.created_at,
        }
    }
}

/// A session, in responses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub last_used_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub amr: Vec<String>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.to_string(),
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip.map(|ip| ip.to_string()),
            user_agent: s.user_agent.clone(),
            amr: s.amr.clone(),
        }
    }
}

/// A token pair, in responses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPairView {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: UserView,
}

impl TokenPairView {
    pub fn new(pair: &TokenPair, account: &Account, base: &str) -> Self {
        Self {
            access_token: pair.access_token.clone(),
            refresh_token: pair.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: pair.expires_in,
            user: UserView::new(account, base),
        }
    }
}

/// Collects field errors so one 422 reports all of them.
#[derive(Debug, Default)]
pub struct Validator {
    details: Vec<FieldDetail>,
}

impl Validator {
    /// Records the outcome of parsing `field`; returns the value when it parsed.
    pub fn check<T>(
        &mut self,
        field: &'static str,
        parsed: Result<T, FieldError>,
        rule: impl Fn(FieldError) -> Option<String>,
    ) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.details.push(field_detail(field, e, rule(e)));
                None
            }
        }
    }

    /// Records a missing field.
    pub fn require<'a>(&mut self, field: &'static str, value: Option<&'a str>) -> Option<&'a str> {
        if value.is_none() {
            self.details.push(field_detail(
                field,
                FieldError::Required,
                Some(format!("{field} is required")),
            ));
        }
        value
    }

    /// Records any other field problem.
    pub fn push(&mut self, detail: FieldDetail) {
        self.details.push(detail);
    }

    /// How many problems were recorded so far.
    pub fn len(&self) -> usize {
        self.details.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.details.is_empty()
    }

    /// Fails with 422 if anything was recorded.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.details))
        }
    }

    /// [`Self::finish`], then the parsed fields: `fields` is what `check` and `require`
    /// returned (one `Option`, or a tuple of them), all `Some` when nothing was recorded.
    pub fn done<F: Parsed>(self, fields: F) -> Result<F::Values, ApiError> {
        self.finish()?;
        // Every field that failed was recorded above; a `None` here is a handler's bug.
        fields
            .values()
            .ok_or_else(|| ApiError::internal(&"validator passed with missing fields"))
    }
}

/// The outcome of parsing a request's fields: an `Option` per field.
pub trait Parsed {
    /// The values, when every field parsed.
    type Values;
    /// The values, or `None` if any field is missing.
    fn values(self) -> Option<Self::Values>;
}

impl<A> Parsed for Option<A> {
    type Values = A;
    fn values(self) -> Option<A> {
        self
    }
}

impl<A, B> Parsed for (Option<A>, Option<B>) {
    type Values = (A, B);
    fn values(self) -> Option<(A, B)> {
        Some((self.0?, self.1?))
    }
}

impl<A, B, C> Parsed for (Option<A>, Option<B>, Option<C>) {
    type Values = (A, B, C);
    fn values(self) -> Option<(A, B, C)> {
        Some((self.0?, self.1?, self.2?))
    }
}
