//! Register, login, session and account over HTTP against a real database.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use common::{PASSWORD, error_code, read, s, spawn, spawn_without_verification};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_returns_201_with_a_token_pair_and_the_user() {
    let ctx = spawn_without_verification().await;
    let data = ctx.register("  Ada@Example.com ", Some("ada")).await;
    assert!(s(&data, "access_token").split('.').count() == 3);
    assert!(s(&data, "refresh_token").starts_with("pcr_"));
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 900);
    let user = &data["user"];
    assert_eq!(user["email"], "Ada@Example.com", "trimmed, case kept");
    assert_eq!(user["username"], "ada");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["tenant"]["slug"], "default");
    let id = uuid::Uuid::parse_str(s(user, "id")).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(chrono::DateTime::parse_from_rfc3339(s(user, "created_at")).is_ok());
}

#[tokio::test]
async fn duplicate_email_and_username_conflict_case_insensitively() {
    let ctx = spawn_without_verification().await;
    ctx.register("ada@example.com", Some("Ada")).await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "ADA@example.COM", "password": PASSWORD }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "email_taken");
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "bob@example.com", "password": PASSWORD, "username": "aDA" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error_code(&body), "username_taken");
}

#[tokio::test]
async fn unicode_look_alike_addresses_and_usernames_are_one() {
    // A pattern that admits letters of every script, so usernames can be look-alikes too.
    let app = portcullis_testkit::TestApp::builder()
        .database_from_env()
        .configure(|c| c.usernames.pattern = r"^[\p{L}\p{N}_]{3,32}$".into())
        .spawn()
        .await
        .unwrap();
    let ctx = common::Ctx::new(app, true);
    let ada = ctx.register("kelvin@example.com", Some("kelvin")).await;

    // Registering the address spelt with the KELVIN SIGN is registering the same address: the
    // owner is told, and no second account appears.
    let seen = ctx.mail_count("kelvin@example.com").await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "\u{212A}elvin@example.com", "password": "another passphrase entirely" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let notice = ctx.next_mail("kelvin@example.com", seen).await;
    assert!(notice.subject().contains("Sign-up attempt"), "{}", notice.subject());
    assert_eq!(
        ctx.mail_count("\u{212A}elvin@example.com").await,
        0,
        "nothing went to the look-alike"
    );

    // Logging in by a look-alike of the address or the username is logging in to the account.
    for login in ["\u{212A}ELVIN@EXAMPLE.COM", "ＫＥＬＶＩＮ", "\u{212A}elvin"] {
        let (status, body) = ctx.login(login, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{login}: {body}");
        assert_eq!(body["data"]["user"]["id"], ada["user"]["id"], "{login}");
    }
    // Another account cannot take a look-alike of the username.
    let bob = ctx.register("bob@example.com", None).await;
    let res = ctx
        .http
        .patch(ctx.app.url("/v1/account"))
        .bearer_auth(s(&bob, "access_token"))
        .json(&json!({ "username": "\u{212A}ELVIN" }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "username_taken");
}

#[tokio::test]
async fn validation_reports_every_field_with_codes() {
    let ctx = spawn().await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "not-an-email", "password": "short", "username": "a b" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(&body), "validation_failed");
    let details = body["error"]["details"].as_array().unwrap();
    let codes: Vec<(&str, &str)> = details.iter().map(|d| (s(d, "field"), s(d, "code"))).collect();
    assert_eq!(
        codes,
        vec![("email", "invalid"), ("password", "too_short"), ("username", "invalid")]
    );
    assert!(details.iter().all(|d| d["message"].is_string()));

    let (status, body) = read(ctx.post("/v1/auth/register", json!({})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let codes: Vec<(&str, &str)> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (s(d, "field"), s(d, "code")))
        .collect();
    assert_eq!(codes, vec![("email", "required"), ("password", "required")]);

    let long = "x".repeat(129);
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "a@example.com", "password": long }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["code"], "too_long");
}

#[tokio::test]
async fn rejected_registration_writes_nothing() {
    let ctx = spawn().await;
    let (status, _) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": "short" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The address is still free.
    ctx.register("ada@example.com", None).await;
}

#[tokio::test]
async fn login_by_email_username_or_login_field_and_form_bodies() {
    let ctx = spawn_without_verification().await;
    ctx.register("ada@example.com", Some("ada")).await;
    for login in ["ada@example.com", "ADA@EXAMPLE.COM", "ada", "Ada"] {
        let (status, body) = ctx.login(login, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{login}: {body}");
        assert_eq!(body["data"]["user"]["email"], "ada@example.com");
    }
    let (status, _) = read(
        ctx.post(
            "/v1/auth/login",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = read(
        ctx.post("/v1/auth/login", json!({ "username": "ada", "password": PASSWORD }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = read(
        ctx.post_form("/v1/auth/login", &[("login", "ada"), ("password", PASSWORD)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = read(
        ctx.post_form(
            "/v1/auth/register",
            &[
                ("email", "bob@example.com"),
                ("password", PASSWORD),
                ("username", "bob"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["user"]["username"], "bob");
    // HTML forms send empty optional fields: an empty username is no username.
    let (status, body) = read(
        ctx.post_form(
            "/v1/auth/register",
            &[("email", "cy@example.com"), ("password", PASSWORD), ("username", "")],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["data"]["user"]["username"].is_null());
}

#[tokio::test]
async fn unknown_account_and_wrong_password_are_identical() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", Some("ada")).await;
    let wrong = ctx.login("ada@example.com", "wrong password!").await;
    let unknown = ctx.login("nobody@example.com", "wrong password!").await;
    let unknown_name = ctx.login("nobody", "wrong password!").await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&wrong.1), "invalid_credentials");
    assert_eq!(wrong, unknown, "status and body are identical");
    assert_eq!(wrong, unknown_name);
}

#[tokio::test]
async fn over_long_password_at_login_is_refused_before_hashing() {
    let ctx = spawn().await;
    let (status, body) = ctx.login("ada@example.com", &"x".repeat(10_000)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["code"], "too_long");
    // A short one is still checked (policy minimums apply only to new passwords).
    let (status, _) = ctx.login("ada@example.com", "x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn session_and_account_describe_the_caller() {
    let ctx = spawn_without_verification().await;
    let data = ctx.register("ada@example.com", Some("ada")).await;
    let token = s(&data, "access_token");
    let (status, body) = read(ctx.get("/v1/auth/session", Some(token)).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let session = &body["data"]["session"];
    assert_eq!(session["ip"], "127.0.0.1");
    assert_eq!(session["user_agent"], "portcullis-tests");
    assert_eq!(session["amr"], json!(["pwd"]));
    assert_eq!(body["data"]["user"]["id"], data["user"]["id"]);
    let (status, body) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], data["user"]);
}

#[tokio::test]
async fn tenants_come_from_header_or_body_and_unknown_ones_are_404() {
    let ctx = spawn_without_verification().await;
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/register"))
        .header("X-Tenant", "nope")
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "tenant_not_found");
    let (status, body) = read(
        ctx.post(
            "/v1/auth/login",
            json!({ "login": "a@example.com", "password": PASSWORD, "tenant_slug": "nope" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // The default tenant by name works like no tenant at all.
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/register"))
        .header("X-Tenant", "default")
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_fields_never_set_state() {
    let ctx = spawn_without_verification().await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": PASSWORD, "email_verified": false,
                    "tenant_id": "11111111-1111-1111-1111-111111111111", "id": "x", "role": "admin" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["user"]["tenant"]["slug"], "default");
    // Registration with verification off marks the address verified; the client's false is ignored
    // just as a true would be (the policy decides, never the request).
    assert_eq!(body["data"]["user"]["email_verified"], true);
    assert_ne!(body["data"]["user"]["id"], "x");
}

#[derive(diesel::QueryableByName)]
struct StoredHash {
    #[diesel(sql_type = diesel::sql_types::Text)]
    password_hash: String,
}

#[tokio::test]
async fn login_upgrades_a_hash_made_with_other_parameters() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use portcullis_argon2::{Argon2Hasher, Argon2Settings};
    use portcullis_domain::{HashOwner, PasswordHasher, PasswordPolicy};

    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    // As if the account had been created under older, different parameters.
    let old = Argon2Hasher::start(Argon2Settings {
        m_cost_kib: 2048,
        t_cost: 1,
        threads: 1,
        ..Argon2Settings::default()
    })
    .unwrap();
    let old_hash = old
        .hash(
            &PasswordPolicy::default().parse(PASSWORD).unwrap(),
            &HashOwner::client(None),
        )
        .await
        .unwrap();
    assert!(old_hash.contains("m=2048"));
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    diesel::sql_query("UPDATE accounts SET password_hash = $1")
        .bind::<diesel::sql_types::Text, _>(&old_hash)
        .execute(&mut conn)
        .await
        .unwrap();

    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: StoredHash = diesel::sql_query("SELECT password_hash FROM accounts")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "{}",
        stored.password_hash
    );
    // The upgraded hash still verifies.
    let (status, _) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[derive(diesel::QueryableByName)]
struct StoredPassword {
    #[diesel(sql_type = diesel::sql_types::Text)]
    password_hash: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    password_nfkc: bool,
}

#[tokio::test]
async fn passwords_are_compared_in_nfkc_and_hashes_of_the_typed_form_keep_working() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use portcullis_argon2::{Argon2Hasher, Argon2Settings};
    use portcullis_domain::{HashOwner, PasswordHasher, PasswordPolicy};

    // Full-width letters: the same password as its ASCII spelling once normalised.
    const TYPED: &str = "ｐｌａｉｎ ｓａｉｌｉｎｇ ｈｏｒｓｅ";
    const PLAIN: &str = "plain sailing horse";
    let ctx = spawn_without_verification().await;
    let res = ctx
        .post(
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": TYPED }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        ctx.login("ada@example.com", PLAIN).await.0,
        StatusCode::OK,
        "one password, two spellings"
    );
    assert_eq!(ctx.login("ada@example.com", TYPED).await.0, StatusCode::OK);

    // An account whose hash was made before passwords were normalised: of the typed form.
    let hasher = Argon2Hasher::start(Argon2Settings {
        m_cost_kib: 1024,
        t_cost: 1,
        threads: 1,
        ..Argon2Settings::default()
    })
    .unwrap();
    let typed = PasswordPolicy::default().parse(TYPED).unwrap().as_typed().unwrap();
    let typed_hash = hasher.hash(&typed, &HashOwner::client(None)).await.unwrap();
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    let set = |normalized: bool| {
        diesel::sql_query("UPDATE accounts SET password_hash = $1, password_nfkc = $2")
            .bind::<diesel::sql_types::Text, _>(typed_hash.clone())
            .bind::<diesel::sql_types::Bool, _>(normalized)
    };
    // Marked as a current hash, the typed form is never tried: one guess per request.
    set(true).execute(&mut conn).await.unwrap();
    assert_eq!(ctx.login("ada@example.com", TYPED).await.0, StatusCode::UNAUTHORIZED);
    // Marked as made before normalisation, the typed form opens it, and the hash is upgraded.
    set(false).execute(&mut conn).await.unwrap();
    assert_eq!(ctx.login("ada@example.com", PLAIN).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = ctx.login("ada@example.com", TYPED).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: StoredPassword = diesel::sql_query("SELECT password_hash, password_nfkc FROM accounts")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert!(stored.password_nfkc && stored.password_hash != typed_hash);
    assert_eq!(
        ctx.login("ada@example.com", PLAIN).await.0,
        StatusCode::OK,
        "upgraded to the NFKC form"
    );
}

/// The one validation detail of a 422.
fn only_detail(body: &serde_json::Value) -> (&str, &str) {
    assert_eq!(error_code(body), "validation_failed", "{body}");
    let details = body["error"]["details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{body}");
    (s(&details[0], "field"), s(&details[0], "code"))
}

#[tokio::test]
async fn common_passwords_are_refused_at_register_change_and_reset() {
    let ctx = spawn().await;
    // Register: 422 before anything is stored or mailed.
    for common in ["Password1", "qwertyuiop", "ＩＬＯＶＥＹＯＵ１"] {
        let (status, body) = read(
            ctx.post(
                "/v1/auth/register",
                json!({ "email": "ada@example.com", "password": common }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{common}: {body}");
        assert_eq!(only_detail(&body), ("password", "too_common"), "{common}");
    }
    assert_eq!(ctx.mail_count("ada@example.com").await, 0, "nothing was registered");
    // A long passphrase of ordinary words is fine.
    let ada = ctx.register("ada@example.com", None).await;
    let token = s(&ada, "access_token").to_owned();

    // Change.
    let change = |new: &'static str| {
        let token = token.clone();
        let ctx = &ctx;
        async move {
            read(
                ctx.post_bearer(
                    "/v1/account/password",
                    &token,
                    json!({ "current_password": PASSWORD, "new_password": new }),
                )
                .await,
            )
            .await
        }
    };
    let (status, body) = change("trustno1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(only_detail(&body), ("new_password", "too_common"));
    let (status, body) = change("plain words make a fine passphrase").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Reset: refused without spending the code, which then sets an acceptable password.
    let seen = ctx.mail_count("ada@example.com").await;
    ctx.post("/v1/auth/password/forgot", json!({ "email": "ada@example.com" }))
        .await;
    let code = ctx.next_mail("ada@example.com", seen).await.code().unwrap();
    let reset = |new: &'static str| {
        let (ctx, code) = (&ctx, code.clone());
        async move {
            read(
                ctx.post(
                    "/v1/auth/password/reset",
                    json!({ "email": "ada@example.com", "code": code, "new_password": new }),
                )
                .await,
            )
            .await
        }
    };
    let (status, body) = reset("letmein!").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(only_detail(&body), ("new_password", "too_common"));
    let (status, body) = reset("another plain passphrase of words").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ctx.login("ada@example.com", "another plain passphrase of words")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn breached_passwords_are_refused_when_the_breach_check_is_on_and_it_fails_open() {
    use portcullis_testkit::pwned::{PwnedMode, PwnedStub};
    let stub = PwnedStub::start(&[("zebra crossing at midnight", 4)]).unwrap();
    let url = stub.range_url();
    let app = portcullis_testkit::TestApp::builder()
        .database_from_env()
        .configure(move |c| {
            c.passwords.pwned_check = true;
            c.passwords.pwned_range_url = url;
            c.passwords.pwned_timeout_ms = 500;
        })
        .spawn()
        .await
        .unwrap();
    let ctx = common::Ctx::new(app, true);
    let register = || {
        ctx.post(
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": "zebra crossing at midnight" }),
        )
    };
    let (status, body) = read(register().await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(only_detail(&body), ("password", "too_common"));
    // The service down: the password is let through rather than sign-ups stopping.
    stub.set_mode(PwnedMode::Down);
    let (status, body) = read(register().await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}
