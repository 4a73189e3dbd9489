//! The audit trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{AuditEvent, EventQuery};
use crate::ports::StoreError;

/// Audit events. Events that record a change are written by the storage method that makes the
/// change, in its transaction (see [`NewSession::events`](crate::model::NewSession::events)
/// and [`UserAdminStore::set_disabled`](crate::ports::UserAdminStore::set_disabled)); these
/// methods append events that record a decision alone (a refused login) and read them.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends events that go with no other change.
    async fn append_events(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// The events `query` selects, newest first (by id, which grows with time): a page of
    /// them never shifts under inserts of newer events.
    async fn events(&self, query: &EventQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes events older than `before`; how many.
    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
