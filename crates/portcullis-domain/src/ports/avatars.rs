//! Avatars: an account's current picture is a version on the account (a digest of the image's
//! bytes) and a blob under [`avatar_key`]. Storage that keeps blobs beside accounts (PostgreSQL)
//! writes both in one transaction; any other blob store is combined with the account's version
//! by [`crate::avatars::BlobAvatars`].

use async_trait::async_trait;

use crate::ids::{TenantId, UserId};
use crate::ports::{Blob, StoreError};

/// The blob key of `user`'s avatar of `version`.
pub fn avatar_key(user: UserId, version: &str) -> String {
    format!("{}/{version}", avatar_folder(user))
}

/// The blob folder holding every avatar of `user`.
pub fn avatar_folder(user: UserId) -> String {
    format!("avatars/{user}")
}

/// An avatar to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAvatar {
    /// Its version: the digest of `bytes` and a random part, so every write has a key of its
    /// own (see [`crate::avatars::new_version`]).
    pub version: String,
    /// Its media type.
    pub content_type: String,
    /// The encoded image.
    pub bytes: Vec<u8>,
}

/// What storing an avatar did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvatarWrite {
    /// Stored and made current; the version it replaced, if any (its blob is gone).
    Stored {
        /// The version replaced.
        previous: Option<String>,
    },
    /// The tenant has no such account (nothing was stored).
    NoAccount,
}

/// The account's side of an avatar: which version is current.
#[async_trait]
pub trait AvatarRefStore: Send + Sync {
    /// Makes `version` the account's avatar version (`None` removes it) and returns the one it
    /// replaced; the outer `None` when the tenant has no such account.
    async fn swap_avatar_version(
        &self,
        tenant: TenantId,
        user: UserId,
        version: Option<&str>,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// The avatar version of `user`, when the account exists, is not disabled and has one.
    async fn avatar_version(&self, user: UserId) -> Result<Option<String>, StoreError>;
}

/// Avatars as the use cases see them: the version and the bytes kept in step.
#[async_trait]
pub trait AvatarStore: Send + Sync {
    /// Stores `avatar` and makes it the account's current one; the previous one's bytes are
    /// removed. A failure leaves the previous avatar current and whole.
    async fn set_avatar(&self, tenant: TenantId, user: UserId, avatar: &NewAvatar) -> Result<AvatarWrite, StoreError>;

    /// Removes the account's avatar; the version removed, if there was one.
    async fn remove_avatar(&self, tenant: TenantId, user: UserId) -> Result<Option<String>, StoreError>;

    /// The current avatar version of a live (not disabled) account.
    async fn current_avatar(&self, user: UserId) -> Result<Option<String>, StoreError>;

    /// Removes every stored picture of `user`, whatever its account says (after an erasure, so
    /// no picture outlives its account, even one stored while the erasure ran).
    async fn forget_avatars(&self, user: UserId) -> Result<(), StoreError>;

    /// The current avatar of a live account, version and bytes as one consistent read.
    async fn avatar(&self, user: UserId) -> Result<Option<(String, Blob)>, StoreError>;
}
