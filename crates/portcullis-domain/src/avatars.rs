//! Avatars kept in any [`BlobStore`] beside the account's version in storage: the blob is
//! written first under a key of its own version, then the account is pointed at it, then the
//! previous blob is removed; so a reader never meets a current version without its bytes, and
//! a failure in between leaves at worst an unreferenced blob (removed at once when possible).

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::ids::{TenantId, UserId};
use crate::ports::{AvatarRefStore, AvatarStore, AvatarWrite, Blob, BlobStore, NewAvatar, StoreError, avatar_key};

/// The version of an avatar with these bytes: the first 16 bytes of their SHA-256, in hex (the
/// same picture has the same version, and so the same URL and `ETag`, on every node).
pub fn avatar_version(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// [`AvatarStore`] on an account store and a separate blob store (a directory on a shared
/// volume, an object store).
#[derive(Clone)]
pub struct BlobAvatars {
    refs: Arc<dyn AvatarRefStore>,
    blobs: Arc<dyn BlobStore>,
}

impl std::fmt::Debug for BlobAvatars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobAvatars").finish_non_exhaustive()
    }
}

impl BlobAvatars {
    /// Combines the two.
    pub fn new(refs: Arc<dyn AvatarRefStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { refs, blobs }
    }

    /// Removes the blob of a version no account points at any more; a failure is logged, not
    /// returned (the change it followed has happened).
    async fn drop_blob(&self, user: UserId, version: &str) {
        if let Err(e) = self.blobs.delete_blob(&avatar_key(user, version)).await {
            tracing::warn!(user_id = %user, error = %e, "an unreferenced avatar blob could not be removed");
        }
    }
}

#[async_trait]
impl AvatarStore for BlobAvatars {
    async fn set_avatar(&self, tenant: TenantId, user: UserId, avatar: &NewAvatar) -> Result<AvatarWrite, StoreError> {
        let key = avatar_key(user, &avatar.version);
        self.blobs.put_blob(&key, &avatar.content_type, &avatar.bytes).await?;
        let swapped = self.refs.swap_avatar_version(tenant, user, Some(&avatar.version)).await;
        match swapped {
            Ok(Some(previous)) => {
                if let Some(old) = previous.as_deref().filter(|old| *old != avatar.version) {
                    self.drop_blob(user, old).await;
                }
                Ok(AvatarWrite::Stored { previous })
            }
            Ok(None) => {
                self.drop_blob(user, &avatar.version).await;
                Ok(AvatarWrite::NoAccount)
            }
            Err(e) => {
                // The account may or may not point at the new version now (the write may have
                // landed before the failure was seen): keep the blob, which is then referenced
                // or merely unreferenced, rather than risk a current version without bytes.
                Err(e)
            }
        }
    }

    async fn remove_avatar(&self, tenant: TenantId, user: UserId) -> Result<Option<String>, StoreError> {
        let removed = self.refs.swap_avatar_version(tenant, user, None).await?.flatten();
        if let Some(old) = &removed {
            self.drop_blob(user, old).await;
        }
        Ok(removed)
    }

    async fn current_avatar(&self, user: UserId) -> Result<Option<String>, StoreError> {
        self.refs.avatar_version(user).await
    }

    async fn avatar_blob(&self, user: UserId, version: &str) -> Result<Option<Blob>, StoreError> {
        self.blobs.blob(&avatar_key(user, version)).await
    }
}

#[cfg(test)]
mod tests {
    use super::avatar_version;

    #[test]
    fn versions_are_short_hex_digests_of_the_bytes() {
        let v = avatar_version(b"picture");
        assert_eq!(v.len(), 32);
        assert!(v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(v, avatar_version(b"picture"));
        assert_ne!(v, avatar_version(b"picture2"));
        assert!(crate::ports::valid_blob_key(&crate::ports::avatar_key(
            crate::UserId::from_uuid(uuid::Uuid::from_u128(7)),
            &v
        )));
    }
}
