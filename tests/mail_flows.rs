//! The mail flows end to end: HTTP in, real SMTP out (the testkit's server), real PostgreSQL.
//! Signup verification, resend, password reset, change of password and of email; expired,
//! reused, superseded and brute-forced secrets; answers that must not reveal an account.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use std::time::Duration;

use chrono::Duration as Span;
use common::{Ctx, PASSWORD, error_code, read, s, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "an entirely different passphrase";

async fn post(ctx: &Ctx, path: &str, body: Value) -> (StatusCode, Value) {
    read(ctx.post(path, body).await).await
}

async fn bearer(ctx: &Ctx, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    read(ctx.post_bearer(path, token, body).await).await
}

/// Registers (verification on) and returns the verification mail.
async fn register_pending(ctx: &Ctx, email: &str) -> portcullis_testkit::ReceivedMail {
    let seen = ctx.mail_count(email).await;
    let (status, body) = post(
        ctx,
        "/v1/auth/register",
        json!({ "email": email, "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    ctx.next_mail(email, seen).await
}

fn assert_invalid_secret((status, body): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(error_code(&body), "invalid_or_expired_token");
}

#[tokio::test]
async fn signup_is_verified_by_link_token_once_and_only_then_can_log_in() {
    let ctx = spawn().await;
    let mail = register_pending(&ctx, "ada@example.com").await;
    assert_eq!(mail.to, vec!["ada@example.com"]);
    assert_eq!(mail.subject(), "Verify your email for Portcullis");
    assert!(mail.has_both_parts(), "{}", mail.data);
    let link = mail.link().unwrap();
    assert!(
        link.starts_with("http://localhost:3000/verify-email?token=pcl_"),
        "{link}"
    );
    let token = mail.token().unwrap();
    assert!(mail.html().contains(&token), "the HTML part carries the link too");
    let code = mail.code().unwrap();
    assert!(mail.html().contains(&code));

    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );
    // Wrong password first: the unverified state is not revealed without the password.
    let (status, body) = ctx.login("ada@example.com", "wrong password!").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    let (status, body) = post(&ctx, "/v1/auth/verify-email", json!({ "token": token })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert!(s(data, "refresh_token").starts_with("pcr_"));
    assert_eq!(data["user"]["email_verified"], true);
    let (_, session) = read(ctx.get("/v1/auth/session", Some(s(data, "access_token"))).await).await;
    assert_eq!(session["data"]["session"]["amr"], json!(["email"]));

    // Single use: the link and its code are gone.
    assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "token": token })).await);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": "ada@example.com", "code": code }),
        )
        .await,
    );
    let (status, _) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn registering_an_existing_address_answers_alike_and_notifies_its_owner() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    let new = post(
        &ctx,
        "/v1/auth/register",
        json!({ "email": "bob@example.com", "password": PASSWORD }),
    )
    .await;
    let seen = ctx.mail_count("ada@example.com").await;
    let existing = post(
        &ctx,
        "/v1/auth/register",
        json!({ "email": "ADA@example.com", "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(new.0, StatusCode::ACCEPTED);
    assert_eq!(new, existing, "same status and body for a new and an existing address");

    let notice = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(notice.subject(), "Sign-up attempt with your Portcullis address");
    assert!(notice.has_both_parts());
    assert!(
        notice.token().is_none() && notice.code().is_none(),
        "a notice carries no secret"
    );
    // The attempt changed nothing.
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(
        ctx.login("ada@example.com", NEW_PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_taken_username_is_refused_whatever_the_email() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", Some("ada")).await;
    for email in ["ada@example.com", "bob@example.com"] {
        let (status, body) = post(
            &ctx,
            "/v1/auth/register",
            json!({ "email": email, "password": PASSWORD, "username": "ADA" }),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::CONFLICT, "username_taken"),
            "{email}"
        );
    }
}

#[tokio::test]
async fn codes_verify_and_die_after_five_wrong_tries_and_when_they_expire() {
    let ctx = spawn().await;
    let mail = register_pending(&ctx, "ada@example.com").await;
    let code = mail.code().unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_invalid_secret(
            post(
                &ctx,
                "/v1/auth/verify-email",
                json!({ "email": "ada@example.com", "code": wrong }),
            )
            .await,
        );
    }
    // The right code is dead now...
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": "ada@example.com", "code": code }),
        )
        .await,
    );
    // ...but guessing codes does not kill the owner's link.
    let (status, _) = post(&ctx, "/v1/auth/verify-email", json!({ "token": mail.token().unwrap() })).await;
    assert_eq!(status, StatusCode::OK);

    // Expiry: codes live 15 minutes, links 24 hours.
    let mail = register_pending(&ctx, "bob@example.com").await;
    ctx.app.clock.advance(Span::minutes(16));
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": "bob@example.com", "code": mail.code().unwrap() }),
        )
        .await,
    );
    ctx.app.clock.advance(Span::hours(24));
    assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "token": mail.token().unwrap() })).await);

    // A fresh code works, by form body too.
    let seen = ctx.mail_count("bob@example.com").await;
    let (status, _) = post(
        &ctx,
        "/v1/auth/verify-email/resend",
        json!({ "email": "bob@example.com" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let fresh = ctx.next_mail("bob@example.com", seen).await;
    let (status, body) = read(
        ctx.post_form(
            "/v1/auth/verify-email",
            &[("email", "Bob@Example.com"), ("code", &fresh.code().unwrap())],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["email_verified"], true);
}

#[tokio::test]
async fn resend_supersedes_the_old_secret_and_answers_alike_for_any_address() {
    let ctx = spawn().await;
    let first = register_pending(&ctx, "ada@example.com").await;
    ctx.register("verified@example.com", None).await;

    let mut answers = Vec::new();
    for email in ["nobody@example.com", "verified@example.com", "ada@example.com"] {
        answers.push(post(&ctx, "/v1/auth/verify-email/resend", json!({ "email": email })).await);
    }
    assert_eq!(answers[0].0, StatusCode::ACCEPTED);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");

    // Requests are fulfilled in order: once ada's arrives, the others were handled.
    let second = ctx.next_mail("ada@example.com", 1).await;
    assert_eq!(ctx.mail_count("nobody@example.com").await, 0);
    assert_eq!(
        ctx.mail_count("verified@example.com").await,
        1,
        "only its original verification"
    );

    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "token": first.token().unwrap() }),
        )
        .await,
    );
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": "ada@example.com", "code": first.code().unwrap() }),
        )
        .await,
    );
    let (status, _) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": second.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn password_reset_by_link_revokes_every_session_and_mails_a_notice() {
    let ctx = spawn().await;
    let data = ctx.register("ada@example.com", None).await;
    let (_, other) = ctx.login("ada@example.com", PASSWORD).await;

    let unknown = post(
        &ctx,
        "/v1/auth/password/forgot",
        json!({ "email": "nobody@example.com" }),
    )
    .await;
    let seen = ctx.mail_count("ada@example.com").await;
    let known = post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(unknown, known, "same status and body whether or not the account exists");

    let mail = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(mail.subject(), "Reset your Portcullis password");
    assert!(mail.has_both_parts());
    assert!(
        mail.link()
            .unwrap()
            .starts_with("http://localhost:3000/reset-password?token=pcl_")
    );
    let token = mail.token().unwrap();
    assert_eq!(ctx.mail_count("nobody@example.com").await, 0);

    // Checking does not consume.
    for _ in 0..2 {
        let res = ctx.post("/v1/auth/password/verify", json!({ "token": token })).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert!(res.text().await.unwrap().is_empty());
    }
    // A verification endpoint does not take a reset secret.
    assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "token": token })).await);

    let (status, body) = post(
        &ctx,
        "/v1/auth/password/reset",
        json!({ "token": token, "new_password": "short" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "new_password");

    let seen = ctx.mail_count("ada@example.com").await;
    let (status, body) = post(
        &ctx,
        "/v1/auth/password/reset",
        json!({ "token": token, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let notice = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(notice.subject(), "Your Portcullis password was changed");

    for session in [&data, &other["data"]] {
        let res = ctx.get("/v1/account", Some(s(session, "access_token"))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "access tokens die at once");
        assert_eq!(
            ctx.refresh(s(session, "refresh_token")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.login("ada@example.com", NEW_PASSWORD).await.0, StatusCode::OK);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/reset",
            json!({ "token": token, "new_password": "yet another passphrase" }),
        )
        .await,
    );
    assert_invalid_secret(post(&ctx, "/v1/auth/password/verify", json!({ "token": token })).await);
}

#[tokio::test]
async fn password_reset_by_code_with_superseded_expired_and_brute_forced_codes() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    let forgot = async |seen| {
        let (status, _) = post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        ctx.next_mail("ada@example.com", seen).await
    };
    let verify = async |code: &str| {
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "email": "ada@example.com", "code": code }),
        )
        .await
    };

    let first = forgot(1).await;
    let second = forgot(2).await;
    assert_invalid_secret(verify(&first.code().unwrap()).await);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "token": first.token().unwrap() }),
        )
        .await,
    );
    assert_eq!(verify(&second.code().unwrap()).await.0, StatusCode::NO_CONTENT);

    // Five wrong codes kill the code, through verify and reset alike.
    let code = second.code().unwrap();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    for _ in 0..3 {
        assert_invalid_secret(verify(wrong).await);
    }
    for _ in 0..2 {
        assert_invalid_secret(
            post(
                &ctx,
                "/v1/auth/password/reset",
                json!({ "email": "ada@example.com", "code": wrong, "new_password": NEW_PASSWORD }),
            )
            .await,
        );
    }
    assert_invalid_secret(verify(&code).await);

    // Expired after 15 minutes.
    let third = forgot(3).await;
    ctx.app.clock.advance(Span::minutes(15) + Span::seconds(1));
    assert_invalid_secret(verify(&third.code().unwrap()).await);

    let fourth = forgot(4).await;
    let (status, body) = post(
        &ctx,
        "/v1/auth/password/reset",
        json!({ "email": "ADA@example.com", "code": fourth.code().unwrap(), "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ctx.login("ada@example.com", NEW_PASSWORD).await.0, StatusCode::OK);
    // The reset link minted with the code died with it.
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "token": fourth.token().unwrap() }),
        )
        .await,
    );
}

#[tokio::test]
async fn reset_links_expire_after_an_hour() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let mail = ctx.next_mail("ada@example.com", 1).await;
    ctx.app.clock.advance(Span::minutes(61));
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/reset",
            json!({ "token": mail.token().unwrap(), "new_password": NEW_PASSWORD }),
        )
        .await,
    );
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn resetting_an_unverified_account_verifies_it() {
    let ctx = spawn().await;
    register_pending(&ctx, "ada@example.com").await;
    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let mail = ctx.next_mail("ada@example.com", 1).await;
    assert_eq!(mail.subject(), "Reset your Portcullis password");
    let (status, body) = post(
        &ctx,
        "/v1/auth/password/reset",
        json!({ "token": mail.token().unwrap(), "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["email_verified"], true);
    assert_eq!(ctx.login("ada@example.com", NEW_PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn secrets_must_be_given_whole_and_well_formed() {
    let ctx = spawn().await;
    let (status, body) = post(&ctx, "/v1/auth/verify-email", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| s(d, "field"))
        .collect();
    assert_eq!(fields, vec!["email", "code"]);
    let (status, _) = post(&ctx, "/v1/auth/verify-email", json!({ "email": "ada@example.com" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for body in [
        json!({ "token": "pcl_short" }),
        json!({ "token": "x".repeat(5000) }),
        json!({ "email": "ada@example.com", "code": "12345" }),
        json!({ "email": "ada@example.com", "code": "１２３４５６" }),
    ] {
        assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", body).await);
    }
    let (status, _) = post(&ctx, "/v1/auth/password/forgot", json!({ "email": "not an email" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_ends_other_sessions() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    let (_, other) = ctx.login("ada@example.com", PASSWORD).await;
    let token = s(&me, "access_token");

    let (status, body) = bearer(
        &ctx,
        "/v1/account/password",
        token,
        json!({ "current_password": "not my password", "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let (status, _) = bearer(
        &ctx,
        "/v1/account/password",
        token,
        json!({ "current_password": PASSWORD, "new_password": "x".repeat(129) }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = ctx
        .post(
            "/v1/account/password",
            json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "needs a bearer token");

    let seen = ctx.mail_count("ada@example.com").await;
    let (status, body) = bearer(
        &ctx,
        "/v1/account/password",
        token,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked_sessions"], 1);
    let notice = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(notice.subject(), "Your Portcullis password was changed");

    assert_eq!(ctx.get("/v1/account", Some(token)).await.status(), StatusCode::OK);
    assert_eq!(
        ctx.get("/v1/account", Some(s(&other["data"], "access_token")))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.login("ada@example.com", NEW_PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn change_email_is_confirmed_from_the_new_address_and_both_addresses_are_told() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    let token = s(&me, "access_token");

    let (status, body) = bearer(
        &ctx,
        "/v1/account/email",
        token,
        json!({ "new_email": "lovelace@example.com", "current_password": "wrong password" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );
    let (status, body) = bearer(
        &ctx,
        "/v1/account/email",
        token,
        json!({ "new_email": "ADA@example.com", "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let seen_old = ctx.mail_count("ada@example.com").await;
    let (status, body) = bearer(
        &ctx,
        "/v1/account/email",
        token,
        json!({ "new_email": "Lovelace@example.com", "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let confirm = ctx.next_mail("Lovelace@example.com", 0).await;
    assert_eq!(confirm.subject(), "Confirm your new email for Portcullis");
    assert!(
        confirm
            .link()
            .unwrap()
            .starts_with("http://localhost:3000/confirm-email?token=pcl_")
    );
    let requested = ctx.next_mail("ada@example.com", seen_old).await;
    assert!(
        requested.text().contains("Lovelace@example.com"),
        "{}",
        requested.text()
    );
    assert!(requested.token().is_none() && requested.code().is_none());

    // Nothing changes until the new address confirms.
    let (_, account) = read(ctx.get("/v1/account", Some(token)).await).await;
    assert_eq!(account["data"]["email"], "ada@example.com");

    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "email": "lovelace@example.com", "code": confirm.code().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["email"], "Lovelace@example.com");
    assert_eq!(body["data"]["user"]["email_verified"], true);
    assert!(
        body["data"].get("access_token").is_none(),
        "confirming an email logs nobody in"
    );

    let changed = ctx.next_mail("ada@example.com", seen_old + 1).await;
    assert_eq!(changed.subject(), "Your Portcullis email was changed");
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.login("lovelace@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "token": confirm.token().unwrap() }),
        )
        .await,
    );
    // The old address is free again.
    ctx.register("ada@example.com", None).await;
}

#[tokio::test]
async fn an_email_change_to_an_address_taken_meanwhile_is_refused_at_confirmation() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    let (status, _) = bearer(
        &ctx,
        "/v1/account/email",
        s(&me, "access_token"),
        json!({ "new_email": "bob@example.com", "current_password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let confirm = ctx.next_mail("bob@example.com", 0).await;
    ctx.register("bob@example.com", None).await;
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": confirm.token().unwrap() }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "email_taken"));
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn changing_the_password_cancels_a_pending_email_change() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    let token = s(&me, "access_token");
    bearer(
        &ctx,
        "/v1/account/email",
        token,
        json!({ "new_email": "mallory@example.com", "current_password": PASSWORD }),
    )
    .await;
    let confirm = ctx.next_mail("mallory@example.com", 0).await;
    let (status, _) = bearer(
        &ctx,
        "/v1/account/password",
        token,
        json!({ "current_password": PASSWORD, "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "token": confirm.token().unwrap() }),
        )
        .await,
    );
}

#[tokio::test]
async fn register_succeeds_while_smtp_is_down_and_the_mail_arrives_once_it_is_back() {
    use portcullis_testkit::{SmtpSink, TestApp};
    let port = SmtpSink::unused_port().unwrap();
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.mail.smtp_port = port;
            c.mail.retry_first_secs = 1;
            c.mail.retry_max_secs = 1;
        })
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    let (status, _) = post(
        &ctx,
        "/v1/auth/register",
        json!({ "email": "ada@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The retry back-off runs on the app's clock.
    ctx.app.clock.advance(Span::seconds(2));
    let sink = SmtpSink::start_on_port(port).unwrap();
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let (status, _) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": got[0].token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1, "delivered once");
}

#[tokio::test]
async fn concurrent_redemptions_of_one_secret_succeed_exactly_once() {
    let ctx = spawn().await;
    let mail = register_pending(&ctx, "ada@example.com").await;
    let token = mail.token().unwrap();
    let attempts = (0..10).map(|_| post(&ctx, "/v1/auth/verify-email", json!({ "token": token })));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(_, b)| error_code(b) == "invalid_or_expired_token")
    );

    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let reset = ctx.next_mail("ada@example.com", 1).await;
    let code = reset.code().unwrap();
    let attempts = (0..6).map(|i| {
        post(
            &ctx,
            "/v1/auth/password/reset",
            json!({ "email": "ada@example.com", "code": code, "new_password": format!("{NEW_PASSWORD} {i}") }),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let winners: Vec<usize> = (0..6).filter(|&i| answers[i].0 == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    let winner = format!("{NEW_PASSWORD} {}", winners[0]);
    assert_eq!(ctx.login("ada@example.com", &winner).await.0, StatusCode::OK);
}

#[tokio::test]
async fn links_outlive_their_codes() {
    let ctx = spawn().await;
    let verification = register_pending(&ctx, "ada@example.com").await;
    ctx.app.clock.advance(Span::minutes(16));
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": "ada@example.com", "code": verification.code().unwrap() }),
        )
        .await,
    );
    ctx.app.clock.advance(Span::hours(23));
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": verification.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a verification link lives 24 hours: {body}");

    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let reset = ctx.next_mail("ada@example.com", 1).await;
    ctx.app.clock.advance(Span::minutes(59));
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "email": "ada@example.com", "code": reset.code().unwrap() }),
        )
        .await,
    );
    let res = ctx
        .post("/v1/auth/password/verify", json!({ "token": reset.token().unwrap() }))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT, "a reset link lives an hour");
}

#[tokio::test]
async fn confirming_a_new_email_kills_secrets_mailed_to_the_old_one() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let reset = ctx.next_mail("ada@example.com", 1).await;
    bearer(
        &ctx,
        "/v1/account/email",
        s(&me, "access_token"),
        json!({ "new_email": "new@example.com", "current_password": PASSWORD }),
    )
    .await;
    let confirm = ctx.next_mail("new@example.com", 0).await;
    let (status, _) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": confirm.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "token": reset.token().unwrap() }),
        )
        .await,
    );
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "email": "new@example.com", "code": reset.code().unwrap() }),
        )
        .await,
    );
}

#[tokio::test]
async fn a_verification_link_dies_once_a_reset_verified_the_address() {
    let ctx = spawn().await;
    let verification = register_pending(&ctx, "ada@example.com").await;
    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let reset = ctx.next_mail("ada@example.com", 1).await;
    let (status, _) = post(
        &ctx,
        "/v1/auth/password/reset",
        json!({ "token": reset.token().unwrap(), "new_password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "token": verification.token().unwrap() }),
        )
        .await,
    );
}

#[tokio::test]
async fn tokens_are_bound_to_their_tenant() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let ctx = spawn().await;
    let mail = register_pending(&ctx, "ada@example.com").await;
    let token = mail.token().unwrap();
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO tenants (id, slug, name) VALUES ('{}', 'other', 'Other')",
        uuid::Uuid::now_v7()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let with_tenant = async |tenant: &str| {
        read(
            ctx.http
                .post(ctx.app.url("/v1/auth/verify-email"))
                .header("X-Tenant", tenant)
                .json(&json!({ "token": token }))
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (status, body) = with_tenant("nope").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "tenant_not_found"));
    assert_invalid_secret(with_tenant("other").await);
    let (status, _) = with_tenant("default").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_racing_a_password_change_never_fails_with_500() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    for round in 0..8 {
        post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
        let reset = ctx.next_mail("ada@example.com", 1 + 2 * round).await;
        let reset_password = format!("reset passphrase {round}");
        let (current, changed) = if round == 0 {
            (PASSWORD.to_owned(), format!("changed passphrase {round}"))
        } else {
            // Whichever won the last round set the password; the loser's request failed cleanly.
            let last_reset = format!("reset passphrase {}", round - 1);
            let last_change = format!("changed passphrase {}", round - 1);
            let current = if ctx.login("ada@example.com", &last_reset).await.0 == StatusCode::OK {
                last_reset
            } else {
                last_change
            };
            (current, format!("changed passphrase {round}"))
        };
        let (status, login) = ctx.login("ada@example.com", &current).await;
        assert_eq!(status, StatusCode::OK, "round {round}");
        let token = s(&login["data"], "access_token").to_owned();
        let (a, b) = tokio::join!(
            post(
                &ctx,
                "/v1/auth/password/reset",
                json!({ "token": reset.token().unwrap(), "new_password": reset_password }),
            ),
            bearer(
                &ctx,
                "/v1/account/password",
                &token,
                json!({ "current_password": current, "new_password": changed }),
            ),
        );
        for (status, body) in [&a, &b] {
            assert!(status.as_u16() < 500, "round {round}: {status} {body}");
        }
        // Exactly one wins: a committed change kills the reset secret; a committed reset
        // makes the change's current password stale.
        assert_eq!(
            usize::from(a.0 == StatusCode::OK) + usize::from(b.0 == StatusCode::OK),
            1,
            "round {round}: {a:?} {b:?}"
        );
        // The winner's notice arrives before the next round counts mails.
        ctx.app.nth_mail_to("ada@example.com", 3 + 2 * round).await.unwrap();
    }
}

#[tokio::test]
async fn asking_for_a_new_code_does_not_buy_new_guesses_while_the_old_one_lives() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    let forgot = async |seen| {
        post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
        ctx.next_mail("ada@example.com", seen).await
    };
    let guess = async |code: &str| {
        post(
            &ctx,
            "/v1/auth/password/verify",
            json!({ "email": "ada@example.com", "code": code }),
        )
        .await
    };
    let first = forgot(1).await;
    let wrong = |right: &str| {
        if right == "000000" {
            "111111".to_owned()
        } else {
            "000000".to_owned()
        }
    };
    for _ in 0..3 {
        assert_invalid_secret(guess(&wrong(&first.code().unwrap())).await);
    }
    let second = forgot(2).await;
    for _ in 0..2 {
        assert_invalid_secret(guess(&wrong(&second.code().unwrap())).await);
    }
    assert_invalid_secret(guess(&second.code().unwrap()).await);
    // Its link still works, and once the old code has expired a new one starts afresh.
    let res = ctx
        .post("/v1/auth/password/verify", json!({ "token": second.token().unwrap() }))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    ctx.app.clock.advance(Span::minutes(16));
    let third = forgot(3).await;
    assert_eq!(guess(&third.code().unwrap()).await.0, StatusCode::NO_CONTENT);
}

/// An app whose limits `set` turns on (the testkit turns them all off).
async fn spawn_with_limits(set: impl FnOnce(&mut portcullis_server::config::LimitsConfig)) -> Ctx {
    let app = portcullis_testkit::TestApp::builder()
        .database_from_env()
        .configure(|c| set(&mut c.limits))
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, true)
}

fn per(count: u32, period_secs: u64) -> portcullis_server::config::LimitConfig {
    portcullis_server::config::LimitConfig { count, period_secs }
}

async fn request_change(ctx: &Ctx, token: &str, to: &str) -> (StatusCode, Value) {
    bearer(
        ctx,
        "/v1/account/email",
        token,
        json!({ "new_email": to, "current_password": PASSWORD }),
    )
    .await
}

#[tokio::test]
async fn email_change_codes_for_an_address_share_five_tries_and_submissions_are_limited() {
    let ctx = spawn_with_limits(|l| {
        l.mails_per_recipient_per_minute = per(1, 60);
        l.mails_per_recipient_per_day = per(10, 86_400);
        l.secret_submissions_per_ip = per(10, 900);
    })
    .await;
    let first = ctx.register("mallory1@example.com", None).await;
    let second = ctx.register("mallory2@example.com", None).await;
    let victim = "victim@example.com";
    // One account asks to move to the victim's address, then guesses at the code five times.
    assert_eq!(
        request_change(&ctx, s(&first, "access_token"), victim).await.0,
        StatusCode::ACCEPTED
    );
    for guess in ["000000", "111111", "222222", "333333", "444444"] {
        assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "email": victim, "code": guess })).await);
    }
    // A second account asks for the same address: a fresh code, mailed to the victim...
    ctx.app.clock.advance(Span::seconds(60));
    let seen = ctx.mail_count(victim).await;
    assert_eq!(
        request_change(&ctx, s(&second, "access_token"), victim).await.0,
        StatusCode::ACCEPTED
    );
    let code = ctx.next_mail(victim, seen).await.code().unwrap();
    // ...but the address has used up its five tries: even the right code is refused now.
    assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "email": victim, "code": code })).await);
    // The per-network limit on submissions applies to these codes as to every other: the two
    // sign-up verifications, five guesses and the right code make eight so far; two more, then
    // 429.
    for _ in 0..2 {
        assert_invalid_secret(
            post(
                &ctx,
                "/v1/auth/verify-email",
                json!({ "email": victim, "code": "555555" }),
            )
            .await,
        );
    }
    let (status, body) = post(&ctx, "/v1/auth/verify-email", json!({ "email": victim, "code": code })).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // Nobody took the address.
    let (_, me) = read(ctx.get("/v1/account", Some(s(&second, "access_token"))).await).await;
    assert_eq!(me["data"]["email"], "mallory2@example.com");
}

#[tokio::test]
async fn an_exhausted_code_cannot_be_pushed_out_of_view_by_newer_changes() {
    let ctx = spawn_with_limits(|l| {
        l.mails_per_recipient_per_minute = per(1, 60);
        l.mails_per_recipient_per_day = per(10, 86_400);
    })
    .await;
    let victim = "victim@example.com";
    let mut attackers = Vec::new();
    for n in 0..10 {
        attackers.push(ctx.register(&format!("mallory{n}@example.com"), None).await);
    }
    // The first change to the victim's address has its five tries used up...
    assert_eq!(
        request_change(&ctx, s(&attackers[0], "access_token"), victim).await.0,
        StatusCode::ACCEPTED
    );
    for guess in ["000000", "111111", "222222", "333333", "444444"] {
        assert_invalid_secret(post(&ctx, "/v1/auth/verify-email", json!({ "email": victim, "code": guess })).await);
    }
    // ...then nine more accounts ask, a minute apart, more than the candidates looked at.
    let mut last_code = String::new();
    for attacker in &attackers[1..] {
        ctx.app.clock.advance(Span::seconds(61));
        let seen = ctx.mail_count(victim).await;
        assert_eq!(
            request_change(&ctx, s(attacker, "access_token"), victim).await.0,
            StatusCode::ACCEPTED
        );
        last_code = ctx.next_mail(victim, seen).await.code().unwrap();
    }
    // The exhausted code is still alive and still counts: even the newest right code is refused.
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "email": victim, "code": last_code }),
        )
        .await,
    );
}

#[tokio::test]
async fn email_change_is_no_mail_cannon() {
    let ctx = spawn_with_limits(|l| {
        l.email_change_per_account = per(3, 3600);
        l.mails_per_recipient_per_minute = per(1, 60);
        l.mails_per_recipient_per_day = per(10, 86_400);
    })
    .await;
    let first = ctx.register("mallory1@example.com", None).await;
    let second = ctx.register("mallory2@example.com", None).await;
    let (one, two) = (s(&first, "access_token"), s(&second, "access_token"));
    // Many accounts at one address: the address's mail budget, whoever asks. The refusal says
    // when to come back.
    assert_eq!(
        request_change(&ctx, one, "target@example.com").await.0,
        StatusCode::ACCEPTED
    );
    let res = ctx
        .post_bearer(
            "/v1/account/email",
            two,
            json!({ "new_email": "target@example.com", "current_password": PASSWORD }),
        )
        .await;
    let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(retry_after.as_deref(), Some("60"));
    assert_eq!(ctx.mail_count("target@example.com").await, 1);
    // Other spellings of that mailbox (quoted or escaped local parts) are not addresses here.
    for spelled in ["\"target\"@example.com", "t\\arget@example.com"] {
        let (status, body) = request_change(&ctx, two, spelled).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{spelled}: {body}");
    }
    // One account at many addresses: a few an hour.
    for to in ["a@example.com", "b@example.com"] {
        assert_eq!(request_change(&ctx, one, to).await.0, StatusCode::ACCEPTED, "{to}");
    }
    let (status, body) = request_change(&ctx, one, "c@example.com").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(ctx.mail_count("c@example.com").await, 0);
    // The address's day: ten mails at most, a minute apart, however many accounts ask.
    let mut others = Vec::new();
    for n in 3..7 {
        others.push(ctx.register(&format!("mallory{n}@example.com"), None).await);
    }
    for i in 0..12 {
        ctx.app.clock.advance(Span::seconds(61));
        request_change(&ctx, s(&others[i / 3], "access_token"), "target@example.com").await;
    }
    assert_eq!(ctx.mail_count("target@example.com").await, 10);
}

/// A POST from loopback address `ip` (a client network of its own).
async fn post_from(ctx: &Ctx, ip: [u8; 4], path: &str, body: Value) -> (StatusCode, Value) {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .build()
        .unwrap();
    read(client.post(ctx.app.url(path)).json(&body).send().await.unwrap()).await
}

async fn known_networks(ctx: &Ctx) -> Vec<String> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        network: String,
    }
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT network FROM known_networks ORDER BY network")
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.network).collect()
}

#[tokio::test]
async fn a_squatters_registration_gives_them_nothing_once_the_owner_verifies_their_own() {
    const SQUATTER: &str = "squatters own passphrase";
    let ctx = spawn().await;
    let victim = "victim@example.com";
    // Someone registers the victim's address first, with a password and a username of theirs.
    let (status, _) = post_from(
        &ctx,
        [127, 0, 0, 7],
        "/v1/auth/register",
        json!({ "email": victim, "password": SQUATTER, "username": "victim" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let squatters_mail = ctx.next_mail(victim, 0).await;
    // The owner registers later, from their own network: their own mail, for their own password.
    let (status, _) = post_from(
        &ctx,
        [127, 0, 0, 8],
        "/v1/auth/register",
        json!({ "email": victim, "password": PASSWORD, "username": "vic" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let owners_mail = ctx.next_mail(victim, 1).await;
    assert_eq!(owners_mail.subject(), "Verify your email for Portcullis");
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": owners_mail.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["username"], "vic");

    // The squatter's password, username and network came to nothing, and their link is dead.
    assert_eq!(ctx.login(victim, SQUATTER).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.login("victim", SQUATTER).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(known_networks(&ctx).await, vec!["127.0.0.8".to_owned()]);
    assert_invalid_secret(
        post(
            &ctx,
            "/v1/auth/verify-email",
            json!({ "token": squatters_mail.token().unwrap() }),
        )
        .await,
    );
    assert_eq!(ctx.login(victim, PASSWORD).await.0, StatusCode::OK);
    assert_eq!(ctx.login("vic", PASSWORD).await.0, StatusCode::OK);
}

/// Sets a first password without `current_password` (an account that has none).
async fn first_password(ctx: &Ctx, token: &str, new: &str) -> (StatusCode, Value) {
    bearer(ctx, "/v1/account/password", token, json!({ "new_password": new })).await
}

#[tokio::test]
async fn a_resend_never_confirms_someone_elses_registration() {
    const SQUATTER: &str = "squatters own passphrase";
    let ctx = spawn().await;
    let victim = "victim@example.com";
    // Someone registers the victim's address from their own network; the victim, who never
    // registered (or whose registration mail was lost), asks for a resend from theirs.
    let (status, _) = post_from(
        &ctx,
        [127, 0, 0, 7],
        "/v1/auth/register",
        json!({ "email": victim, "password": SQUATTER, "username": "squat" }),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let seen = ctx.mail_count(victim).await;
    post_from(
        &ctx,
        [127, 0, 0, 8],
        "/v1/auth/verify-email/resend",
        json!({ "email": victim }),
    )
    .await;
    let resent = ctx.next_mail(victim, seen).await;
    // The resend is not for a registration from that network: it proves the mailbox and signs
    // in, but activates nothing of the squatter's.
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "email": victim, "code": resent.code().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["username"], Value::Null);
    assert_eq!(ctx.login(victim, SQUATTER).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(ctx.login("squat", SQUATTER).await.0, StatusCode::UNAUTHORIZED);
    assert!(known_networks(&ctx).await.is_empty());
    // The owner sets a first password from that fresh session, without a current one.
    let token = s(&body["data"], "access_token").to_owned();
    let (status, body) = first_password(&ctx, &token, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ctx.login(victim, NEW_PASSWORD).await.0, StatusCode::OK);
    // Once there is a password, changing it needs it.
    let (status, body) = first_password(&ctx, &token, "yet another fine passphrase").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "current_password");
}

#[tokio::test]
async fn a_first_password_needs_a_fresh_session() {
    let ctx = spawn().await;
    post_from(
        &ctx,
        [127, 0, 0, 7],
        "/v1/auth/register",
        json!({ "email": "ada@example.com", "password": PASSWORD }),
    )
    .await;
    ctx.mail_count("ada@example.com").await;
    post_from(
        &ctx,
        [127, 0, 0, 8],
        "/v1/auth/verify-email/resend",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    let resent = ctx.next_mail("ada@example.com", 1).await;
    let (_, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": resent.token().unwrap() }),
    )
    .await;
    let token = s(&body["data"], "access_token").to_owned();
    ctx.app.clock.advance(Span::minutes(11));
    let refresh = s(&body["data"], "refresh_token").to_owned();
    let (_, pair) = ctx.refresh(&refresh).await;
    let (status, body) = first_password(&ctx, s(&pair["data"], "access_token"), NEW_PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "fresh_session_required")
    );
    drop(token);
}

#[tokio::test]
async fn a_registration_that_found_no_mail_budget_is_kept_for_its_own_resend() {
    const SQUATTER: &str = "squatters own passphrase";
    let ctx = spawn_with_limits(|l| {
        l.mails_per_recipient_per_minute = per(1, 60);
        l.mails_per_recipient_per_day = per(10, 86_400);
    })
    .await;
    let victim = "victim@example.com";
    // The squatter registers just before the owner, spending the address's minute.
    for (ip, password) in [(7, SQUATTER), (8, PASSWORD)] {
        let (status, _) = post_from(
            &ctx,
            [127, 0, 0, ip],
            "/v1/auth/register",
            json!({ "email": victim, "password": password }),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    assert_eq!(ctx.mail_count(victim).await, 1, "only the squatter's mail went out");
    // The owner's registration was kept; a resend from the owner's network a minute later mails
    // a secret for it.
    ctx.app.clock.advance(Span::seconds(61));
    post_from(
        &ctx,
        [127, 0, 0, 8],
        "/v1/auth/verify-email/resend",
        json!({ "email": victim }),
    )
    .await;
    let resent = ctx.next_mail(victim, 1).await;
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "token": resent.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(known_networks(&ctx).await, vec!["127.0.0.8".to_owned()]);
    assert_eq!(ctx.login(victim, PASSWORD).await.0, StatusCode::OK);
    assert_eq!(ctx.login(victim, SQUATTER).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn resends_that_mail_nothing_do_not_spend_the_address_budget() {
    let ctx = spawn_with_limits(|l| {
        l.mails_per_recipient_per_minute = per(1, 60);
        l.mails_per_recipient_per_day = per(3, 86_400);
    })
    .await;
    ctx.register("ada@example.com", None).await;
    ctx.app.clock.advance(Span::seconds(61));
    // A verified address gets no verification mail, so these resends cost its budget nothing...
    for _ in 0..5 {
        post(
            &ctx,
            "/v1/auth/verify-email/resend",
            json!({ "email": "ada@example.com" }),
        )
        .await;
        ctx.app.clock.advance(Span::seconds(61));
    }
    let seen = ctx.mail_count("ada@example.com").await;
    // ...and the owner's reset mail still goes out.
    post(&ctx, "/v1/auth/password/forgot", json!({ "email": "ada@example.com" })).await;
    let reset = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(reset.subject(), "Reset your Portcullis password");
}

#[tokio::test]
async fn a_resend_for_a_single_registration_confirms_that_registration() {
    let ctx = spawn().await;
    register_pending(&ctx, "ada@example.com").await;
    post(
        &ctx,
        "/v1/auth/verify-email/resend",
        json!({ "email": "ada@example.com" }),
    )
    .await;
    let resent = ctx.next_mail("ada@example.com", 1).await;
    let (status, body) = post(
        &ctx,
        "/v1/auth/verify-email",
        json!({ "email": "ada@example.com", "code": resent.code().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn accounts_left_unverified_are_purged_after_a_week_but_not_before() {
    let ctx = spawn().await;
    register_pending(&ctx, "stale@example.com").await;
    ctx.register("fresh@example.com", None).await;
    ctx.app.clock.advance(Span::days(6));
    register_pending(&ctx, "late@example.com").await;
    assert_eq!(
        ctx.app.purge_stale().await.unwrap().unverified_accounts.len(),
        0,
        "six days is not yet a week"
    );
    ctx.app.clock.advance(Span::days(2));
    // Eight days after it registered, the account that never verified is gone: its address is
    // free again. The verified one, and the one registered two days ago, stay.
    assert_eq!(ctx.app.purge_stale().await.unwrap().unverified_accounts.len(), 1);
    assert_eq!(ctx.login("fresh@example.com", PASSWORD).await.0, StatusCode::OK);
    let (status, body) = ctx.login("late@example.com", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );
    assert_eq!(
        ctx.login("stale@example.com", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mail = register_pending(&ctx, "stale@example.com").await;
    assert_eq!(
        mail.subject(),
        "Verify your email for Portcullis",
        "a fresh sign-up, not a notice"
    );
}
