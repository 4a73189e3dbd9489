//! The session-liveness feed against a real PostgreSQL (`DATABASE_URL`): the schema's triggers
//! notify every change that can end a session, whoever writes it, and the feed turns the cache
//! off while its connection is down.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::liveness::{Lookup, SessionLiveness};
use portcullis_domain::{
    AccountStore, Email, NewAccount, NewSession, Session, SessionId, SessionStore, TenantId, UserId,
};
use portcullis_postgres::PgStore;
use portcullis_postgres::liveness::APPLICATION_NAME;
use uuid::Uuid;

/// Waits (up to 10 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}

async fn account_with_session(store: &PgStore, email: &str) -> Session {
    let now = Utc::now();
    let user = UserId::from_uuid(Uuid::now_v7());
    let account = NewAccount {
        id: user,
        tenant_id: TenantId::DEFAULT,
        email: Email::parse(email).unwrap(),
        email_verified: true,
        username: None,
        password_hash: "$argon2id$fake".into(),
        created_at: now,
        network: None,
    };
    store.insert_account(account, None).await.unwrap();
    let session_id = SessionId::from_uuid(Uuid::now_v7());
    let session = Session {
        id: session_id,
        tenant_id: TenantId::DEFAULT,
        user_id: user,
        amr: vec!["pwd".into()],
        ip: None,
        user_agent: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + chrono::Duration::days(1),
        revoked_at: None,
    };
    store
        .insert_session(NewSession {
            session: session.clone(),
            refresh_hash: {
                let mut bytes = [0u8; 32];
                bytes[..16].copy_from_slice(Uuid::now_v7().as_bytes());
                bytes[16..].copy_from_slice(session_id.as_uuid().as_bytes());
                portcullis_domain::TokenHash(bytes)
            },
            events: Vec::new(),
        })
        .await
        .unwrap();
    session
}

/// Puts `session` in the cache as an authentication would.
fn cache(liveness: &SessionLiveness, session: &Session) {
    let Lookup::Miss(ticket) = liveness.lookup(session.tenant_id, session.id, session.user_id, Utc::now()) else {
        panic!("already cached");
    };
    liveness.remember(ticket, session, Utc::now());
}

fn cached(liveness: &SessionLiveness, session: &Session) -> bool {
    matches!(
        liveness.lookup(session.tenant_id, session.id, session.user_id, Utc::now()),
        Lookup::Live(_)
    )
}

#[tokio::test]
async fn every_write_that_can_end_a_session_reaches_the_cache_and_a_lost_feed_turns_it_off() {
    let (db, store) = portcullis_postgres::scratch::store_from_env().await;
    let liveness = Arc::new(SessionLiveness::default());
    let feed = portcullis_postgres::spawn_liveness_feed(db.url().to_owned(), liveness.clone());
    eventually("the feed connects", || liveness.is_online()).await;
    // Plain SQL, as the CLI or an operator's psql would write it: another process entirely.
    let mut sql = AsyncPgConnection::establish(db.url()).await.unwrap();

    let a = account_with_session(&store, "a@example.com").await;
    cache(&liveness, &a);
    assert!(cached(&liveness, &a));
    // A refresh-style touch is not an ending: nothing is notified, the entry stays.
    diesel::sql_query(format!(
        "UPDATE sessions SET last_used_at = now() WHERE id = '{}'",
        a.id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(cached(&liveness, &a), "a touch ends nothing");
    diesel::sql_query(format!("UPDATE sessions SET revoked_at = now() WHERE id = '{}'", a.id))
        .execute(&mut sql)
        .await
        .unwrap();
    eventually("a revocation by SQL", || !cached(&liveness, &a)).await;

    let b = account_with_session(&store, "b@example.com").await;
    cache(&liveness, &b);
    diesel::sql_query(format!(
        "UPDATE accounts SET disabled_at = now() WHERE id = '{}'",
        b.user_id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    eventually("an account disabled", || !cached(&liveness, &b)).await;

    let c = account_with_session(&store, "c@example.com").await;
    cache(&liveness, &c);
    diesel::sql_query(format!("DELETE FROM accounts WHERE id = '{}'", c.user_id))
        .execute(&mut sql)
        .await
        .unwrap();
    eventually("an account deleted", || !cached(&liveness, &c)).await;

    let d = account_with_session(&store, "d@example.com").await;
    cache(&liveness, &d);
    diesel::sql_query(format!(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        d.id
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    eventually("a session cut short", || !cached(&liveness, &d)).await;

    let e = account_with_session(&store, "e@example.com").await;
    cache(&liveness, &e);
    diesel::sql_query("TRUNCATE sessions CASCADE")
        .execute(&mut sql)
        .await
        .unwrap();
    eventually("the table truncated", || !cached(&liveness, &e)).await;

    // The listener's connection killed: the cache is off (and empty) until it reconnects.
    let f = account_with_session(&store, "f@example.com").await;
    cache(&liveness, &f);
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{APPLICATION_NAME}' AND \
         datname = current_database()"
    ))
    .execute(&mut sql)
    .await
    .unwrap();
    eventually("the lost feed noticed", || !cached(&liveness, &f)).await;
    eventually("the feed reconnects", || liveness.is_online()).await;
    assert!(liveness.is_empty(), "nothing from before the outage is kept");
    feed.abort();
}
