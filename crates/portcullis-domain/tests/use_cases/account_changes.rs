//! Changes of address and password by a signed-in user.

use chrono::Duration;
use portcullis_domain::{AccountChangeError, Limit, MailKind, MfaError, OverBudget, Quota, SecondFactor, Verified};

use crate::world::{HOME, PASSWORD, Setup, World};

#[tokio::test]
async fn an_email_change_is_confirmed_from_the_new_mailbox() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    let same = w
        .auth
        .request_email_change(&p, World::email("ADA@example.com"), &World::password(PASSWORD), None)
        .await;
    assert!(matches!(same, Err(AccountChangeError::SameAddress)), "{same:?}");
    let wrong = w
        .auth
        .request_email_change(
            &p,
            World::email("new@example.com"),
            &World::password("not it at all"),
            None,
        )
        .await;
    assert!(
        matches!(wrong, Err(AccountChangeError::InvalidCredentials)),
        "{wrong:?}"
    );
    w.auth
        .request_email_change(&p, World::email("new@example.com"), &World::password(PASSWORD), None)
        .await
        .unwrap();
    assert_eq!(
        w.last_mail_to("ada@example.com").await.kind,
        MailKind::EmailChangeRequestedNotice
    );
    let (_, code) = World::secrets_in(&w.last_mail_to("new@example.com").await);
    let done = w
        .auth
        .verify_email(&w.code("new@example.com", &code), &World::from(HOME))
        .await
        .unwrap();
    let Verified::EmailChanged(account) = done else {
        panic!("an email change");
    };
    assert_eq!(account.email.as_str(), "new@example.com");
    assert_eq!(
        w.last_mail_to("ada@example.com").await.kind,
        MailKind::EmailChangedNotice
    );
}

#[tokio::test]
async fn email_changes_are_limited_per_account_and_per_recipient() {
    let w = World::with(Setup {
        quotas: vec![
            (Limit::EmailChange, Quota::new(2, std::time::Duration::from_secs(3600))),
            (Limit::MailPerMinute, Quota::new(1, std::time::Duration::from_secs(60))),
        ],
        ..Setup::default()
    });
    let (_, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    let ask = |to: &'static str| {
        let (w, p) = (&w, &p);
        async move {
            w.auth
                .request_email_change(p, World::email(to), &World::password(PASSWORD), None)
                .await
        }
    };
    ask("one@example.com").await.unwrap();
    let recipient = ask("one@example.com").await;
    assert!(
        matches!(recipient, Err(AccountChangeError::RecipientLimited { .. })),
        "{recipient:?}"
    );
    let account = ask("two@example.com").await;
    assert!(
        matches!(
            account,
            Err(AccountChangeError::OverBudget(OverBudget::RateLimited { .. }))
        ),
        "{account:?}"
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (_, other) = w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let p = w.principal(&pair).await;
    let new = World::password("a brand new passphrase");
    let wrong = w
        .auth
        .change_password(&p, Some(&World::password("not it at all")), &new, None)
        .await;
    assert!(
        matches!(wrong, Err(AccountChangeError::InvalidCredentials)),
        "{wrong:?}"
    );
    let common = w
        .auth
        .change_password(
            &p,
            Some(&World::password(PASSWORD)),
            &World::password("password123"),
            None,
        )
        .await;
    assert!(
        matches!(common, Err(AccountChangeError::PasswordTooCommon)),
        "{common:?}"
    );
    let missing = w.auth.change_password(&p, None, &new, None).await;
    assert!(
        matches!(missing, Err(AccountChangeError::CurrentPasswordRequired)),
        "{missing:?}"
    );
    let revoked = w
        .auth
        .change_password(&p, Some(&World::password(PASSWORD)), &new, None)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(w.auth.authenticate(&other.access_token).await.is_err());
    assert!(
        w.auth.authenticate(&pair.access_token).await.is_ok(),
        "the caller's session stays"
    );
    assert_eq!(
        w.last_mail_to("ada@example.com").await.kind,
        MailKind::PasswordChangedNotice
    );
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_per_account() {
    let w = World::with(Setup {
        quotas: vec![(Limit::FailedLogin, Quota::new(2, std::time::Duration::from_secs(3600)))],
        ..Setup::default()
    });
    let (_, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    let new = World::password("a brand new passphrase");
    for _ in 0..2 {
        let _ = w
            .auth
            .change_password(&p, Some(&World::password("not it at all")), &new, None)
            .await;
    }
    let throttled = w
        .auth
        .change_password(&p, Some(&World::password(PASSWORD)), &new, None)
        .await;
    assert!(
        matches!(
            throttled,
            Err(AccountChangeError::OverBudget(OverBudget::Throttled { .. }))
        ),
        "{throttled:?}"
    );
}

#[tokio::test]
async fn with_a_second_factor_a_change_needs_its_code() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, _) = crate::second_factor::enable_totp(&w, &pair).await;
    let p = w.principal(&pair).await;
    let new = World::password("a brand new passphrase");
    let missing = w
        .auth
        .change_password(&p, Some(&World::password(PASSWORD)), &new, None)
        .await;
    assert!(
        matches!(missing, Err(AccountChangeError::SecondFactor(MfaError::Required))),
        "{missing:?}"
    );
    let factor = SecondFactor::Totp(w.totp_code(&secret));
    w.auth
        .change_password(&p, Some(&World::password(PASSWORD)), &new, Some(&factor))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_account_without_a_password_sets_one_only_from_a_fresh_session() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    // Registered from one network, resent and verified from another: the secret names no
    // registration, so the account proves its mailbox but has no password.
    w.registered("ada@example.com", PASSWORD, None, "192.0.2.1").await;
    w.auth
        .request_verification_mail(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    let (token, _) = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    let Verified::SignedUp(_, pair) = w.auth.verify_email(&w.token(&token), &World::from(HOME)).await.unwrap() else {
        panic!("a signup");
    };
    let p = w.principal(&pair).await;
    w.advance(Duration::minutes(11));
    let stale = w
        .auth
        .change_password(&p, None, &World::password("my first passphrase"), None)
        .await;
    assert!(
        matches!(stale, Err(AccountChangeError::FreshSessionRequired)),
        "{stale:?}"
    );
    let (_, fresh) = {
        w.auth
            .request_password_reset(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
            .await
            .unwrap();
        w.work().await;
        let (reset, _) = World::secrets_in(&w.last_mail_to("ada@example.com").await);
        w.auth
            .reset_password(
                &w.token(&reset),
                &World::password("my first passphrase"),
                &World::from(HOME),
            )
            .await
            .unwrap();
        w.login("ada@example.com", "my first passphrase", None, HOME)
            .await
            .unwrap()
    };
    assert!(w.auth.authenticate(&fresh.access_token).await.is_ok());
}
