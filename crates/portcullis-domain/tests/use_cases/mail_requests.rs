//! Resend and forgot: recorded at once, fulfilled by the worker within the recipient's budget.

use portcullis_domain::{Limit, MailKind, Quota};

use crate::world::{HOME, PASSWORD, Setup, World};

#[tokio::test]
async fn a_resend_mails_a_new_secret_only_to_an_unverified_address() {
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w.registered("ada@example.com", PASSWORD, None, HOME).await;
    let first = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    w.auth
        .request_verification_mail(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(w.store.pending_requests().await, (0, 1), "recorded, not yet mailed");
    w.work().await;
    let second = World::secrets_in(&w.last_mail_to("ada@example.com").await);
    assert_ne!(first, second);
    // The resent secret renews the registration made from this network: it sets the password.
    w.auth
        .verify_email(&w.token(&second.0), &World::from(HOME))
        .await
        .unwrap();
    w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let count = w.mails().await.len();
    w.auth
        .request_verification_mail(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
        .await
        .unwrap();
    w.work().await;
    assert_eq!(w.mails().await.len(), count, "a verified address gets nothing");
}

#[tokio::test]
async fn the_recipients_budget_holds_back_mail_anyone_can_trigger() {
    let w = World::with(Setup {
        quotas: vec![(Limit::MailPerMinute, Quota::new(1, std::time::Duration::from_secs(60)))],
        ..Setup::default()
    });
    w.signed_up("ada@example.com").await;
    for _ in 0..3 {
        w.auth
            .request_password_reset(w.tenant.id, World::email("ada@example.com"), &World::from(HOME))
            .await
            .unwrap();
    }
    w.work().await;
    let resets = w
        .mails()
        .await
        .into_iter()
        .filter(|m| m.kind == MailKind::PasswordReset)
        .count();
    assert_eq!(resets, 1, "one a minute");
}
