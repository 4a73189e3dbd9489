//! The caller's account: read it, change password, email or username.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use portcullis_domain::Email;
use serde_json::json;

use super::shared::{Result, caller_account, current_password, ok, password_rule, second_factor, username_rule};
use crate::body::Body;
use crate::dto::{ChangeEmailRequest, ChangePasswordRequest, UpdateAccountRequest, UserView, Validator, password_text};
use crate::extract::Authenticated;
use crate::state::AppState;

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
    let (current, new) = v.done((current, new))?;
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
    let (new_email, current) = v.done((new_email, current))?;
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
    let username = v.done(username)?;
    let account = state.auth.set_username(&caller.0, &username).await?;
    Ok(ok(StatusCode::OK, UserView::from(&account)))
}
