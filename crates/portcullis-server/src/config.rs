//! The one typed configuration: defaults, then a TOML file, then `PORTCULLIS_*` environment
//! variables (`__` separates levels: `PORTCULLIS_DATABASE__URL`). Unknown keys are an error, so
//! a typo never silently falls back to a default. Documented in docs/CONFIGURATION.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything the server reads at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listener.
    pub server: ServerConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Access and refresh tokens, signing keys.
    pub tokens: TokensConfig,
    /// Password rules and hashing.
    pub passwords: PasswordsConfig,
    /// Username rules.
    pub usernames: UsernamesConfig,
    /// Logging.
    pub log: LogConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// Sign-up rules.
    pub registration: RegistrationConfig,
    /// Lifetimes and attempt limits of emailed links and codes.
    pub one_time: OneTimeConfig,
    /// Second factor.
    pub mfa: MfaConfig,
    /// Login rules.
    pub login: LoginConfig,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Captcha providers and the endpoints that need one.
    pub captcha: CaptchaConfig,
    /// How long stale data is kept.
    pub retention: RetentionConfig,
}

/// `[retention]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days an account may stay unverified, counted from its last registration, before the
    /// mail worker deletes it (with its registrations and pending secrets).
    pub unverified_account_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            unverified_account_days: 7,
        }
    }
}

/// `[captcha]`: a provider is enabled by its section with a `secret`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaConfig {
    /// Endpoints that need a captcha (`register`, `login`, `password/forgot`,
    /// `verify-email/resend`); unset = all four when any provider is enabled.
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
    /// Secret key.
    pub secret: SecretString,
    /// Site key; when set, tokens solved for another site key are refused.
    pub site_key: Option<String>,
    /// siteverify URL (default: hCaptcha's).
    pub verify_url: Option<String>,
}

/// `[captcha.recaptcha]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReCaptchaConfig {
    /// Secret key.
    pub secret: SecretString,
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
    /// Secret key.
    pub secret: SecretString,
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

    fn validate(&self) -> Result<(), ConfigError> {
        self.required_on()?;
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(ConfigError("captcha.timeout_ms must be between 100 and 60000".into()));
        }
        if let Some(settings) = self.settings() {
            portcullis_captcha::HttpCaptcha::new(settings).map_err(|e| ConfigError(format!("captcha: {e}")))?;
        }
        Ok(())
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
    const fn new(count: u32, period_secs: u64) -> Self {
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
    /// Most keys (client networks, login names, recipients, accounts) each limit tracks;
    /// beyond, new keys share one budget, so invented keys neither grow memory nor buy budget.
    pub max_keys: usize,
    /// Mails anyone can trigger (verification, existing-account notice, reset) per recipient.
    pub mails_per_recipient_per_minute: LimitConfig,
    /// The same, per day.
    pub mails_per_recipient_per_day: LimitConfig,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_ip: LimitConfig::new(5, 15 * 60),
            register_per_ip: LimitConfig::new(3, 3600),
            password_reset_per_ip: LimitConfig::new(3, 3600),
            resend_per_ip: LimitConfig::new(3, 3600),
            secret_submissions_per_ip: LimitConfig::new(10, 15 * 60),
            failed_logins_per_account: LimitConfig::new(10, 15 * 60),
            failed_login_backoff_after: 3,
            failed_login_backoff_first_secs: 1,
            failed_login_backoff_max_secs: 15 * 60,
            mails_per_recipient_per_minute: LimitConfig::new(1, 60),
            mails_per_recipient_per_day: LimitConfig::new(10, 86_400),
            reauthentication_per_account: LimitConfig::new(10, 3600),
            email_change_per_account: LimitConfig::new(3, 3600),
            max_keys: 100_000,
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
            (Limit::SecretSubmission, quota(self.secret_submissions_per_ip)),
            (Limit::FailedLogin, quota(self.failed_logins_per_account)),
            (Limit::MailPerMinute, quota(self.mails_per_recipient_per_minute)),
            (Limit::MailPerDay, quota(self.mails_per_recipient_per_day)),
            (Limit::Reauthentication, quota(self.reauthentication_per_account)),
            (Limit::EmailChange, quota(self.email_change_per_account)),
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
            backoffs: if self.failed_login_backoff_after > 0 {
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
            &mut self.secret_submissions_per_ip,
            &mut self.failed_logins_per_account,
            &mut self.mails_per_recipient_per_minute,
            &mut self.mails_per_recipient_per_day,
            &mut self.reauthentication_per_account,
            &mut self.email_change_per_account,
        ] {
            l.count = 0;
        }
        self.failed_login_backoff_after = 0;
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.failed_login_backoff_after > 0
            && (self.failed_login_backoff_first_secs == 0
                || self.failed_login_backoff_max_secs < self.failed_login_backoff_first_secs
                || self.failed_login_backoff_max_secs > 86_400)
        {
            return Err(ConfigError(
                "limits: failed_login_backoff_first_secs must be at least 1 and at most failed_login_backoff_max_secs, \
                 which must be at most 86400"
                    .into(),
            ));
        }
        if !(1_000..=100_000_000).contains(&self.max_keys) {
            return Err(ConfigError("limits.max_keys must be between 1000 and 100000000".into()));
        }
        for (limit, quota) in self.quotas() {
            let secs = quota.period.as_secs();
            if quota.count > 0 && !(1..=30 * 86_400).contains(&secs) {
                return Err(ConfigError(format!(
                    "limits: the period of {} must be between 1 second and 30 days",
                    limit.name()
                )));
            }
            if u64::from(quota.count) > secs.saturating_mul(1000) {
                return Err(ConfigError(format!(
                    "limits: {} allows more than 1000 events per second; use count = 0 to disable it",
                    limit.name()
                )));
            }
        }
        Ok(())
    }
}

/// `[login]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoginConfig {
    /// A sign-in from a network the account has not used (an IPv4 address, an IPv6 /64):
    /// `off`, `notify` (let it in, mail the owner) or `require` (403 and a mail that
    /// authorizes the network).
    pub new_ip_policy: NewIpPolicyConfig,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            new_ip_policy: NewIpPolicyConfig::Notify,
        }
    }
}

/// `login.new_ip_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewIpPolicyConfig {
    /// Nothing happens.
    Off,
    /// Mail a notice.
    Notify,
    /// Ask for authorization by mail.
    Require,
}

impl From<NewIpPolicyConfig> for portcullis_domain::network::NewIpPolicy {
    fn from(p: NewIpPolicyConfig) -> Self {
        match p {
            NewIpPolicyConfig::Off => Self::Off,
            NewIpPolicyConfig::Notify => Self::Notify,
            NewIpPolicyConfig::Require => Self::Require,
        }
    }
}

/// `[mfa]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MfaConfig {
    /// `issuer` shown by authenticator apps.
    pub issuer: String,
    /// Base64 key (32 bytes) encrypting TOTP secrets at rest. Generated and stored in the
    /// database when unset (with a warning: then a database dump holds both).
    pub encryption_key: Option<SecretString>,
    /// Wrong codes in a row that lock the second factor.
    pub max_failures: u32,
    /// How long such a lock lasts, seconds.
    pub lockout_secs: u64,
}

impl Default for MfaConfig {
    fn default() -> Self {
        Self {
            issuer: "Portcullis".into(),
            encryption_key: None,
            max_failures: 5,
            lockout_secs: 15 * 60,
        }
    }
}

/// `[registration]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// New accounts must verify their address (link or code) before they can log in; register
    /// answers 202 for new and existing addresses alike. Off: 201 with a token pair, 409
    /// `email_taken` for an existing address.
    pub require_email_verification: bool,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            require_email_verification: true,
        }
    }
}

/// `[one_time]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OneTimeConfig {
    /// Lifetime of email-verification and email-change links, seconds.
    pub verify_link_ttl_secs: u64,
    /// Lifetime of password-reset and IP-authorization links, seconds.
    pub reset_link_ttl_secs: u64,
    /// Lifetime of six-digit codes, seconds.
    pub code_ttl_secs: u64,
    /// Wrong codes before a code dies.
    pub max_code_attempts: u32,
    /// Wrong codes for one account and purpose, across every code mailed for it, before that
    /// purpose's codes are refused until one of its links or codes is used (links keep
    /// working).
    pub max_code_attempts_total: u32,
}

impl Default for OneTimeConfig {
    fn default() -> Self {
        Self {
            verify_link_ttl_secs: 24 * 3600,
            reset_link_ttl_secs: 3600,
            code_ttl_secs: 15 * 60,
            max_code_attempts: 5,
            max_code_attempts_total: 20,
        }
    }
}

/// `[mail]`. With no `smtp_host`, mail is written as `.eml` files under `dir` (the development
/// default); with one, it goes through that SMTP server.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Sender, e.g. `Portcullis <no-reply@auth.example.com>`; its domain names Message-IDs.
    pub from: String,
    /// Directory of the file transport.
    pub dir: PathBuf,
    /// SMTP server host; unset = file transport.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (local relays and tests only).
    pub smtp_security: SmtpSecurity,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<SecretString>,
    /// Per-command SMTP timeout, seconds.
    pub smtp_timeout_secs: u64,
    /// Pooled SMTP connections.
    pub smtp_max_connections: u32,
    /// Run the delivery worker in this process (any number of processes may).
    pub deliver: bool,
    /// How often the worker looks for due mail, ms.
    pub poll_interval_ms: u64,
    /// Mails claimed per pass.
    pub batch_size: u32,
    /// First retry wait after a temporary failure, seconds (doubles each time).
    pub retry_first_secs: u64,
    /// Longest retry wait, seconds.
    pub retry_max_secs: u64,
    /// Temporary failures are retried until a mail is this old, seconds; then it is given up.
    pub give_up_after_secs: u64,
    /// How long a worker's claim on a mail lasts, seconds. Must exceed a whole SMTP exchange.
    pub lease_secs: u64,
    /// Product name in subjects and texts.
    pub product_name: String,
    /// Front-end page that takes a verification link's token; must contain `{token}`. Links are
    /// built only from these settings, never from a request's `Host`.
    pub verify_email_url: String,
    /// Front-end page that confirms a new address; must contain `{token}`.
    pub change_email_url: String,
    /// Front-end page that sets a new password; must contain `{token}`.
    pub reset_password_url: String,
    /// Front-end page that authorizes a new IP address; must contain `{token}`.
    pub authorize_ip_url: String,
}

impl MailConfig {
    /// The branding of rendered mail.
    pub fn branding(&self) -> portcullis_domain::templates::MailBranding {
        portcullis_domain::templates::MailBranding {
            product: self.product_name.clone(),
            verify_email_url: self.verify_email_url.clone(),
            change_email_url: self.change_email_url.clone(),
            reset_password_url: self.reset_password_url.clone(),
            authorize_ip_url: self.authorize_ip_url.clone(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Portcullis <no-reply@localhost.localdomain>".into(),
            dir: PathBuf::from(".data/mail"),
            smtp_host: None,
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 15,
            smtp_max_connections: 4,
            deliver: true,
            poll_interval_ms: 1_000,
            batch_size: 20,
            retry_first_secs: 5,
            retry_max_secs: 600,
            give_up_after_secs: 86_400,
            lease_secs: 120,
            product_name: "Portcullis".into(),
            verify_email_url: "http://localhost:3000/verify-email?token={token}".into(),
            change_email_url: "http://localhost:3000/confirm-email?token={token}".into(),
            reset_password_url: "http://localhost:3000/reset-password?token={token}".into(),
            authorize_ip_url: "http://localhost:3000/authorize-ip?token={token}".into(),
        }
    }
}

/// SMTP connection protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plain text.
    None,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Largest request body in bytes.
    pub body_limit_bytes: usize,
    /// Proxies (CIDRs or single addresses) whose `X-Forwarded-For` names the client. Empty:
    /// the socket peer is always the client.
    pub trusted_proxies: Vec<String>,
    /// Longest request path and query in bytes (414 beyond).
    pub max_uri_bytes: usize,
    /// Most request header bytes, names and values together (431 beyond).
    pub max_header_bytes: usize,
    /// Most request headers (431 beyond).
    pub max_headers: usize,
}

impl ServerConfig {
    /// `trusted_proxies` parsed; a bare address is a /32 or /128.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| unmapped(net).trunc())
                    .map_err(|_| {
                        ConfigError(format!(
                            "server.trusted_proxies: {entry:?} is not a CIDR (10.0.0.0/8) or an address"
                        ))
                    })
            })
            .collect()
    }
}

/// An IPv4-mapped IPv6 net (`::ffff:10.0.0.0/104`) as the IPv4 net it means: peers are compared
/// in their IPv4 form, so the mapped form would never match anyone.
fn unmapped(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, ipnet::IpNet::V4),
            None => net,
        },
        other => other,
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 0,
            shutdown_timeout_secs: 30,
            body_limit_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            max_uri_bytes: 4096,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://…`; also read from `DATABASE_URL`.
    pub url: Option<SecretString>,
    /// Pool size.
    pub max_connections: usize,
    /// Wait for a free connection before answering 503, in ms.
    pub acquire_timeout_ms: u64,
    /// Connection set-up limit, in ms.
    pub connect_timeout_ms: u64,
    /// `statement_timeout` of every connection, in ms.
    pub statement_timeout_ms: u64,
    /// Apply pending migrations at start-up (under an advisory lock).
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            acquire_timeout_ms: 2_000,
            connect_timeout_ms: 5_000,
            statement_timeout_ms: 5_000,
            migrate_on_start: true,
        }
    }
}

/// `[tokens]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokensConfig {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access token lifetime, seconds.
    pub access_ttl_secs: u64,
    /// Session lifetime from login, seconds.
    pub session_ttl_secs: u64,
    /// Seconds a superseded refresh token still works.
    pub refresh_grace_secs: u64,
    /// Clock skew tolerated when checking `exp` / `iat`, seconds.
    pub leeway_secs: u64,
    /// Ed25519 private key, PKCS#8 PEM. If neither this nor `signing_key_file` is set, a key is
    /// generated once and stored in the database.
    pub signing_key_pem: Option<SecretString>,
    /// Path of an Ed25519 PKCS#8 PEM private key.
    pub signing_key_file: Option<PathBuf>,
    /// SPKI PEM public keys of earlier signing keys, still accepted and published (rotation).
    pub previous_public_keys_pem: Vec<String>,
    /// Base64 key (≥ 32 bytes) deriving refresh-token successors. Generated and stored in the
    /// database when unset.
    pub refresh_key: Option<SecretString>,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            issuer: "portcullis".into(),
            audience: "portcullis".into(),
            access_ttl_secs: 15 * 60,
            session_ttl_secs: 30 * 24 * 3600,
            refresh_grace_secs: 10,
            leeway_secs: 10,
            signing_key_pem: None,
            signing_key_file: None,
            previous_public_keys_pem: Vec::new(),
            refresh_key: None,
        }
    }
}

/// `[passwords]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordsConfig {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters.
    pub max_length: usize,
    /// argon2id memory, KiB.
    pub argon2_m_cost_kib: u32,
    /// argon2id iterations.
    pub argon2_t_cost: u32,
    /// argon2id lanes.
    pub argon2_p_cost: u32,
    /// Hashing threads; 0 = one per core.
    pub hashing_threads: usize,
    /// Hashes that may wait beyond the running ones.
    pub hashing_queue: usize,
    /// Longest a hash may wait in the queue before it is refused (503), in ms.
    pub hashing_wait_ms: u64,
    /// Also refuse new passwords that Have I Been Pwned knows from breaches (the embedded list
    /// of common passwords is always checked). Off by default: it sends the first five hex
    /// digits of each new password's SHA-1 to the service.
    pub pwned_check: bool,
    /// The Pwned Passwords range endpoint (the prefix is appended).
    pub pwned_range_url: String,
    /// How long a breach check may take before the password is let through, in ms.
    pub pwned_timeout_ms: u64,
    /// Breaches a password must appear in to be refused.
    pub pwned_min_count: u64,
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            argon2_m_cost_kib: 19_456,
            argon2_t_cost: 2,
            argon2_p_cost: 1,
            hashing_threads: 0,
            hashing_queue: 64,
            hashing_wait_ms: 2_000,
            pwned_check: false,
            pwned_range_url: "https://api.pwnedpasswords.com/range/".into(),
            pwned_timeout_ms: 2_000,
            pwned_min_count: 1,
        }
    }
}

/// `[usernames]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UsernamesConfig {
    /// Anchored regular expression a username must match; must not admit `@`.
    pub pattern: String,
}

impl Default for UsernamesConfig {
    fn default() -> Self {
        Self {
            pattern: portcullis_domain::UsernamePolicy::DEFAULT_PATTERN.into(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `tracing` filter, e.g. `info` or `portcullis=debug,info`. `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// A validated count of seconds as a duration (validation keeps every setting far below the
/// range where this could saturate).
pub fn seconds(secs: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults ← `file` (if given) ← `DATABASE_URL` ← `PORTCULLIS_*`, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        // PORTCULLIS_CONFIG names the file; it is not a setting.
        figment = figment.merge(Env::prefixed("PORTCULLIS_").ignore(&["config"]).split("__"));
        Self::from_figment(&figment)
    }

    /// Extracts and validates from any figment (tests build their own).
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let config: Self = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges and relations between settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError(m.into()));
        let p = &self.passwords;
        if p.min_length == 0 || p.min_length > p.max_length {
            return fail("passwords.min_length must be between 1 and passwords.max_length");
        }
        if p.max_length > 1024 {
            return fail("passwords.max_length must be at most 1024");
        }
        if !(1..=16).contains(&p.argon2_p_cost)
            || !(1..=64).contains(&p.argon2_t_cost)
            || p.argon2_m_cost_kib < 8 * p.argon2_p_cost
            || p.argon2_m_cost_kib > 1_048_576
        {
            return fail(
                "argon2 parameters out of range (8 x p_cost <= m_cost_kib <= 1048576, 1 <= t_cost <= 64, 1 <= p_cost <= 16)",
            );
        }
        if !(p.pwned_range_url.starts_with("https://") || p.pwned_range_url.starts_with("http://")) {
            return fail("passwords.pwned_range_url must be an http(s) URL");
        }
        if !(100..=30_000).contains(&p.pwned_timeout_ms) || p.pwned_min_count == 0 {
            return fail("passwords.pwned_timeout_ms must be 100 to 30000 and passwords.pwned_min_count at least 1");
        }
        let t = &self.tokens;
        if !(1..=86_400).contains(&t.access_ttl_secs) {
            return fail("tokens.access_ttl_secs must be between 1 and 86400 (one day)");
        }
        if !(1..=315_360_000).contains(&t.session_ttl_secs) {
            return fail("tokens.session_ttl_secs must be between 1 and 315360000 (ten years)");
        }
        if t.leeway_secs > 300 {
            return fail("tokens.leeway_secs must be at most 300");
        }
        if t.refresh_grace_secs > 300 {
            return fail("tokens.refresh_grace_secs must be at most 300");
        }
        if t.issuer.is_empty() || t.audience.is_empty() {
            return fail("tokens.issuer and tokens.audience must not be empty");
        }
        if t.signing_key_pem.is_some() && t.signing_key_file.is_some() {
            return fail("set tokens.signing_key_pem or tokens.signing_key_file, not both");
        }
        if self.server.body_limit_bytes < 1024 {
            return fail("server.body_limit_bytes must be at least 1024");
        }
        self.server.trusted_proxies()?;
        let sv = &self.server;
        if !(256..=16 * 1024).contains(&sv.max_uri_bytes)
            || !(1024..=64 * 1024).contains(&sv.max_header_bytes)
            || !(8..=90).contains(&sv.max_headers)
        {
            return fail(
                "server: max_uri_bytes must be 256 to 16384, max_header_bytes 1024 to 65536, max_headers 8 to 90",
            );
        }
        self.limits.validate()?;
        self.captcha.validate()?;
        if self.database.max_connections == 0 {
            return fail("database.max_connections must be at least 1");
        }
        if self.database.url.as_ref().is_none_or(|u| u.expose_secret().is_empty()) {
            return fail("database.url is required: set DATABASE_URL or PORTCULLIS_DATABASE__URL");
        }
        let m = &self.mail;
        if m.smtp_timeout_secs == 0 || m.lease_secs < 2 * crate::mail::SEND_BUDGET_TIMEOUTS * m.smtp_timeout_secs {
            return fail(
                "mail.lease_secs must be at least 8 x mail.smtp_timeout_secs: a send may take 4 timeouts, and a claim must outlive it",
            );
        }
        if m.batch_size == 0
            || m.poll_interval_ms == 0
            || m.retry_first_secs == 0
            || m.retry_max_secs < m.retry_first_secs
        {
            return fail(
                "mail: batch_size, poll_interval_ms and retry_first_secs must be positive, retry_max_secs >= retry_first_secs",
            );
        }
        if m.smtp_username.is_some() != m.smtp_password.is_some() {
            return fail("mail.smtp_username and mail.smtp_password go together");
        }
        self.mail
            .branding()
            .validate()
            .map_err(|e| ConfigError(format!("mail: {e}")))?;
        let o = &self.one_time;
        if !(60..=30 * 86_400).contains(&o.verify_link_ttl_secs) || !(60..=30 * 86_400).contains(&o.reset_link_ttl_secs)
        {
            return fail("one_time: link lifetimes must be between 60 seconds and 30 days");
        }
        if !(60..=86_400).contains(&o.code_ttl_secs) {
            return fail("one_time.code_ttl_secs must be between 60 and 86400");
        }
        if !(1..=20).contains(&o.max_code_attempts) {
            return fail("one_time.max_code_attempts must be between 1 and 20");
        }
        if !(o.max_code_attempts..=1000).contains(&o.max_code_attempts_total) {
            return fail("one_time.max_code_attempts_total must be between one_time.max_code_attempts and 1000");
        }
        let f = &self.mfa;
        if f.issuer.trim().is_empty() || f.issuer.contains(':') || f.issuer.len() > 100 {
            return fail("mfa.issuer must be 1 to 100 characters without ':'");
        }
        if !(1..=100).contains(&f.max_failures) || !(1..=86_400).contains(&f.lockout_secs) {
            return fail("mfa.max_failures must be 1 to 100 and mfa.lockout_secs 1 to 86400");
        }
        portcullis_domain::UsernamePolicy::new(&self.usernames.pattern)
            .map_err(|e| ConfigError(format!("usernames.pattern: {e}")))?;
        if !(1..=365).contains(&self.retention.unverified_account_days) {
            return fail("retention.unverified_account_days must be between 1 and 365");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url() -> Figment {
        Figment::new().merge(Serialized::default("database.url", "postgres://x@localhost/db"))
    }

    #[test]
    fn limits_read_as_count_per_period_and_zero_disables() {
        let parse = |v: &str| {
            let figment = with_url().merge(Toml::string(&format!("[limits]\nlogin_per_ip = {v}")));
            Config::from_figment(&figment).map(|c| c.limits.login_per_ip)
        };
        assert_eq!(parse("\"20/15m\"").unwrap(), LimitConfig::new(20, 900));
        assert_eq!(parse("\"3/1h\"").unwrap(), LimitConfig::new(3, 3600));
        assert_eq!(parse("\"10/d\"").unwrap(), LimitConfig::new(10, 86_400));
        assert_eq!(parse("\"5/900\"").unwrap(), LimitConfig::new(5, 900));
        assert_eq!(parse("0").unwrap().count, 0);
        assert_eq!(parse("\"off\"").unwrap().count, 0);
        for bad in ["5", "\"5 per minute\"", "\"5/15x\"", "\"-1/1m\"", "\"5/0s\""] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses_and_refuse_the_rest() {
        let mut server = ServerConfig {
            trusted_proxies: vec![
                "10.0.0.0/8".into(),
                "192.0.2.7".into(),
                "2001:db8::/32".into(),
                "10.1.2.3/8".into(),
                "::ffff:172.16.0.0/108".into(),
                "::ffff:192.0.2.9".into(),
            ],
            ..ServerConfig::default()
        };
        let nets = server.trusted_proxies().unwrap();
        assert_eq!(nets.len(), 6);
        assert!(nets[1].contains(&"192.0.2.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(nets[3].to_string(), "10.0.0.0/8");
        // Mapped forms mean the IPv4 nets, which is how peers are compared.
        assert_eq!(nets[4].to_string(), "172.16.0.0/12");
        assert_eq!(nets[5].to_string(), "192.0.2.9/32");
        server.trusted_proxies = vec!["proxy.internal".into()];
        assert!(server.trusted_proxies().is_err());
    }

    /// The complete example in docs/CONFIGURATION.md is a configuration this code accepts, so
    /// the page cannot drift from the keys.
    #[test]
    fn the_documented_complete_example_is_valid() {
        let doc = include_str!("../../../docs/CONFIGURATION.md");
        let example = doc
            .split("## Complete example")
            .nth(1)
            .and_then(|rest| rest.split("```toml").nth(1))
            .and_then(|block| block.split("```").next())
            .expect("a toml block under Complete example");
        let config = Config::from_figment(&Figment::new().merge(Toml::string(example)))
            .unwrap_or_else(|e| panic!("the documented example is refused: {e}"));
        assert_eq!(config.limits.email_change_per_account, LimitConfig::new(3, 3600));
        assert_eq!(config.retention.unverified_account_days, 7);
        assert!(!config.passwords.pwned_check);
    }

    #[test]
    fn defaults_are_valid_once_a_database_is_named() {
        let config = Config::from_figment(&with_url()).unwrap();
        assert_eq!(config.passwords.min_length, 8);
        assert_eq!(config.tokens.refresh_grace_secs, 10);
        assert!(Config::from_figment(&Figment::new()).is_err(), "no database url");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let figment = with_url().merge(Serialized::default("passwords.min_lenght", 10));
        let err = Config::from_figment(&figment).unwrap_err().to_string();
        assert!(err.contains("min_lenght"), "{err}");
        let figment = with_url().merge(Serialized::default("nonsense", 1));
        assert!(Config::from_figment(&figment).is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "portcullis.toml",
                "[passwords]\nmin_length = 10\n[database]\nurl = \"postgres://f/db\"\n",
            )?;
            jail.set_env("PORTCULLIS_PASSWORDS__MIN_LENGTH", "12");
            jail.set_env("PORTCULLIS_CONFIG", "portcullis.toml");
            let config = Config::load(Some(Path::new("portcullis.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.passwords.min_length, 12);
            jail.set_env("PORTCULLIS_TOKENS__NOPE", "1");
            assert!(Config::load(Some(Path::new("portcullis.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn invalid_relations_are_rejected() {
        for (key, value) in [
            ("passwords.min_length", 0i64),
            ("passwords.min_length", 200),
            ("tokens.access_ttl_secs", 0),
            ("tokens.access_ttl_secs", 9_300_000_000_000_000),
            ("tokens.session_ttl_secs", 8_000_000_000_000),
            ("tokens.leeway_secs", 301),
            ("passwords.argon2_m_cost_kib", 2_000_000),
            ("passwords.argon2_t_cost", 0),
            ("database.max_connections", 0),
            ("server.body_limit_bytes", 10),
            ("one_time.code_ttl_secs", 0),
            ("one_time.max_code_attempts", 0),
            ("one_time.reset_link_ttl_secs", 100_000_000),
        ] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value}");
        }
        let bad_pattern = with_url().merge(Serialized::default("usernames.pattern", "^.*$"));
        assert!(Config::from_figment(&bad_pattern).is_err());
        for (key, value) in [("mfa.issuer", "Acme:Corp"), ("mfa.issuer", " ")] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value:?}");
        }
        for (key, value) in [
            ("mfa.max_failures", 0),
            ("mfa.lockout_secs", 0),
            ("mfa.lockout_secs", 86_401),
        ] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value}");
        }
        let bad_key = with_url().merge(Serialized::default("mfa.encryption_key", "c2hvcnQ="));
        assert!(crate::app::configured_keys(&Config::from_figment(&bad_key).unwrap()).is_err());
        let no_token = with_url().merge(Serialized::default(
            "mail.reset_password_url",
            "https://app.example.com/reset",
        ));
        assert!(Config::from_figment(&no_token).is_err());
    }
}
