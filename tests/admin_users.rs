//! Operators' user administration over HTTP with real PostgreSQL and SMTP: finding an account,
//! reading it, disabling it (its live tokens refused at once, from the API and from the CLI),
//! enabling it again, ending its sessions, and keys confined to their tenant.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, PASSWORD, admin_key, admin_send, error_code, read, s, spawn};
use portcullis_server::operator::Operation;
use portcullis_server::operator_users::{UserCommand, UserRef};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn get(ctx: &Ctx, key: &str, path: &str) -> (StatusCode, Value) {
    read(ctx.get(path, Some(key)).await).await
}

/// The account's id, found by address through the admin API.
async fn find(ctx: &Ctx, key: &str, email: &str) -> String {
    let (status, body) = get(ctx, key, &format!("/v1/admin/tenants/default/users?query={email}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s(&body["data"]["items"][0], "id").to_owned()
}

#[tokio::test]
async fn a_disabled_account_is_refused_at_once_and_comes_back_when_enabled() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "support", None, false).await;
    let pair = ctx.register("ada@example.com", Some("ada")).await;
    let access = s(&pair, "access_token").to_owned();
    let refresh = s(&pair, "refresh_token").to_owned();
    let id = find(&ctx, &key, "ADA@example").await;

    let (status, body) = get(&ctx, &key, &format!("/v1/admin/tenants/default/users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = &body["data"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["disabled"], false);
    assert_eq!(user["session_count"], 1);
    assert!(user["last_login_at"].is_string(), "{user}");
    assert_eq!(user["mfa_enabled"], false);

    let path = format!("/v1/admin/tenants/default/users/{id}/disable");
    let (status, body) = admin_send(&ctx, Method::POST, &key, &path, json!({ "reason": "chargeback" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["disabled"], true);
    assert_eq!(body["data"]["disabled_reason"], "chargeback");
    assert_eq!(body["data"]["session_count"], 0);

    let (status, _) = read(ctx.get("/v1/account", Some(&access)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the live access token, at once");
    let (status, _) = ctx.refresh(&refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "account_disabled");
    let (status, body) = ctx.login("ada", "not the password at all").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "invalid_credentials");
    let seen = ctx.mail_count("ada@example.com").await;
    let (status, _) = read(
        ctx.post("/v1/auth/password/forgot", json!({ "email": "ada@example.com" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "the same answer as for anyone");
    assert_eq!(ctx.mail_count("ada@example.com").await, seen, "but no mail");

    let path = format!("/v1/admin/tenants/default/users/{id}/enable");
    let (status, body) = admin_send(&ctx, Method::POST, &key, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["disabled"], false);
    let (status, body) = ctx.login("ada@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = read(ctx.get("/v1/account", Some(&access)).await).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "sessions ended by the disable stay ended"
    );
}

#[tokio::test]
async fn a_disable_from_the_command_line_ends_live_tokens_at_once() {
    let ctx = spawn().await;
    let pair = ctx.register("bob@example.com", None).await;
    let access = s(&pair, "access_token").to_owned();
    let who = || UserRef {
        tenant: "default".into(),
        email: "Bob@example.com".into(),
    };
    let out = ctx
        .operate(Operation::User(UserCommand::Disable {
            user: who(),
            reason: Some("abuse report 42".into()),
        }))
        .await;
    assert!(out.contains("1 sessions revoked"), "{out}");
    let (status, _) = read(ctx.get("/v1/account", Some(&access)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let shown = ctx.operate(Operation::User(UserCommand::Show(who()))).await;
    assert!(
        shown.contains("disabled since") && shown.contains("abuse report 42"),
        "{shown}"
    );
    ctx.operate(Operation::User(UserCommand::Enable(who()))).await;
    let (status, _) = ctx.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sessions_end_on_request_and_keys_stay_in_their_tenant() {
    let ctx = spawn().await;
    ctx.tenant("acme").await;
    let global = admin_key(&ctx, "support", None, false).await;
    let acme = admin_key(&ctx, "acme support", Some("acme"), false).await;
    let pair = ctx.register("carol@example.com", None).await;
    ctx.login("carol@example.com", PASSWORD).await;
    let id = find(&ctx, &global, "carol").await;

    let path = format!("/v1/admin/tenants/default/users/{id}/sessions/revoke");
    let (status, body) = admin_send(&ctx, Method::POST, &global, &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked"], 2);
    let (status, _) = read(ctx.get("/v1/account", Some(s(&pair, "access_token"))).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    for path in [
        "/v1/admin/tenants/default/users".to_owned(),
        format!("/v1/admin/tenants/default/users/{id}"),
    ] {
        let (status, body) = get(&ctx, &acme, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(error_code(&body), "tenant_not_found");
    }
    let (status, _) = admin_send(
        &ctx,
        Method::POST,
        &acme,
        &format!("/v1/admin/tenants/default/users/{id}/disable"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(&ctx, &acme, &format!("/v1/admin/tenants/acme/users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a user of acme");
    assert_eq!(error_code(&body), "user_not_found");
    let (status, body) = get(&ctx, &acme, "/v1/admin/tenants/acme/users").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["items"], json!([]));

    for bad in ["not-a-uuid", "00000000-0000-0000-0000-000000000001"] {
        let (status, body) = get(&ctx, &global, &format!("/v1/admin/tenants/default/users/{bad}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
        assert_eq!(error_code(&body), "user_not_found");
    }
    let (status, _) = get(&ctx, &global, "/v1/admin/tenants/default/users?cursor=nope").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "x".repeat(501);
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &global,
        &format!("/v1/admin/tenants/default/users/{id}/disable"),
        json!({ "reason": long }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, fresh) = ctx.login("carol@example.com", PASSWORD).await;
    let token = s(&fresh["data"], "access_token").to_owned();
    let user_path = format!("/v1/admin/tenants/default/users/{id}");
    let (status, body) = read(ctx.get(&user_path, Some(&token)).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a user token is no admin key: {body}");
}

/// Rows anywhere that still name the account `id` or its address.
async fn rows_of(ctx: &Ctx, id: &str, email: &str) -> i64 {
    let tables = [
        "accounts WHERE id = $1::uuid",
        "sessions WHERE user_id = $1::uuid",
        "one_time_secrets WHERE user_id = $1::uuid",
        "known_networks WHERE user_id = $1::uuid",
        "registrations WHERE user_id = $1::uuid",
        "mfa_totp WHERE user_id = $1::uuid",
        "mfa_recovery_codes WHERE user_id = $1::uuid",
        "customers WHERE user_id = $1::uuid",
        "audit_events WHERE user_id = $1::uuid",
        "mail_outbox WHERE recipient = $2",
    ];
    let sum: Vec<String> = tables.iter().map(|t| format!("(SELECT count(*) FROM {t})")).collect();
    ctx.count(&format!("SELECT {} AS n", sum.join(" + ")), &[id, email])
        .await
}

#[tokio::test]
async fn erasing_leaves_no_row_of_the_user_but_pseudonymised_events() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "support", None, false).await;
    ctx.register("ada@example.com", Some("ada")).await;
    ctx.login("ada@example.com", PASSWORD).await;
    ctx.login("ada@example.com", "a wrong password here").await;
    let id = find(&ctx, &key, "ada@").await;
    assert!(rows_of(&ctx, &id, "ada@example.com").await > 0);
    let (_, before) = get(&ctx, &key, &format!("/v1/admin/tenants/default/events?user_id={id}")).await;
    let kept = before["data"]["items"].as_array().unwrap().len();

    let path = format!("/v1/admin/tenants/default/users/{id}");
    let (status, _) = admin_send(&ctx, Method::DELETE, &key, &path, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(rows_of(&ctx, &id, "ada@example.com").await, 0, "nothing names it");
    let (status, _) = get(&ctx, &key, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_send(&ctx, Method::DELETE, &key, &path, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone already");
    let (status, body) = ctx.login("ada", PASSWORD).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    // Its events stay, every one under the same pseudonym, with the erasure last.
    let (_, erased) = get(&ctx, &key, "/v1/admin/tenants/default/events?type=account.erased").await;
    let erasure = &erased["data"]["items"][0];
    assert_eq!(erasure["details"]["actor"], "key:support");
    let pseudonym = s(erasure, "user_id").to_owned();
    assert_ne!(pseudonym, id);
    let (_, after) = get(
        &ctx,
        &key,
        &format!("/v1/admin/tenants/default/events?user_id={pseudonym}"),
    )
    .await;
    assert_eq!(after["data"]["items"].as_array().unwrap().len(), kept + 1);

    // The address is free again; the command line asks for --confirm.
    let again = ctx.register("ada@example.com", None).await;
    assert_ne!(s(&again["user"], "id"), id);
    let who = || UserRef {
        tenant: "default".into(),
        email: "ada@example.com".into(),
    };
    let settings = portcullis_postgres::PgSettings::new(ctx.app.database_url());
    let store = portcullis_postgres::PgStore::connect(&settings).unwrap();
    let mut out = Vec::new();
    let unconfirmed = UserCommand::Erase {
        user: who(),
        confirm: false,
    };
    let refused =
        portcullis_server::operator::execute(&store, ctx.app.clock.as_ref(), Operation::User(unconfirmed), &mut out)
            .await;
    assert!(refused.unwrap_err().to_string().contains("--confirm"));
    let out = ctx
        .operate(Operation::User(UserCommand::Erase {
            user: who(),
            confirm: true,
        }))
        .await;
    assert!(out.starts_with("erased ada@example.com"), "{out}");
}
