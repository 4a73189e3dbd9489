//! The second factor: enrolment, time steps, locks and recovery codes.

use portcullis_domain::model::EventType;
use portcullis_domain::{Disabled, StepOutcome, Storage, TenantId, UserId};

use super::fixtures::{event, events_query, new_account, new_session, random_hash, secs, t0};

async fn enrolled<S: Storage + Clone + 'static>(store: &S, address: &str) -> UserId {
    let me = store.insert_account(new_account(address), None).await.expect("account");
    assert!(
        store
            .put_pending_totp(TenantId::DEFAULT, me.id, b"sealed", t0())
            .await
            .expect("pending")
    );
    assert!(
        store
            .activate_totp(TenantId::DEFAULT, me.id, b"sealed", 100, &[], t0(), &[])
            .await
            .expect("activate")
    );
    me.id
}

/// A pending secret is activated only if it is still the one the code was checked against; an
/// active one is not replaced by a new enrolment.
pub async fn totp_enrolment_activates_only_the_checked_secret<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("otp@example.com"), None)
        .await
        .expect("me");
    let t = TenantId::DEFAULT;
    assert!(store.totp(t, me.id).await.expect("totp").is_none());
    assert!(store.put_pending_totp(t, me.id, b"first", t0()).await.expect("pending"));
    assert!(
        store
            .put_pending_totp(t, me.id, b"second", t0())
            .await
            .expect("pending")
    );
    let codes = [random_hash(), random_hash()];
    let enabled = [event(EventType::MfaEnabled, Some(me.id), t0())];
    let recorded = events_query(Some(me.id), vec![EventType::MfaEnabled]);
    assert!(
        !store
            .activate_totp(t, me.id, b"first", 1, &codes, t0(), &enabled)
            .await
            .expect("activate"),
        "the secret was replaced since the code was checked"
    );
    assert!(
        store.events(&recorded).await.expect("events").is_empty(),
        "no change, no event"
    );
    assert!(
        store
            .activate_totp(t, me.id, b"second", 1, &codes, t0(), &enabled)
            .await
            .expect("activate")
    );
    assert_eq!(store.events(&recorded).await.expect("events").len(), 1);
    let record = store.totp(t, me.id).await.expect("totp").expect("record");
    assert!(record.enabled);
    assert_eq!(record.secret_sealed, b"second".to_vec());
    assert!(store.account(t, me.id).await.expect("a").expect("a").mfa_enabled);
    assert!(!store.put_pending_totp(t, me.id, b"third", t0()).await.expect("pending"));
    assert!(store.has_recovery_code(t, me.id, &codes[0]).await.expect("code"));
}

/// Of concurrent submissions of one step, exactly one is accepted; an older step is a replay.
pub async fn a_totp_step_is_accepted_once_under_concurrency<S: Storage + Clone + 'static>(store: &S) {
    let user = enrolled(store, "steps@example.com").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.accept_totp_step(TenantId::DEFAULT, user, 101, 5, t0()).await })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        if task.await.expect("task").expect("step") == StepOutcome::Accepted {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1);
    assert_eq!(
        store
            .accept_totp_step(TenantId::DEFAULT, user, 100, 5, t0())
            .await
            .expect("step"),
        StepOutcome::Replayed
    );
}

/// The `max_failures`-th attempt in a row locks until the given time (and reports the streak);
/// attempts while locked are refused; a replayed step hands its attempt back.
pub async fn wrong_codes_lock_the_second_factor_and_replays_hand_back<S: Storage + Clone + 'static>(store: &S) {
    let user = enrolled(store, "lock@example.com").await;
    let t = TenantId::DEFAULT;
    let until = t0() + secs(900);
    for _ in 0..2 {
        assert_eq!(
            store.reserve_mfa_attempt(t, user, 3, until, t0()).await.expect("r"),
            Ok(None)
        );
    }
    assert_eq!(
        store.reserve_mfa_attempt(t, user, 3, until, t0()).await.expect("r"),
        Ok(Some(1))
    );
    assert_eq!(
        store
            .reserve_mfa_attempt(t, user, 3, until, t0() + secs(1))
            .await
            .expect("r"),
        Err(until)
    );
    // The third attempt was a right code already used: handed back, the lock lifts.
    assert_eq!(
        store.accept_totp_step(t, user, 100, 3, t0()).await.expect("step"),
        StepOutcome::Replayed
    );
    assert_eq!(store.totp(t, user).await.expect("t").expect("t").locked_until, None);
    assert_eq!(
        store.reserve_mfa_attempt(t, user, 3, until, t0()).await.expect("r"),
        Ok(Some(1))
    );
    // After the lock runs out, the count starts again at this attempt.
    let later = until + secs(1);
    assert_eq!(
        store
            .reserve_mfa_attempt(t, user, 3, later + secs(900), later)
            .await
            .expect("r"),
        Ok(None)
    );
    assert!(store.claim_lock_notice(t, user).await.expect("notice"));
    assert!(
        !store.claim_lock_notice(t, user).await.expect("notice"),
        "once per streak"
    );
    assert_eq!(
        store.accept_totp_step(t, user, 102, 3, later).await.expect("step"),
        StepOutcome::Accepted
    );
    assert!(
        store.claim_lock_notice(t, user).await.expect("notice"),
        "a right code ends the streak"
    );
}

/// A recovery code is spent once, even by concurrent attempts; regenerating replaces the set.
pub async fn recovery_codes_are_spent_once<S: Storage + Clone + 'static>(store: &S) {
    let user = enrolled(store, "rec@example.com").await;
    let t = TenantId::DEFAULT;
    let (a, b) = (random_hash(), random_hash());
    store
        .replace_recovery_codes(t, user, &[a, b], t0(), &[])
        .await
        .expect("codes");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_recovery_code(t, user, &a, t0()).await })
        })
        .collect();
    let mut used = 0;
    for task in tasks {
        if task.await.expect("task").expect("use") {
            used += 1;
        }
    }
    assert_eq!(used, 1);
    assert!(!store.has_recovery_code(t, user, &a).await.expect("has"));
    assert!(store.has_recovery_code(t, user, &b).await.expect("has"));
    store
        .replace_recovery_codes(t, user, &[random_hash()], t0(), &[])
        .await
        .expect("codes");
    assert!(
        !store.has_recovery_code(t, user, &b).await.expect("has"),
        "the old set dies"
    );
}

/// Disabling spends the presented code (or reports it used), forgets the secret and codes, and
/// revokes every other session.
pub async fn disabling_the_second_factor_ends_other_sessions<S: Storage + Clone + 'static>(store: &S) {
    let user = enrolled(store, "off@example.com").await;
    let t = TenantId::DEFAULT;
    let (keep, other) = (new_session(user, t0()), new_session(user, t0()));
    let keep_id = keep.session.id;
    store.insert_session(keep).await.expect("s");
    store.insert_session(other).await.expect("s");
    let code = random_hash();
    store
        .replace_recovery_codes(t, user, &[code], t0(), &[])
        .await
        .expect("codes");
    assert_eq!(
        store
            .disable_totp(t, user, keep_id, Some(&random_hash()), t0(), &[])
            .await
            .expect("disable"),
        Disabled::CodeUsed
    );
    assert_eq!(
        store
            .disable_totp(t, user, keep_id, Some(&code), t0(), &[])
            .await
            .expect("disable"),
        Disabled::Done(1)
    );
    assert!(store.totp(t, user).await.expect("t").is_none());
    assert!(!store.account(t, user).await.expect("a").expect("a").mfa_enabled);
    assert_eq!(
        store
            .disable_totp(t, user, keep_id, None, t0(), &[])
            .await
            .expect("disable"),
        Disabled::NotEnabled
    );
}

/// Stored secrets are read in pages in key order, each once; a secret is replaced only while it
/// is the one that was read, and nothing else of its second factor changes.
pub async fn totp_secrets_are_paged_and_resealed_only_if_unchanged<S: Storage + Clone + 'static>(store: &S) {
    let t = TenantId::DEFAULT;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(enrolled(store, &format!("reseal{i}@example.com")).await);
    }
    let pending = store
        .insert_account(new_account("pending@example.com"), None)
        .await
        .expect("account");
    assert!(
        store
            .put_pending_totp(t, pending.id, b"pending", t0())
            .await
            .expect("pending")
    );
    users.push(pending.id);
    store
        .insert_account(new_account("nototp@example.com"), None)
        .await
        .expect("account without a second factor");
    users.sort_unstable();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.sealed_totp_page(after, 2).await.expect("page");
        assert!(page.len() <= 2, "a page holds at most its limit");
        seen.extend(page.iter().map(|s| s.user));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.tenant, last.user)),
            _ => break,
        }
    }
    assert_eq!(seen, users, "every secret once, active and pending, in key order");

    let me = users[0];
    let stored = store.totp(t, me).await.expect("totp").expect("a secret");
    assert!(
        !store
            .reseal_totp(t, me, b"not what is stored", b"new")
            .await
            .expect("reseal"),
        "a secret that changed since it was read stays"
    );
    assert_eq!(
        store.totp(t, me).await.expect("totp").expect("a secret").secret_sealed,
        stored.secret_sealed
    );
    assert!(
        store
            .reseal_totp(t, me, &stored.secret_sealed, b"resealed")
            .await
            .expect("reseal")
    );
    let after_reseal = store.totp(t, me).await.expect("totp").expect("a secret");
    assert_eq!(after_reseal.secret_sealed, b"resealed");
    assert_eq!(after_reseal.enabled, stored.enabled, "still active");
    assert!(
        !store
            .reseal_totp(t, me, &stored.secret_sealed, b"again")
            .await
            .expect("reseal"),
        "the old bytes are no longer stored"
    );
    if stored.enabled {
        let _ = store
            .reserve_mfa_attempt(t, me, 5, t0() + secs(60), t0())
            .await
            .expect("reserve");
        assert_eq!(
            store.accept_totp_step(t, me, 100, 5, t0()).await.expect("step"),
            StepOutcome::Replayed,
            "the last accepted step is kept"
        );
    }
    assert!(
        !store
            .reseal_totp(t, UserId::from_uuid(uuid::Uuid::now_v7()), b"x", b"y")
            .await
            .expect("reseal"),
        "no such account"
    );
}
