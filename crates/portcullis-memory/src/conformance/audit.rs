//! Contract tests of [`AuditStore`] and of events written with the change they record.

use portcullis_domain::model::{EventQuery, EventType};
use portcullis_domain::{Storage, TenantId};

use super::fixtures::{event, events_query, new_account, new_session, secs, t0};

fn query() -> EventQuery {
    events_query(None, Vec::new())
}

/// Pages come newest first, filtered by user, type and time, and a page read before newer
/// events arrived continues where it stopped; events round-trip field for field; the purge
/// deletes only what is older than its bound.
pub async fn audit_events_page_newest_first_and_filter<S: Storage + Clone + 'static>(store: &S) {
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    let mut written = Vec::new();
    for n in 0..6 {
        let (kind, user) = if n % 2 == 0 {
            (EventType::LoginFailed, None)
        } else {
            (EventType::LoginSucceeded, Some(ada.id))
        };
        let e = event(kind, user, t0() + secs(n));
        store.append_events(std::slice::from_ref(&e)).await.expect("append");
        written.push(e);
    }
    let all = store.events(&query()).await.expect("read");
    let newest_first: Vec<_> = written.iter().rev().cloned().collect();
    assert_eq!(all, newest_first, "every field kept, newest first");

    let first = store.events(&EventQuery { limit: 2, ..query() }).await.expect("read");
    // Newer events arrive between two pages.
    store
        .append_events(&[event(EventType::LoginFailed, None, t0() + secs(60))])
        .await
        .expect("append");
    let next = EventQuery {
        limit: 2,
        before: Some(first[1].id),
        ..query()
    };
    let second = store.events(&next).await.expect("read");
    assert_eq!(
        second,
        newest_first[2..4].to_vec(),
        "the next page is unmoved by newer events"
    );

    let of_ada = store
        .events(&EventQuery {
            user: Some(ada.id),
            ..query()
        })
        .await
        .expect("read");
    assert_eq!(of_ada.len(), 3);
    let failed = EventQuery {
        types: vec![EventType::LoginFailed],
        since: Some(t0() + secs(2)),
        until: Some(t0() + secs(60)),
        ..query()
    };
    let times: Vec<_> = store
        .events(&failed)
        .await
        .expect("read")
        .iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(times, [t0() + secs(4), t0() + secs(2)]);
    let elsewhere = EventQuery {
        tenant: TenantId::from_uuid(uuid::Uuid::now_v7()),
        ..query()
    };
    assert!(store.events(&elsewhere).await.expect("read").is_empty());

    assert_eq!(store.purge_events(t0() + secs(3)).await.expect("purge"), 3);
    assert_eq!(store.events(&query()).await.expect("read").len(), 4);
}

/// A session's events are stored with it, and none with a session that was not stored.
pub async fn a_sessions_events_are_written_with_it_or_not_at_all<S: Storage + Clone + 'static>(store: &S) {
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    store.insert_session(new_session(ada.id, t0())).await.expect("session");
    let logins = EventQuery {
        types: vec![EventType::LoginSucceeded],
        ..query()
    };
    assert_eq!(store.events(&logins).await.expect("read").len(), 1);
    // An account insert that fails (a taken address) stores neither its session nor the
    // session's events.
    let again = new_account("ada@example.com");
    let first = new_session(again.id, t0());
    assert!(store.insert_account(again, Some(first)).await.is_err());
    assert_eq!(
        store.events(&logins).await.expect("read").len(),
        1,
        "rolled back with it"
    );
}
