//! Passwordless login with a mailed code (asked for through `secrets::request_login_code`).

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::{CodeLoginError, Email, Presented, SecondFactor};

use super::shared::{Result, ok, resolve_tenant};
use crate::command::{Command, Valid};
use crate::dto::{CodeLoginRequest, TokenPairView, Validator};
use crate::error::ApiError;
use crate::extract::client_info;
use crate::state::AppState;

impl From<CodeLoginError> for ApiError {
    fn from(e: CodeLoginError) -> Self {
        match e {
            CodeLoginError::Code(e) => e.into(),
            CodeLoginError::Login(e) => e.into(),
        }
    }
}

/// A login by code: the address, the code, and the second factor if the account has one.
pub struct CodeLoginCommand {
    email: Email,
    code: String,
    factor: Option<SecondFactor>,
    tenant_slug: Option<String>,
}

impl Command for CodeLoginCommand {
    type Body = CodeLoginRequest;

    fn parse(body: CodeLoginRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        let email = v
            .require("email", body.email.as_deref())
            .and_then(|e| v.check("email", Email::parse(e), |_| None));
        // A blank code is a missing one.
        let given = body.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let code = v.require("code", given).map(str::to_owned);
        Some(Self {
            email: email?,
            code: code?,
            factor: body.second_factor.factor(),
            tenant_slug: body.tenant_slug,
        })
    }
}

/// `POST /v1/auth/login/code`: the token pair (`amr` `["email"]`, and the second factor's).
pub async fn login_with_code(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<CodeLoginCommand>,
) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, cmd.tenant_slug.as_deref()).await?;
    let presented = Presented::Code {
        tenant: tenant.id,
        email: cmd.email,
        code: cmd.code,
    };
    let result = state
        .auth
        .login_with_code(&presented, cmd.factor.as_ref(), &client_info(&req))
        .await;
    crate::metrics::login(crate::metrics::code_login_outcome(&result));
    let (account, pair) = result?;
    Ok(ok(
        StatusCode::OK,
        TokenPairView::new(&pair, &account, &state.public_url),
    ))
}
