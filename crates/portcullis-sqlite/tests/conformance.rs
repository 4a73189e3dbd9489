//! The storage contract (`portcullis_memory::conformance`) on SQLite: once on a private
//! in-memory database, once on a file in write-ahead-log mode.

use portcullis_sqlite::{SqliteSettings, SqliteStore};

/// A fresh migrated database in a file of its own, in a directory removed with the guard.
async fn fresh_file() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("portcullis.db").display());
    portcullis_sqlite::run_migrations(&url).await.expect("migrating");
    let store = SqliteStore::open(&SqliteSettings::new(url))
        .await
        .expect("opening the database");
    (store, dir)
}

async fn fresh_memory() -> (SqliteStore, ()) {
    (SqliteStore::in_memory().await.expect("an in-memory database"), ())
}

mod file {
    use super::fresh_file;
    portcullis_memory::storage_conformance!(fresh_file);
}

mod memory {
    use super::fresh_memory;
    portcullis_memory::storage_conformance!(fresh_memory);
}

mod blobs {
    use super::{fresh_file, fresh_memory};

    mod file {
        use super::fresh_file;
        portcullis_memory::blob_conformance!(fresh_file);
    }

    mod memory {
        use super::fresh_memory;
        portcullis_memory::blob_conformance!(fresh_memory);
    }
}

mod avatars {
    use portcullis_sqlite::SqliteStore;

    async fn fresh() -> (SqliteStore, SqliteStore, SqliteStore, tempfile::TempDir) {
        let (store, dir) = super::fresh_file().await;
        (store.clone(), store.clone(), store, dir)
    }

    portcullis_memory::avatar_conformance!(fresh);

    /// However an account row goes, its avatar bytes go with it (a trigger, as on PostgreSQL).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_an_account_deletes_its_avatar_blobs() {
        let (store, _, _, _dir) = fresh().await;
        portcullis_memory::conformance::avatars::deleting_an_account_deletes_its_avatar_blobs(&store).await;
    }
}
