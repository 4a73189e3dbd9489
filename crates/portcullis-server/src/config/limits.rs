//! Sections of abuse protection: `limits` and `captcha`.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::common::{ConfigError, Problems};

/// `[captcha]`: a provider is enabled by its section with a `secret`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaConfig {
    /// Endpoints that need a captcha (`register`, `login`, `password/forgot`,
    /// `verify-email/resend`, `public/signup`, `login/code/request`); unset = all six when any
    /// provider is enabled.
    pub required_on: Option<Vec<String>>,
    /// Milliseconds one check may take before it fails closed (503 `captcha_unavailable`).
    pub timeout_ms: u64,
    /// hCaptcha.
    pub hcaptcha: Option<HCaptchaConfig>,
    /// Google reCAPTCHA v2, or v3 with `min_score`.
    pub recaptcha: Option<ReCaptchaConfig>,
    /// Cloudflare Turnstile.
    pub turnstile: Option<TurnstileConfig>,
}

impl Default for CaptchaConfig {
    fn default() -> Self {
        Self {
            required_on: None,
            timeout_ms: 5000,
            hcaptcha: None,
            recaptcha: None,
            turnstile: None,
        }
    }
}

/// `[captcha.hcaptcha]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HCaptchaConfig {
    /// Secret key (or `secret_file`).
    #[serde(default = "super::secrets::unset")]
    pub secret: SecretString,
    /// A file holding the secret key.
    pub secret_file: Option<std::path::PathBuf>,
    /// Site key; when set, tokens solved for another site key are refused.
    pub site_key: Option<String>,
    /// siteverify URL (default: hCaptcha's).
    pub verify_url: Option<String>,
}

/// `[captcha.recaptcha]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReCaptchaConfig {
    /// Secret key (or `secret_file`).
    #[serde(default = "super::secrets::unset")]
    pub secret: SecretString,
    /// A file holding the secret key.
    pub secret_file: Option<std::path::PathBuf>,
    /// v3: the lowest accepted score (0.0–1.0); unset = v2.
    pub min_score: Option<f64>,
    /// v3: the action the token must have been made for.
    pub expected_action: Option<String>,
    /// siteverify URL (default: Google's).
    pub verify_url: Option<String>,
}

/// `[captcha.turnstile]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnstileConfig {
    /// Secret key (or `secret_file`).
    #[serde(default = "super::secrets::unset")]
    pub secret: SecretString,
    /// A file holding the secret key.
    pub secret_file: Option<std::path::PathBuf>,
    /// siteverify URL (default: Cloudflare's).
    pub verify_url: Option<String>,
}

impl CaptchaConfig {
    /// The verifier's settings, or `None` when no provider is enabled.
    pub fn settings(&self) -> Option<portcullis_captcha::CaptchaSettings> {
        use portcullis_captcha::{HCaptchaSettings, ReCaptchaSettings, TurnstileSettings};
        if self.hcaptcha.is_none() && self.recaptcha.is_none() && self.turnstile.is_none() {
            return None;
        }
        Some(portcullis_captcha::CaptchaSettings {
            timeout: std::time::Duration::from_millis(self.timeout_ms),
            hcaptcha: self.hcaptcha.as_ref().map(|c| {
                let mut s = HCaptchaSettings::new(c.secret.clone());
                s.site_key.clone_from(&c.site_key);
                if let Some(url) = &c.verify_url {
                    s.verify_url.clone_from(url);
                }
                s
            }),
            recaptcha: self.recaptcha.as_ref().map(|c| {
                let mut s = ReCaptchaSettings::new(c.secret.clone());
                s.min_score = c.min_score;
                s.expected_action.clone_from(&c.expected_action);
                if let Some(url) = &c.verify_url {
                    s.verify_url.clone_from(url);
                }
                s
            }),
            turnstile: self.turnstile.as_ref().map(|c| {
                let mut s = TurnstileSettings::new(c.secret.clone());
                if let Some(url) = &c.verify_url {
                    s.verify_url.clone_from(url);
                }
                s
            }),
        })
    }

    /// The endpoints that need a captcha.
    pub fn required_on(&self) -> Result<Vec<portcullis_http::CaptchaEndpoint>, ConfigError> {
        use portcullis_http::CaptchaEndpoint;
        match &self.required_on {
            None => Ok(CaptchaEndpoint::ALL.to_vec()),
            Some(names) => names
                .iter()
                .map(|n| {
                    CaptchaEndpoint::parse(n).ok_or_else(|| {
                        ConfigError(format!(
                            "captcha.required_on: {n:?} is not one of register, login, password/forgot, verify-email/resend"
                        ))
                    })
                })
                .collect(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        problems.add(self.required_on());
        if !(100..=60_000).contains(&self.timeout_ms) {
            problems.push("captcha.timeout_ms must be between 100 and 60000");
        }
        if let Some(settings) = self.settings() {
            problems
                .add(portcullis_captcha::HttpCaptcha::new(settings).map_err(|e| ConfigError(format!("captcha: {e}"))));
        }
        problems.into_result()
    }
}

/// One rate limit: `count` events per `period_secs`; `count = 0` disables it. Written as
/// `"count/period"` (`"5/15m"`, `"3/1h"`, `"10/1d"`, `"1/60s"`, `"5/900"` in seconds), or `0`
/// to disable, so one environment variable sets one limit:
/// `PORTCULLIS_LIMITS__LOGIN_PER_IP=20/15m`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(try_from = "LimitSpec")]
pub struct LimitConfig {
    /// Events allowed per period (also the burst); 0 = unlimited.
    pub count: u32,
    /// The period in seconds.
    pub period_secs: u64,
}

impl LimitConfig {
    pub(crate) const fn new(count: u32, period_secs: u64) -> Self {
        Self { count, period_secs }
    }
}

/// How a limit may be written.
#[derive(Deserialize)]
#[serde(untagged)]
enum LimitSpec {
    Number(u64),
    Text(String),
}

impl TryFrom<LimitSpec> for LimitConfig {
    type Error = String;

    fn try_from(spec: LimitSpec) -> Result<Self, String> {
        let usage = "write a limit as \"count/period\" (\"5/15m\", \"3/1h\", \"10/1d\", \"1/60s\") or 0 to disable it";
        let text = match spec {
            LimitSpec::Number(0) => return Ok(Self::new(0, 60)),
            LimitSpec::Number(_) => return Err(usage.into()),
            LimitSpec::Text(text) => text,
        };
        let text = text.trim();
        if text == "0" || text.eq_ignore_ascii_case("off") {
            return Ok(Self::new(0, 60));
        }
        let (count, period) = text.split_once('/').ok_or(usage)?;
        let count: u32 = count.trim().parse().map_err(|_| usage)?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).unwrap_or(period.len());
        let (amount, unit) = period.split_at(split);
        let amount: u64 = if amount.is_empty() { Ok(1) } else { amount.parse() }.map_err(|_| usage)?;
        let unit = match unit.trim() {
            "" | "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            _ => return Err(usage.into()),
        };
        Ok(Self::new(count, amount.saturating_mul(unit)))
    }
}

/// `[limits]`: API.md's Limits table. Each is `{ count, period_secs }`; per client network
/// (an IPv4 address or an IPv6 /64) unless named otherwise.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// `POST /v1/auth/login`.
    pub login_per_ip: LimitConfig,
    /// `POST /v1/auth/register`.
    pub register_per_ip: LimitConfig,
    /// `POST /v1/auth/password/forgot`.
    pub password_reset_per_ip: LimitConfig,
    /// `POST /v1/auth/verify-email/resend`.
    pub resend_per_ip: LimitConfig,
    /// `POST /v1/auth/login/code/request`.
    pub login_code_per_ip: LimitConfig,
    /// Code and token submissions: verify-email, password/verify, password/reset, authorize-ip.
    pub secret_submissions_per_ip: LimitConfig,
    /// Failed password checks per login name (the address or username as typed, whether or
    /// not an account has it), and per account when a signed-in user re-authenticates.
    pub failed_logins_per_account: LimitConfig,
    /// Consecutive failed password checks of one login name (or account) that cost nothing
    /// more than their count; each one beyond makes the name wait, from
    /// `failed_login_backoff_first_secs` doubling up to `failed_login_backoff_max_secs`
    /// (429 `too_many_attempts` with `Retry-After`), until a right password. 0 turns the
    /// back-off off.
    pub failed_login_backoff_after: u32,
    /// The first back-off wait, seconds.
    pub failed_login_backoff_first_secs: u64,
    /// The longest back-off wait, seconds.
    pub failed_login_backoff_max_secs: u64,
    /// Requests per account to the endpoints that re-authenticate a signed-in user: password
    /// change, email change, disabling TOTP, new recovery codes.
    pub reauthentication_per_account: LimitConfig,
    /// Email-change requests per account.
    pub email_change_per_account: LimitConfig,
    /// Avatar uploads per account.
    pub avatar_upload_per_account: LimitConfig,
    /// Most keys (client networks, login names, recipients, accounts) each limit tracks;
    /// beyond, new keys share one budget, so invented keys neither grow memory nor buy budget.
    pub max_keys: usize,
    /// Mails anyone can trigger (verification, existing-account notice, reset) per recipient.
    pub mails_per_recipient_per_minute: LimitConfig,
    /// The same, per day.
    pub mails_per_recipient_per_day: LimitConfig,
    /// Where the counts live: `memory` (each process on its own; one node) or `redis` (shared
    /// by every node, so a budget holds across the cluster). With `redis`, a node whose Redis
    /// does not answer counts on its own until it does.
    pub store: LimitStore,
    /// `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS); required with
    /// `store = "redis"`.
    pub redis_url: Option<SecretString>,
    /// A file holding `redis_url`.
    pub redis_url_file: Option<std::path::PathBuf>,
    /// Prefix of every Redis key, so deployments can share one Redis.
    pub redis_prefix: String,
    /// Milliseconds one decision may wait for Redis before the node answers on its own.
    pub redis_timeout_ms: u64,
}

/// `limits.store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitStore {
    /// In-process counts.
    #[default]
    Memory,
    /// Counts shared through Redis.
    Redis,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_ip: LimitConfig::new(5, 15 * 60),
            register_per_ip: LimitConfig::new(3, 3600),
            password_reset_per_ip: LimitConfig::new(3, 3600),
            resend_per_ip: LimitConfig::new(3, 3600),
            login_code_per_ip: LimitConfig::new(5, 900),
            secret_submissions_per_ip: LimitConfig::new(10, 15 * 60),
            failed_logins_per_account: LimitConfig::new(10, 15 * 60),
            failed_login_backoff_after: 3,
            failed_login_backoff_first_secs: 1,
            failed_login_backoff_max_secs: 15 * 60,
            mails_per_recipient_per_minute: LimitConfig::new(1, 60),
            mails_per_recipient_per_day: LimitConfig::new(10, 86_400),
            reauthentication_per_account: LimitConfig::new(10, 3600),
            email_change_per_account: LimitConfig::new(3, 3600),
            avatar_upload_per_account: LimitConfig::new(10, 3600),
            max_keys: 100_000,
            store: LimitStore::Memory,
            redis_url: None,
            redis_url_file: None,
            redis_prefix: "portcullis:rl".into(),
            redis_timeout_ms: 250,
        }
    }
}

impl LimitsConfig {
    /// Every limit with its quota.
    pub fn quotas(&self) -> Vec<(portcullis_domain::Limit, portcullis_domain::Quota)> {
        use portcullis_domain::Limit;
        let quota =
            |l: LimitConfig| portcullis_domain::Quota::new(l.count, std::time::Duration::from_secs(l.period_secs));
        vec![
            (Limit::Login, quota(self.login_per_ip)),
            (Limit::Register, quota(self.register_per_ip)),
            (Limit::PasswordResetRequest, quota(self.password_reset_per_ip)),
            (Limit::VerificationResend, quota(self.resend_per_ip)),
            (Limit::LoginCodeRequest, quota(self.login_code_per_ip)),
            (Limit::SecretSubmission, quota(self.secret_submissions_per_ip)),
            (Limit::FailedLogin, quota(self.failed_logins_per_account)),
            (Limit::MailPerMinute, quota(self.mails_per_recipient_per_minute)),
            (Limit::MailPerDay, quota(self.mails_per_recipient_per_day)),
            (Limit::Reauthentication, quota(self.reauthentication_per_account)),
            (Limit::EmailChange, quota(self.email_change_per_account)),
            (Limit::AvatarUpload, quota(self.avatar_upload_per_account)),
        ]
    }

    /// The limiter's settings beyond the quotas.
    pub fn limiter_settings(&self) -> portcullis_ratelimit::LimiterSettings {
        use portcullis_domain::limits::{Backoff, Limit};
        let backoff = Backoff {
            after: self.failed_login_backoff_after,
            first: std::time::Duration::from_secs(self.failed_login_backoff_first_secs),
            max: std::time::Duration::from_secs(self.failed_login_backoff_max_secs),
        };
        portcullis_ratelimit::LimiterSettings {
            max_keys: self.max_keys,
            // The back-off belongs to the failed-login limit: turning that limit off turns off
            // every per-name failure measure (quota, back-off, the guard on concurrent guesses).
            backoffs: if self.failed_login_backoff_after > 0 && self.failed_logins_per_account.count > 0 {
                vec![(Limit::FailedLogin, backoff)]
            } else {
                Vec::new()
            },
        }
    }

    /// Turns every limit off (the testkit's default: suites log in far more often than people).
    pub fn disable_all(&mut self) {
        for l in [
            &mut self.login_per_ip,
            &mut self.register_per_ip,
            &mut self.password_reset_per_ip,
            &mut self.resend_per_ip,
            &mut self.login_code_per_ip,
            &mut self.secret_submissions_per_ip,
            &mut self.failed_logins_per_account,
            &mut self.mails_per_recipient_per_minute,
            &mut self.mails_per_recipient_per_day,
            &mut self.reauthentication_per_account,
            &mut self.email_change_per_account,
            &mut self.avatar_upload_per_account,
        ] {
            l.count = 0;
        }
        self.failed_login_backoff_after = 0;
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        if self.failed_login_backoff_after > 0
            && (self.failed_login_backoff_first_secs == 0
                || self.failed_login_backoff_max_secs < self.failed_login_backoff_first_secs
                || self.failed_login_backoff_max_secs > 86_400)
        {
            problems.push(
                "limits: failed_login_backoff_first_secs must be at least 1 and at most failed_login_backoff_max_secs, \
                 which must be at most 86400",
            );
        }
        match (self.store, self.redis_url.is_some()) {
            (LimitStore::Redis, false) => {
                problems.push("limits.redis_url (or redis_url_file) is required with limits.store = \"redis\"");
            }
            (LimitStore::Memory, true) => problems.push(
                "limits.redis_url is set but limits.store is \"memory\": set limits.store = \"redis\" to share limits, or remove the URL",
            ),
            _ => {}
        }
        if let Some(url) = &self.redis_url
            && !(url.expose_secret().starts_with("redis://") || url.expose_secret().starts_with("rediss://"))
        {
            problems.push("limits.redis_url must start with redis:// or rediss://");
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.len() > 100 {
            problems.push("limits.redis_prefix must be 1 to 100 characters");
        }
        if !(10..=10_000).contains(&self.redis_timeout_ms) {
            problems.push("limits.redis_timeout_ms must be between 10 and 10000");
        }
        if !(1_000..=100_000_000).contains(&self.max_keys) {
            problems.push("limits.max_keys must be between 1000 and 100000000");
        }
        for (limit, quota) in self.quotas() {
            let secs = quota.period.as_secs();
            if quota.count > 0 && !(1..=30 * 86_400).contains(&secs) {
                problems.push(format!(
                    "limits: the period of {} must be between 1 second and 30 days",
                    limit.name()
                ));
            }
            if u64::from(quota.count) > secs.saturating_mul(1000) {
                problems.push(format!(
                    "limits: {} allows more than 1000 events per second; use count = 0 to disable it",
                    limit.name()
                ));
            }
        }
        problems.into_result()
    }
}
