//! Refresh-token rotation and bearer authentication.

use chrono::Duration;
use portcullis_domain::{AccountStore, AuthenticateError, LogoutScope, RefreshError, SessionStore, Username};

use crate::world::{HOME, PASSWORD, World};

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

fn ops() -> portcullis_domain::Actor {
    portcullis_domain::Actor {
        name: "key:support".into(),
        client: World::from("192.0.2.50"),
    }
}

fn ended(result: &Result<portcullis_domain::Principal, AuthenticateError>) -> bool {
    matches!(result, Err(AuthenticateError::SessionEnded))
}

#[tokio::test]
async fn without_its_feed_the_liveness_cache_keeps_nothing() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    assert!(!w.auth.liveness().is_online());
    assert!(w.auth.authenticate(&pair.access_token).await.is_ok());
    assert!(w.auth.liveness().is_empty());
    // Ended where this node does not see it (another node, the CLI): refused at once.
    w.store
        .revoke_sessions(w.tenant.id, account.id, None, w.clock_now(), &|_| unreachable_event())
        .await
        .unwrap();
    assert!(ended(&w.auth.authenticate(&pair.access_token).await));
}

#[tokio::test]
async fn with_its_feed_up_liveness_is_kept_until_the_feed_or_this_node_ends_it() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let cache = w.auth.liveness().clone();
    cache.connected();
    assert!(w.auth.authenticate(&pair.access_token).await.is_ok());
    assert_eq!(cache.len(), 1, "kept");
    // Ended behind this node's back: the cache answers until the feed's notice arrives...
    w.store
        .revoke_sessions(w.tenant.id, account.id, None, w.clock_now(), &|_| unreachable_event())
        .await
        .unwrap();
    assert!(
        w.auth.authenticate(&pair.access_token).await.is_ok(),
        "served from the cache"
    );
    cache.session_ended(pair.session.id);
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "...and not after"
    );
    // A feed that drops takes the cache with it.
    let (_, fresh) = w.login_home().await;
    assert!(w.auth.authenticate(&fresh.access_token).await.is_ok());
    cache.disconnected();
    assert!(cache.is_empty());
    w.store
        .revoke_sessions(w.tenant.id, account.id, None, w.clock_now(), &|_| unreachable_event())
        .await
        .unwrap();
    assert!(ended(&w.auth.authenticate(&fresh.access_token).await));
}

#[tokio::test]
async fn everything_that_ends_sessions_on_this_node_ends_them_in_its_cache_at_once() {
    let w = World::new();
    let (account, _) = w.signed_up("ada@example.com").await;
    let tenant = w.tenant.id;
    w.auth.liveness().connected();
    // Logged in and authenticated once (so cached), then ended by each use case in turn.
    let cached = async || {
        let (_, pair) = w.login_home().await;
        assert!(w.auth.authenticate(&pair.access_token).await.is_ok());
        assert!(w.auth.authenticate(&pair.access_token).await.is_ok());
        pair
    };

    let pair = cached().await;
    let other = cached().await;
    let p = w.principal(&other).await;
    w.auth.logout(&p, LogoutScope::Others).await.unwrap();
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "logout of the others"
    );

    let pair = cached().await;
    let p = w.principal(&other).await;
    assert!(w.auth.revoke_own_session(&p, pair.session.id).await.unwrap());
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "revoked by its user"
    );

    let pair = cached().await;
    w.auth.revoke_user_sessions(tenant, account.id, &ops()).await.unwrap();
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "revoked by an operator"
    );

    let pair = cached().await;
    let keep = cached().await;
    let p = w.principal(&keep).await;
    let new = World::password("a brand new passphrase");
    w.auth
        .change_password(&p, Some(&World::password(crate::world::PASSWORD)), &new, None)
        .await
        .unwrap();
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "password changed elsewhere"
    );
    assert!(
        w.auth.authenticate(&keep.access_token).await.is_ok(),
        "the changing session stays"
    );
    w.auth
        .change_password(&p, Some(&new), &World::password(crate::world::PASSWORD), None)
        .await
        .unwrap();

    let pair = cached().await;
    let presented = pair.refresh_token.expose().to_owned();
    w.auth
        .rotate_refresh_token(&presented, &World::from(HOME))
        .await
        .unwrap();
    w.advance(Duration::minutes(5));
    let reused = w.auth.rotate_refresh_token(&presented, &World::from(HOME)).await;
    assert!(matches!(reused, Err(RefreshError::Reused)), "{reused:?}");
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "refresh token reused"
    );

    let pair = cached().await;
    w.auth.disable_user(tenant, account.id, None, &ops()).await.unwrap();
    assert!(
        ended(&w.auth.authenticate(&pair.access_token).await),
        "account disabled"
    );
    w.auth.enable_user(tenant, account.id, &ops()).await.unwrap();

    let pair = cached().await;
    assert!(w.auth.erase_user(tenant, account.id, &ops()).await.unwrap());
    assert!(ended(&w.auth.authenticate(&pair.access_token).await), "account erased");
}

#[tokio::test]
async fn the_account_is_read_with_the_session_and_only_for_a_live_one() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let (principal, read) = w.auth.authenticate_account(&pair.access_token).await.unwrap();
    assert_eq!((principal.session.id, read.id), (pair.session.id, account.id));
    let forged = w.auth.authenticate_account("not.a.jwt").await;
    assert!(matches!(forged, Err(AuthenticateError::Token(_))), "{forged:?}");
    w.auth
        .disable_user(w.tenant.id, account.id, None, &ops())
        .await
        .unwrap();
    let disabled = w.auth.authenticate_account(&pair.access_token).await;
    assert!(matches!(disabled, Err(AuthenticateError::SessionEnded)), "{disabled:?}");
    w.auth.enable_user(w.tenant.id, account.id, &ops()).await.unwrap();
    let revoked = w.auth.authenticate_account(&pair.access_token).await;
    assert!(matches!(revoked, Err(AuthenticateError::SessionEnded)), "{revoked:?}");
}

#[tokio::test]
async fn the_account_kept_with_a_session_follows_every_change_made_on_this_node() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    let cache = w.auth.liveness().clone();
    cache.connected();
    let shown = async || w.auth.authenticate_account(&pair.access_token).await.unwrap().1;
    assert_eq!(shown().await.id, account.id);
    assert_eq!(cache.len(), 1, "kept with its session");

    // Changed behind this node's back: the kept copy answers until the feed's notice arrives.
    w.store
        .set_username(w.tenant.id, account.id, &World::username("elsewhere"), w.clock_now())
        .await
        .unwrap();
    assert_eq!(shown().await.username, None, "served from the cache");
    cache.account_changed(w.tenant.id, account.id);
    assert_eq!(shown().await.username.as_ref().map(Username::as_str), Some("elsewhere"));

    // Changed by a use case here: seen by the very next read, with no notice needed.
    w.auth.set_username(&p, &World::username("ada")).await.unwrap();
    assert_eq!(shown().await.username.as_ref().map(Username::as_str), Some("ada"));
    let png =
        portcullis_images::fixtures::encoded(&portcullis_images::fixtures::picture(8, 8), image::ImageFormat::Png);
    let version = w.auth.set_avatar(&p, png).await.unwrap();
    assert_eq!(shown().await.avatar_version, Some(version));
    w.auth.remove_avatar(&p).await.unwrap();
    assert_eq!(shown().await.avatar_version, None);
    w.auth
        .request_email_change(&p, World::email("new@example.com"), &World::password(PASSWORD), None)
        .await
        .unwrap();
    let (_, code) = World::secrets_in(&w.last_mail_to("new@example.com").await);
    w.auth
        .verify_email(&w.code("new@example.com", &code), &World::from(HOME))
        .await
        .unwrap();
    assert_eq!(shown().await.email.as_str(), "new@example.com");
    crate::second_factor::enable_totp(&w, &pair).await;
    assert!(shown().await.mfa_enabled);
    assert_eq!(cache.len(), 1, "and kept again after each change");
}

/// The event a revocation outside the service (another node, the CLI) records.
fn unreachable_event() -> portcullis_domain::model::AuditEvent {
    portcullis_domain::model::AuditEvent {
        id: uuid::Uuid::now_v7(),
        kind: portcullis_domain::model::EventType::SessionsRevoked,
        tenant_id: portcullis_domain::TenantId::DEFAULT,
        user_id: None,
        session_id: None,
        ip: None,
        user_agent: None,
        request_id: None,
        at: chrono::Utc::now(),
        details: serde_json::json!({ "actor": "cli" }),
    }
}

impl World {
    async fn login_home(&self) -> (portcullis_domain::Account, portcullis_domain::TokenPair) {
        self.login("ada@example.com", crate::world::PASSWORD, None, crate::world::HOME)
            .await
            .unwrap()
    }
}
