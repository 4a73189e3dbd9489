//! The blob and avatar contracts, run against a directory.

use std::path::PathBuf;
use std::sync::Arc;

use portcullis_files::DirectoryBlobs;

/// A directory removed when the test ends.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("portcullis-blobs-{}", uuid::Uuid::now_v7())))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn fresh() -> (DirectoryBlobs, ScratchDir) {
    let dir = ScratchDir::new();
    let store = DirectoryBlobs::open(dir.0.clone()).await.expect("open the directory");
    (store, dir)
}

portcullis_memory::blob_conformance!(fresh);

mod avatars {
    use super::*;
    use portcullis_domain::avatars::BlobAvatars;
    use portcullis_memory::MemoryStore;

    async fn fresh() -> (MemoryStore, BlobAvatars, DirectoryBlobs, ScratchDir) {
        let (blobs, dir) = super::fresh().await;
        let store = MemoryStore::new();
        let avatars = BlobAvatars::new(Arc::new(store.clone()), Arc::new(blobs.clone()));
        (store, avatars, blobs, dir)
    }

    portcullis_memory::avatar_conformance!(fresh);
}

#[tokio::test]
async fn nothing_is_left_but_the_blob_and_writes_land_inside_the_directory() {
    use portcullis_domain::BlobStore;
    let (store, dir) = fresh().await;
    store.put_blob("a/b/c.jpg", "image/jpeg", b"xyz").await.expect("put");
    let mut names: Vec<String> = std::fs::read_dir(dir.0.join("a/b"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["c.jpg"], "no temporary file survives a write");
    assert_eq!(
        std::fs::read(dir.0.join("a/b/c.jpg")).expect("read"),
        b"image/jpeg\nxyz"
    );
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_is_refused_at_open() {
    let dir = ScratchDir::new();
    std::fs::write(&dir.0, b"a file, not a directory").expect("write");
    assert!(DirectoryBlobs::open(dir.0.join("inside")).await.is_err());
}
