//! Rotating the MFA encryption key: secrets sealed under the previous key keep working, are
//! sealed again under the new one, and then the previous key can go.

use portcullis_domain::{InfraError, LoginError, ResealReport, SecondFactor};

use crate::second_factor::enable_totp;
use crate::world::{HOME, PASSWORD, Setup, World};

const OLD: [u8; 32] = [7u8; 32];
const NEW: [u8; 32] = [8u8; 32];

fn rotated() -> Setup {
    Setup {
        mfa_key: NEW,
        previous_mfa_keys: vec![OLD],
        ..Setup::default()
    }
}

#[tokio::test]
async fn secrets_under_the_previous_key_are_sealed_again_and_the_old_key_can_go() {
    let w = World::new();
    let (_, ada) = w.signed_up("ada@example.com").await;
    let (ada_secret, _) = enable_totp(&w, &ada).await;
    // Bob enrols but has not confirmed yet when the key changes.
    let (_, bob) = w.signed_up("bob@example.com").await;
    let bob_principal = w.principal(&bob).await;
    let bob_secret = w.auth.enroll_totp(&bob_principal).await.unwrap().secret.to_string();

    let node = w.sharing(rotated());
    let code = SecondFactor::Totp(node.totp_code(&ada_secret));
    node.login("ada@example.com", PASSWORD, Some(&code), HOME)
        .await
        .expect("the previous key still opens ada's secret");
    w.advance(chrono::Duration::seconds(30));

    let counted = node.auth.reseal_totp_secrets(true).await.unwrap();
    assert_eq!(
        counted,
        ResealReport {
            previous: 2,
            ..ResealReport::default()
        }
    );
    assert!(!counted.done(), "counting changes nothing");
    let pass = node.auth.reseal_totp_secrets(false).await.unwrap();
    assert_eq!(
        pass,
        ResealReport {
            resealed: 2,
            ..ResealReport::default()
        }
    );
    let again = node.auth.reseal_totp_secrets(false).await.unwrap();
    assert_eq!(
        again,
        ResealReport {
            current: 2,
            ..ResealReport::default()
        }
    );
    assert!(again.done());

    // The previous key dropped: everything still works on the new key alone.
    let new_only = w.sharing(Setup {
        mfa_key: NEW,
        ..Setup::default()
    });
    let code = SecondFactor::Totp(new_only.totp_code(&ada_secret));
    new_only
        .login("ada@example.com", PASSWORD, Some(&code), HOME)
        .await
        .expect("ada logs in on the new key alone");
    let bob_principal = new_only.principal(&bob).await;
    new_only
        .auth
        .activate_totp(&bob_principal, &new_only.totp_code(&bob_secret))
        .await
        .expect("bob's pending enrolment confirms under the new key");
    // A node left on the old key alone no longer opens them: the runbook's order matters.
    w.advance(chrono::Duration::seconds(30));
    let code = SecondFactor::Totp(w.totp_code(&ada_secret));
    let stale = w.login("ada@example.com", PASSWORD, Some(&code), HOME).await;
    assert!(
        matches!(&stale, Err(LoginError::Infra(InfraError::Internal(_)))),
        "{stale:?}"
    );
}

#[tokio::test]
async fn secrets_sealed_with_a_lost_key_are_left_and_counted() {
    let w = World::new();
    let (_, ada) = w.signed_up("ada@example.com").await;
    enable_totp(&w, &ada).await;
    let lost = w.sharing(Setup {
        mfa_key: [9u8; 32],
        ..Setup::default()
    });
    let (_, eve) = lost.signed_up("eve@example.com").await;
    enable_totp(&lost, &eve).await;

    // A node whose current key is OLD never reseals what it cannot tell apart from its own.
    let report = w.auth.reseal_totp_secrets(false).await.unwrap();
    assert_eq!(
        report,
        ResealReport {
            current: 1,
            unreadable: 1,
            ..ResealReport::default()
        }
    );
    assert!(
        report.done(),
        "nothing is under a previous key; the unreadable one is counted"
    );
    let node = w.sharing(rotated());
    let report = node.auth.reseal_totp_secrets(false).await.unwrap();
    assert_eq!((report.resealed, report.unreadable), (1, 1));
}
