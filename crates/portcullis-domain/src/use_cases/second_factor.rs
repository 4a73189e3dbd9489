//! Managing the second factor: enrol and activate TOTP, disable it, regenerate recovery codes.

use zeroize::Zeroizing;

use crate::identity::Password;
use crate::limits::Limit;
use crate::model::{Account, AuditEvent, Disabled, EventType, Principal};
use crate::random::random_array;
use crate::refresh::TokenHash;
use crate::service::base::{AuthService, InfraError};
use crate::service::second_factor::MfaError;
use crate::totp::{SecondFactor, TotpEnrollment, new_recovery_codes};

impl AuthService {
    /// The caller's account (gone: as a wrong credential).
    async fn caller(&self, principal: &Principal) -> Result<Account, MfaError> {
        self.deps
            .store
            .account(principal.claims.tid, principal.claims.sub)
            .await
            .map_err(InfraError::from)?
            .ok_or(MfaError::InvalidCredentials)
    }

    /// Starts (or restarts) TOTP enrolment: a new secret, stored encrypted and inactive until a
    /// code from it is confirmed with [`AuthService::activate_totp`].
    pub async fn enroll_totp(&self, principal: &Principal) -> Result<TotpEnrollment, MfaError> {
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let account = self.caller(principal).await?;
        if account.mfa_enabled {
            return Err(MfaError::AlreadyEnabled);
        }
        let issuer = self.brand(tenant).await?.totp_issuer.clone();
        let secret = Zeroizing::new(random_array::<20>(&*self.deps.rng));
        let sealed = self.mfa().keys.seal(tenant, user, &secret[..], &*self.deps.rng);
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
            .totp(&secret[..], account.email.as_str(), &issuer)
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
        let secret = self
            .mfa()
            .keys
            .open(tenant, user, &record.secret_sealed)
            .ok_or_else(|| {
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
        let activated = self
            .deps
            .store
            .activate_totp(
                tenant,
                user,
                &record.secret_sealed,
                step,
                &hashes,
                now,
                &[self.mfa_event(EventType::MfaEnabled, principal)],
            )
            .await;
        self.account_changed(tenant, user);
        if !activated.map_err(InfraError::from)? {
            return Err(MfaError::InvalidCode);
        }
        tracing::info!(user_id = %user, "TOTP enabled");
        Ok(codes)
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
        let creds = self.reauthenticate(principal, password).await?;
        let account = &creds.account;
        if !account.mfa_enabled {
            return Err(MfaError::NotEnabled);
        }
        let spend = match factor {
            SecondFactor::Totp(_) => {
                self.check_second_factor(account, Some(factor), &principal.client)
                    .await?;
                None
            }
            SecondFactor::Recovery(code) => {
                self.check_second_factor_then(account, Some(factor), false, &principal.client)
                    .await?;
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
                &[self.mfa_event(EventType::MfaDisabled, principal)],
            )
            .await;
        self.account_changed(principal.claims.tid, principal.claims.sub);
        let disabled = disabled.map_err(InfraError::from)?;
        match disabled {
            Disabled::Done(revoked) => {
                tracing::info!(user_id = %principal.claims.sub, revoked, "second factor disabled; other sessions revoked");
                Ok(revoked)
            }
            Disabled::NotEnabled => Err(MfaError::NotEnabled),
            Disabled::CodeUsed => {
                tracing::info!(user_id = %principal.claims.sub, outcome = "invalid_code", "second factor refused: the recovery code was used meanwhile");
                Err(MfaError::InvalidCode)
            }
        }
    }

    /// A new set of recovery codes, confirmed with a TOTP code; the old set dies.
    pub async fn regenerate_recovery_codes(&self, principal: &Principal, code: &str) -> Result<Vec<String>, MfaError> {
        self.account_request(Limit::Reauthentication, principal).await?;
        let (tenant, user) = (principal.claims.tid, principal.claims.sub);
        let account = self.caller(principal).await?;
        if !account.mfa_enabled {
            return Err(MfaError::NotEnabled);
        }
        self.check_second_factor(&account, Some(&SecondFactor::Totp(code.to_owned())), &principal.client)
            .await?;
        let codes = new_recovery_codes(&*self.deps.rng);
        let hashes: Vec<TokenHash> = codes.iter().map(|c| self.mfa().recovery_hash(user, c)).collect();
        self.deps
            .store
            .replace_recovery_codes(
                tenant,
                user,
                &hashes,
                self.deps.clock.now(),
                &[self.mfa_event(EventType::RecoveryCodesRegenerated, principal)],
            )
            .await
            .map_err(InfraError::from)?;
        tracing::info!(user_id = %user, "recovery codes regenerated");
        Ok(codes)
    }

    /// An event of the caller's second factor, from the caller's request.
    fn mfa_event(&self, kind: EventType, principal: &Principal) -> AuditEvent {
        let subject = principal.subject();
        self.audit_event(kind, subject, &principal.client, serde_json::json!({}))
    }
}
