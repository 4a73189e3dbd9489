//! The mail transport and the outbox.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::model::OutgoingMail;
use crate::ports::StoreError;

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
    /// When this claim's lease ends, on the storage's clock, exactly as stored: the token
    /// [`OutboxStore::release`] checks, so a worker never gives back a lease that lapsed and
    /// was taken by another.
    pub leased_until: DateTime<Utc>,
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

    /// Gives back claims this worker will not send (it is stopping): each `(id, leased_until)`
    /// whose mail is still pending under exactly that lease becomes claimable at once, by any
    /// worker, instead of when the lease ends. Returns how many were given back. Attempts are
    /// not counted: nothing was tried.
    async fn release(&self, claims: &[(Uuid, DateTime<Utc>)]) -> Result<u64, StoreError>;
}
