//! The outbox, server secrets and readiness in memory.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use portcullis_domain::{ClaimedMail, HealthCheck, OutboxStore, OutgoingMail, SecretStore, StoreError};
use uuid::Uuid;

use crate::MemoryStore;
use crate::state::MailStatus;

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn enqueue(&self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.lock().await?.enqueue(mail, now);
        Ok(())
    }

    async fn claim_due(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> Result<Vec<ClaimedMail>, StoreError> {
        // Leases run on the store's clock, as they run on the database's.
        let own_now = self.clock.now();
        let mut state = self.lock().await?;
        let mut due: Vec<usize> = state
            .outbox
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                row.status == MailStatus::Pending
                    && row.next_attempt_at <= now
                    && row.leased_until.is_none_or(|until| until <= own_now)
            })
            .map(|(i, _)| i)
            .collect();
        due.sort_by_key(|i| (state.outbox[*i].next_attempt_at, state.outbox[*i].mail.id));
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(due
            .into_iter()
            .map(|i| {
                let row = &mut state.outbox[i];
                row.leased_until = Some(own_now + lease);
                ClaimedMail {
                    mail: row.mail.clone(),
                    attempts: row.attempts,
                    created_at: row.created_at,
                    leased_until: own_now + lease,
                }
            })
            .collect())
    }

    async fn mark_sent(&self, id: Uuid, _now: DateTime<Utc>) -> Result<(), StoreError> {
        self.end_attempt(id, MailStatus::Sent, None, None).await
    }

    async fn mark_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.end_attempt(id, MailStatus::Pending, Some(next_attempt_at), Some(error))
            .await
    }

    async fn mark_failed(&self, id: Uuid, _now: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.end_attempt(id, MailStatus::Failed, None, Some(error)).await
    }

    async fn release(&self, claims: &[(Uuid, DateTime<Utc>)]) -> Result<u64, StoreError> {
        let mut state = self.lock().await?;
        let mut released = 0;
        for row in &mut state.outbox {
            let held = claims
                .iter()
                .any(|(id, until)| row.mail.id == *id && row.leased_until == Some(*until));
            if held && row.status == MailStatus::Pending {
                row.leased_until = None;
                released += 1;
            }
        }
        Ok(released)
    }
}

impl MemoryStore {
    /// Records the end of a delivery attempt on a pending mail: counted, unleased, with its
    /// error; a mail that leaves `Pending` forgets its bodies (they hold one-time secrets).
    async fn end_attempt(
        &self,
        id: Uuid,
        status: MailStatus,
        next_attempt_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock().await?;
        if let Some(row) = state
            .outbox
            .iter_mut()
            .find(|r| r.mail.id == id && r.status == MailStatus::Pending)
        {
            row.status = status;
            row.attempts += 1;
            row.leased_until = None;
            if let Some(at) = next_attempt_at {
                row.next_attempt_at = at;
            }
            if let Some(error) = error {
                row.last_error = Some(error.to_owned());
            }
            if status != MailStatus::Pending {
                row.mail.text.clear();
                row.mail.html.clear();
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut state = self.lock().await?;
        Ok(state
            .server_secrets
            .entry(name.to_owned())
            .or_insert_with(|| candidate.to_vec())
            .clone())
    }

    async fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().await?.server_secrets.get(name).cloned())
    }

    async fn put_secret(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut state = self.lock().await?;
        state.server_secrets.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    async fn replace_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        if state.server_secrets.get(name).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        state.server_secrets.insert(name.to_owned(), value.to_vec());
        Ok(true)
    }
}

#[async_trait]
impl HealthCheck for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().await.map(drop)
    }
}
