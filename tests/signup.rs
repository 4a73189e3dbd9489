//! Customer signup over HTTP, on real PostgreSQL and real SMTP: plans, validation, placement
//! and capacity, verification with the mailed code, and tenant isolation. Tenants, plans and
//! nodes are made with the operator commands (`portcullis tenant|plan|node`) against the test
//! database.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, error_code, read, s, spawn};
use portcullis_server::operator::{NodeCommand, Operation, PlanCommand, TenantCommand};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A tenant `slug` with an active `starter`, an inactive `legacy`, and one node of `capacity`.
async fn brand(ctx: &Ctx, slug: &str, capacity: u32) {
    ctx.operate(Operation::Tenant(TenantCommand::Create {
        slug: slug.into(),
        name: format!("{slug} Hosting"),
        site_url_template: None,
        settings: None,
    }))
    .await;
    for (name, inactive) in [("starter", false), ("legacy", true)] {
        ctx.operate(Operation::Plan(PlanCommand::Set {
            tenant: slug.into(),
            name: name.into(),
            price: "€5/mo".into(),
            description: format!("The {name} plan"),
            features: vec!["1 site".into(), "Daily backups".into()],
            inactive,
        }))
        .await;
    }
    add_node(ctx, slug, "eu1", capacity).await;
}

async fn add_node(ctx: &Ctx, slug: &str, name: &str, capacity: u32) {
    ctx.operate(Operation::Node(NodeCommand::Add {
        tenant: slug.into(),
        name: name.into(),
        capacity,
        domain: Some(format!("{name}.{slug}.example.net")),
        disabled: false,
    }))
    .await;
}

async fn post(ctx: &Ctx, path: &str, body: Value) -> (StatusCode, Value) {
    read(ctx.post(path, body).await).await
}

async fn sign_up(ctx: &Ctx, tenant: &str, email: &str) -> (StatusCode, Value) {
    post(
        ctx,
        "/v1/public/signup",
        json!({ "company_name": "Acme Widgets", "email": email, "tenant_slug": tenant }),
    )
    .await
}

async fn verify(ctx: &Ctx, tenant: &str, email: &str, code: &str) -> (StatusCode, Value) {
    post(
        ctx,
        "/v1/public/signup/verify",
        json!({ "code": code, "email": email, "tenant_slug": tenant }),
    )
    .await
}

fn details(body: &Value) -> Vec<(String, String)> {
    body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (s(d, "field").to_owned(), s(d, "code").to_owned()))
        .collect()
}

/// How many accounts the tenant holds, read from the database.
async fn accounts_in(ctx: &Ctx, slug: &str) -> i64 {
    let sql = "SELECT count(*) AS n FROM accounts a JOIN tenants t ON t.id = a.tenant_id WHERE t.slug = $1";
    ctx.count(sql, &[slug]).await
}

#[tokio::test]
async fn a_customer_signs_up_verifies_with_the_code_sets_a_password_and_logs_in() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 5).await;

    let (status, body) = read(ctx.get("/v1/public/signup/plans/acme", None).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!([{
            "name": "starter",
            "description": "The starter plan",
            "price": "€5/mo",
            "features": ["1 site", "Daily backups"],
        }]),
        "only active plans are offered"
    );

    let email = "owner@acme-widgets.example";
    let (status, body) = sign_up(&ctx, "acme", email).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let customer_id = s(&body["data"], "customer_id").to_owned();
    assert_eq!(
        s(&body["data"], "site_url"),
        format!("https://{customer_id}.eu1.acme.example.net")
    );
    let mail = ctx.next_mail(email, 0).await;
    let code = mail.code().expect("a code");
    assert_eq!(code.len(), 6);
    assert!(mail.link().is_none(), "a signup mail carries a code only");

    // Wrong code, wrong tenant: refused.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = verify(&ctx, "acme", email, wrong).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );
    let (status, _) = verify(&ctx, "default", email, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, body) = verify(&ctx, "acme", email, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(s(data, "customer_id"), customer_id);
    assert_eq!(s(data, "token_type"), "Bearer");
    assert_eq!(data["user"]["email_verified"], true);
    let tenant_id = s(data, "tenant_id").to_owned();
    assert_ne!(tenant_id, "00000000-0000-0000-0000-000000000000");
    let token = s(data, "access_token").to_owned();
    let (status, me) = read(ctx.get("/v1/account", Some(&token)).await).await;
    assert_eq!(status, StatusCode::OK, "{me}");

    // Single use.
    let (status, _) = verify(&ctx, "acme", email, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The customer has no password: a password login answers as a wrong one; a first password
    // is set from the fresh session without a current one.
    let login = |password: &'static str| {
        let ctx = &ctx;
        async move {
            post(
                ctx,
                "/v1/auth/login",
                json!({ "email": email, "password": password, "tenant_slug": "acme" }),
            )
            .await
        }
    };
    assert_eq!(login("a first good password").await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = read(
        ctx.post_bearer(
            "/v1/account/password",
            &token,
            json!({ "new_password": "a first good password" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = login("a first good password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn bad_signups_get_422_with_every_field_and_unknown_tenants_404() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 5).await;
    let (status, body) = post(&ctx, "/v1/public/signup", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = details(&body);
    for field in ["company_name", "email", "tenant_slug"] {
        assert!(fields.contains(&(field.into(), "required".into())), "{field}: {body}");
    }
    let (status, body) = post(
        &ctx,
        "/v1/public/signup",
        json!({
            "company_name": "x".repeat(201),
            "email": "not-an-address",
            "plan": "p".repeat(51),
            "tenant_slug": "t".repeat(101),
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = details(&body);
    assert!(fields.contains(&("company_name".into(), "too_long".into())), "{body}");
    assert!(fields.contains(&("email".into(), "invalid".into())), "{body}");
    assert!(fields.contains(&("plan".into(), "too_long".into())), "{body}");
    assert!(fields.contains(&("tenant_slug".into(), "too_long".into())), "{body}");
    let (status, body) = post(
        &ctx,
        "/v1/public/signup",
        json!({ "company_name": "   ", "email": "a@example.com", "tenant_slug": "acme" }),
    )
    .await;
    assert_eq!(details(&body), [("company_name".into(), "required".into())], "{status}");

    let (status, body) = sign_up(&ctx, "nobody", "a@example.com").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "tenant_not_found"));
    let (status, _) = read(ctx.get("/v1/public/signup/plans/nobody", None).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for plan in ["enterprise", "legacy"] {
        let (status, body) = post(
            &ctx,
            "/v1/public/signup",
            json!({ "company_name": "Acme", "email": "a@example.com", "tenant_slug": "acme", "plan": plan }),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{plan}: {body}");
        assert_eq!(details(&body), [("plan".into(), "unknown_plan".into())]);
    }
    let (status, body) = verify(&ctx, "acme", "a@example.com", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = verify(&ctx, "acme", "a@example.com", "12345x").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_or_expired_token")
    );
    // A form body works as well as JSON.
    let (status, body) = read(
        ctx.post_form(
            "/v1/public/signup",
            &[
                ("company_name", "Form Co"),
                ("email", "form@example.com"),
                ("tenant_slug", "acme"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(accounts_in(&ctx, "acme").await, 1, "only the valid signup was kept");
}

#[tokio::test]
async fn without_capacity_nothing_is_kept_nor_mailed_and_an_expired_signup_frees_its_slot() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 1).await;
    let (status, body) = sign_up(&ctx, "acme", "first@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let res = ctx
        .post(
            "/v1/public/signup",
            json!({ "company_name": "Late", "email": "late@example.com", "tenant_slug": "acme" }),
        )
        .await;
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_capacity")
    );
    assert!(
        (1..=900).contains(&retry_after),
        "until the first hold ends: {retry_after}"
    );
    assert_eq!(accounts_in(&ctx, "acme").await, 1, "nothing kept");
    assert_eq!(ctx.mail_count("late@example.com").await, 0, "nothing mailed");

    // The first signup never verifies: once its code expires its slot is free.
    ctx.app.clock.advance(chrono::Duration::minutes(16));
    let (status, body) = sign_up(&ctx, "acme", "late@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mail = ctx.next_mail("late@example.com", 0).await;
    let (status, body) = verify(&ctx, "acme", "late@example.com", &mail.code().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The first one's code died with its hold.
    let first = ctx.next_mail("first@example.com", 0).await;
    let (status, _) = verify(&ctx, "acme", "first@example.com", &first.code().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A second node makes room again.
    add_node(&ctx, "acme", "eu2", 1).await;
    let (status, body) = sign_up(&ctx, "acme", "first@example.com").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(s(&body["data"], "site_url").ends_with(".eu2.acme.example.net"));
}

#[tokio::test]
async fn ten_signups_racing_for_the_last_slot_get_it_once() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 1).await;
    let racers = (0..10).map(|i| {
        let ctx = &ctx;
        async move { sign_up(ctx, "acme", &format!("racer{i}@example.com")).await.0 }
    });
    let statuses = futures::future::join_all(racers).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let full = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert_eq!((created, full), (1, 9), "{statuses:?}");
    assert_eq!(accounts_in(&ctx, "acme").await, 1);
}

#[tokio::test]
async fn a_known_address_gets_the_same_answer_and_a_notice_and_asking_again_sends_a_fresh_code() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 5).await;
    let email = "owner@example.com";
    let (_, first) = sign_up(&ctx, "acme", email).await;
    let first_mail = ctx.next_mail(email, 0).await;
    // Unverified, asking again: a new customer (ids never repeat, as for a known address), a
    // fresh code; the old one is dead.
    ctx.app.clock.advance(chrono::Duration::minutes(2));
    let (status, again) = sign_up(&ctx, "acme", email).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(again["data"]["customer_id"], first["data"]["customer_id"]);
    let fresh = ctx.next_mail(email, 1).await;
    if first_mail.code() != fresh.code() {
        let (status, _) = verify(&ctx, "acme", email, &first_mail.code().unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "the earlier code was replaced");
    }
    let (status, body) = verify(&ctx, "acme", email, &fresh.code().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Verified now: the same shape, another random id, a notice instead of a code.
    let (status, known) = sign_up(&ctx, "acme", email).await;
    assert_eq!(status, StatusCode::CREATED, "{known}");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v["data"].as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known), keys(&first));
    assert_ne!(known["data"]["customer_id"], first["data"]["customer_id"]);
    let notice = ctx.next_mail(email, 2).await;
    assert!(notice.code().is_none(), "{}", notice.text());
    assert_eq!(accounts_in(&ctx, "acme").await, 1);
}

#[tokio::test]
async fn the_same_address_in_two_tenants_is_two_accounts_and_tokens_stay_in_theirs() {
    let ctx = spawn().await;
    brand(&ctx, "acme", 5).await;
    brand(&ctx, "globex", 5).await;
    let email = "shared@example.com";
    let mut tokens = Vec::new();
    for (i, slug) in ["acme", "globex"].into_iter().enumerate() {
        let (status, body) = sign_up(&ctx, slug, email).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let mail = ctx.next_mail(email, i).await;
        let (status, body) = verify(&ctx, slug, email, &mail.code().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push((
            s(&body["data"], "tenant_id").to_owned(),
            body["data"]["user"]["id"].clone(),
        ));
    }
    assert_ne!(tokens[0].0, tokens[1].0);
    assert_ne!(tokens[0].1, tokens[1].1, "two accounts");
    assert_eq!(accounts_in(&ctx, "acme").await, 1);
    assert_eq!(accounts_in(&ctx, "globex").await, 1);
}

#[tokio::test]
async fn signup_shares_the_register_limit_per_ip() {
    let app = portcullis_testkit::TestApp::builder()
        .database_from_env()
        .configure(|c| {
            c.limits.register_per_ip = portcullis_server::config::LimitConfig {
                count: 1,
                period_secs: 3600,
            };
        })
        .spawn()
        .await
        .unwrap();
    let ctx = Ctx::new(app, true);
    brand(&ctx, "acme", 5).await;
    assert_eq!(sign_up(&ctx, "acme", "a@example.com").await.0, StatusCode::CREATED);
    let res = ctx
        .post(
            "/v1/public/signup",
            json!({ "company_name": "B", "email": "b@example.com", "tenant_slug": "acme" }),
        )
        .await;
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(read(res).await.0, StatusCode::TOO_MANY_REQUESTS);
}
