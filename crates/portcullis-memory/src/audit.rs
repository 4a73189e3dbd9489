//! The audit trail in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::model::{AuditEvent, EventQuery};
use portcullis_domain::{AuditStore, StoreError};

use crate::MemoryStore;

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_events(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.lock().await?.events.extend(events.iter().cloned());
        Ok(())
    }

    async fn events(&self, q: &EventQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.lock().await?;
        let mut found: Vec<AuditEvent> = state
            .events
            .iter()
            .filter(|e| e.tenant_id == q.tenant)
            .filter(|e| q.user.is_none_or(|u| e.user_id == Some(u)))
            .filter(|e| q.types.is_empty() || q.types.contains(&e.kind))
            .filter(|e| q.since.is_none_or(|t| e.at >= t))
            .filter(|e| q.until.is_none_or(|t| e.at < t))
            .filter(|e| q.before.is_none_or(|b| e.id < b))
            .cloned()
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.id));
        found.truncate(q.limit as usize);
        Ok(found)
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.lock().await?;
        let was = state.events.len();
        state.events.retain(|e| e.at >= before);
        Ok((was - state.events.len()) as u64)
    }
}
