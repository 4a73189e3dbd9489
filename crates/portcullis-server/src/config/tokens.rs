//! Sections of credentials: `tokens`, `passwords`, `usernames`, `mfa`.
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::common::{ConfigError, Problems};

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
    /// Files of earlier signing keys (SPKI public or PKCS#8 private PEM), still accepted and
    /// published until the tokens they signed have expired (rotation, step 3).
    pub previous_public_key_files: Vec<PathBuf>,
    /// The next signing key (PKCS#8 PEM file): published in the JWKS and accepted, but not
    /// signing yet, so every node and verifier knows it before any token carries it
    /// (rotation, step 1).
    pub next_signing_key_file: Option<PathBuf>,
    /// Base64 key (≥ 32 bytes) deriving refresh-token successors. Generated and stored in the
    /// database when unset.
    pub refresh_key: Option<SecretString>,
    /// A file holding `refresh_key`.
    pub refresh_key_file: Option<PathBuf>,
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
            previous_public_key_files: Vec::new(),
            next_signing_key_file: None,
            refresh_key: None,
            refresh_key_file: None,
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
    /// The argon2 implementation: `argon2-rust` (default, SIMD) or `rustcrypto`. Both read and
    /// write the same PHC strings, so it can change at any time.
    pub hash_backend: HashBackendConfig,
    /// argon2id memory, KiB.
    pub argon2_m_cost_kib: u32,
    /// argon2id iterations.
    pub argon2_t_cost: u32,
    /// argon2id lanes.
    pub argon2_p_cost: u32,
    /// Hashing threads; 0 = one per core.
    pub hashing_threads: usize,
    /// Hashes that may wait beyond the running ones; unset: 8 per hashing thread.
    pub hashing_queue: Option<usize>,
    /// Hashes one owner may have waiting within a second of a refusal (the queue overflowed: a
    /// flood, not a burst); unset: 1 per hashing thread. Never more than `hashing_queue`.
    pub hashing_queue_overloaded: Option<usize>,
    /// Niceness the hashing threads add to the process's (Linux; 0 to 19): request handling
    /// runs before the next hash on a busy core.
    pub hashing_nice: u8,
    /// Longest a hash may wait in the queue before it is refused (503), in ms.
    pub hashing_wait_ms: u64,
    /// How long a refusal for hashing capacity (503 `server_busy`) is held before it is sent,
    /// in ms (0: at once), so a flood that retries at once spends less CPU being refused.
    pub busy_refusal_delay_ms: u64,
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
            hash_backend: HashBackendConfig::Argon2Rust,
            argon2_m_cost_kib: 19_456,
            argon2_t_cost: 2,
            argon2_p_cost: 1,
            hashing_threads: 0,
            hashing_queue: None,
            hashing_queue_overloaded: None,
            hashing_nice: portcullis_argon2::HASHING_NICE,
            hashing_wait_ms: 2_000,
            busy_refusal_delay_ms: 200,
            pwned_check: false,
            pwned_range_url: "https://api.pwnedpasswords.com/range/".into(),
            pwned_timeout_ms: 2_000,
            pwned_min_count: 1,
        }
    }
}

/// `passwords.hash_backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HashBackendConfig {
    /// `argon2-rust`.
    #[serde(rename = "argon2-rust")]
    Argon2Rust,
    /// The RustCrypto `argon2` crate.
    #[serde(rename = "rustcrypto")]
    RustCrypto,
}

impl From<HashBackendConfig> for portcullis_argon2::Backend {
    fn from(b: HashBackendConfig) -> Self {
        match b {
            HashBackendConfig::Argon2Rust => Self::Reference,
            HashBackendConfig::RustCrypto => Self::RustCrypto,
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

impl PasswordsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let p = self;
        if p.min_length == 0 || p.min_length > p.max_length {
            problems.push("passwords.min_length must be between 1 and passwords.max_length");
        }
        if p.max_length > 1024 {
            problems.push("passwords.max_length must be at most 1024");
        }
        if !(1..=16).contains(&p.argon2_p_cost)
            || !(1..=64).contains(&p.argon2_t_cost)
            || p.argon2_m_cost_kib < 8 * p.argon2_p_cost
            || p.argon2_m_cost_kib > 1_048_576
        {
            problems.push(
                "argon2 parameters out of range (8 x p_cost <= m_cost_kib <= 1048576, 1 <= t_cost <= 64, 1 <= p_cost <= 16)",
            );
        }
        if !(p.pwned_range_url.starts_with("https://") || p.pwned_range_url.starts_with("http://")) {
            problems.push("passwords.pwned_range_url must be an http(s) URL");
        }
        if p.hashing_nice > 19 {
            problems.push("passwords.hashing_nice must be at most 19");
        }
        if p.busy_refusal_delay_ms > 1_000 {
            problems.push("passwords.busy_refusal_delay_ms must be at most 1000");
        }
        if !(100..=30_000).contains(&p.pwned_timeout_ms) || p.pwned_min_count == 0 {
            problems.push("passwords.pwned_timeout_ms must be 100 to 30000 and passwords.pwned_min_count at least 1");
        }
        problems.into_result()
    }
}

impl TokensConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let t = self;
        if !(1..=86_400).contains(&t.access_ttl_secs) {
            problems.push("tokens.access_ttl_secs must be between 1 and 86400 (one day)");
        }
        if !(1..=315_360_000).contains(&t.session_ttl_secs) {
            problems.push("tokens.session_ttl_secs must be between 1 and 315360000 (ten years)");
        }
        if t.leeway_secs > 300 {
            problems.push("tokens.leeway_secs must be at most 300");
        }
        if t.refresh_grace_secs > 300 {
            problems.push("tokens.refresh_grace_secs must be at most 300");
        }
        if t.issuer.is_empty() || t.audience.is_empty() {
            problems.push("tokens.issuer and tokens.audience must not be empty");
        }
        if t.signing_key_pem.is_some() && t.signing_key_file.is_some() {
            problems.push("set tokens.signing_key_pem or tokens.signing_key_file, not both");
        }
        problems.into_result()
    }
}

impl UsernamesConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        portcullis_domain::UsernamePolicy::new(&self.pattern)
            .map_err(|e| ConfigError(format!("usernames.pattern: {e}")))?;
        Ok(())
    }
}
