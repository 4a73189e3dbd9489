//! `register` and the worker's fulfilment of registrations.

use portcullis_domain::{AccountConflict, MailKind, RegisterError, Registered, Tenant, TenantId};

use crate::world::{HOME, PASSWORD, Setup, World};

#[tokio::test]
async fn without_verification_an_account_is_active_and_logged_in_at_once() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    assert!(account.email_verified);
    assert_eq!(pair.session.user_id, account.id);
    assert_eq!(pair.session.amr, vec!["pwd".to_owned()]);
    let principal = w.principal(&pair).await;
    assert_eq!(principal.claims.sub, account.id);
}

#[tokio::test]
async fn a_taken_address_or_username_is_refused() {
    let w = World::new();
    w.register("ada@example.com", PASSWORD, Some("ada")).await.unwrap();
    let again = w.register("ADA@example.com", PASSWORD, None).await;
    assert!(
        matches!(again, Err(RegisterError::Conflict(AccountConflict::EmailTaken))),
        "{again:?}"
    );
    let again = w.register("grace@example.com", PASSWORD, Some("Ada")).await;
    assert!(
        matches!(again, Err(RegisterError::Conflict(AccountConflict::UsernameTaken))),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_common_password_is_refused_before_anything_is_stored() {
    let w = World::new();
    let refused = w.register("ada@example.com", "password123", None).await;
    assert!(matches!(refused, Err(RegisterError::PasswordTooCommon)), "{refused:?}");
    assert!(
        w.signed_up("ada@example.com").await.0.email_verified,
        "nothing was kept"
    );
}

#[tokio::test]
async fn a_tenant_that_vanished_is_unknown() {
    let w = World::new();
    let mut reg = w.registration("ada@example.com", PASSWORD, None);
    reg.tenant = Tenant {
        id: TenantId::from_uuid(uuid::Uuid::now_v7()),
        slug: "gone".to_owned(),
    };
    let refused = w.auth.register(reg, &World::from(HOME)).await;
    assert!(
        matches!(refused, Err(RegisterError::Conflict(AccountConflict::UnknownTenant))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn with_verification_register_only_records_a_request_with_the_same_answer_for_known_addresses() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    for _ in 0..2 {
        let before = w.mails().await.len();
        let answer = w.register("ada@example.com", PASSWORD, None).await.unwrap();
        assert!(matches!(answer, Registered::MailSent));
        assert_eq!(w.mails().await.len(), before, "nothing is mailed until the worker runs");
        w.work().await;
    }
    let mails = w.mails().await;
    assert_eq!(mails.len(), 2);
    assert!(mails.iter().all(|m| m.kind == MailKind::SignupVerification));
    assert_eq!(w.store.pending_requests().await, (0, 0));

    // Once verified, another registration only tells the owner.
    let (token, _) = World::secrets_in(&mails[1]);
    w.auth.verify_email(&w.token(&token), &World::from(HOME)).await.unwrap();
    let answer = w.register("ada@example.com", PASSWORD, None).await.unwrap();
    assert!(matches!(answer, Registered::MailSent));
    w.work().await;
    assert_eq!(
        w.last_mail_to("ada@example.com").await.kind,
        MailKind::ExistingAccountNotice
    );
}

#[tokio::test]
async fn with_verification_a_taken_username_is_refused_whatever_the_address() {
    let w = World::new();
    w.register("ada@example.com", PASSWORD, Some("ada")).await.unwrap();
    let w2 = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w2.registered("ada@example.com", PASSWORD, Some("ada"), HOME).await;
    let (token, _) = World::secrets_in(&w2.last_mail_to("ada@example.com").await);
    w2.auth
        .verify_email(&w2.token(&token), &World::from(HOME))
        .await
        .unwrap();
    let refused = w2.register("new@example.com", PASSWORD, Some("ADA")).await;
    assert!(
        matches!(refused, Err(RegisterError::Conflict(AccountConflict::UsernameTaken))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn unverified_accounts_are_purged_after_their_time() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w.registered("late@example.com", PASSWORD, None, HOME).await;
    assert!(w.auth.purge_stale().await.unwrap().unverified_accounts.is_empty());
    w.advance(chrono::Duration::days(8));
    let purged = w.auth.purge_stale().await.unwrap();
    assert_eq!(purged.unverified_accounts.len(), 1);
    assert_eq!(purged.secrets, 1, "its verification secret died too");
}
