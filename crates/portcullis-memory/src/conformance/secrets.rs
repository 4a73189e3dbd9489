//! One-time secrets: issuing, redeeming, counting wrong codes, and what redemption changes.

use portcullis_domain::{
    NewSession, PasswordChange, Purpose, RedeemOutcome, Redemption, SecretLookup, Storage, StoredSecret, TenantId,
    Verdict,
};

use portcullis_domain::model::EventType;

use super::fixtures::{email, event, events_query, mail, new_account, new_session, random_hash, secret, secs, t0};

/// A judge that refuses every candidate as a wrong code.
fn all_wrong(candidates: &[StoredSecret]) -> Verdict {
    Verdict::Refuse {
        wrong: (0..candidates.len()).collect(),
    }
}

/// A new secret replaces the account's secret of the same purpose and scope (and no other), and
/// keeps its wrong-code count while the replaced code is alive.
pub async fn a_secret_replaces_its_purpose_and_scope_and_keeps_wrong_tries<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("s1@example.com"), None)
        .await
        .expect("me");
    let first = secret(me.id, Purpose::ResetPassword, "", t0());
    let old_token = first.token_hash;
    store
        .issue_secret(first, &[mail("s1@example.com")], t0())
        .await
        .expect("issue");
    let lookup = SecretLookup::Email(TenantId::DEFAULT, email("s1@example.com"));
    for _ in 0..2 {
        let refused = store
            .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(1), &all_wrong)
            .await
            .expect("redeem");
        assert!(matches!(refused, RedeemOutcome::Refused));
    }
    let second = secret(me.id, Purpose::ResetPassword, "", t0() + secs(2));
    store.issue_secret(second, &[], t0() + secs(2)).await.expect("issue");
    store
        .issue_secret(secret(me.id, Purpose::AuthorizeIp, "198.51.100.0/24", t0()), &[], t0())
        .await
        .expect("another purpose");
    let seen = std::sync::Mutex::new(Vec::new());
    let look = |c: &[StoredSecret]| {
        if let Ok(mut seen) = seen.lock() {
            *seen = c
                .iter()
                .map(|s| (s.purpose, s.failed_code_attempts, s.purpose_failed_code_attempts))
                .collect();
        }
        Verdict::Refuse { wrong: Vec::new() }
    };
    store
        .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(3), &look)
        .await
        .expect("redeem");
    let seen = seen.into_inner().unwrap_or_default();
    assert_eq!(
        seen,
        vec![(Purpose::ResetPassword, 2, 2)],
        "one secret of the purpose, its count carried over"
    );
    let by_old = SecretLookup::Token(TenantId::DEFAULT, old_token);
    let gone = store
        .redeem_secret(
            &by_old,
            &[Purpose::ResetPassword],
            t0() + secs(3),
            &|_: &[StoredSecret]| Verdict::Accept {
                index: 0,
                events: Vec::new(),
                redemption: Redemption::Check,
            },
        )
        .await
        .expect("redeem");
    assert!(matches!(gone, RedeemOutcome::Refused), "the replaced secret is gone");
}

/// `issue_secret_unless_live` writes nothing while the scope's link lives, and replaces an
/// expired one (or another scope's).
pub async fn a_live_link_is_not_issued_twice<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("ip@example.com"), None)
        .await
        .expect("me");
    let net = "203.0.113.0/24";
    let first = secret(me.id, Purpose::AuthorizeIp, net, t0());
    assert!(
        store
            .issue_secret_unless_live(first, &mail("ip@example.com"), t0())
            .await
            .expect("issue")
    );
    let again = secret(me.id, Purpose::AuthorizeIp, net, t0() + secs(60));
    assert!(
        !store
            .issue_secret_unless_live(again, &mail("ip@example.com"), t0() + secs(60))
            .await
            .expect("issue"),
        "no second mail while the link lives"
    );
    let other_net = secret(me.id, Purpose::AuthorizeIp, "198.51.100.0/24", t0() + secs(61));
    assert!(
        store
            .issue_secret_unless_live(other_net, &mail("ip@example.com"), t0() + secs(61))
            .await
            .expect("issue"),
        "another network replaces it"
    );
    let claimed = store.claim_due(t0() + secs(120), secs(60), 10).await.expect("claim");
    assert_eq!(claimed.len(), 2, "one mail per secret issued");
}

/// Wrong codes count on each candidate and on its account's purpose; the right one is accepted
/// once, deleted, and clears the count.
pub async fn redemption_by_code_counts_wrong_tries_and_accepts_once<S: Storage + Clone + 'static>(store: &S) {
    let me = with_reset_secret(store, "code@example.com").await;
    let lookup = SecretLookup::Email(TenantId::DEFAULT, email("CODE@example.com"));
    for _ in 0..3 {
        store
            .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(1), &all_wrong)
            .await
            .expect("redeem");
    }
    let accept = |c: &[StoredSecret]| {
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].failed_code_attempts, 3);
        assert_eq!(c[0].purpose_failed_code_attempts, 3);
        assert_eq!(c[0].account.email.as_str(), "code@example.com");
        Verdict::Accept {
            index: 0,
            events: Vec::new(),
            redemption: Redemption::Check,
        }
    };
    let checked = store
        .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(2), &accept)
        .await
        .expect("redeem");
    assert!(matches!(checked, RedeemOutcome::Redeemed { .. }), "a check accepts");
    let reset = |c: &[StoredSecret]| {
        if c.is_empty() {
            return Verdict::Refuse { wrong: Vec::new() };
        }
        Verdict::Accept {
            index: 0,
            events: Vec::new(),
            redemption: Redemption::ResetPassword {
                password_hash: "$reset$".to_owned(),
                notice: mail("code@example.com"),
            },
        }
    };
    let redeemed = store
        .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(3), &reset)
        .await
        .expect("redeem");
    let RedeemOutcome::Redeemed { account, .. } = redeemed else {
        panic!("the check consumed nothing, so the reset is accepted: {redeemed:?}");
    };
    assert_eq!(account.id, me.id);
    let creds = store
        .credentials(TenantId::DEFAULT, me.id)
        .await
        .expect("credentials")
        .expect("account");
    assert_eq!(creds.password.expect("password").phc, "$reset$");
    let again = store
        .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(4), &reset)
        .await
        .expect("redeem");
    assert!(matches!(again, RedeemOutcome::Refused), "a redeemed secret is gone");
    store
        .issue_secret(
            secret(me.id, Purpose::ResetPassword, "", t0() + secs(5)),
            &[],
            t0() + secs(5),
        )
        .await
        .expect("issue");
    let fresh = |c: &[StoredSecret]| {
        assert_eq!(c[0].purpose_failed_code_attempts, 0, "the purpose's count starts again");
        Verdict::Refuse { wrong: Vec::new() }
    };
    store
        .redeem_secret(&lookup, &[Purpose::ResetPassword], t0() + secs(6), &fresh)
        .await
        .expect("redeem");
}

/// Of concurrent redemptions of one secret, exactly one is accepted.
pub async fn concurrent_redemptions_of_one_secret_accept_once<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("once@example.com"), None)
        .await
        .expect("me");
    let issued = secret(me.id, Purpose::AuthorizeIp, "203.0.113.0/24", t0());
    let token = issued.token_hash;
    store.issue_secret(issued, &[], t0()).await.expect("issue");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let take = |c: &[StoredSecret]| match c.first() {
                    Some(_) => Verdict::Accept {
                        index: 0,
                        events: Vec::new(),
                        redemption: Redemption::AuthorizeNetwork,
                    },
                    None => Verdict::Refuse { wrong: Vec::new() },
                };
                store
                    .redeem_secret(
                        &SecretLookup::Token(TenantId::DEFAULT, token),
                        &[Purpose::AuthorizeIp],
                        t0() + secs(1),
                        &take,
                    )
                    .await
            })
        })
        .collect();
    let mut redeemed = 0;
    for task in tasks {
        if let RedeemOutcome::Redeemed { .. } = task.await.expect("task").expect("redeem") {
            redeemed += 1;
        }
    }
    assert_eq!(redeemed, 1);
    assert!(
        store
            .is_known_network(TenantId::DEFAULT, me.id, "203.0.113.0/24")
            .await
            .expect("known")
    );
}

/// Confirming an email change to an address a verified account holds changes nothing; to an
/// address only an unverified account holds, it moves the address and that account goes.
pub async fn an_email_change_to_a_verified_address_is_refused<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("old@example.com"), None)
        .await
        .expect("me");
    store
        .insert_account(new_account("held@example.com"), None)
        .await
        .expect("holder");
    let mut squatter = new_account("free@example.com");
    squatter.email_verified = false;
    store.insert_account(squatter, None).await.expect("squatter");
    let change = |to: &str, at| {
        let mut s = secret(me.id, Purpose::ChangeEmail, "", at);
        s.new_email = Some(email(to));
        s
    };
    let confirm = |c: &[StoredSecret]| match c.first() {
        Some(_) => Verdict::Accept {
            index: 0,
            events: vec![event(EventType::EmailChanged, Some(me.id), t0())],
            redemption: Redemption::ChangeEmail {
                notices: vec![mail("old@example.com")],
            },
        },
        None => Verdict::Refuse { wrong: Vec::new() },
    };
    let held = change("held@example.com", t0());
    let token = held.token_hash;
    store.issue_secret(held, &[], t0()).await.expect("issue");
    let taken = store
        .redeem_secret(
            &SecretLookup::Token(TenantId::DEFAULT, token),
            &[Purpose::ChangeEmail],
            t0() + secs(1),
            &confirm,
        )
        .await
        .expect("redeem");
    assert!(matches!(taken, RedeemOutcome::EmailTaken), "{taken:?}");
    let mine = store.account(TenantId::DEFAULT, me.id).await.expect("me").expect("me");
    assert_eq!(mine.email.as_str(), "old@example.com", "nothing changed");
    let changes = events_query(Some(me.id), vec![EventType::EmailChanged]);
    assert!(
        store.events(&changes).await.expect("events").is_empty(),
        "no event either"
    );

    let free = change("free@example.com", t0() + secs(2));
    store.issue_secret(free, &[], t0() + secs(2)).await.expect("issue");
    let moved = store
        .redeem_secret(
            &SecretLookup::Email(TenantId::DEFAULT, email("free@example.com")),
            &[Purpose::ChangeEmail],
            t0() + secs(3),
            &confirm,
        )
        .await
        .expect("redeem");
    let RedeemOutcome::Redeemed { account, .. } = moved else {
        panic!("an unverified holder gives way: {moved:?}");
    };
    assert_eq!(account.email.as_str(), "free@example.com");
    assert!(account.email_verified);
    assert_eq!(
        store.events(&changes).await.expect("events").len(),
        1,
        "written with the change"
    );
}

/// A password change applies only over the hash it expects; it revokes the other sessions.
pub async fn a_password_change_needs_the_expected_hash<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("pw@example.com"), None)
        .await
        .expect("me");
    let (keep, other): (NewSession, NewSession) = (new_session(me.id, t0()), new_session(me.id, t0()));
    let (keep_id, other_id) = (keep.session.id, other.session.id);
    store.insert_session(keep).await.expect("session");
    store.insert_session(other).await.expect("session");
    let mut change = PasswordChange {
        tenant: TenantId::DEFAULT,
        user: me.id,
        expected: Some("$stale$".to_owned()),
        new_hash: "$new$".to_owned(),
        keep: Some(keep_id),
        notice: mail("pw@example.com"),
        events: vec![event(EventType::PasswordChanged, Some(me.id), t0())],
    };
    let changed = events_query(Some(me.id), vec![EventType::PasswordChanged]);
    assert_eq!(store.change_password(&change, t0()).await.expect("change"), None);
    assert!(
        store.events(&changed).await.expect("events").is_empty(),
        "no change, no event"
    );
    change.expected = Some("$test$pw@example.com".to_owned());
    assert_eq!(store.change_password(&change, t0()).await.expect("change"), Some(1));
    assert_eq!(store.events(&changed).await.expect("events").len(), 1);
    let now = t0() + secs(1);
    assert!(
        store
            .session(TenantId::DEFAULT, keep_id)
            .await
            .expect("s")
            .expect("s")
            .is_live(now)
    );
    assert!(
        !store
            .session(TenantId::DEFAULT, other_id)
            .await
            .expect("s")
            .expect("s")
            .is_live(now)
    );
    let _ = random_hash();
}

/// Purge deletes secrets whose link and code are both dead, and unverified accounts with no
/// recent registration, and nothing else.
pub async fn purge_deletes_dead_secrets_and_stale_unverified_accounts<S: Storage + Clone + 'static>(store: &S) {
    let me = with_reset_secret(store, "live@example.com").await;
    let mut stale = new_account("stale@example.com");
    stale.email_verified = false;
    let stale = store.insert_account(stale, None).await.expect("stale");
    let later = t0() + chrono::Duration::days(2);
    let purged = store
        .purge(later, later - chrono::Duration::days(1))
        .await
        .expect("purge");
    assert_eq!(purged.secrets, 1);
    assert_eq!(purged.unverified_accounts.len(), 1);
    assert!(store.account(TenantId::DEFAULT, stale.id).await.expect("a").is_none());
    assert!(store.account(TenantId::DEFAULT, me.id).await.expect("a").is_some());
}

/// An account of `address` with a reset secret issued at [`t0`].
async fn with_reset_secret<S: Storage>(store: &S, address: &str) -> portcullis_domain::Account {
    let me = store.insert_account(new_account(address), None).await.expect("me");
    store
        .issue_secret(secret(me.id, Purpose::ResetPassword, "", t0()), &[], t0())
        .await
        .expect("issue");
    me
}
