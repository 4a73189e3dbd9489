//! The second factor: enrolment, activation, login with it, locks, disabling, new codes.

use chrono::Duration;
use portcullis_domain::{InfraError, LoginError, MailKind, MfaError, OverBudget, SecondFactor, TokenPair};

use crate::world::{HOME, PASSWORD, Setup, World};

/// Enrols and activates TOTP for the pair's account; returns the base32 secret and the
/// recovery codes. Moves the clock to the next time step, so the activation code is not reused.
pub async fn enable_totp(w: &World, pair: &TokenPair) -> (String, Vec<String>) {
    let principal = w.principal(pair).await;
    let enrollment = w.auth.enroll_totp(&principal).await.unwrap();
    let secret = enrollment.secret.to_string();
    let codes = w.auth.activate_totp(&principal, &w.totp_code(&secret)).await.unwrap();
    w.advance(Duration::seconds(30));
    (secret, codes)
}

#[tokio::test]
async fn enrolment_needs_a_right_code_and_happens_once() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let principal = w.principal(&pair).await;
    let enrollment = w.auth.enroll_totp(&principal).await.unwrap();
    assert!(enrollment.otpauth_uri.starts_with("otpauth://totp/"));
    let wrong = w.auth.activate_totp(&principal, "000000").await;
    let right = w.totp_code(&enrollment.secret);
    let wrong = match wrong {
        Err(e) => e,
        // One in a million: 000000 was the right code.
        Ok(_) => return,
    };
    assert!(matches!(wrong, MfaError::InvalidCode), "{wrong:?}");
    let codes = w.auth.activate_totp(&principal, &right).await.unwrap();
    assert_eq!(codes.len(), portcullis_domain::totp::RECOVERY_CODES);
    let again = w.auth.enroll_totp(&principal).await;
    assert!(matches!(again, Err(MfaError::AlreadyEnabled)), "{again:?}");
    let again = w.auth.activate_totp(&principal, &right).await;
    assert!(matches!(again, Err(MfaError::AlreadyEnabled)), "{again:?}");
    assert!(w.auth.account(&principal).await.unwrap().unwrap().mfa_enabled);
    assert_eq!(account.id, principal.claims.sub);
}

#[tokio::test]
async fn a_code_logs_in_once_and_concurrent_uses_of_it_win_once() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, _) = enable_totp(&w, &pair).await;
    let code = w.totp_code(&secret);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let factor = SecondFactor::Totp(code.clone());
            let w = &w;
            async move { w.login("ada@example.com", PASSWORD, Some(&factor), HOME).await }
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "one time step, one login");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, LoginError::SecondFactor(MfaError::InvalidCode)))
    );
    let (_, logged) = results.into_iter().find_map(Result::ok).unwrap();
    assert_eq!(logged.session.amr, vec!["pwd".to_owned(), "otp".to_owned()]);
    assert_eq!(w.last_mail_to("ada@example.com").await.kind, MailKind::TotpReplayNotice);
    // Each replay is recorded, with the second factor's own refusal beside it.
    let query = portcullis_domain::model::EventQuery {
        tenant: w.tenant.id,
        user: None,
        types: vec![portcullis_domain::model::EventType::TotpReplayed],
        since: None,
        until: None,
        before: None,
        limit: 50,
    };
    assert_eq!(w.auth.audit_events(query).await.unwrap().items.len(), 5);
}

#[tokio::test]
async fn wrong_codes_lock_the_factor_and_repeated_locks_tell_the_owner_once() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    enable_totp(&w, &pair).await;
    let wrong = SecondFactor::Totp("000000".to_owned());
    for streak in 0..2 {
        for _ in 0..5 {
            let refused = w.login("ada@example.com", PASSWORD, Some(&wrong), HOME).await;
            assert!(
                matches!(refused, Err(LoginError::SecondFactor(MfaError::InvalidCode))),
                "{refused:?}"
            );
        }
        let locked = w.login("ada@example.com", PASSWORD, Some(&wrong), HOME).await;
        assert!(
            matches!(locked, Err(LoginError::SecondFactor(MfaError::Locked { .. }))),
            "streak {streak}: {locked:?}"
        );
        w.advance(Duration::minutes(16));
    }
    let notices = w
        .mails()
        .await
        .into_iter()
        .filter(|m| m.kind == MailKind::TotpLockedNotice)
        .count();
    assert_eq!(notices, 1, "told once per streak of locks");
}

#[tokio::test]
async fn a_recovery_code_logs_in_once() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (_, codes) = enable_totp(&w, &pair).await;
    let code = SecondFactor::Recovery(codes[0].to_lowercase());
    let (_, logged) = w.login("ada@example.com", PASSWORD, Some(&code), HOME).await.unwrap();
    assert_eq!(logged.session.amr, vec!["pwd".to_owned(), "recovery".to_owned()]);
    let again = w.login("ada@example.com", PASSWORD, Some(&code), HOME).await;
    assert!(
        matches!(again, Err(LoginError::SecondFactor(MfaError::InvalidCode))),
        "{again:?}"
    );
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_code_and_ends_other_sessions() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, codes) = enable_totp(&w, &pair).await;
    let other = w
        .login(
            "ada@example.com",
            PASSWORD,
            Some(&SecondFactor::Recovery(codes[1].clone())),
            HOME,
        )
        .await
        .unwrap()
        .1;
    let principal = w.principal(&pair).await;
    let wrong_password = w
        .auth
        .disable_mfa(
            &principal,
            &World::password("not the password"),
            &SecondFactor::Totp(w.totp_code(&secret)),
        )
        .await;
    assert!(
        matches!(wrong_password, Err(MfaError::InvalidCredentials)),
        "{wrong_password:?}"
    );
    let revoked = w
        .auth
        .disable_mfa(
            &principal,
            &World::password(PASSWORD),
            &SecondFactor::Recovery(codes[2].clone()),
        )
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert!(
        w.auth.authenticate(&other.access_token).await.is_err(),
        "the other session ended"
    );
    let again = w
        .auth
        .disable_mfa(
            &principal,
            &World::password(PASSWORD),
            &SecondFactor::Recovery(codes[3].clone()),
        )
        .await;
    assert!(matches!(again, Err(MfaError::NotEnabled)), "{again:?}");
}

#[tokio::test]
async fn new_recovery_codes_need_a_totp_code_and_replace_the_old_ones() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let principal = w.principal(&pair).await;
    let not_yet = w.auth.regenerate_recovery_codes(&principal, "123456").await;
    assert!(matches!(not_yet, Err(MfaError::NotEnabled)), "{not_yet:?}");
    let (secret, old) = enable_totp(&w, &pair).await;
    let fresh = w
        .auth
        .regenerate_recovery_codes(&principal, &w.totp_code(&secret))
        .await
        .unwrap();
    assert_ne!(fresh, old);
    let dead = w
        .login(
            "ada@example.com",
            PASSWORD,
            Some(&SecondFactor::Recovery(old[0].clone())),
            HOME,
        )
        .await;
    assert!(
        matches!(dead, Err(LoginError::SecondFactor(MfaError::InvalidCode))),
        "{dead:?}"
    );
}

#[tokio::test]
async fn re_authentication_is_limited_per_account() {
    let w = crate::world::World::with(crate::world::Setup {
        quotas: vec![(
            portcullis_domain::Limit::Reauthentication,
            portcullis_domain::Quota::new(2, std::time::Duration::from_secs(3600)),
        )],
        ..crate::world::Setup::default()
    });
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, _) = enable_totp(&w, &pair).await;
    let principal = w.principal(&pair).await;
    for _ in 0..2 {
        let _ = w.auth.regenerate_recovery_codes(&principal, "000000").await;
    }
    let limited = w
        .auth
        .regenerate_recovery_codes(&principal, &w.totp_code(&secret))
        .await;
    assert!(
        matches!(limited, Err(MfaError::OverBudget(OverBudget::RateLimited { .. }))),
        "{limited:?}"
    );
}

#[tokio::test]
async fn a_secret_sealed_under_another_key_is_an_internal_error_not_a_wrong_code() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, _) = enable_totp(&w, &pair).await;
    // A node started with another MFA key cannot open the stored secret: that is a fault of
    // the deployment, which must not read as the user's wrong code (nor lock them out).
    let other = w.sharing(Setup {
        mfa_key: [8u8; 32],
        ..Setup::default()
    });
    let code = SecondFactor::Totp(w.totp_code(&secret));
    let refused = other.login("ada@example.com", PASSWORD, Some(&code), HOME).await;
    assert!(
        matches!(&refused, Err(LoginError::Infra(InfraError::Internal(_)))),
        "{refused:?}"
    );
    let accepted = w.login("ada@example.com", PASSWORD, Some(&code), HOME).await;
    assert!(accepted.is_ok(), "the right node still accepts it: {accepted:?}");
}
