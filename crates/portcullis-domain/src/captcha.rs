//! The captcha port: proof that a human (or at least a browser that solved a challenge) sent a
//! request. The HTTP layer decides which endpoints need one and where the token comes from; an
//! adapter asks the provider whether the token is good.

use std::net::IpAddr;

use async_trait::async_trait;

/// A captcha provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptchaProvider {
    /// hCaptcha.
    HCaptcha,
    /// Google reCAPTCHA (v2, or v3 with a minimum score).
    ReCaptcha,
    /// Cloudflare Turnstile.
    Turnstile,
}

impl CaptchaProvider {
    /// Every provider.
    pub const ALL: [Self; 3] = [Self::HCaptcha, Self::ReCaptcha, Self::Turnstile];

    /// The provider's name in config and in the `captcha_provider` field.
    ///
    /// ```
    /// use portcullis_domain::captcha::CaptchaProvider;
    /// assert_eq!(CaptchaProvider::parse("turnstile"), Some(CaptchaProvider::Turnstile));
    /// assert_eq!(CaptchaProvider::Turnstile.name(), "turnstile");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Self::HCaptcha => "hcaptcha",
            Self::ReCaptcha => "recaptcha",
            Self::Turnstile => "turnstile",
        }
    }

    /// The provider named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Why a captcha was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// The provider said no (bad, expired or reused token, too low a score, wrong site).
    #[error("the captcha was not solved: {0}")]
    Invalid(String),
    /// The provider did not answer in time or answered nonsense; the request is refused
    /// (fail closed).
    #[error("the captcha provider is unavailable: {0}")]
    Unavailable(String),
}

/// Checks captcha tokens with their provider.
///
/// Adapters must answer [`CaptchaError::Unavailable`] for timeouts, transport errors, non-2xx
/// answers and answers they cannot parse, and [`CaptchaError::Invalid`] only when the provider
/// clearly refused the token. Asking about a provider that is not configured is `Invalid`.
#[async_trait]
pub trait CaptchaVerifier: Send + Sync + std::fmt::Debug {
    /// The providers this verifier is configured for.
    fn providers(&self) -> Vec<CaptchaProvider>;

    /// Asks `provider` whether `token` is good, passing the client's IP on when known.
    async fn verify(
        &self,
        provider: CaptchaProvider,
        token: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<(), CaptchaError>;
}
