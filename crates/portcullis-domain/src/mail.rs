//! Outgoing mail: the transport port, the outbox port, and the delivery use case.
//!
//! A mail is written to the outbox in the same transaction as the change that causes it, so it
//! is never lost when the SMTP server is down or the process dies. [`MailDelivery`] claims due
//! mail with a lease (several workers, on several nodes, may run against one database; a claimed
//! mail is invisible to the others until its lease ends), hands it to the [`MailTransport`], and
//! records the outcome: sent, retried later with exponential back-off, or given up with the
//! reason. Each mail carries a stable id that becomes its `Message-ID`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::ids::TenantId;
use crate::ports::StoreError;

/// What a mail is for; also the outbox's `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// Link and code to verify a new account's address.
    SignupVerification,
    /// Someone tried to register with an address that already has an account.
    ExistingAccountNotice,
    /// Link and code to confirm a new address, sent to that address.
    EmailChangeVerification,
    /// A change of address was asked for; sent to the current one.
    EmailChangeRequestedNotice,
    /// The address was changed; sent to the old one.
    EmailChangedNotice,
    /// Link and code to reset a password.
    PasswordReset,
    /// The password was changed.
    PasswordChangedNotice,
    /// Link and code to authorize a login from a new IP address.
    IpAuthorization,
    /// A sign-in from a new IP address happened (policy `notify`).
    NewSignInNotice,
    /// A TOTP code was presented again after it had been used: someone may have seen it.
    TotpReplayNotice,
    /// Wrong codes locked the second factor again and again.
    TotpLockedNotice,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [Self; 11] = [
        Self::SignupVerification,
        Self::ExistingAccountNotice,
        Self::EmailChangeVerification,
        Self::EmailChangeRequestedNotice,
        Self::EmailChangedNotice,
        Self::PasswordReset,
        Self::PasswordChangedNotice,
        Self::IpAuthorization,
        Self::NewSignInNotice,
        Self::TotpReplayNotice,
        Self::TotpLockedNotice,
    ];

    /// Stable name, as stored.
    ///
    /// ```
    /// use portcullis_domain::mail::MailKind;
    /// for kind in MailKind::ALL {
    ///     assert_eq!(MailKind::from_name(kind.name()), Some(kind));
    /// }
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::SignupVerification => "signup_verification",
            Self::ExistingAccountNotice => "existing_account_notice",
            Self::EmailChangeVerification => "email_change_verification",
            Self::EmailChangeRequestedNotice => "email_change_requested_notice",
            Self::EmailChangedNotice => "email_changed_notice",
            Self::PasswordReset => "password_reset",
            Self::PasswordChangedNotice => "password_changed_notice",
            Self::IpAuthorization => "ip_authorization",
            Self::NewSignInNotice => "new_sign_in_notice",
            Self::TotpReplayNotice => "totp_replay_notice",
            Self::TotpLockedNotice => "totp_locked_notice",
        }
    }

    /// The kind with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A rendered mail, ready for the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Outbox id; the transport derives the `Message-ID` from it, so a retried mail keeps its id.
    pub id: Uuid,
    /// Tenant of the account it concerns.
    pub tenant_id: TenantId,
    /// Recipient address.
    pub to: String,
    /// Purpose.
    pub kind: MailKind,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

impl std::fmt::Debug for OutgoingMail {
    // Bodies carry one-time links and codes: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Why a transport could not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: connection refused, timeout, 4xx reply.
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Retrying will not help: 5xx reply, invalid address.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers one mail. Implementations must not retry on their own: the outbox does.
#[async_trait]
pub trait MailTransport: Send + Sync + std::fmt::Debug {
    /// Hands the mail to the next hop.
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError>;
}

/// A mail claimed from the outbox.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    /// The mail.
    pub mail: OutgoingMail,
    /// Delivery attempts before this one.
    pub attempts: u32,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// The outbox: durable, shared by every node.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Enqueues a mail on its own. (Flows enqueue inside their own transaction instead, through
    /// the storage method that makes the change.)
    async fn enqueue(&self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Claims up to `limit` mails that are pending and due at `now` and not leased by another
    /// worker, leasing them for `lease`. Two concurrent calls never return the same mail.
    /// Leases are kept on the storage's own clock, not the callers', so workers whose clocks
    /// disagree still respect each other's claims.
    async fn claim_due(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> Result<Vec<ClaimedMail>, StoreError>;

    /// Records delivery and forgets the bodies (they hold one-time secrets).
    async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records a failed attempt and when to try again.
    async fn mark_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> Result<(), StoreError>;

    /// Gives up: records why and forgets the bodies.
    async fn mark_failed(&self, id: Uuid, now: DateTime<Utc>, error: &str) -> Result<(), StoreError>;
}

/// Retry rules of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure (default 5 s); doubled after each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts (default 10 min).
    pub max_backoff: Duration,
    /// Temporary failures are retried until the mail is this old (default 24 h), then given up.
    pub give_up_after: Duration,
    /// How long a claim holds before another worker may take the mail (default 2 min).
    pub lease: Duration,
    /// Longest one send may take (default 1 min). A claimed mail is only sent while at least
    /// this much of its lease remains (by real elapsed time since the claim), so no lease
    /// lapses mid-send and no two workers send it.
    pub send_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::seconds(5),
            max_backoff: Duration::minutes(10),
            give_up_after: Duration::hours(24),
            lease: Duration::minutes(2),
            send_budget: Duration::minutes(1),
        }
    }
}

impl RetryPolicy {
    /// Wait before the next attempt after `failures` failed ones (1 = the first failure).
    ///
    /// ```
    /// use chrono::Duration;
    /// use portcullis_domain::mail::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert_eq!(p.backoff(1), Duration::seconds(5));
    /// assert_eq!(p.backoff(3), Duration::seconds(20));
    /// assert_eq!(p.backoff(60), Duration::minutes(10));
    /// ```
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let factor = 1i64 << doublings;
        let millis = self.first_backoff.num_milliseconds().saturating_mul(factor);
        Duration::milliseconds(millis).min(self.max_backoff)
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: u32,
    /// Failed for now; scheduled again.
    pub retried: u32,
    /// Given up.
    pub failed: u32,
}

impl DeliveryReport {
    /// Mails handled in the pass.
    pub fn handled(&self) -> u32 {
        self.sent + self.retried + self.failed
    }
}

/// The delivery use case, run by a background worker.
#[derive(Clone)]
pub struct MailDelivery {
    outbox: Arc<dyn OutboxStore>,
    transport: Arc<dyn MailTransport>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for MailDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailDelivery")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl MailDelivery {
    /// Wires the use case.
    pub fn new(
        outbox: Arc<dyn OutboxStore>,
        transport: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            outbox,
            transport,
            clock,
            policy,
        }
    }

    /// Claims a batch of due mail and delivers it, one mail at a time.
    pub async fn run_once(&self, batch: u32) -> Result<DeliveryReport, StoreError> {
        // The lease runs in real time (on the storage's clock), so what is left of it is
        // judged by real elapsed time, from before the claim, never by the business clock.
        let claiming = std::time::Instant::now();
        let claimed = self
            .outbox
            .claim_due(self.clock.now(), self.policy.lease, batch)
            .await?;
        let safe_for = (self.policy.lease - self.policy.send_budget)
            .to_std()
            .unwrap_or_default();
        let mut report = DeliveryReport::default();
        for ClaimedMail {
            mail,
            attempts,
            created_at,
        } in claimed
        {
            if claiming.elapsed() > safe_for {
                // The rest of the batch keeps its lease until it lapses, then any worker takes it.
                tracing::info!(mail_id = %mail.id, "lease too short to send safely; leaving the rest of the batch");
                break;
            }
            let kind = mail.kind.name();
            match self.transport.send(&mail).await {
                Ok(()) => {
                    self.outbox.mark_sent(mail.id, self.clock.now()).await?;
                    tracing::info!(mail_id = %mail.id, kind, attempts = attempts + 1, "mail delivered");
                    report.sent += 1;
                }
                Err(SendError::Temporary(why)) if self.clock.now() - created_at < self.policy.give_up_after => {
                    let next = self.clock.now() + self.policy.backoff(attempts + 1);
                    self.outbox.mark_retry(mail.id, next, &why).await?;
                    tracing::warn!(mail_id = %mail.id, kind, attempts = attempts + 1, error = %why, %next, "mail delivery failed; will retry");
                    report.retried += 1;
                }
                Err(e) => {
                    let why = e.to_string();
                    self.outbox.mark_failed(mail.id, self.clock.now(), &why).await?;
                    tracing::error!(mail_id = %mail.id, kind, attempts = attempts + 1, error = %why, "mail delivery given up");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn backoff_grows_and_is_capped(failures in 0u32..1000) {
            let p = RetryPolicy::default();
            let b = p.backoff(failures);
            prop_assert!(b >= p.first_backoff.min(p.max_backoff));
            prop_assert!(b <= p.max_backoff);
            prop_assert!(p.backoff(failures + 1) >= b);
        }
    }

    #[test]
    fn debug_never_prints_bodies() {
        let mail = OutgoingMail {
            id: Uuid::nil(),
            tenant_id: TenantId::DEFAULT,
            to: "ada@example.com".into(),
            kind: MailKind::PasswordReset,
            subject: "Reset".into(),
            text: "code 123456".into(),
            html: "<p>code 123456</p>".into(),
        };
        assert!(!format!("{mail:?}").contains("123456"));
    }
}
