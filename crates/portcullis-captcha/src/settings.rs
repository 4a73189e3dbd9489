//! What each captcha provider needs: keys, and the hostnames and actions answers must name.

use std::time::Duration;

use portcullis_domain::captcha::CaptchaProvider;
use reqwest::Url;
use secrecy::ExposeSecret;
use secrecy::SecretString;

/// Which providers are enabled, and how long a check may take.
#[derive(Debug, Clone)]
pub struct CaptchaSettings {
    /// Limit for one whole check: connecting, sending, waiting, reading the answer. Past it the
    /// check is [`CaptchaError::Unavailable`], so a slow provider cannot hold a login open.
    pub timeout: Duration,
    /// hCaptcha, when enabled.
    pub hcaptcha: Option<HCaptchaSettings>,
    /// reCAPTCHA, when enabled.
    pub recaptcha: Option<ReCaptchaSettings>,
    /// Cloudflare Turnstile, when enabled.
    pub turnstile: Option<TurnstileSettings>,
}

/// hCaptcha settings.
#[derive(Debug, Clone)]
pub struct HCaptchaSettings {
    /// The account's secret key (`0x…`). Redacted in `Debug`.
    pub secret: SecretString,
    /// The siteverify endpoint; [`HCAPTCHA_VERIFY_URL`] unless testing against a stub.
    pub verify_url: String,
    /// The site key the widget uses. When set it is sent as `sitekey`, so that hCaptcha refuses a
    /// token that was solved for a different site key.
    pub site_key: Option<String>,
}

impl HCaptchaSettings {
    /// The real endpoint, no site key check.
    pub fn new(secret: SecretString) -> Self {
        Self {
            secret,
            verify_url: HCAPTCHA_VERIFY_URL.to_owned(),
            site_key: None,
        }
    }
}

/// reCAPTCHA settings. Without [`min_score`](Self::min_score) the key is treated as a v2 key
/// (the answer's `success` decides); with it, as a v3 key.
#[derive(Debug, Clone)]
pub struct ReCaptchaSettings {
    /// The site's secret key. Redacted in `Debug`.
    pub secret: SecretString,
    /// The siteverify endpoint; [`RECAPTCHA_VERIFY_URL`] unless testing against a stub.
    pub verify_url: String,
    /// v3: the lowest acceptable `score` (0.0 is very likely a bot, 1.0 very likely a human).
    /// When set, an answer without a score is refused, since a v2 key configured by mistake must
    /// not silently turn the score check off.
    pub min_score: Option<f64>,
    /// v3: when set, the answer's `action` must be exactly this, so that a token obtained for a
    /// cheaper action on the same site (a page view, say) cannot be spent on this one.
    pub expected_action: Option<String>,
}

impl ReCaptchaSettings {
    /// The real endpoint, as a v2 key (no score or action check).
    pub fn new(secret: SecretString) -> Self {
        Self {
            secret,
            verify_url: RECAPTCHA_VERIFY_URL.to_owned(),
            min_score: None,
            expected_action: None,
        }
    }
}

/// Cloudflare Turnstile settings.
#[derive(Debug, Clone)]
pub struct TurnstileSettings {
    /// The widget's secret key. Redacted in `Debug`.
    pub secret: SecretString,
    /// The siteverify endpoint; [`TURNSTILE_VERIFY_URL`] unless testing against a stub.
    pub verify_url: String,
}

impl TurnstileSettings {
    /// The real endpoint.
    pub fn new(secret: SecretString) -> Self {
        Self {
            secret,
            verify_url: TURNSTILE_VERIFY_URL.to_owned(),
        }
    }
}

/// hCaptcha's siteverify endpoint, the default for [`HCaptchaSettings::verify_url`].
pub const HCAPTCHA_VERIFY_URL: &str = "https://api.hcaptcha.com/siteverify";
/// reCAPTCHA's siteverify endpoint, the default for [`ReCaptchaSettings::verify_url`].
pub const RECAPTCHA_VERIFY_URL: &str = "https://www.google.com/recaptcha/api/siteverify";
/// Turnstile's siteverify endpoint, the default for [`TurnstileSettings::verify_url`].
pub const TURNSTILE_VERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

/// A settings problem found at start-up, so that a typo stops the service instead of refusing
/// every captcha (or, worse, skipping a check) at run time.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A zero timeout would refuse every token.
    #[error("captcha timeout must be more than zero")]
    ZeroTimeout,
    /// A provider is enabled with an empty secret, which the provider would refuse on every call.
    #[error("{provider} is enabled but its secret is empty")]
    EmptySecret {
        /// The provider's config name.
        provider: &'static str,
    },
    /// The verify URL does not parse, or is not `http`/`https` with a host.
    #[error("{provider} verify_url {url:?} is not usable: {reason}")]
    BadUrl {
        /// The provider's config name.
        provider: &'static str,
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// reCAPTCHA scores are between 0.0 and 1.0; anything else is a configuration mistake.
    #[error("recaptcha min_score {0} is not between 0.0 and 1.0")]
    BadMinScore(f64),
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the captcha HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// One enabled provider, checked and ready.
pub(crate) struct Endpoint {
    pub(crate) provider: CaptchaProvider,
    pub(crate) url: Url,
    pub(crate) secret: SecretString,
    /// hCaptcha only.
    pub(crate) site_key: Option<String>,
    /// reCAPTCHA v3 only.
    pub(crate) min_score: Option<f64>,
    /// reCAPTCHA v3 only.
    pub(crate) expected_action: Option<String>,
}

impl Endpoint {
    pub(crate) fn new(provider: CaptchaProvider, secret: SecretString, verify_url: &str) -> Result<Self, BuildError> {
        let name = provider.name();
        if secret.expose_secret().trim().is_empty() {
            return Err(BuildError::EmptySecret { provider: name });
        }
        let bad = |reason: String| BuildError::BadUrl {
            provider: name,
            url: verify_url.to_owned(),
            reason,
        };
        let url = Url::parse(verify_url.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(format!("the scheme is {:?}, not http or https", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host".to_owned()));
        }
        Ok(Self {
            provider,
            url,
            secret,
            site_key: None,
            min_score: None,
            expected_action: None,
        })
    }
}

/// An empty string in config (an unset environment variable, say) means "not set".
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}
