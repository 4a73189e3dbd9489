//! Captcha over HTTP, against the testkit's local siteverify stub: which endpoints need one,
//! where the token may be, each provider's answers (pass, fail, low score, slow, down), and
//! that nothing else is touched.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use common::{Ctx, PASSWORD, error_code, read};
use portcullis_server::config::{CaptchaConfig, HCaptchaConfig, ReCaptchaConfig, TurnstileConfig};
use portcullis_testkit::TestApp;
use portcullis_testkit::siteverify::SiteverifyStub;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

struct Setup {
    ctx: Ctx,
    stub: SiteverifyStub,
}

fn turnstile(stub: &SiteverifyStub) -> Option<TurnstileConfig> {
    Some(TurnstileConfig {
        secret: SecretString::from("turnstile-secret"),
        secret_file: None,
        verify_url: Some(stub.url("turnstile")),
    })
}

fn hcaptcha(stub: &SiteverifyStub) -> Option<HCaptchaConfig> {
    Some(HCaptchaConfig {
        secret: SecretString::from("hcaptcha-secret"),
        secret_file: None,
        site_key: None,
        verify_url: Some(stub.url("hcaptcha")),
    })
}

fn recaptcha(stub: &SiteverifyStub, min_score: Option<f64>) -> Option<ReCaptchaConfig> {
    Some(ReCaptchaConfig {
        secret: SecretString::from("recaptcha-secret"),
        secret_file: None,
        min_score,
        expected_action: None,
        verify_url: Some(stub.url("recaptcha")),
    })
}

/// An app whose captcha `configure` sets up against a fresh stub.
async fn setup(configure: impl FnOnce(&SiteverifyStub, &mut CaptchaConfig)) -> Setup {
    let stub = SiteverifyStub::start().unwrap();
    let mut captcha = CaptchaConfig {
        timeout_ms: 500,
        ..CaptchaConfig::default()
    };
    configure(&stub, &mut captcha);
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| c.captcha = captcha)
        .spawn()
        .await
        .unwrap();
    Setup {
        ctx: Ctx::new(app, true),
        stub,
    }
}

async fn post(ctx: &Ctx, path: &str, body: Value) -> (StatusCode, Value) {
    read(ctx.post(path, body).await).await
}

fn register_body(token: Option<&str>) -> Value {
    let mut body = json!({ "email": "ada@example.com", "password": PASSWORD });
    if let Some(t) = token {
        body["captcha_token"] = json!(t);
    }
    body
}

#[tokio::test]
async fn required_endpoints_refuse_a_missing_or_failed_captcha_and_take_a_solved_one() {
    let Setup { ctx, stub } = setup(|stub, c| c.turnstile = turnstile(stub)).await;
    for path in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/password/forgot",
        "/v1/auth/verify-email/resend",
    ] {
        let body = json!({ "email": "ada@example.com", "login": "ada@example.com", "password": "wrong password" });
        let (status, body) = post(&ctx, path, body).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "captcha_required"),
            "{path}"
        );
    }
    assert!(stub.received().is_empty(), "no token, no call to the provider");

    let (status, body) = post(&ctx, "/v1/auth/register", register_body(Some("fail"))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid")
    );
    assert_eq!(ctx.mail_count("ada@example.com").await, 0, "nothing happened");

    let (status, body) = post(&ctx, "/v1/auth/register", register_body(Some("pass"))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let call = stub.received().pop().unwrap();
    assert_eq!(call.path, "/turnstile/siteverify");
    assert_eq!(call.field("secret"), Some("turnstile-secret"));
    assert_eq!(call.field("response"), Some("pass"));
    assert_eq!(
        call.field("remoteip"),
        Some("127.0.0.1"),
        "the client's address is passed on"
    );

    // Login checks the captcha before the credentials: a wrong password with a failed captcha
    // learns nothing about the password.
    let (status, body) = post(
        &ctx,
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": "wrong password", "captcha_token": "fail" }),
    )
    .await;
    assert_eq!(error_code(&body), "captcha_invalid", "{status}");
    let (status, body) = post(
        &ctx,
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": "wrong password", "captcha_token": "pass" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
}

#[tokio::test]
async fn the_widgets_own_field_names_work_in_forms_and_json() {
    let Setup { ctx, stub } = setup(|stub, c| {
        c.turnstile = turnstile(stub);
        c.hcaptcha = hcaptcha(stub);
        c.recaptcha = recaptcha(stub, None);
    })
    .await;
    let forgot = "/v1/auth/password/forgot";
    for (field, provider) in [
        ("cf-turnstile-response", "turnstile"),
        ("h-captcha-response", "hcaptcha"),
        ("g-recaptcha-response", "recaptcha"),
        ("g-captcha-response", "recaptcha"),
    ] {
        let res = ctx
            .post_form(forgot, &[("email", "ada@example.com"), (field, "pass")])
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED, "{field}");
        assert_eq!(stub.received().pop().unwrap().path, format!("/{provider}/siteverify"));
        let (status, body) = post(&ctx, forgot, json!({ "email": "ada@example.com", field: "fail" })).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "captcha_invalid"),
            "{field}"
        );
    }
    // Several providers: captcha_token needs captcha_provider.
    let (status, body) = post(
        &ctx,
        forgot,
        json!({ "email": "ada@example.com", "captcha_token": "pass" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid")
    );
    let (status, _) = post(
        &ctx,
        forgot,
        json!({ "email": "ada@example.com", "captcha_token": "pass", "captcha_provider": "hcaptcha" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(stub.received().pop().unwrap().path, "/hcaptcha/siteverify");
}

#[tokio::test]
async fn a_provider_that_is_not_enabled_is_refused_not_skipped() {
    let Setup { ctx, stub } = setup(|stub, c| c.turnstile = turnstile(stub)).await;
    let forgot = "/v1/auth/password/forgot";
    let (status, body) = post(
        &ctx,
        forgot,
        json!({ "email": "a@example.com", "h-captcha-response": "pass" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid")
    );
    let (status, body) = post(
        &ctx,
        forgot,
        json!({ "email": "a@example.com", "captcha_token": "pass", "captcha_provider": "recaptcha" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid")
    );
    assert!(stub.received().is_empty());
}

#[tokio::test]
async fn recaptcha_v3_needs_the_minimum_score() {
    let Setup { ctx, stub: _stub } = setup(|stub, c| c.recaptcha = recaptcha(stub, Some(0.5))).await;
    let (status, body) = post(&ctx, "/v1/auth/register", register_body(Some("low"))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid")
    );
    let (status, body) = post(&ctx, "/v1/auth/register", register_body(Some("v2"))).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_invalid"),
        "no score"
    );
    let (status, _) = post(&ctx, "/v1/auth/register", register_body(Some("pass"))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_slow_or_broken_provider_fails_closed() {
    let Setup { ctx, stub } = setup(|stub, c| c.hcaptcha = hcaptcha(stub)).await;
    for token in ["slow", "down", "garbage"] {
        let res = ctx.post("/v1/auth/register", register_body(Some(token))).await;
        assert_eq!(res.headers().get("retry-after").unwrap(), "5");
        let (status, body) = read(res).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::SERVICE_UNAVAILABLE, "captcha_unavailable"),
            "{token}"
        );
        assert!(!body.to_string().contains(token), "no provider detail leaks");
    }
    assert_eq!(stub.received().len(), 3, "the provider was asked each time");
    assert_eq!(ctx.mail_count("ada@example.com").await, 0);
}

#[tokio::test]
async fn only_the_configured_endpoints_need_one_and_nothing_else_does() {
    let Setup { ctx, stub } = setup(|stub, c| {
        c.turnstile = turnstile(stub);
        c.required_on = Some(vec!["login".into()]);
    })
    .await;
    // Register is not on the list: a normal signup, verification and refresh need no captcha.
    let pair = ctx.register("ada@example.com", None).await;
    let (status, _) = ctx.refresh(pair["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stub.received().is_empty());
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "captcha_required")
    );
}
