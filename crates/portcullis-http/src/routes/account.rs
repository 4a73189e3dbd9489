//! The caller's account: read it, change password, email or username.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::Data;
use portcullis_domain::{Email, Password, SecondFactor, Username};
use serde_json::json;

use super::shared::{Result, current_password, ok, password_rule, username_rule};
use crate::command::{Command, Signed};
use crate::dto::{ChangeEmailRequest, ChangePasswordRequest, UpdateAccountRequest, UserView, Validator, password_text};
use crate::extract::CallerAccount;
use crate::state::AppState;

/// `GET /v1/account`.
pub async fn account(state: Data<AppState>, CallerAccount(_, account): CallerAccount) -> Result<HttpResponse> {
    Ok(ok(StatusCode::OK, UserView::new(&account, &state.public_url)))
}

/// A password change: the current password (optional: an account without one sets its
/// first), the new one, and a second factor.
pub struct ChangePasswordCommand {
    current: Option<Password>,
    new: Password,
    factor: Option<SecondFactor>,
}

impl Command for ChangePasswordCommand {
    type Body = ChangePasswordRequest;

    fn parse(body: ChangePasswordRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        // Optional here: an account without a password sets its first one without it (the use
        // case asks for it when the account has one).
        let current = match password_text(&body.current_password).filter(|p| !p.is_empty()) {
            Some(raw) => current_password(v, state, Some(raw)).map(Some),
            None => Some(None),
        };
        let new = v
            .require("new_password", password_text(&body.new_password))
            .and_then(|p| v.check("new_password", state.passwords.parse(p), password_rule(state)));
        Some(Self {
            current: current?,
            new: new?,
            factor: body.second_factor.factor(),
        })
    }
}

/// `POST /v1/account/password`: needs the current password; ends every other session.
pub async fn change_password(
    state: Data<AppState>,
    Signed(caller, cmd): Signed<ChangePasswordCommand>,
) -> Result<HttpResponse> {
    let revoked = state
        .auth
        .change_password(&caller.0, cmd.current.as_ref(), &cmd.new, cmd.factor.as_ref())
        .await?;
    Ok(ok(
        StatusCode::OK,
        json!({ "message": "Password changed; other sessions were signed out.", "revoked_sessions": revoked }),
    ))
}

/// An email change: the new address, the current password and a second factor.
pub struct ChangeEmailCommand {
    new_email: Email,
    current: Password,
    factor: Option<SecondFactor>,
}

impl Command for ChangeEmailCommand {
    type Body = ChangeEmailRequest;

    fn parse(body: ChangeEmailRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        let new_email = v
            .require("new_email", body.new_email.as_deref())
            .and_then(|e| v.check("new_email", Email::parse(e), |_| None));
        let current = current_password(v, state, password_text(&body.current_password));
        Some(Self {
            new_email: new_email?,
            current: current?,
            factor: body.second_factor.factor(),
        })
    }
}

/// `POST /v1/account/email`: needs the current password; the address changes when the new one
/// is confirmed through `verify-email`.
pub async fn change_email(
    state: Data<AppState>,
    Signed(caller, cmd): Signed<ChangeEmailCommand>,
) -> Result<HttpResponse> {
    state
        .auth
        .request_email_change(&caller.0, cmd.new_email, &cmd.current, cmd.factor.as_ref())
        .await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        json!({ "message": "Check the new address: we sent a link and a code to confirm it. Until then, the email stays as it is." }),
    ))
}

impl Command for Username {
    type Body = UpdateAccountRequest;

    fn parse(body: UpdateAccountRequest, state: &AppState, v: &mut Validator) -> Option<Self> {
        v.require("username", body.username.as_deref())
            .and_then(|u| v.check("username", state.usernames.parse(u), username_rule))
    }
}

/// `PATCH /v1/account`: sets or changes the username.
pub async fn update_account(state: Data<AppState>, Signed(caller, username): Signed<Username>) -> Result<HttpResponse> {
    let account = state.auth.set_username(&caller.0, &username).await?;
    Ok(ok(StatusCode::OK, UserView::new(&account, &state.public_url)))
}
