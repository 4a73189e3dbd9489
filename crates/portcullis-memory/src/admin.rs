//! Admin keys, and the refresh-token lookup of introspection, in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::admin_key::{AdminKey, NewAdminKey};
use portcullis_domain::{AdminKeyStore, Session, StoreError, TenantWriteError, TokenHash};

use crate::MemoryStore;
use crate::state::AdminKeyRow;

impl crate::state::State {
    fn admin_key_of(&self, row: &AdminKeyRow) -> AdminKey {
        AdminKey {
            id: row.new.id,
            name: row.new.name.clone(),
            tenant: row.new.tenant.and_then(|t| self.tenant(t).cloned()),
            introspect_only: row.new.introspect_only,
            created_at: row.new.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

#[async_trait]
impl AdminKeyStore for MemoryStore {
    async fn insert_admin_key(&self, key: &NewAdminKey) -> Result<AdminKey, TenantWriteError> {
        let mut state = self.lock().await?;
        if key.tenant.is_some_and(|t| state.tenant(t).is_none()) {
            return Err(TenantWriteError::UnknownTenant);
        }
        let row = AdminKeyRow {
            new: key.clone(),
            revoked_at: None,
        };
        state.admin_keys.push(row.clone());
        Ok(state.admin_key_of(&row))
    }

    async fn admin_keys(&self) -> Result<Vec<AdminKey>, StoreError> {
        let state = self.lock().await?;
        let mut keys: Vec<AdminKey> = state.admin_keys.iter().map(|r| state.admin_key_of(r)).collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }

    async fn revoke_admin_key(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let live = state
            .admin_keys
            .iter_mut()
            .find(|r| r.new.id == id && r.revoked_at.is_none());
        Ok(live.map(|r| r.revoked_at = Some(now)).is_some())
    }

    async fn live_admin_key(&self, hash: &TokenHash) -> Result<Option<AdminKey>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .admin_keys
            .iter()
            .find(|r| r.new.hash == *hash && r.revoked_at.is_none())
            .map(|r| state.admin_key_of(r)))
    }

    async fn session_of_refresh_token(&self, hash: &TokenHash) -> Result<Option<Session>, StoreError> {
        let state = self.lock().await?;
        let Some(head) = state.refresh_tokens.get(hash).filter(|r| r.superseded_at.is_none()) else {
            return Ok(None);
        };
        Ok(state
            .sessions
            .iter()
            .find(|s| s.session.id == head.session)
            .filter(|s| !state.is_disabled(s.session.tenant_id, s.session.user_id))
            .map(|s| s.session.clone()))
    }
}
