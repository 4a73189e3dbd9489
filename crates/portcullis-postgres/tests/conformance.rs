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

mod avatars {
    use portcullis_postgres::PgStore;
    use portcullis_postgres::scratch::ScratchDatabase;

    async fn fresh() -> (PgStore, PgStore, PgStore, ScratchDatabase) {
        let (db, store) = portcullis_postgres::scratch::store_from_env().await;
        (store.clone(), store.clone(), store, db)
    }

    portcullis_memory::avatar_conformance!(fresh);

    /// However an account row goes, its avatar bytes go with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_an_account_deletes_its_avatar_blobs() {
        let (store, _, _, _db) = fresh().await;
        portcullis_memory::conformance::avatars::deleting_an_account_deletes_its_avatar_blobs(&store).await;
    }
}
