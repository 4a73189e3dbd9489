//! Outgoing mail: the transport port, the outbox port, and the delivery use case.
//!
//! A mail is written to the outbox in the same transaction as the change that causes it, so it
//! is never lost when the SMTP server is down or the process dies. [`MailDelivery`] claims due
//! mail with a lease (several workers, on several nodes, may run against one database; a claimed
//! mail is invisible to the others until its lease ends), hands it to the [`MailTransport`], and
//! records the outcome: sent, retried later with exponential back-off, or given up with the
//! reason. Each mail carries a stable id that becomes its `Message-ID`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::ports::{ClaimedMail, MailTransport, OutboxStore, SendError, StoreError};

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
    /// use portcullis_domain::RetryPolicy;
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
    control: DeliveryControl,
}

/// Stops a [`MailDelivery`] from outside the task that runs it, and gives back what it holds.
#[derive(Clone)]
pub struct DeliveryControl {
    outbox: Arc<dyn OutboxStore>,
    stopping: Arc<AtomicBool>,
    /// Claims of the pass in progress that no send has started on yet.
    unstarted: Arc<Mutex<Vec<Claim>>>,
}

/// A claimed mail, named by its id and lease.
type Claim = (Uuid, DateTime<Utc>);

impl std::fmt::Debug for DeliveryControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryControl")
            .field("stopping", &self.stopping.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl DeliveryControl {
    /// Asks the pass in progress to start no further send: it gives back the leases of the
    /// mails it has not started, so another worker sends them at once.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Gives back the claims no send has started on: for a worker abandoned mid-send (its send
    /// outlived the shutdown grace). The mail being sent keeps its lease, so it is not sent
    /// twice while that send may still complete.
    pub async fn release_unstarted(&self) -> Result<u64, StoreError> {
        let claims = std::mem::take(&mut *self.unstarted.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if claims.is_empty() {
            return Ok(0);
        }
        let released = self.outbox.release(&claims).await?;
        tracing::info!(released, "outbox leases given back");
        Ok(released)
    }

    fn hold(&self, claims: Vec<Claim>) {
        *self.unstarted.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = claims;
    }

    /// Marks `id` as started; false when it is no longer held (given back meanwhile).
    fn start(&self, id: Uuid) -> bool {
        let mut held = self.unstarted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = held.len();
        held.retain(|(held_id, _)| *held_id != id);
        held.len() < before
    }
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
        let control = DeliveryControl {
            outbox: outbox.clone(),
            stopping: Arc::new(AtomicBool::new(false)),
            unstarted: Arc::new(Mutex::new(Vec::new())),
        };
        Self {
            outbox,
            transport,
            clock,
            policy,
            control,
        }
    }

    /// The handle that stops this delivery and gives back its claims.
    pub fn control(&self) -> DeliveryControl {
        self.control.clone()
    }

    /// Claims a batch of due mail and delivers it, one mail at a time.
    pub async fn run_once(&self, batch: u32) -> Result<DeliveryReport, StoreError> {
        // The lease runs in real time (on the storage's clock), so what is left of it is
        // judged by real elapsed time, from before the claim, never by the business clock.
        let claiming = std::time::Instant::now();
        if self.control.is_stopping() {
            return Ok(DeliveryReport::default());
        }
        let claimed = self
            .outbox
            .claim_due(self.clock.now(), self.policy.lease, batch)
            .await?;
        let safe_for = (self.policy.lease - self.policy.send_budget)
            .to_std()
            .unwrap_or_default();
        let mut report = DeliveryReport::default();
        self.control
            .hold(claimed.iter().map(|c| (c.mail.id, c.leased_until)).collect());
        for ClaimedMail {
            mail,
            attempts,
            created_at,
            ..
        } in claimed
        {
            if self.control.is_stopping() {
                break;
            }
            if claiming.elapsed() > safe_for {
                // Given back below: any worker takes the rest at once, with a fresh lease.
                tracing::info!(mail_id = %mail.id, "lease too short to send safely; giving back the rest of the batch");
                break;
            }
            if !self.control.start(mail.id) {
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
        self.control.release_unstarted().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::{MailKind, OutgoingMail};
    use proptest::prelude::*;
    use uuid::Uuid;

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
            from: None,
            kind: MailKind::PasswordReset,
            subject: "Reset".into(),
            text: "code 123456".into(),
            html: "<p>code 123456</p>".into(),
        };
        assert!(!format!("{mail:?}").contains("123456"));
    }
}
