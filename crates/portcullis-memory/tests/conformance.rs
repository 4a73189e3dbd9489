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
