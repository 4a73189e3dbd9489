//! The caller's sessions: listing, revoking, logging out; choosing a username.

use portcullis_domain::{LogoutScope, RevokeRequest, SessionId, UsernameError};

use crate::world::{HOME, PASSWORD, World};

#[tokio::test]
async fn logout_ends_this_session_the_others_or_all() {
    let w = World::new();
    let (_, a) = w.signed_up("ada@example.com").await;
    let (_, b) = w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let (_, c) = w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let pa = w.principal(&a).await;
    assert_eq!(w.auth.logout(&pa, LogoutScope::Others).await.unwrap(), 2);
    assert!(w.auth.authenticate(&b.access_token).await.is_err());
    assert!(w.auth.authenticate(&c.access_token).await.is_err());
    assert_eq!(w.auth.logout(&pa, LogoutScope::Global).await.unwrap(), 1);
    assert!(w.auth.authenticate(&a.access_token).await.is_err());
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_only_for_their_owner() {
    let w = World::new();
    let (_, mine) = w.signed_up("ada@example.com").await;
    let (_, second) = w.login("ada@example.com", PASSWORD, None, HOME).await.unwrap();
    let (_, theirs) = w.signed_up("grace@example.com").await;
    let me = w.principal(&mine).await;
    assert_eq!(w.auth.sessions(&me).await.unwrap().len(), 2);
    assert!(!w.auth.revoke_own_session(&me, theirs.session.id).await.unwrap());
    assert!(
        !w.auth
            .revoke_own_session(&me, SessionId::from_uuid(uuid::Uuid::now_v7()))
            .await
            .unwrap()
    );
    let request = RevokeRequest {
        all: false,
        exclude_current: false,
        session_ids: vec![theirs.session.id],
        refresh_tokens: vec![second.refresh_token.expose().to_owned()],
    };
    assert_eq!(w.auth.revoke_own_sessions(&me, &request).await.unwrap(), 1);
    assert!(
        w.auth.authenticate(&theirs.access_token).await.is_ok(),
        "never another user's"
    );
    let all_but_me = RevokeRequest {
        all: true,
        exclude_current: true,
        ..RevokeRequest::default()
    };
    assert_eq!(w.auth.revoke_own_sessions(&me, &all_but_me).await.unwrap(), 0);
    assert!(w.auth.revoke_own_session(&me, mine.session.id).await.unwrap());
}

#[tokio::test]
async fn a_username_is_chosen_unless_someone_holds_it() {
    let w = World::new();
    let (_, ada) = w.signed_up("ada@example.com").await;
    let (_, grace) = w.signed_up("grace@example.com").await;
    let pa = w.principal(&ada).await;
    let account = w.auth.set_username(&pa, &World::username("ada")).await.unwrap();
    assert_eq!(account.username.unwrap().as_str(), "ada");
    let pg = w.principal(&grace).await;
    let taken = w.auth.set_username(&pg, &World::username("ADA")).await;
    assert!(matches!(taken, Err(UsernameError::Taken)), "{taken:?}");
}

#[tokio::test]
async fn a_username_for_an_account_that_vanished_is_refused() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let principal = w.principal(&pair).await;
    w.store.remove_account(w.tenant.id, account.id).await;
    let gone = w.auth.set_username(&principal, &World::username("ada")).await;
    assert!(matches!(gone, Err(UsernameError::NoAccount)), "{gone:?}");
}
