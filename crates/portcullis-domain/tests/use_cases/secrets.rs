//! Mailed secrets: verifying an address, resetting a password, one count of wrong codes.

use chrono::Duration;
use portcullis_domain::{MailKind, OneTimeError, Verified};

use crate::world::{AWAY, HOME, PASSWORD, Setup, World};

fn verifying() -> World {
    World::with(Setup {
        verify_email: true,
        ..Setup::default()
    })
}

#[tokio::test]
async fn a_signup_is_completed_by_link_or_code_once() {
    let w = verifying();
    w.registered("ada@example.com", PASSWORD, Some("ada"), HOME).await;
    let (token, code) = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    let done = w
        .auth
        .verify_email(&w.code("ada@example.com", &code), &World::from(HOME))
        .await
        .unwrap();
    let Verified::SignedUp(account, pair) = done else {
        panic!("a signup");
    };
    assert!(account.email_verified);
    assert_eq!(account.username.unwrap().as_str(), "ada");
    assert_eq!(pair.session.amr, vec!["email".to_owned()]);
    let used = w.auth.verify_email(&w.token(&token), &World::from(HOME)).await;
    assert!(matches!(used, Err(OneTimeError::InvalidOrExpired)), "{used:?}");
    w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
}

#[tokio::test]
async fn the_owners_registration_wins_over_a_squatters() {
    let w = verifying();
    w.registered("ada@example.com", "squatter password 1", None, AWAY).await;
    w.registered("ada@example.com", PASSWORD, None, HOME).await;
    let (token, _) = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    w.auth.verify_email(&w.token(&token), &World::from(HOME)).await.unwrap();
    let squatter = w.login("ada@example.com", "squatter password 1", None, AWAY).await;
    assert!(squatter.is_err(), "the squatter's password opens nothing");
    w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
}

#[tokio::test]
async fn wrong_codes_share_one_count_and_expired_links_die() {
    let w = verifying();
    w.registered("ada@example.com", PASSWORD, None, HOME).await;
    let (token, code) = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let refused = w
            .auth
            .verify_email(&w.code("ada@example.com", wrong), &World::from(HOME))
            .await;
        assert!(matches!(refused, Err(OneTimeError::InvalidOrExpired)));
    }
    let spent = w
        .auth
        .verify_email(&w.code("ada@example.com", &code), &World::from(HOME))
        .await;
    assert!(
        matches!(spent, Err(OneTimeError::InvalidOrExpired)),
        "five wrong codes kill the code"
    );
    let not_a_code = w
        .auth
        .verify_email(&w.code("ada@example.com", "12ab56"), &World::from(HOME))
        .await;
    assert!(matches!(not_a_code, Err(OneTimeError::InvalidOrExpired)));
    w.advance(Duration::hours(25));
    let expired = w.auth.verify_email(&w.token(&token), &World::from(HOME)).await;
    assert!(matches!(expired, Err(OneTimeError::InvalidOrExpired)), "{expired:?}");
}

#[tokio::test]
async fn a_reset_sets_the_password_revokes_sessions_and_tells_the_owner() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    w.auth
        .request_password_reset(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.auth
        .request_password_reset(w.tenant.id, World::email("nobody@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    let mail = w.last_mail_to("ada@example.com").await;
    assert_eq!(mail.kind, MailKind::PasswordReset);
    assert!(w.mails().await.iter().all(|m| m.to != "nobody@example.com"));
    let (token, _) = World::secrets_in(&mail);
    w.auth
        .check_reset_secret(&w.token(&token), &World::from(HOME))
        .await
        .unwrap();
    let common = w
        .auth
        .reset_password(&w.token(&token), &World::password("password123"), &World::from(HOME))
        .await;
    assert!(matches!(common, Err(OneTimeError::PasswordTooCommon)), "{common:?}");
    w.auth
        .reset_password(
            &w.token(&token),
            &World::password("a brand new passphrase"),
            &World::from(HOME),
        )
        .await
        .unwrap();
    assert!(
        w.auth.authenticate(&pair.access_token).await.is_err(),
        "every session revoked"
    );
    assert_eq!(
        w.last_mail_to("ada@example.com").await.kind,
        MailKind::PasswordChangedNotice
    );
    w.login("ada@example.com", "a brand new passphrase", None, HOME)
        .await
        .unwrap();
    let again = w
        .auth
        .reset_password(
            &w.token(&token),
            &World::password("yet another passphrase"),
            &World::from(HOME),
        )
        .await;
    assert!(matches!(again, Err(OneTimeError::InvalidOrExpired)), "{again:?}");
}

#[tokio::test]
async fn confirming_an_email_change_to_an_address_taken_meanwhile_is_refused() {
    let w = World::new();
    let (_, ada) = w.signed_up("ada@example.com").await;
    let pa = w.principal(&ada).await;
    w.auth
        .request_email_change(&pa, World::email("new@example.com"), &World::password(PASSWORD), None)
        .await
        .unwrap();
    let (token, _) = World::secrets_in(&w.last_mail_to("new@example.com").await);
    w.signed_up("new@example.com").await;
    let taken = w.auth.verify_email(&w.token(&token), &World::from(HOME)).await;
    assert!(matches!(taken, Err(OneTimeError::EmailTaken)), "{taken:?}");
}
