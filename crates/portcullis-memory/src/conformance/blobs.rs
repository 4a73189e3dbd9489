//! The blob store contract: every [`BlobStore`] adapter runs these (`blob_conformance!`).

use portcullis_domain::{BlobStore, StoreError};

/// A blob is read back as written, replaced whole, and gone once deleted; deleting or reading
/// a missing key is not an error; keys are separate (a prefix is not a blob).
pub async fn blobs_are_written_read_replaced_and_deleted<B: BlobStore>(store: &B) {
    let key = "avatars/0190f0a0-0000-7000-8000-000000000001/v1.jpg";
    assert_eq!(store.blob(key).await.expect("read"), None);
    store.put_blob(key, "image/jpeg", b"first").await.expect("put");
    let read = store.blob(key).await.expect("read").expect("stored");
    assert_eq!(
        (read.content_type.as_str(), read.bytes.as_slice()),
        ("image/jpeg", &b"first"[..])
    );
    store
        .put_blob(key, "image/png", b"second, longer")
        .await
        .expect("replace");
    let read = store.blob(key).await.expect("read").expect("stored");
    assert_eq!(
        (read.content_type.as_str(), read.bytes.as_slice()),
        ("image/png", &b"second, longer"[..])
    );
    let other = "avatars/0190f0a0-0000-7000-8000-000000000001/v2.jpg";
    assert_eq!(store.blob(other).await.expect("read"), None);
    assert_eq!(
        store
            .blob("avatars/0190f0a0-0000-7000-8000-000000000001")
            .await
            .expect("read"),
        None
    );
    store.put_blob(other, "image/jpeg", &[]).await.expect("an empty blob");
    assert_eq!(
        store.blob(other).await.expect("read").expect("stored").bytes,
        Vec::<u8>::new()
    );
    store.delete_blob(key).await.expect("delete");
    assert_eq!(store.blob(key).await.expect("read"), None);
    store.delete_blob(key).await.expect("deleting again is fine");
    assert!(store.blob(other).await.expect("read").is_some(), "the other stays");
}

/// Deleting a folder removes the keys under it and nothing else: not a blob of the folder's own
/// name elsewhere, not a folder whose name merely starts the same, not one with a wildcard
/// character in place of a letter.
pub async fn a_folder_is_deleted_with_everything_under_it_and_nothing_else<B: BlobStore>(store: &B) {
    let keep = ["a/bxc/y", "a/b_cd/z", "a/b_c0", "other/b_c/x"];
    let gone = ["a/b_c/1", "a/b_c/deeper/2"];
    for key in keep.iter().chain(&gone) {
        store.put_blob(key, "image/jpeg", key.as_bytes()).await.expect("put");
    }
    store.delete_folder("a/b_c").await.expect("delete the folder");
    for key in gone {
        assert_eq!(store.blob(key).await.expect("read"), None, "{key}");
    }
    for key in keep {
        assert!(store.blob(key).await.expect("read").is_some(), "{key} stays");
    }
    store.delete_folder("a/b_c").await.expect("again is fine");
    store
        .delete_folder("nothing/here")
        .await
        .expect("a missing folder is fine");
    assert!(store.delete_folder("../a").await.is_err());
}

/// Megabytes of arbitrary bytes come back identical.
pub async fn large_binary_blobs_round_trip<B: BlobStore>(store: &B) {
    let bytes: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    store
        .put_blob("big/one.bin", "application/octet-stream", &bytes)
        .await
        .expect("put");
    assert_eq!(
        store.blob("big/one.bin").await.expect("read").expect("stored").bytes,
        bytes
    );
}

/// A key the domain could not have made is refused, for every operation, and writes nothing.
pub async fn keys_that_could_escape_are_refused<B: BlobStore>(store: &B) {
    for key in ["../escape", "/etc/passwd", "a/../../b", "a//b", "", "UPPER", "a\0b"] {
        assert!(
            matches!(
                store.put_blob(key, "text/plain", b"x").await,
                Err(StoreError::Internal(_))
            ),
            "{key:?}"
        );
        assert!(store.blob(key).await.is_err(), "{key:?}");
        assert!(store.delete_blob(key).await.is_err(), "{key:?}");
    }
}

/// Runs the blob store contract against `$fresh().await` (a store and a guard to keep alive).
#[macro_export]
macro_rules! blob_conformance {
    ($fresh:path) => {
        $crate::blob_conformance!(@each $fresh;
            blobs_are_written_read_replaced_and_deleted,
            a_folder_is_deleted_with_everything_under_it_and_nothing_else,
            large_binary_blobs_round_trip,
            keys_that_could_escape_are_refused,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $fresh().await;
                $crate::conformance::blobs::$name(&store).await;
            }
        )*
    };
}
