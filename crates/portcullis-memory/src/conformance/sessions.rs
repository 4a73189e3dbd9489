//! Sessions: refresh rotation, listing and revocation, known networks.

use portcullis_domain::model::EventType;
use portcullis_domain::{RefreshDecision, RefreshOutcome, SessionSelection, Storage, TenantId, decide_refresh};

use super::fixtures::{events_query, mail, new_account, new_session, random_hash, reused, revoked, secs, t0};

/// A session is read with its account in one step, under the same rules as the session alone:
/// in its tenant only, revoked or not, and not at all once the account is disabled.
pub async fn a_session_is_read_with_its_account<S: Storage + Clone + 'static>(store: &S) {
    let account = store
        .insert_account(new_account("both@example.com"), None)
        .await
        .expect("account");
    let first = new_session(account.id, t0());
    let sid = first.session.id;
    store.insert_session(first).await.expect("session");
    let (session, read) = store
        .session_with_account(TenantId::DEFAULT, sid)
        .await
        .expect("read")
        .expect("found");
    let alone = store
        .session(TenantId::DEFAULT, sid)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        (session.id, session.user_id, session.expires_at),
        (alone.id, alone.user_id, alone.expires_at)
    );
    assert_eq!(
        (read.id, &read.email, read.tenant.id),
        (account.id, &account.email, TenantId::DEFAULT)
    );
    let other = TenantId::from_uuid(uuid::Uuid::now_v7());
    assert!(
        store.session_with_account(other, sid).await.expect("read").is_none(),
        "another tenant"
    );
    let unknown = portcullis_domain::SessionId::from_uuid(uuid::Uuid::now_v7());
    assert!(
        store
            .session_with_account(TenantId::DEFAULT, unknown)
            .await
            .expect("read")
            .is_none()
    );

    let now = t0() + secs(10);
    assert!(
        store
            .revoke_session(TenantId::DEFAULT, account.id, sid, now, &revoked(account.id))
            .await
            .expect("revoke")
    );
    let (session, _) = store
        .session_with_account(TenantId::DEFAULT, sid)
        .await
        .expect("read")
        .expect("a revoked session is still read");
    assert_eq!(session.revoked_at, Some(now));

    let again = new_session(account.id, now);
    let live = again.session.id;
    store.insert_session(again).await.expect("session");
    store
        .set_disabled(TenantId::DEFAULT, account.id, true, None, now, &|_| {
            super::fixtures::event(EventType::AccountDisabled, Some(account.id), now)
        })
        .await
        .expect("disable");
    assert!(
        store
            .session_with_account(TenantId::DEFAULT, live)
            .await
            .expect("read")
            .is_none(),
        "a disabled account's sessions are not read"
    );
}

/// A head token rotates to its successor; a superseded one is a replay within the grace window
/// (answered with the head) and reuse after it (revoking the session); an unknown or dead one is
/// invalid.
pub async fn refresh_rotates_replays_and_detects_reuse<S: Storage + Clone + 'static>(store: &S) {
    let account = store
        .insert_account(new_account("rot@example.com"), None)
        .await
        .expect("account");
    let first = new_session(account.id, t0());
    let (sid, h0) = (first.session.id, first.refresh_hash);
    store.insert_session(first).await.expect("session");
    let grace = secs(10);
    let rules = |now| move |state| decide_refresh(&state, now, grace);

    let (h1, now1) = (random_hash(), t0() + secs(60));
    match store
        .refresh(h0, h1, now1, &rules(now1), &reused)
        .await
        .expect("refresh")
    {
        RefreshOutcome::Rotated { session: s, account: a } => {
            assert_eq!(s.id, sid);
            assert_eq!(s.last_used_at, now1, "a rotation touches the session");
            assert_eq!(a.id, account.id, "with the session's account");
        }
        other => panic!("the head should rotate: {other:?}"),
    }
    let now2 = now1 + secs(5);
    match store
        .refresh(h0, random_hash(), now2, &rules(now2), &reused)
        .await
        .expect("refresh")
    {
        RefreshOutcome::Replayed {
            session,
            account: a,
            head,
        } => {
            assert_eq!(session.id, sid);
            assert_eq!(a.email.as_str(), "rot@example.com");
            assert!(head == h1, "a replay is answered with the head");
        }
        other => panic!("a superseded token within the grace window is a replay: {other:?}"),
    }
    let now3 = now1 + secs(60);
    match store
        .refresh(h0, random_hash(), now3, &rules(now3), &reused)
        .await
        .expect("refresh")
    {
        RefreshOutcome::Reused(s) => assert_eq!(s.revoked_at, Some(now3)),
        other => panic!("a superseded token after the grace window is reuse: {other:?}"),
    }
    let reuses = store
        .events(&events_query(Some(account.id), vec![EventType::RefreshReused]))
        .await
        .expect("events");
    assert_eq!(reuses.len(), 1, "recorded with the revocation, once");
    assert_eq!(reuses[0].session_id, Some(sid));
    let stored = store
        .session(TenantId::DEFAULT, sid)
        .await
        .expect("session")
        .expect("kept");
    assert_eq!(stored.revoked_at, Some(now3), "reuse revokes the session");
    assert!(matches!(
        store
            .refresh(h1, random_hash(), now3, &rules(now3), &reused)
            .await
            .expect("refresh"),
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        store
            .refresh(random_hash(), random_hash(), now3, &rules(now3), &reused)
            .await
            .expect("refresh"),
        RefreshOutcome::Invalid
    ));
}

/// Of many concurrent refreshes of one token, exactly one rotates.
pub async fn concurrent_refreshes_of_one_token_rotate_once<S: Storage + Clone + 'static>(store: &S) {
    let account = store
        .insert_account(new_account("race@example.com"), None)
        .await
        .expect("account");
    let first = new_session(account.id, t0());
    let h0 = first.refresh_hash;
    store.insert_session(first).await.expect("session");
    let now = t0() + secs(1);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let decide = |state: portcullis_domain::RefreshTokenState| {
                    if state.superseded_at.is_some() {
                        RefreshDecision::Replay
                    } else {
                        RefreshDecision::Rotate
                    }
                };
                store.refresh(h0, random_hash(), now, &decide, &reused).await
            })
        })
        .collect();
    let mut rotated = 0;
    for task in tasks {
        if let RefreshOutcome::Rotated { .. } = task.await.expect("task").expect("refresh") {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1, "exactly one concurrent refresh rotates");
}

/// Listing shows the owner's live sessions, most recently used first; revoking touches only
/// the owner's sessions and spares the one kept.
pub async fn sessions_are_listed_and_revoked_only_for_their_owner<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("me@example.com"), None)
        .await
        .expect("me");
    let other = store
        .insert_account(new_account("other@example.com"), None)
        .await
        .expect("other");
    let mut mine = Vec::new();
    for i in 0..3 {
        let s = new_session(me.id, t0() + secs(i));
        mine.push((s.session.id, s.refresh_hash));
        store.insert_session(s).await.expect("session");
    }
    let theirs = new_session(other.id, t0());
    let their_id = theirs.session.id;
    store.insert_session(theirs).await.expect("session");
    let now = t0() + secs(10);

    let listed = store.live_sessions(TenantId::DEFAULT, me.id, now).await.expect("list");
    let ids: Vec<_> = listed.iter().map(|s| s.id).collect();
    assert_eq!(ids, vec![mine[2].0, mine[1].0, mine[0].0], "most recently used first");

    assert!(
        !store
            .revoke_session(TenantId::DEFAULT, me.id, their_id, now, &revoked(me.id))
            .await
            .expect("revoke"),
        "another user's session behaves as one that does not exist"
    );
    let selection = SessionSelection {
        all: false,
        ids: vec![their_id, mine[0].0],
        refresh_tokens: vec![mine[1].1],
        keep: None,
    };
    assert_eq!(
        store
            .revoke_selected(TenantId::DEFAULT, me.id, &selection, now, &revoked(me.id))
            .await
            .expect("revoke"),
        2
    );
    assert!(
        store
            .session(TenantId::DEFAULT, their_id)
            .await
            .expect("session")
            .expect("kept")
            .is_live(now)
    );
    assert!(
        store
            .revoke_session(TenantId::DEFAULT, me.id, mine[2].0, now, &revoked(me.id))
            .await
            .expect("revoke")
    );
    assert!(
        !store
            .revoke_session(TenantId::DEFAULT, me.id, mine[2].0, now, &revoked(me.id))
            .await
            .expect("revoke"),
        "revoking twice reports it was not live"
    );
    let keep = new_session(me.id, now);
    let keep_id = keep.session.id;
    store.insert_session(keep).await.expect("session");
    store.insert_session(new_session(me.id, now)).await.expect("session");
    assert_eq!(
        store
            .revoke_sessions(TenantId::DEFAULT, me.id, Some(keep_id), now, &revoked(me.id))
            .await
            .expect("revoke"),
        1
    );
    let left = store.live_sessions(TenantId::DEFAULT, me.id, now).await.expect("list");
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), vec![keep_id]);
    // One event per revocation that ended something, written with it; none for the rest.
    let trail = store
        .events(&events_query(Some(me.id), vec![EventType::SessionsRevoked]))
        .await
        .expect("events");
    let mut counts: Vec<_> = trail
        .iter()
        .filter_map(|e| e.details["revoked_sessions"].as_u64())
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 2], "the selection, one session, the others");
}

/// A session opened from a network makes it known to its account (and no other), with the
/// notice enqueued in the same step.
pub async fn networks_become_known_with_a_session_from_them<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("net@example.com"), None)
        .await
        .expect("me");
    let other = store
        .insert_account(new_account("net2@example.com"), None)
        .await
        .expect("other");
    let net = "203.0.113.0/24";
    assert!(
        !store
            .is_known_network(TenantId::DEFAULT, me.id, net)
            .await
            .expect("known")
    );
    store
        .insert_session_from(new_session(me.id, t0()), net, Some(&mail("net@example.com")))
        .await
        .expect("session");
    assert!(
        store
            .is_known_network(TenantId::DEFAULT, me.id, net)
            .await
            .expect("known")
    );
    assert!(
        !store
            .is_known_network(TenantId::DEFAULT, other.id, net)
            .await
            .expect("known")
    );
    let claimed = store.claim_due(t0() + secs(1), secs(60), 10).await.expect("claim");
    assert_eq!(claimed.len(), 1, "the notice is in the outbox");
    let mut registered = new_account("net3@example.com");
    registered.network = Some("198.51.100.0/24".to_owned());
    let third = store.insert_account(registered, None).await.expect("account");
    assert!(
        store
            .is_known_network(TenantId::DEFAULT, third.id, "198.51.100.0/24")
            .await
            .expect("known"),
        "the network an account registered from is known"
    );
}
