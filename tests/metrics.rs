//! `GET /metrics`: the Prometheus series an operator scrapes, after real traffic; labels that
//! cannot explode; the endpoint moved to its own address or turned off.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, PASSWORD};
use portcullis_server::config::LimitConfig;
use portcullis_testkit::TestApp;
use reqwest::StatusCode;

async fn app(set: impl FnOnce(&mut portcullis_server::Config)) -> Ctx {
    let app = TestApp::builder()
        .database_from_env()
        .configure(set)
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, true)
}

async fn scrape(ctx: &Ctx, base: &str) -> (StatusCode, String, String) {
    let res = ctx.http.get(format!("{base}/metrics")).send().await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.text().await.unwrap())
}

/// Scrapes until every one of `wanted` is in the text (background work records some), for up
/// to 5 s; the last text either way.
async fn scrape_until(ctx: &Ctx, wanted: &[&str]) -> String {
    let base = format!("http://{}", ctx.app.addr);
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(ctx, &base).await.2;
        if wanted.iter().all(|w| text.contains(w)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    text
}

#[tokio::test]
async fn after_a_login_the_series_are_there_by_route_outcome_and_limit() {
    let ctx = app(|c| {
        c.limits.login_per_ip = LimitConfig {
            count: 3,
            period_secs: 900,
        };
    })
    .await;
    let data = ctx.register("ada@example.com", None).await;
    let token = data["access_token"].as_str().unwrap();
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(
        ctx.login("ada@example.com", "not the password").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ctx.login("ada@example.com", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(
        ctx.login("ada@example.com", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "the fourth login from this network"
    );
    let me = ctx
        .http
        .get(ctx.app.url("/v1/account"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let user = data["user"]["id"].as_str().unwrap();
    let avatar = ctx
        .http
        .get(ctx.app.url(&format!("/v1/users/{user}/avatar")))
        .send()
        .await
        .unwrap();
    assert_eq!(avatar.status(), StatusCode::NOT_FOUND);

    let (status, kind, _) = scrape(&ctx, &format!("http://{}", ctx.app.addr)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = scrape_until(
        &ctx,
        &[r#"portcullis_mails_total{result="sent"}"#, "portcullis_outbox_pending "],
    )
    .await;
    for series in [
        r#"portcullis_http_requests_total{route="/v1/auth/login",method="POST",status="200"} 2"#,
        r#"portcullis_http_requests_total{route="/v1/auth/login",method="POST",status="401"} 1"#,
        r#"portcullis_http_requests_total{route="/v1/auth/login",method="POST",status="429"} 1"#,
        r#"portcullis_http_requests_total{route="/v1/account",method="GET",status="200"} 1"#,
        r#"portcullis_http_requests_total{route="/v1/users/{id}/avatar",method="GET",status="404"} 1"#,
        r#"portcullis_http_request_duration_seconds_bucket{route="/v1/auth/login",method="POST",le="0.01"}"#,
        r#"portcullis_logins_total{outcome="success"} 2"#,
        r#"portcullis_logins_total{outcome="invalid_credentials"} 1"#,
        r#"portcullis_rate_limited_total{limit="login"} 1"#,
        "portcullis_hash_duration_seconds_bucket{le=",
        "portcullis_hashes_in_flight 0",
        r#"portcullis_mails_total{result="sent"}"#,
        "portcullis_outbox_pending ",
        "portcullis_outbox_oldest_pending_seconds ",
        r#"portcullis_db_pool_connections{state="idle"}"#,
        r#"portcullis_db_pool_connections{state="in_use"}"#,
        "portcullis_db_pool_max_connections ",
        "portcullis_db_pool_waiting ",
        "portcullis_db_pool_wait_seconds_bucket{le=",
        "# HELP portcullis_logins_total",
        "# TYPE portcullis_http_request_duration_seconds histogram",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
    // Nothing a caller sent or is becomes a label.
    for private in ["ada@example.com", "127.0.0.1", user, token] {
        assert!(!text.contains(private), "{private} leaked into the metrics");
    }
}

#[tokio::test]
async fn metrics_on_their_own_address_are_not_on_the_public_one() {
    let ctx = app(|c| c.metrics.bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))).await;
    let own = ctx.app.metrics_addr.expect("a metrics listener");
    let (status, _, body) = scrape(&ctx, &format!("http://{}", ctx.app.addr)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains(r#""code":"not_found""#), "{body}");
    let (status, _, text) = scrape(&ctx, &format!("http://{own}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("portcullis_db_pool_max_connections"), "{text}");
    // The metrics address serves nothing else.
    let health = ctx.http.get(format!("http://{own}/health/live")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::NOT_FOUND);
    let login = ctx
        .http
        .post(format!("http://{own}/v1/auth/login"))
        .json(&serde_json::json!({ "login": "a@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let ctx = app(|c| c.metrics.enabled = false).await;
    assert_eq!(ctx.app.metrics_addr, None);
    let (status, _, _) = scrape(&ctx, &format!("http://{}", ctx.app.addr)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_the_service_address_only_allowed_networks_read_them() {
    let ctx = app(|c| c.metrics.allowed_networks = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let (status, _, body) = scrape(&ctx, &format!("http://{}", ctx.app.addr)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "127.0.0.1 is not in 10.0.0.0/8");
    assert!(body.contains(r#""code":"not_found""#), "{body}");
}
