//! "Revoked means rejected at once" across two nodes that cache session liveness, in-process on
//! one real database: a session ended on one node, by plain SQL (as the CLI or an operator
//! would), or while a node's listener is down, is refused by the other node on the next request;
//! and the account each node keeps beside a session follows changes made anywhere.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use portcullis_domain::AuthService;
use portcullis_postgres::scratch::ScratchDatabase;
use portcullis_server::{Config, Overrides};
use secrecy::SecretString;
use serde_json::{Value, json};

struct Node {
    base: String,
    auth: AuthService,
    _stop: actix_web::dev::ServerHandle,
}

fn config(db: &ScratchDatabase, dir: &std::path::Path) -> Config {
    let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let pem = dir.join("signing.pem");
    std::fs::write(&pem, key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    let mut c = Config::default();
    c.database.url = Some(SecretString::from(db.url().to_owned()));
    c.database.migrate_on_start = false;
    c.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    c.server.workers = 1;
    c.passwords.argon2_m_cost_kib = 1024;
    c.passwords.argon2_t_cost = 1;
    c.registration.require_email_verification = false;
    c.mail.dir = dir.join("mail");
    c.limits.disable_all();
    c.tokens.signing_key_file = Some(pem);
    c.mfa.encryption_key = Some(SecretString::from(
        base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
    ));
    c
}

async fn node(config: &Config) -> Node {
    let running = portcullis_server::start(
        config,
        Overrides {
            clock: None,
            no_signals: true,
        },
    )
    .await
    .unwrap();
    let node = Node {
        base: format!("http://{}", running.addr),
        auth: running.auth.clone(),
        _stop: running.handle.clone(),
    };
    tokio::spawn(running.server);
    node
}

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

/// The status of an authenticated request that needs only liveness.
async fn sessions_status(http: &reqwest::Client, node: &Node, access: &str) -> u16 {
    http.get(format!("{}/v1/account/sessions", node.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn login(http: &reqwest::Client, node: &Node, email: &str) -> String {
    let res = http
        .post(format!("{}/v1/auth/login", node.base))
        .json(&json!({ "login": email, "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["data"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

/// A token that `b` has authenticated (and cached) twice.
async fn cached_on(http: &reqwest::Client, b: &Node, access: &str) {
    for _ in 0..2 {
        assert_eq!(sessions_status(http, b, access).await, 200);
    }
    assert!(!b.auth.liveness().is_empty(), "node B keeps it");
}

/// Two nodes on one scratch database, both listening for notifications, and an account
/// (ada@example.com) registered through the first.
struct Cluster {
    db: ScratchDatabase,
    dir: std::path::PathBuf,
    a: Node,
    b: Node,
    http: reqwest::Client,
}

async fn cluster() -> Cluster {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let dir = std::env::temp_dir().join(format!("portcullis-liveness-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = config(&db, &dir);
    let (a, b) = (node(&c).await, node(&c).await);
    eventually("both listeners connect", || {
        a.auth.liveness().is_online() && b.auth.liveness().is_online()
    })
    .await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/v1/auth/register", a.base))
        .json(&json!({ "email": "ada@example.com", "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    Cluster { db, dir, a, b, http }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_anywhere_is_refused_by_the_other_node_at_once() {
    let Cluster { db, dir, a, b, http } = cluster().await;

    // Logged out on A: B refuses the token on the very next request.
    let access = login(&http, &a, "ada@example.com").await;
    cached_on(&http, &b, &access).await;
    let res = http
        .post(format!("{}/v1/auth/logout", a.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        sessions_status(&http, &b, &access).await,
        401,
        "revoked on A, refused by B"
    );

    // Revoked by plain SQL in another process.
    let access = login(&http, &a, "ada@example.com").await;
    cached_on(&http, &b, &access).await;
    let mut sql = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'operator' WHERE revoked_at IS NULL")
        .execute(&mut sql)
        .await
        .unwrap();
    assert_eq!(
        sessions_status(&http, &b, &access).await,
        401,
        "revoked by SQL, refused by B"
    );

    // The account disabled on A.
    let access = login(&http, &a, "ada@example.com").await;
    cached_on(&http, &b, &access).await;
    diesel::sql_query("UPDATE accounts SET disabled_at = now() WHERE email = 'ada@example.com'")
        .execute(&mut sql)
        .await
        .unwrap();
    assert_eq!(sessions_status(&http, &b, &access).await, 401, "disabled, refused by B");
    diesel::sql_query("UPDATE accounts SET disabled_at = NULL WHERE email = 'ada@example.com'")
        .execute(&mut sql)
        .await
        .unwrap();

    // B's listener is killed: B forgets what it cached and reads liveness until it is back, so
    // a revocation while it is down (whose notice B never gets) is refused too.
    let access = login(&http, &a, "ada@example.com").await;
    cached_on(&http, &b, &access).await;
    let killed = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \
                  'portcullis-liveness' AND datname = current_database()";
    diesel::sql_query(killed).execute(&mut sql).await.unwrap();
    eventually("the listeners notice", || {
        !b.auth.liveness().is_online() || b.auth.liveness().is_empty()
    })
    .await;
    diesel::sql_query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'operator' WHERE revoked_at IS NULL")
        .execute(&mut sql)
        .await
        .unwrap();
    assert_eq!(
        sessions_status(&http, &b, &access).await,
        401,
        "revoked while B's listener was down"
    );
    eventually("B's listener is back", || b.auth.liveness().is_online()).await;
    let access = login(&http, &a, "ada@example.com").await;
    cached_on(&http, &b, &access).await;

    let _ = std::fs::remove_dir_all(&dir);
}

/// `GET /v1/account` on `node`: the account it shows.
async fn shown_on(http: &reqwest::Client, node: &Node, access: &str) -> Value {
    let res = http
        .get(format!("{}/v1/account", node.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json::<Value>().await.unwrap()["data"].clone()
}

/// Polls `GET /v1/account` on `node` (up to 10 s) until `field` reads `want`.
async fn shows(http: &reqwest::Client, node: &Node, access: &str, field: &str, want: Value) {
    for _ in 0..200 {
        if shown_on(http, node, access).await[field] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{field} never became {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_each_node_keeps_follows_changes_made_anywhere() {
    let Cluster { db, dir, a, b, http } = cluster().await;
    let access = login(&http, &a, "ada@example.com").await;
    for node in [&a, &b] {
        assert_eq!(shown_on(&http, node, &access).await["username"], Value::Null);
        assert_eq!(node.auth.liveness().len(), 1, "kept with its session");
    }

    // Changed through A: A shows it on the next read, B once the notice arrives.
    let res = http
        .patch(format!("{}/v1/account", a.base))
        .bearer_auth(&access)
        .json(&json!({ "username": "ada" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(shown_on(&http, &a, &access).await["username"], json!("ada"));
    shows(&http, &b, &access, "username", json!("ada")).await;

    // Changed by plain SQL in another process: both nodes follow.
    let mut sql = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query("UPDATE accounts SET email = 'ada@example.net' WHERE email = 'ada@example.com'")
        .execute(&mut sql)
        .await
        .unwrap();
    for node in [&a, &b] {
        shows(&http, node, &access, "email", json!("ada@example.net")).await;
    }
    // A password rehash or a touch of `updated_at` raises nothing: the kept copies stay.
    diesel::sql_query("UPDATE accounts SET updated_at = now()")
        .execute(&mut sql)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!((a.auth.liveness().len(), b.auth.liveness().len()), (1, 1));

    let _ = std::fs::remove_dir_all(&dir);
}
