//! One-time secrets and mail requests against a real PostgreSQL, each test in its own database.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::one_time::Purpose;
use portcullis_domain::{
    AccountStore, Email, MailRequest, MailRequestStore, NewAccount, NewOneTimeSecret, TenantId, TokenHash, UserId,
};
use portcullis_domain::{MailKind, OutgoingMail};
use portcullis_postgres::scratch::ScratchDatabase;
use uuid::Uuid;

use portcullis_postgres::scratch::store_from_env as store;

fn t0() -> DateTime<Utc> {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

fn email(n: usize) -> Email {
    Email::parse(&format!("user{n}@example.com")).unwrap()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(db: &ScratchDatabase, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
}

#[tokio::test]
async fn concurrent_workers_fulfil_each_mail_request_once() {
    let (db, store) = store().await;
    let store = Arc::new(store);
    for n in 0..30 {
        store
            .insert_account(
                NewAccount {
                    id: UserId::from_uuid(Uuid::now_v7()),
                    tenant_id: TenantId::DEFAULT,
                    email: email(n),
                    email_verified: true,
                    username: None,
                    password_hash: "$argon2id$stand-in".into(),
                    created_at: t0(),
                    network: None,
                },
                None,
            )
            .await
            .unwrap();
        // Every account asks for a reset; every tenth request is for an address with none.
        for address in [email(n), email(1000 + n)]
            .into_iter()
            .take(if n % 10 == 0 { 2 } else { 1 })
        {
            store
                .request_mail(&MailRequest {
                    id: Uuid::now_v7(),
                    tenant_id: TenantId::DEFAULT,
                    purpose: Purpose::ResetPassword,
                    email: address,
                    network: None,
                    requested_at: t0(),
                })
                .await
                .unwrap();
        }
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let decide = |request: &MailRequest, target: Option<&portcullis_domain::MailTarget>| {
                    let account = &target?.account;
                    assert_eq!(account.email.normalized(), request.email.normalized());
                    let id = Uuid::now_v7();
                    Some((
                        NewOneTimeSecret {
                            id,
                            tenant_id: TenantId::DEFAULT,
                            user_id: account.id,
                            purpose: request.purpose,
                            scope: String::new(),
                            // Unique per secret: the id, twice.
                            token_hash: TokenHash(*id.as_bytes().repeat(2).first_chunk::<32>().unwrap()),
                            code_hash: TokenHash([7; 32]),
                            token_expires_at: t0() + Duration::hours(1),
                            code_expires_at: t0() + Duration::minutes(15),
                            new_email: None,
                            created_at: t0(),
                        },
                        OutgoingMail {
                            id: Uuid::now_v7(),
                            tenant_id: TenantId::DEFAULT,
                            to: account.email.as_str().to_owned(),
                            from: None,
                            kind: MailKind::PasswordReset,
                            subject: "Reset".into(),
                            text: "t".into(),
                            html: "h".into(),
                        },
                    ))
                };
                let fulfil = |request: &MailRequest,
                              target: Option<&portcullis_domain::MailTarget>|
                 -> portcullis_domain::Fulfilling {
                    let decided = decide(request, target);
                    Box::pin(async move { decided })
                };
                while store.fulfil_mail_request(&fulfil).await.unwrap() {
                    seen.push(());
                }
                seen.len()
            })
        })
        .collect();
    let mut taken = 0;
    for w in workers {
        taken += w.await.unwrap();
    }
    assert_eq!(taken, 33, "every request taken exactly once");
    assert_eq!(count(&db, "SELECT count(*) AS n FROM mail_requests").await, 0);
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM mail_outbox").await,
        30,
        "one mail per account"
    );
    assert_eq!(count(&db, "SELECT count(*) AS n FROM one_time_secrets").await, 30);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT recipient) AS n FROM mail_outbox").await,
        30,
        "no account mailed twice"
    );
}

#[tokio::test]
async fn purging_deletes_dead_secrets_and_accounts_left_unverified() {
    use portcullis_domain::{OneTimeStore, Purged};
    let (db, store) = store().await;
    let account = |n: usize, verified: bool| NewAccount {
        id: UserId::from_uuid(Uuid::now_v7()),
        tenant_id: TenantId::DEFAULT,
        email: email(n),
        email_verified: verified,
        username: None,
        password_hash: "$argon2id$stand-in".into(),
        created_at: t0(),
        network: None,
    };
    let (unverified, verified) = (account(1, false), account(2, true));
    let user = unverified.id;
    for a in [unverified, verified] {
        store.insert_account(a, None).await.unwrap();
    }
    // Link alive, code expired (verification); link and code expired (reset).
    for (purpose, link_ttl, byte) in [
        (Purpose::VerifyEmail, Duration::hours(24), 1u8),
        (Purpose::ResetPassword, Duration::minutes(30), 2),
    ] {
        let secret = NewOneTimeSecret {
            id: Uuid::now_v7(),
            tenant_id: TenantId::DEFAULT,
            user_id: user,
            purpose,
            scope: String::new(),
            token_hash: TokenHash([byte; 32]),
            code_hash: TokenHash([byte; 32]),
            token_expires_at: t0() + link_ttl,
            code_expires_at: t0() + Duration::minutes(15),
            new_email: None,
            created_at: t0(),
        };
        store.issue_secret(secret, &[], t0()).await.unwrap();
    }
    let long_ago = t0() - Duration::days(7);
    assert_eq!(
        store.purge(t0() + Duration::hours(1), long_ago).await.unwrap(),
        Purged {
            secrets: 1,
            unverified_accounts: Vec::new()
        }
    );
    assert_eq!(count(&db, "SELECT count(*) AS n FROM one_time_secrets").await, 1);
    assert_eq!(
        store.purge(t0() + Duration::hours(25), long_ago).await.unwrap().secrets,
        1
    );
    // A week on, the account that never verified goes; the verified one stays.
    let week = t0() + Duration::days(8);
    let purged = store.purge(week, week - Duration::days(7)).await.unwrap();
    assert_eq!((purged.secrets, purged.unverified_accounts.len()), (0, 1));
    assert_eq!(count(&db, "SELECT count(*) AS n FROM accounts").await, 1);
}
