//! `avatars`: a signed-in user sets and removes their picture; anyone reads the current one.

use portcullis_domain::avatars::tag_of;
use portcullis_domain::{AvatarError, AvatarRead, ImageRejection, Limit, OverBudget, Quota};
use portcullis_images::fixtures::{encoded, picture};

use crate::world::{Setup, World};

/// A real PNG of `w`×`h`.
fn png(w: u32, h: u32) -> Vec<u8> {
    encoded(&picture(w, h), image::ImageFormat::Png)
}

fn ops() -> portcullis_domain::Actor {
    portcullis_domain::Actor {
        name: "key:support".into(),
        client: World::from("192.0.2.50"),
    }
}

#[tokio::test]
async fn an_avatar_is_set_read_by_anyone_replaced_and_removed() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    assert_eq!(w.auth.avatar(account.id, &[]).await.unwrap(), AvatarRead::Missing);

    let v1 = w.auth.set_avatar(&p, png(400, 300)).await.unwrap();
    let AvatarRead::Image { version, blob } = w.auth.avatar(account.id, &[]).await.unwrap() else {
        panic!("an image");
    };
    assert_eq!(version, v1);
    assert_eq!(blob.content_type, "image/jpeg");
    let decoded = image::load_from_memory(&blob.bytes).expect("a valid image");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (256, 256),
        "square, at the default size"
    );
    let seen = w.auth.account(&p).await.unwrap().expect("the account");
    assert_eq!(
        seen.avatar_version.as_deref(),
        Some(v1.as_str()),
        "the account names it"
    );

    let tag = tag_of(&v1);
    assert_eq!(
        w.auth.avatar(account.id, &["\"stale\"", tag]).await.unwrap(),
        AvatarRead::Unchanged { version: v1.clone() },
        "a caller with the current picture's tag gets no bytes"
    );
    assert_eq!(
        w.auth.avatar(account.id, &["*"]).await.unwrap(),
        AvatarRead::Unchanged { version: v1.clone() }
    );
    let again = w.auth.set_avatar(&p, png(400, 300)).await.unwrap();
    assert_ne!(again, v1, "every write has a version of its own");
    assert_eq!(tag_of(&again), tag, "the same picture keeps its tag");
    let v2 = w.auth.set_avatar(&p, png(50, 80)).await.unwrap();
    assert_ne!(v1, v2, "a new picture, a new version");
    assert!(
        matches!(w.auth.avatar(account.id, &[v1.as_str()]).await.unwrap(), AvatarRead::Image { version, .. } if version == v2)
    );

    w.auth.remove_avatar(&p).await.unwrap();
    assert_eq!(w.auth.avatar(account.id, &[]).await.unwrap(), AvatarRead::Missing);
    w.auth.remove_avatar(&p).await.unwrap();
}

#[tokio::test]
async fn what_is_not_an_image_is_refused_and_changes_nothing() {
    let w = World::new();
    let (account, pair) = w.signed_up("ada@example.com").await;
    let p = w.principal(&pair).await;
    let v1 = w.auth.set_avatar(&p, png(64, 64)).await.unwrap();
    for junk in [
        b"not an image at all".to_vec(),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        png(64, 64)[..40].to_vec(),
    ] {
        let refused = w.auth.set_avatar(&p, junk).await;
        assert!(
            matches!(refused, Err(AvatarError::Image(ImageRejection::Invalid(_)))),
            "{refused:?}"
        );
    }
    assert!(
        matches!(w.auth.avatar(account.id, &[]).await.unwrap(), AvatarRead::Image { version, .. } if version == v1)
    );
}

#[tokio::test]
async fn uploads_are_limited_per_account_before_any_decoding() {
    let w = World::with(Setup {
        quotas: vec![(Limit::AvatarUpload, Quota::new(2, std::time::Duration::from_secs(3600)))],
        ..Setup::default()
    });
    let (_, ada) = w.signed_up("ada@example.com").await;
    let (_, bob) = w.signed_up("bob@example.com").await;
    let ada = w.principal(&ada).await;
    let bob = w.principal(&bob).await;
    w.auth.set_avatar(&ada, png(10, 10)).await.unwrap();
    let garbage = w.auth.set_avatar(&ada, b"junk".to_vec()).await;
    assert!(
        matches!(garbage, Err(AvatarError::Image(_))),
        "refused uploads count too: {garbage:?}"
    );
    let over = w.auth.set_avatar(&ada, png(10, 10)).await;
    assert!(
        matches!(over, Err(AvatarError::OverBudget(OverBudget::RateLimited { .. }))),
        "{over:?}"
    );
    w.auth
        .set_avatar(&bob, png(10, 10))
        .await
        .expect("another account has its own budget");
}

#[tokio::test]
async fn disabling_hides_the_avatar_and_erasing_removes_it() {
    let w = World::new();
    let (ada, pair) = w.signed_up("ada@example.com").await;
    let (bob, bob_pair) = w.signed_up("bob@example.com").await;
    let p = w.principal(&pair).await;
    w.auth.set_avatar(&p, png(32, 32)).await.unwrap();
    let bobs = w
        .auth
        .set_avatar(&w.principal(&bob_pair).await, png(20, 20))
        .await
        .unwrap();

    w.auth
        .disable_user(w.tenant.id, ada.id, Some("abuse"), &ops())
        .await
        .unwrap();
    assert_eq!(w.auth.avatar(ada.id, &[]).await.unwrap(), AvatarRead::Missing);
    w.auth.enable_user(w.tenant.id, ada.id, &ops()).await.unwrap();
    assert!(matches!(
        w.auth.avatar(ada.id, &[]).await.unwrap(),
        AvatarRead::Image { .. }
    ));

    assert!(w.auth.erase_user(w.tenant.id, ada.id, &ops()).await.unwrap());
    assert_eq!(w.auth.avatar(ada.id, &[]).await.unwrap(), AvatarRead::Missing);
    assert!(
        matches!(w.auth.avatar(bob.id, &[]).await.unwrap(), AvatarRead::Image { version, .. } if version == bobs),
        "another account's avatar is untouched"
    );
}

#[tokio::test]
async fn the_pictures_of_a_purged_account_go_with_it() {
    use portcullis_domain::{AccountStore, BlobStore, avatar_key};
    let w = World::with(Setup {
        verify_email: true,
        ..Setup::default()
    });
    w.registered("late@example.com", crate::world::PASSWORD, None, crate::world::HOME)
        .await;
    let late = w
        .store
        .credentials_by_email(w.tenant.id, &World::email("late@example.com"))
        .await
        .unwrap()
        .expect("the account")
        .account
        .id;
    // A picture under the account's folder, as one stored while the account lived would be.
    let key = avatar_key(late, "0123456789abcdef0123456789abcdef-0123456789abcdef");
    w.blobs.put_blob(&key, "image/jpeg", b"picture").await.unwrap();
    w.advance(chrono::Duration::days(8));
    let purged = w.auth.purge_stale().await.unwrap();
    assert_eq!(purged.unverified_accounts, [late], "never verified, so purged");
    assert_eq!(w.blobs.len(), 0, "its pictures are gone too");
}
