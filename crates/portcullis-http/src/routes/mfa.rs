//! The second factor: enrol, activate, disable, regenerate recovery codes.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use portcullis_domain::{Password, SecondFactor};
use serde_json::json;

use super::shared::{Result, current_password, ok};
use crate::command::{Command, Signed};
use crate::dto::{DisableMfaRequest, MfaCodeRequest, Validator, password_text, second_factor};
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

/// A code (TOTP, to activate or to regenerate recovery codes), present.
pub struct MfaCode(String);

impl Command for MfaCode {
    type Body = MfaCodeRequest;

    fn parse(body: MfaCodeRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        v.require("code", body.code.as_deref().map(str::trim).filter(|c| !c.is_empty()))
            .map(|c| Self(c.to_owned()))
    }
}

/// `POST /v1/account/mfa/totp/activate`: the first valid code enables TOTP; returns the
/// recovery codes (shown only here).
pub async fn activate_totp(state: Data<AppState>, Signed(caller, code): Signed<MfaCode>) -> Result<HttpResponse> {
    let codes = state.auth.activate_totp(&caller.0, &code.0).await?;
    Ok(ok(StatusCode::OK, json!({ "recovery_codes": codes })))
}

/// Disabling the second factor: the current password and a code or recovery code.
pub struct DisableCommand {
    current: Password,
    factor: SecondFactor,
}

impl Command for DisableCommand {
    type Body = DisableMfaRequest;

    fn parse(body: DisableMfaRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        let current = current_password(v, state, password_text(&body.current_password));
        let factor = second_factor(body.code.as_deref(), body.recovery_code.as_deref());
        if factor.is_none() {
            v.require("code", None);
        }
        Some(Self {
            current: current?,
            factor: factor?,
        })
    }
}

/// `POST /v1/account/mfa/totp/disable`: current password plus a code or recovery code.
pub async fn disable_totp(state: Data<AppState>, Signed(caller, cmd): Signed<DisableCommand>) -> Result<HttpResponse> {
    let revoked = state.auth.disable_mfa(&caller.0, &cmd.current, &cmd.factor).await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "Second factor disabled; other sessions were signed out.", "revoked_sessions": revoked }),
    ))
}

/// `POST /v1/account/mfa/recovery-codes`: a new set, confirmed with a TOTP code; the old set dies.
pub async fn regenerate_recovery_codes(
    state: Data<AppState>,
    Signed(caller, code): Signed<MfaCode>,
) -> Result<HttpResponse> {
    let codes = state.auth.regenerate_recovery_codes(&caller.0, &code.0).await?;
    Ok(ok(StatusCode::OK, json!({ "recovery_codes": codes })))
}
