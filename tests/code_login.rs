//! Passwordless login by a mailed code over HTTP, on real PostgreSQL and SMTP: the same answer
//! for unknown addresses, single use and five tries, the second factor and the new-IP policy
//! (neither spends the code), and the per-IP limit on asking.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use std::net::IpAddr;

use chrono::Duration;
use common::{Ctx, error_code, read, s, spawn};
use portcullis_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADA: &str = "ada@example.com";

async fn post_from(ctx: &Ctx, ip: [u8; 4], path: &str, body: Value) -> (StatusCode, Value) {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap();
    read(client.post(ctx.app.url(path)).json(&body).send().await.unwrap()).await
}

/// Asks for a code for `email` and returns it (waiting for its mail).
async fn mailed_code(ctx: &Ctx, email: &str) -> String {
    let seen = ctx.mail_count(email).await;
    let (status, body) = read(ctx.post("/v1/auth/login/code/request", json!({ "email": email })).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = ctx.next_mail(email, seen).await;
    assert!(mail.link().is_none(), "a code only");
    mail.code().unwrap()
}

async fn code_login(ctx: &Ctx, ip: [u8; 4], body: Value) -> (StatusCode, Value) {
    post_from(ctx, ip, "/v1/auth/login/code", body).await
}

fn amr(pair: &Value) -> Value {
    use base64::Engine as _;
    let claims = s(pair, "access_token").split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["amr"].clone()
}

fn other(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

#[tokio::test]
async fn a_mailed_code_logs_in_once_and_unknown_addresses_get_the_same_answer() {
    let ctx = spawn().await;
    ctx.register(ADA, None).await;
    let (status, unknown) = read(
        ctx.post("/v1/auth/login/code/request", json!({ "email": "nobody@example.com" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, known) = read(ctx.post("/v1/auth/login/code/request", json!({ "email": ADA })).await).await;
    assert_eq!(known, unknown, "the same answer");
    assert_eq!(ctx.mail_count("nobody@example.com").await, 0);
    let first = ctx.next_mail(ADA, 1).await.code().unwrap();
    // Asking again replaces the code.
    let code = mailed_code(&ctx, ADA).await;
    if first != code {
        let (status, _) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": first })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the earlier code was replaced");
    }
    let (status, body) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(amr(&body["data"]), json!(["email"]));
    let (status, body) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token"),
        "single use"
    );
    let (status, body) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn five_wrong_codes_kill_it_and_an_expired_code_is_refused() {
    let ctx = spawn().await;
    ctx.register(ADA, None).await;
    let code = mailed_code(&ctx, ADA).await;
    for _ in 0..5 {
        let (status, _) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": other(&code) })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "dead after five wrong tries");

    ctx.app.clock.advance(Duration::minutes(2));
    let code = mailed_code(&ctx, ADA).await;
    ctx.app.clock.advance(Duration::minutes(16));
    let (status, _) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "expired after 15 minutes");
}

fn totp_now(secret: &str, ctx: &Ctx) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(u64::try_from(ctx.app.now().timestamp()).unwrap())
        .to_string()
}

#[tokio::test]
async fn the_second_factor_still_applies_and_asking_for_it_does_not_spend_the_code() {
    let ctx = spawn().await;
    let pair = ctx.register(ADA, None).await;
    let token = s(&pair, "access_token").to_owned();
    let (_, body) = read(ctx.post_bearer("/v1/account/mfa/totp", &token, json!({})).await).await;
    let secret = s(&body["data"], "secret").to_owned();
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/mfa/totp/activate",
            &token,
            json!({ "code": totp_now(&secret, &ctx) }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ctx.app.clock.advance(Duration::seconds(30));

    let code = mailed_code(&ctx, ADA).await;
    let (status, body) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::FORBIDDEN, "mfa_required"));
    // Asked five more times without the factor: still not a wrong try of the code.
    for _ in 0..5 {
        code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    }
    let (status, body) = code_login(
        &ctx,
        [127, 0, 0, 1],
        json!({ "email": ADA, "code": code, "totp_code": totp_now(&secret, &ctx) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(amr(&body["data"]), json!(["email", "otp"]));
}

#[tokio::test]
async fn an_unknown_network_under_require_is_refused_without_spending_the_code() {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| c.login.new_ip_policy = portcullis_server::config::NewIpPolicyConfig::Require)
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    ctx.register(ADA, None).await;
    let code = mailed_code(&ctx, ADA).await;
    let seen = ctx.mail_count(ADA).await;
    let (status, body) = code_login(&ctx, [127, 0, 0, 9], json!({ "email": ADA, "code": code })).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "ip_authorization_required"),
        "{body}"
    );
    let authorization = ctx.next_mail(ADA, seen).await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/authorize-ip",
            json!({ "token": authorization.token().unwrap() }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = code_login(&ctx, [127, 0, 0, 9], json!({ "email": ADA, "code": code })).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the same code, once the network is authorized: {body}"
    );
}

#[tokio::test]
async fn asking_for_codes_is_limited_per_ip() {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.limits.login_code_per_ip = portcullis_server::config::LimitConfig {
                count: 2,
                period_secs: 900,
            };
        })
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    for expected in [
        StatusCode::ACCEPTED,
        StatusCode::ACCEPTED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let (status, _) = read(
            ctx.post("/v1/auth/login/code/request", json!({ "email": "x@example.com" }))
                .await,
        )
        .await;
        assert_eq!(status, expected);
    }
}

#[tokio::test]
async fn a_password_change_kills_a_pending_login_code() {
    let ctx = spawn().await;
    let pair = ctx.register(ADA, None).await;
    let code = mailed_code(&ctx, ADA).await;
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/password",
            s(&pair, "access_token"),
            json!({ "current_password": common::PASSWORD, "new_password": "another long passphrase" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = code_login(&ctx, [127, 0, 0, 1], json!({ "email": ADA, "code": code })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the code may be an intruder's");
}
