//! TOTP second factor and recovery codes over HTTP, on the app's settable clock: step
//! boundaries, skew, replays, concurrent submissions, lockout, recovery codes, disabling.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{Ctx, PASSWORD, error_code, read, s, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn code_at(secret: &str, at: DateTime<Utc>) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(u64::try_from(at.timestamp()).unwrap()).to_string()
}

/// Moves the app's clock to the start of the next 30 s step, so a fresh code is usable.
fn next_step(ctx: &Ctx) {
    let now = ctx.app.now();
    let into = now.timestamp().rem_euclid(30);
    ctx.app.clock.advance(Duration::seconds(30 - into));
}

struct Enrolled {
    pair: Value,
    secret: String,
    recovery: Vec<String>,
}

async fn enrolled(ctx: &Ctx, email: &str) -> Enrolled {
    let pair = ctx.register(email, None).await;
    let token = s(&pair, "access_token").to_owned();
    let (status, body) = read(ctx.post_bearer("/v1/account/mfa/totp", &token, json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = s(&body["data"], "secret").to_owned();
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/mfa/totp/activate",
            &token,
            json!({ "code": code_at(&secret, ctx.app.now()) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery = body["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // The activation used this step.
    next_step(ctx);
    Enrolled { pair, secret, recovery }
}

async fn login_with(ctx: &Ctx, email: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({ "login": email, "password": PASSWORD });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    read(ctx.post("/v1/auth/login", body).await).await
}

fn amr(pair: &Value) -> Value {
    use base64::Engine as _;
    let claims = s(pair, "access_token").split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["amr"].clone()
}

#[tokio::test]
async fn enrolment_gives_a_secret_uri_and_qr_and_activation_gives_ten_recovery_codes() {
    let ctx = spawn().await;
    let pair = ctx.register("ada@example.com", None).await;
    let token = s(&pair, "access_token");
    let (status, body) = read(ctx.post_bearer("/v1/account/mfa/totp", token, json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    let secret = s(data, "secret");
    assert_eq!(
        totp_rs::Secret::try_from_base32(secret)
            .unwrap()
            .as_bytes()
            .to_vec()
            .len(),
        20,
        "160 bits"
    );
    let uri = s(data, "otpauth_uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(
        uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Portcullis"),
        "{uri}"
    );
    assert!(s(data, "qr_svg").contains("<svg"));

    // Not enabled until a code confirms it.
    let (_, me) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(me["data"]["mfa_enabled"], false);
    let (status, body) = read(
        ctx.post_bearer("/v1/account/mfa/totp/activate", token, json!({ "code": "000000" }))
            .await,
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_code"));
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/mfa/totp/activate",
            token,
            json!({ "code": code_at(secret, ctx.app.now()) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes = body["data"]["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let (_, me) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(me["data"]["mfa_enabled"], true);
    let (status, body) = read(ctx.post_bearer("/v1/account/mfa/totp", token, json!({})).await).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "mfa_already_enabled")
    );
}

#[tokio::test]
async fn login_needs_the_second_factor_and_a_step_is_accepted_once() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let (status, body) = login_with(&ctx, "ada@example.com", json!({})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "mfa_required"));
    // The password comes first: a wrong one is the usual 401, code or not.
    let (status, body) = read(
        ctx.post(
            "/v1/auth/login",
            json!({ "login": "ada@example.com", "password": "wrong password", "totp_code": "123456" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    let code = code_at(&e.secret, ctx.app.now());
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": code })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(amr(&body["data"]), json!(["pwd", "otp"]));
    // The same code again, in its step or the next: a replay, and the owner is told.
    let seen = ctx.mail_count("ada@example.com").await;
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": code })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_code"));
    let notice = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(
        notice.subject(),
        "A used sign-in code was tried on your Portcullis account"
    );
    assert!(
        notice.token().is_none() && notice.code().is_none(),
        "a notice carries no secret"
    );
    ctx.app.clock.advance(Duration::seconds(30));
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": code })).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an older step after a newer one was accepted"
    );
    let fresh = code_at(&e.secret, ctx.app.now());
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": fresh })).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn codes_one_step_off_are_accepted_and_two_steps_off_are_not() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    // Two steps ahead of the clock (a phone running fast) is too far.
    let ahead = code_at(&e.secret, ctx.app.now() + Duration::seconds(60));
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": ahead })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // One step ahead is fine.
    let ahead = code_at(&e.secret, ctx.app.now() + Duration::seconds(30));
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": ahead })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One step behind (typed just before the boundary), two steps later.
    ctx.app.clock.advance(Duration::seconds(90));
    let behind = code_at(&e.secret, ctx.app.now() - Duration::seconds(30));
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": behind })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn ten_concurrent_submissions_of_one_code_succeed_exactly_once() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let code = code_at(&e.secret, ctx.app.now());
    let attempts = (0..10).map(|_| login_with(&ctx, "ada@example.com", json!({ "totp_code": code.clone() })));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    // The others are replays (handed back, so they lock nothing), or met a lock that counting
    // them in had set for a moment.
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(_, b)| ["invalid_code", "mfa_locked"].contains(&error_code(b))),
        "{answers:?}"
    );
    next_step(&ctx);
    let fresh = code_at(&e.secret, ctx.app.now());
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": fresh })).await;
    assert_eq!(status, StatusCode::OK, "not left locked: {body}");
}

#[tokio::test]
async fn concurrent_wrong_codes_cannot_slip_past_the_lock() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let right = code_at(&e.secret, ctx.app.now());
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let attempts = (0..20).map(|_| login_with(&ctx, "ada@example.com", json!({ "totp_code": wrong })));
    let answers = futures::future::join_all(attempts).await;
    let checked = answers.iter().filter(|(_, b)| error_code(b) == "invalid_code").count();
    let locked = answers.iter().filter(|(_, b)| error_code(b) == "mfa_locked").count();
    assert_eq!(
        (checked, locked),
        (5, 15),
        "only five guesses are ever checked: {answers:?}"
    );
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": right })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "still locked for the right code");
}

#[tokio::test]
async fn five_wrong_codes_lock_the_second_factor_for_fifteen_minutes() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let right = code_at(&e.secret, ctx.app.now());
    let wrong = if right == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": wrong })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let res = ctx
        .post(
            "/v1/auth/login",
            json!({ "login": "ada@example.com", "password": PASSWORD, "totp_code": right }),
        )
        .await;
    let retry_after: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "mfa_locked")
    );
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // Recovery codes are locked out too.
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": e.recovery[0] })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    ctx.app.clock.advance(Duration::minutes(15));
    next_step(&ctx);
    let (status, body) = login_with(
        &ctx,
        "ada@example.com",
        json!({ "totp_code": code_at(&e.secret, ctx.app.now()) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn recovery_codes_work_once_and_regenerating_kills_the_old_set() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let (status, body) = login_with(
        &ctx,
        "ada@example.com",
        json!({ "recovery_code": e.recovery[3].to_lowercase() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(amr(&body["data"]), json!(["pwd", "recovery"]));
    let (status, body) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": e.recovery[3] })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_code"));

    let token = s(&e.pair, "access_token");
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/mfa/recovery-codes",
            token,
            json!({ "code": code_at(&e.secret, ctx.app.now()) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh: Vec<String> = body["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": e.recovery[0] })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old set is dead");
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": fresh[0] })).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn disabling_needs_password_and_a_code_destroys_the_secret_and_ends_other_sessions() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let (_, other) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": e.recovery[0] })).await;
    let token = s(&e.pair, "access_token");
    let disable = async |body: Value| read(ctx.post_bearer("/v1/account/mfa/totp/disable", token, body).await).await;
    let (status, _) = disable(json!({ "current_password": PASSWORD })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = disable(json!({ "current_password": "wrong password", "recovery_code": e.recovery[1] })).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let (status, body) = disable(json!({ "current_password": PASSWORD, "code": "000001" })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "invalid_code"));
    let (status, body) =
        disable(json!({ "current_password": PASSWORD, "code": code_at(&e.secret, ctx.app.now()) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked_sessions"], 1);
    assert_eq!(
        ctx.get("/v1/account", Some(s(&other["data"], "access_token")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (_, me) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(me["data"]["mfa_enabled"], false);
    let (status, _) = login_with(&ctx, "ada@example.com", json!({})).await;
    assert_eq!(status, StatusCode::OK, "no second factor any more");
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": e.recovery[2] })).await;
    assert_eq!(status, StatusCode::OK, "codes are ignored without a second factor");
    let (status, body) = disable(json!({ "current_password": PASSWORD, "code": "123456" })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "mfa_not_enabled"));
}

#[tokio::test]
async fn changing_the_password_or_email_needs_the_second_factor_when_enabled() {
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let token = s(&e.pair, "access_token");
    let change = json!({ "current_password": PASSWORD, "new_password": "another long passphrase" });
    let (status, body) = read(ctx.post_bearer("/v1/account/password", token, change.clone()).await).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "mfa_required"));
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/email",
            token,
            json!({ "new_email": "new@example.com", "current_password": PASSWORD, "totp_code": "000000" }),
        )
        .await,
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_code"));
    let mut with_code = change;
    with_code["totp_code"] = json!(code_at(&e.secret, ctx.app.now()));
    let (status, body) = read(ctx.post_bearer("/v1/account/password", token, with_code).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[derive(diesel::QueryableByName)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    bytes: Vec<u8>,
}

#[tokio::test]
async fn secrets_are_encrypted_and_recovery_codes_hashed_at_rest() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let ctx = spawn().await;
    let e = enrolled(&ctx, "ada@example.com").await;
    let raw = totp_rs::Secret::try_from_base32(&e.secret).unwrap().as_bytes().to_vec();
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    let stored: Vec<Stored> = diesel::sql_query(
        "SELECT secret_encrypted AS bytes FROM mfa_totp UNION ALL SELECT code_hash FROM mfa_recovery_codes",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(stored.len(), 11);
    for row in &stored {
        assert!(!row.bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
        for code in &e.recovery {
            let plain = code.replace('-', "");
            assert!(!row.bytes.windows(plain.len()).any(|w| w == plain.as_bytes()));
        }
    }
}

#[tokio::test]
async fn a_login_the_new_ip_policy_refuses_does_not_spend_the_recovery_code() {
    let app = portcullis_testkit::TestApp::builder()
        .database_from_env()
        .configure(|c| c.login.new_ip_policy = portcullis_server::config::NewIpPolicyConfig::Require)
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    let e = enrolled(&ctx, "ada@example.com").await;
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let login = || async {
        let body = json!({ "login": "ada@example.com", "password": PASSWORD, "recovery_code": e.recovery[0] });
        read(
            elsewhere
                .post(ctx.app.url("/v1/auth/login"))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let seen = ctx.mail_count("ada@example.com").await;
    let (status, body) = login().await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "ip_authorization_required")
    );
    let mail = ctx.next_mail("ada@example.com", seen).await;
    let (status, _) = read(
        ctx.post("/v1/auth/authorize-ip", json!({ "token": mail.token().unwrap() }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The same recovery code still works, once.
    let (status, body) = login().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(amr(&body["data"]), json!(["pwd", "recovery"]));
    let (status, _) = login().await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A code that is not the current one (nor a neighbour's).
fn wrong_code(secret: &str, ctx: &Ctx) -> String {
    let right = code_at(secret, ctx.app.now());
    if right == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

#[tokio::test]
async fn locks_that_keep_coming_are_told_to_the_owner_once() {
    let ctx = spawn().await;
    let ada = enrolled(&ctx, "ada@example.com").await;
    let locked_notices = || async {
        ctx.app.mail_settled().await.unwrap();
        ctx.app
            .mail
            .received()
            .iter()
            .filter(|m| m.subject().contains("keep being locked"))
            .count()
    };
    let lock_once = || async {
        for _ in 0..5 {
            let (status, _) = login_with(
                &ctx,
                "ada@example.com",
                json!({ "totp_code": wrong_code(&ada.secret, &ctx) }),
            )
            .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, body) = login_with(&ctx, "ada@example.com", json!({ "totp_code": "000000" })).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::TOO_MANY_REQUESTS, "mfa_locked")
        );
        ctx.app.clock.advance(Duration::minutes(16));
    };
    // One lock is a mistyping owner or a guess; nobody is mailed.
    lock_once().await;
    assert_eq!(locked_notices().await, 0);
    // The second in a row means someone with the password keeps guessing: the owner is told.
    lock_once().await;
    assert_eq!(locked_notices().await, 1);
    let notice = ctx
        .app
        .mail
        .received()
        .into_iter()
        .find(|m| m.subject().contains("keep being locked"))
        .unwrap();
    assert_eq!(notice.to, vec!["ada@example.com"]);
    assert!(
        notice.code().is_none() && notice.token().is_none(),
        "a notice carries no secret"
    );
    // Once per streak: a third lock mails nothing more...
    lock_once().await;
    assert_eq!(locked_notices().await, 1);
    // ...and a right code ends the streak, so the next run of locks is told again.
    next_step(&ctx);
    let (status, body) = login_with(
        &ctx,
        "ada@example.com",
        json!({ "totp_code": code_at(&ada.secret, ctx.app.now()) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    lock_once().await;
    lock_once().await;
    assert_eq!(locked_notices().await, 2);
    drop(ada.pair);
}

#[tokio::test]
async fn a_recovery_code_spent_while_disabling_never_ends_in_a_server_error() {
    let ctx = spawn().await;
    for round in 0..4 {
        let email = format!("ada{round}@example.com");
        let ada = enrolled(&ctx, &email).await;
        let token = s(&ada.pair, "access_token").to_owned();
        // Disable with one recovery code while logins spend the others (and the same one).
        let disable = ctx.post_bearer(
            "/v1/account/mfa/totp/disable",
            &token,
            json!({ "current_password": PASSWORD, "recovery_code": ada.recovery[0] }),
        );
        let logins = ada.recovery.iter().take(6).map(|code| {
            let ctx = &ctx;
            let email = email.clone();
            async move { login_with(ctx, &email, json!({ "recovery_code": code })).await }
        });
        let (disabled, logins) = tokio::join!(disable, futures::future::join_all(logins));
        let disabled = disabled.status();
        let statuses: Vec<StatusCode> = logins.iter().map(|(s, _)| *s).collect();
        for status in statuses.iter().chain([&disabled]) {
            assert!(status.as_u16() < 500, "round {round}: {disabled} {statuses:?}");
        }
        // The first code was spent exactly once: by the disable, or by a login (which then
        // signed in with it) -- a login after the disable needs no second factor at all.
        let (status, body) = &logins[0];
        let login_spent_it = *status == StatusCode::OK && amr(&body["data"]).to_string().contains("recovery");
        assert_eq!(
            usize::from(disabled == StatusCode::OK) + usize::from(login_spent_it),
            1,
            "round {round}: {disabled} {statuses:?}"
        );
        let (_, me) = read(ctx.get("/v1/account", Some(&token)).await).await;
        assert_eq!(
            me["data"]["mfa_enabled"],
            json!(disabled != StatusCode::OK),
            "round {round}"
        );
    }
}

/// Every second-factor step is in the trail once, and none of its secrets is: not the TOTP
/// secret or its URI, not a code, not a recovery code, not a token.
#[tokio::test]
async fn the_second_factor_is_recorded_without_its_secrets() {
    let ctx = spawn().await;
    let pair = ctx.register("ada@example.com", None).await;
    let token = s(&pair, "access_token").to_owned();
    let (_, setup) = read(ctx.post_bearer("/v1/account/mfa/totp", &token, json!({})).await).await;
    let secret = s(&setup["data"], "secret").to_owned();
    let mut codes = vec![code_at(&secret, ctx.app.now())];
    let (status, body) = read(
        ctx.post_bearer("/v1/account/mfa/totp/activate", &token, json!({ "code": codes[0] }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut recovery: Vec<String> = body["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    next_step(&ctx);
    codes.push(code_at(&secret, ctx.app.now()));
    let (status, login) = login_with(&ctx, "ada@example.com", json!({ "totp_code": codes[1] })).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let (status, _) = login_with(&ctx, "ada@example.com", json!({ "totp_code": codes[1] })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a replay");
    let (status, by_recovery) = login_with(&ctx, "ada@example.com", json!({ "recovery_code": recovery[0] })).await;
    assert_eq!(status, StatusCode::OK, "{by_recovery}");
    next_step(&ctx);
    codes.push(code_at(&secret, ctx.app.now()));
    let (status, body) = read(
        ctx.post_bearer("/v1/account/mfa/recovery-codes", &token, json!({ "code": codes[2] }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    recovery.extend(
        body["data"]["recovery_codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned()),
    );
    next_step(&ctx);
    codes.push(code_at(&secret, ctx.app.now()));
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/mfa/totp/disable",
            &token,
            json!({ "current_password": PASSWORD, "code": codes[3] }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, trail) = read(ctx.get("/v1/account/events?limit=200", Some(&token)).await).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let events = trail["data"]["items"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| s(e, "type")).collect();
    for once in [
        "mfa.enabled",
        "totp.replayed",
        "mfa.recovery_codes_regenerated",
        "mfa.disabled",
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == once).count(), 1, "{once} in {kinds:?}");
    }
    let text = trail.to_string();
    let uri = s(&setup["data"], "otpauth_uri");
    let mut secrets: Vec<&str> = vec![
        secret.as_str(),
        uri,
        PASSWORD,
        &token,
        s(&pair, "refresh_token"),
        s(&login["data"], "access_token"),
        s(&login["data"], "refresh_token"),
        s(&by_recovery["data"], "refresh_token"),
    ];
    secrets.extend(recovery.iter().map(String::as_str));
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // Six digits could turn up inside an id by chance; a code could only leak as a value.
    let details: Vec<String> = events.iter().map(|e| e["details"].to_string()).collect();
    for code in &codes {
        assert!(
            details.iter().all(|d| !d.contains(code.as_str())),
            "{code} in {details:?}"
        );
    }
}
