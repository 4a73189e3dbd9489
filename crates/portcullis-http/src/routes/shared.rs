//! What the handlers share: the success envelope, the tenant, rules' messages, the captcha
//! check, and parsing the current password and second factor.

use actix_web::http::StatusCode;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{FieldError, Tenant, TenantId};
use serde::Serialize;

use crate::dto::Validator;
use crate::error::{ApiError, tenant_not_found};
use crate::state::AppState;

pub(crate) type Result<T> = std::result::Result<T, ApiError>;

#[derive(Serialize)]
pub(crate) struct Success<T> {
    success: bool,
    data: T,
}

pub(crate) fn ok<T: Serialize>(status: StatusCode, data: T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(Success { success: true, data })
}

/// Public endpoints take the tenant from `X-Tenant` or a `tenant_slug` field; default otherwise.
pub(crate) async fn resolve_tenant(state: &AppState, req: &HttpRequest, body_slug: Option<&str>) -> Result<Tenant> {
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

pub(crate) fn password_rule(state: &AppState) -> impl Fn(FieldError) -> Option<String> + '_ {
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

pub(crate) fn username_rule(e: FieldError) -> Option<String> {
    (e == FieldError::Invalid).then(|| "username has characters or a length the policy does not allow".into())
}

/// Parses the `current_password` of a re-authentication (length-checked, never hashed here).
pub(crate) fn current_password(
    v: &mut Validator,
    state: &AppState,
    raw: Option<&str>,
) -> Option<portcullis_domain::Password> {
    v.require("current_password", raw).and_then(|p| {
        v.check(
            "current_password",
            state.passwords.parse_for_check(p),
            password_rule(state),
        )
    })
}

pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}
