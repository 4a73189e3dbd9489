//! Contract tests of [`UserAdminStore`]: search, overview, disable and enable.

use portcullis_domain::model::EventType;
use portcullis_domain::{RefreshOutcome, Storage, TenantId, UserId, decide_refresh};
use uuid::Uuid;

use super::fixtures::{event, events_query, new_account, new_session, random_hash, reused, secs, t0, username};

/// Finds accounts by address or username prefix (a `_` or `%` in it matched literally), in id
/// order after a cursor, within the tenant.
pub async fn accounts_are_found_by_prefix_in_id_order<S: Storage + Clone + 'static>(store: &S) {
    let mut ids = Vec::new();
    for (address, name) in [
        ("ada@example.com", Some("ada_l")),
        ("adam@example.com", None),
        ("bob@example.com", Some("adx")),
        ("ad_min@example.com", None),
    ] {
        let mut new = new_account(address);
        new.username = name.map(username);
        ids.push(store.insert_account(new, None).await.expect("account").id);
    }
    let found = |prefix: Option<&'static str>, after: Option<UserId>, limit: u32| async move {
        store
            .find_accounts(TenantId::DEFAULT, prefix, after, limit)
            .await
            .expect("find")
            .into_iter()
            .map(|a| a.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(found(None, None, 10).await, ids, "every account, oldest first");
    assert_eq!(found(Some("ad"), None, 10).await, ids, "by address or by username");
    assert_eq!(found(Some("ada"), None, 10).await, [ids[0], ids[1]]);
    assert_eq!(found(Some("ada_"), None, 10).await, [ids[0]], "the username ada_l");
    assert_eq!(found(Some("ad_"), None, 10).await, [ids[3]], "`_` is no wildcard");
    assert_eq!(found(Some("a%"), None, 10).await, Vec::<UserId>::new(), "nor is `%`");
    assert_eq!(found(None, None, 2).await, [ids[0], ids[1]]);
    assert_eq!(found(None, Some(ids[1]), 2).await, [ids[2], ids[3]]);
    let other = TenantId::from_uuid(Uuid::now_v7());
    let elsewhere = store.find_accounts(other, None, None, 10).await.expect("find");
    assert!(elsewhere.is_empty(), "another tenant sees none of them");
}

/// Disabling revokes every live session at once and hides the account's sessions from the
/// liveness read and from refresh; enabling lifts that, and the revoked sessions stay revoked.
pub async fn disabling_revokes_and_hides_every_session<S: Storage + Clone + 'static>(store: &S) {
    let account = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    let first = new_session(account.id, t0());
    let (sid, refresh) = (first.session.id, first.refresh_hash);
    store.insert_session(first).await.expect("session");
    store
        .insert_session(new_session(account.id, t0() + secs(5)))
        .await
        .expect("session");
    let now = t0() + secs(60);
    let seen = store
        .account_overview(TenantId::DEFAULT, account.id, now)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!((seen.live_sessions, seen.last_login_at), (2, Some(t0() + secs(5))));
    assert!(!seen.account.disabled && seen.disabled_at.is_none());

    let revoked = store
        .set_disabled(TenantId::DEFAULT, account.id, true, Some("chargeback"), now, &|n| {
            let mut e = event(EventType::AccountDisabled, Some(account.id), now);
            e.details = serde_json::json!({ "revoked_sessions": n });
            e
        })
        .await
        .expect("disable");
    assert_eq!(revoked, Some(2));
    let query = events_query(Some(account.id), vec![EventType::AccountDisabled]);
    let recorded = store.events(&query).await.expect("events");
    assert_eq!(recorded.len(), 1, "the disable's event, with it");
    assert_eq!(recorded[0].details["revoked_sessions"], 2);
    assert!(store.session(TenantId::DEFAULT, sid).await.expect("read").is_none());
    let rules = move |state| decide_refresh(&state, now, secs(10));
    let refreshed = store
        .refresh(refresh, random_hash(), now, &rules, &reused)
        .await
        .expect("refresh");
    assert!(matches!(refreshed, RefreshOutcome::Invalid), "{refreshed:?}");
    // A session a racing login stores after the disable is dead as well.
    let late = new_session(account.id, now);
    let late_id = late.session.id;
    store.insert_session(late).await.expect("session");
    assert!(store.session(TenantId::DEFAULT, late_id).await.expect("read").is_none());

    let later = now + secs(60);
    let again = store
        .set_disabled(TenantId::DEFAULT, account.id, true, Some("second look"), later, &|_| {
            event(EventType::AccountEnabled, None, later)
        })
        .await
        .expect("disable");
    assert_eq!(again, Some(1), "the late session");
    let seen = store
        .account_overview(TenantId::DEFAULT, account.id, later)
        .await
        .expect("read")
        .expect("exists");
    assert!(seen.account.disabled);
    assert_eq!(seen.disabled_at, Some(now), "disabled since the first time");
    assert_eq!(seen.disabled_reason.as_deref(), Some("second look"));
    assert_eq!(seen.live_sessions, 0);

    let enabled = store
        .set_disabled(TenantId::DEFAULT, account.id, false, None, later, &|_| {
            event(EventType::AccountEnabled, None, later)
        })
        .await
        .expect("enable");
    assert_eq!(enabled, Some(0));
    let seen = store
        .account_overview(TenantId::DEFAULT, account.id, later)
        .await
        .expect("read")
        .expect("exists");
    assert!(!seen.account.disabled && seen.disabled_reason.is_none());
    let session = store
        .session(TenantId::DEFAULT, sid)
        .await
        .expect("read")
        .expect("visible again");
    assert!(session.revoked_at.is_some(), "but still revoked");

    let nobody = UserId::from_uuid(Uuid::now_v7());
    let none = store
        .set_disabled(TenantId::DEFAULT, nobody, true, None, later, &|_| {
            event(EventType::AccountEnabled, None, later)
        })
        .await
        .expect("disable");
    assert_eq!(none, None);
    let other = TenantId::from_uuid(Uuid::now_v7());
    let none = store
        .set_disabled(other, account.id, true, None, later, &|_| {
            event(EventType::AccountEnabled, None, later)
        })
        .await
        .expect("disable");
    assert_eq!(none, None, "another tenant's id reaches nothing");
    assert!(
        store
            .account_overview(other, account.id, later)
            .await
            .expect("read")
            .is_none()
    );
}

/// Erasing removes the account with everything of it and the mail to its address, keeps its
/// audit events under the pseudonym, and touches no other account.
pub async fn erasing_removes_the_account_and_pseudonymises_its_events<S: Storage + Clone + 'static>(store: &S) {
    let t = TenantId::DEFAULT;
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    let bob = store
        .insert_account(new_account("bob@example.com"), None)
        .await
        .expect("account");
    let session = new_session(ada.id, t0());
    let sid = session.session.id;
    store.insert_session(session).await.expect("session");
    store.insert_session(new_session(bob.id, t0())).await.expect("session");
    store
        .enqueue(&super::fixtures::mail("ada@example.com"), t0())
        .await
        .expect("mail");
    store
        .enqueue(&super::fixtures::mail("bob@example.com"), t0())
        .await
        .expect("mail");
    let pseudonym = UserId::from_uuid(Uuid::now_v7());
    let erased = event(EventType::AccountErased, Some(pseudonym), t0() + secs(1));

    assert!(store.erase_account(t, ada.id, pseudonym, &erased).await.expect("erase"));
    assert!(store.account(t, ada.id).await.expect("read").is_none());
    assert!(store.session(t, sid).await.expect("read").is_none());
    assert!(store.account_overview(t, ada.id, t0()).await.expect("read").is_none());
    let all = events_query(None, Vec::new());
    let events = store.events(&all).await.expect("events");
    assert!(
        events.iter().all(|e| e.user_id != Some(ada.id)),
        "no event names the erased id"
    );
    let of_pseudonym: Vec<_> = events
        .iter()
        .filter(|e| e.user_id == Some(pseudonym))
        .map(|e| e.kind)
        .collect();
    assert_eq!(of_pseudonym, [EventType::AccountErased, EventType::LoginSucceeded]);
    let due = store.claim_due(t0() + secs(5), secs(60), 10).await.expect("claim");
    let to: Vec<_> = due.iter().map(|m| m.mail.to.as_str()).collect();
    assert_eq!(to, ["bob@example.com"], "mail to the erased address is gone");

    assert!(
        store.account(t, bob.id).await.expect("read").is_some(),
        "bob is untouched"
    );
    assert!(
        !store.erase_account(t, ada.id, pseudonym, &erased).await.expect("erase"),
        "gone already"
    );
}
