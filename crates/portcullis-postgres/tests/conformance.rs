//! The storage contract every adapter passes (`portcullis_memory::conformance`), run against
//! PostgreSQL (`DATABASE_URL`), each test in a database of its own.

use portcullis_postgres::scratch::ScratchDatabase;
use portcullis_postgres::{PgSettings, PgStore};

async fn fresh() -> (PgStore, ScratchDatabase) {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server (scripts/test.sh sets it)");
    let db = ScratchDatabase::create(&url).await.expect("scratch database");
    let store = PgStore::connect(&PgSettings::new(db.url())).expect("pool");
    (store, db)
}

portcullis_memory::storage_conformance!(fresh);
