//! Registrations and mail requests, fulfilled by the mail worker.

use portcullis_domain::model::EventType;
use portcullis_domain::{
    Fulfilling, MailRequest, MailTarget, Purpose, RedeemOutcome, Redemption, RegistrationPlan, RegistrationRequest,
    SecretLookup, Storage, StoredSecret, TenantId, UserId, Verdict,
};
use uuid::Uuid;

use super::fixtures::{email, event, events_query, mail, new_account, new_session, secret, secs, t0, username};

fn request(
    address: &str,
    password_hash: &str,
    network: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> RegistrationRequest {
    RegistrationRequest {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        email: email(address),
        password_hash: password_hash.to_owned(),
        username: Some(username("newbie")),
        network: Some(network.to_owned()),
        mail_allowed: true,
        requested_at: at,
    }
}

/// Requests are taken oldest first, each once: a new address becomes an unverified account with
/// the registration, its secret and its mail; a verified one only gets the notice; a request
/// for a tenant that does not exist is refused at once.
pub async fn registrations_are_fulfilled_oldest_first_into_accounts<S: Storage + Clone + 'static>(store: &S) {
    store
        .insert_account(new_account("known@example.com"), None)
        .await
        .expect("known");
    store
        .request_registration(&request("known@example.com", "$k$", "203.0.113.0/24", t0() + secs(2)))
        .await
        .expect("request");
    store
        .request_registration(&request("new@example.com", "$n$", "203.0.113.0/24", t0() + secs(1)))
        .await
        .expect("request");
    let mut elsewhere = request("x@example.com", "$x$", "203.0.113.0/24", t0());
    elsewhere.tenant_id = TenantId::from_uuid(Uuid::now_v7());
    assert!(matches!(
        store.request_registration(&elsewhere).await,
        Err(portcullis_domain::InsertAccountError::Conflict(
            portcullis_domain::AccountConflict::UnknownTenant
        ))
    ));
    let seen = std::sync::Mutex::new(Vec::new());
    let plan = |r: &RegistrationRequest, account: Option<&portcullis_domain::Account>| {
        if let Ok(mut seen) = seen.lock() {
            seen.push((r.email.as_str().to_owned(), account.map(|a| a.email_verified)));
        }
        match account {
            Some(a) if a.email_verified => RegistrationPlan::Notify(Some(mail(a.email.as_str()))),
            found => {
                let user = found.map_or_else(|| UserId::from_uuid(Uuid::now_v7()), |a| a.id);
                let mut s = secret(user, Purpose::VerifyEmail, "", r.requested_at);
                s.scope = r.id.to_string();
                RegistrationPlan::Register {
                    new_account: user,
                    verification: Some((s, mail(r.email.as_str()))),
                    created: Vec::new(),
                }
            }
        }
    };
    assert!(store.fulfil_registration(&plan).await.expect("fulfil"));
    assert!(store.fulfil_registration(&plan).await.expect("fulfil"));
    assert!(
        !store.fulfil_registration(&plan).await.expect("fulfil"),
        "each request once"
    );
    let seen = seen.into_inner().unwrap_or_default();
    assert_eq!(
        seen,
        vec![
            ("new@example.com".to_owned(), None),
            ("known@example.com".to_owned(), Some(true))
        ],
        "oldest first"
    );
    let creds = store
        .credentials_by_email(TenantId::DEFAULT, &email("new@example.com"))
        .await
        .expect("lookup")
        .expect("an unverified account");
    assert!(!creds.account.email_verified);
    assert_eq!(creds.password.expect("password").phc, "$n$");
    assert!(creds.account.username.is_none(), "the username waits for verification");
    let mails = store.claim_due(t0() + secs(10), secs(60), 10).await.expect("claim");
    assert_eq!(mails.len(), 2, "a verification and a notice");
}

/// Verifying with a registration's secret activates that registration's password, username and
/// network, and no other registration's.
pub async fn verification_activates_the_chosen_registration<S: Storage + Clone + 'static>(store: &S) {
    let (squat, mine) = (
        request("victim@example.com", "$squatter$", "198.51.100.0/24", t0()),
        request("victim@example.com", "$owner$", "203.0.113.0/24", t0() + secs(1)),
    );
    let mine_id = mine.id;
    store.request_registration(&squat).await.expect("request");
    store.request_registration(&mine).await.expect("request");
    let tokens = std::sync::Mutex::new(Vec::new());
    let plan = |r: &RegistrationRequest, account: Option<&portcullis_domain::Account>| {
        let user = account.map_or_else(|| UserId::from_uuid(Uuid::now_v7()), |a| a.id);
        let mut s = secret(user, Purpose::VerifyEmail, "", r.requested_at);
        s.scope = r.id.to_string();
        if let Ok(mut t) = tokens.lock() {
            t.push((r.id, s.token_hash));
        }
        RegistrationPlan::Register {
            new_account: user,
            verification: Some((s, mail(r.email.as_str()))),
            created: vec![event(EventType::UserRegistered, Some(user), r.requested_at)],
        }
    };
    while store.fulfil_registration(&plan).await.expect("fulfil") {}
    let registered = events_query(None, vec![EventType::UserRegistered]);
    assert_eq!(
        store.events(&registered).await.expect("events").len(),
        1,
        "the account is created once, and so is its event"
    );
    let tokens = tokens.into_inner().unwrap_or_default();
    let (_, token) = tokens
        .iter()
        .find(|(id, _)| *id == mine_id)
        .copied()
        .expect("my secret");
    let user = store
        .credentials_by_email(TenantId::DEFAULT, &email("victim@example.com"))
        .await
        .expect("lookup")
        .expect("account")
        .account;
    let verify = |c: &[StoredSecret]| match c.first() {
        Some(s) => Verdict::Accept {
            index: 0,
            events: Vec::new(),
            redemption: Redemption::VerifyEmail {
                session: new_session(s.account.id, t0() + secs(5)),
            },
        },
        None => Verdict::Refuse { wrong: Vec::new() },
    };
    let done = store
        .redeem_secret(
            &SecretLookup::Token(TenantId::DEFAULT, token),
            &[Purpose::VerifyEmail],
            t0() + secs(5),
            &verify,
        )
        .await
        .expect("redeem");
    let RedeemOutcome::Redeemed { account, .. } = done else {
        panic!("my registration's secret verifies: {done:?}");
    };
    assert!(account.email_verified);
    assert_eq!(
        account.username.map(|u| u.normalized().to_owned()),
        Some("newbie".to_owned())
    );
    let creds = store
        .credentials(TenantId::DEFAULT, user.id)
        .await
        .expect("c")
        .expect("c");
    assert_eq!(
        creds.password.expect("password").phc,
        "$owner$",
        "the owner's password, not the squatter's"
    );
    assert!(
        store
            .is_known_network(TenantId::DEFAULT, user.id, "203.0.113.0/24")
            .await
            .expect("k")
    );
    assert!(
        !store
            .is_known_network(TenantId::DEFAULT, user.id, "198.51.100.0/24")
            .await
            .expect("k")
    );
    let (squat_token, _) = (tokens.iter().find(|(id, _)| *id != mine_id).map(|(_, t)| *t), ());
    let dead = store
        .redeem_secret(
            &SecretLookup::Token(TenantId::DEFAULT, squat_token.expect("squatter's secret")),
            &[Purpose::VerifyEmail],
            t0() + secs(6),
            &verify,
        )
        .await
        .expect("redeem");
    assert!(
        matches!(dead, RedeemOutcome::Refused),
        "the other registrations' secrets die"
    );
}

/// Mail requests are taken oldest first, once each, with the account and (while unverified)
/// its registrations; what the fulfilment returns is stored and mailed.
pub async fn mail_requests_are_fulfilled_with_their_target<S: Storage + Clone + 'static>(store: &S) {
    let me = store
        .insert_account(new_account("req@example.com"), None)
        .await
        .expect("me");
    for (i, address) in ["nobody@example.com", "req@example.com"].iter().enumerate() {
        store
            .request_mail(&MailRequest {
                id: Uuid::now_v7(),
                tenant_id: TenantId::DEFAULT,
                purpose: Purpose::ResetPassword,
                email: email(address),
                network: None,
                requested_at: t0() + secs(i64::try_from(i).unwrap_or(0)),
            })
            .await
            .expect("request");
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let fulfil = |r: &MailRequest, target: Option<&MailTarget>| -> Fulfilling {
        let (r, target, seen) = (r.clone(), target.cloned(), seen.clone());
        Box::pin(async move {
            if let Ok(mut seen) = seen.lock() {
                seen.push((r.email.as_str().to_owned(), target.as_ref().map(|t| t.account.id)));
            }
            let t = target?;
            Some((
                secret(t.account.id, r.purpose, "", r.requested_at),
                mail(t.account.email.as_str()),
            ))
        })
    };
    assert!(store.fulfil_mail_request(&fulfil).await.expect("fulfil"));
    assert!(store.fulfil_mail_request(&fulfil).await.expect("fulfil"));
    assert!(!store.fulfil_mail_request(&fulfil).await.expect("fulfil"));
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        seen,
        vec![
            ("nobody@example.com".to_owned(), None),
            ("req@example.com".to_owned(), Some(me.id))
        ]
    );
    let mails = store.claim_due(t0() + secs(10), secs(60), 10).await.expect("claim");
    assert_eq!(mails.len(), 1, "only the fulfilled request mails");
}
