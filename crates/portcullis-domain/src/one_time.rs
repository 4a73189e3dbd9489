//! One-time secrets for mail flows: a 256-bit link token and a 6-digit code, minted together.
//!
//! Both are stored only as hashes, compared by hash, single use, bound to a purpose and an
//! account, and die after [`OneTimePolicy::max_code_attempts`] wrong codes. A token's 256 random
//! bits cannot be searched for, so its SHA-256 is enough. Codes have only a million values, so
//! their hash is keyed (HMAC under a server key) and bound to the account and purpose: a
//! database dump alone cannot be searched for them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::ids::UserId;
use crate::random::{SecureRandom, random_array};
use crate::refresh::{ServerKey, TokenHash};

/// What a one-time secret is for. A secret is only ever accepted for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Verify the address of a new account.
    VerifyEmail,
    /// Confirm a new address.
    ChangeEmail,
    /// Reset a forgotten password.
    ResetPassword,
    /// Authorize logins from a new IP address.
    AuthorizeIp,
    /// Verify the address of a customer's new account (tenant signup): a code only.
    Signup,
    /// Log in without a password (an emailed code only).
    LoginCode,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Self; 6] = [
        Self::VerifyEmail,
        Self::ChangeEmail,
        Self::ResetPassword,
        Self::AuthorizeIp,
        Self::Signup,
        Self::LoginCode,
    ];

    /// Stable name, as stored.
    pub const fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ChangeEmail => "change_email",
            Self::ResetPassword => "reset_password",
            Self::AuthorizeIp => "authorize_ip",
            Self::Signup => "signup",
            Self::LoginCode => "login_code",
        }
    }

    /// The purpose with this stored name.
    ///
    /// ```
    /// use portcullis_domain::one_time::Purpose;
    /// assert_eq!(Purpose::from_name("reset_password"), Some(Purpose::ResetPassword));
    /// assert_eq!(Purpose::from_name("other"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Lifetimes and attempt limits (API.md defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneTimePolicy {
    /// Link lifetime for email verification and change (default 24 h).
    pub verify_link_ttl: Duration,
    /// Link lifetime for password reset and IP authorization (default 1 h).
    pub sensitive_link_ttl: Duration,
    /// Code lifetime (default 15 min).
    pub code_ttl: Duration,
    /// Wrong codes before a secret dies (default 5).
    pub max_code_attempts: u32,
    /// Wrong codes for one account and purpose, across every secret minted for it, before
    /// that purpose's codes are refused until one of its secrets is redeemed (default 20).
    /// Links keep working.
    pub max_code_attempts_total: u32,
}

impl Default for OneTimePolicy {
    fn default() -> Self {
        Self {
            verify_link_ttl: Duration::hours(24),
            sensitive_link_ttl: Duration::hours(1),
            code_ttl: Duration::minutes(15),
            max_code_attempts: 5,
            max_code_attempts_total: 20,
        }
    }
}

impl OneTimePolicy {
    /// How long a link of this purpose lives.
    pub fn link_ttl(&self, purpose: Purpose) -> Duration {
        match purpose {
            Purpose::VerifyEmail | Purpose::ChangeEmail => self.verify_link_ttl,
            Purpose::ResetPassword | Purpose::AuthorizeIp => self.sensitive_link_ttl,
            // Mailed as a code alone (a signup's also holds a node's slot): its link (never
            // sent) dies with the code.
            Purpose::Signup | Purpose::LoginCode => self.code_ttl,
        }
    }
}

/// Prefix of link tokens, so leaked ones are recognisable.
pub const LINK_TOKEN_PREFIX: &str = "pcl_";

/// A freshly minted secret: the plaintext goes into one mail, the hashes into storage.
pub struct MintedSecret {
    /// Link token (`pcl_` + 256 bits, base64url).
    pub token: Zeroizing<String>,
    /// Six-digit code.
    pub code: Zeroizing<String>,
    /// What storage keeps for the token.
    pub token_hash: TokenHash,
    /// What storage keeps for the code.
    pub code_hash: TokenHash,
    /// When the link dies.
    pub token_expires_at: DateTime<Utc>,
    /// When the code dies.
    pub code_expires_at: DateTime<Utc>,
}

impl fmt::Debug for MintedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedSecret")
            .field("token_expires_at", &self.token_expires_at)
            .finish_non_exhaustive()
    }
}

/// Mints and hashes one-time secrets under the server key.
#[derive(Debug, Clone)]
pub struct OneTimeSecrets {
    key: ServerKey,
    policy: OneTimePolicy,
}

impl OneTimeSecrets {
    /// Uses `key` (a server secret; the refresh key serves) to key code hashes.
    pub fn new(key: ServerKey, policy: OneTimePolicy) -> Self {
        Self { key, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &OneTimePolicy {
        &self.policy
    }

    /// Mints a token and a code for `user` and `purpose`.
    ///
    /// ```
    /// use portcullis_domain::one_time::{OneTimePolicy, OneTimeSecrets, Purpose};
    /// use portcullis_domain::{OsRandom, ServerKey, UserId};
    /// let secrets = OneTimeSecrets::new(ServerKey::new(vec![1; 32]).unwrap(), OneTimePolicy::default());
    /// let user = UserId::from_uuid(uuid::Uuid::nil());
    /// let minted = secrets.mint(user, Purpose::VerifyEmail, chrono::Utc::now(), &OsRandom);
    /// assert_eq!(minted.code.len(), 6);
    /// assert_eq!(secrets.token_hash(&minted.token), Some(minted.token_hash));
    /// assert_eq!(secrets.code_hash(user, Purpose::VerifyEmail, &minted.code), Some(minted.code_hash));
    /// assert_ne!(secrets.code_hash(user, Purpose::ResetPassword, &minted.code), Some(minted.code_hash));
    /// ```
    pub fn mint(&self, user: UserId, purpose: Purpose, now: DateTime<Utc>, rng: &dyn SecureRandom) -> MintedSecret {
        let raw = Zeroizing::new(random_array::<32>(rng));
        let token = Zeroizing::new(format!("{LINK_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw[..])));
        let code = Zeroizing::new(format!("{:06}", uniform_below_million(rng)));
        let token_hash = TokenHash(Sha256::digest(token.as_bytes()).into());
        let code_hash = self.keyed_code_hash(user, purpose, &code);
        MintedSecret {
            token,
            code,
            token_hash,
            code_hash,
            token_expires_at: now + self.policy.link_ttl(purpose),
            code_expires_at: now + self.policy.code_ttl,
        }
    }

    /// The stored form of a presented link token; `None` if it cannot be one of ours.
    pub fn token_hash(&self, presented: &str) -> Option<TokenHash> {
        let body = presented.trim().strip_prefix(LINK_TOKEN_PREFIX)?;
        let decoded = URL_SAFE_NO_PAD.decode(body).ok()?;
        (decoded.len() == 32).then(|| TokenHash(Sha256::digest(presented.trim().as_bytes()).into()))
    }

    /// The stored form of a presented code for this account and purpose; `None` unless it is
    /// exactly six ASCII digits.
    pub fn code_hash(&self, user: UserId, purpose: Purpose, presented: &str) -> Option<TokenHash> {
        let code = presented.trim();
        (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())).then(|| self.keyed_code_hash(user, purpose, code))
    }

    fn keyed_code_hash(&self, user: UserId, purpose: Purpose, code: &str) -> TokenHash {
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose()).expect("HMAC accepts any key length");
        mac.update(b"portcullis one-time code v1\0");
        mac.update(purpose.name().as_bytes());
        mac.update(b"\0");
        mac.update(user.as_uuid().as_bytes());
        mac.update(b"\0");
        mac.update(code.as_bytes());
        TokenHash(mac.finalize().into_bytes().into())
    }
}

/// A uniform number in 0..1_000_000 (rejection sampling, so no code is likelier than another).
fn uniform_below_million(rng: &dyn SecureRandom) -> u32 {
    const BOUND: u32 = 1_000_000;
    let zone = u32::MAX - (u32::MAX % BOUND);
    loop {
        let n = u32::from_le_bytes(random_array::<4>(rng));
        if n < zone {
            return n % BOUND;
        }
    }
}

/// What storage knows about an outstanding secret when a code is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeState {
    /// Wrong codes so far.
    pub failed_attempts: u32,
    /// When the code dies.
    pub code_expires_at: DateTime<Utc>,
    /// Already used.
    pub consumed: bool,
}

/// The fate of a presented code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDecision {
    /// Right code, alive: accept (and consume, unless only checking).
    Accept,
    /// Wrong code: count the attempt.
    Wrong,
    /// Expired, used up, or out of attempts: refuse without counting.
    Dead,
}

/// Decides a presented code. `matches` is whether its hash equals the stored one.
///
/// ```
/// use chrono::{Duration, Utc};
/// use portcullis_domain::one_time::{CodeDecision, CodeState, decide_code};
/// let now = Utc::now();
/// let state = CodeState { failed_attempts: 4, code_expires_at: now + Duration::minutes(1), consumed: false };
/// assert_eq!(decide_code(&state, true, now, 5), CodeDecision::Accept);
/// assert_eq!(decide_code(&CodeState { failed_attempts: 5, ..state }, true, now, 5), CodeDecision::Dead);
/// ```
pub fn decide_code(state: &CodeState, matches: bool, now: DateTime<Utc>, max_attempts: u32) -> CodeDecision {
    if state.consumed || state.code_expires_at <= now || state.failed_attempts >= max_attempts {
        CodeDecision::Dead
    } else if matches {
        CodeDecision::Accept
    } else {
        CodeDecision::Wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn secrets() -> OneTimeSecrets {
        OneTimeSecrets::new(ServerKey::new(vec![3; 32]).unwrap(), OneTimePolicy::default())
    }

    #[test]
    fn codes_are_bound_to_account_and_purpose_and_key() {
        let s = secrets();
        let (a, b) = (UserId::from_uuid(Uuid::now_v7()), UserId::from_uuid(Uuid::now_v7()));
        let m = s.mint(a, Purpose::ResetPassword, Utc::now(), &OsRandom);
        assert_eq!(s.code_hash(a, Purpose::ResetPassword, &m.code), Some(m.code_hash));
        assert_ne!(s.code_hash(b, Purpose::ResetPassword, &m.code), Some(m.code_hash));
        assert_ne!(s.code_hash(a, Purpose::VerifyEmail, &m.code), Some(m.code_hash));
        let other_key = OneTimeSecrets::new(ServerKey::new(vec![4; 32]).unwrap(), OneTimePolicy::default());
        assert_ne!(
            other_key.code_hash(a, Purpose::ResetPassword, &m.code),
            Some(m.code_hash)
        );
        // The plain SHA-256 of the code is not what is stored.
        assert_ne!(TokenHash(Sha256::digest(m.code.as_bytes()).into()), m.code_hash);
    }

    #[test]
    fn lifetimes_follow_the_purpose() {
        let s = secrets();
        let now = Utc::now();
        let user = UserId::from_uuid(Uuid::now_v7());
        assert_eq!(
            s.mint(user, Purpose::VerifyEmail, now, &OsRandom).token_expires_at,
            now + Duration::hours(24)
        );
        assert_eq!(
            s.mint(user, Purpose::ResetPassword, now, &OsRandom).token_expires_at,
            now + Duration::hours(1)
        );
        assert_eq!(
            s.mint(user, Purpose::AuthorizeIp, now, &OsRandom).code_expires_at,
            now + Duration::minutes(15)
        );
    }

    proptest! {
        #[test]
        fn only_six_digit_codes_and_our_tokens_hash(s in "\\PC{0,80}") {
            let user = UserId::from_uuid(Uuid::nil());
            let hashed = secrets().code_hash(user, Purpose::VerifyEmail, &s);
            let t = s.trim();
            prop_assert_eq!(hashed.is_some(), t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit()));
            if secrets().token_hash(&s).is_some() {
                prop_assert!(s.trim().starts_with(LINK_TOKEN_PREFIX));
            }
        }

        #[test]
        fn minted_codes_are_six_digits(_n in 0..50u8) {
            let m = secrets().mint(UserId::from_uuid(Uuid::nil()), Purpose::VerifyEmail, Utc::now(), &OsRandom);
            prop_assert_eq!(m.code.len(), 6);
            prop_assert!(m.code.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(secrets().token_hash(&m.token).is_some());
        }

        #[test]
        fn code_decision_rules(attempts in 0u32..10, expires_in in -3i64..3, consumed in any::<bool>(), matches in any::<bool>()) {
            let now = Utc::now();
            let state = CodeState { failed_attempts: attempts, code_expires_at: now + Duration::seconds(expires_in), consumed };
            let d = decide_code(&state, matches, now, 5);
            let dead = consumed || expires_in <= 0 || attempts >= 5;
            prop_assert_eq!(d, if dead { CodeDecision::Dead } else if matches { CodeDecision::Accept } else { CodeDecision::Wrong });
        }
    }
}
