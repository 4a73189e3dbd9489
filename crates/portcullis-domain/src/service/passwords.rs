//! Checking a password against its stored hash (within the failed-password budget of a key),
//! upgrading old hashes, and screening new passwords.

use crate::identity::Password;
use crate::limits::Limit;
use crate::model::{Account, StoredPassword};
use crate::ports::HashOwner;
use crate::service::base::{AuthService, InfraError};

/// The outcome of [`AuthService::check_password_within_budget`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetedCheck {
    /// What the hasher said.
    pub verdict: crate::ports::Verification,
    /// `Some(wait)` when this failure began a lockout of its key (the key is held back for
    /// `wait`); `None` otherwise, and always for a match.
    pub locked_for: Option<std::time::Duration>,
}

impl AuthService {
    /// Checks `password` against `stored` (`None`: no such account, a dummy hash is checked)
    /// within the failed-password budget and back-off of `key`, and records the outcome there.
    /// `Ok(Err(wait))`: the key is held back (or another attempt on it is in progress), and
    /// nothing was checked.
    pub(crate) async fn check_password_within_budget(
        &self,
        key: &str,
        password: &Password,
        stored: Option<&StoredPassword>,
        owner: &HashOwner,
    ) -> Result<Result<BudgetedCheck, std::time::Duration>, InfraError> {
        let limiter = &self.deps.limiter;
        let attempt = match limiter.begin_attempt(Limit::FailedLogin, key).await {
            Ok(permit) => permit,
            Err(wait) => return Ok(Err(wait)),
        };
        // An attempt that fails for the infrastructure's sake is not counted either way.
        let verdict = self.check_password(password, stored, owner).await?;
        limiter
            .end_attempt(Limit::FailedLogin, key, attempt, verdict.matches)
            .await;
        // The key was not held back when this attempt began, and no other attempt on it ran
        // meanwhile (the permit excludes them): if it is held back now, this failure began
        // the lockout. So a lockout is seen once, however many refusals follow it.
        let locked_for = if verdict.matches {
            None
        } else {
            limiter.held_back(Limit::FailedLogin, key).await
        };
        Ok(Ok(BudgetedCheck { verdict, locked_for }))
    }

    /// Whether a new password is too common to accept (register, change, reset). Checked before
    /// anything is hashed or looked up, so it costs the same whoever asks.
    pub(crate) async fn too_common(&self, password: &Password) -> bool {
        let common = self.deps.screen.is_common(password).await;
        if common {
            tracing::info!(outcome = "password_too_common", "new password refused: too common");
        }
        common
    }

    /// Checks `password` against `stored` (`None`: no such account, a dummy hash is checked).
    ///
    /// Passwords are hashed in NFKC form. A hash made before that was made from the input as
    /// typed, so when the two forms differ and the NFKC form does not match such a hash, the
    /// typed form is tried too, and a match asks for a rehash. Only such a hash is ever checked
    /// against the typed form: a current hash gets one guess per request, not two. Whenever
    /// the forms differ a second check runs (against the dummy hash where there is nothing to
    /// try), so the time taken depends on the password alone, never on the account.
    pub(crate) async fn check_password(
        &self,
        password: &Password,
        stored: Option<&StoredPassword>,
        owner: &HashOwner,
    ) -> Result<crate::ports::Verification, InfraError> {
        let hasher = &self.deps.hasher;
        let first = hasher.verify(password, stored.map(|s| s.phc.as_str()), owner).await?;
        let legacy = stored.filter(|s| !s.normalized);
        let verdict = match password.as_typed() {
            None => first,
            Some(as_typed) => {
                let untried = legacy.filter(|_| !first.matches);
                let second = hasher.verify(&as_typed, untried.map(|s| s.phc.as_str()), owner).await?;
                if untried.is_some() && second.matches {
                    second
                } else {
                    first
                }
            }
        };
        Ok(crate::ports::Verification {
            matches: verdict.matches,
            // A hash of the typed form is replaced by one of the normalised form.
            needs_rehash: verdict.matches && (verdict.needs_rehash || legacy.is_some()),
        })
    }

    /// Re-hashes a password whose stored hash used other parameters. Failure only delays the
    /// upgrade to a later login, so it is logged and not returned.
    pub(crate) async fn upgrade_hash(&self, account: &Account, old_hash: &str, password: &Password, owner: &HashOwner) {
        match self.deps.hasher.hash(password, owner).await {
            Ok(new_hash) => {
                match self
                    .deps
                    .store
                    .replace_password_hash(account.tenant.id, account.id, old_hash, &new_hash)
                    .await
                {
                    Ok(_) => tracing::info!(user_id = %account.id, "password hash upgraded to current parameters"),
                    Err(e) => {
                        tracing::warn!(user_id = %account.id, error = %e, "could not store upgraded password hash")
                    }
                }
            }
            Err(e) => tracing::warn!(user_id = %account.id, error = %e, "could not upgrade password hash"),
        }
    }
}
