//! Which endpoints need a captcha, where its token is in the body, and what a refusal looks
//! like. The provider is asked through the domain's [`CaptchaVerifier`] port.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::StatusCode;
use portcullis_domain::captcha::{CaptchaError, CaptchaProvider, CaptchaVerifier};
use serde::Deserialize;

use crate::error::ApiError;

/// A public endpoint that can require a captcha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptchaEndpoint {
    /// `POST /v1/auth/register`.
    Register,
    /// `POST /v1/auth/login`.
    Login,
    /// `POST /v1/auth/password/forgot`.
    PasswordForgot,
    /// `POST /v1/auth/verify-email/resend`.
    VerificationResend,
    /// `POST /v1/public/signup`.
    Signup,
    /// `POST /v1/auth/login/code/request`.
    LoginCodeRequest,
}

impl CaptchaEndpoint {
    /// Every endpoint; the default set when any provider is enabled.
    pub const ALL: [Self; 6] = [
        Self::Register,
        Self::Login,
        Self::PasswordForgot,
        Self::VerificationResend,
        Self::Signup,
        Self::LoginCodeRequest,
    ];

    /// The endpoint's name in `captcha.required_on`: its path after `/v1/auth/`, or after
    /// `/v1/` for the others (`public/signup`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::PasswordForgot => "password/forgot",
            Self::VerificationResend => "verify-email/resend",
            Self::Signup => "public/signup",
            Self::LoginCodeRequest => "login/code/request",
        }
    }

    /// The endpoint named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().trim_start_matches("/v1/auth/").trim_start_matches("/v1/");
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// The captcha requirement: the verifier, and the endpoints that need it.
#[derive(Debug, Clone)]
pub struct CaptchaGate {
    verifier: Arc<dyn CaptchaVerifier>,
    required_on: HashSet<CaptchaEndpoint>,
}

impl CaptchaGate {
    /// A gate asking `verifier` on `required_on`.
    pub fn new(verifier: Arc<dyn CaptchaVerifier>, required_on: impl IntoIterator<Item = CaptchaEndpoint>) -> Self {
        Self {
            verifier,
            required_on: required_on.into_iter().collect(),
        }
    }

    /// Checks the captcha of a request to `endpoint`: passes when the endpoint needs none;
    /// otherwise 400 `captcha_required` / `captcha_invalid`, or 503 `captcha_unavailable`
    /// when the provider did not answer (fail closed).
    pub(crate) async fn check(
        &self,
        endpoint: CaptchaEndpoint,
        fields: &CaptchaFields,
        client: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        if !self.required_on.contains(&endpoint) {
            return Ok(());
        }
        let enabled = self.verifier.providers();
        let (provider, token) = choose(fields, &enabled)?;
        match self.verifier.verify(provider, token, client).await {
            Ok(()) => Ok(()),
            Err(CaptchaError::Invalid(why)) => {
                tracing::info!(endpoint = endpoint.name(), provider = provider.name(), %why, "captcha refused");
                Err(invalid("The captcha was not solved; try again."))
            }
            Err(CaptchaError::Unavailable(why)) => {
                tracing::warn!(endpoint = endpoint.name(), provider = provider.name(), %why, "captcha provider unavailable");
                Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "captcha_unavailable",
                    "The captcha could not be checked right now; try again shortly.",
                )
                .retry_after(5))
            }
        }
    }
}

/// The captcha fields a body may carry: ours, or the widget's own.
// No Debug: tokens are single-use credentials.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct CaptchaFields {
    captcha_token: Option<String>,
    captcha_provider: Option<String>,
    #[serde(rename = "h-captcha-response")]
    hcaptcha: Option<String>,
    #[serde(rename = "g-recaptcha-response")]
    recaptcha: Option<String>,
    #[serde(rename = "g-captcha-response")]
    recaptcha_alias: Option<String>,
    #[serde(rename = "cf-turnstile-response")]
    turnstile: Option<String>,
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "captcha_invalid", message)
}

fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Which provider to ask about which token. `captcha_token` wins; its provider is
/// `captcha_provider`, or the only enabled one. Otherwise the first widget field of an enabled
/// provider. A provider that is not enabled is `captcha_invalid`; no token at all is
/// `captcha_required`.
fn choose<'a>(fields: &'a CaptchaFields, enabled: &[CaptchaProvider]) -> Result<(CaptchaProvider, &'a str), ApiError> {
    let not_enabled = |p: CaptchaProvider| invalid(&format!("The {} captcha is not enabled here.", p.name()));
    if let Some(token) = non_empty(fields.captcha_token.as_ref()) {
        let provider = match non_empty(fields.captcha_provider.as_ref()) {
            Some(name) => {
                CaptchaProvider::parse(name).ok_or_else(|| invalid("captcha_provider names no known provider."))?
            }
            None => match enabled {
                [only] => *only,
                _ => {
                    return Err(invalid(
                        "Several captcha providers are enabled: name one in captcha_provider.",
                    ));
                }
            },
        };
        return if enabled.contains(&provider) {
            Ok((provider, token))
        } else {
            Err(not_enabled(provider))
        };
    }
    let widgets = [
        (CaptchaProvider::HCaptcha, non_empty(fields.hcaptcha.as_ref())),
        (
            CaptchaProvider::ReCaptcha,
            non_empty(fields.recaptcha.as_ref()).or(non_empty(fields.recaptcha_alias.as_ref())),
        ),
        (CaptchaProvider::Turnstile, non_empty(fields.turnstile.as_ref())),
    ];
    let sent: Vec<(CaptchaProvider, &str)> = widgets.into_iter().filter_map(|(p, t)| Some((p, t?))).collect();
    if let Some(found) = sent.iter().find(|(p, _)| enabled.contains(p)) {
        return Ok(*found);
    }
    match sent.first() {
        Some((provider, _)) => Err(not_enabled(*provider)),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "captcha_required",
            "Solve the captcha and send its token as captcha_token.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> CaptchaFields {
        let map: serde_json::Map<String, serde_json::Value> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
        serde_json::from_value(map.into()).expect("fields")
    }

    fn chosen(pairs: &[(&str, &str)], enabled: &[CaptchaProvider]) -> Result<(CaptchaProvider, String), &'static str> {
        choose(&fields(pairs), enabled)
            .map(|(p, t)| (p, t.to_owned()))
            .map_err(|e| e.code())
    }

    use CaptchaProvider::{HCaptcha, ReCaptcha, Turnstile};

    #[test]
    fn captcha_token_goes_to_the_named_or_only_provider() {
        assert_eq!(
            chosen(&[("captcha_token", "t")], &[Turnstile]),
            Ok((Turnstile, "t".into()))
        );
        assert_eq!(
            chosen(
                &[("captcha_token", "t"), ("captcha_provider", "hcaptcha")],
                &[Turnstile, HCaptcha]
            ),
            Ok((HCaptcha, "t".into()))
        );
        assert_eq!(
            chosen(&[("captcha_token", "t")], &[Turnstile, HCaptcha]),
            Err("captcha_invalid")
        );
        assert_eq!(
            chosen(
                &[("captcha_token", "t"), ("captcha_provider", "recaptcha")],
                &[Turnstile]
            ),
            Err("captcha_invalid")
        );
        assert_eq!(
            chosen(&[("captcha_token", "t"), ("captcha_provider", "nope")], &[Turnstile]),
            Err("captcha_invalid")
        );
    }

    #[test]
    fn widget_fields_name_their_provider() {
        assert_eq!(
            chosen(&[("h-captcha-response", "h")], &[HCaptcha]),
            Ok((HCaptcha, "h".into()))
        );
        assert_eq!(
            chosen(&[("g-recaptcha-response", "g")], &[ReCaptcha]),
            Ok((ReCaptcha, "g".into()))
        );
        assert_eq!(
            chosen(&[("g-captcha-response", "g")], &[ReCaptcha]),
            Ok((ReCaptcha, "g".into()))
        );
        assert_eq!(
            chosen(&[("cf-turnstile-response", "c")], &[HCaptcha, Turnstile]),
            Ok((Turnstile, "c".into()))
        );
        // A widget whose provider is off is refused, not taken for another.
        assert_eq!(
            chosen(&[("h-captcha-response", "h")], &[Turnstile]),
            Err("captcha_invalid")
        );
    }

    #[test]
    fn nothing_or_blanks_is_required() {
        assert_eq!(chosen(&[], &[Turnstile]), Err("captcha_required"));
        assert_eq!(
            chosen(&[("captcha_token", "  "), ("cf-turnstile-response", "")], &[Turnstile]),
            Err("captcha_required")
        );
    }

    #[test]
    fn endpoint_names_round_trip() {
        for e in CaptchaEndpoint::ALL {
            assert_eq!(CaptchaEndpoint::parse(e.name()), Some(e));
        }
        assert_eq!(CaptchaEndpoint::parse("/v1/auth/login"), Some(CaptchaEndpoint::Login));
        assert_eq!(CaptchaEndpoint::parse("refresh"), None);
    }
}
