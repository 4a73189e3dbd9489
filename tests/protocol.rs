//! The HTTP contract around the endpoints: envelope for every failure, content types, sizes,
//! unknown routes, wrong methods, health and request ids.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use common::{error_code, read, spawn};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn unknown_route_and_wrong_method_answer_in_the_envelope() {
    let ctx = spawn().await;
    let (status, body) = read(ctx.get("/v1/nope", None).await).await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let res = ctx.get("/v1/auth/login", None).await;
    assert_eq!(res.headers()["allow"], "POST");
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let res = ctx.http.delete(ctx.app.url("/v1/account")).send().await.unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn malformed_json_is_400_without_echoing_input() {
    let ctx = spawn().await;
    for raw in [
        "{bad",
        "[1,2",
        "\"just a string\"",
        "{\"login\": 1, \"password\": 12345678}",
    ] {
        let res = ctx
            .http
            .post(ctx.app.url("/v1/auth/login"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body) = read(res).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}: {body}");
        assert_eq!(error_code(&body), "malformed_body");
        assert!(
            !body.to_string().contains("12345678"),
            "the message must not quote input: {body}"
        );
    }
}

#[tokio::test]
async fn unsupported_media_type_is_415() {
    let ctx = spawn().await;
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("login=a&password=b")
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .body("{\"login\":\"a\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a body without a content type"
    );
}

#[tokio::test]
async fn oversized_body_is_413() {
    let ctx = spawn().await;
    let huge = json!({ "login": "a@example.com", "password": "x".repeat(100 * 1024) });
    let (status, body) = read(ctx.post("/v1/auth/login", huge).await).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // Also when streamed without a Content-Length.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..100).map(|_| Ok(vec![b' '; 1024])).collect();
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn health_endpoints_and_request_ids() {
    let ctx = spawn().await;
    let res = ctx.get("/health/live", None).await;
    assert!(res.headers().contains_key("x-request-id"));
    let (status, body) = read(res).await;
    assert_eq!((status, &body["data"]["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = read(ctx.get("/health/ready", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["database"], "ok");
    let ids: Vec<String> = futures::future::join_all((0..2).map(|_| ctx.get("/health/live", None)))
        .await
        .iter()
        .map(|r| r.headers()["x-request-id"].to_str().unwrap().to_owned())
        .collect();
    assert_ne!(ids[0], ids[1]);
}

#[tokio::test]
async fn database_outage_is_503_in_the_envelope_not_a_crash() {
    let ctx = spawn().await;
    ctx.register("ada@example.com", None).await;
    assert_eq!(ctx.get("/health/ready", None).await.status(), StatusCode::OK);
    ctx.app.drop_database().await.unwrap();
    let res = ctx.get("/health/ready", None).await;
    assert!(res.headers().contains_key("retry-after"));
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
    );
    let (status, body) = ctx.login("ada@example.com", common::PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable")
    );
    assert!(
        !body.to_string().contains("portcullis_test_"),
        "no internal detail: {body}"
    );
    // The process is still alive.
    assert_eq!(ctx.get("/health/live", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn over_long_targets_and_header_sections_are_refused_in_the_envelope() {
    let ctx = spawn().await;
    let long_path = format!("/v1/{}", "a".repeat(5000));
    let (status, body) = read(ctx.get(&long_path, None).await).await;
    assert_eq!((status, error_code(&body)), (StatusCode::URI_TOO_LONG, "uri_too_long"));
    let long_query = format!("/health/live?{}", "q=1&".repeat(1200));
    let (status, _) = read(ctx.get(&long_query, None).await).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);

    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/login"))
        .header("x-padding", "p".repeat(20 * 1024))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large")
    );
    let mut req = ctx.http.get(ctx.app.url("/health/live"));
    for i in 0..70 {
        req = req.header(format!("x-h{i}"), "1");
    }
    let (status, _) = read(req.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);

    // Ordinary requests are untouched.
    assert_eq!(ctx.get("/health/live", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn fields_a_client_must_not_set_are_never_applied() {
    let ctx = spawn().await;
    let other_tenant = uuid::Uuid::now_v7();
    let forced_id = uuid::Uuid::now_v7();
    let seen = ctx.mail_count("ada@example.com").await;
    let res = ctx
        .post(
            "/v1/auth/register",
            json!({
                "email": "ada@example.com", "password": common::PASSWORD,
                "email_verified": true, "tenant_id": other_tenant, "id": forced_id,
                "role": "admin", "mfa_enabled": true, "username_normalized": "root",
            }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = ctx.next_mail("ada@example.com", seen).await;
    // Not verified: login waits for the mailed link.
    let (status, body) = ctx.login("ada@example.com", common::PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "email_not_verified")
    );

    let (_, pair) = read(
        ctx.post("/v1/auth/verify-email", json!({ "token": mail.token().unwrap() }))
            .await,
    )
    .await;
    let user = &pair["data"]["user"];
    assert_ne!(user["id"], json!(forced_id));
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["tenant"]["slug"], "default");
    assert_ne!(user["tenant"]["id"], json!(other_tenant));
    let token = pair["data"]["access_token"].as_str().unwrap();

    // PATCH takes a username and nothing else.
    let res = ctx
        .http
        .patch(ctx.app.url("/v1/account"))
        .bearer_auth(token)
        .json(&json!({
            "username": "ada", "email": "mallory@example.com", "email_verified": false,
            "id": forced_id, "tenant_id": other_tenant, "mfa_enabled": true,
        }))
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, account) = read(ctx.get("/v1/account", Some(token)).await).await;
    let account = &account["data"];
    assert_eq!(account["username"], "ada");
    assert_eq!(account["email"], "ada@example.com");
    assert_eq!(account["email_verified"], true);
    assert_eq!(account["mfa_enabled"], false);
    assert_eq!(account["id"], user["id"]);
}

#[tokio::test]
async fn control_characters_get_a_clear_4xx_never_a_500() {
    let ctx = spawn().await;
    for (path, body, status) in [
        (
            "/v1/auth/register",
            json!({ "email": "ada@example.com", "password": common::PASSWORD, "tenant_slug": "de\u{0}fault" }),
            404,
        ),
        (
            "/v1/auth/register",
            json!({ "email": "a\u{0}da@example.com", "password": common::PASSWORD }),
            422,
        ),
        (
            "/v1/auth/login",
            json!({ "login": "a\u{0}b@example.com", "password": common::PASSWORD }),
            422,
        ),
        (
            "/v1/auth/login",
            json!({ "login": "user\u{0}name", "password": common::PASSWORD }),
            422,
        ),
        (
            "/v1/auth/password/forgot",
            json!({ "email": "ada@example.com", "tenant_slug": "x\u{0}" }),
            404,
        ),
        (
            "/v1/auth/verify-email",
            json!({ "email": "ada@example.com", "code": "123456", "tenant_slug": "\u{0}" }),
            404,
        ),
    ] {
        let res = ctx.post(path, body.clone()).await;
        assert_eq!(res.status().as_u16(), status, "{path} {body}");
    }
    let res = ctx
        .post_form(
            "/v1/auth/login",
            &[("login", "nul\u{0}@example.com"), ("password", common::PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_request_on_an_ended_session_gets_401_whatever_its_body() {
    let ctx = spawn().await;
    let me = ctx.register("ended@example.com", None).await;
    let token = me["access_token"].as_str().unwrap().to_owned();
    let (status, _) = read(ctx.post_bearer("/v1/auth/logout", &token, json!({})).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Bodies that would be 422 (or 400) from a live session: the caller is checked first.
    for (path, body) in [
        ("/v1/account/password", json!({})),
        ("/v1/account/email", json!({ "new_email": "not an address" })),
        ("/v1/account/sessions/revoke", json!({ "session_ids": ["x"] })),
        ("/v1/account/mfa/totp/disable", json!({})),
        ("/v1/auth/logout", json!({ "scope": "nowhere" })),
        ("/v1/account/mfa/recovery-codes", json!({ "code": 5 })),
    ] {
        let (status, answer) = read(ctx.post_bearer(path, &token, body).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
    }
}
