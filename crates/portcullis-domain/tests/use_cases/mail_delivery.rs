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

/// A transport that asks delivery to stop while its first mail is being sent, as SIGTERM would.
#[derive(Debug)]
struct StopsDuringFirstSend {
    inner: MemoryTransport,
    control: std::sync::OnceLock<portcullis_domain::DeliveryControl>,
}

#[async_trait::async_trait]
impl portcullis_domain::MailTransport for StopsDuringFirstSend {
    async fn send(&self, mail: &portcullis_domain::OutgoingMail) -> Result<(), SendError> {
        if let Some(control) = self.control.get() {
            control.stop();
        }
        self.inner.send(mail).await
    }
}

#[tokio::test]
async fn a_stopping_delivery_finishes_the_mail_in_hand_and_gives_the_rest_back_at_once() {
    use portcullis_domain::{Clock as _, OutboxStore as _};
    let w = World::new();
    for i in 0..3 {
        let mail = portcullis_domain::OutgoingMail {
            id: uuid::Uuid::now_v7(),
            tenant_id: w.tenant.id,
            to: format!("user{i}@example.com"),
            from: None,
            kind: portcullis_domain::MailKind::PasswordReset,
            subject: "Reset".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        };
        w.store.enqueue(&mail, w.clock.now()).await.unwrap();
    }
    let transport = Arc::new(StopsDuringFirstSend {
        inner: MemoryTransport::default(),
        control: std::sync::OnceLock::new(),
    });
    let policy = RetryPolicy::default();
    let stopping = MailDelivery::new(Arc::new(w.store.clone()), transport.clone(), w.clock.clone(), policy);
    let _ = transport.control.set(stopping.control());
    let report = stopping.run_once(10).await.unwrap();
    assert_eq!(report.sent, 1, "the mail in hand is finished");
    assert!(stopping.control().is_stopping());

    // Another worker takes the other two at once, without waiting for the two-minute lease.
    let other = MemoryTransport::default();
    let delivery = MailDelivery::new(
        Arc::new(w.store.clone()),
        Arc::new(other.clone()),
        w.clock.clone(),
        policy,
    );
    let report = delivery.run_once(10).await.unwrap();
    assert_eq!(report.sent, 2);
    let mut to: Vec<String> = transport
        .inner
        .sent()
        .iter()
        .chain(other.sent().iter())
        .map(|m| m.to.clone())
        .collect();
    to.sort();
    assert_eq!(
        to,
        ["user0@example.com", "user1@example.com", "user2@example.com"],
        "each once"
    );
}
