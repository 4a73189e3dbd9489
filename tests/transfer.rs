//! `portcullis export` / `import`: an account made on SQLite moves to PostgreSQL and back, and
//! keeps working — its password, its session (the refresh token and an access token issued
//! before the move), its tenant's records — because every table moves, server secrets too.

#![allow(clippy::unwrap_used)]

use portcullis_server::transfer::{export, import};
use portcullis_testkit::TestApp;
use serde_json::{Value, json};

const ADA: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

async fn register(app: &TestApp) -> Value {
    app.post(
        "/v1/auth/register",
        &json!({ "email": ADA, "password": PASSWORD, "username": "ada" }),
    )
    .await
    .unwrap();
    let code = app.nth_mail_to(ADA, 1).await.unwrap().code().unwrap();
    app.post("/v1/auth/verify-email", &json!({ "email": ADA, "code": code }))
        .await
        .unwrap()
}

async fn dump(app: &TestApp) -> (u64, Vec<u8>) {
    let mut out = Vec::new();
    let rows = export(app.database(), &mut out).await.unwrap();
    (rows, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_moves_from_sqlite_to_postgres_and_back_and_keeps_working() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL names a PostgreSQL server");
    let sqlite = TestApp::spawn().await.unwrap();
    let pair = register(&sqlite).await;
    let (rows, bytes) = dump(&sqlite).await;
    assert!(
        rows >= 5,
        "tenant, secrets, account, session, refresh token, events: {rows}"
    );
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.lines().next().unwrap().contains("portcullis-dump"), "{text}");
    assert!(!text.contains(PASSWORD), "no password in the clear");

    // Into a fresh PostgreSQL database, then a server on it.
    let scratch = portcullis_postgres::scratch::ScratchDatabase::create(&admin_url)
        .await
        .unwrap();
    // A database whose sessions default to another time zone: the dump still has UTC times, the
    // only ones SQLite can compare as text (diesel's connections set UTC, and the export sets
    // it again for its own transaction).
    {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let mut conn = AsyncPgConnection::establish(scratch.url()).await.unwrap();
        let name = scratch.url().rsplit('/').next().unwrap().to_owned();
        diesel::sql_query(format!("ALTER DATABASE \"{name}\" SET timezone = 'Asia/Tokyo'"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    {
        let fresh = TestApp::builder()
            .existing_database(scratch.url())
            .spawn()
            .await
            .unwrap();
        // A migrated database has its built-in tenant and this server's own secrets: the
        // dump's replace them.
        let loaded = import(fresh.database(), &mut bytes.as_slice()).await.unwrap();
        assert_eq!(loaded, rows);
        // Importing twice is refused, and changes nothing.
        let again = import(fresh.database(), &mut bytes.as_slice()).await.unwrap_err();
        assert!(again.to_string().contains("accounts already"), "{again}");
    }
    let postgres = TestApp::builder()
        .existing_database(scratch.url())
        .spawn()
        .await
        .unwrap();
    let me = postgres
        .get("/v1/account", pair["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(me["email"], ADA, "{me}");
    let refreshed = postgres
        .post("/v1/auth/refresh", &json!({ "refresh_token": pair["refresh_token"] }))
        .await
        .unwrap();
    assert!(refreshed["access_token"].is_string());
    let login = postgres
        .post("/v1/auth/login", &json!({ "login": "ada", "password": PASSWORD }))
        .await
        .unwrap();
    assert!(login["access_token"].is_string());

    // And back, into a new SQLite file: everything PostgreSQL holds now loads.
    let (rows_back, bytes_back) = dump(&postgres).await;
    assert!(
        !String::from_utf8_lossy(&bytes_back).contains("+09:00"),
        "times leave PostgreSQL in UTC"
    );
    assert!(
        rows_back > rows,
        "two more sessions and their events: {rows_back} vs {rows}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = format!("sqlite://{}", dir.path().join("back.db").display());
    {
        let fresh = TestApp::builder().existing_database(&file).spawn().await.unwrap();
        assert_eq!(
            import(fresh.database(), &mut bytes_back.as_slice()).await.unwrap(),
            rows_back
        );
    }
    let back = TestApp::builder().existing_database(&file).spawn().await.unwrap();
    let me = back
        .get("/v1/account", login["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(me["username"], "ada", "{me}");
    drop(postgres);
}

#[tokio::test]
async fn a_file_that_is_no_dump_loads_nothing() {
    let app = TestApp::spawn().await.unwrap();
    for bad in [
        "",
        "{\"format\":\"something\"}\n",
        "{\"format\":\"portcullis-dump\",\"version\":1}\n{\"table\":\"nope\",\"row\":{}}\n",
    ] {
        assert!(import(app.database(), &mut bad.as_bytes()).await.is_err(), "{bad:?}");
    }
    let (rows, _) = dump(&app).await;
    assert!(rows >= 1, "the built-in tenant is still there");
}
