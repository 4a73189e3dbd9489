//! The second factor: enrol, activate, disable, regenerate recovery codes.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use serde_json::json;

use super::shared::{Result, current_password, ok, required_code, second_factor};
use crate::body::Body;
use crate::dto::{DisableMfaRequest, MfaCodeRequest, Validator, password_text};
use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

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
    let (current, factor) = v.done((current, factor))?;
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
