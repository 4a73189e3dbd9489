//! Rate limits over HTTP: per client network, per account, per mail recipient; their reset on
//! the app's clock; one set of counters for every worker; trusted proxies and spoofed
//! `X-Forwarded-For`; IPv6 clients keyed by /64. Loopback addresses (127.0.0.x) play different
//! client networks.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use std::net::IpAddr;

use chrono::Duration as Span;
use common::{Ctx, PASSWORD, error_code, read};
use portcullis_server::config::{LimitConfig, LimitsConfig};
use portcullis_testkit::TestApp;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// An app with only the limits `set` turns on.
async fn app_with(set: impl FnOnce(&mut LimitsConfig), more: impl FnOnce(&mut portcullis_server::Config)) -> Ctx {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            set(&mut c.limits);
            more(c);
        })
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, true)
}

fn quota(count: u32, period_secs: u64) -> LimitConfig {
    LimitConfig { count, period_secs }
}

/// A POST from loopback address `ip`, with extra headers.
async fn post_from(ctx: &Ctx, ip: [u8; 4], path: &str, body: Value, headers: &[(&str, &str)]) -> Response {
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .unwrap();
    let mut req = client.post(ctx.app.url(path)).json(&body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

async fn wrong_login(ctx: &Ctx, ip: [u8; 4], headers: &[(&str, &str)]) -> Response {
    post_from(
        ctx,
        ip,
        "/v1/auth/login",
        json!({ "login": "nobody@example.com", "password": "wrong password" }),
        headers,
    )
    .await
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_flood_from_one_network_is_cut_off_while_another_is_served_and_the_limit_resets() {
    let ctx = app_with(|l| l.login_per_ip = quota(5, 900), |_| {}).await;
    for left in (0..5).rev() {
        let res = wrong_login(&ctx, [127, 0, 0, 2], &[]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&res, "ratelimit-limit"), Some("5"));
        assert_eq!(header(&res, "ratelimit-remaining"), Some(left.to_string().as_str()));
    }
    let res = wrong_login(&ctx, [127, 0, 0, 2], &[]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&res, "retry-after"),
        Some("180"),
        "one attempt back every 900 s / 5"
    );
    assert_eq!(header(&res, "ratelimit-remaining"), Some("0"));
    let (_, body) = read(res).await;
    assert_eq!(error_code(&body), "rate_limited");
    assert_eq!(body["success"], false);

    // Another network is served; the right password from the flooded one is refused too.
    assert_eq!(
        wrong_login(&ctx, [127, 0, 0, 3], &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    ctx.register("ada@example.com", None).await;
    let res = post_from(
        &ctx,
        [127, 0, 0, 2],
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": PASSWORD }),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // One attempt comes back after 180 s; the whole quota after 900 s of quiet.
    ctx.app.clock.advance(Span::seconds(180));
    assert_eq!(
        wrong_login(&ctx, [127, 0, 0, 2], &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        wrong_login(&ctx, [127, 0, 0, 2], &[]).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    ctx.app.clock.advance(Span::seconds(900));
    for _ in 0..5 {
        assert_eq!(
            wrong_login(&ctx, [127, 0, 0, 2], &[]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn each_public_limit_counts_its_own_endpoints() {
    let ctx = app_with(
        |l| {
            l.register_per_ip = quota(3, 3600);
            l.password_reset_per_ip = quota(3, 3600);
            l.resend_per_ip = quota(3, 3600);
            l.secret_submissions_per_ip = quota(4, 900);
        },
        |_| {},
    )
    .await;
    let ip = [127, 0, 0, 4];
    for i in 0..3 {
        let res = post_from(
            &ctx,
            ip,
            "/v1/auth/register",
            json!({ "email": format!("user{i}@example.com"), "password": PASSWORD }),
            &[],
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = post_from(
        &ctx,
        ip,
        "/v1/auth/register",
        json!({ "email": "user9@example.com", "password": PASSWORD }),
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    for path in ["/v1/auth/password/forgot", "/v1/auth/verify-email/resend"] {
        for _ in 0..3 {
            let res = post_from(&ctx, ip, path, json!({ "email": "someone@example.com" }), &[]).await;
            assert_eq!(res.status(), StatusCode::ACCEPTED, "{path}");
            assert_eq!(header(&res, "ratelimit-limit"), Some("3"));
        }
        let res = post_from(&ctx, ip, path, json!({ "email": "someone@example.com" }), &[]).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }

    // Code and token submissions share one budget, across their four endpoints.
    let bad_token = json!({ "token": "pcl_not-a-real-token", "new_password": PASSWORD });
    for path in [
        "/v1/auth/verify-email",
        "/v1/auth/password/verify",
        "/v1/auth/password/reset",
        "/v1/auth/authorize-ip",
    ] {
        let res = post_from(&ctx, ip, path, bad_token.clone(), &[]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    let res = post_from(&ctx, ip, "/v1/auth/verify-email", bad_token.clone(), &[]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Login is not one of them.
    assert_eq!(wrong_login(&ctx, ip, &[]).await.status(), StatusCode::UNAUTHORIZED);
    // Even a malformed body counts, and is refused before it is read.
    let res = post_from(&ctx, [127, 0, 0, 5], "/v1/auth/password/forgot", json!([]), &[]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_limit_is_shared_by_every_worker() {
    let ctx = app_with(|l| l.login_per_ip = quota(5, 900), |c| c.server.workers = 4).await;
    // Forty requests, each on its own connection, so the workers share them out.
    let attempts = (0..40).map(|_| async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        client
            .post(ctx.app.url("/v1/auth/login"))
            .json(&json!({ "login": "nobody@example.com", "password": "wrong password" }))
            .send()
            .await
            .unwrap()
            .status()
    });
    let statuses = futures::future::join_all(attempts).await;
    let served = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((served, limited), (5, 35), "{statuses:?}");
}

#[tokio::test]
async fn only_a_trusted_proxy_may_name_the_client_and_ipv6_clients_count_by_their_64() {
    let ctx = app_with(
        |l| l.login_per_ip = quota(2, 900),
        |c| c.server.trusted_proxies = vec!["127.0.0.1".into()],
    )
    .await;
    let ctx = &ctx;
    let via_proxy = |client: &'static str| async move {
        wrong_login(ctx, [127, 0, 0, 1], &[("X-Forwarded-For", client)])
            .await
            .status()
    };
    // Through our proxy, each client has its own budget.
    assert_eq!(via_proxy("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(via_proxy("203.0.113.9, 198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(via_proxy("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(via_proxy("198.51.100.2").await, StatusCode::UNAUTHORIZED);

    // IPv6: one /64 is one client; the next /64 is another.
    assert_eq!(via_proxy("2001:db8:1:2::1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        via_proxy("2001:db8:1:2:ffff:ffff:ffff:ffff").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(via_proxy("[2001:db8:1:2::77]:443").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(via_proxy("2001:db8:1:3::1").await, StatusCode::UNAUTHORIZED);

    // An untrusted peer's header is ignored: every spoofed address counts against the peer.
    let spoofed = |client: &'static str| async move {
        wrong_login(ctx, [127, 0, 0, 7], &[("X-Forwarded-For", client)])
            .await
            .status()
    };
    assert_eq!(spoofed("192.0.2.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(spoofed("192.0.2.2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(spoofed("192.0.2.3").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(spoofed("127.0.0.1").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_client_a_trusted_proxy_names_is_what_sessions_record() {
    let ctx = app_with(|_| {}, |c| c.server.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    ctx.register("ada@example.com", None).await;
    let res = post_from(
        &ctx,
        [127, 0, 0, 1],
        "/v1/auth/login",
        json!({ "login": "ada@example.com", "password": PASSWORD }),
        &[("X-Forwarded-For", "2001:db8:aa::5, 127.0.0.9")],
    )
    .await;
    let (status, body) = read(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["data"]["access_token"].as_str().unwrap();
    let (_, sessions) = read(ctx.get("/v1/account/sessions", Some(token)).await).await;
    let current: Vec<&Value> = sessions["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current[0]["ip"], "2001:db8:aa::5");
}

#[tokio::test]
async fn failed_logins_throttle_each_login_name_and_an_unknown_name_alike() {
    let ctx = app_with(|l| l.failed_logins_per_account = quota(3, 900), |_| {}).await;
    ctx.register("ada@example.com", Some("ada")).await;
    ctx.register("bob@example.com", None).await;
    let ctx = &ctx;
    let attempt = |login: &'static str, password: &'static str, ip: u8| async move {
        read(
            post_from(
                ctx,
                [127, 0, 0, ip],
                "/v1/auth/login",
                json!({ "login": login, "password": password }),
                &[],
            )
            .await,
        )
        .await
    };
    // Three failures under the address, from different networks and spellings.
    assert_eq!(
        attempt("ada@example.com", "wrong one", 2).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("ADA@example.com", "wrong two", 3).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("ada@EXAMPLE.com", "wrong three", 4).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Now even the right password waits; the answer names no account.
    let (status, locked) = attempt("ada@example.com", PASSWORD, 5).await;
    assert_eq!(
        (status, error_code(&locked)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    // The account's username has a budget of its own, so throttling the address does not tell
    // anyone that the two belong to one account.
    assert_eq!(attempt("ada", PASSWORD, 5).await.0, StatusCode::OK);

    // An unknown name goes the same way, with the same body.
    for _ in 0..3 {
        assert_eq!(
            attempt("ghost@example.com", "whatever1", 6).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, ghost) = attempt("ghost@example.com", "whatever1", 6).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(ghost["error"], locked["error"]);

    // Other accounts are untouched.
    assert_eq!(attempt("bob@example.com", PASSWORD, 2).await.0, StatusCode::OK);

    // Each lockout is in the trail once, when it began: the address's and the unknown name's.
    let key = common::admin_key(ctx, "support", None, false).await;
    let (status, trail) = read(
        ctx.get("/v1/admin/tenants/default/events?type=login.locked", Some(&key))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let locked_events = trail["data"]["items"].as_array().unwrap();
    assert_eq!(locked_events.len(), 2, "{trail}");
    assert_eq!(locked_events[0]["user_id"], Value::Null, "the unknown name");
    assert!(locked_events[1]["user_id"].is_string());
    assert_eq!(locked_events[1]["details"]["scope"], "login_name");

    // Not a lock: one attempt returns after 900 s / 3.
    ctx.app.clock.advance(Span::seconds(300));
    assert_eq!(attempt("ada@example.com", PASSWORD, 2).await.0, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_account_throttle() {
    // The production hash cost, so each check takes long enough for guesses to overlap.
    let ctx = app_with(
        |l| l.failed_logins_per_account = quota(3, 900),
        |c| {
            c.passwords.argon2_m_cost_kib = 19_456;
            c.passwords.argon2_t_cost = 2;
        },
    )
    .await;
    ctx.register("ada@example.com", None).await;
    let ctx = &ctx;
    // Twelve wrong passwords at once, each from its own network: at most the quota's three may
    // reach the password check. A guess that comes while another is being checked is refused
    // at once (never held open), and the rest are held back once the failures are counted.
    let guesses = (0..12u8).map(|i| async move {
        let res = post_from(
            ctx,
            [127, 0, 1, 10 + i],
            "/v1/auth/login",
            json!({ "login": "ada@example.com", "password": format!("wrong guess {i}") }),
            &[],
        )
        .await;
        read(res).await.0
    });
    let statuses = futures::future::join_all(guesses).await;
    let wrong = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let held = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!((1..=3).contains(&wrong) && wrong + held == 12, "{statuses:?}");
}

#[tokio::test]
async fn consecutive_failures_back_off_growing_to_fifteen_minutes_and_a_success_resets() {
    let ctx = app_with(
        |l| {
            // The back-off belongs to the failed-login limit: on, with a quota out of the way.
            l.failed_logins_per_account = portcullis_server::config::LimitConfig {
                count: 1000,
                period_secs: 900,
            };
            l.failed_login_backoff_after = 3;
            l.failed_login_backoff_first_secs = 1;
            l.failed_login_backoff_max_secs = 900;
        },
        |_| {},
    )
    .await;
    ctx.register("ada@example.com", None).await;
    let attempt = |login: &'static str, password: &'static str| {
        let ctx = &ctx;
        async move {
            let res = post_from(
                ctx,
                [127, 0, 5, 1],
                "/v1/auth/login",
                json!({ "login": login, "password": password }),
                &[],
            )
            .await;
            let retry_after: Option<u64> = header(&res, "retry-after").and_then(|v| v.parse().ok());
            let (status, body) = read(res).await;
            (status, body, retry_after)
        }
    };
    for (login, password) in [("ada@example.com", "wrong guess"), ("ghost@example.com", "whatever1")] {
        // Three free failures, and the fourth attempt is still checked.
        for _ in 0..4 {
            assert_eq!(attempt(login, password).await.0, StatusCode::UNAUTHORIZED, "{login}");
        }
        // From then on each failure makes the name wait twice as long, up to 15 minutes; the
        // refusal is immediate and says how long.
        let mut waits = Vec::new();
        for _ in 0..12 {
            let (status, body, retry_after) = attempt(login, password).await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            );
            let wait = retry_after.unwrap();
            waits.push(wait);
            ctx.app.clock.advance(Span::seconds(i64::try_from(wait).unwrap()));
            assert_eq!(attempt(login, password).await.0, StatusCode::UNAUTHORIZED, "{login}");
        }
        assert_eq!(&waits[..5], &[1, 2, 4, 8, 16], "{login}: {waits:?}");
        assert_eq!(waits.last(), Some(&900), "{login}: capped at 15 minutes: {waits:?}");
    }
    // The owner, once the wait is over, gets in with the right password, and that resets it.
    ctx.app.clock.advance(Span::seconds(900));
    assert_eq!(attempt("ada@example.com", PASSWORD).await.0, StatusCode::OK);
    for _ in 0..4 {
        assert_eq!(
            attempt("ada@example.com", "wrong guess").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn re_authenticating_endpoints_are_limited_per_account() {
    let ctx = app_with(|l| l.reauthentication_per_account = quota(3, 1800), |_| {}).await;
    let ada = ctx.register("ada@example.com", None).await;
    let bob = ctx.register("bob@example.com", None).await;
    let token = ada["access_token"].as_str().unwrap();
    let disable = |token: &str| {
        let (ctx, token) = (&ctx, token.to_owned());
        async move {
            ctx.post_bearer(
                "/v1/account/mfa/totp/disable",
                &token,
                json!({ "current_password": PASSWORD, "code": "000000" }),
            )
            .await
        }
    };
    // Password change, email change, TOTP disable and recovery codes share the account's limit.
    for (path, body) in [
        (
            "/v1/account/mfa/totp/disable",
            json!({ "current_password": PASSWORD, "code": "000000" }),
        ),
        ("/v1/account/mfa/recovery-codes", json!({ "code": "000000" })),
        (
            "/v1/account/password",
            json!({ "current_password": "wrong guess", "new_password": "a brand new passphrase" }),
        ),
    ] {
        let res = ctx.post_bearer(path, token, body).await;
        assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
    }
    let res = disable(token).await;
    let retry_after = header(&res, "retry-after").map(str::to_owned);
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry_after.is_some());
    let res = ctx
        .post_bearer(
            "/v1/account/email",
            token,
            json!({ "new_email": "ada2@example.com", "current_password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another account is not affected, and the limit comes back with time.
    assert_eq!(
        disable(bob["access_token"].as_str().unwrap()).await.status(),
        StatusCode::CONFLICT
    );
    ctx.app.clock.advance(Span::seconds(600));
    assert_eq!(disable(token).await.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn guessing_from_elsewhere_does_not_lock_the_owner_out_of_a_known_network() {
    let ctx = app_with(|l| l.failed_logins_per_account = quota(3, 900), |_| {}).await;
    ctx.register("ada@example.com", None).await;
    let login = |ip: [u8; 4], password: &'static str| {
        let ctx = &ctx;
        async move {
            let res = post_from(
                ctx,
                ip,
                "/v1/auth/login",
                json!({ "login": "ada@example.com", "password": password }),
                &[],
            )
            .await;
            read(res).await
        }
    };
    let home = [127, 0, 2, 1];
    let elsewhere = [127, 0, 3, 1];
    // The owner signs in from home once, which makes that network known (policy `notify`).
    assert_eq!(login(home, PASSWORD).await.0, StatusCode::OK);
    // Someone else uses up the account's budget from another network.
    for _ in 0..3 {
        assert_eq!(login(elsewhere, "wrong guess").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = login(elsewhere, PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    // From home the owner still gets in.
    assert_eq!(login(home, PASSWORD).await.0, StatusCode::OK);
    // A known network has a budget of its own, not none.
    for _ in 0..3 {
        assert_eq!(login(home, "wrong guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(home, PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn wrong_current_passwords_count_against_the_account_too() {
    let ctx = app_with(|l| l.failed_logins_per_account = quota(3, 900), |_| {}).await;
    let pair = ctx.register("ada@example.com", None).await;
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let change = |current: &'static str| {
        let (ctx, access) = (&ctx, access.clone());
        async move {
            let res = ctx
                .post_bearer(
                    "/v1/account/password",
                    &access,
                    json!({ "current_password": current, "new_password": "a-new-Passw0rd-here" }),
                )
                .await;
            let retry_after = header(&res, "retry-after").map(str::to_owned);
            let (status, body) = read(res).await;
            (status, body, retry_after)
        }
    };
    // A stolen access token is no oracle for the password: three wrong guesses, then the
    // account waits, even with the right one.
    for _ in 0..3 {
        let (status, body, _) = change("wrong guess").await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    let (status, body, retry_after) = change(PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
    );
    assert_eq!(retry_after.as_deref(), Some("300"));
    // That budget is the account's own: the owner's login is not held up by a token thief's
    // guesses (its login names have budgets of their own).
    let (status, _) = read(
        post_from(
            &ctx,
            [127, 0, 4, 1],
            "/v1/auth/login",
            json!({ "login": "ada@example.com", "password": PASSWORD }),
            &[],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Back-off: one attempt returns after 900 s / 3.
    ctx.app.clock.advance(Span::seconds(300));
    assert_eq!(change(PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn mails_anyone_can_trigger_are_limited_per_recipient_with_the_same_answer() {
    let ctx = app_with(
        |l| {
            l.mails_per_recipient_per_minute = quota(1, 60);
            l.mails_per_recipient_per_day = quota(3, 86_400);
        },
        |_| {},
    )
    .await;
    let verification = ctx.register("ada@example.com", None).await;
    assert!(verification.is_object());
    let forgot = || async {
        let res = ctx
            .post("/v1/auth/password/forgot", json!({ "email": "ada@example.com" }))
            .await;
        read(res).await
    };
    // The signup mail used this minute's allowance: the answer is the same, no mail follows.
    let first = forgot().await;
    assert_eq!(first.0, StatusCode::ACCEPTED);
    assert_eq!(ctx.mail_count("ada@example.com").await, 1);

    ctx.app.clock.advance(Span::seconds(60));
    assert_eq!(forgot().await, first);
    assert_eq!(ctx.mail_count("ada@example.com").await, 2);
    ctx.app.clock.advance(Span::seconds(60));
    assert_eq!(forgot().await, first);
    assert_eq!(ctx.mail_count("ada@example.com").await, 3);
    // Three today: the day's allowance is gone, minute or not.
    ctx.app.clock.advance(Span::seconds(60));
    assert_eq!(forgot().await, first);
    assert_eq!(ctx.mail_count("ada@example.com").await, 3);
    // Registering the address again would notify its owner; not today.
    let res = ctx
        .post(
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(ctx.mail_count("ada@example.com").await, 3);

    // Unknown addresses get the same answer, and are counted the same way.
    let res = ctx
        .post("/v1/auth/password/forgot", json!({ "email": "nobody@example.com" }))
        .await;
    assert_eq!(read(res).await, first);

    // A day later, mail flows again.
    ctx.app.clock.advance(Span::seconds(86_400));
    assert_eq!(forgot().await, first);
    assert_eq!(ctx.mail_count("ada@example.com").await, 4);
}

#[tokio::test]
async fn defaults_follow_the_contract_and_zero_disables() {
    let defaults = LimitsConfig::default();
    assert_eq!(defaults.login_per_ip, quota(5, 900));
    assert_eq!(defaults.register_per_ip, quota(3, 3600));
    assert_eq!(defaults.password_reset_per_ip, quota(3, 3600));
    assert_eq!(defaults.secret_submissions_per_ip, quota(10, 900));
    assert_eq!(defaults.failed_logins_per_account, quota(10, 900));
    assert_eq!(defaults.mails_per_recipient_per_minute, quota(1, 60));
    assert_eq!(defaults.mails_per_recipient_per_day, quota(10, 86_400));
    // Beyond the contract's table: a few email changes an hour, re-authentication bounded, and
    // back-off from the fourth failed password on, up to 15 minutes.
    assert_eq!(defaults.email_change_per_account, quota(3, 3600));
    assert_eq!(defaults.reauthentication_per_account, quota(10, 3600));
    assert_eq!(
        (
            defaults.failed_login_backoff_after,
            defaults.failed_login_backoff_first_secs,
            defaults.failed_login_backoff_max_secs
        ),
        (3, 1, 900)
    );

    let ctx = app_with(|l| l.login_per_ip = quota(0, 900), |_| {}).await;
    for _ in 0..20 {
        let res = wrong_login(&ctx, [127, 0, 0, 2], &[]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&res, "ratelimit-limit"), None);
    }
}

#[tokio::test]
async fn a_stranger_logs_in_while_another_account_hammers_re_authentication() {
    // One hashing thread and a short queue: the hammering alone can fill it.
    let ctx = app_with(
        |_| {},
        |c| {
            c.passwords.argon2_m_cost_kib = 4096;
            c.passwords.hashing_threads = 1;
            c.passwords.hashing_queue = Some(8);
            c.passwords.hashing_wait_ms = 150;
            c.server.workers = 2;
        },
    )
    .await;
    let hammer = ctx.register("hammer@example.com", None).await;
    ctx.register("stranger@example.com", None).await;
    let token = hammer["access_token"].as_str().unwrap().to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Correct-password requests that each cost a hash (TOTP is not enabled: 409 after it).
    let loops: Vec<_> = (0..40)
        .map(|_| {
            let (http, url, token, stop) = (
                ctx.http.clone(),
                ctx.app.url("/v1/account/mfa/totp/disable"),
                token.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let body = json!({ "current_password": PASSWORD, "code": "000000" });
                let mut answers = std::collections::BTreeMap::<u16, usize>::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = http.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                    *answers.entry(res.status().as_u16()).or_default() += 1;
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for _ in 0..5 {
        let (status, body) = ctx.login("stranger@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "the stranger is served in turn: {body}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for l in loops {
        for (status, n) in l.await.unwrap() {
            *answers.entry(status).or_default() += n;
        }
    }
    // The hammering was real: served (409, TOTP is off) and turned away when over its share.
    assert!(answers.get(&409).copied().unwrap_or(0) > 0, "{answers:?}");
    assert!(answers.get(&503).copied().unwrap_or(0) > 0, "{answers:?}");
}
