//! `login`: credentials, verification, the failed-login budget and the new-IP policy.

use portcullis_domain::network::NewIpPolicy;
use portcullis_domain::{Limit, LoginError, MailKind, MfaError, Quota};

use crate::world::{AWAY, HOME, PASSWORD, Setup, World};

#[tokio::test]
async fn the_right_password_opens_a_session_and_a_wrong_one_or_unknown_name_does_not() {
    let w = World::new();
    let (account, _) = w.signed_up("ada@example.com").await;
    let (who, pair) = w.login("ADA@example.com", PASSWORD, None, HOME).await.unwrap();
    assert_eq!(who.id, account.id);
    assert_eq!(w.principal(&pair).await.session.id, pair.session.id);
    let wrong = w.login("ada@example.com", "not the password", None, HOME).await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)), "{wrong:?}");
    let nobody = w.login("nobody@example.com", PASSWORD, None, HOME).await;
    assert!(matches!(nobody, Err(LoginError::InvalidCredentials)), "{nobody:?}");
}

#[tokio::test]
async fn an_unverified_address_cannot_log_in_even_with_the_right_password() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w.registered("ada@example.com", PASSWORD, None, HOME).await;
    let refused = w.login("ada@example.com", PASSWORD, None, HOME).await;
    assert!(matches!(refused, Err(LoginError::EmailNotVerified)), "{refused:?}");
    let wrong = w.login("ada@example.com", "not the password", None, HOME).await;
    assert!(matches!(wrong, Err(LoginError::InvalidCredentials)), "{wrong:?}");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_name_and_the_owner_keeps_a_budget_at_home() {
    let w = World::with(Setup {
        quotas: vec![(Limit::FailedLogin, Quota::new(3, std::time::Duration::from_secs(3600)))],
        ..Setup::default()
    });
    w.signed_up("ada@example.com").await;
    for _ in 0..3 {
        let wrong = w.login("ada@example.com", "guess guess guess", None, AWAY).await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)), "{wrong:?}");
    }
    let throttled = w.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(matches!(throttled, Err(LoginError::Throttled { .. })), "{throttled:?}");
    // Guesses from elsewhere do not lock the owner out of a network the account knows.
    w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    // An unknown name is throttled the same way, so the answer tells nothing.
    for _ in 0..3 {
        let _ = w.login("nobody@example.com", "guess guess guess", None, AWAY).await;
    }
    let same = w.login("nobody@example.com", "guess guess guess", None, AWAY).await;
    assert!(matches!(same, Err(LoginError::Throttled { .. })), "{same:?}");
}

#[tokio::test]
async fn under_require_a_new_network_must_be_authorized_by_mail_first() {
    let w = World::with(Setup {
        new_ip: NewIpPolicy::Require,
        ..Setup::default()
    });
    let (account, _) = w.signed_up("ada@example.com").await;
    let refused = w.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(
        matches!(refused, Err(LoginError::IpAuthorizationRequired)),
        "{refused:?}"
    );
    let again = w.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(matches!(again, Err(LoginError::IpAuthorizationRequired)));
    let mails: Vec<_> = w
        .mails()
        .await
        .into_iter()
        .filter(|m| m.kind == MailKind::IpAuthorization)
        .collect();
    assert_eq!(mails.len(), 1, "one mail while its link lives");
    let (token, _) = World::secrets_in(&mails[0]);
    let authorized = w
        .auth
        .authorize_network(&w.token(&token), &World::from(AWAY))
        .await
        .unwrap();
    assert_eq!(authorized.id, account.id);
    w.login("ada@example.com", PASSWORD, None, AWAY).await.unwrap();
}

#[tokio::test]
async fn under_notify_a_new_network_signs_in_and_the_owner_is_told() {
    let w = World::with(Setup {
        new_ip: NewIpPolicy::Notify,
        ..Setup::default()
    });
    w.signed_up("ada@example.com").await;
    w.login("ada@example.com", PASSWORD, None, AWAY).await.unwrap();
    assert_eq!(w.last_mail_to("ada@example.com").await.kind, MailKind::NewSignInNotice);
    let before = w.mails().await.len();
    w.login("ada@example.com", PASSWORD, None, AWAY).await.unwrap();
    assert_eq!(w.mails().await.len(), before, "a known network is not news");
}

#[tokio::test]
async fn with_a_second_factor_the_password_alone_is_not_enough() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    crate::second_factor::enable_totp(&w, &pair).await;
    let missing = w.login("ada@example.com", PASSWORD, None, HOME).await;
    assert!(
        matches!(missing, Err(LoginError::SecondFactor(MfaError::Required))),
        "{missing:?}"
    );
}

/// A login code mailed to `email` (the worker fulfils the request).
async fn login_code(w: &World, email: &str) -> String {
    w.auth
        .request_login_code(w.tenant.id, World::email(email), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    let mail = w.last_mail_to(email).await;
    assert_eq!(mail.kind, MailKind::LoginCode);
    mail.text
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() == 6)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_mailed_code_logs_in_once_and_unknown_addresses_get_no_mail() {
    let w = World::new();
    w.signed_up("ada@example.com").await;
    w.auth
        .request_login_code(w.tenant.id, World::email("nobody@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    assert!(w.mails().await.iter().all(|m| m.to != "nobody@example.com"));
    let code = login_code(&w, "ada@example.com").await;
    let (_, pair) = w
        .auth
        .login_with_code(&w.code("ada@example.com", &code), None, &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(w.principal(&pair).await.claims.amr, ["email"]);
    let again = w
        .auth
        .login_with_code(&w.code("ada@example.com", &code), None, &World::from(HOME))
        .await;
    assert!(matches!(again, Err(portcullis_domain::CodeLoginError::Code(_))));
}

#[tokio::test]
async fn a_code_login_refused_by_the_new_ip_policy_keeps_the_code() {
    let w = World::with(Setup {
        new_ip: NewIpPolicy::Require,
        ..Setup::default()
    });
    // Signed up (verification off) from HOME, which is thus known.
    w.signed_up("ada@example.com").await;
    let code = login_code(&w, "ada@example.com").await;
    for _ in 0..6 {
        let refused = w
            .auth
            .login_with_code(&w.code("ada@example.com", &code), None, &World::from(AWAY))
            .await;
        assert!(
            matches!(
                refused,
                Err(portcullis_domain::CodeLoginError::Login(
                    LoginError::IpAuthorizationRequired
                ))
            ),
            "{refused:?}"
        );
    }
    // Six refusals, and the code still works from home (none counted as a wrong try).
    w.auth
        .login_with_code(&w.code("ada@example.com", &code), None, &World::from(HOME))
        .await
        .unwrap();
}
