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
