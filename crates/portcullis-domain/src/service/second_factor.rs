//! Checking the second factor of an account (login, re-authentication): TOTP codes, each time
//! step at most once, and recovery codes; locks after wrong codes, and the owner's notices.

use chrono::{DateTime, Utc};

use crate::model::{Account, ClientInfo, EventType, StepOutcome, Subject};
use crate::service::base::{AuthService, InfraError};
use crate::service::budgets::OverBudget;
use crate::totp::{AMR_RECOVERY, AMR_TOTP, MfaSettings, SecondFactor};

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
    /// 429: the account's budgets hold the caller back.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

pub(crate) fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> MfaError {
    MfaError::Locked {
        retry_after_secs: u64::try_from((until - now).num_seconds().max(1)).unwrap_or(1),
    }
}

impl AuthService {
    pub(crate) fn mfa(&self) -> &MfaSettings {
        &self.deps.mfa
    }

    /// Checks a second factor of an account whose second factor is enabled, consuming what it
    /// uses (the time step, or the recovery code). Returns the `amr` value.
    pub(crate) async fn check_second_factor(
        &self,
        account: &Account,
        factor: Option<&SecondFactor>,
        client: &ClientInfo,
    ) -> Result<&'static str, MfaError> {
        self.check_second_factor_then(account, factor, true, client).await
    }

    /// [`Self::check_second_factor`]; with `spend_recovery_code` false a right recovery code
    /// is checked but kept (for a login that will be refused anyway, by the new-IP policy).
    pub(crate) async fn check_second_factor_then(
        &self,
        account: &Account,
        factor: Option<&SecondFactor>,
        spend_recovery_code: bool,
        client: &ClientInfo,
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
                let secret = self
                    .mfa()
                    .keys
                    .open(tenant, user, &record.secret_sealed)
                    .ok_or_else(|| {
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
                                let subject = Subject::user(tenant, user);
                                let event =
                                    self.audit_event(EventType::TotpReplayed, subject, client, serde_json::json!({}));
                                self.record(event).await?;
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
    pub(crate) async fn tell_owner_of_repeated_locks(&self, account: &Account) {
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
        let brand = match self.brand(account.tenant.id).await {
            Ok(brand) => brand,
            Err(e) => {
                tracing::error!(user_id = %account.id, error = %e, "could not render the TOTP lock notice");
                return;
            }
        };
        let notice = self.outgoing(
            &brand,
            &account.email,
            crate::model::MailKind::TotpLockedNotice,
            &crate::templates::MailVars::default(),
        );
        if let Err(e) = store.enqueue(&notice, self.deps.clock.now()).await {
            tracing::error!(user_id = %account.id, error = %e, "could not queue the TOTP lock notice");
        }
    }

    /// Mails the owner that a used code came back, within the per-recipient mail limit (a
    /// double-clicked sign-in must not set off a burst of alarms). The refusal stands whether
    /// or not the mail could be queued, so a failure is only logged.
    pub(crate) async fn tell_owner_of_replay(&self, account: &Account) {
        if !self.may_mail(account.tenant.id, &account.email).await {
            return;
        }
        let brand = match self.brand(account.tenant.id).await {
            Ok(brand) => brand,
            Err(e) => {
                tracing::error!(user_id = %account.id, error = %e, "could not render the TOTP replay notice");
                return;
            }
        };
        let notice = self.outgoing(
            &brand,
            &account.email,
            crate::model::MailKind::TotpReplayNotice,
            &crate::templates::MailVars::default(),
        );
        if let Err(e) = self.deps.store.enqueue(&notice, self.deps.clock.now()).await {
            tracing::error!(user_id = %account.id, error = %e, "could not queue the TOTP replay notice");
        }
    }
}
