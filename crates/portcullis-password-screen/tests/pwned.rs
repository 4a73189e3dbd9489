//! The breach check against a local Pwned Passwords range API.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use portcullis_domain::{PasswordPolicy, PasswordScreen};
use portcullis_password_screen::{CommonPasswords, PwnedSettings};
use portcullis_testkit::pwned::{PwnedMode, PwnedStub, sha1_hex};

fn screen(stub: &PwnedStub, min_count: u64) -> CommonPasswords {
    CommonPasswords::with_pwned(PwnedSettings {
        range_url: stub.range_url(),
        timeout: Duration::from_millis(500),
        min_count,
    })
    .unwrap()
}

async fn common(screen: &CommonPasswords, password: &str) -> bool {
    screen
        .is_common(&PasswordPolicy::default().parse(password).unwrap())
        .await
}

#[tokio::test]
async fn a_breached_password_is_refused_and_only_a_hash_prefix_leaves() {
    let stub = PwnedStub::start(&[("zebra crossing at midnight", 3), ("rarely seen passphrase", 1)]).unwrap();
    let screen = screen(&stub, 1);
    assert!(common(&screen, "zebra crossing at midnight").await);
    assert!(common(&screen, "rarely seen passphrase").await);
    assert!(
        !common(&screen, "correct horse battery staple").await,
        "padding lines count for nothing"
    );
    let asked = stub.asked();
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[0], sha1_hex("zebra crossing at midnight")[..5]);
    assert!(asked.iter().all(|p| p.len() == 5), "{asked:?}");
    // The embedded list answers first: a password on it costs no request.
    assert!(common(&screen, "password1").await);
    assert_eq!(stub.asked().len(), 3);
}

#[tokio::test]
async fn the_minimum_count_is_honoured() {
    let stub = PwnedStub::start(&[("zebra crossing at midnight", 2)]).unwrap();
    assert!(!common(&screen(&stub, 3), "zebra crossing at midnight").await);
    assert!(common(&screen(&stub, 2), "zebra crossing at midnight").await);
}

#[tokio::test]
async fn an_unavailable_service_lets_the_password_through() {
    let stub = PwnedStub::start(&[("zebra crossing at midnight", 9)]).unwrap();
    let screen = screen(&stub, 1);
    for mode in [PwnedMode::Down, PwnedMode::Garbage, PwnedMode::Slow] {
        stub.set_mode(mode);
        assert!(
            !common(&screen, "zebra crossing at midnight").await,
            "{mode:?} fails open"
        );
        // The list still holds.
        assert!(common(&screen, "qwertyuiop").await, "{mode:?}");
    }
    // A port nobody listens on.
    let closed = CommonPasswords::with_pwned(PwnedSettings {
        range_url: format!(
            "http://127.0.0.1:{}/range/",
            portcullis_testkit::SmtpSink::unused_port().unwrap()
        ),
        ..PwnedSettings::default()
    })
    .unwrap();
    assert!(!common(&closed, "zebra crossing at midnight").await);
}
