//! Tenants as brands over HTTP, with real SMTP: a tenant's own product name, sender and
//! front-end links in its mail, its own verification and new-IP policies, settings changed by
//! merge patch, and every other tenant left on the global configuration.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, PASSWORD, admin_key, admin_send, error_code, read, s, spawn};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn register_in(ctx: &Ctx, tenant: &str, email: &str) -> (StatusCode, Value) {
    let body = json!({ "email": email, "password": PASSWORD, "tenant_slug": tenant });
    read(ctx.post("/v1/auth/register", body).await).await
}

async fn patch_settings(ctx: &Ctx, key: &str, settings: Value) -> (StatusCode, Value) {
    let body = json!({ "settings": settings });
    admin_send(ctx, Method::PATCH, key, "/v1/admin/tenants/acme", body).await
}

#[tokio::test]
async fn a_tenant_mails_as_its_own_brand_and_the_others_keep_the_global_one() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "ops", None, false).await;
    let tenant = json!({ "slug": "acme", "name": "Acme", "settings": {
        "product_name": "Acme Hosting",
        "mail_from": "Acme Hosting <no-reply@acme.example>",
        "verify_email_url": "https://my.acme.example/verify/{token}",
    } });
    let (status, body) = admin_send(&ctx, Method::POST, &key, "/v1/admin/tenants", tenant).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["settings"],
        json!({
            "product_name": "Acme Hosting",
            "mail_from": "Acme Hosting <no-reply@acme.example>",
            "verify_email_url": "https://my.acme.example/verify/{token}",
        }),
        "only what the tenant sets is its own"
    );

    let (status, body) = register_in(&ctx, "acme", "ada@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mail = ctx.next_mail("ada@example.com", 0).await;
    assert_eq!(mail.from, "no-reply@acme.example");
    assert!(mail.data.contains("Acme Hosting"), "the sender's name");
    assert!(mail.subject().contains("Acme Hosting"), "{}", mail.subject());
    assert!(mail.link().unwrap().starts_with("https://my.acme.example/verify/pcl_"));
    assert!(mail.message_id().unwrap().ends_with("@acme.example>"));
    // The link works: it verifies the account in its tenant.
    let token = mail.token().unwrap();
    let verified = json!({ "token": token, "tenant_slug": "acme" });
    let (status, body) = read(ctx.post("/v1/auth/verify-email", verified).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The same address in the built-in tenant: the global brand.
    let (status, _) = register_in(&ctx, "default", "ada@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mail = ctx.next_mail("ada@example.com", 1).await;
    assert_ne!(mail.from, "no-reply@acme.example");
    assert!(mail.subject().contains("Portcullis"), "{}", mail.subject());
    assert!(
        mail.link()
            .unwrap()
            .starts_with("http://localhost:3000/verify-email?token=pcl_")
    );

    // Forgot-password mail (rendered by the worker) is branded too; the reset link is global
    // because acme sets none.
    let forgot = json!({ "email": "ada@example.com", "tenant_slug": "acme" });
    let (status, _) = read(ctx.post("/v1/auth/password/forgot", forgot).await).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mail = ctx.next_mail("ada@example.com", 2).await;
    assert_eq!(mail.from, "no-reply@acme.example");
    assert!(
        mail.link()
            .unwrap()
            .starts_with("http://localhost:3000/reset-password?token=pcl_")
    );
}

#[tokio::test]
async fn a_tenant_sets_its_own_policies_and_a_null_returns_one_to_the_global_setting() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "ops", None, false).await;
    let tenant = json!({ "slug": "acme", "name": "Acme" });
    admin_send(&ctx, Method::POST, &key, "/v1/admin/tenants", tenant).await;

    let (status, body) = patch_settings(&ctx, &key, json!({ "require_email_verification": false })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = register_in(&ctx, "acme", "bob@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "at once, on this node: {body}");
    assert!(body["data"]["access_token"].is_string());
    let (status, _) = register_in(&ctx, "default", "bob@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED, "the built-in tenant still verifies first");

    let (status, body) = patch_settings(&ctx, &key, json!({ "require_email_verification": null })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["settings"], json!({}));
    let (status, _) = register_in(&ctx, "acme", "carol@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Bad settings: every field named, nothing changed.
    for (settings, field) in [
        (json!({ "colour": "red" }), "settings"),
        (json!({ "new_ip_policy": "sometimes" }), "settings"),
        (json!({ "mail_from": "Acme <no-reply>" }), "mail_from"),
        (
            json!({ "verify_email_url": "https://acme.example/verify" }),
            "verify_email_url",
        ),
        (json!({ "product_name": "" }), "product_name"),
    ] {
        let (status, body) = patch_settings(&ctx, &key, settings.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{settings}: {body}");
        assert_eq!(error_code(&body), "validation_failed");
        assert_eq!(s(&body["error"]["details"][0], "field"), field, "{body}");
    }
    let (_, body) = admin_send(&ctx, Method::GET, &key, "/v1/admin/tenants/acme", json!({})).await;
    assert_eq!(body["data"]["settings"], json!({}));

    // A key bound to the tenant sets its settings, but not the sender of the operator's relay.
    let bound = admin_key(&ctx, "acme ops", Some("acme"), false).await;
    let (status, _) = patch_settings(&ctx, &bound, json!({ "product_name": "Acme" })).await;
    assert_eq!(status, StatusCode::OK);
    let sender = json!({ "mail_from": "Acme <no-reply@acme.example>" });
    let (status, body) = patch_settings(&ctx, &bound, sender).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn settings_set_with_the_cli_show_up_in_tenant_show() {
    use portcullis_server::operator::{Operation, TenantCommand};
    let ctx = spawn().await;
    ctx.operate(Operation::Tenant(TenantCommand::Create {
        slug: "acme".into(),
        name: "Acme".into(),
        site_url_template: None,
        settings: Some(r#"{"product_name":"Acme Hosting","new_ip_policy":"require"}"#.into()),
    }))
    .await;
    ctx.operate(Operation::Tenant(TenantCommand::Set {
        slug: "acme".into(),
        name: Some("Acme Ltd".into()),
        settings: Some(r#"{"new_ip_policy":null,"totp_issuer":"Acme"}"#.into()),
    }))
    .await;
    let shown = ctx
        .operate(Operation::Tenant(TenantCommand::Show { slug: "acme".into() }))
        .await;
    assert!(shown.contains("Acme Ltd"), "{shown}");
    assert!(
        shown.contains(r#"settings: {"product_name":"Acme Hosting","totp_issuer":"Acme"}"#),
        "{shown}"
    );
}
