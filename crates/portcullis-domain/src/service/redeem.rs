//! Redeeming a mailed one-time secret (link or code): where to look for it, whether it fits,
//! and the one storage call that applies what it unlocks. Every flow that takes a secret
//! (verify-email, authorize-ip, reset, signup verify) goes through [`AuthService::redeem`].

use serde_json::json;

use crate::identity::Email;
use crate::ids::TenantId;
use crate::model::{
    Account, AuditEvent, ClientInfo, EventType, RedeemOutcome, Redemption, SecretLookup, StoredSecret, Subject, Verdict,
};
use crate::one_time::{CodeDecision, CodeState, Purpose, decide_code};
use crate::service::base::{AuthService, InfraError};

/// The authentication method recorded (`amr`) for a session opened by an emailed secret.
pub const AMR_EMAIL: &str = "email";

/// A one-time secret as a client presents it: the link token, or the code with the address it
/// was mailed to.
#[derive(Clone)]
pub enum Presented {
    /// The `pcl_` token of a link, presented to a tenant.
    Token {
        /// The tenant the request names.
        tenant: TenantId,
        /// The token.
        token: String,
    },
    /// A six-digit code and the address it was sent to.
    Code {
        /// Tenant of the address.
        tenant: TenantId,
        /// The address.
        email: Email,
        /// The code.
        code: String,
    },
}

impl Presented {
    /// The tenant the secret is presented to (the only one it can belong to).
    pub fn tenant(&self) -> TenantId {
        match self {
            Self::Token { tenant, .. } | Self::Code { tenant, .. } => *tenant,
        }
    }
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token { tenant, .. } => f
                .debug_struct("Presented::Token")
                .field("tenant", tenant)
                .finish_non_exhaustive(),
            Self::Code { tenant, .. } => f
                .debug_struct("Presented::Code")
                .field("tenant", tenant)
                .finish_non_exhaustive(),
        }
    }
}

/// Failures of the flows that take a one-time secret.
#[derive(Debug, thiserror::Error)]
pub enum OneTimeError {
    /// 400 `invalid_or_expired_token`: unknown, expired, used, superseded, or out of attempts.
    #[error("invalid or expired token")]
    InvalidOrExpired,
    /// 409 `email_taken`: the new address of an email change belongs to another account now.
    #[error("email taken")]
    EmailTaken,
    /// 403 `account_disabled`: the secret is right, but an operator disabled its account;
    /// nothing was spent or changed.
    #[error("account disabled")]
    AccountDisabled,
    /// 422 `too_common` on `new_password`: a common or breached password (reset).
    #[error("password too common")]
    PasswordTooCommon,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// How a presented secret fits a stored one.
enum Fit {
    Opens,
    Wrong,
    No,
}

impl AuthService {
    /// Where storage should look for a presented secret; `None` if it cannot be one of ours
    /// (refused without touching storage or counting an attempt).
    fn lookup(&self, presented: &Presented) -> Option<SecretLookup> {
        match presented {
            Presented::Token { tenant, token } => self
                .deps
                .one_time
                .token_hash(token)
                .map(|hash| SecretLookup::Token(*tenant, hash)),
            Presented::Code { tenant, email, code } => {
                let code = code.trim();
                (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| SecretLookup::Email(*tenant, email.clone()))
            }
        }
    }

    /// Whether `presented` opens `stored`: a link until it expires; a code until it expires or
    /// runs out of attempts, `failed` being the wrong codes that count against it.
    fn fit(
        &self,
        presented: &Presented,
        stored: &StoredSecret,
        failed: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Fit {
        match presented {
            // Storage found it by the token's hash.
            Presented::Token { .. } if stored.token_expires_at > now => Fit::Opens,
            Presented::Token { .. } => Fit::No,
            Presented::Code { code, .. } => {
                let matches = self
                    .deps
                    .one_time
                    .code_hash(stored.account.id, stored.purpose, code)
                    .is_some_and(|h| h == stored.code_hash);
                let state = CodeState {
                    failed_attempts: failed,
                    code_expires_at: stored.code_expires_at,
                    consumed: false,
                };
                let policy = self.deps.one_time.policy();
                // Every secret minted for the account and purpose draws on one total, so asking
                // for new ones (a new network, a new reset) cannot buy guesses for ever.
                if stored.purpose_failed_code_attempts >= policy.max_code_attempts_total {
                    return Fit::No;
                }
                match decide_code(&state, matches, now, policy.max_code_attempts) {
                    CodeDecision::Accept => Fit::Opens,
                    CodeDecision::Wrong => Fit::Wrong,
                    CodeDecision::Dead => Fit::No,
                }
            }
        }
    }

    /// The audit events of applying `redemption` to `stored`.
    fn redemption_events(
        &self,
        stored: &StoredSecret,
        redemption: &Redemption,
        client: &ClientInfo,
    ) -> Vec<AuditEvent> {
        let a = &stored.account;
        let (kind, details) = match redemption {
            Redemption::Check | Redemption::Spend => return Vec::new(),
            Redemption::VerifyEmail { .. } => (EventType::UserEmailVerified, json!({})),
            Redemption::ChangeEmail { .. } => (EventType::EmailChanged, json!({})),
            Redemption::ResetPassword { .. } => (EventType::PasswordReset, json!({})),
            Redemption::AuthorizeNetwork => (EventType::NetworkAuthorized, json!({ "network": stored.scope })),
        };
        vec![self.audit_event(kind, Subject::user(a.tenant.id, a.id), client, details)]
    }

    /// Finds the secret of one of `purposes` that `presented` opens and applies what `redeem`
    /// returns for it.
    pub(crate) async fn redeem(
        &self,
        presented: &Presented,
        purposes: &[Purpose],
        client: &ClientInfo,
        redeem: &(dyn Fn(&StoredSecret) -> Option<Redemption> + Send + Sync),
    ) -> Result<(StoredSecret, Account, Redemption), OneTimeError> {
        let lookup = self.lookup(presented).ok_or(OneTimeError::InvalidOrExpired)?;
        let now = self.deps.clock.now();
        // A right secret of a disabled account opens nothing, and is not a wrong try.
        let disabled: std::sync::Mutex<Option<Subject>> = std::sync::Mutex::new(None);
        let judge = |candidates: &[StoredSecret]| {
            // A code entered with an address is a guess at every code mailed to it, so they
            // share one count of wrong tries: the highest among the live ones. However many
            // pending email changes name an address, it takes five wrong codes in all.
            let shared = match presented {
                Presented::Code { .. } => candidates
                    .iter()
                    .filter(|c| c.code_expires_at > now)
                    .map(|c| c.failed_code_attempts)
                    .max()
                    .unwrap_or(0),
                Presented::Token { .. } => 0,
            };
            let mut wrong = Vec::new();
            for (index, stored) in candidates.iter().enumerate() {
                match self.fit(presented, stored, shared.max(stored.failed_code_attempts), now) {
                    Fit::Opens if stored.account.disabled => {
                        let a = &stored.account;
                        *disabled.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(Subject::user(a.tenant.id, a.id));
                    }
                    Fit::Opens => {
                        if let Some(redemption) = redeem(stored) {
                            let events = self.redemption_events(stored, &redemption, client);
                            return Verdict::Accept {
                                index,
                                redemption,
                                events,
                            };
                        }
                    }
                    Fit::Wrong => wrong.push(index),
                    Fit::No => {}
                }
            }
            Verdict::Refuse { wrong }
        };
        let outcome = self
            .deps
            .store
            .redeem_secret(&lookup, purposes, now, &judge)
            .await
            .map_err(InfraError::from)?;
        match outcome {
            RedeemOutcome::Redeemed {
                secret,
                account,
                redemption,
            } => {
                // A redemption can end sessions (a password reset does) or change what the
                // account shows (a verification, an email change).
                self.account_changed(account.tenant.id, account.id);
                Ok((secret, account, redemption))
            }
            RedeemOutcome::Refused => {
                let disabled = disabled.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some(subject) = disabled {
                    tracing::info!(?purposes, outcome = "account_disabled", "one-time secret refused");
                    // A login by mailed code is a login refused like a password one; the other
                    // purposes would change the account, and nothing changed.
                    if purposes.contains(&Purpose::LoginCode) {
                        let details = json!({ "reason": "account_disabled" });
                        self.record(self.audit_event(EventType::LoginFailed, subject, client, details))
                            .await?;
                    }
                    return Err(OneTimeError::AccountDisabled);
                }
                tracing::info!(
                    ?purposes,
                    outcome = "invalid_or_expired_token",
                    "one-time secret refused"
                );
                Err(OneTimeError::InvalidOrExpired)
            }
            RedeemOutcome::EmailTaken => {
                tracing::info!(
                    outcome = "email_taken",
                    "email change refused: the address was taken meanwhile"
                );
                Err(OneTimeError::EmailTaken)
            }
        }
    }
}
