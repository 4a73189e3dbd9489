//! Blobs in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis_domain::{Blob, BlobStore, StoreError, checked_blob_key};

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

#[async_trait]
impl BlobStore for MemoryBlobs {
    async fn put_blob(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = checked_blob_key(key)?;
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
        Ok(self.lock().get(checked_blob_key(key)?).cloned())
    }

    async fn delete_blob(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(checked_blob_key(key)?);
        Ok(())
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), StoreError> {
        let prefix = format!("{}/", checked_blob_key(folder)?);
        self.lock().retain(|key, _| !key.starts_with(&prefix));
        Ok(())
    }
}
