//! Customer signup (public): the tenant's plans, signing up, and verifying with the mailed code.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use portcullis_domain::model::{InvalidField, MAX_NAME_CHARS, MAX_PLAN_CHARS, MAX_SLUG_CHARS, display_text};
use portcullis_domain::{DEFAULT_PLAN, Email, Presented, Signup, SignupError};
use serde_json::json;

use super::shared::{Result, ok, resolve_tenant};
use crate::captcha::{CaptchaEndpoint, CaptchaFields};
use crate::command::{Command, Valid};
use crate::dto::{SignupRequest, SignupVerifyRequest, TokenPairView, Validator};
use crate::error::{ApiError, FieldDetail, field_detail, whole_seconds};
use crate::extract::client_info;
use crate::state::AppState;

impl From<SignupError> for ApiError {
    fn from(e: SignupError) -> Self {
        match e {
            SignupError::UnknownPlan => Self::validation(vec![FieldDetail {
                field: "plan",
                code: "unknown_plan",
                message: "plan is not one of the tenant's active plans".into(),
            }]),
            SignupError::NoCapacity { retry_after } => {
                let e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_capacity",
                    "No node has room for a new customer right now; try again later.",
                );
                match retry_after {
                    Some(wait) => e.retry_after(whole_seconds(wait)),
                    None => e,
                }
            }
            SignupError::Infra(e) => e.into(),
        }
    }
}

fn detail(e: InvalidField) -> FieldDetail {
    field_detail(e.field, e.error, Some(e.rule))
}

/// The `tenant_slug` field signup and its verification require (1–100 characters).
fn tenant_slug(v: &mut Validator, given: Option<&str>) -> Option<String> {
    let slug = v.require("tenant_slug", given)?;
    display_text("tenant_slug", slug, MAX_SLUG_CHARS)
        .map_err(|e| v.push(detail(e)))
        .ok()
}

/// `GET /v1/public/signup/plans/{tenant_slug}`: the tenant's active plans.
pub async fn signup_plans(state: Data<AppState>, req: HttpRequest, slug: Path<String>) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, Some(slug.as_str())).await?;
    let plans = state.auth.signup_plans(&tenant).await?;
    let items: Vec<_> = plans
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "price": p.price,
                "features": p.features,
            })
        })
        .collect();
    Ok(ok(StatusCode::OK, items))
}

/// A signup that passed validation.
pub struct SignupCommand {
    company_name: String,
    email: Email,
    plan: String,
    tenant_slug: String,
}

impl Command for SignupCommand {
    type Body = SignupRequest;

    fn captcha(body: &SignupRequest) -> Option<(CaptchaEndpoint, &CaptchaFields)> {
        Some((CaptchaEndpoint::Signup, &body.captcha))
    }

    fn parse(body: SignupRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        let company_name = v.require("company_name", body.company_name.as_deref()).and_then(|c| {
            match display_text("company_name", c, MAX_NAME_CHARS) {
                Ok(c) => Some(c),
                Err(e) => {
                    v.push(detail(e));
                    None
                }
            }
        });
        let email = v
            .require("email", body.email.as_deref())
            .and_then(|e| v.check("email", Email::parse(e), |_| None));
        // HTML forms send empty optional fields; an empty plan means the default one.
        let plan = match body.plan.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => Some(DEFAULT_PLAN.to_owned()),
            Some(p) => match display_text("plan", p, MAX_PLAN_CHARS) {
                Ok(p) => Some(p),
                Err(e) => {
                    v.push(detail(e));
                    None
                }
            },
        };
        let tenant_slug = tenant_slug(v, body.tenant_slug.as_deref());
        Some(Self {
            company_name: company_name?,
            email: email?,
            plan: plan?,
            tenant_slug: tenant_slug?,
        })
    }
}

/// `POST /v1/public/signup`: 201 `{customer_id, message, site_url}`, the same for every
/// address; a code (or, for an address with a verified account, a notice) is mailed.
pub async fn sign_up(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<SignupCommand>,
) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, Some(&cmd.tenant_slug)).await?;
    let signup = Signup {
        tenant,
        email: cmd.email,
        company_name: cmd.company_name,
        plan: cmd.plan,
    };
    let signed = state.auth.sign_up(signup).await?;
    Ok(ok(
        StatusCode::CREATED,
        json!({
            "customer_id": signed.customer_id,
            "site_url": signed.site_url,
            "message": "Check your mail for a 6-digit code to confirm the address.",
        }),
    ))
}

/// A signup verification that passed validation.
pub struct SignupVerifyCommand {
    code: String,
    email: Email,
    tenant_slug: String,
}

impl Command for SignupVerifyCommand {
    type Body = SignupVerifyRequest;

    fn parse(body: SignupVerifyRequest, _state: &AppState, v: &mut Validator) -> Option<Self> {
        // A blank code is a missing one.
        let given = body.code.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let code = v.require("code", given).map(str::to_owned);
        let email = v
            .require("email", body.email.as_deref())
            .and_then(|e| v.check("email", Email::parse(e), |_| None));
        let tenant_slug = tenant_slug(v, body.tenant_slug.as_deref());
        Some(Self {
            code: code?,
            email: email?,
            tenant_slug: tenant_slug?,
        })
    }
}

/// `POST /v1/public/signup/verify`: the token pair, with `customer_id` and `tenant_id`.
pub async fn verify_signup(
    state: Data<AppState>,
    req: HttpRequest,
    Valid(cmd): Valid<SignupVerifyCommand>,
) -> Result<HttpResponse> {
    let tenant = resolve_tenant(&state, &req, Some(&cmd.tenant_slug)).await?;
    let presented = Presented::Code {
        tenant: tenant.id,
        email: cmd.email,
        code: cmd.code,
    };
    let done = state.auth.verify_signup(&presented, &client_info(&req)).await?;
    let pair = TokenPairView::new(&done.pair, &done.account, &state.public_url);
    Ok(ok(
        StatusCode::OK,
        json!({
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": pair.token_type,
            "expires_in": pair.expires_in,
            "customer_id": done.customer.id,
            "tenant_id": done.account.tenant.id,
            "user": pair.user,
        }),
    ))
}
