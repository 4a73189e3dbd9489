//! Re-authentication of a signed-in caller for a sensitive change: the current password (within
//! the account's budgets) and, when enabled, the second factor.

use crate::identity::Password;
use crate::limits::Limit;
use crate::model::{AccountCredentials, EventType, Principal};
use crate::ports::HashOwner;
use crate::service::base::{AuthService, InfraError};
use crate::service::budgets::OverBudget;
use crate::service::second_factor::MfaError;
use crate::totp::SecondFactor;

impl AuthService {
    /// Checks the caller's current password (re-authentication for sensitive changes). Wrong
    /// passwords count against the account's failed-login budget, so a stolen access token is
    /// no oracle for guessing the password.
    pub(crate) async fn reauthenticate(
        &self,
        principal: &Principal,
        password: &Password,
    ) -> Result<AccountCredentials, MfaError> {
        self.account_request(Limit::Reauthentication, principal).await?;
        let found = self
            .deps
            .store
            .credentials(principal.claims.tid, principal.claims.sub)
            .await
            .map_err(InfraError::from)?;
        let key = format!("{}:account:{}", principal.claims.tid, principal.claims.sub);
        let stored = found.as_ref().and_then(|c| c.password.as_ref());
        let owner = HashOwner::account(principal.claims.tid, principal.claims.sub);
        let checked = self
            .check_password_within_budget(&key, password, stored, &owner)
            .await?
            .map_err(|retry_after| {
                tracing::warn!(user_id = %principal.claims.sub, outcome = "throttled", "re-authentication refused: too many failed attempts");
                MfaError::OverBudget(OverBudget::Throttled { retry_after })
            })?;
        if let Some(wait) = checked.locked_for {
            tracing::warn!(user_id = %principal.claims.sub, "re-authentication locked: too many failed attempts");
            let details = serde_json::json!({ "scope": "reauthentication", "retry_after_secs": wait.as_secs().max(1) });
            let event = self.audit_event(EventType::LoginLocked, principal.subject(), &principal.client, details);
            self.record(event).await?;
        }
        match found.filter(|_| checked.verdict.matches) {
            Some(creds) => Ok(creds),
            None => {
                tracing::info!(user_id = %principal.claims.sub, outcome = "invalid_credentials", "re-authentication refused");
                Err(MfaError::InvalidCredentials)
            }
        }
    }

    /// The caller's account after checking the current password and, if enabled, the second
    /// factor (re-authentication for sensitive changes).
    pub(crate) async fn reauthenticate_with_factor(
        &self,
        principal: &Principal,
        password: &Password,
        factor: Option<&SecondFactor>,
    ) -> Result<AccountCredentials, MfaError> {
        let creds = self.reauthenticate(principal, password).await?;
        if creds.account.mfa_enabled {
            self.check_second_factor(&creds.account, factor, &principal.client)
                .await?;
        }
        Ok(creds)
    }
}
