//! Admin keys over HTTP: introspection of access and refresh tokens, keys hashed at rest,
//! wrong and revoked keys, tenant-bound and introspect-only keys, and the walls between admin
//! keys and user tokens. Keys are made with `portcullis admin-key create` against the test
//! database.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Ctx, admin_key, admin_send, error_code, read, s, spawn};
use portcullis_server::operator::{AdminKeyCommand, Operation, TenantCommand};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn introspect(ctx: &Ctx, key: &str, token: &str) -> (StatusCode, Value) {
    read(
        ctx.post_bearer("/v1/auth/introspect", key, json!({ "token": token }))
            .await,
    )
    .await
}

async fn admin_get(ctx: &Ctx, key: &str, path: &str) -> (StatusCode, Value) {
    read(ctx.get(path, Some(key)).await).await
}

#[tokio::test]
async fn introspection_tells_live_tokens_from_dead_ones() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "billing service", None, true).await;
    assert!(key.starts_with("pca_"), "{key}");
    let pair = ctx.register("ada@example.com", None).await;
    let access = s(&pair, "access_token").to_owned();
    let refresh = s(&pair, "refresh_token").to_owned();

    let (status, body) = introspect(&ctx, &key, &access).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["active"], true);
    assert_eq!(data["sub"], pair["user"]["id"]);
    assert_eq!(data["tid"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(data["amr"], json!(["email"]));
    assert!(data["exp"].as_i64().unwrap() > ctx.app.now().timestamp());
    let (_, body) = introspect(&ctx, &key, &refresh).await;
    assert_eq!(body["data"]["active"], true, "{body}");
    assert_eq!(body["data"]["sid"], data["sid"]);

    for garbage in ["", "nope", "pcr_AAAA", &format!("{access}x")] {
        let (status, body) = introspect(&ctx, &key, garbage).await;
        if garbage.is_empty() {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        } else {
            assert_eq!(body["data"], json!({ "active": false }), "{garbage}");
        }
    }
    // Rotated: the old refresh token is dead, the new one live.
    let (_, rotated) = ctx.refresh(&refresh).await;
    ctx.app.clock.advance(chrono::Duration::seconds(11));
    let (_, body) = introspect(&ctx, &key, &refresh).await;
    assert_eq!(body["data"], json!({ "active": false }));
    let new_refresh = s(&rotated["data"], "refresh_token").to_owned();
    let (_, body) = introspect(&ctx, &key, &new_refresh).await;
    assert_eq!(body["data"]["active"], true);
    // Logged out: everything of the session is dead at once.
    let res = ctx.post_bearer("/v1/auth/logout", &access, json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    for token in [&access, &new_refresh] {
        let (_, body) = introspect(&ctx, &key, token).await;
        assert_eq!(body["data"], json!({ "active": false }));
    }
}

#[tokio::test]
async fn keys_are_hashed_at_rest_and_wrong_revoked_or_misplaced_credentials_are_refused() {
    let ctx = spawn().await;
    let key = admin_key(&ctx, "ops", None, false).await;
    let pair = ctx.register("ada@example.com", None).await;
    let access = s(&pair, "access_token").to_owned();

    // Hashed at rest: the database holds the key's SHA-256, never the key.
    {
        use diesel_async::{AsyncConnection, RunQueryDsl};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        let mut conn = diesel_async::AsyncPgConnection::establish(ctx.app.database_url())
            .await
            .unwrap();
        let row: Row = diesel::sql_query("SELECT string_agg(t::text, ' ') AS dump FROM admin_keys t")
            .get_result(&mut conn)
            .await
            .unwrap();
        assert!(!row.dump.contains(&key[4..]), "the key is not stored");
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(row.dump.contains(&hex), "its SHA-256 is");
    }

    let (status, body) = introspect(&ctx, &format!("{key}x"), &access).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));
    let (status, body) = introspect(&ctx, &access, &access).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "admin_key_required"),
        "a user token on an admin endpoint"
    );
    let (status, _) = admin_get(&ctx, &access, "/v1/admin/tenants").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = read(ctx.get("/v1/account", Some(&key)).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an admin key anywhere else");
    let (status, _) = read(ctx.post("/v1/auth/introspect", json!({ "token": access })).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no key at all");

    let list = ctx.operate(Operation::AdminKey(AdminKeyCommand::List)).await;
    assert!(!list.contains(&key), "list never shows a key");
    let id = list.split('\t').next().unwrap().parse().unwrap();
    ctx.operate(Operation::AdminKey(AdminKeyCommand::Revoke { id })).await;
    let (status, _) = introspect(&ctx, &key, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
}

#[tokio::test]
async fn a_tenant_bound_key_sees_only_its_tenant_and_an_introspect_only_key_only_introspects() {
    let ctx = spawn().await;
    for slug in ["acme", "globex"] {
        ctx.operate(Operation::Tenant(TenantCommand::Create {
            slug: slug.into(),
            name: format!("{slug} Hosting"),
            site_url_template: None,
            settings: None,
        }))
        .await;
    }
    let acme = admin_key(&ctx, "acme ops", Some("acme"), false).await;
    let global = admin_key(&ctx, "ops", None, false).await;
    let reader = admin_key(&ctx, "introspector", None, true).await;

    let (status, body) = admin_get(&ctx, &acme, "/v1/admin/tenants").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let slugs: Vec<&str> = body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| s(t, "slug"))
        .collect();
    assert_eq!(slugs, ["acme"]);
    assert_eq!(body["data"]["next_cursor"], Value::Null);
    let (_, body) = admin_get(&ctx, &global, "/v1/admin/tenants").await;
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 3);
    let (status, _) = admin_get(&ctx, &acme, "/v1/admin/tenants/acme").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/admin/tenants/globex",
        "/v1/admin/tenants/globex/plans",
        "/v1/admin/tenants/globex/nodes",
    ] {
        let (status, _) = admin_get(&ctx, &acme, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, body) = admin_get(&ctx, &reader, "/v1/admin/tenants").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A token of the default tenant is inactive to a key bound to another.
    let pair = ctx.register("ada@example.com", None).await;
    let (_, body) = introspect(&ctx, &acme, s(&pair, "access_token")).await;
    assert_eq!(body["data"], json!({ "active": false }));
    let (_, body) = introspect(&ctx, &reader, s(&pair, "access_token")).await;
    assert_eq!(body["data"]["active"], true);
}

#[tokio::test]
async fn the_admin_api_makes_tenants_plans_and_nodes_and_pages_customers() {
    use reqwest::Method;
    let ctx = spawn().await;
    let global = admin_key(&ctx, "ops", None, false).await;
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &global,
        "/v1/admin/tenants",
        json!({ "slug": "acme", "name": "Acme", "settings": { "site_url_template": "https://{tenant}.example/{customer_id}" } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["data"]["settings"]["site_url_template"],
        "https://{tenant}.example/{customer_id}"
    );
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &global,
        "/v1/admin/tenants",
        json!({ "slug": "acme", "name": "Again" }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "slug_taken"));
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &global,
        "/v1/admin/tenants",
        json!({ "slug": "Bad Slug", "name": " ", "site_url_template": "https://{domain}" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| s(d, "field"))
        .collect();
    assert_eq!(fields, ["slug", "name", "site_url_template"]);

    let acme = admin_key(&ctx, "acme ops", Some("acme"), false).await;
    let (status, _) = admin_send(
        &ctx,
        Method::POST,
        &acme,
        "/v1/admin/tenants",
        json!({ "slug": "x", "name": "X" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a bound key makes no tenants");

    let (status, body) = admin_send(
        &ctx,
        Method::PUT,
        &acme,
        "/v1/admin/tenants/acme/plans/starter",
        json!({ "price": "€5/mo", "description": "One site", "features": ["1 site"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["active"], true);
    let (status, body) = admin_send(
        &ctx,
        Method::PUT,
        &acme,
        "/v1/admin/tenants/acme/plans/pro",
        json!({ "price": "€9\u{0}", "features": ["a\u{7}"] }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "control characters are refused, never a 500: {body}"
    );
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &acme,
        "/v1/admin/tenants/acme/nodes",
        json!({ "name": "eu1", "capacity": 5, "domain": "eu1.example.net" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["used"], 0);
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &acme,
        "/v1/admin/tenants/acme/nodes",
        json!({ "name": "eu1", "capacity": 1 }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "name_taken"));
    let (status, body) = admin_send(
        &ctx,
        Method::POST,
        &acme,
        "/v1/admin/tenants/acme/nodes",
        json!({ "name": "eu2" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    for i in 0..3 {
        // Customers are paged in creation order (UUID v7 ids, to the millisecond).
        ctx.app.clock.advance(chrono::Duration::seconds(1));
        let (status, body) = read(
            ctx.post(
                "/v1/public/signup",
                json!({ "company_name": format!("Co {i}"), "email": format!("c{i}@example.com"), "tenant_slug": "acme" }),
            )
            .await,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert!(s(&body["data"], "site_url").starts_with("https://acme.example/"));
    }
    let (_, nodes) = admin_get(&ctx, &acme, "/v1/admin/tenants/acme/nodes").await;
    assert_eq!(nodes["data"]["items"][0]["used"], 3);
    let (status, first) = admin_get(&ctx, &acme, "/v1/admin/tenants/acme/customers?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["data"]["items"].as_array().unwrap().len(), 2);
    let cursor = s(&first["data"], "next_cursor").to_owned();
    let (_, second) = admin_get(
        &ctx,
        &acme,
        &format!("/v1/admin/tenants/acme/customers?limit=2&cursor={cursor}"),
    )
    .await;
    let rest = second["data"]["items"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["company_name"], "Co 2");
    assert_eq!(second["data"]["next_cursor"], Value::Null);
    let (status, _) = admin_get(&ctx, &acme, "/v1/admin/tenants/acme/customers?cursor=nope").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = admin_get(&ctx, &acme, "/v1/admin/tenants/default/customers").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant");
}

#[tokio::test]
async fn tenants_nodes_and_plans_change_through_the_admin_api() {
    use reqwest::Method;
    let ctx = spawn().await;
    let key = admin_key(&ctx, "ops", None, false).await;
    let tenant = json!({ "slug": "acme", "name": "Acme", "settings": { "site_url_template": "https://{customer_id}.x.example" } });
    admin_send(&ctx, Method::POST, &key, "/v1/admin/tenants", tenant).await;
    let (status, body) = admin_send(
        &ctx,
        Method::PATCH,
        &key,
        "/v1/admin/tenants/acme",
        json!({ "name": "Acme Ltd" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Acme Ltd");
    assert_eq!(
        body["data"]["settings"]["site_url_template"], "https://{customer_id}.x.example",
        "kept"
    );
    let patch = json!({ "settings": { "site_url_template": null } });
    let (_, body) = admin_send(&ctx, Method::PATCH, &key, "/v1/admin/tenants/acme", patch).await;
    assert_eq!(
        body["data"]["settings"]["site_url_template"],
        Value::Null,
        "back to the global one"
    );
    let (status, _) = admin_send(
        &ctx,
        Method::PATCH,
        &key,
        "/v1/admin/tenants/acme",
        json!({ "name": "" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    admin_send(
        &ctx,
        Method::PUT,
        &key,
        "/v1/admin/tenants/acme/plans/starter",
        json!({}),
    )
    .await;
    let (status, _) = admin_send(
        &ctx,
        Method::DELETE,
        &key,
        "/v1/admin/tenants/acme/plans/starter",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = admin_send(
        &ctx,
        Method::DELETE,
        &key,
        "/v1/admin/tenants/acme/plans/starter",
        json!({}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "plan_not_found"));
    admin_send(
        &ctx,
        Method::PUT,
        &key,
        "/v1/admin/tenants/acme/plans/starter",
        json!({}),
    )
    .await;

    let (_, eu1) = admin_send(
        &ctx,
        Method::POST,
        &key,
        "/v1/admin/tenants/acme/nodes",
        json!({ "name": "eu1", "capacity": 5 }),
    )
    .await;
    admin_send(
        &ctx,
        Method::POST,
        &key,
        "/v1/admin/tenants/acme/nodes",
        json!({ "name": "eu2", "capacity": 5 }),
    )
    .await;
    let path = format!("/v1/admin/tenants/acme/nodes/{}", s(&eu1["data"], "id"));
    let (status, body) = admin_send(
        &ctx,
        Method::PATCH,
        &key,
        &path,
        json!({ "capacity": 9, "domain": "EU1.example.net" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["data"]["capacity"].clone(), body["data"]["domain"].clone()),
        (json!(9), json!("eu1.example.net"))
    );
    let (status, body) = admin_send(&ctx, Method::PATCH, &key, &path, json!({ "name": "eu2" })).await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "name_taken"));
    let missing = format!("/v1/admin/tenants/acme/nodes/{}", uuid::Uuid::now_v7());
    let (status, _) = admin_send(&ctx, Method::PATCH, &key, &missing, json!({ "enabled": false })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // With every node disabled, signup has no capacity.
    let (_, nodes) = admin_get(&ctx, &key, "/v1/admin/tenants/acme/nodes").await;
    for node in nodes["data"]["items"].as_array().unwrap() {
        let path = format!("/v1/admin/tenants/acme/nodes/{}", s(node, "id"));
        let (status, _) = admin_send(&ctx, Method::PATCH, &key, &path, json!({ "enabled": false })).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body) = read(
        ctx.post(
            "/v1/public/signup",
            json!({ "company_name": "Co", "email": "c@example.com", "tenant_slug": "acme" }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "no_capacity")
    );
}
