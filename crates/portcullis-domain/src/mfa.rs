//! Second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) and recovery codes.
//!
//! TOTP secrets are 160 random bits, encrypted at rest with XChaCha20-Poly1305 under a server
//! key, with the account as associated data (a ciphertext copied to another account does not
//! decrypt). A time step is accepted at most once per account: storage advances the account's
//! last accepted step atomically, so of concurrent submissions of one code exactly one wins.
//! Wrong codes in a row lock the second factor for a while. Recovery codes are stored as keyed
//! hashes and die when used or regenerated.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::identity::Password;
use crate::ids::{TenantId, UserId};
use crate::ports::{Account, StepOutcome};
use crate::random::{SecureRandom, random_array};
use crate::service::{AuthService, InfraError, Principal};
use crate::token::{RefreshKey, TokenHash};

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

/// Second-factor settings.
#[derive(Clone)]
pub struct MfaSettings {
    /// Encrypts TOTP secrets at rest (32 bytes).
    pub key: Zeroizing<[u8; 32]>,
    /// Keys recovery-code hashes.
    pub hash_key: RefreshKey,
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

/// Why a second factor was refused.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// 403 `mfa_required`: the account has a second factor and none was given.
    #[error("second factor required")]
    Required,
    /// 400/401 `invalid_code`: wrong, replayed, or used up.
    #[error("invalid code")]
    InvalidCode,
    /// 429 `mfa_locked`: too many wrong codes in a row.
    #[error("second factor locked")]
    Locked {
        /// Seconds until the lock ends.
        retry_after_secs: u64,
    },
    /// 409 `mfa_already_enabled`.
    #[error("second factor already enabled")]
    AlreadyEnabled,
    /// 409 `mfa_not_enabled`.
    #[error("second factor not enabled")]
    NotEnabled,
    /// 401 `invalid_credentials`: the current password is wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 429 `too_many_attempts`: too many wrong passwords for this account lately.
    #[error("too many failed password attempts")]
    Throttled {
        /// Until the next attempt is let through.
        retry_after: std::time::Duration,
    },
    /// 429 `rate_limited`: too many such requests for this account lately.
    #[error("too many requests for this account")]
    RateLimited {
        /// Until the next request is let through.
        retry_after: std::time::Duration,
    },
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
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

fn associated_data(tenant: TenantId, user: UserId) -> Vec<u8> {
    let mut ad = b"portcullis totp v1\0".to_vec();
    ad.extend_from_slice(tenant.as_uuid().as_bytes());
    ad.extend_from_slice(user.as_uuid().as_bytes());
    ad
}

impl MfaSettings {
    fn cipher(&self) -> XChaCha20Poly1305 {
        #[allow(clippy::expect_used)]
        XChaCha20Poly1305::new_from_slice(&self.key[..]).expect("a 32-byte key fits XChaCha20-Poly1305")
    }

    /// Encrypts a TOTP secret for one account: `nonce || ciphertext || tag`.
    ///
    /// ```
    /// use portcullis_domain::mfa::MfaSettings;
    /// use portcullis_domain::{OsRandom, RefreshKey, TenantId, UserId};
    /// let s = MfaSettings { key: [7; 32].into(), hash_key: RefreshKey::new(vec![1; 32]).unwrap(),
    ///     issuer: "Acme".into(), max_failures: 5, lockout: chrono::Duration::minutes(15) };
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

    /// Decrypts what [`MfaSettings::seal`] made for this account; `None` if it was not.
    pub fn open(&self, tenant: TenantId, user: UserId, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let ad = associated_data(tenant, user);
        self.cipher()
            .decrypt(&nonce.into(), Payload { msg: body, aad: &ad })
            .ok()
            .map(Zeroizing::new)
    }

    fn totp(&self, secret: &[u8], account_name: &str) -> Option<totp_rs::Totp> {
        totp_rs::Builder::new()
            .with_secret(secret.to_vec())
            .with_issuer(Some(self.issuer.as_str()))
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
        self.totp(secret, "")?.check(code, time)
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

/// A fresh set of recovery codes, `XXXXX-XXXXX` (50 bits each).
fn new_recovery_codes(rng: &dyn SecureRandom) -> Vec<String> {
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

impl AuthService {
    fn mfa(&self) -> &MfaSettings {
        &self.deps.mfa
    }

    /// Starts (or restarts) TOTP enrolment: a new secret, stored encrypted and inactive until a
    /// code from it is confirmed with [`AuthService::activate_totp`].
    pub async fn enroll_totp(&self, principal: &Principal) -> Result<TotpEnrollment, MfaError> {
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let account = self
            .deps
            .store
            .account(tenant, user)
            .await
            .map_err(InfraError::from)?
            .ok_or(MfaError::InvalidCredentials)?;
        if account.mfa_enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let secret = Zeroizing::new(random_array::<20>(&*self.deps.rng));
        let sealed = self.mfa().seal(tenant, user, &secret[..], &*self.deps.rng);
        let now = self.deps.clock.now();
        if !self
            .deps
            .store
            .put_pending_totp(tenant, user, &sealed, now)
            .await
            .map_err(InfraError::from)?
        {
            return Err(MfaError::AlreadyEnabled);
        }
        let totp = self
            .mfa()
            .totp(&secret[..], account.email.as_str())
            .ok_or_else(|| InfraError::Internal("cannot build a TOTP for this account".into()))?;
        let uri = totp
            .to_url()
            .map_err(|e| InfraError::Internal(format!("otpauth URI: {e}")))?;
        tracing::info!(user_id = %user, "TOTP enrolment started");
        Ok(TotpEnrollment {
            secret: Zeroizing::new(totp.secret().to_base32()),
            otpauth_uri: Zeroizing::new(uri),
        })
    }

    /// Confirms enrolment with the first valid code; returns the recovery codes (shown once).
    pub async fn activate_totp(&self, principal: &Principal, code: &str) -> Result<Vec<String>, MfaError> {
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let record = self
            .deps
            .store
            .totp(tenant, user)
            .await
            .map_err(InfraError::from)?
            .ok_or(MfaError::InvalidCode)?;
        if record.enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let secret = self.mfa().open(tenant, user, &record.secret_sealed).ok_or_else(|| {
            InfraError::Internal("a stored TOTP secret does not decrypt (was mfa.encryption_key changed?)".into())
        })?;
        let now = self.deps.clock.now();
        let step = self
            .mfa()
            .matching_step(&secret, code, now)
            .ok_or(MfaError::InvalidCode)?;
        let codes = new_recovery_codes(&*self.deps.rng);
        let hashes: Vec<TokenHash> = codes.iter().map(|c| self.mfa().recovery_hash(user, c)).collect();
        let step = i64::try_from(step).map_err(|_| MfaError::InvalidCode)?;
        if !self
            .deps
            .store
            .activate_totp(tenant, user, &record.secret_sealed, step, &hashes, now)
            .await
            .map_err(InfraError::from)?
        {
            return Err(MfaError::InvalidCode);
        }
        tracing::info!(user_id = %user, "TOTP enabled");
        Ok(codes)
    }

    /// Checks a second factor of an account whose second factor is enabled, consuming what it
    /// uses (the time step, or the recovery code). Returns the `amr` value.
    pub(crate) async fn check_second_factor(
        &self,
        account: &Account,
        factor: Option<&SecondFactor>,
    ) -> Result<&'static str, MfaError> {
        self.check_second_factor_then(account, factor, true).await
    }

    /// [`Self::check_second_factor`]; with `spend_recovery_code` false a right recovery code
    /// is checked but kept (for a login that will be refused anyway, by the new-IP policy).
    pub(crate) async fn check_second_factor_then(
        &self,
        account: &Account,
        factor: Option<&SecondFactor>,
        spend_recovery_code: bool,
    ) -> Result<&'static str, MfaError> {
        let (tenant, user) = (account.tenant.id, account.id);
        let factor = factor.ok_or(MfaError::Required)?;
        let now = self.deps.clock.now();
        let store = &self.deps.store;
        let record = store
            .totp(tenant, user)
            .await
            .map_err(InfraError::from)?
            .filter(|r| r.enabled)
            .ok_or(MfaError::NotEnabled)?;
        let mfa = self.mfa();
        let reserved = store
            .reserve_mfa_attempt(tenant, user, mfa.max_failures, now + mfa.lockout, now)
            .await
            .map_err(InfraError::from)?;
        let locks_in_a_row = match reserved {
            Ok(locked_now) => locked_now,
            Err(until) => {
                tracing::warn!(user_id = %user, outcome = "mfa_locked", "second factor refused: locked");
                return Err(locked(until, now));
            }
        };
        let accepted = match factor {
            SecondFactor::Totp(code) => {
                let secret = self.mfa().open(tenant, user, &record.secret_sealed).ok_or_else(|| {
                    InfraError::Internal(
                        "a stored TOTP secret does not decrypt (was mfa.encryption_key changed?)".into(),
                    )
                })?;
                match self.mfa().matching_step(&secret, code, now) {
                    Some(step) => {
                        let step = i64::try_from(step).map_err(|_| MfaError::InvalidCode)?;
                        match store
                            .accept_totp_step(tenant, user, step, mfa.max_failures, now)
                            .await
                            .map_err(InfraError::from)?
                        {
                            StepOutcome::Accepted => Some(AMR_TOTP),
                            StepOutcome::Replayed => {
                                // A right code whose step was used: a double submit or a code
                                // seen by someone else. Refused and logged, but not a guess:
                                // storage handed its attempt back.
                                tracing::warn!(user_id = %user, outcome = "totp_replayed", "a TOTP code was presented again after its step was used");
                                self.tell_owner_of_replay(account).await;
                                return Err(MfaError::InvalidCode);
                            }
                        }
                    }
                    None => None,
                }
            }
            SecondFactor::Recovery(code) => {
                let hash = self.mfa().recovery_hash(user, code);
                let found = if spend_recovery_code {
                    store.use_recovery_code(tenant, user, &hash, now).await
                } else {
                    store.has_recovery_code(tenant, user, &hash).await
                };
                found.map_err(InfraError::from)?.then_some(AMR_RECOVERY)
            }
        };
        match accepted {
            Some(amr) => {
                tracing::info!(user_id = %user, method = amr, "second factor accepted");
                Ok(amr)
            }
            None => {
                // Counted already, when the attempt came in.
                tracing::info!(user_id = %user, outcome = "invalid_code", "second factor refused");
                if locks_in_a_row.is_some_and(|n| n >= 2) {
                    self.tell_owner_of_repeated_locks(account).await;
                }
                Err(MfaError::InvalidCode)
            }
        }
    }

    /// Mails the owner, once per streak, that wrong codes keep locking their second factor:
    /// whoever enters them has the password. Like the replay notice, the refusal stands whether
    /// or not the mail could be queued.
    async fn tell_owner_of_repeated_locks(&self, account: &Account) {
        let store = &self.deps.store;
        match store.claim_lock_notice(account.tenant.id, account.id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(user_id = %account.id, error = %e, "could not record the TOTP lock notice");
                return;
            }
        }
        tracing::warn!(user_id = %account.id, outcome = "mfa_locked_again", "second factor locked again; owner told");
        let notice = self.outgoing(
            account.tenant.id,
            &account.email,
            crate::mail::MailKind::TotpLockedNotice,
            &crate::templates::MailVars::default(),
        );
        if let Err(e) = store.enqueue(&notice, self.deps.clock.now()).await {
            tracing::error!(user_id = %account.id, error = %e, "could not queue the TOTP lock notice");
        }
    }

    /// Mails the owner that a used code came back, within the per-recipient mail limit (a
    /// double-clicked sign-in must not set off a burst of alarms). The refusal stands whether
    /// or not the mail could be queued, so a failure is only logged.
    async fn tell_owner_of_replay(&self, account: &Account) {
        if !self.may_mail(account.tenant.id, &account.email).await {
            return;
        }
        let notice = self.outgoing(
            account.tenant.id,
            &account.email,
            crate::mail::MailKind::TotpReplayNotice,
            &crate::templates::MailVars::default(),
        );
        if let Err(e) = self.deps.store.enqueue(&notice, self.deps.clock.now()).await {
            tracing::error!(user_id = %account.id, error = %e, "could not queue the TOTP replay notice");
        }
    }

    /// The caller's account after checking the current password and, if enabled, the second
    /// factor (re-authentication for sensitive changes).
    pub(crate) async fn reauthenticate_with_factor(
        &self,
        principal: &Principal,
        password: &Password,
        factor: Option<&SecondFactor>,
    ) -> Result<crate::ports::AccountCredentials, MfaError> {
        let creds = self
            .reauthenticate(principal, password)
            .await
            .map_err(reauthentication_error)?;
        if creds.account.mfa_enabled {
            self.check_second_factor(&creds.account, factor).await?;
        }
        Ok(creds)
    }

    /// Turns the second factor off (current password plus a code or recovery code): the secret
    /// and recovery codes are destroyed and every other session ends. A recovery code is spent
    /// in the same transaction that disables, so one used elsewhere meanwhile (a login) makes
    /// this a clean `invalid_code`, never a half-done change.
    pub async fn disable_mfa(
        &self,
        principal: &Principal,
        password: &Password,
        factor: &SecondFactor,
    ) -> Result<u64, MfaError> {
        let creds = self
            .reauthenticate(principal, password)
            .await
            .map_err(reauthentication_error)?;
        let account = &creds.account;
        if !account.mfa_enabled {
            return Err(MfaError::NotEnabled);
        }
        let spend = match factor {
            SecondFactor::Totp(_) => {
                self.check_second_factor(account, Some(factor)).await?;
                None
            }
            SecondFactor::Recovery(code) => {
                self.check_second_factor_then(account, Some(factor), false).await?;
                Some(self.mfa().recovery_hash(account.id, code))
            }
        };
        let now = self.deps.clock.now();
        let disabled = self
            .deps
            .store
            .disable_totp(
                principal.claims.tid,
                principal.claims.sub,
                principal.session.id,
                spend.as_ref(),
                now,
            )
            .await
            .map_err(InfraError::from)?;
        match disabled {
            crate::ports::Disabled::Done(revoked) => {
                tracing::info!(user_id = %principal.claims.sub, revoked, "second factor disabled; other sessions revoked");
                Ok(revoked)
            }
            crate::ports::Disabled::NotEnabled => Err(MfaError::NotEnabled),
            crate::ports::Disabled::CodeUsed => {
                tracing::info!(user_id = %principal.claims.sub, outcome = "invalid_code", "second factor refused: the recovery code was used meanwhile");
                Err(MfaError::InvalidCode)
            }
        }
    }

    /// A new set of recovery codes, confirmed with a TOTP code; the old set dies.
    pub async fn regenerate_recovery_codes(&self, principal: &Principal, code: &str) -> Result<Vec<String>, MfaError> {
        self.account_request(crate::limits::Limit::Reauthentication, principal)
            .await
            .map_err(|retry_after| MfaError::RateLimited { retry_after })?;
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let account = self
            .deps
            .store
            .account(tenant, user)
            .await
            .map_err(InfraError::from)?
            .ok_or(MfaError::InvalidCredentials)?;
        if !account.mfa_enabled {
            return Err(MfaError::NotEnabled);
        }
        self.check_second_factor(&account, Some(&SecondFactor::Totp(code.to_owned())))
            .await?;
        let codes = new_recovery_codes(&*self.deps.rng);
        let hashes: Vec<TokenHash> = codes.iter().map(|c| self.mfa().recovery_hash(user, c)).collect();
        self.deps
            .store
            .replace_recovery_codes(tenant, user, &hashes, self.deps.clock.now())
            .await
            .map_err(InfraError::from)?;
        tracing::info!(user_id = %user, "recovery codes regenerated");
        Ok(codes)
    }
}

/// A failed re-authentication, as the second-factor endpoints answer it.
fn reauthentication_error(e: crate::mail_flows::AccountChangeError) -> MfaError {
    use crate::mail_flows::AccountChangeError;
    match e {
        AccountChangeError::Infra(e) => MfaError::Infra(e),
        AccountChangeError::Throttled { retry_after } => MfaError::Throttled { retry_after },
        AccountChangeError::RateLimited { retry_after } => MfaError::RateLimited { retry_after },
        _ => MfaError::InvalidCredentials,
    }
}

fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> MfaError {
    MfaError::Locked {
        retry_after_secs: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn settings() -> MfaSettings {
        MfaSettings {
            key: Zeroizing::new([9; 32]),
            hash_key: RefreshKey::new(vec![2; 32]).unwrap(),
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
        let s = settings();
        let user = UserId::from_uuid(uuid::Uuid::now_v7());
        let sealed = s.seal(TenantId::DEFAULT, user, b"01234567890123456789", &OsRandom);
        let mut other = settings();
        other.key = Zeroizing::new([1; 32]);
        assert!(other.open(TenantId::DEFAULT, user, &sealed).is_none());
        assert!(s.open(TenantId::DEFAULT, user, &sealed[..10]).is_none());
    }
}
