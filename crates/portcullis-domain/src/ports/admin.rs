//! Admin keys, and what introspection needs to read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::admin_key::{AdminKey, NewAdminKey};
use crate::model::Session;
use crate::ports::{StoreError, TenantWriteError};
use crate::refresh::TokenHash;

/// Admin keys.
#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    /// Stores a key. A tenant that does not exist is [`TenantWriteError::UnknownTenant`].
    async fn insert_admin_key(&self, key: &NewAdminKey) -> Result<AdminKey, TenantWriteError>;

    /// Every key, revoked ones too, oldest first.
    async fn admin_keys(&self) -> Result<Vec<AdminKey>, StoreError>;

    /// Revokes a key; whether a live one had this id.
    async fn revoke_admin_key(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The live (unrevoked) key with this hash.
    async fn live_admin_key(&self, hash: &TokenHash) -> Result<Option<AdminKey>, StoreError>;

    /// The session of the refresh token with this hash, if that token is the head of its chain
    /// (not superseded) and its account is not disabled.
    async fn session_of_refresh_token(&self, hash: &TokenHash) -> Result<Option<Session>, StoreError>;
}
