//! The storage contract every adapter passes (`portcullis_memory::conformance`), run against
//! PostgreSQL (`DATABASE_URL`), each test in a database of its own.

use portcullis_postgres::PgStore;
use portcullis_postgres::scratch::ScratchDatabase;

async fn fresh() -> (PgStore, ScratchDatabase) {
    let (db, store) = portcullis_postgres::scratch::store_from_env().await;
    (store, db)
}

portcullis_memory::storage_conformance!(fresh);

mod blobs {
    use portcullis_postgres::PgStore;
    use portcullis_postgres::scratch::ScratchDatabase;

    async fn fresh() -> (PgStore, ScratchDatabase) {
        let (db, store) = portcullis_postgres::scratch::store_from_env().await;
        (store, db)
    }

    portcullis_memory::blob_conformance!(fresh);
}

mod avatars {
    use portcullis_postgres::PgStore;
    use portcullis_postgres::scratch::ScratchDatabase;

    async fn fresh() -> (PgStore, PgStore, PgStore, ScratchDatabase) {
        let (db, store) = portcullis_postgres::scratch::store_from_env().await;
        (store.clone(), store.clone(), store, db)
    }

    portcullis_memory::avatar_conformance!(fresh);

    /// However an account row goes (here: erasure without the use case's own removal first),
    /// its avatar bytes go in the same transaction, and no other account's do.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deleting_an_account_deletes_its_avatar_blobs() {
        use portcullis_domain::model::{AuditEvent, EventType};
        use portcullis_domain::{
            AccountStore, AvatarStore, BlobStore, Email, NewAccount, NewAvatar, TenantId, UserAdminStore, UserId,
            avatar_key,
        };
        let (store, _, _, _db) = fresh().await;
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
}
