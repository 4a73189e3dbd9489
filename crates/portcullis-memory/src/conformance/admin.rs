//! Admin keys, and the refresh-token lookup of introspection.

use portcullis_domain::admin_key::NewAdminKey;
use portcullis_domain::{Storage, TenantId, TenantWriteError, TokenHash};
use uuid::Uuid;

use super::fixtures::{new_account, new_session, random_hash, reused, secs, t0};

fn key(name: &str, tenant: Option<TenantId>, hash: TokenHash, at: i64) -> NewAdminKey {
    NewAdminKey {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        tenant,
        introspect_only: tenant.is_some(),
        hash,
        created_at: t0() + secs(at),
    }
}

/// Keys are found by hash while live, listed oldest first with their tenant, and revoked once.
pub async fn admin_keys_are_found_by_hash_until_revoked<S: Storage + Clone + 'static>(store: &S) {
    let (global, bound) = (random_hash(), random_hash());
    let g = store
        .insert_admin_key(&key("ops", None, global, 0))
        .await
        .expect("global");
    let b = store
        .insert_admin_key(&key("acme", Some(TenantId::DEFAULT), bound, 1))
        .await
        .expect("bound");
    assert_eq!(b.tenant.as_ref().map(|t| t.slug.as_str()), Some("default"));
    assert!(b.introspect_only);
    let nowhere = key("x", Some(TenantId::from_uuid(Uuid::now_v7())), random_hash(), 2);
    assert!(matches!(
        store.insert_admin_key(&nowhere).await,
        Err(TenantWriteError::UnknownTenant)
    ));
    assert_eq!(store.live_admin_key(&global).await.expect("read"), Some(g.clone()));
    assert!(store.live_admin_key(&random_hash()).await.expect("read").is_none());
    let names: Vec<String> = store
        .admin_keys()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["ops", "acme"]);
    assert!(store.revoke_admin_key(g.id, t0() + secs(5)).await.expect("revoke"));
    assert!(
        !store.revoke_admin_key(g.id, t0() + secs(6)).await.expect("again"),
        "once"
    );
    assert!(store.live_admin_key(&global).await.expect("read").is_none());
    let listed = store.admin_keys().await.expect("list");
    assert_eq!(listed[0].revoked_at, Some(t0() + secs(5)));
    assert!(store.live_admin_key(&bound).await.expect("read").is_some());
}

/// A refresh token finds its session only while it is the head of its chain.
pub async fn a_refresh_token_finds_its_session_only_as_the_chain_head<S: Storage + Clone + 'static>(store: &S) {
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("ada");
    let first = new_session(ada.id, t0());
    let hash = first.refresh_hash;
    let session = store.insert_session(first).await.expect("session");
    let found = store.session_of_refresh_token(&hash).await.expect("read");
    assert_eq!(found.map(|s| s.id), Some(session.id));
    assert!(
        store
            .session_of_refresh_token(&random_hash())
            .await
            .expect("read")
            .is_none()
    );
    // Rotated: the old token is no longer the head.
    let next = random_hash();
    let decide = |_: portcullis_domain::RefreshTokenState| portcullis_domain::RefreshDecision::Rotate;
    store
        .refresh(hash, next, t0() + secs(1), &decide, &reused)
        .await
        .expect("rotate");
    assert!(store.session_of_refresh_token(&hash).await.expect("read").is_none());
    assert!(store.session_of_refresh_token(&next).await.expect("read").is_some());
}
