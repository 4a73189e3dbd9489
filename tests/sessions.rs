//! Session listing and revocation, and usernames chosen after signup, over HTTP against a real
//! database. Only the caller's own sessions are ever touched.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use common::{Ctx, PASSWORD, error_code, read, s, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Signs `email` up and logs in twice more: three sessions, oldest first.
async fn three_sessions(ctx: &Ctx, email: &str) -> Vec<Value> {
    let mut sessions = vec![ctx.register(email, None).await];
    for _ in 0..2 {
        let (status, body) = ctx.login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
        sessions.push(body["data"].clone());
    }
    sessions
}

fn access(pair: &Value) -> &str {
    s(pair, "access_token")
}

fn sid(pair: &Value) -> String {
    let claims = pair["access_token"].as_str().unwrap().split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

async fn alive(ctx: &Ctx, pair: &Value) -> bool {
    ctx.get("/v1/account", Some(access(pair))).await.status() == StatusCode::OK
}

async fn list(ctx: &Ctx, pair: &Value) -> Vec<Value> {
    let (status, body) = read(ctx.get("/v1/account/sessions", Some(access(pair))).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn revoke(ctx: &Ctx, pair: &Value, body: Value) -> (StatusCode, Value) {
    read(ctx.post_bearer("/v1/account/sessions/revoke", access(pair), body).await).await
}

async fn delete(ctx: &Ctx, pair: &Value, id: &str) -> StatusCode {
    ctx.http
        .delete(ctx.app.url(&format!("/v1/account/sessions/{id}")))
        .bearer_auth(access(pair))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn listing_shows_live_sessions_and_marks_the_current_one() {
    let ctx = spawn().await;
    let mine = three_sessions(&ctx, "ada@example.com").await;
    three_sessions(&ctx, "bob@example.com").await;
    let listed = list(&ctx, &mine[1]).await;
    assert_eq!(listed.len(), 3, "only the caller's: {listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|l| l["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(s(current[0], "id"), sid(&mine[1]));
    for item in &listed {
        assert_eq!(item["ip"], "127.0.0.1");
        assert_eq!(item["user_agent"], "portcullis-tests");
        for key in ["created_at", "last_used_at", "expires_at"] {
            assert!(chrono::DateTime::parse_from_rfc3339(s(item, key)).is_ok(), "{item}");
        }
    }
    // Logged out sessions are not listed.
    ctx.post_bearer("/v1/auth/logout", access(&mine[0]), json!({})).await;
    let ids: Vec<String> = list(&ctx, &mine[1])
        .await
        .iter()
        .map(|l| s(l, "id").to_owned())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&sid(&mine[0])));
}

#[tokio::test]
async fn deleting_a_session_ends_it_and_another_users_session_is_not_found() {
    let ctx = spawn().await;
    let mine = three_sessions(&ctx, "ada@example.com").await;
    let theirs = ctx.register("bob@example.com", None).await;

    assert_eq!(delete(&ctx, &mine[0], &sid(&mine[2])).await, StatusCode::NO_CONTENT);
    assert!(!alive(&ctx, &mine[2]).await, "its access token dies at once");
    assert_eq!(
        ctx.refresh(s(&mine[2], "refresh_token")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        delete(&ctx, &mine[0], &sid(&mine[2])).await,
        StatusCode::NOT_FOUND,
        "already ended"
    );

    let res = ctx
        .http
        .delete(ctx.app.url(&format!("/v1/account/sessions/{}", sid(&theirs))))
        .bearer_auth(access(&mine[0]))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let (_, body) = read(res).await;
    let (_, missing) = read(
        ctx.http
            .delete(ctx.app.url(&format!("/v1/account/sessions/{}", uuid::Uuid::now_v7())))
            .bearer_auth(access(&mine[0]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, missing, "another user's session answers exactly as a missing one");
    assert!(alive(&ctx, &theirs).await);
    assert_eq!(delete(&ctx, &mine[0], "not-a-uuid").await, StatusCode::NOT_FOUND);
    assert_eq!(
        ctx.http
            .delete(ctx.app.url(&format!("/v1/account/sessions/{}", sid(&mine[1]))))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn revoke_by_ids_and_refresh_tokens_touches_only_the_callers_sessions() {
    let ctx = spawn().await;
    let mine = three_sessions(&ctx, "ada@example.com").await;
    let theirs = ctx.register("bob@example.com", None).await;

    // Another user's id and refresh token count for nothing and stay alive.
    let (status, body) = revoke(
        &ctx,
        &mine[0],
        json!({ "session_ids": [sid(&theirs)], "refresh_tokens": [s(&theirs, "refresh_token")] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked"], 0);
    assert!(alive(&ctx, &theirs).await);

    // By id, mixed with the other user's.
    let (_, body) = revoke(&ctx, &mine[0], json!({ "session_ids": [sid(&mine[1]), sid(&theirs)] })).await;
    assert_eq!(body["data"]["revoked"], 1);
    assert!(!alive(&ctx, &mine[1]).await && alive(&ctx, &theirs).await);

    // By a refresh token, even a superseded one (a lost device's last known token).
    let (_, rotated) = ctx.refresh(s(&mine[2], "refresh_token")).await;
    assert_eq!(rotated["success"], true);
    let (_, body) = revoke(
        &ctx,
        &mine[0],
        json!({ "refresh_tokens": [s(&mine[2], "refresh_token"), "garbage"] }),
    )
    .await;
    assert_eq!(body["data"]["revoked"], 1);
    assert!(!alive(&ctx, &rotated["data"]).await);
    assert!(alive(&ctx, &mine[0]).await);
}

#[tokio::test]
async fn revoke_all_with_and_without_the_current_session() {
    let ctx = spawn().await;
    let mine = three_sessions(&ctx, "ada@example.com").await;
    let theirs = ctx.register("bob@example.com", None).await;
    let (_, body) = revoke(&ctx, &mine[0], json!({ "all": true, "exclude_current": true })).await;
    assert_eq!(body["data"]["revoked"], 2);
    assert!(alive(&ctx, &mine[0]).await);
    assert!(!alive(&ctx, &mine[1]).await && !alive(&ctx, &mine[2]).await);
    // exclude_current also guards a list that names the current session.
    let (_, body) = revoke(
        &ctx,
        &mine[0],
        json!({ "session_ids": [sid(&mine[0])], "exclude_current": true }),
    )
    .await;
    assert_eq!(body["data"]["revoked"], 0);
    let (_, body) = revoke(&ctx, &mine[0], json!({ "all": true })).await;
    assert_eq!(body["data"]["revoked"], 1);
    assert!(!alive(&ctx, &mine[0]).await);
    assert!(alive(&ctx, &theirs).await);
}

#[tokio::test]
async fn revoke_requests_that_name_nothing_or_garbage_are_422() {
    let ctx = spawn().await;
    let me = ctx.register("ada@example.com", None).await;
    for body in [
        json!({}),
        json!({ "all": false, "session_ids": [] }),
        json!({ "session_ids": ["not-a-uuid"] }),
        json!({ "refresh_tokens": vec!["x"; 101] }),
    ] {
        let (status, answer) = revoke(&ctx, &me, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(error_code(&answer), "validation_failed");
    }
    assert!(alive(&ctx, &me).await);
}

#[tokio::test]
async fn a_username_can_be_chosen_after_signup_and_is_unique_case_insensitively() {
    let ctx = spawn().await;
    let ada = ctx.register("ada@example.com", None).await;
    let bob = ctx.register("bob@example.com", Some("bob")).await;
    assert!(ada["user"]["username"].is_null());

    let patch = async |pair: &Value, body: Value| {
        read(
            ctx.http
                .patch(ctx.app.url("/v1/account"))
                .bearer_auth(access(pair))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (status, body) = patch(&ada, json!({ "username": "BOB" })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "username_taken"));
    let (status, body) = patch(&ada, json!({ "username": "a b" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = patch(&ada, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = patch(&ada, json!({ "username": "Ada" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["username"], "Ada");
    assert_eq!(ctx.login("ada", PASSWORD).await.0, StatusCode::OK);
    // Changing it frees the old one; changing only its case is allowed.
    let (status, _) = patch(&bob, json!({ "username": "robert" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = patch(&ada, json!({ "username": "bob" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = patch(&ada, json!({ "username": "BOB" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ctx.login("bob", PASSWORD).await.1["data"]["user"]["email"],
        "ada@example.com"
    );
    assert_eq!(ctx.login("robert", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_session_cannot_be_revoked_or_counted() {
    let ctx = spawn().await;
    let old = ctx.register("ada@example.com", None).await;
    ctx.app
        .clock
        .advance(chrono::Duration::days(30) + chrono::Duration::seconds(1));
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = body["data"].clone();
    assert_eq!(list(&ctx, &fresh).await.len(), 1);
    assert_eq!(delete(&ctx, &fresh, &sid(&old)).await, StatusCode::NOT_FOUND);
    let (_, body) = revoke(&ctx, &fresh, json!({ "all": true, "exclude_current": true })).await;
    assert_eq!(body["data"]["revoked"], 0);
}
