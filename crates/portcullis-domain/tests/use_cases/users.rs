//! `users`: operators find accounts, read one, disable and enable it, end its sessions.

use portcullis_domain::{LoginError, MailKind, OneTimeError, RefreshError, UserAdminError};

use crate::world::{AWAY, HOME, PASSWORD, Setup, World};

fn ops() -> portcullis_domain::Actor {
    portcullis_domain::Actor {
        name: "key:support".into(),
        client: World::from("192.0.2.50"),
    }
}

#[tokio::test]
async fn a_disabled_account_is_shut_out_everywhere_at_once_and_back_after_enable() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let refresh = pair.refresh_token.expose().to_owned();
    let seen = w
        .auth
        .disable_user(w.tenant.id, account.id, Some("chargeback"), &ops())
        .await
        .unwrap()
        .expect("the account");
    assert!(seen.account.disabled);
    assert_eq!(seen.disabled_reason.as_deref(), Some("chargeback"));
    assert_eq!(seen.live_sessions, 0);

    assert!(
        w.auth.authenticate(&pair.access_token).await.is_err(),
        "its access token is dead"
    );
    let refreshed = w.auth.rotate_refresh_token(&refresh, &World::from(HOME)).await;
    assert!(matches!(refreshed, Err(RefreshError::Invalid)), "{refreshed:?}");
    let right = w.login("ada@example.com", PASSWORD, None, HOME).await;
    assert!(matches!(right, Err(LoginError::AccountDisabled)), "{right:?}");
    let wrong = w.login("ada@example.com", "not the password", None, HOME).await;
    assert!(
        matches!(wrong, Err(LoginError::InvalidCredentials)),
        "a wrong password learns nothing: {wrong:?}"
    );

    // Forgot-password and login codes mail nothing to it.
    w.auth
        .request_password_reset(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.auth
        .request_login_code(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    assert!(w.mails().await.is_empty());

    w.auth
        .enable_user(w.tenant.id, account.id, &ops())
        .await
        .unwrap()
        .expect("the account");
    w.login("ada@example.com", PASSWORD, None, HOME)
        .await
        .expect("in again");
    assert!(
        w.auth.authenticate(&pair.access_token).await.is_err(),
        "old sessions stay ended"
    );
}

#[tokio::test]
async fn a_mailed_secret_of_a_disabled_account_opens_nothing_and_is_not_spent() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w.registered("ada@example.com", PASSWORD, None, HOME).await;
    let mail = w.last_mail_to("ada@example.com").await;
    assert_eq!(mail.kind, MailKind::SignupVerification);
    let (token, _) = World::secrets_in(&mail);
    let found = w.auth.find_users(w.tenant.id, Some("ADA@"), None, 10).await.unwrap();
    let id = found.items[0].id;
    w.auth
        .disable_user(w.tenant.id, id, None, &ops())
        .await
        .unwrap()
        .expect("the account");
    let refused = w.auth.verify_email(&w.token(&token), &World::from(HOME)).await;
    assert!(matches!(refused, Err(OneTimeError::AccountDisabled)), "{refused:?}");
    w.auth
        .enable_user(w.tenant.id, id, &ops())
        .await
        .unwrap()
        .expect("the account");
    w.auth
        .verify_email(&w.token(&token), &World::from(HOME))
        .await
        .expect("the link still works once enabled");
}

#[tokio::test]
async fn a_login_code_of_a_disabled_account_is_refused_and_recorded() {
    use portcullis_domain::CodeLoginError;
    use portcullis_domain::model::{EventQuery, EventType};
    let w = World::new();
    let (account, _) = w.signed_up("ada@example.com").await;
    w.auth
        .request_login_code(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    let mail = w.last_mail_to("ada@example.com").await;
    assert_eq!(mail.kind, MailKind::LoginCode);
    let code = mail
        .text
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() == 6)
        .unwrap()
        .to_owned();
    w.auth
        .disable_user(w.tenant.id, account.id, None, &ops())
        .await
        .unwrap()
        .expect("the account");
    let refused = w
        .auth
        .login_with_code(&w.code("ada@example.com", &code), None, &World::from(HOME))
        .await;
    assert!(
        matches!(refused, Err(CodeLoginError::Code(OneTimeError::AccountDisabled))),
        "{refused:?}"
    );
    let query = EventQuery {
        tenant: w.tenant.id,
        user: Some(account.id),
        types: vec![EventType::LoginFailed],
        since: None,
        until: None,
        before: None,
        limit: 10,
    };
    let failed = w.auth.audit_events(query).await.unwrap().items;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].details, serde_json::json!({ "reason": "account_disabled" }));
    assert!(!failed[0].details.to_string().contains(&code));
}

#[tokio::test]
async fn operators_page_accounts_and_end_their_sessions() {
    let w = World::new();
    for n in 0..5 {
        w.signed_up(&format!("user{n}@example.com")).await;
    }
    let (other, _) = w.signed_up("someone@example.com").await;
    let first = w.auth.find_users(w.tenant.id, Some(" user"), None, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = w
        .auth
        .find_users(w.tenant.id, Some("user"), first.next, 2)
        .await
        .unwrap();
    let third = w
        .auth
        .find_users(w.tenant.id, Some("user"), second.next, 2)
        .await
        .unwrap();
    assert_eq!(third.items.len(), 1);
    assert!(third.next.is_none(), "the last page says so");
    let all = w.auth.find_users(w.tenant.id, None, None, 500).await.unwrap();
    assert_eq!(all.items.len(), 6, "a limit above the most is cut to it, not refused");

    w.login("someone@example.com", PASSWORD, None, HOME).await.unwrap();
    let revoked = w
        .auth
        .revoke_user_sessions(w.tenant.id, other.id, &ops())
        .await
        .unwrap();
    assert_eq!(revoked, Some(2), "the signup's session and the login's");
    let seen = w.auth.user_overview(w.tenant.id, other.id).await.unwrap().unwrap();
    assert_eq!(seen.live_sessions, 0);
    assert!(seen.last_login_at.is_some());

    let long = "x".repeat(501);
    let refused = w.auth.disable_user(w.tenant.id, other.id, Some(&long), &ops()).await;
    assert!(matches!(refused, Err(UserAdminError::Invalid(_))), "{refused:?}");
    let nobody = portcullis_domain::UserId::from_uuid(uuid::Uuid::now_v7());
    assert!(
        w.auth
            .disable_user(w.tenant.id, nobody, None, &ops())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        w.auth
            .revoke_user_sessions(w.tenant.id, nobody, &ops())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn refused_logins_are_recorded_for_known_and_unknown_names_and_old_events_are_purged() {
    use portcullis_domain::model::{EventQuery, EventType};
    let w = World::new();
    let (account, _) = w.signed_up("ada@example.com").await;
    assert!(
        w.login("ada@example.com", "not the password", None, HOME)
            .await
            .is_err()
    );
    assert!(w.login("nobody@example.com", PASSWORD, None, HOME).await.is_err());
    let query = EventQuery {
        tenant: w.tenant.id,
        user: None,
        types: vec![EventType::LoginFailed],
        since: None,
        until: None,
        before: None,
        limit: 10,
    };
    let failed = w.auth.audit_events(query.clone()).await.unwrap().items;
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].user_id, None, "the unknown name, newest first");
    assert_eq!(failed[1].user_id, Some(account.id));
    assert_eq!(failed[1].details["reason"], "invalid_credentials");
    assert_eq!(failed[1].request_id.as_deref(), Some("test-request"));
    assert_eq!(failed[1].ip.as_deref(), Some(HOME));

    w.advance(chrono::Duration::days(180) + chrono::Duration::seconds(1));
    w.auth.purge_stale().await.unwrap();
    let all = EventQuery {
        types: Vec::new(),
        ..query
    };
    assert!(
        w.auth.audit_events(all).await.unwrap().items.is_empty(),
        "past the retention"
    );
}

#[tokio::test]
async fn a_new_network_and_a_reused_refresh_token_are_recorded() {
    use portcullis_domain::model::{EventQuery, EventType};
    use portcullis_domain::network::NewIpPolicy;
    let w = World::with(Setup {
        new_ip: NewIpPolicy::Notify,
        ..Setup::default()
    });
    let (account, pair) = w.signed_up("ada@example.com").await;
    w.login("ada@example.com", PASSWORD, None, crate::world::AWAY)
        .await
        .unwrap();
    let first = pair.refresh_token.expose().to_owned();
    w.auth.rotate_refresh_token(&first, &World::from(HOME)).await.unwrap();
    w.advance(chrono::Duration::minutes(5));
    let reused = w.auth.rotate_refresh_token(&first, &World::from("192.0.2.77")).await;
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");

    let query = EventQuery {
        tenant: w.tenant.id,
        user: Some(account.id),
        types: vec![EventType::LoginNewIp, EventType::RefreshReused],
        since: None,
        until: None,
        before: None,
        limit: 10,
    };
    let events = w.auth.audit_events(query).await.unwrap().items;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventType::RefreshReused, EventType::LoginNewIp]);
    assert_eq!(events[0].session_id, Some(pair.session.id));
    assert_eq!(events[0].ip.as_deref(), Some("192.0.2.77"));
    assert_eq!(events[1].details["network"], crate::world::AWAY);
}

#[tokio::test]
async fn a_lockout_is_recorded_once_when_it_begins_for_known_and_unknown_names() {
    use portcullis_domain::limits::Backoff;
    use portcullis_domain::model::{EventQuery, EventType};
    use portcullis_domain::{Limit, Quota};
    use std::time::Duration;
    let w = World::with(Setup {
        backoff: Some(Backoff {
            after: 3,
            first: Duration::from_secs(60),
            max: Duration::from_secs(900),
        }),
        quotas: vec![(Limit::FailedLogin, Quota::new(100, Duration::from_secs(3600)))],
        ..Setup::default()
    });
    let (account, _) = w.signed_up("ada@example.com").await;
    let locked = || async {
        let query = EventQuery {
            tenant: w.tenant.id,
            user: None,
            types: vec![EventType::LoginLocked],
            since: None,
            until: None,
            before: None,
            limit: 10,
        };
        w.auth.audit_events(query).await.unwrap().items
    };
    for _ in 0..3 {
        assert!(
            w.login("ada@example.com", "guess guess guess", None, AWAY)
                .await
                .is_err()
        );
    }
    assert!(locked().await.is_empty(), "three failures are free of back-off");
    assert!(
        w.login("ada@example.com", "guess guess guess", None, AWAY)
            .await
            .is_err()
    );
    // Refusals while the lockout runs add nothing.
    for _ in 0..5 {
        let refused = w.login("ada@example.com", "guess guess guess", None, AWAY).await;
        assert!(matches!(refused, Err(LoginError::Throttled { .. })), "{refused:?}");
    }
    let events = locked().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].user_id, Some(account.id));
    assert_eq!(events[0].details["scope"], "login_name");
    assert_eq!(events[0].details["retry_after_secs"], 60);
    assert_eq!(events[0].ip.as_deref(), Some(AWAY));

    // The next failure after the wait begins a longer lockout: a second event.
    w.advance(chrono::Duration::seconds(61));
    assert!(
        w.login("ada@example.com", "guess guess guess", None, AWAY)
            .await
            .is_err()
    );
    let events = locked().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].details["retry_after_secs"], 120);

    // A name no account has is locked the same way, without a user.
    for _ in 0..4 {
        assert!(
            w.login("nobody@example.com", "guess guess guess", None, AWAY)
                .await
                .is_err()
        );
    }
    let events = locked().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].user_id, None);

    // Wrong current passwords of a signed-in account lock its re-authentication the same way.
    let (_, pair) = w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let p = w.principal(&pair).await;
    let new = World::password("a brand new passphrase");
    for _ in 0..4 {
        let wrong = w
            .auth
            .change_password(&p, Some(&World::password("guess guess guess")), &new, None)
            .await;
        assert!(wrong.is_err());
    }
    let events = locked().await;
    assert_eq!(events.len(), 4);
    assert_eq!(events[0].details["scope"], "reauthentication");
    assert_eq!(events[0].session_id, Some(pair.session.id));
    assert!(
        !serde_json::to_string(&events.iter().map(|e| &e.details).collect::<Vec<_>>())
            .unwrap()
            .contains("guess"),
        "no password in the trail"
    );
}
