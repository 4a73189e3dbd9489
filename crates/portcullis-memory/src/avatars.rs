//! The account's side of avatars in memory: which version is current.

use async_trait::async_trait;
use portcullis_domain::{AvatarRefStore, StoreError, TenantId, UserId};

use crate::MemoryStore;

#[async_trait]
impl AvatarRefStore for MemoryStore {
    async fn swap_avatar_version(
        &self,
        tenant: TenantId,
        user: UserId,
        version: Option<&str>,
    ) -> Result<Option<Option<String>>, StoreError> {
        let mut state = self.lock().await?;
        Ok(state
            .account_row_mut(tenant, user)
            .map(|row| std::mem::replace(&mut row.avatar_version, version.map(str::to_owned))))
    }

    async fn avatar_version(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .accounts
            .iter()
            .find(|row| row.id == user && row.disabled_at.is_none())
            .and_then(|row| row.avatar_version.clone()))
    }
}
