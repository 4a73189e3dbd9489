//! What an operator and a browser front end meet over HTTP: CORS for configured origins,
//! preflights that cost no limit, `HEAD` on the health endpoints, and the request id a trusted
//! proxy passes on.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, PASSWORD, admin_key, read};
use portcullis_testkit::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

const APP_ORIGIN: &str = "https://app.example.com";

async fn app(set: impl FnOnce(&mut portcullis_server::Config)) -> Ctx {
    let app = TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.server.cors_allowed_origins = vec![APP_ORIGIN.to_owned()];
            set(c);
        })
        .spawn()
        .await
        .unwrap();
    Ctx::new(app, true)
}

async fn preflight(ctx: &Ctx, origin: &str, path: &str) -> reqwest::Response {
    ctx.http
        .request(Method::OPTIONS, ctx.app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, authorization")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_and_another_does_not() {
    let ctx = app(|_| {}).await;
    let res = preflight(&ctx, APP_ORIGIN, "/v1/auth/login").await;
    assert!(res.status().is_success(), "{}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(h["access-control-max-age"], "600");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = h["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "no credentials without cookie mode"
    );

    let refused = preflight(&ctx, "https://evil.example.net", "/v1/auth/login").await;
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    // The real request from the allowed origin carries the headers a page reads.
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .header("origin", APP_ORIGIN)
        .json(&json!({ "login": "nobody@example.com", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["access-control-allow-origin"], APP_ORIGIN);
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("retry-after"),
        "{exposed}"
    );

    // A request from another origin is served as any other (the browser, not the server,
    // withholds the answer from the page): CORS is no access control for non-browser clients.
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .header("origin", "https://evil.example.net")
        .json(&json!({ "login": "nobody@example.com", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Without configured origins there is no CORS at all: a preflight is a 405 in the envelope,
    // and a same-origin browser POST (which carries Origin) works.
    let plain = common::spawn().await;
    let res = preflight(&plain, APP_ORIGIN, "/v1/auth/login").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let (_, body) = read(res).await;
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let res = plain
        .http
        .post(plain.app.url("/v1/auth/login"))
        .header("origin", plain.app.url(""))
        .json(&json!({ "login": "nobody@example.com", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn preflights_and_other_methods_cost_no_limit() {
    let ctx = app(|c| {
        c.limits.login_per_ip = portcullis_server::config::LimitConfig {
            count: 5,
            period_secs: 900,
        };
        c.limits.register_per_ip = portcullis_server::config::LimitConfig {
            count: 1,
            period_secs: 900,
        };
    })
    .await;
    ctx.register("ada@example.com", None).await;
    for _ in 0..6 {
        let res = preflight(&ctx, APP_ORIGIN, "/v1/auth/login").await;
        assert!(res.status().is_success());
        let wrong = ctx.http.get(ctx.app.url("/v1/auth/login")).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
        let wrong = ctx.http.get(ctx.app.url("/v1/auth/register")).send().await.unwrap();
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn health_answers_head() {
    let ctx = common::spawn().await;
    for path in ["/health/live", "/health/ready"] {
        let res = ctx.http.head(ctx.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept_and_anyone_elses_is_not() {
    let trusting = app(|c| c.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let key = admin_key(&trusting, "support", None, false).await;
    let res = trusting
        .http
        .post(trusting.app.url("/v1/auth/login"))
        .header("x-request-id", "edge-4711.a:b_c")
        .json(&json!({ "login": "nobody@example.com", "password": "whatever it is" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "edge-4711.a:b_c");
    let (_, trail) = read(
        trusting
            .get("/v1/admin/tenants/default/events?type=login.failed", Some(&key))
            .await,
    )
    .await;
    assert_eq!(trail["data"]["items"][0]["request_id"], "edge-4711.a:b_c", "{trail}");

    // A malformed id from the proxy is replaced.
    let res = trusting
        .http
        .get(trusting.app.url("/health/live"))
        .header("x-request-id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "has spaces and \"quotes\"");

    // A client that is not a trusted proxy cannot choose its id.
    let direct = common::spawn().await;
    let res = direct
        .http
        .get(direct.app.url("/health/live"))
        .header("x-request-id", "chosen-by-client")
        .send()
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "chosen-by-client");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

/// A database whose schema falls behind the build (recreated, restored from an older backup)
/// makes the node not ready, instead of ready with every call failing.
#[tokio::test]
async fn readiness_is_false_while_migrations_are_pending() {
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    let ctx = common::spawn().await;
    let ready = |ctx: &Ctx| {
        let req = ctx.http.get(ctx.app.url("/health/ready")).send();
        async { req.await.unwrap().status() }
    };
    assert_eq!(ready(&ctx).await, StatusCode::OK);
    let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
        .await
        .unwrap();
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, body) = read(ctx.get("/health/ready", None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}
