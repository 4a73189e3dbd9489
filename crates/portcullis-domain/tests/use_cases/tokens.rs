//! Refresh-token rotation and bearer authentication.

use chrono::Duration;
use portcullis_domain::{AuthenticateError, LogoutScope, RefreshError};

use crate::world::{HOME, World};

#[tokio::test]
async fn a_refresh_rotates_and_a_replay_within_the_grace_window_gets_the_same_head() {
    let w = World::new();
    let (account, first) = w.signed_up("ada@example.com").await;
    let presented = first.refresh_token.expose().to_owned();
    let (who, second) = w
        .auth
        .rotate_refresh_token(&presented, &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(who.id, account.id);
    assert_eq!(second.session.id, first.session.id);
    assert_ne!(second.refresh_token.expose(), presented);
    let (_, replayed) = w
        .auth
        .rotate_refresh_token(&presented, &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(replayed.refresh_token.expose(), second.refresh_token.expose());
}

#[tokio::test]
async fn a_superseded_token_after_the_grace_window_revokes_the_session() {
    let w = World::new();
    let (_, first) = w.signed_up("ada@example.com").await;
    let presented = first.refresh_token.expose().to_owned();
    let (_, second) = w
        .auth
        .rotate_refresh_token(&presented, &World::from(HOME))
        .await
        .unwrap();
    w.advance(Duration::minutes(5));
    let reused = w.auth.rotate_refresh_token(&presented, &World::from(HOME)).await;
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");
    let dead = w
        .auth
        .rotate_refresh_token(second.refresh_token.expose(), &World::from(HOME))
        .await;
    assert!(matches!(dead, Err(RefreshError::Invalid)), "{dead:?}");
    let ended = w.auth.authenticate(&second.access_token).await;
    assert!(matches!(ended, Err(AuthenticateError::SessionEnded)), "{ended:?}");
}

#[tokio::test]
async fn garbage_and_unknown_refresh_tokens_are_invalid() {
    let w = World::new();
    for presented in ["", "garbage", "pcr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let refused = w.auth.rotate_refresh_token(presented, &World::from(HOME)).await;
        assert!(
            matches!(refused, Err(RefreshError::Invalid)),
            "{presented}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_all_get_the_same_new_pair() {
    let w = World::new();
    let (_, first) = w.signed_up("ada@example.com").await;
    let presented = first.refresh_token.expose().to_owned();
    let home = World::from(HOME);
    let results = futures::future::join_all((0..6).map(|_| w.auth.rotate_refresh_token(&presented, &home))).await;
    let heads: Vec<String> = results
        .into_iter()
        .map(|r| r.unwrap().1.refresh_token.expose().to_owned())
        .collect();
    assert!(
        heads.windows(2).all(|p| p[0] == p[1]),
        "one rotation, the rest replays of it"
    );
}

#[tokio::test]
async fn a_bearer_token_is_refused_when_forged_expired_or_its_session_ended() {
    let w = World::new();
    let (_, pair) = w.signed_up("ada@example.com").await;
    let forged = w.auth.authenticate("not.a.jwt").await;
    assert!(matches!(forged, Err(AuthenticateError::Token(_))), "{forged:?}");
    let principal = w.principal(&pair).await;
    assert_eq!(w.auth.logout(&principal, LogoutScope::Local).await.unwrap(), 1);
    let ended = w.auth.authenticate(&pair.access_token).await;
    assert!(matches!(ended, Err(AuthenticateError::SessionEnded)), "{ended:?}");
    let (_, fresh) = w.login_home().await;
    // Checked once (its signature is then remembered): a copy with another signature is still
    // checked, and the remembered one still expires.
    assert!(w.auth.authenticate(&fresh.access_token).await.is_ok());
    // One character in the middle of the signature: still valid base64url, another signature.
    let mut tampered = fresh.access_token.clone().into_bytes();
    let at = fresh.access_token.rfind('.').unwrap() + 20;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let refused = w.auth.authenticate(&tampered).await;
    assert!(matches!(refused, Err(AuthenticateError::Token(_))), "{refused:?}");
    w.advance(Duration::hours(2));
    let expired = w.auth.authenticate(&fresh.access_token).await;
    assert!(matches!(expired, Err(AuthenticateError::Token(_))), "{expired:?}");
}

impl World {
    async fn login_home(&self) -> (portcullis_domain::Account, portcullis_domain::TokenPair) {
        self.login("ada@example.com", crate::world::PASSWORD, None, crate::world::HOME)
            .await
            .unwrap()
    }
}
