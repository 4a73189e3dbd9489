//! Captcha adapter: asks hCaptcha, Google reCAPTCHA (v2, or v3 with a minimum score and an
//! expected action) or Cloudflare Turnstile whether a token that a browser got from their widget
//! is good, through each provider's `siteverify` endpoint.
//!
//! All three speak the same protocol: a `POST` of an `application/x-www-form-urlencoded` body with
//! `secret` (the site's secret key), `response` (the token) and, when the client's address is
//! known, `remoteip`; hCaptcha also takes `sitekey`, which makes it refuse a token minted for
//! another site key. The answer is JSON with `success`, `error-codes` (a list of strings), and
//! depending on the provider `hostname`, `challenge_ts`, `score` and `action` (reCAPTCHA v3 and
//! Turnstile).
//!
//! The adapter fails closed: a timeout, a transport error, a non-2xx status, a redirect or an
//! answer that is not a siteverify answer is [`CaptchaError::Unavailable`], and the request that
//! carried the token is refused either way. [`CaptchaError::Invalid`] is kept for answers in which
//! the provider clearly said no (or said yes with too low a score or for another action). Neither
//! the token nor the secret ever appears in an error or a log line.
//!
//! # The providers' public test keys
//!
//! For development and end-to-end tests against the real providers, each publishes keys that
//! always give the same answer. Never configure them in production: the passing ones accept any
//! token.
//!
//! **hCaptcha** (the test keys from hCaptcha's developer guide):
//!
//! | what | value |
//! | --- | --- |
//! | site key | `10000000-ffff-ffff-ffff-000000000001` |
//! | secret key | `0x0000000000000000000000000000000000000000` |
//!
//! **reCAPTCHA v2** (the test keys from Google's reCAPTCHA FAQ on automated tests): every
//! verification with them passes.
//!
//! | what | value |
//! | --- | --- |
//! | site key | `6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI` |
//! | secret key | `6LeIxAcTAAAAAGG-vFI1TnRWxMZNFuojJ4WifJWe` |
//!
//! **Cloudflare Turnstile** (from Cloudflare's Turnstile docs, "Testing"): the dummy site keys
//! work from any host name, including `localhost`, and make the widget produce the dummy token
//! `XXXX.DUMMY.TOKEN.XXXX`. Production secret keys refuse that token; use a dummy secret key too.
//!
//! | site key | widget |
//! | --- | --- |
//! | `1x00000000000000000000AA` | always passes, visible |
//! | `2x00000000000000000000AB` | always blocks, visible |
//! | `1x00000000000000000000BB` | always passes, invisible |
//! | `2x00000000000000000000BB` | always blocks, invisible |
//! | `3x00000000000000000000FF` | forces an interactive challenge, visible |
//!
//! | secret key | siteverify |
//! | --- | --- |
//! | `1x0000000000000000000000000000000AA` | always passes |
//! | `2x0000000000000000000000000000000AA` | always fails |
//! | `3x0000000000000000000000000000000AA` | fails with a "token already spent" error |

mod answer;
mod settings;

pub use settings::{BuildError, CaptchaSettings, HCaptchaSettings, ReCaptchaSettings, TurnstileSettings};
use settings::{Endpoint, non_empty};

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use portcullis_domain::captcha::{CaptchaError, CaptchaProvider, CaptchaVerifier};
use secrecy::ExposeSecret;

use crate::answer::{Answer, tidy};

/// A siteverify answer is a few hundred bytes; anything this large is not one, and reading it
/// whole would let a broken or hostile endpoint make us buffer without limit.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Checks tokens with the providers' siteverify endpoints over one shared HTTP client (so
/// connections to a provider are reused across checks).
#[derive(Clone)]
pub struct HttpCaptcha {
    client: reqwest::Client,
    timeout: Duration,
    endpoints: std::sync::Arc<[Endpoint]>,
}

impl fmt::Debug for HttpCaptcha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpCaptcha")
            .field("providers", &self.providers())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpCaptcha {
    /// Checks the settings and builds the HTTP client. Nothing is sent until the first check.
    pub fn new(settings: CaptchaSettings) -> Result<Self, BuildError> {
        let CaptchaSettings {
            timeout,
            hcaptcha,
            recaptcha,
            turnstile,
        } = settings;
        if timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let mut endpoints = Vec::new();
        if let Some(s) = hcaptcha {
            let mut e = Endpoint::new(CaptchaProvider::HCaptcha, s.secret, &s.verify_url)?;
            e.site_key = non_empty(s.site_key);
            endpoints.push(e);
        }
        if let Some(s) = recaptcha {
            let mut e = Endpoint::new(CaptchaProvider::ReCaptcha, s.secret, &s.verify_url)?;
            if let Some(min) = s.min_score
                && !(0.0..=1.0).contains(&min)
            {
                return Err(BuildError::BadMinScore(min));
            }
            e.min_score = s.min_score;
            e.expected_action = non_empty(s.expected_action);
            endpoints.push(e);
        }
        if let Some(s) = turnstile {
            endpoints.push(Endpoint::new(CaptchaProvider::Turnstile, s.secret, &s.verify_url)?);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A siteverify endpoint never redirects; following one would resend the secret to
            // wherever it points (307/308 keep the body). A redirect is an unusable answer.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis-captcha/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(BuildError::Client)?;
        Ok(Self {
            client,
            timeout,
            endpoints: endpoints.into(),
        })
    }

    fn endpoint(&self, provider: CaptchaProvider) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.provider == provider)
    }

    /// Sends the token and reads the answer; every failure here is `Unavailable`.
    async fn ask(&self, ep: &Endpoint, token: &str, remote_ip: Option<IpAddr>) -> Result<Answer, CaptchaError> {
        let name = ep.provider.name();
        let remote_ip = remote_ip.map(|ip| ip.to_string());
        let mut form: Vec<(&str, &str)> = vec![("secret", ep.secret.expose_secret()), ("response", token)];
        if let Some(ip) = &remote_ip {
            form.push(("remoteip", ip));
        }
        if let Some(site_key) = &ep.site_key {
            form.push(("sitekey", site_key));
        }
        let unavailable = |what: String| CaptchaError::Unavailable(format!("{name}: {what}"));
        let mut response = self
            .client
            .post(ep.url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(transport_failure(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format!("siteverify answered HTTP {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(transport_failure(&e)))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(unavailable(format!(
                    "siteverify answered more than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| {
            unavailable(format!(
                "siteverify answered something that is not a siteverify answer: {e}"
            ))
        })
    }
}

/// What went wrong on the way; nothing from the request body (secret, token) is in it.
fn transport_failure(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "siteverify did not answer in time".to_owned()
    } else if e.is_connect() {
        format!("cannot connect to siteverify: {}", source_chain(e))
    } else {
        format!("siteverify exchange failed: {}", source_chain(e))
    }
}

/// reqwest's own message is generic ("error sending request for url (…)"); the cause is in the
/// sources. The URL is the configured endpoint; the secret and the token travel in the body.
fn source_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl CaptchaVerifier for HttpCaptcha {
    fn providers(&self) -> Vec<CaptchaProvider> {
        CaptchaProvider::ALL
            .into_iter()
            .filter(|p| self.endpoint(*p).is_some())
            .collect()
    }

    async fn verify(
        &self,
        provider: CaptchaProvider,
        token: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<(), CaptchaError> {
        let name = provider.name();
        let Some(ep) = self.endpoint(provider) else {
            tracing::info!(provider = name, outcome = "not_enabled", "captcha refused");
            return Err(CaptchaError::Invalid(format!("{name} is not enabled")));
        };
        if token.trim().is_empty() {
            tracing::info!(provider = name, outcome = "no_token", "captcha refused");
            return Err(CaptchaError::Invalid(format!("no {name} token was given")));
        }
        let started = Instant::now();
        // The client's timeout covers each request; this one also covers reading and parsing, so
        // the limit holds for the check as a whole.
        let answer = match tokio::time::timeout(self.timeout, self.ask(ep, token, remote_ip)).await {
            Ok(answer) => answer,
            Err(_) => Err(CaptchaError::Unavailable(format!(
                "{name}: siteverify did not answer within {:?}",
                self.timeout
            ))),
        };
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(provider = name, outcome = "unavailable", elapsed_ms, error = %e, "captcha check failed");
                return Err(e);
            }
        };
        let verdict = answer.judge(ep);
        let hostname = answer.hostname.as_deref().map(tidy);
        match &verdict {
            Ok(()) => tracing::info!(
                provider = name,
                outcome = "passed",
                elapsed_ms,
                hostname = hostname.as_deref(),
                score = answer.score,
                "captcha checked"
            ),
            Err(e) => tracing::info!(
                provider = name,
                outcome = "refused",
                elapsed_ms,
                hostname = hostname.as_deref(),
                score = answer.score,
                reason = %e,
                "captcha checked"
            ),
        }
        verdict
    }
}
