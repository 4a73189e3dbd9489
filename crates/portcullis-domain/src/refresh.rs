//! Refresh tokens: opaque, stored only as hashes, each rotation deriving its successor with a
//! server key, and the rules deciding what a presented token does.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::random::{SecureRandom, random_array};
use crate::token::KeyError;

/// Prefix of every refresh token, so leaked ones are recognisable by secret scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "pcr_";
const REFRESH_SECRET_LEN: usize = 32;

/// An opaque refresh token: `pcr_` + 256 random bits, base64url. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    /// Mints a fresh token.
    pub fn generate(rng: &dyn SecureRandom) -> Self {
        let secret = Zeroizing::new(random_array::<REFRESH_SECRET_LEN>(rng));
        Self::from_secret(&secret[..])
    }

    fn from_secret(secret: &[u8]) -> Self {
        Self(Zeroizing::new(format!(
            "{REFRESH_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(secret)
        )))
    }

    /// Parses a presented token; `None` if it cannot be one of ours.
    ///
    /// ```
    /// use portcullis_domain::{OsRandom, RefreshToken};
    /// let t = RefreshToken::generate(&OsRandom);
    /// assert!(RefreshToken::parse(t.expose()).is_some());
    /// assert!(RefreshToken::parse("pcr_short").is_none());
    /// ```
    pub fn parse(presented: &str) -> Option<Self> {
        let body = presented.strip_prefix(REFRESH_TOKEN_PREFIX)?;
        let decoded = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).ok()?);
        (decoded.len() == REFRESH_SECRET_LEN).then(|| Self::from_secret(&decoded))
    }

    /// The token string, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest that storage keeps instead of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The successor of this token in its rotation chain: HMAC-SHA256 under the server's refresh
    /// key. Deterministic, so concurrent refreshes of one token all converge on one successor.
    pub fn successor(&self, key: &ServerKey) -> Self {
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&key.0[..]).expect("HMAC accepts any key length");
        mac.update(self.0.as_bytes());
        let out = Zeroizing::new(mac.finalize().into_bytes());
        Self::from_secret(&out[..])
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// SHA-256 of a token; what storage keeps and looks up by.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

// Equal hashes have equal bytes, so hashing the bytes agrees with `eq` (adapters that keep
// tokens in a map need it).
impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// The server key that derives refresh-token successors. From configuration, or generated once
/// and kept in storage so every node agrees.
#[derive(Clone)]
pub struct ServerKey(Zeroizing<Vec<u8>>);

impl ServerKey {
    /// Minimum key length in bytes.
    pub const MIN_LEN: usize = 32;

    /// Wraps key bytes; refuses keys shorter than [`ServerKey::MIN_LEN`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, KeyError> {
        if bytes.len() < Self::MIN_LEN {
            return Err(KeyError(format!(
                "the refresh key must be at least {} bytes",
                Self::MIN_LEN
            )));
        }
        Ok(Self(Zeroizing::new(bytes)))
    }
}

/// A one-way fingerprint of a key (the first 16 bytes of a SHA-256 over a label, the purpose
/// and the key, in hex): safe to store beside what the key protects, and enough to tell at
/// start-up that a key is not the one the data was made with.
///
/// ```
/// use portcullis_domain::key_fingerprint;
/// let a = key_fingerprint("mfa", &[1; 32]);
/// assert_eq!(a.len(), 32);
/// assert_ne!(a, key_fingerprint("mfa", &[2; 32]));
/// assert_ne!(a, key_fingerprint("refresh", &[1; 32]), "a purpose of its own");
/// ```
pub fn key_fingerprint(purpose: &str, key: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::new()
        .chain_update(b"portcullis key fingerprint v1\0")
        .chain_update(purpose.as_bytes())
        .chain_update([0])
        .chain_update(key)
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl ServerKey {
    /// This key's [`key_fingerprint`] for `purpose`.
    pub fn fingerprint(&self, purpose: &str) -> String {
        key_fingerprint(purpose, &self.0)
    }

    /// The key bytes, for keyed hashes inside the domain.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// What storage knows about a presented refresh token, read under the session's lock.
#[derive(Debug, Clone, Copy)]
pub struct RefreshTokenState {
    /// When a successor replaced it; `None` while it is the chain's head.
    pub superseded_at: Option<DateTime<Utc>>,
    /// When its session was revoked, if it was.
    pub session_revoked_at: Option<DateTime<Utc>>,
    /// When its session ends.
    pub session_expires_at: DateTime<Utc>,
    /// Whether its account is disabled.
    pub account_disabled: bool,
}

/// What to do with a presented refresh token. Decided here; storage applies it atomically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The chain's head: store its successor as the new head and supersede it.
    Rotate,
    /// Superseded within the grace window: answer with its successor (already stored), change nothing.
    Replay,
    /// Superseded outside the grace window: someone is replaying an old token. Revoke the session.
    Reuse,
    /// Session revoked or expired, or its account disabled.
    Dead,
}

/// Decides the fate of a presented refresh token.
///
/// ```
/// use chrono::{Duration, Utc};
/// use portcullis_domain::{RefreshDecision, RefreshTokenState, decide_refresh};
/// let now = Utc::now();
/// let state = RefreshTokenState {
///     superseded_at: Some(now - Duration::seconds(3)),
///     session_revoked_at: None,
///     session_expires_at: now + Duration::days(1),
///     account_disabled: false,
/// };
/// assert_eq!(decide_refresh(&state, now, Duration::seconds(10)), RefreshDecision::Replay);
/// assert_eq!(decide_refresh(&state, now, Duration::seconds(2)), RefreshDecision::Reuse);
/// ```
pub fn decide_refresh(state: &RefreshTokenState, now: DateTime<Utc>, grace: Duration) -> RefreshDecision {
    if state.session_revoked_at.is_some() || state.session_expires_at <= now || state.account_disabled {
        return RefreshDecision::Dead;
    }
    match state.superseded_at {
        None => RefreshDecision::Rotate,
        Some(at) if now - at <= grace => RefreshDecision::Replay,
        Some(_) => RefreshDecision::Reuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use proptest::prelude::*;

    #[test]
    fn refresh_successor_is_deterministic_and_key_bound() {
        let key_a = ServerKey::new(vec![1; 32]).unwrap();
        let key_b = ServerKey::new(vec![2; 32]).unwrap();
        let t = RefreshToken::generate(&OsRandom);
        assert_eq!(t.successor(&key_a), t.successor(&key_a));
        assert_ne!(t.successor(&key_a), t.successor(&key_b));
        assert_ne!(t.successor(&key_a), t);
        assert!(RefreshToken::parse(t.successor(&key_a).expose()).is_some());
        assert!(ServerKey::new(vec![0; 16]).is_err());
    }

    proptest! {
        #[test]
        fn refresh_parse_round_trips_and_rejects_junk(bytes in proptest::array::uniform32(any::<u8>()), junk in "\\PC{0,80}") {
            let t = RefreshToken::from_secret(&bytes);
            prop_assert_eq!(RefreshToken::parse(t.expose()), Some(t.clone()));
            prop_assert_eq!(RefreshToken::parse(t.expose()).unwrap().hash(), t.hash());
            if let Some(p) = RefreshToken::parse(&junk) {
                prop_assert_eq!(p.expose(), junk.as_str());
            }
        }

        #[test]
        fn refresh_decision_matches_the_rules(
            superseded_ago in proptest::option::of(0i64..100),
            grace in 0i64..30,
            revoked in any::<bool>(),
            disabled in any::<bool>(),
            expires_in in -5i64..5,
        ) {
            let now = Utc::now();
            let state = RefreshTokenState {
                superseded_at: superseded_ago.map(|s| now - Duration::seconds(s)),
                session_revoked_at: revoked.then_some(now),
                session_expires_at: now + Duration::seconds(expires_in),
                account_disabled: disabled,
            };
            let decision = decide_refresh(&state, now, Duration::seconds(grace));
            let expected = if revoked || disabled || expires_in <= 0 {
                RefreshDecision::Dead
            } else {
                match superseded_ago {
                    None => RefreshDecision::Rotate,
                    Some(ago) if ago <= grace => RefreshDecision::Replay,
                    Some(_) => RefreshDecision::Reuse,
                }
            };
            prop_assert_eq!(decision, expected);
        }
    }
}
