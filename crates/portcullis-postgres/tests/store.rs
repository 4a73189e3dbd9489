//! Storage tests against a real PostgreSQL (`DATABASE_URL`), each in a database of its own.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::{
    AccountConflict, AccountStore, Email, HealthCheck, InsertAccountError, KEPT_SUPERSEDED_TOKENS, NewAccount,
    NewSession, OsRandom, RefreshOutcome, RefreshToken, SecretStore, ServerKey, Session, SessionId, SessionStore,
    StoreError, TenantId, UserId, Username, decide_refresh,
};
use portcullis_postgres::{PgSettings, PgStore};
use uuid::Uuid;

use portcullis_postgres::scratch::store_from_env as store;

fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

fn new_account(tenant: TenantId, email: &str, username: Option<&str>) -> NewAccount {
    NewAccount {
        id: UserId::from_uuid(Uuid::now_v7()),
        tenant_id: tenant,
        email: Email::parse(email).unwrap(),
        email_verified: true,
        username: username.map(|u| Username::from_stored(u.to_owned())),
        password_hash: "$argon2id$fake".into(),
        created_at: t0(),
        network: None,
    }
}

/// A `session.revoked` event of the built-in tenant (these tests do not read the trail).
fn revocation(n: u64) -> portcullis_domain::model::AuditEvent {
    portcullis_domain::model::AuditEvent {
        id: Uuid::now_v7(),
        kind: portcullis_domain::model::EventType::SessionsRevoked,
        tenant_id: TenantId::DEFAULT,
        user_id: None,
        session_id: None,
        ip: None,
        user_agent: None,
        request_id: None,
        at: t0(),
        details: serde_json::json!({ "revoked_sessions": n }),
    }
}

fn new_session(account: &NewAccount, token: &RefreshToken) -> NewSession {
    NewSession {
        session: Session {
            id: SessionId::from_uuid(Uuid::now_v7()),
            tenant_id: account.tenant_id,
            user_id: account.id,
            amr: vec!["pwd".into()],
            ip: Some("2001:db8::1".parse().unwrap()),
            user_agent: Some("test".into()),
            created_at: t0(),
            last_used_at: t0(),
            expires_at: t0() + Duration::days(30),
            revoked_at: None,
        },
        refresh_hash: token.hash(),
        events: Vec::new(),
    }
}

async fn refresh(store: &PgStore, token: &RefreshToken, key: &ServerKey, at: DateTime<Utc>) -> RefreshOutcome {
    let grace = Duration::seconds(10);
    store
        .refresh(
            token.hash(),
            token.successor(key).hash(),
            at,
            &move |s| decide_refresh(&s, at, grace),
            &|_| revocation(1),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn accounts_are_unique_per_tenant_case_insensitively() {
    let (db, store) = store().await;
    let first = new_account(TenantId::DEFAULT, "Ada@Example.com", Some("Ada"));
    let account = store.insert_account(first.clone(), None).await.unwrap();
    assert_eq!(account.email.as_str(), "Ada@Example.com");
    assert_eq!(account.tenant.slug, "default");

    let same_email = new_account(TenantId::DEFAULT, "ada@EXAMPLE.com", None);
    assert!(matches!(
        store.insert_account(same_email, None).await,
        Err(InsertAccountError::Conflict(AccountConflict::EmailTaken))
    ));
    let same_name = new_account(TenantId::DEFAULT, "other@example.com", Some("ADA"));
    assert!(matches!(
        store.insert_account(same_name, None).await,
        Err(InsertAccountError::Conflict(AccountConflict::UsernameTaken))
    ));

    // Another tenant may reuse both.
    let other = TenantId::from_uuid(Uuid::now_v7());
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO tenants (id, slug, name) VALUES ('{other}', 'acme', 'Acme')"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    store
        .insert_account(new_account(other, "ada@example.com", Some("ada")), None)
        .await
        .unwrap();

    let unknown_tenant = new_account(TenantId::from_uuid(Uuid::now_v7()), "x@example.com", None);
    assert!(matches!(
        store.insert_account(unknown_tenant, None).await,
        Err(InsertAccountError::Conflict(AccountConflict::UnknownTenant))
    ));

    let by_email = store
        .credentials_by_email(TenantId::DEFAULT, &Email::parse("ADA@example.COM").unwrap())
        .await;
    assert_eq!(by_email.unwrap().unwrap().account.id, first.id);
    let by_name = store
        .credentials_by_username(TenantId::DEFAULT, &Username::from_stored("aDa".into()))
        .await;
    assert_eq!(by_name.unwrap().unwrap().account.id, first.id);
    assert!(
        store
            .credentials_by_email(other, &Email::parse("nobody@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.account(other, first.id).await.unwrap().is_none(),
        "tenant scoping"
    );
}

#[tokio::test]
async fn failed_account_insert_leaves_no_session_behind() {
    let (_db, store) = store().await;
    let first = new_account(TenantId::DEFAULT, "ada@example.com", None);
    store.insert_account(first, None).await.unwrap();
    let dup = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let token = RefreshToken::generate(&OsRandom);
    let session = new_session(&dup, &token);
    assert!(store.insert_account(dup, Some(session.clone())).await.is_err());
    assert!(
        store
            .session(TenantId::DEFAULT, session.session.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn password_hash_is_replaced_only_when_unchanged() {
    let (_db, store) = store().await;
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    store.insert_account(a.clone(), None).await.unwrap();
    assert!(
        !store
            .replace_password_hash(TenantId::DEFAULT, a.id, "stale", "new")
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_password_hash(TenantId::DEFAULT, a.id, "$argon2id$fake", "new")
            .await
            .unwrap()
    );
    let creds = store
        .credentials_by_email(TenantId::DEFAULT, &a.email)
        .await
        .unwrap()
        .unwrap();
    let password = creds.password.unwrap();
    assert_eq!(password.phc, "new");
    assert!(password.normalized);
}

#[tokio::test]
async fn refresh_rotates_replays_within_grace_and_revokes_on_reuse() {
    let (_db, store) = store().await;
    let key = ServerKey::new(vec![9; 32]).unwrap();
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let t1 = RefreshToken::generate(&OsRandom);
    let first = new_session(&a, &t1);
    store.insert_account(a.clone(), Some(first.clone())).await.unwrap();
    let sid = first.session.id;

    let now = t0() + Duration::minutes(1);
    assert!(
        matches!(refresh(&store, &t1, &key, now).await, RefreshOutcome::Rotated { session: s, .. } if s.id == sid && s.last_used_at == now)
    );
    // Within the grace window the superseded token is answered (by its successor), nothing changes.
    assert!(matches!(
        refresh(&store, &t1, &key, now + Duration::seconds(10)).await,
        RefreshOutcome::Replayed { .. }
    ));
    // The successor is the head and rotates.
    let t2 = t1.successor(&key);
    assert!(matches!(
        refresh(&store, &t2, &key, now + Duration::seconds(11)).await,
        RefreshOutcome::Rotated { .. }
    ));
    // The first token outside its grace window: reuse, session revoked.
    let later = now + Duration::seconds(30);
    assert!(
        matches!(refresh(&store, &t1, &key, later).await, RefreshOutcome::Reused(s) if s.revoked_at == Some(later))
    );
    let session = store.session(TenantId::DEFAULT, sid).await.unwrap().unwrap();
    assert_eq!(session.revoked_at, Some(later));
    // Every token of the revoked session is dead now, including the head.
    let t3 = t2.successor(&key);
    assert!(matches!(
        refresh(&store, &t3, &key, later).await,
        RefreshOutcome::Invalid
    ));
    // Unknown tokens are invalid, and do not revoke anything.
    assert!(matches!(
        refresh(&store, &RefreshToken::generate(&OsRandom), &key, later).await,
        RefreshOutcome::Invalid
    ));
}

#[tokio::test]
async fn expired_session_does_not_refresh() {
    let (_db, store) = store().await;
    let key = ServerKey::new(vec![9; 32]).unwrap();
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let t1 = RefreshToken::generate(&OsRandom);
    store
        .insert_account(a.clone(), Some(new_session(&a, &t1)))
        .await
        .unwrap();
    assert!(matches!(
        refresh(&store, &t1, &key, t0() + Duration::days(30)).await,
        RefreshOutcome::Invalid
    ));
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_serialise_into_one_chain() {
    let (db, store) = store().await;
    let store = Arc::new(store);
    let key = ServerKey::new(vec![9; 32]).unwrap();
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let t1 = RefreshToken::generate(&OsRandom);
    let first = new_session(&a, &t1);
    store.insert_account(a.clone(), Some(first.clone())).await.unwrap();

    let now = t0() + Duration::minutes(1);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, t1, key) = (Arc::clone(&store), t1.clone(), key.clone());
            tokio::spawn(async move { refresh(&store, &t1, &key, now).await })
        })
        .collect();
    let mut rotated = 0;
    let mut replayed = 0;
    for t in tasks {
        match t.await.unwrap() {
            RefreshOutcome::Rotated { .. } => rotated += 1,
            RefreshOutcome::Replayed { .. } => replayed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((rotated, replayed), (1, 7));

    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let heads: Vec<Count> = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM refresh_tokens WHERE session_id = '{}' AND superseded_at IS NULL",
        first.session.id
    ))
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(heads[0].n, 1, "exactly one live head");
}

#[tokio::test]
async fn revocation_is_scoped_to_the_user() {
    let (_db, store) = store().await;
    let ada = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let bob = new_account(TenantId::DEFAULT, "bob@example.com", None);
    let (s1, s2, s3) = (
        new_session(&ada, &RefreshToken::generate(&OsRandom)),
        new_session(&ada, &RefreshToken::generate(&OsRandom)),
        new_session(&bob, &RefreshToken::generate(&OsRandom)),
    );
    store.insert_account(ada.clone(), Some(s1.clone())).await.unwrap();
    store.insert_account(bob.clone(), Some(s3.clone())).await.unwrap();
    store.insert_session(s2.clone()).await.unwrap();
    let now = t0();

    // Bob cannot revoke Ada's session.
    assert!(
        !store
            .revoke_session(TenantId::DEFAULT, bob.id, s1.session.id, now, &revocation)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .revoke_sessions(TenantId::DEFAULT, ada.id, Some(s1.session.id), now, &revocation)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .session(TenantId::DEFAULT, s1.session.id)
            .await
            .unwrap()
            .unwrap()
            .is_live(now)
    );
    assert!(
        !store
            .session(TenantId::DEFAULT, s2.session.id)
            .await
            .unwrap()
            .unwrap()
            .is_live(now)
    );
    assert!(
        store
            .revoke_session(TenantId::DEFAULT, ada.id, s1.session.id, now, &revocation)
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session(TenantId::DEFAULT, ada.id, s1.session.id, now, &revocation)
            .await
            .unwrap(),
        "already revoked"
    );
    assert!(
        store
            .session(TenantId::DEFAULT, s3.session.id)
            .await
            .unwrap()
            .unwrap()
            .is_live(now)
    );
    let stored = store.session(TenantId::DEFAULT, s3.session.id).await.unwrap().unwrap();
    assert_eq!(stored, s3.session, "sessions round-trip");
}

#[tokio::test]
async fn concurrent_first_secret_creation_agrees() {
    let (_db, store) = store().await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0u8..6)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.get_or_create_secret("refresh_key", &[i; 32]).await.unwrap() })
        })
        .collect();
    let mut values = Vec::new();
    for t in tasks {
        values.push(t.await.unwrap());
    }
    assert!(values.windows(2).all(|w| w[0] == w[1]), "{values:?}");
}

#[tokio::test]
async fn unreachable_database_is_unavailable_not_internal() {
    let mut settings = PgSettings::new("postgres://nobody@127.0.0.1:1/none");
    settings.connect_timeout = std::time::Duration::from_millis(500);
    settings.acquire_timeout = std::time::Duration::from_millis(500);
    let store = PgStore::connect(&settings).unwrap();
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn exhausted_pool_is_unavailable() {
    let (db, _store) = store().await;
    let mut settings = PgSettings::new(db.url());
    settings.max_connections = 1;
    settings.acquire_timeout = std::time::Duration::from_millis(100);
    settings.statement_timeout = std::time::Duration::from_secs(5);
    let store = Arc::new(PgStore::connect(&settings).unwrap());
    // One slow refresh holds the only connection (its transaction waits on a lock we hold).
    let mut locker = AsyncPgConnection::establish(db.url()).await.unwrap();
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let t1 = RefreshToken::generate(&OsRandom);
    let first = new_session(&a, &t1);
    store.insert_account(a, Some(first.clone())).await.unwrap();
    let key = ServerKey::new(vec![9; 32]).unwrap();
    let holder = locker
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query(format!(
                "SELECT 1 FROM sessions WHERE id = '{}' FOR UPDATE",
                first.session.id
            ))
            .execute(conn)
            .await?;
            let blocked = {
                let (store, t1, key) = (Arc::clone(&store), t1.clone(), key.clone());
                tokio::spawn(async move { refresh(&store, &t1, &key, t0()).await })
            };
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let starved = store.ping().await;
            Ok((blocked, starved))
        })
        .await
        .unwrap();
    let (blocked, starved) = holder;
    assert!(matches!(starved, Err(StoreError::Unavailable(_))), "{starved:?}");
    assert!(matches!(blocked.await.unwrap(), RefreshOutcome::Rotated { .. }));
}

#[tokio::test]
async fn replay_reports_the_head_and_rotation_prunes_old_hashes() {
    let (db, store) = store().await;
    let key = ServerKey::new(vec![9; 32]).unwrap();
    let a = new_account(TenantId::DEFAULT, "ada@example.com", None);
    let r0 = RefreshToken::generate(&OsRandom);
    let first = new_session(&a, &r0);
    store.insert_account(a.clone(), Some(first.clone())).await.unwrap();
    let now = t0() + Duration::minutes(1);
    // Two rotations inside the grace window, then the first token again: the head is reported.
    let r1 = r0.successor(&key);
    let r2 = r1.successor(&key);
    assert!(matches!(
        refresh(&store, &r0, &key, now).await,
        RefreshOutcome::Rotated { .. }
    ));
    assert!(matches!(
        refresh(&store, &r1, &key, now).await,
        RefreshOutcome::Rotated { .. }
    ));
    match refresh(&store, &r0, &key, now + Duration::seconds(5)).await {
        RefreshOutcome::Replayed { head, .. } => assert_eq!(head, r2.hash()),
        other => panic!("{other:?}"),
    }

    // A long-lived session's chain stays bounded.
    let mut current = r2;
    for i in 0..(KEPT_SUPERSEDED_TOKENS + 10) {
        let at = now + Duration::minutes(i + 1);
        assert!(matches!(
            refresh(&store, &current, &key, at).await,
            RefreshOutcome::Rotated { .. }
        ));
        current = current.successor(&key);
    }
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let rows: Vec<Count> = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM refresh_tokens WHERE session_id = '{}'",
        first.session.id
    ))
    .load(&mut conn)
    .await
    .unwrap();
    assert!(rows[0].n <= KEPT_SUPERSEDED_TOKENS + 1, "{} rows kept", rows[0].n);
    // The oldest token is forgotten: it is invalid now, and presenting it revokes nothing.
    assert!(matches!(
        refresh(&store, &r0, &key, now + Duration::days(1)).await,
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        refresh(&store, &current, &key, now + Duration::days(1)).await,
        RefreshOutcome::Rotated { .. }
    ));
}

#[tokio::test]
async fn upgrading_rekeys_look_alike_identities_and_keeps_conflicts_apart() {
    let (db, store) = store().await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    // The database as the previous version left it: keys were only lower-cased, and the
    // Unicode migration is not applied yet.
    for statement in [
        "DELETE FROM __diesel_schema_migrations WHERE version = '20261204000001'",
        "ALTER TABLE accounts DROP COLUMN password_nfkc",
    ] {
        diesel::sql_query(statement).execute(&mut conn).await.unwrap();
    }
    let insert = |id: Uuid, email: &str, key: &str, username: &str, username_key: &str| {
        format!(
            "INSERT INTO accounts (id, tenant_id, email, email_normalized, email_verified, username, \
             username_normalized, password_hash, created_at, updated_at) VALUES ('{id}', '{}', '{email}', \
             '{key}', true, '{username}', '{username_key}', 'x', now(), now())",
            TenantId::DEFAULT
        )
    };
    let (kelvin, plain, fullwidth) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for statement in [
        // KELVIN SIGN: lower-casing it gives a plain k only in some locales; the old rule kept it.
        insert(
            kelvin,
            "\u{212A}elvin@example.com",
            "\u{212A}elvin@example.com",
            "\u{212A}el",
            "\u{212A}el",
        ),
        // A plain twin of the same address, registered while the old rule told them apart.
        insert(plain, "kelvin@example.com", "kelvin@example.com", "kel", "kel"),
        insert(
            fullwidth,
            "ａｄａ@example.com",
            "ａｄａ@example.com",
            "ａｄａ",
            "ａｄａ",
        ),
    ] {
        diesel::sql_query(statement).execute(&mut conn).await.unwrap();
    }

    let applied = portcullis_postgres::run_migrations(db.url()).await.unwrap();
    assert_eq!(applied, vec!["20261204000001".to_owned()]);

    // The full-width account is found by its plain spelling now, by email and by username.
    let found = store
        .credentials_by_email(TenantId::DEFAULT, &Email::parse("ADA@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.id.as_uuid(), fullwidth);
    let found = store
        .credentials_by_username(TenantId::DEFAULT, &Username::from_stored("Ada".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.id.as_uuid(), fullwidth);
    // The KELVIN SIGN account's address and username would both collide with its plain twin's:
    // they keep their old keys, and both accounts stay as they were.
    let found = store
        .credentials_by_email(TenantId::DEFAULT, &Email::parse("kelvin@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.id.as_uuid(), plain);
    let found = store
        .credentials_by_username(TenantId::DEFAULT, &Username::from_stored("KEL".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.account.id.as_uuid(), plain);
    assert!(
        store
            .credentials_by_username(TenantId::DEFAULT, &Username::from_stored("kEl".into()))
            .await
            .unwrap()
            .is_some()
    );
    // A look-alike registered from now on is the same address.
    let twin = new_account(TenantId::DEFAULT, "ＡＤＡ@example.com", None);
    assert!(matches!(
        store.insert_account(twin, None).await,
        Err(InsertAccountError::Conflict(AccountConflict::EmailTaken))
    ));
}

#[tokio::test]
async fn upgrading_turns_each_unverified_account_into_its_one_registration() {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let (db, _store) = store().await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    // The previous version's schema and rows: an unverified account holding its username, its
    // registration network known already, a pending verification secret with no scope.
    let (pending, verified) = (Uuid::now_v7(), Uuid::now_v7());
    for statement in [
        "DELETE FROM __diesel_schema_migrations WHERE version = '20261204000002'".to_owned(),
        "DROP TABLE registration_requests".to_owned(),
        "DROP TABLE registrations".to_owned(),
        "ALTER TABLE mail_requests DROP COLUMN network".to_owned(),
        format!(
            "INSERT INTO accounts (id, tenant_id, email, email_normalized, email_verified, username, \
             username_normalized, password_hash, created_at, updated_at) VALUES \
             ('{pending}', '{t}', 'p@example.com', 'p@example.com', false, 'Pat', 'pat', '$argon2id$pending', now(), now()), \
             ('{verified}', '{t}', 'v@example.com', 'v@example.com', true, 'Val', 'val', '$argon2id$verified', now(), now())",
            t = TenantId::DEFAULT
        ),
        "ALTER TABLE accounts ALTER COLUMN password_hash SET NOT NULL".to_owned(),
        format!(
            "INSERT INTO known_networks VALUES ('{t}', '{pending}', '192.0.2.1', now(), now()), \
             ('{t}', '{verified}', '192.0.2.2', now(), now())",
            t = TenantId::DEFAULT
        ),
        format!(
            "INSERT INTO one_time_secrets (id, tenant_id, user_id, purpose, scope, token_hash, code_hash, \
             token_expires_at, code_expires_at, created_at) VALUES ('{}', '{}', '{pending}', 'verify_email', '', \
             '\\x{}', '\\x{}', now() + interval '1 day', now() + interval '15 minutes', now())",
            Uuid::now_v7(),
            TenantId::DEFAULT,
            "11".repeat(32),
            "22".repeat(32)
        ),
    ] {
        diesel::sql_query(&statement).execute(&mut conn).await.unwrap();
    }
    assert_eq!(
        portcullis_postgres::run_migrations(db.url()).await.unwrap(),
        vec!["20261204000002".to_owned()]
    );
    let url = db.url().to_owned();
    let one = |sql: String| {
        let url = url.clone();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            diesel::sql_query(sql)
                .load::<Row>(&mut conn)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.v)
                .collect::<Vec<_>>()
        }
    };
    // The pending account's one registration holds what the account row held...
    assert_eq!(
        one(format!(
            "SELECT id::text || ' ' || password_hash || ' ' || username || ' ' || network AS v \
             FROM registrations WHERE user_id = '{pending}'"
        ))
        .await,
        vec![format!("{pending} $argon2id$pending Pat 192.0.2.1")]
    );
    // ...its secret confirms that registration, its username waits for verification, and its
    // network is not known before then. The verified account is untouched.
    assert_eq!(
        one("SELECT scope AS v FROM one_time_secrets".into()).await,
        vec![pending.to_string()]
    );
    assert_eq!(
        one("SELECT coalesce(username, '-') AS v FROM accounts ORDER BY email".into()).await,
        vec!["-".to_owned(), "Val".to_owned()]
    );
    assert_eq!(
        one("SELECT network AS v FROM known_networks".into()).await,
        vec!["192.0.2.2".to_owned()]
    );
    assert_eq!(
        one("SELECT count(*)::text AS v FROM registrations".into()).await,
        vec!["1".to_owned()]
    );
}
