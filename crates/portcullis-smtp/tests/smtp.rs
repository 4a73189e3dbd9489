//! The transports against a real SMTP server started by the test (mailin-embedded, plain SMTP on
//! 127.0.0.1), and the file transport against a real directory.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use portcullis_domain::TenantId;
use portcullis_domain::{MailKind, MailTransport, OutgoingMail, SendError};
use portcullis_smtp::{FileMailer, Security, SmtpMailer, SmtpSettings};
use portcullis_testkit::smtp::SmtpSink;
use uuid::Uuid;

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        credentials: None,
        timeout: Duration::from_secs(5),
        exchange_timeout: Duration::from_secs(10),
        max_connections: 2,
    }
}

fn mail(to: &str) -> OutgoingMail {
    OutgoingMail {
        id: Uuid::now_v7(),
        tenant_id: TenantId::DEFAULT,
        to: to.into(),
        from: None,
        kind: MailKind::PasswordReset,
        subject: "Reset your password".into(),
        text: "Your code is 123456.".into(),
        html: "<p>Your code is <b>123456</b>.</p>".into(),
    }
}

#[tokio::test]
async fn smtp_delivers_both_parts_with_a_stable_message_id() {
    let sink = SmtpSink::start().unwrap();
    let mailer = SmtpMailer::new(&settings(sink.port()), "Portcullis <no-reply@auth.example.com>").unwrap();
    let m = mail("ada@example.com");
    mailer.send(&m).await.unwrap();
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    let r = &got[0];
    assert_eq!(r.from, "no-reply@auth.example.com");
    assert_eq!(r.to, vec!["ada@example.com".to_owned()]);
    assert!(r.data.contains("Subject: Reset your password"), "{}", r.data);
    assert_eq!(
        r.message_id(),
        Some(format!("<{}@auth.example.com>", m.id).as_str()),
        "{}",
        r.data
    );
    assert!(r.data.contains("multipart/alternative"));
    assert!(r.data.contains("text/plain") && r.data.contains("Your code is 123456."));
    assert!(r.data.contains("text/html") && r.data.contains("<b>123456</b>"));
}

#[tokio::test]
async fn a_tenants_own_sender_replaces_the_configured_one() {
    let sink = SmtpSink::start().unwrap();
    let mailer = SmtpMailer::new(&settings(sink.port()), "Portcullis <no-reply@auth.example.com>").unwrap();
    let m = OutgoingMail {
        from: Some("Acme Hosting <hello@acme.example>".into()),
        ..mail("ada@example.com")
    };
    mailer.send(&m).await.unwrap();
    let bad = OutgoingMail {
        from: Some("not a sender".into()),
        ..mail("ada@example.com")
    };
    let err = mailer.send(&bad).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    let got = sink.wait_for(1, Duration::from_secs(5)).await;
    let r = &got[0];
    assert_eq!(r.from, "hello@acme.example");
    assert!(
        r.data.contains("From: \"Acme Hosting\" <hello@acme.example>")
            || r.data.contains("From: Acme Hosting <hello@acme.example>"),
        "{}",
        r.data
    );
    assert_eq!(r.message_id(), Some(format!("<{}@acme.example>", m.id).as_str()));
}

#[tokio::test]
async fn refused_connection_is_temporary() {
    let port = SmtpSink::unused_port().unwrap();
    let mailer = SmtpMailer::new(&settings(port), "no-reply@auth.example.com").unwrap();
    let err = mailer.send(&mail("ada@example.com")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn rejected_recipient_and_invalid_address_are_permanent() {
    let sink = SmtpSink::start().unwrap();
    let mailer = SmtpMailer::new(&settings(sink.port()), "no-reply@auth.example.com").unwrap();
    let err = mailer.send(&mail("reject@example.com")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    let err = mailer.send(&mail("not an address")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(sink.received().is_empty());
}

#[test]
fn bad_sender_is_a_start_up_error() {
    assert!(SmtpMailer::new(&settings(25), "not an address").is_err());
}

#[tokio::test]
async fn file_transport_writes_one_eml_per_mail() {
    let dir = std::env::temp_dir().join(format!("portcullis-mail-{}", Uuid::now_v7()));
    let mailer = FileMailer::new(&dir, "Portcullis <no-reply@auth.example.com>").unwrap();
    let m = mail("ada@example.com");
    mailer.send(&m).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("Subject: Reset your password") && eml.contains("Your code is 123456."));
    assert!(eml.contains(&m.id.to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_server_that_accepts_and_stalls_is_a_temporary_failure_within_the_exchange_limit() {
    // Accepts connections and never says a word: no greeting, no replies.
    let tarpit = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tarpit.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in tarpit.incoming().flatten() {
            held.push(stream);
        }
    });
    let mut s = settings(port);
    s.exchange_timeout = Duration::from_millis(300);
    let mailer = SmtpMailer::new(&s, "no-reply@auth.example.com").unwrap();
    let err = mailer.send(&mail("ada@example.com")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Temporary(why) if why.contains("exchange")),
        "{err:?}"
    );
}
