//! Blobs as files under one directory: each blob is one file at its key's path, holding its
//! media type on the first line and its bytes after. A write goes to a temporary file in the
//! same directory, is flushed to disk, and is renamed over the old one, so a reader (on this
//! node or another one sharing the volume) sees the old blob or the new one, never a part.
//! Keys are checked with [`checked_blob_key`] before any path is made from them, so nothing is
//! read or written outside the directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use portcullis_domain::{Blob, BlobStore, StoreError, checked_blob_key};
use tokio::io::AsyncWriteExt;

/// Longest media type stored (they are ours, `image/jpeg` and the like).
const MAX_CONTENT_TYPE: usize = 100;

/// A [`BlobStore`] in a directory.
#[derive(Debug, Clone)]
pub struct DirectoryBlobs {
    root: PathBuf,
}

impl DirectoryBlobs {
    /// Uses `root`, creating it if needed; fails when it cannot be created or written.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| io_error(&root, &e))?;
        let store = Self { root };
        // Fail at start, not at the first upload, when the directory is read-only.
        let probe = store.temp_path(&store.root);
        tokio::fs::write(&probe, b"").await.map_err(|e| io_error(&probe, &e))?;
        tokio::fs::remove_file(&probe).await.map_err(|e| io_error(&probe, &e))?;
        Ok(store)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        Ok(self.root.join(checked_blob_key(key)?))
    }

    /// A fresh temporary name in `dir`, unique across the nodes sharing the volume (a random
    /// UUID: containers often all run as process 1). Keys could name it, but the domain makes
    /// none that starts with `.tmp-`.
    fn temp_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!(".tmp-{}", uuid::Uuid::now_v7().simple()))
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> StoreError {
    let message = format!("{}: {e}", path.display());
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted => {
            StoreError::Unavailable(message)
        }
        _ => StoreError::Internal(message),
    }
}

#[async_trait]
impl BlobStore for DirectoryBlobs {
    async fn put_blob(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(key)?;
        if content_type.len() > MAX_CONTENT_TYPE || content_type.contains(['\n', '\r']) {
            return Err(StoreError::Internal(format!("invalid content type {content_type:?}")));
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await.map_err(|e| io_error(&dir, &e))?;
        let temp = self.temp_path(&dir);
        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .await?;
            file.write_all(content_type.as_bytes()).await?;
            file.write_all(b"\n").await?;
            file.write_all(bytes).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&temp, &path).await?;
            // The rename itself is durable once the directory is.
            tokio::fs::File::open(&dir).await?.sync_all().await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(io_error(&path, &e));
        }
        Ok(())
    }

    async fn blob(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let path = self.path(key)?;
        let mut raw = match tokio::fs::read(&path).await {
            Ok(raw) => raw,
            // A directory at the key's path is a prefix of other keys, not a blob.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) =>
            {
                return Ok(None);
            }
            Err(e) if path.is_dir() => {
                tracing::debug!(error = %e, "a key's path is a directory");
                return Ok(None);
            }
            Err(e) => return Err(io_error(&path, &e)),
        };
        let Some(newline) = raw.iter().take(MAX_CONTENT_TYPE + 1).position(|b| *b == b'\n') else {
            return Err(StoreError::Internal(format!("{}: not a blob file", path.display())));
        };
        let content_type = String::from_utf8(raw[..newline].to_vec())
            .map_err(|_| StoreError::Internal(format!("{}: not a blob file", path.display())))?;
        raw.drain(..=newline);
        Ok(Some(Blob {
            content_type,
            bytes: raw,
        }))
    }

    async fn delete_blob(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, &e)),
        }
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), StoreError> {
        let path = self.path(folder)?;
        match tokio::fs::symlink_metadata(&path).await {
            // Only a real directory: a blob named `folder` stays, and a link is not followed.
            Ok(meta) if meta.is_dir() => tokio::fs::remove_dir_all(&path)
                .await
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|e| io_error(&path, &e)),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, &e)),
        }
    }
}
