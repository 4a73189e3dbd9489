//! Storage that cannot be reached: every use case ends in its `Infra` error (503 at the edge),
//! and works again, with nothing half-written, when storage is back.

use portcullis_domain::{
    AccountChangeError, AuthenticateError, InfraError, LoginError, MfaError, OneTimeError, OverBudget, RefreshError,
    RegisterError, UsernameError,
};

use crate::world::{HOME, PASSWORD, World};

fn unavailable(e: &InfraError) -> bool {
    matches!(e, InfraError::Unavailable(_))
}

#[tokio::test]
async fn every_use_case_reports_unavailable_storage_and_recovers() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let principal = w.principal(&pair).await;
    w.store.set_unavailable(true);

    let r = w.register("grace@example.com", PASSWORD, None).await;
    assert!(matches!(&r, Err(RegisterError::Infra(e)) if unavailable(e)), "{r:?}");
    let l = w.login("ada@example.com", PASSWORD, None, HOME).await;
    assert!(matches!(&l, Err(LoginError::Infra(e)) if unavailable(e)), "{l:?}");
    let f = w
        .auth
        .rotate_refresh_token(pair.refresh_token.expose(), &World::from(HOME))
        .await;
    assert!(matches!(&f, Err(RefreshError::Infra(e)) if unavailable(e)), "{f:?}");
    let a = w.auth.authenticate(&pair.access_token).await;
    assert!(
        matches!(&a, Err(AuthenticateError::Infra(e)) if unavailable(e)),
        "{a:?}"
    );
    let v = w
        .auth
        .verify_email(&w.code("ada@example.com", "123456"), &World::from(HOME))
        .await;
    assert!(matches!(&v, Err(OneTimeError::Infra(e)) if unavailable(e)), "{v:?}");
    let c = w
        .auth
        .change_password(
            &principal,
            Some(&World::password(PASSWORD)),
            &World::password("another passphrase"),
            None,
        )
        .await;
    assert!(
        matches!(&c, Err(AccountChangeError::Infra(e)) if unavailable(e)),
        "{c:?}"
    );
    let u = w.auth.set_username(&principal, &World::username("ada")).await;
    assert!(matches!(&u, Err(UsernameError::Infra(e)) if unavailable(e)), "{u:?}");
    let m = w.auth.enroll_totp(&principal).await;
    assert!(matches!(&m, Err(MfaError::Infra(e)) if unavailable(e)), "{m:?}");
    let s = w.auth.sessions(&principal).await;
    assert!(matches!(&s, Err(e) if unavailable(e)), "{s:?}");
    let q = w
        .auth
        .request_password_reset(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await;
    assert!(matches!(&q, Err(e) if unavailable(e)), "{q:?}");
    assert!(w.auth.ready().await.is_err());

    w.store.set_unavailable(false);
    w.auth.ready().await.unwrap();
    w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    w.signed_up("grace@example.com").await;
    assert!(w.mails().await.is_empty(), "nothing was queued while storage was down");
}

#[tokio::test]
async fn wrong_passwords_when_disabling_the_second_factor_are_throttled() {
    let w = World::with(crate::world::Setup {
        quotas: vec![(
            portcullis_domain::Limit::FailedLogin,
            portcullis_domain::Quota::new(2, std::time::Duration::from_secs(3600)),
        )],
        ..crate::world::Setup::default()
    });
    let (_, pair) = w.signed_up("ada@example.com").await;
    let (secret, _) = crate::second_factor::enable_totp(&w, &pair).await;
    let principal = w.principal(&pair).await;
    let code = portcullis_domain::SecondFactor::Totp(w.totp_code(&secret));
    for _ in 0..2 {
        let wrong = w
            .auth
            .disable_mfa(&principal, &World::password("not it at all"), &code)
            .await;
        assert!(matches!(wrong, Err(MfaError::InvalidCredentials)), "{wrong:?}");
    }
    let throttled = w.auth.disable_mfa(&principal, &World::password(PASSWORD), &code).await;
    assert!(
        matches!(throttled, Err(MfaError::OverBudget(OverBudget::Throttled { .. }))),
        "{throttled:?}"
    );
}

#[tokio::test]
async fn hashing_at_capacity_answers_busy_at_once_and_stores_nothing() {
    let w = World::with(crate::world::Setup {
        hashing: Some(portcullis_argon2::Argon2Settings {
            m_cost_kib: 32 * 1024,
            t_cost: 2,
            p_cost: 1,
            threads: 1,
            queue: 0,
            ..portcullis_argon2::Argon2Settings::default()
        }),
        ..crate::world::Setup::default()
    });
    let addresses: Vec<String> = (0..4).map(|i| format!("user{i}@example.com")).collect();
    let home = World::from(HOME);
    let results = futures::future::join_all(
        addresses
            .iter()
            .map(|a| w.auth.register(w.registration(a, PASSWORD, None), &home)),
    )
    .await;
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(RegisterError::Infra(InfraError::Busy { .. }))))
        .count();
    assert!(
        busy >= 1,
        "one hashing thread and no queue: a concurrent hash is refused"
    );
    assert!(results.iter().any(Result::is_ok), "the first is hashed");
    // Read from storage, not by logging in: a login would hash too, and could itself find the
    // one hashing thread busy.
    for (address, result) in addresses.iter().zip(&results) {
        let stored =
            portcullis_domain::AccountStore::credentials_by_email(&w.store, w.tenant.id, &World::email(address))
                .await
                .unwrap();
        assert_eq!(
            result.is_ok(),
            stored.is_some(),
            "{address}: stored only when registered"
        );
    }
}
