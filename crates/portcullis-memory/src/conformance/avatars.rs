//! The avatar contract: every [`AvatarStore`] (PostgreSQL's own, and [`BlobAvatars`] over any
//! blob store) runs these (`avatar_conformance!`), given the [`Storage`] its accounts live in.
//!
//! [`BlobAvatars`]: portcullis_domain::avatars::BlobAvatars

use portcullis_domain::model::EventType;
use portcullis_domain::{AvatarStore, AvatarWrite, NewAvatar, Storage, TenantId, UserId};

use super::fixtures::{event, new_account, t0};

fn avatar(version: &str, bytes: &[u8]) -> NewAvatar {
    NewAvatar {
        version: version.to_owned(),
        content_type: "image/jpeg".to_owned(),
        bytes: bytes.to_vec(),
    }
}

const V1: &str = "0123456789abcdef0123456789abcdef";
const V2: &str = "fedcba9876543210fedcba9876543210";

/// An avatar is stored and read back by version; a new one replaces it and the old bytes go;
/// the account shows the current version; removal leaves nothing.
pub async fn an_avatar_is_set_replaced_and_removed<S: Storage, A: AvatarStore>(store: &S, avatars: &A) {
    let t = TenantId::DEFAULT;
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    assert_eq!(ada.avatar_version, None);
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);

    let first = avatars.set_avatar(t, ada.id, &avatar(V1, b"one")).await.expect("set");
    assert_eq!(first, AvatarWrite::Stored { previous: None });
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V1));
    let blob = avatars.avatar_blob(ada.id, V1).await.expect("read").expect("stored");
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

    let second = avatars
        .set_avatar(t, ada.id, &avatar(V2, b"two"))
        .await
        .expect("replace");
    assert_eq!(
        second,
        AvatarWrite::Stored {
            previous: Some(V1.to_owned())
        }
    );
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V2));
    assert_eq!(
        avatars.avatar_blob(ada.id, V1).await.expect("read"),
        None,
        "the old bytes are gone"
    );
    let again = avatars
        .set_avatar(t, ada.id, &avatar(V2, b"two"))
        .await
        .expect("same picture");
    assert_eq!(
        again,
        AvatarWrite::Stored {
            previous: Some(V2.to_owned())
        }
    );
    assert!(
        avatars.avatar_blob(ada.id, V2).await.expect("read").is_some(),
        "setting the same one keeps it"
    );

    assert_eq!(
        avatars.remove_avatar(t, ada.id).await.expect("remove").as_deref(),
        Some(V2)
    );
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    assert_eq!(avatars.avatar_blob(ada.id, V2).await.expect("read"), None);
    assert_eq!(avatars.remove_avatar(t, ada.id).await.expect("again"), None);
    let seen = store.account(t, ada.id).await.expect("read").expect("account");
    assert_eq!(seen.avatar_version, None);
}

/// Only the account's own tenant can set it; an unknown account stores nothing.
pub async fn only_an_existing_account_gets_an_avatar<S: Storage, A: AvatarStore>(store: &S, avatars: &A) {
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    let other_tenant = TenantId::from_uuid(uuid::Uuid::now_v7());
    let write = avatars
        .set_avatar(other_tenant, ada.id, &avatar(V1, b"x"))
        .await
        .expect("set");
    assert_eq!(write, AvatarWrite::NoAccount);
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    assert_eq!(
        avatars.avatar_blob(ada.id, V1).await.expect("read"),
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
    assert_eq!(avatars.avatar_blob(nobody, V1).await.expect("read"), None);
}

/// A disabled account's avatar is hidden, and shown again once it is enabled.
pub async fn a_disabled_account_shows_no_avatar<S: Storage, A: AvatarStore>(store: &S, avatars: &A) {
    let t = TenantId::DEFAULT;
    let ada = store
        .insert_account(new_account("ada@example.com"), None)
        .await
        .expect("account");
    avatars.set_avatar(t, ada.id, &avatar(V1, b"one")).await.expect("set");
    let now = t0();
    store
        .set_disabled(t, ada.id, true, Some("abuse"), now, &|_| {
            event(EventType::AccountDisabled, Some(ada.id), now)
        })
        .await
        .expect("disable");
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read"), None);
    store
        .set_disabled(t, ada.id, false, None, now, &|_| {
            event(EventType::AccountEnabled, Some(ada.id), now)
        })
        .await
        .expect("enable");
    assert_eq!(avatars.current_avatar(ada.id).await.expect("read").as_deref(), Some(V1));
}

/// Runs the avatar contract against `$fresh().await` (the storage, the avatar store on it, and
/// a guard to keep alive).
#[macro_export]
macro_rules! avatar_conformance {
    ($fresh:path) => {
        $crate::avatar_conformance!(@each $fresh;
            an_avatar_is_set_replaced_and_removed,
            only_an_existing_account_gets_an_avatar,
            a_disabled_account_shows_no_avatar,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, avatars, _guard) = $fresh().await;
                $crate::conformance::avatars::$name(&store, &avatars).await;
            }
        )*
    };
}
