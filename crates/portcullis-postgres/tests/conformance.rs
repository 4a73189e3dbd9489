//! The storage contract every adapter passes (`portcullis_memory::conformance`), run against
//! PostgreSQL (`DATABASE_URL`), each test in a database of its own.

use portcullis_postgres::PgStore;
use portcullis_postgres::scratch::ScratchDatabase;

async fn fresh() -> (PgStore, ScratchDatabase) {
    let (db, store) = portcullis_postgres::scratch::store_from_env().await;
    (store, db)
}

portcullis_memory::storage_conformance!(fresh);

mod blobs {
    use portcullis_postgres::PgStore;
    use portcullis_postgres::scratch::ScratchDatabase;

    async fn fresh() -> (PgStore, ScratchDatabase) {
        let (db, store) = portcullis_postgres::scratch::store_from_env().await;
        (store, db)
    }

    portcullis_memory::blob_conformance!(fresh);
}
