//! Tenants as brands: a tenant's settings over the global configuration in mail and policy,
//! the change applying at once on the node that made it and within `BRAND_CACHE_SECS` on
//! another.

use chrono::Duration;
use portcullis_domain::{BRAND_CACHE_SECS, LoginError, MailKind};
use serde_json::{Map, Value, json};

use crate::world::{AWAY, PASSWORD, World};

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object literal"),
    }
}

/// A world whose requests go to a new tenant `acme` with these settings.
async fn acme(settings: Value) -> World {
    let mut w = World::new();
    let record = w
        .auth
        .create_tenant("acme", "Acme", &object(settings))
        .await
        .expect("tenant");
    w.tenant = record.tenant;
    w
}

#[tokio::test]
async fn a_tenants_mail_carries_its_product_sender_and_links() {
    let w = acme(json!({
        "product_name": "Acme Hosting",
        "mail_from": "Acme <no-reply@acme.example>",
        "authorize_ip_url": "https://my.acme.example/ip/{token}",
        "new_ip_policy": "require",
    }))
    .await;
    w.signed_up("ada@example.com").await;
    let refused = w.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(
        matches!(refused, Err(LoginError::IpAuthorizationRequired)),
        "{refused:?}"
    );
    let mail = w.last_mail_to("ada@example.com").await;
    assert_eq!(mail.kind, MailKind::IpAuthorization);
    assert_eq!(mail.tenant_id, w.tenant.id);
    assert_eq!(mail.from.as_deref(), Some("Acme <no-reply@acme.example>"));
    assert!(mail.subject.contains("Acme Hosting"), "{}", mail.subject);
    assert!(mail.text.contains("https://my.acme.example/ip/pcl_"), "{}", mail.text);
}

#[tokio::test]
async fn the_built_in_tenant_keeps_the_global_brand_and_policy() {
    let mut w = acme(json!({ "new_ip_policy": "require", "product_name": "Acme Hosting" })).await;
    w.tenant = portcullis_domain::Tenant {
        id: portcullis_domain::TenantId::DEFAULT,
        slug: "default".into(),
    };
    w.signed_up("ada@example.com").await;
    // The global policy of this world is `off`: a new network signs in, no mail.
    w.login("ada@example.com", PASSWORD, None, AWAY).await.unwrap();
    assert!(w.mails().await.is_empty());
}

#[tokio::test]
async fn a_change_applies_at_once_here_and_within_the_cache_time_on_another_node() {
    let w = acme(json!({ "new_ip_policy": "require" })).await;
    let mut other = w.sharing(crate::world::Setup::default());
    other.tenant = w.tenant.clone();
    w.signed_up("ada@example.com").await;
    let refused = other.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(
        matches!(refused, Err(LoginError::IpAuthorizationRequired)),
        "{refused:?}"
    );

    let current = w.auth.tenant_record("acme").await.unwrap().unwrap();
    let patch = object(json!({ "new_ip_policy": null }));
    let updated = w.auth.update_tenant(&current, None, &patch).await.unwrap();
    assert_eq!(updated.settings.new_ip_policy, None);
    w.login("ada@example.com", PASSWORD, None, AWAY)
        .await
        .expect("at once on this node");

    let still = other.login("ada@example.com", PASSWORD, None, "192.0.2.1").await;
    assert!(
        matches!(still, Err(LoginError::IpAuthorizationRequired)),
        "cached: {still:?}"
    );
    w.advance(Duration::seconds(BRAND_CACHE_SECS));
    other
        .login("ada@example.com", PASSWORD, None, "192.0.2.1")
        .await
        .expect("read again once the cache time is over");
}

#[tokio::test]
async fn a_tenant_that_verifies_first_while_the_global_setting_does_not() {
    let w = acme(json!({ "require_email_verification": true })).await;
    let answer = w.register("ada@example.com", PASSWORD, None).await.unwrap();
    assert!(matches!(answer, portcullis_domain::Registered::MailSent), "{answer:?}");
    w.work().await;
    let mail = w.last_mail_to("ada@example.com").await;
    assert_eq!(mail.kind, MailKind::SignupVerification);
    let refused = w.login("ada@example.com", PASSWORD, None, AWAY).await;
    assert!(matches!(refused, Err(LoginError::EmailNotVerified)), "{refused:?}");
}
