//! The mail outbox against a real PostgreSQL, each test in its own database.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::TenantId;
use portcullis_domain::{MailKind, OutboxStore, OutgoingMail};
use portcullis_postgres::scratch::ScratchDatabase;
use uuid::Uuid;

use portcullis_postgres::scratch::store_from_env as store;

fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

fn mail(n: usize) -> OutgoingMail {
    OutgoingMail {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        to: format!("user{n}@example.com"),
        from: None,
        kind: MailKind::SignupVerification,
        subject: "Verify".into(),
        text: format!("code {n}"),
        html: format!("<p>code {n}</p>"),
    }
}

#[derive(diesel::QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    body_text: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_error: Option<String>,
}

async fn row(db: &ScratchDatabase, id: Uuid) -> Row {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(format!(
        "SELECT status, attempts, body_text, last_error FROM mail_outbox WHERE id = '{id}'"
    ))
    .get_result(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn claim_leases_and_marking_sent_clears_the_body() {
    let (db, store) = store().await;
    let m = mail(1);
    store.enqueue(&m, t0()).await.unwrap();
    let lease = Duration::seconds(1);
    let claimed = store.claim_due(t0(), lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].mail, m, "round-trips");
    assert_eq!(claimed[0].attempts, 0);
    // Leased: nobody else gets it until the lease ends, on the database's clock, even a worker
    // whose own clock runs a day ahead.
    assert!(
        store
            .claim_due(t0() + Duration::days(1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = store.claim_due(t0(), lease, 10).await.unwrap();
    assert_eq!(again.len(), 1, "a worker that died mid-send loses its lease");
    store.mark_sent(m.id, t0() + Duration::seconds(121)).await.unwrap();
    let r = row(&db, m.id).await;
    assert_eq!((r.status.as_str(), r.attempts, r.body_text), ("sent", 1, None));
    assert!(
        store
            .claim_due(t0() + Duration::days(1), Duration::minutes(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn retry_waits_and_failure_records_why() {
    let (db, store) = store().await;
    let m = mail(1);
    store.enqueue(&m, t0()).await.unwrap();
    store.claim_due(t0(), Duration::minutes(2), 10).await.unwrap();
    store
        .mark_retry(m.id, t0() + Duration::seconds(5), "connection refused")
        .await
        .unwrap();
    assert!(
        store
            .claim_due(t0() + Duration::seconds(4), Duration::minutes(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .claim_due(t0() + Duration::seconds(5), Duration::minutes(2), 10)
        .await
        .unwrap();
    assert_eq!(claimed[0].attempts, 1);
    store
        .mark_failed(m.id, t0() + Duration::seconds(6), "550 mailbox unavailable")
        .await
        .unwrap();
    let r = row(&db, m.id).await;
    assert_eq!(r.status, "failed");
    assert_eq!(r.attempts, 2);
    assert_eq!(r.body_text, None);
    assert_eq!(r.last_error.as_deref(), Some("550 mailbox unavailable"));
}

#[tokio::test]
async fn concurrent_claims_never_share_a_mail() {
    let (_db, store) = store().await;
    let store = Arc::new(store);
    for n in 0..40 {
        store.enqueue(&mail(n), t0()).await.unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_due(t0(), Duration::minutes(2), 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|c| c.mail.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(unique.len(), 40, "no mail claimed twice");
}
