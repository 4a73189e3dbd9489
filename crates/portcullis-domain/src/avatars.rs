//! Avatars kept in any [`BlobStore`] beside the account's version in storage: the blob is
//! written first under a key of its own version, then the account is pointed at it, then the
//! previous blob is removed; so a reader never meets a current version without its bytes, and
//! a failure in between leaves at worst an unreferenced blob (removed at once when possible).

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::ids::{TenantId, UserId};
use crate::ports::{
    AvatarRefStore, AvatarStore, AvatarWrite, Blob, BlobStore, NewAvatar, StoreError, avatar_folder, avatar_key,
};

/// The content tag of a picture: the first 16 bytes of its SHA-256, in hex (its `ETag`: the
/// same picture has the same tag on every node).
pub fn content_tag(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes)[..16])
}

/// The version of a newly stored picture: its content tag, `-`, and 8 random bytes in hex. Each
/// write gets a blob key of its own, so no write can remove or overwrite the bytes another
/// write (or a removal racing it) depends on, even for the same picture.
pub fn new_version(bytes: &[u8], random: [u8; 8]) -> String {
    format!("{}-{}", content_tag(bytes), hex(&random))
}

/// The content tag a version carries (its `ETag`).
pub fn tag_of(version: &str) -> &str {
    version.split_once('-').map_or(version, |(tag, _)| tag)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    async fn forget_avatars(&self, user: UserId) -> Result<(), StoreError> {
        self.blobs.delete_folder(&avatar_folder(user)).await
    }

    async fn avatar(&self, user: UserId) -> Result<Option<(String, Blob)>, StoreError> {
        // A replacement between reading the version and reading its bytes removes those
        // bytes: read the new version once more then.
        for _ in 0..2 {
            let Some(version) = self.refs.avatar_version(user).await? else {
                return Ok(None);
            };
            if let Some(blob) = self.blobs.blob(&avatar_key(user, &version)).await? {
                return Ok(Some((version, blob)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::{content_tag, new_version, tag_of};

    #[test]
    fn versions_carry_the_content_tag_and_are_unique_per_write() {
        let tag = content_tag(b"picture");
        assert_eq!(tag.len(), 32);
        assert!(tag.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_ne!(tag, content_tag(b"picture2"));
        let v = new_version(b"picture", [1; 8]);
        assert_eq!(v, format!("{tag}-0101010101010101"));
        assert_eq!(tag_of(&v), tag);
        assert_ne!(v, new_version(b"picture", [2; 8]), "the same picture, another write");
        assert!(crate::ports::valid_blob_key(&crate::ports::avatar_key(
            crate::UserId::from_uuid(uuid::Uuid::from_u128(7)),
            &v
        )));
    }
}
