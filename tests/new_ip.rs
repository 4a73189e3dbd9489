//! The new-IP login policy end to end with real mail. Requests come from different loopback
//! addresses (127.0.0.2, 127.0.0.3 ...) to play different client networks; registration
//! happens from 127.0.0.1, which the account therefore knows.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use std::net::IpAddr;

use chrono::Duration as Span;
use common::{Ctx, PASSWORD, error_code, read};
use portcullis_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app(policy: &str) -> Ctx {
    let policy = match policy {
        "off" => portcullis_server::config::NewIpPolicyConfig::Off,
        "notify" => portcullis_server::config::NewIpPolicyConfig::Notify,
        _ => portcullis_server::config::NewIpPolicyConfig::Require,
    };
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| c.login.new_ip_policy = policy)
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, true)
}

async fn from(ctx: &Ctx, ip: [u8; 4], path: &str, body: Value) -> (StatusCode, Value) {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap();
    read(client.post(ctx.app.url(path)).json(&body).send().await.unwrap()).await
}

async fn login_from(ctx: &Ctx, ip: [u8; 4]) -> (StatusCode, Value) {
    from(
        ctx,
        ip,
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": PASSWORD }),
    )
    .await
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Mails of `kind` enqueued so far (the outbox, so nothing depends on delivery timing).
async fn enqueued(ctx: &Ctx, kind: &str) -> i64 {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    diesel::sql_query(format!("SELECT count(*) AS n FROM mail_outbox WHERE kind = '{kind}'"))
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn notify_lets_a_new_network_in_and_tells_the_owner_once() {
    let ctx = app("notify").await;
    ctx.register("ada@example.com", None).await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 1]).await.0, StatusCode::OK);
    assert_eq!(
        enqueued(&ctx, "new_sign_in_notice").await,
        0,
        "the registration network is known"
    );

    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::OK);
    let notice = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(notice.subject(), "New sign-in to your Portcullis account");
    assert!(notice.text().contains("127.0.0.2"), "{}", notice.text());
    assert!(notice.has_both_parts());
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::OK);
    assert_eq!(
        enqueued(&ctx, "new_sign_in_notice").await,
        1,
        "known after the first sign-in"
    );
}

#[tokio::test]
async fn off_does_nothing() {
    let ctx = app("off").await;
    ctx.register("ada@example.com", None).await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::OK);
    assert_eq!(enqueued(&ctx, "new_sign_in_notice").await, 0);
    assert_eq!(enqueued(&ctx, "ip_authorization").await, 0);
}

#[tokio::test]
async fn require_refuses_a_new_network_until_a_mailed_link_or_code_authorizes_it() {
    let ctx = app("require").await;
    ctx.register("ada@example.com", None).await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 1]).await.0, StatusCode::OK);

    // Wrong password from a new network: the usual 401, and no mail.
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 2],
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": "not the password" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(enqueued(&ctx, "ip_authorization").await, 0);

    let seen = ctx.mail_count("ada@example.com").await;
    let (status, body) = login_from(&ctx, [127, 0, 0, 2]).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "ip_authorization_required")
    );
    let mail = ctx.next_mail("ada@example.com", seen).await;
    assert_eq!(mail.subject(), "Authorize a new sign-in to Portcullis");
    assert!(mail.text().contains("127.0.0.2"));
    assert!(
        mail.link()
            .unwrap()
            .starts_with("http://localhost:3000/authorize-ip?token=pcl_")
    );
    // Trying again while the link lives sends no second mail.
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(enqueued(&ctx, "ip_authorization").await, 1);

    // Authorizing logs nobody in; the user then logs in from that network.
    let (status, body) = from(
        &ctx,
        [127, 0, 0, 9],
        "/v1/auth/authorize-ip",
        json!({ "token": mail.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"].get("access_token").is_none());
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 2],
        "/v1/auth/authorize-ip",
        json!({ "token": mail.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "single use");
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::OK);
    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(
        login_from(&ctx, [127, 0, 0, 9]).await.0,
        StatusCode::FORBIDDEN,
        "only the network the mail was for"
    );
    // Wait for that network's own mail so it is not mistaken for the next one.
    let mail = ctx.next_mail("ada@example.com", seen).await;
    assert!(mail.text().contains("127.0.0.9"), "{}", mail.text());

    // By code, with the account's address.
    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 3]).await.0, StatusCode::FORBIDDEN);
    let mail = ctx.next_mail("ada@example.com", seen).await;
    assert!(mail.text().contains("127.0.0.3"), "{}", mail.text());
    let (status, body) = from(
        &ctx,
        [127, 0, 0, 3],
        "/v1/auth/authorize-ip",
        json!({ "email": "ada@example.com", "code": mail.code().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(login_from(&ctx, [127, 0, 0, 3]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_new_authorization_mail_goes_out_once_the_old_link_expired() {
    let ctx = app("require").await;
    ctx.register("ada@example.com", None).await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::FORBIDDEN);
    ctx.app.clock.advance(Span::minutes(59));
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(enqueued(&ctx, "ip_authorization").await, 1);
    ctx.app.clock.advance(Span::minutes(2));
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(enqueued(&ctx, "ip_authorization").await, 2);
}

#[tokio::test]
async fn new_networks_buy_no_extra_code_guesses_and_a_reset_kills_pending_authorizations() {
    let ctx = app("require").await;
    ctx.register("ada@example.com", None).await;
    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 2]).await.0, StatusCode::FORBIDDEN);
    let first = ctx.next_mail("ada@example.com", seen).await;
    let guess = |code: &'static str| {
        from(
            &ctx,
            [127, 0, 0, 2],
            "/v1/auth/authorize-ip",
            json!({ "email": "ada@example.com", "code": code }),
        )
    };
    let wrong = |right: &str| if right == "000000" { "111111" } else { "000000" };
    let first_code = first.code().unwrap();
    for _ in 0..4 {
        assert_eq!(guess(wrong(&first_code)).await.0, StatusCode::BAD_REQUEST);
    }
    // A sign-in from another network replaces the authorization (one live per account), and
    // the four wrong guesses carry over to the new code.
    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 3]).await.0, StatusCode::FORBIDDEN);
    let second = ctx.next_mail("ada@example.com", seen).await;
    let second_code = second.code().unwrap();
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 9],
        "/v1/auth/authorize-ip",
        json!({ "token": first.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the replaced link is dead");
    assert_eq!(guess(wrong(&second_code)).await.0, StatusCode::BAD_REQUEST);
    // That was the fifth wrong guess: the right code is dead too.
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 3],
        "/v1/auth/authorize-ip",
        json!({ "email": "ada@example.com", "code": second_code }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The link still works (codes die, links do not) -- unless the password is reset first.
    let seen = ctx.mail_count("ada@example.com").await;
    let res = ctx
        .post("/v1/auth/password/forgot", json!({ "email": "ada@example.com" }))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let reset = ctx.next_mail("ada@example.com", seen).await;
    let (status, body) = read(
        ctx.post(
            "/v1/auth/password/reset",
            json!({ "token": reset.token().unwrap(), "new_password": "a brand new passphrase" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 3],
        "/v1/auth/authorize-ip",
        json!({ "token": second.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reset kills pending authorizations");
}

#[tokio::test]
async fn authorization_codes_have_a_total_cap_however_many_networks_ask() {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.login.new_ip_policy = portcullis_server::config::NewIpPolicyConfig::Require;
            c.one_time.max_code_attempts_total = 10;
        })
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    ctx.register("ada@example.com", None).await;
    let guess = |code: String| {
        let ctx = &ctx;
        async move {
            from(
                ctx,
                [127, 0, 0, 9],
                "/v1/auth/authorize-ip",
                json!({ "email": "ada@example.com", "code": code }),
            )
            .await
        }
    };
    // Someone with the password signs in from one new network after another, each time after
    // the last code has expired, and spends each code's five tries.
    let mut last = None;
    for network in 2..=4u8 {
        let seen = ctx.mail_count("ada@example.com").await;
        assert_eq!(login_from(&ctx, [127, 0, 0, network]).await.0, StatusCode::FORBIDDEN);
        let mail = ctx.next_mail("ada@example.com", seen).await;
        let code = mail.code().unwrap();
        if network < 4 {
            let wrong = if code == "000000" { "111111" } else { "000000" };
            for _ in 0..5 {
                assert_eq!(guess(wrong.to_owned()).await.0, StatusCode::BAD_REQUEST);
            }
            ctx.app.clock.advance(Span::minutes(61));
        }
        last = Some((mail, code));
    }
    // Ten wrong codes in all: the third network's code is refused although it is right...
    let (mail, code) = last.unwrap();
    let (status, body) = guess(code).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );
    // ...while its link, which cannot be guessed, still works, and starts the count afresh.
    let (status, _) = from(
        &ctx,
        [127, 0, 0, 4],
        "/v1/auth/authorize-ip",
        json!({ "token": mail.token().unwrap() }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login_from(&ctx, [127, 0, 0, 4]).await.0, StatusCode::OK);
    let seen = ctx.mail_count("ada@example.com").await;
    assert_eq!(login_from(&ctx, [127, 0, 0, 5]).await.0, StatusCode::FORBIDDEN);
    let code = ctx.next_mail("ada@example.com", seen).await.code().unwrap();
    assert_eq!(guess(code).await.0, StatusCode::OK);
}
