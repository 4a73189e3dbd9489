//! Keys at start-up, in-process on a real database: a missing key refuses the start in the
//! production profile; a key that does not match the database's fingerprint refuses it in any
//! profile; a signing-key rotation across two nodes (publish, then sign, then retire) never
//! answers 401 to a token either node signed; an MFA-key rotation keeps TOTP logins working
//! while old secrets are sealed again, and refuses to drop the old key too early.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use portcullis_domain::{ManualClock, OsRandom};
use portcullis_postgres::scratch::ScratchDatabase;
use portcullis_server::mfa_keys::MfaKeysCommand;
use portcullis_server::{Config, Overrides, Running};
use secrecy::SecretString;
use serde_json::{Value, json};

/// A fresh Ed25519 private key file, as `openssl genpkey -algorithm ed25519` writes it.
fn key_file(dir: &std::path::Path, name: &str, seed: u8) -> std::path::PathBuf {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, pem.as_bytes()).unwrap();
    path
}

fn mfa_key(byte: u8) -> SecretString {
    SecretString::from(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

fn config(db: &ScratchDatabase, dir: &std::path::Path) -> Config {
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
    c
}

async fn start(config: &Config) -> anyhow::Result<Running> {
    start_with(config, None).await
}

async fn start_with(config: &Config, clock: Option<Arc<dyn portcullis_domain::Clock>>) -> anyhow::Result<Running> {
    let running = portcullis_server::start(
        config,
        Overrides {
            clock,
            no_signals: true,
        },
    )
    .await?;
    Ok(running)
}

fn serve(running: Running) -> (String, actix_web::dev::ServerHandle) {
    let base = format!("http://{}", running.addr);
    let handle = running.handle.clone();
    tokio::spawn(running.server);
    (base, handle)
}

async fn scratch() -> (ScratchDatabase, std::path::PathBuf) {
    let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = ScratchDatabase::create(&admin).await.unwrap();
    let dir = std::env::temp_dir().join(format!("portcullis-keys-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    (db, dir)
}

fn refusal(result: anyhow::Result<Running>) -> String {
    match result {
        Ok(_) => panic!("the start should have been refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn production_refuses_to_start_without_its_keys_and_development_generates_them() {
    let (db, dir) = scratch().await;
    let mut c = config(&db, &dir);
    let error = refusal(start(&c).await);
    assert!(
        error.contains("tokens.signing_key_file") && error.contains("mfa.encryption_key"),
        "{error}"
    );
    c.tokens.signing_key_file = Some(key_file(&dir, "signing.pem", 1));
    let error = refusal(start(&c).await);
    assert!(
        !error.contains("tokens.signing_key_file") && error.contains("mfa.encryption_key"),
        "{error}"
    );

    // The development profile generates what is missing, and keeps it in the database.
    let mut dev = config(&db, &dir);
    dev.server.profile = portcullis_server::config::Profile::Development;
    let (_, stop) = serve(start(&dev).await.unwrap());
    stop.stop(false).await;
    // And an explicit setting wins over the profile.
    dev.server.require_configured_keys = Some(true);
    assert!(start(&dev).await.is_err());
}

#[tokio::test]
async fn a_key_that_is_not_the_databases_refuses_the_start_naming_its_setting() {
    let (db, dir) = scratch().await;
    let mut c = config(&db, &dir);
    c.tokens.signing_key_file = Some(key_file(&dir, "signing.pem", 1));
    c.mfa.encryption_key = Some(mfa_key(1));
    let (_, stop) = serve(start(&c).await.unwrap());
    stop.stop(false).await;

    // Another MFA key: every TOTP secret would be unreadable.
    c.mfa.encryption_key = Some(mfa_key(2));
    let error = refusal(start(&c).await);
    assert!(
        error.contains("mfa.encryption_key") && error.contains("fingerprint"),
        "{error}"
    );
    assert!(
        !error.contains(&base64::engine::general_purpose::STANDARD.encode([2u8; 32])),
        "the key itself is never in the message"
    );
    c.mfa.encryption_key = Some(mfa_key(1));

    // Another signing key, without the old one listed: every token would be refused.
    let configured = c.tokens.signing_key_file.replace(key_file(&dir, "other.pem", 2));
    let error = refusal(start(&c).await);
    assert!(error.contains("tokens.signing_key_file"), "{error}");
    c.tokens.signing_key_file = configured;

    // A forgotten key in the development profile: the generated one is not the database's.
    let mut forgot = config(&db, &dir);
    forgot.server.profile = portcullis_server::config::Profile::Development;
    forgot.tokens.signing_key_file = c.tokens.signing_key_file.clone();
    let error = refusal(start(&forgot).await);
    assert!(error.contains("mfa.encryption_key"), "{error}");

    // A configured refresh key that differs from the generated one in use.
    c.tokens.refresh_key = Some(mfa_key(9));
    let error = refusal(start(&c).await);
    assert!(error.contains("tokens.refresh_key"), "{error}");
    c.tokens.refresh_key = None;
    let (_, stop) = serve(start(&c).await.unwrap());
    stop.stop(false).await;
}

async fn account_status(http: &reqwest::Client, base: &str, access: &str) -> u16 {
    let res = http
        .get(format!("{base}/v1/account"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

async fn signed_in(http: &reqwest::Client, base: &str, email: &str) -> String {
    let res = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({ "email": email, "password": "correct horse battery staple" }))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["data"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned()
}

async fn kids(http: &reqwest::Client, base: &str) -> Vec<String> {
    let jwks: Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn a_signing_key_rotates_across_two_nodes_without_a_401() {
    let (db, dir) = scratch().await;
    let http = reqwest::Client::new();
    let old = key_file(&dir, "old.pem", 1);
    let new = key_file(&dir, "new.pem", 2);
    let mut base = config(&db, &dir);
    base.mfa.encryption_key = Some(mfa_key(1));

    // Before: both nodes sign with the old key.
    base.tokens.signing_key_file = Some(old.clone());
    let (a, stop_a) = serve(start(&base).await.unwrap());
    let before = signed_in(&http, &a, "before@example.com").await;

    // Step 1, node by node: publish the next key (accepted, not signing).
    stop_a.stop(false).await;
    let mut step1 = config(&db, &dir);
    step1.mfa.encryption_key = Some(mfa_key(1));
    step1.tokens.signing_key_file = Some(old.clone());
    step1.tokens.next_signing_key_file = Some(new.clone());
    let (a, stop_a) = serve(start(&step1).await.unwrap());
    assert_eq!(
        kids(&http, &a).await.len(),
        2,
        "the next key is published before it signs"
    );
    let from_a = signed_in(&http, &a, "step1@example.com").await;

    // Step 2, node by node: the new key signs, the old one is still accepted. While the nodes
    // are mixed (a still on step 1, b on step 2), each accepts the other's tokens.
    let mut step2 = config(&db, &dir);
    step2.mfa.encryption_key = Some(mfa_key(1));
    step2.tokens.signing_key_file = Some(new.clone());
    step2.tokens.previous_public_key_files = vec![old.clone()];
    let (b, stop_b) = serve(start(&step2).await.unwrap());
    let from_b = signed_in(&http, &b, "step2@example.com").await;
    assert_eq!(kids(&http, &a).await, kids(&http, &b).await);
    for token in [&before, &from_a, &from_b] {
        assert_eq!(account_status(&http, &a, token).await, 200);
        assert_eq!(account_status(&http, &b, token).await, 200);
    }
    // A node restarted on step 1 after another moved to step 2 still starts.
    stop_a.stop(false).await;
    let (a, stop_a) = serve(start(&step1).await.unwrap());
    assert_eq!(account_status(&http, &a, &from_b).await, 200);
    stop_a.stop(false).await;
    let (a, stop_a) = serve(start(&step2).await.unwrap());
    assert_eq!(account_status(&http, &a, &from_a).await, 200);

    // Step 3, once the old key's tokens have expired: retire it. Only the new key is left,
    // and a node started with the old key alone is refused.
    stop_a.stop(false).await;
    stop_b.stop(false).await;
    let mut step3 = config(&db, &dir);
    step3.mfa.encryption_key = Some(mfa_key(1));
    step3.tokens.signing_key_file = Some(new.clone());
    let (a, stop_a) = serve(start(&step3).await.unwrap());
    assert_eq!(kids(&http, &a).await.len(), 1);
    assert_eq!(account_status(&http, &a, &from_b).await, 200);
    stop_a.stop(false).await;
    let error = refusal(start(&base).await);
    assert!(error.contains("tokens.signing_key_file"), "{error}");
}

async fn sql(db: &ScratchDatabase, statement: &str) {
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    let mut conn = diesel_async::AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(statement).execute(&mut conn).await.unwrap();
}

/// A database from before fingerprints, used with generated keys: a fresh key in their place is
/// refused (its TOTP secrets were sealed with the generated one), the generated key configured
/// is accepted.
#[tokio::test]
async fn an_upgraded_database_is_held_to_the_generated_keys_it_keeps() {
    let (db, dir) = scratch().await;
    let mut dev = config(&db, &dir);
    dev.server.profile = portcullis_server::config::Profile::Development;
    let (_, stop) = serve(start(&dev).await.unwrap());
    stop.stop(false).await;
    // As before fingerprints were kept.
    sql(&db, "DELETE FROM server_secrets WHERE name LIKE 'fingerprint:%'").await;

    let mut prod = config(&db, &dir);
    prod.tokens.signing_key_file = Some(key_file(&dir, "signing.pem", 1));
    prod.mfa.encryption_key = Some(mfa_key(7));
    let error = refusal(start(&prod).await);
    assert!(
        error.contains("mfa_encryption_key_v1"),
        "the message says how to read the key: {error}"
    );

    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    #[derive(diesel::QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key: String,
    }
    let mut conn = diesel_async::AsyncPgConnection::establish(db.url()).await.unwrap();
    let generated = diesel::sql_query(
        "SELECT encode(secret, 'base64') AS key FROM server_secrets WHERE name = 'mfa_encryption_key_v1'",
    )
    .get_result::<Key>(&mut conn)
    .await
    .unwrap();
    prod.mfa.encryption_key = Some(SecretString::from(generated.key));
    // The signing key is new too: without the generated one listed it is refused, with it listed
    // (after publishing) it starts.
    let error = refusal(start(&prod).await);
    assert!(error.contains("tokens.signing_key_file"), "{error}");
}

/// A node that signs with a key nobody published starts (its tokens are its own problem) but
/// cannot move the record: the correctly configured nodes still start afterwards.
#[tokio::test]
async fn an_unpublished_signing_key_does_not_move_the_record() {
    let (db, dir) = scratch().await;
    let old = key_file(&dir, "old.pem", 1);
    let stray = key_file(&dir, "stray.pem", 3);
    let mut good = config(&db, &dir);
    good.mfa.encryption_key = Some(mfa_key(1));
    good.tokens.signing_key_file = Some(old.clone());
    let (_, stop) = serve(start(&good).await.unwrap());
    stop.stop(false).await;

    let mut wrong = config(&db, &dir);
    wrong.mfa.encryption_key = Some(mfa_key(1));
    wrong.tokens.signing_key_file = Some(stray);
    wrong.tokens.previous_public_key_files = vec![old];
    let (_, stop) = serve(start(&wrong).await.unwrap());
    stop.stop(false).await;

    let (_, stop) = serve(start(&good).await.unwrap());
    stop.stop(false).await;
}

async fn start_at(config: &Config, clock: &Arc<ManualClock>) -> anyhow::Result<Running> {
    start_with(config, Some(clock.clone())).await
}

/// A node of the MFA rotation test: the shared signing key, MFA key `key`.
fn mfa_node(db: &ScratchDatabase, dir: &std::path::Path, signing: &Config, key: u8) -> Config {
    let mut c = config(db, dir);
    c.tokens.signing_key_file = signing.tokens.signing_key_file.clone();
    c.mfa.encryption_key = Some(mfa_key(key));
    c
}

fn totp_at(secret: &str, clock: &ManualClock) -> String {
    use portcullis_domain::Clock as _;
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(u64::try_from(clock.now().timestamp()).unwrap())
        .to_string()
}

async fn totp_login(http: &reqwest::Client, base: &str, email: &str, code: &str) -> (u16, Value) {
    let res = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({ "email": email, "password": "correct horse battery staple", "totp_code": code }))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn mfa_keys(db: &ScratchDatabase, c: &Config, command: MfaKeysCommand) -> anyhow::Result<(bool, String)> {
    let store =
        portcullis_postgres::PgStore::connect(&portcullis_postgres::PgSettings::new(db.url().to_owned())).unwrap();
    let keys = portcullis_server::keys::mfa_keys_for_operator(c, &store).await?;
    let mut out = Vec::new();
    let done = portcullis_server::mfa_keys::execute(&store, &keys, &OsRandom, &command, &mut out).await?;
    Ok((done, String::from_utf8(out).unwrap()))
}

/// A node's start-up key check alone (what `serve` runs before it listens).
async fn keys_at_start(db: &ScratchDatabase, c: &Config) -> anyhow::Result<()> {
    let store =
        portcullis_postgres::PgStore::connect(&portcullis_postgres::PgSettings::new(db.url().to_owned())).unwrap();
    portcullis_server::keys::load(c, &store, &OsRandom).await.map(drop)
}

/// The runbook's steps: the next key on every node, then the new key with the old one as
/// previous (secrets are sealed again in the background), then the old key removed. TOTP
/// logins work at every step, and removing the old key too early is refused at start.
#[tokio::test]
async fn the_mfa_key_rotates_and_old_secrets_are_sealed_again() {
    let (db, dir) = scratch().await;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let http = reqwest::Client::new();
    let mut c = config(&db, &dir);
    c.tokens.signing_key_file = Some(key_file(&dir, "signing.pem", 1));
    c.mfa.encryption_key = Some(mfa_key(1));
    let (base, stop) = serve(start_at(&c, &clock).await.unwrap());
    let access = signed_in(&http, &base, "ada@example.com").await;
    let enrolled: Value = http
        .post(format!("{base}/v1/account/mfa/totp"))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = enrolled["data"]["secret"].as_str().unwrap().to_owned();
    let res = http
        .post(format!("{base}/v1/account/mfa/totp/activate"))
        .bearer_auth(&access)
        .json(&json!({ "code": totp_at(&secret, &clock) }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    stop.stop(false).await;

    // Step 1: every node opens with the next key before any seals with it.
    c.mfa.next_encryption_key = Some(mfa_key(2));
    let (_, stop) = serve(start_at(&c, &clock).await.unwrap());
    stop.stop(false).await;

    // A node that seals with the new key before the old one is listed as previous: refused.
    let skipped = mfa_node(&db, &dir, &c, 2);
    let error = refusal(start_at(&skipped, &clock).await);
    assert!(error.contains("mfa.encryption_key"), "{error}");
    // A key nobody published as next does not move the record (so it re-seals nothing).
    let mut unpublished = mfa_node(&db, &dir, &c, 3);
    unpublished.mfa.previous_encryption_keys = vec![mfa_key(1)];
    keys_at_start(&db, &unpublished).await.unwrap();
    let status = mfa_keys(&db, &unpublished, MfaKeysCommand::Reseal).await;
    assert!(status.is_err(), "no reseal under an unrecorded key");

    // Step 2, the start-up check alone: the record moves to the published key, the old one is
    // retiring. Counting changes nothing.
    let mut rotated = skipped;
    rotated.mfa.previous_encryption_keys = vec![mfa_key(1)];
    keys_at_start(&db, &rotated).await.unwrap();
    let (done, report) = mfa_keys(&db, &rotated, MfaKeysCommand::Status).await.unwrap();
    assert!(!done && report.contains("previous keys: 1"), "{report}");
    // Dropping the old key now would strand ada's secret: refused, naming the setting.
    let early = mfa_node(&db, &dir, &c, 2);
    let error = refusal(start_at(&early, &clock).await);
    assert!(error.contains("mfa.previous_encryption_key_files"), "{error}");
    // A node still on step 1 starts: the new key is its next one.
    let (_, stop) = serve(start_at(&c, &clock).await.unwrap());
    stop.stop(false).await;

    // Serving with the previous key listed: logins work and the background pass reseals.
    clock.advance(chrono::Duration::seconds(30));
    let (base, stop) = serve(start_at(&rotated, &clock).await.unwrap());
    let (status, body) = totp_login(&http, &base, "ada@example.com", &totp_at(&secret, &clock)).await;
    assert_eq!(status, 200, "{body}");
    let mut waited = 0;
    loop {
        let (done, report) = mfa_keys(&db, &rotated, MfaKeysCommand::Status).await.unwrap();
        if done {
            assert!(report.contains("current key: 1"), "{report}");
            break;
        }
        waited += 1;
        assert!(waited < 100, "the background pass did not reseal: {report}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.stop(false).await;
    // The background pass never forgets the retired key: the operator's reseal does.
    let error = refusal(start_at(&early, &clock).await);
    assert!(error.contains("mfa.previous_encryption_key_files"), "{error}");
    let (done, report) = mfa_keys(&db, &rotated, MfaKeysCommand::Reseal).await.unwrap();
    assert!(done && report.contains("may be emptied"), "{report}");

    // Step 3: the old key removed; ada still logs in.
    clock.advance(chrono::Duration::seconds(30));
    let (base, stop) = serve(start_at(&early, &clock).await.unwrap());
    let (status, body) = totp_login(&http, &base, "ada@example.com", &totp_at(&secret, &clock)).await;
    assert_eq!(status, 200, "{body}");
    stop.stop(false).await;
}
