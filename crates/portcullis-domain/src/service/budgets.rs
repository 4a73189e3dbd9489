//! Limits the use cases apply: requests per signed-in account, and mail per recipient.

use crate::identity::Email;
use crate::ids::TenantId;
use crate::model::Principal;
use crate::service::base::AuthService;

/// A signed-in caller held back by their account's own budgets.
#[derive(Debug, thiserror::Error)]
pub enum OverBudget {
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
}

impl AuthService {
    /// Counts a request of a signed-in account against `limit` (keyed by the account);
    /// [`OverBudget::RateLimited`] when the account is over it.
    pub(crate) async fn account_request(
        &self,
        limit: crate::limits::Limit,
        principal: &Principal,
    ) -> Result<(), OverBudget> {
        let key = format!("{}:{}", principal.claims.tid, principal.claims.sub);
        match self.deps.limiter.hit(limit, &key).await {
            crate::limits::RateDecision::Limited { retry_after, .. } => {
                tracing::warn!(user_id = %principal.claims.sub, limit = limit.name(), "request refused: account over its limit");
                Err(OverBudget::RateLimited { retry_after })
            }
            _ => Ok(()),
        }
    }

    /// Whether a mail that anyone could trigger (signup verification, existing-account notice,
    /// resend, reset, TOTP replay notice), or that goes to an address the account does not own
    /// (an email change's confirmation), may go to `to` now, under the per-recipient limits;
    /// counts it if so. Security notices to an account's own address are not limited: an owner
    /// must always hear about changes to their account.
    pub(crate) async fn may_mail(&self, tenant: TenantId, to: &Email) -> bool {
        self.mail_budget(tenant, to).await.is_ok()
    }

    /// [`Self::may_mail`], with how long until the next mail to `to` may go when it may not.
    pub(crate) async fn mail_budget(&self, tenant: TenantId, to: &Email) -> Result<(), std::time::Duration> {
        use crate::limits::{Limit, RateDecision};
        // The mailbox is the thing protected, and it is the same mailbox under every tenant.
        let key = to.normalized();
        let limiter = &self.deps.limiter;
        // The daily limit is checked first without spending, so a refused mail does not use
        // up the minute's allowance, nor a minute-refused one the day's.
        let refused = match limiter.held_back(Limit::MailPerDay, key).await {
            Some(wait) => Some(wait),
            None => match limiter.hit(Limit::MailPerMinute, key).await {
                RateDecision::Limited { retry_after, .. } => Some(retry_after),
                _ => match limiter.hit(Limit::MailPerDay, key).await {
                    RateDecision::Limited { retry_after, .. } => Some(retry_after),
                    _ => None,
                },
            },
        };
        match refused {
            Some(wait) => {
                tracing::info!(tenant_id = %tenant, "mail not sent: recipient limit reached");
                Err(wait)
            }
            None => Ok(()),
        }
    }
}
