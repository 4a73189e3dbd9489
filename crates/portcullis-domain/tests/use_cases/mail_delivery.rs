//! The outbox's delivery: sent, retried with back-off, or given up.

use std::sync::Arc;

use chrono::Duration;
use portcullis_domain::{MailDelivery, RetryPolicy, SendError};
use portcullis_memory::{MailStatus, MemoryTransport};

use crate::world::World;

#[tokio::test]
async fn mail_is_sent_retried_after_a_temporary_failure_and_given_up_after_a_permanent_one() {
    let w = World::new();
    w.signed_up("ada@example.com").await;
    forgot(&w).await;
    w.work().await;
    let transport = MemoryTransport::default();
    transport.fail_next(vec![SendError::Temporary("busy".into())]);
    let delivery = MailDelivery::new(
        Arc::new(w.store.clone()),
        Arc::new(transport.clone()),
        w.clock.clone(),
        RetryPolicy::default(),
    );
    let first = delivery.run_once(10).await.unwrap();
    assert_eq!((first.sent, first.retried), (0, 1));
    assert!(transport.sent().is_empty());
    w.advance(Duration::seconds(6));
    let second = delivery.run_once(10).await.unwrap();
    assert_eq!(second.sent, 1);
    assert_eq!(transport.sent().len(), 1);
    let outbox = w.store.outbox().await;
    assert_eq!(outbox[0].1, MailStatus::Sent);
    assert!(
        outbox[0].0.text.is_empty(),
        "a sent mail's body, with its secret, is forgotten"
    );

    forgot(&w).await;
    w.advance(Duration::minutes(2));
    w.work().await;
    transport.fail_next(vec![SendError::Permanent("no such mailbox".into())]);
    let third = delivery.run_once(10).await.unwrap();
    assert_eq!(third.failed, 1);
    assert_eq!(w.store.outbox().await[1].1, MailStatus::Failed);
}

/// Ada asks for a password reset: one mail into the outbox.
async fn forgot(w: &World) {
    let from = World::from(crate::world::HOME);
    w.auth
        .request_password_reset(w.tenant.id, World::email("ada@example.com"), &from)
        .await
        .unwrap();
}
