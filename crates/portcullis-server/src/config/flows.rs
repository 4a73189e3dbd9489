//! Sections of the account flows: `login`, `registration`, `signup`, `one_time`, `retention`.

use secrecy::SecretString;
use serde::Deserialize;

use super::common::{ConfigError, Problems};

/// `[retention]`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days an account may stay unverified, counted from its last registration, before the
    /// mail worker deletes it (with its registrations and pending secrets).
    pub unverified_account_days: u64,
    /// Days audit events are kept; the mail worker deletes older ones.
    pub audit_event_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            unverified_account_days: 7,
            audit_event_days: 180,
        }
    }
}

/// `[signup]`: customer signup (`/v1/public/signup`).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignupConfig {
    /// A customer's `site_url`, for tenants that set none of their own: `{customer_id}`,
    /// `{domain}` (the node's domain, or its name when it has none), `{node}` and `{tenant}`
    /// are replaced.
    pub site_url_template: String,
}

impl Default for SignupConfig {
    fn default() -> Self {
        Self {
            site_url_template: "https://{customer_id}.{domain}".into(),
        }
    }
}

impl SignupConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        portcullis_domain::model::validate_site_url_template(&self.site_url_template)
            .map_err(|e| ConfigError(format!("signup.site_url_template {e}")))
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
    /// A file holding `encryption_key`.
    pub encryption_key_file: Option<std::path::PathBuf>,
    /// The next key of a rotation (base64, 32 bytes): opens TOTP secrets, seals none. Set it on
    /// every node before any node seals with it (docs/OPERATIONS.md, "Rotating the MFA key").
    pub next_encryption_key: Option<SecretString>,
    /// A file holding `next_encryption_key`.
    pub next_encryption_key_file: Option<std::path::PathBuf>,
    /// Earlier keys (base64, 32 bytes each) that open secrets sealed before a rotation; a node
    /// with any seals those secrets again under `encryption_key` in the background.
    pub previous_encryption_keys: Vec<SecretString>,
    /// Files each holding one earlier key.
    pub previous_encryption_key_files: Vec<std::path::PathBuf>,
    /// How often a node with previous keys looks for secrets still sealed under them, seconds.
    pub reseal_interval_secs: u64,
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
            encryption_key_file: None,
            next_encryption_key: None,
            next_encryption_key_file: None,
            previous_encryption_keys: Vec::new(),
            previous_encryption_key_files: Vec::new(),
            reseal_interval_secs: 15 * 60,
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

impl OneTimeConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let o = self;
        if !(60..=30 * 86_400).contains(&o.verify_link_ttl_secs) || !(60..=30 * 86_400).contains(&o.reset_link_ttl_secs)
        {
            problems.push("one_time: link lifetimes must be between 60 seconds and 30 days");
        }
        if !(60..=86_400).contains(&o.code_ttl_secs) {
            problems.push("one_time.code_ttl_secs must be between 60 and 86400");
        }
        if !(1..=20).contains(&o.max_code_attempts) {
            problems.push("one_time.max_code_attempts must be between 1 and 20");
        }
        if !(o.max_code_attempts..=1000).contains(&o.max_code_attempts_total) {
            problems.push("one_time.max_code_attempts_total must be between one_time.max_code_attempts and 1000");
        }
        problems.into_result()
    }
}

impl RetentionConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        if !(1..=365).contains(&self.unverified_account_days) {
            problems.push("retention.unverified_account_days must be between 1 and 365");
        }
        if !(1..=36_500).contains(&self.audit_event_days) {
            problems.push("retention.audit_event_days must be between 1 and 36500");
        }
        problems.into_result()
    }
}

impl MfaConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let f = self;
        if f.issuer.trim().is_empty() || f.issuer.contains(':') || f.issuer.len() > 100 {
            problems.push("mfa.issuer must be 1 to 100 characters without ':'");
        }
        if !(1..=100).contains(&f.max_failures) || !(1..=86_400).contains(&f.lockout_secs) {
            problems.push("mfa.max_failures must be 1 to 100 and mfa.lockout_secs 1 to 86400");
        }
        if !(10..=86_400).contains(&f.reseal_interval_secs) {
            problems.push("mfa.reseal_interval_secs must be 10 to 86400");
        }
        problems.into_result()
    }
}
