//! The storage contract, run against the in-memory store.

use portcullis_memory::MemoryStore;

async fn fresh() -> (MemoryStore, ()) {
    (MemoryStore::new(), ())
}

portcullis_memory::storage_conformance!(fresh);
