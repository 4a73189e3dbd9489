//! The outbox and server secrets.

use portcullis_domain::Storage;

use super::fixtures::{mail, secs, t0};

/// Concurrent claims never return the same mail; a claimed mail is invisible until its lease
/// (on the storage's own clock) ends; mail not yet due is not claimed.
pub async fn outbox_claims_never_overlap_and_leases_expire<S: Storage + Clone + 'static>(store: &S) {
    for i in 0..10 {
        store
            .enqueue(&mail(&format!("m{i}@example.com")), t0())
            .await
            .expect("enqueue");
    }
    store
        .enqueue(&mail("later@example.com"), t0() + secs(3600))
        .await
        .expect("enqueue");
    let now = t0() + secs(1);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_due(now, chrono::Duration::milliseconds(300), 4).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("task").expect("claim").into_iter().map(|c| c.mail.id));
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "no mail claimed twice");
    assert_eq!(unique.len(), 10, "every due mail, and only those");
    assert!(
        store.claim_due(now, secs(60), 10).await.expect("claim").is_empty(),
        "leased"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        store.claim_due(now, secs(60), 20).await.expect("claim").len(),
        10,
        "leases ran out"
    );
}

/// A released claim is claimable again at once, attempts uncounted; a release names a claim by
/// its lease, so one that lapsed and was taken by another worker stays with that worker, and
/// sent mail is never released.
pub async fn released_claims_are_claimable_at_once_and_only_under_their_own_lease<S: Storage + Clone + 'static>(
    store: &S,
) {
    for to in ["a@example.com", "b@example.com", "c@example.com"] {
        store.enqueue(&mail(to), t0()).await.expect("enqueue");
    }
    let first = store.claim_due(t0(), secs(600), 10).await.expect("claim");
    assert_eq!(first.len(), 3);
    let sent = &first[0];
    store.mark_sent(sent.mail.id, t0()).await.expect("sent");
    let claims: Vec<_> = first.iter().map(|c| (c.mail.id, c.leased_until)).collect();
    assert_eq!(store.release(&claims).await.expect("release"), 2, "the two unsent ones");
    let again = store
        .claim_due(t0(), chrono::Duration::milliseconds(200), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 2, "claimable at once");
    assert!(again.iter().all(|c| c.attempts == 0), "nothing was tried");
    // The old claims no longer hold these mails: releasing them again gives nothing back.
    assert_eq!(store.release(&claims).await.expect("release"), 0);
    assert!(store.claim_due(t0(), secs(60), 10).await.expect("claim").is_empty());
    assert_eq!(store.release(&[]).await.expect("release"), 0);
}

/// Sent and given-up mail is not claimed again, and loses its bodies; a retried one comes back
/// when due, with its attempts counted.
pub async fn outbox_outcomes_are_recorded<S: Storage + Clone + 'static>(store: &S) {
    for to in ["sent@example.com", "retry@example.com", "failed@example.com"] {
        store.enqueue(&mail(to), t0()).await.expect("enqueue");
    }
    let claimed = store
        .claim_due(t0(), chrono::Duration::milliseconds(1), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 3);
    for c in &claimed {
        assert_eq!(c.attempts, 0);
        assert_eq!(c.mail.text, "text");
        match c.mail.to.as_str() {
            "sent@example.com" => store.mark_sent(c.mail.id, t0()).await.expect("sent"),
            "retry@example.com" => store
                .mark_retry(c.mail.id, t0() + secs(60), "busy")
                .await
                .expect("retry"),
            _ => store
                .mark_failed(c.mail.id, t0(), "no such user")
                .await
                .expect("failed"),
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(
        store
            .claim_due(t0() + secs(30), secs(60), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = store.claim_due(t0() + secs(60), secs(60), 10).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].mail.to, "retry@example.com");
    assert_eq!(again[0].attempts, 1);
}

/// Concurrent first calls for one server secret all get the same value.
/// A secret replaced only from what the writer read: of concurrent read-change-write rounds
/// retried on a lost race, none is lost.
pub async fn a_secret_is_replaced_only_from_what_was_read<S: Storage + Clone + 'static>(store: &S) {
    assert!(store.replace_secret("list", None, b"a").await.expect("create"));
    assert!(
        !store.replace_secret("list", None, b"b").await.expect("taken"),
        "it exists now"
    );
    assert!(!store.replace_secret("list", Some(b"x"), b"b").await.expect("stale"));
    assert_eq!(store.secret("list").await.expect("read").as_deref(), Some(&b"a"[..]));
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    let read = store.secret("list").await.expect("read").expect("the list");
                    let mut next = read.clone();
                    next.push(b'0' + i);
                    if store.replace_secret("list", Some(&read), &next).await.expect("replace") {
                        return;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let mut list = store.secret("list").await.expect("read").expect("the list");
    list.sort_unstable();
    assert_eq!(list, b"01234567a", "every writer's change is there once");
}

pub async fn a_server_secret_is_created_once<S: Storage + Clone + 'static>(store: &S) {
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.get_or_create_secret("conformance_key", &[i; 32]).await })
        })
        .collect();
    let mut values = Vec::new();
    for task in tasks {
        values.push(task.await.expect("task").expect("secret"));
    }
    assert!(values.windows(2).all(|w| w[0] == w[1]), "one value for everyone");
    assert_eq!(
        store
            .get_or_create_secret("conformance_key", &[99; 32])
            .await
            .expect("s"),
        values[0]
    );
    assert_eq!(
        store.secret("conformance_key").await.expect("read"),
        Some(values[0].clone())
    );
    assert_eq!(store.secret("conformance_absent").await.expect("read"), None);
    // A put replaces it, and the next read sees the new value.
    store.put_secret("conformance_key", &[42; 16]).await.expect("put");
    assert_eq!(
        store
            .get_or_create_secret("conformance_key", &[99; 32])
            .await
            .expect("s"),
        vec![42; 16]
    );
    store
        .put_secret("conformance_fresh", &[1; 4])
        .await
        .expect("put a new one");
    assert_eq!(
        store
            .get_or_create_secret("conformance_fresh", &[2; 4])
            .await
            .expect("s"),
        vec![1; 4]
    );
    store.ping().await.expect("ready");
}
