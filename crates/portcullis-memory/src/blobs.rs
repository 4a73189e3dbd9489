//! Blobs in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis_domain::{Blob, BlobStore, StoreError, valid_blob_key};

/// A [`BlobStore`] in a map: for tests, and nothing durable.
#[derive(Debug, Clone, Default)]
pub struct MemoryBlobs {
    blobs: Arc<Mutex<HashMap<String, Blob>>>,
}

impl MemoryBlobs {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Blob>> {
        self.blobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many blobs are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// [`StoreError::Internal`] unless `key` is one the domain could have made.
pub(crate) fn checked(key: &str) -> Result<&str, StoreError> {
    if valid_blob_key(key) {
        Ok(key)
    } else {
        Err(StoreError::Internal(format!("invalid blob key {key:?}")))
    }
}

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put_blob(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = checked(key)?;
        self.lock().insert(
            key.to_owned(),
            Blob {
                content_type: content_type.to_owned(),
                bytes: bytes.to_vec(),
            },
        );
        Ok(())
    }

    async fn blob(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        Ok(self.lock().get(checked(key)?).cloned())
    }

    async fn delete_blob(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(checked(key)?);
        Ok(())
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), StoreError> {
        let prefix = format!("{}/", checked(folder)?);
        self.lock().retain(|key, _| !key.starts_with(&prefix));
        Ok(())
    }
}
