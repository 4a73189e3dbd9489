//! The storage and blob contracts, run against the in-memory stores.

use portcullis_memory::MemoryStore;

async fn fresh() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

portcullis_memory::storage_conformance!(fresh);

mod blobs {
    use portcullis_memory::MemoryBlobs;

    async fn fresh() -> (MemoryBlobs, ()) {
        (MemoryBlobs::new(), ())
    }

    portcullis_memory::blob_conformance!(fresh);
}

mod avatars {
    use std::sync::Arc;

    use portcullis_domain::avatars::BlobAvatars;
    use portcullis_memory::{MemoryBlobs, MemoryStore};

    async fn fresh() -> (MemoryStore, BlobAvatars, MemoryBlobs, ()) {
        let store = MemoryStore::new();
        let blobs = MemoryBlobs::new();
        let avatars = BlobAvatars::new(Arc::new(store.clone()), Arc::new(blobs.clone()));
        (store, avatars, blobs, ())
    }

    portcullis_memory::avatar_conformance!(fresh);
}
