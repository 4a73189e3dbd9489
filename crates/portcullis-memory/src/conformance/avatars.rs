//! The avatar contract: every [`AvatarStore`] (PostgreSQL's own, and [`BlobAvatars`] over any
//! blob store) runs these (`avatar_conformance!`), given the [`Storage`] its accounts live in.
//!
//! [`BlobAvatars`]: portcullis_domain::avatars::BlobAvatars

use portcullis_domain::model::EventType;
use portcullis_domain::{AvatarStore, AvatarWrite, BlobStore, NewAvatar, Storage, TenantId, UserId, avatar_key};

use super::fixtures::{event, new_account, t0};

fn avatar(version: &str, bytes: &[u8]) -> NewAvatar {
    NewAvatar {
        version: version.to_owned(),
        content_type: "image/jpeg".to_owned(),
        bytes: bytes.to_vec(),
    }
}

/// A new account of the built-in tenant at `address`.
async fn account<S: Storage>(store: &S, address: &str) -> portcullis_domain::Account {
    store.insert_account(new_account(address), None).await.expect("account")
}

/// Sets `user`'s avatar of `version` in the built-in tenant.
async fn set<A: AvatarStore>(avatars: &A, user: UserId, version: &str, bytes: &[u8]) -> AvatarWrite {
    avatars
        .set_avatar(TenantId::DEFAULT, user, &avatar(version, bytes))
        .await
        .expect("set")
}

/// What storing over `previous` answers.
fn stored(previous: Option<&str>) -> AvatarWrite {
    AvatarWrite::Stored {
        previous: previous.map(str::to_owned),
    }
}

const V1: &str = "0123456789abcdef0123456789abcdef-0000000000000001";
const V2: &str = "fedcba9876543210fedcba9876543210-0000000000000002";

/// An avatar is stored and read back by version; a new one replaces it and the old bytes go;
/// the account shows the current version; removal leaves nothing.
pub async fn an_avatar_is_set_replaced_and_removed<S: Storage, A: AvatarStore, B: BlobStore>(
    store: &S,
    avatars: &A,
    blobs: &B,
) {
    let t = TenantId::DEFAULT;
    let ada = account(store, "ada@example.com").await;
    assert_eq!(ada.avatar_version, None);
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);

    assert_eq!(set(avatars, ada.id, V1, b"one").await, stored(None));
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V1));
    let blob = blobs
        .blob(&avatar_key(ada.id, V1))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        avatars.avatar(ada.id).await.expect("read"),
        Some((V1.to_owned(), blob.clone())),
        "version and bytes read together"
    );
    assert_eq!(
        (blob.content_type.as_str(), blob.bytes.as_slice()),
        ("image/jpeg", &b"one"[..])
    );
    let seen = store.account(t, ada.id).await.expect("read").expect("account");
    assert_eq!(
        seen.avatar_version.as_deref(),
        Some(V1),
        "the account carries the version"
    );

    assert_eq!(set(avatars, ada.id, V2, b"two").await, stored(Some(V1)));
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V2));
    assert_eq!(
        blobs.blob(&avatar_key(ada.id, V1)).await.expect("read"),
        None,
        "the old bytes are gone"
    );
    assert_eq!(
        set(avatars, ada.id, V2, b"two").await,
        stored(Some(V2)),
        "the same one again"
    );
    assert!(
        blobs.blob(&avatar_key(ada.id, V2)).await.expect("read").is_some(),
        "setting the same one keeps it"
    );

    assert_eq!(
        avatars.remove_avatar(t, ada.id).await.expect("remove").as_deref(),
        Some(V2)
    );
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    assert_eq!(blobs.blob(&avatar_key(ada.id, V2)).await.expect("read"), None);
    assert_eq!(avatars.remove_avatar(t, ada.id).await.expect("again"), None);
    let seen = store.account(t, ada.id).await.expect("read").expect("account");
    assert_eq!(seen.avatar_version, None);
}

/// Only the account's own tenant can set it; an unknown account stores nothing.
pub async fn only_an_existing_account_gets_an_avatar<S: Storage, A: AvatarStore, B: BlobStore>(
    store: &S,
    avatars: &A,
    blobs: &B,
) {
    let ada = account(store, "ada@example.com").await;
    let other_tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
    let write = avatars
        .set_avatar(other_tenant, ada.id, &avatar(V1, b"x"))
        .await
        .expect("set");
    assert_eq!(write, AvatarWrite::NoAccount);
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    assert_eq!(
        blobs.blob(&avatar_key(ada.id, V1)).await.expect("read"),
        None,
        "nothing left behind"
    );
    assert_eq!(avatars.remove_avatar(other_tenant, ada.id).await.expect("remove"), None);

    let nobody = UserId::from_uuid(uuid::Uuid::now_v7());
    let write = avatars
        .set_avatar(TenantId::DEFAULT, nobody, &avatar(V1, b"x"))
        .await
        .expect("set");
    assert_eq!(write, AvatarWrite::NoAccount);
    assert_eq!(blobs.blob(&avatar_key(nobody, V1)).await.expect("read"), None);
}

/// Forgetting a user's avatars removes every picture stored under it, current or not, and
/// touches no other user's.
pub async fn forgetting_a_user_removes_every_picture_of_it<S: Storage, A: AvatarStore, B: BlobStore>(
    store: &S,
    avatars: &A,
    blobs: &B,
) {
    let ada = account(store, "ada@example.com").await;
    let bob = account(store, "bob@example.com").await;
    set(avatars, ada.id, V1, b"one").await;
    set(avatars, bob.id, V1, b"bob").await;
    // A stray picture, as one stored while an erasure ran would be.
    blobs
        .put_blob(&avatar_key(ada.id, V2), "image/jpeg", b"stray")
        .await
        .expect("put");
    avatars.forget_avatars(ada.id).await.expect("forget");
    assert_eq!(blobs.blob(&avatar_key(ada.id, V1)).await.expect("read"), None);
    assert_eq!(blobs.blob(&avatar_key(ada.id, V2)).await.expect("read"), None);
    assert!(blobs.blob(&avatar_key(bob.id, V1)).await.expect("read").is_some());
}

/// A disabled account's avatar is hidden, and shown again once it is enabled.
pub async fn a_disabled_account_shows_no_avatar<S: Storage, A: AvatarStore, B: BlobStore>(
    store: &S,
    avatars: &A,
    _blobs: &B,
) {
    let t = TenantId::DEFAULT;
    let ada = account(store, "ada@example.com").await;
    set(avatars, ada.id, V1, b"one").await;
    let now = t0();
    store
        .set_disabled(t, ada.id, true, Some("abuse"), now, &|_| {
            event(EventType::AccountDisabled, Some(ada.id), now)
        })
        .await
        .expect("disable");
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    assert_eq!(avatars.avatar(ada.id).await.expect("read"), None);
    store
        .set_disabled(t, ada.id, false, None, now, &|_| {
            event(EventType::AccountEnabled, Some(ada.id), now)
        })
        .await
        .expect("enable");
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V1));
}

/// However an account row goes (here: erasure through the port, without the use case's own
/// removal of the pictures first), its avatar bytes go in the same transaction, and no other
/// account's do. Not for the in-memory store, whose erasure keeps no blobs of its own.
pub async fn deleting_an_account_deletes_its_avatar_blobs<S>(store: &S)
where
    S: Storage + AvatarStore + BlobStore,
{
    use portcullis_domain::model::AuditEvent;
    use portcullis_domain::{Email, NewAccount};
    let account = |address: &str| NewAccount {
        id: UserId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: TenantId::DEFAULT,
        email: Email::parse(address).expect("address"),
        email_verified: true,
        username: None,
        password_hash: "$test$".to_owned(),
        created_at: chrono::Utc::now(),
        network: None,
    };
    let ada = store
        .insert_account(account("ada@example.com"), None)
        .await
        .expect("ada");
    let bob = store
        .insert_account(account("bob@example.com"), None)
        .await
        .expect("bob");
    let version = "0123456789abcdef0123456789abcdef-0123456789abcdef";
    for user in [ada.id, bob.id] {
        let avatar = NewAvatar {
            version: version.to_owned(),
            content_type: "image/jpeg".to_owned(),
            bytes: b"picture".to_vec(),
        };
        store.set_avatar(TenantId::DEFAULT, user, &avatar).await.expect("set");
    }
    let pseudonym = UserId::from_uuid(uuid::Uuid::now_v7());
    let event = AuditEvent {
        id: uuid::Uuid::now_v7(),
        kind: EventType::AccountErased,
        tenant_id: TenantId::DEFAULT,
        user_id: Some(pseudonym),
        session_id: None,
        ip: None,
        user_agent: None,
        request_id: None,
        at: chrono::Utc::now(),
        details: serde_json::json!({}),
    };
    assert!(
        store
            .erase_account(TenantId::DEFAULT, ada.id, pseudonym, &event)
            .await
            .expect("erase")
    );
    assert_eq!(store.blob(&avatar_key(ada.id, version)).await.expect("read"), None);
    assert!(store.blob(&avatar_key(bob.id, version)).await.expect("read").is_some());
}

/// Runs the avatar contract against `$fresh().await` (the storage, the avatar store on it, the
/// blob store under that, and a guard to keep alive).
#[macro_export]
macro_rules! avatar_conformance {
    ($fresh:path) => {
        $crate::avatar_conformance!(@each $fresh;
            an_avatar_is_set_replaced_and_removed,
            only_an_existing_account_gets_an_avatar,
            a_disabled_account_shows_no_avatar,
            forgetting_a_user_removes_every_picture_of_it,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, avatars, blobs, _guard) = $fresh().await;
                $crate::conformance::avatars::$name(&store, &avatars, &blobs).await;
            }
        )*
    };
}
