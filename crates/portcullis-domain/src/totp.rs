//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) and recovery codes: the keys, sealing secrets at
//! rest, matching codes to time steps, and hashing recovery codes.
//!
//! TOTP secrets are 160 random bits, encrypted at rest with XChaCha20-Poly1305 under a server
//! key, with the account as associated data (a ciphertext copied to another account does not
//! decrypt). A time step is accepted at most once per account: storage advances the account's
//! last accepted step atomically, so of concurrent submissions of one code exactly one wins.
//! Wrong codes in a row lock the second factor for a while. Recovery codes are stored as keyed
//! hashes and die when used or regenerated.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chrono::Duration;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::ids::{TenantId, UserId};
use crate::random::{SecureRandom, random_array};
use crate::refresh::{ServerKey, TokenHash};

/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;

/// TOTP step length in seconds.
pub const STEP_SECS: u64 = 30;

/// The `amr` value of a TOTP code.
pub const AMR_TOTP: &str = "otp";

/// The `amr` value of a recovery code.
pub const AMR_RECOVERY: &str = "recovery";

const NONCE_LEN: usize = 24;

/// Recovery-code alphabet: Crockford's base32 (no I, L, O or U), so codes survive being read
/// aloud or copied by hand; on entry O counts as 0 and I or L as 1.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Which key of a [`MfaKeyring`] opened a sealed secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedWith {
    /// [`MfaKeyring::key`]: nothing to do.
    Current,
    /// [`MfaKeyring::next_key`]: sealed by a node that already seals with the next key.
    Next,
    /// One of [`MfaKeyring::previous_keys`]: to be sealed again under the current key.
    Previous,
}

/// The keys that encrypt TOTP secrets at rest: one seals, others may open during a rotation.
#[derive(Clone)]
pub struct MfaKeyring {
    /// Seals new secrets and opens them (32 bytes).
    pub key: Zeroizing<[u8; 32]>,
    /// A key that opens secrets but seals none yet: the next key of a rotation, published on
    /// every node before any node seals with it.
    pub next_key: Option<Zeroizing<[u8; 32]>>,
    /// Keys that open secrets sealed before a rotation, until they are sealed again under
    /// [`MfaKeyring::key`] (see [`crate::use_cases::mfa_keys::reseal_totp_secrets`]).
    pub previous_keys: Vec<Zeroizing<[u8; 32]>>,
}

impl MfaKeyring {
    /// One key, no rotation under way.
    #[must_use]
    pub fn single(key: [u8; 32]) -> Self {
        Self {
            key: Zeroizing::new(key),
            next_key: None,
            previous_keys: Vec::new(),
        }
    }
}

impl std::fmt::Debug for MfaKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaKeyring")
            .field("next_key", &self.next_key.is_some())
            .field("previous_keys", &self.previous_keys.len())
            .finish_non_exhaustive()
    }
}

/// Second-factor settings.
#[derive(Clone)]
pub struct MfaSettings {
    /// Encrypt TOTP secrets at rest.
    pub keys: MfaKeyring,
    /// Keys recovery-code hashes.
    pub hash_key: ServerKey,
    /// `issuer` of `otpauth://` URIs.
    pub issuer: String,
    /// Wrong codes in a row that lock the second factor.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub lockout: Duration,
}

impl std::fmt::Debug for MfaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaSettings")
            .field("issuer", &self.issuer)
            .field("max_failures", &self.max_failures)
            .field("lockout", &self.lockout)
            .finish_non_exhaustive()
    }
}

impl MfaKeyring {
    fn cipher(&self) -> XChaCha20Poly1305 {
        cipher(&self.key)
    }

    /// Encrypts a TOTP secret for one account: `nonce || ciphertext || tag`.
    ///
    /// ```
    /// use portcullis_domain::{MfaKeyring, OsRandom, TenantId, UserId};
    /// let s = MfaKeyring::single([7; 32]);
    /// let (a, b) = (UserId::from_uuid(uuid::Uuid::now_v7()), UserId::from_uuid(uuid::Uuid::now_v7()));
    /// let sealed = s.seal(TenantId::DEFAULT, a, b"0123456789abcdefghij", &OsRandom);
    /// assert_eq!(&s.open(TenantId::DEFAULT, a, &sealed).unwrap()[..], b"0123456789abcdefghij");
    /// assert!(s.open(TenantId::DEFAULT, b, &sealed).is_none(), "bound to its account");
    /// ```
    pub fn seal(&self, tenant: TenantId, user: UserId, secret: &[u8], rng: &dyn SecureRandom) -> Vec<u8> {
        let nonce = random_array::<NONCE_LEN>(rng);
        let ad = associated_data(tenant, user);
        #[allow(clippy::expect_used)]
        let sealed = self
            .cipher()
            .encrypt(&nonce.into(), Payload { msg: secret, aad: &ad })
            .expect("encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`MfaKeyring::seal`] made for this account, under the current key, the
    /// next one or a previous one; `None` if none of them made it.
    pub fn open(&self, tenant: TenantId, user: UserId, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self.open_with(tenant, user, sealed).map(|(secret, _)| secret)
    }

    /// [`MfaKeyring::open`], and which key opened it.
    ///
    /// ```
    /// use portcullis_domain::{MfaKeyring, OsRandom, SealedWith, TenantId, UserId};
    /// let old = MfaKeyring::single([7; 32]);
    /// let new = MfaKeyring { previous_keys: vec![[7; 32].into()], ..MfaKeyring::single([8; 32]) };
    /// let a = UserId::from_uuid(uuid::Uuid::now_v7());
    /// let sealed = old.seal(TenantId::DEFAULT, a, b"0123456789abcdefghij", &OsRandom);
    /// let (_, with) = new.open_with(TenantId::DEFAULT, a, &sealed).unwrap();
    /// assert_eq!(with, SealedWith::Previous);
    /// ```
    pub fn open_with(&self, tenant: TenantId, user: UserId, sealed: &[u8]) -> Option<(Zeroizing<Vec<u8>>, SealedWith)> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let ad = associated_data(tenant, user);
        let keys = std::iter::once((&self.key, SealedWith::Current))
            .chain(self.next_key.iter().map(|k| (k, SealedWith::Next)))
            .chain(self.previous_keys.iter().map(|k| (k, SealedWith::Previous)));
        keys.into_iter().find_map(|(key, with)| {
            cipher(key)
                .decrypt(&nonce.into(), Payload { msg: body, aad: &ad })
                .ok()
                .map(|secret| (Zeroizing::new(secret), with))
        })
    }
}

impl MfaSettings {
    /// A TOTP of `secret` for `account_name`, labelled for authenticator apps with `issuer`
    /// (the tenant's, or [`MfaSettings::issuer`]); the label does not change the codes.
    pub(crate) fn totp(&self, secret: &[u8], account_name: &str, issuer: &str) -> Option<totp_rs::Totp> {
        totp_rs::Builder::new()
            .with_secret(secret.to_vec())
            .with_issuer(Some(issuer))
            .with_account_name(account_name.replace(':', ""))
            .build()
            .ok()
    }

    /// The time step `code` is valid for at `now` (±1 step), if any.
    pub fn matching_step(&self, secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let time = u64::try_from(now.timestamp()).ok()?;
        self.totp(secret, "", &self.issuer)?.check(code, time)
    }

    /// The stored form of a recovery code for this account (case and dashes do not matter).
    pub fn recovery_hash(&self, user: UserId, code: &str) -> TokenHash {
        let normalized: String = code
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(self.hash_key.expose()).expect("HMAC accepts any key length");
        mac.update(b"portcullis recovery code v1\0");
        mac.update(user.as_uuid().as_bytes());
        mac.update(b"\0");
        mac.update(normalized.as_bytes());
        TokenHash(mac.finalize().into_bytes().into())
    }
}

/// A second factor as presented at login or for a sensitive change.
#[derive(Clone)]
pub enum SecondFactor {
    /// A six-digit TOTP code.
    Totp(String),
    /// A recovery code.
    Recovery(String),
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "SecondFactor::Totp(..)",
            Self::Recovery(_) => "SecondFactor::Recovery(..)",
        })
    }
}

/// What `POST /v1/account/mfa/totp` hands out: the secret to put into an authenticator app.
pub struct TotpEnrollment {
    /// The secret, base32 without padding.
    pub secret: Zeroizing<String>,
    /// `otpauth://totp/...` for QR codes.
    pub otpauth_uri: Zeroizing<String>,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment(..)")
    }
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    #[allow(clippy::expect_used)]
    XChaCha20Poly1305::new_from_slice(&key[..]).expect("a 32-byte key fits XChaCha20-Poly1305")
}

fn associated_data(tenant: TenantId, user: UserId) -> Vec<u8> {
    let mut ad = b"portcullis totp v1\0".to_vec();
    ad.extend_from_slice(tenant.as_uuid().as_bytes());
    ad.extend_from_slice(user.as_uuid().as_bytes());
    ad
}

/// A fresh set of recovery codes, `XXXXX-XXXXX` (50 bits each).
pub(crate) fn new_recovery_codes(rng: &dyn SecureRandom) -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = random_array::<10>(rng);
            let chars: String = raw
                .iter()
                .map(|b| char::from(RECOVERY_ALPHABET[usize::from(b & 31)]))
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn settings() -> MfaSettings {
        MfaSettings {
            keys: MfaKeyring::single([9; 32]),
            hash_key: ServerKey::new(vec![2; 32]).unwrap(),
            issuer: "Acme".into(),
            max_failures: 5,
            lockout: Duration::minutes(15),
        }
    }

    /// RFC 6238 appendix B, SHA-1 (the 8-digit vectors, last six digits).
    #[test]
    fn rfc6238_vectors_match_their_step_and_neighbours() {
        let secret = b"12345678901234567890";
        let s = settings();
        for (time, code) in [(59, "287082"), (1_111_111_109, "081804"), (1_234_567_890, "005924")] {
            let now = DateTime::from_timestamp(time, 0).unwrap();
            let step = u64::try_from(time).unwrap() / STEP_SECS;
            assert_eq!(s.matching_step(secret, code, now), Some(step), "{time}");
            // ±1 step of skew, no more.
            assert_eq!(s.matching_step(secret, code, now + Duration::seconds(30)), Some(step));
            assert_eq!(s.matching_step(secret, code, now - Duration::seconds(30)), Some(step));
            assert_eq!(s.matching_step(secret, code, now + Duration::seconds(61)), None);
        }
        assert_eq!(
            s.matching_step(secret, "28708", DateTime::from_timestamp(59, 0).unwrap()),
            None
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_regardless_of_case_and_dashes() {
        let codes = new_recovery_codes(&OsRandom);
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let s = settings();
        let user = UserId::from_uuid(uuid::Uuid::now_v7());
        let code = &codes[0];
        assert_eq!(
            s.recovery_hash(user, code),
            s.recovery_hash(user, &code.to_lowercase().replace('-', " "))
        );
        assert_eq!(
            s.recovery_hash(user, "01ABC-DEF10"),
            s.recovery_hash(user, "oiabc-defLO")
        );
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 11 && c.chars().all(|ch| ch == '-' || RECOVERY_ALPHABET.contains(&(ch as u8))))
        );
        assert_ne!(
            s.recovery_hash(user, code),
            s.recovery_hash(UserId::from_uuid(uuid::Uuid::now_v7()), code)
        );
    }

    #[test]
    fn sealed_secrets_do_not_open_with_another_key() {
        let s = settings().keys;
        let user = UserId::from_uuid(uuid::Uuid::now_v7());
        let sealed = s.seal(TenantId::DEFAULT, user, b"01234567890123456789", &OsRandom);
        let other = MfaKeyring::single([1; 32]);
        assert!(other.open(TenantId::DEFAULT, user, &sealed).is_none());
        assert!(s.open(TenantId::DEFAULT, user, &sealed[..10]).is_none());
        // During a rotation both the next key and a previous one open, and say which they are.
        let ahead = MfaKeyring {
            next_key: Some(Zeroizing::new([9; 32])),
            ..MfaKeyring::single([1; 32])
        };
        assert_eq!(
            ahead.open_with(TenantId::DEFAULT, user, &sealed).map(|o| o.1),
            Some(SealedWith::Next)
        );
        let behind = MfaKeyring {
            previous_keys: vec![Zeroizing::new([3; 32]), Zeroizing::new([9; 32])],
            ..MfaKeyring::single([1; 32])
        };
        assert_eq!(
            behind.open_with(TenantId::DEFAULT, user, &sealed).map(|o| o.1),
            Some(SealedWith::Previous)
        );
    }
}
