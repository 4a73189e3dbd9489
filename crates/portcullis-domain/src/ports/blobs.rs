//! Blobs: bytes stored under a key, as an object store keeps them (PostgreSQL, a directory on a
//! shared volume, or an S3-compatible bucket). Keys are made by the domain, never by a client:
//! lowercase ASCII letters, digits, `-`, `_`, `.` and `/` separating non-empty segments, at most
//! [`MAX_BLOB_KEY`] bytes ([`valid_blob_key`]); adapters refuse anything else.

use async_trait::async_trait;

use crate::ports::StoreError;

/// Longest key.
pub const MAX_BLOB_KEY: usize = 200;

/// Whether `key` is a key the domain could have made (so no adapter can be made to write
/// outside its place: no `..`, no leading `/`, no empty segment, nothing but a safe alphabet).
pub fn valid_blob_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_BLOB_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// `key`, or [`StoreError::Internal`] when it is not one the domain could have made (what every
/// adapter checks before it uses a key).
pub fn checked_blob_key(key: &str) -> Result<&str, StoreError> {
    if valid_blob_key(key) {
        Ok(key)
    } else {
        Err(StoreError::Internal(format!("invalid blob key {key:?}")))
    }
}

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its media type, as stored.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Where blobs are kept. Writing a key that exists replaces it whole (readers see the old or
/// the new bytes, never a mix); deleting one that does not exist is not an error.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key`.
    async fn put_blob(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), StoreError>;

    /// The blob under `key`, if any.
    async fn blob(&self, key: &str) -> Result<Option<Blob>, StoreError>;

    /// Removes the blob under `key`, if any.
    async fn delete_blob(&self, key: &str) -> Result<(), StoreError>;

    /// Removes every blob whose key starts with `folder` and `/` (`folder` is a valid key; a
    /// blob named `folder` itself, or keys that merely start with the same letters, stay).
    async fn delete_folder(&self, folder: &str) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_what_the_domain_makes_and_nothing_that_escapes() {
        for ok in [
            "avatars/0190f0a0-0000-7000-8000-000000000000/3f2a.jpg",
            "a",
            "a/b_c-d.e",
        ] {
            assert!(valid_blob_key(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a/",
            "A",
            "a b",
            "a\\b",
            "a\0b",
            "é",
            &"a".repeat(MAX_BLOB_KEY + 1),
        ] {
            assert!(!valid_blob_key(bad), "{bad:?}");
        }
    }
}
