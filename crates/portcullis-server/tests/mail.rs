//! Mail delivery from the outbox to a real SMTP server, against a real PostgreSQL: outages,
//! several workers, permanent failures and giving up.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use portcullis_domain::{Clock, ManualClock, TenantId};
use portcullis_domain::{DeliveryReport, MailDelivery, MailKind, OutboxStore, OutgoingMail, RetryPolicy};
use portcullis_postgres::scratch::ScratchDatabase;
use portcullis_postgres::{PgSettings, PgStore};
use portcullis_smtp::{Security, SmtpMailer, SmtpSettings};
use portcullis_testkit::smtp::SmtpSink;
use uuid::Uuid;

async fn database() -> ScratchDatabase {
    ScratchDatabase::create(&std::env::var("DATABASE_URL").expect("DATABASE_URL"))
        .await
        .unwrap()
}

fn mailer(port: u16) -> Arc<SmtpMailer> {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        credentials: None,
        timeout: StdDuration::from_secs(5),
        exchange_timeout: StdDuration::from_secs(20),
        max_connections: 2,
    };
    Arc::new(SmtpMailer::new(&settings, "Portcullis <no-reply@auth.example.com>").unwrap())
}

fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        to: to.into(),
        from: None,
        kind: MailKind::SignupVerification,
        subject: "Verify your email".into(),
        text: "Your code is 123456.".into(),
        html: "<p>Your code is 123456.</p>".into(),
    }
}

fn delivery(store: &Arc<PgStore>, port: u16, clock: &Arc<ManualClock>) -> MailDelivery {
    MailDelivery::new(
        store.clone(),
        mailer(port),
        clock.clone() as Arc<dyn Clock>,
        RetryPolicy::default(),
    )
}

#[tokio::test]
async fn mail_waits_out_an_smtp_outage_and_is_delivered_once() {
    let db = database().await;
    let store = Arc::new(PgStore::connect(&PgSettings::new(db.url())).unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let port = SmtpSink::unused_port().unwrap();
    let m = mail("ada@example.com");
    store.enqueue(&m, clock.now()).await.unwrap();

    let worker = delivery(&store, port, &clock);
    assert_eq!(worker.run_once(10).await.unwrap(), report(0, 1, 0));
    // Not due again before the back-off.
    assert_eq!(worker.run_once(10).await.unwrap().handled(), 0);

    let sink = SmtpSink::start_on_port(port).unwrap();
    clock.advance(Duration::seconds(5));
    assert_eq!(worker.run_once(10).await.unwrap(), report(1, 0, 0));
    clock.advance(Duration::hours(1));
    assert_eq!(worker.run_once(10).await.unwrap().handled(), 0, "never again once sent");
    let got = sink.wait_for(1, StdDuration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["ada@example.com".to_owned()]);
    assert_eq!(
        got[0].message_id(),
        Some(format!("<{}@auth.example.com>", m.id).as_str())
    );
}

#[tokio::test]
async fn two_workers_on_one_database_deliver_each_mail_exactly_once() {
    let db = database().await;
    let sink = SmtpSink::start().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    // Two pools, as two nodes would have.
    let node_a = Arc::new(PgStore::connect(&PgSettings::new(db.url())).unwrap());
    let node_b = Arc::new(PgStore::connect(&PgSettings::new(db.url())).unwrap());
    let total = 30;
    for n in 0..total {
        node_a
            .enqueue(&mail(&format!("user{n}@example.com")), clock.now())
            .await
            .unwrap();
    }
    let run = |worker: MailDelivery| {
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let report = worker.run_once(4).await.unwrap();
                sent += report.sent;
                if report.handled() == 0 {
                    return sent;
                }
            }
        })
    };
    let a = run(delivery(&node_a, sink.port(), &clock));
    let b = run(delivery(&node_b, sink.port(), &clock));
    let (sent_a, sent_b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(sent_a + sent_b, total);
    let got = sink.wait_for(total as usize, StdDuration::from_secs(10)).await;
    assert_eq!(got.len(), total as usize);
    let ids: HashSet<_> = got.iter().map(|m| m.message_id().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), total as usize, "no message delivered twice");
}

#[tokio::test]
async fn permanent_failure_is_given_up_at_once_and_temporary_ones_after_the_limit() {
    let db = database().await;
    let store = Arc::new(PgStore::connect(&PgSettings::new(db.url())).unwrap());
    let clock = Arc::new(ManualClock::starting_now());
    let sink = SmtpSink::start().unwrap();
    store.enqueue(&mail("reject@example.com"), clock.now()).await.unwrap();
    let worker = delivery(&store, sink.port(), &clock);
    assert_eq!(worker.run_once(10).await.unwrap(), report(0, 0, 1));
    clock.advance(Duration::days(2));
    assert_eq!(worker.run_once(10).await.unwrap().handled(), 0);

    let down = SmtpSink::unused_port().unwrap();
    store.enqueue(&mail("ada@example.com"), clock.now()).await.unwrap();
    let worker = delivery(&store, down, &clock);
    assert_eq!(worker.run_once(10).await.unwrap().retried, 1);
    clock.advance(Duration::hours(25));
    assert_eq!(worker.run_once(10).await.unwrap(), report(0, 0, 1));
    assert!(sink.received().is_empty());
}

/// What a delivery pass did: sent, retried, failed.
fn report(sent: u32, retried: u32, failed: u32) -> DeliveryReport {
    DeliveryReport { sent, retried, failed }
}

/// The real SMTP mailer, taking `per_send` longer for each mail.
#[derive(Debug)]
struct SlowSends {
    inner: Arc<SmtpMailer>,
    per_send: StdDuration,
}

#[async_trait::async_trait]
impl portcullis_domain::MailTransport for SlowSends {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), portcullis_domain::SendError> {
        let result = self.inner.send(mail).await;
        tokio::time::sleep(self.per_send).await;
        result
    }
}

#[tokio::test]
async fn a_worker_gives_back_what_its_lease_is_too_short_to_send_so_no_mail_goes_twice() {
    let db = database().await;
    let store = Arc::new(PgStore::connect(&PgSettings::new(db.url())).unwrap());
    let sink = SmtpSink::start().unwrap();
    let clock = Arc::new(ManualClock::starting_now());
    for n in 0..3 {
        store
            .enqueue(&mail(&format!("user{n}@example.com")), clock.now())
            .await
            .unwrap();
    }
    // The lease runs on the database's clock (3 s); the worker judges what is left of it by
    // the time it has taken, 1.2 s a send.
    let policy = RetryPolicy {
        lease: Duration::seconds(3),
        send_budget: Duration::seconds(1),
        ..RetryPolicy::default()
    };
    let slow = Arc::new(SlowSends {
        inner: mailer(sink.port()),
        per_send: StdDuration::from_millis(1200),
    });
    let worker = MailDelivery::new(store.clone(), slow, clock.clone() as Arc<dyn Clock>, policy);
    // Sends at t+0 and t+1.2; at t+2.4 only 0.6 s of the lease remain, less than a send may take.
    assert_eq!(worker.run_once(3).await.unwrap().sent, 2);
    // The first worker gave the unstarted mail back: another takes it at once, with a lease of
    // its own, rather than when the first lease lapses.
    let other = MailDelivery::new(
        store.clone(),
        mailer(sink.port()),
        clock.clone() as Arc<dyn Clock>,
        policy,
    );
    assert_eq!(
        other.run_once(3).await.unwrap().sent,
        1,
        "given back and taken over at once"
    );
    assert_eq!(
        other.run_once(3).await.unwrap().handled(),
        0,
        "nothing is left to send twice"
    );
    let got = sink.wait_for(3, StdDuration::from_secs(5)).await;
    let ids: HashSet<_> = got.iter().map(|m| m.message_id().unwrap().to_owned()).collect();
    assert_eq!((got.len(), ids.len()), (3, 3));
}
