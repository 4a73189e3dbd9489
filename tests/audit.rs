//! The audit trail over HTTP with real PostgreSQL: events of logins and operators' actions, a
//! user's own history, a tenant's for operators, filters and cursor pages, no secret in any
//! event, and keys confined to their tenant.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, PASSWORD, admin_key, admin_send, error_code, read, s, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn get(ctx: &Ctx, token: &str, path: &str) -> (StatusCode, Value) {
    read(ctx.get(path, Some(token)).await).await
}

fn types(page: &Value) -> Vec<String> {
    page["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(e, "type").to_owned())
        .collect()
}

#[tokio::test]
async fn logins_and_operator_actions_are_recorded_without_secrets() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "support", None, false).await;
    let signup = ctx.register("ada@example.com", None).await;
    let user_id = s(&signup["user"], "id").to_owned();
    let (status, _) = ctx.login("ada@example.com", "not the password at all").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = ctx.login("nobody@example.com", "a guessed password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, login) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let access = s(&login["data"], "access_token").to_owned();

    let (status, mine) = get(&ctx, &access, "/v1/account/events").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        types(&mine),
        [
            "login.succeeded",
            "login.failed",
            "user.email_verified",
            "login.succeeded",
            "user.registered",
        ],
        "newest first: the login, the wrong password, the verified signup and its session, the registration"
    );
    let newest = &mine["data"]["items"][0];
    assert_eq!(newest["user_id"], user_id.as_str());
    let (_, session) = get(&ctx, &access, "/v1/auth/session").await;
    assert_eq!(newest["session_id"], session["data"]["session"]["id"]);
    assert_eq!(newest["ip"], "127.0.0.1");
    assert_eq!(newest["user_agent"], "portcullis-tests");
    assert!(newest["request_id"].is_string(), "{newest}");
    assert_eq!(newest["details"]["amr"], json!(["pwd"]));
    assert_eq!(mine["data"]["items"][1]["details"]["reason"], "invalid_credentials");

    // Operators see the tenant's, the unknown name's failure too (without a user).
    let (status, all) = get(&ctx, &key, "/v1/admin/tenants/default/events?type=login.failed").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let failed = all["data"]["items"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0]["user_id"], Value::Null, "the unknown name");
    assert_eq!(failed[1]["user_id"], user_id.as_str());

    // A disable is recorded with the key's name, the request's id and what it ended.
    let path = format!("/v1/admin/tenants/default/users/{user_id}/disable");
    let res = ctx
        .http
        .post(ctx.app.url(&path))
        .bearer_auth(&key)
        .json(&json!({ "reason": "ticket 4711" }))
        .send()
        .await
        .unwrap();
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, log) = get(
        &ctx,
        &key,
        &format!("/v1/admin/tenants/default/events?user_id={user_id}&type=account.disabled"),
    )
    .await;
    let disabled = &log["data"]["items"][0];
    assert_eq!(disabled["details"]["actor"], "key:support");
    assert_eq!(disabled["details"]["reason"], "ticket 4711");
    assert_eq!(disabled["details"]["revoked_sessions"], 2);
    assert_eq!(disabled["request_id"], request_id.as_str());
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), "account_disabled", "{status}");
    admin_send(
        &ctx,
        Method::POST,
        &key,
        &format!("/v1/admin/tenants/default/users/{user_id}/enable"),
        json!({}),
    )
    .await;
    // The owner sees that it happened, not the operator's notes.
    let (status, again) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let token = s(&again["data"], "access_token").to_owned();
    let (_, own) = get(&ctx, &token, "/v1/account/events?type=account.disabled").await;
    let seen = &own["data"]["items"][0]["details"];
    assert_eq!(seen, &json!({ "revoked_sessions": 2 }), "{own}");

    // No secret anywhere in the trail.
    let (_, every) = get(&ctx, &key, "/v1/admin/tenants/default/events?limit=200").await;
    let text = every.to_string();
    assert_eq!(
        types(&every),
        [
            "login.succeeded",
            "account.enabled",
            "login.failed",
            "account.disabled",
            "login.succeeded",
            "login.failed",
            "login.failed",
            "user.email_verified",
            "login.succeeded",
            "user.registered",
        ],
        "each action once: {text}"
    );
    for secret in [
        PASSWORD,
        "not the password at all",
        "a guessed password",
        s(&login["data"], "refresh_token"),
        &access,
        s(&signup, "refresh_token"),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn pages_filter_and_stay_in_their_tenant_and_user() {
    use portcullis_server::operator::Operation;
    let ctx = spawn().await;
    let pair = ctx.register("ada@example.com", None).await;
    let access = s(&pair, "access_token").to_owned();
    for _ in 0..3 {
        ctx.login("ada@example.com", "wrong password here").await;
    }
    let other = ctx.register("bob@example.com", None).await;

    let (_, first) = get(&ctx, &access, "/v1/account/events?limit=2").await;
    assert_eq!(types(&first), ["login.failed", "login.failed"]);
    let cursor = s(&first["data"], "next_cursor").to_owned();
    ctx.login("ada@example.com", "another wrong one").await;
    let (_, second) = get(&ctx, &access, &format!("/v1/account/events?limit=2&cursor={cursor}")).await;
    assert_eq!(
        types(&second),
        ["login.failed", "user.email_verified"],
        "unmoved by the newer failure"
    );
    let cursor = s(&second["data"], "next_cursor").to_owned();
    let (_, third) = get(&ctx, &access, &format!("/v1/account/events?limit=2&cursor={cursor}")).await;
    assert_eq!(types(&third), ["login.succeeded", "user.registered"]);
    assert_eq!(third["data"]["next_cursor"], Value::Null);
    let (_, bobs) = get(&ctx, s(&other, "access_token"), "/v1/account/events").await;
    assert_eq!(
        types(&bobs),
        ["user.email_verified", "login.succeeded", "user.registered"],
        "a user reads only their own"
    );
    let (_, filtered) = get(&ctx, &access, "/v1/account/events?type=login.succeeded").await;
    assert_eq!(types(&filtered), ["login.succeeded"]);
    let future = "2999-01-01T00:00:00Z";
    let (_, none) = get(&ctx, &access, &format!("/v1/account/events?since={future}")).await;
    assert_eq!(types(&none), Vec::<String>::new());

    for bad in ["type=login.maybe", "since=yesterday", "cursor=nope", "limit=abc"] {
        let (status, body) = get(&ctx, &access, &format!("/v1/account/events?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(error_code(&body), "validation_failed", "{bad}: in the envelope");
    }
    let (status, _) = read(ctx.get("/v1/account/events", None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    ctx.tenant("acme").await;
    let acme = admin_key(&ctx, "acme support", Some("acme"), false).await;
    let (status, _) = get(&ctx, &acme, "/v1/admin/tenants/default/events").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's trail");
    let (_, own) = get(&ctx, &acme, "/v1/admin/tenants/acme/events").await;
    assert_eq!(types(&own), Vec::<String>::new());

    let printed = ctx
        .operate(Operation::Events(portcullis_server::operator_users::EventsArgs {
            tenant: "default".into(),
            user: Some("ada@example.com".into()),
            types: Some("login.failed".into()),
            limit: 10,
        }))
        .await;
    assert_eq!(printed.lines().count(), 4, "{printed}");
    assert!(printed.lines().all(|l| l.contains("\tlogin.failed\t")), "{printed}");
}

#[tokio::test]
async fn account_changes_are_recorded_once_each() {
    let ctx = spawn().await;
    let pair = ctx.register("ada@example.com", None).await;
    let access = s(&pair, "access_token").to_owned();
    let new_password = "a brand new long passphrase";
    let change = json!({ "current_password": PASSWORD, "new_password": new_password });
    let (status, body) = read(ctx.post_bearer("/v1/account/password", &access, change).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let seen = ctx.mail_count("ada@example.com").await;
    let forgot = json!({ "email": "ada@example.com" });
    assert_eq!(
        read(ctx.post("/v1/auth/password/forgot", forgot).await).await.0,
        StatusCode::ACCEPTED
    );
    let token = ctx.next_mail("ada@example.com", seen).await.token().unwrap();
    let reset_to = "the passphrase after the reset";
    let reset = json!({ "token": token, "new_password": reset_to });
    let (status, body) = read(ctx.post("/v1/auth/password/reset", reset.clone()).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = read(ctx.post("/v1/auth/password/reset", reset).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used once, recorded once");

    let (_, login) = ctx.login("ada@example.com", reset_to).await;
    let access = s(&login["data"], "access_token").to_owned();
    let (_, mine) = get(&ctx, &access, "/v1/account/events").await;
    assert_eq!(
        types(&mine),
        [
            "login.succeeded",
            "password.reset",
            "password.changed",
            "user.email_verified",
            "login.succeeded",
            "user.registered",
        ],
        "{mine}"
    );
    let text = mine.to_string();
    for secret in [PASSWORD, new_password, reset_to, token.as_str()] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
