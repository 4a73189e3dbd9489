//! A port call whose caller goes away (a client that hung up, a timeout) on a current-thread
//! runtime, as actix's workers are: nothing panics, and the next call works.

use std::time::Duration;

use portcullis_sqlite::{SqliteSettings, SqliteStore};

async fn dropped_calls_leave_the_store_working(store: &SqliteStore) {
    let mut cut_short = 0;
    for wait in (0..200).map(|n| Duration::from_micros(n % 40 * 5)) {
        if tokio::time::timeout(wait, store.outbox_backlog()).await.is_err() {
            cut_short += 1;
        }
        let backlog = store.outbox_backlog().await.expect("the next call works");
        assert_eq!(backlog.pending, 0);
    }
    assert!(cut_short > 0, "some calls were dropped mid-way");
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("cancel.db").display());
    portcullis_sqlite::run_migrations(&url).await.expect("migrating");
    let store = SqliteStore::open(&SqliteSettings::new(url)).await.expect("opening");
    dropped_calls_leave_the_store_working(&store).await;
}

#[tokio::test(flavor = "current_thread")]
async fn in_memory() {
    let store = SqliteStore::in_memory().await.expect("opening");
    dropped_calls_leave_the_store_working(&store).await;
}
