//! End to end against a real Portcullis (the testkit's): a user signs up, their access token
//! verifies against the app's JWKS, and introspection with an admin key sees it live, then dead
//! after logout (which local verification cannot see).
#![allow(clippy::unwrap_used)]

use portcullis_server::operator::{AdminKeyCommand, Operation, execute};
use portcullis_testkit::TestApp;
use portcullis_verifier::{IntrospectError, Introspection, Introspector, Verifier, VerifierConfig, VerifyError};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// Registers `email` and confirms it with the mailed code: the first token pair's `data`.
async fn sign_up(app: &TestApp, http: &reqwest::Client, email: &str) -> Value {
    let res = http
        .post(app.url("/v1/auth/register"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
    let code = app.nth_mail_to(email, 1).await.unwrap().code().unwrap();
    let res = http
        .post(app.url("/v1/auth/verify-email"))
        .json(&json!({ "email": email, "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    res.json::<Value>().await.unwrap()["data"].clone()
}

/// An introspect-only admin key, made as `portcullis admin-key create` makes it (as
/// tests/admin.rs does), against the app's database.
async fn admin_key(app: &TestApp) -> String {
    let store = app.storage();
    let mut out = Vec::new();
    let create = Operation::AdminKey(AdminKeyCommand::Create {
        name: "verifier test".into(),
        tenant: None,
        introspect_only: true,
    });
    execute(store.as_ref(), app.clock.as_ref(), create, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap().lines().last().unwrap().to_owned()
}

#[tokio::test]
async fn a_real_portcullis_token_verifies_and_introspects() {
    let app = TestApp::builder().database_from_env().spawn().await.unwrap();
    let http = reqwest::Client::new();
    let pair = sign_up(&app, &http, "ada@example.com").await;
    let access = pair["access_token"].as_str().unwrap();

    // The test app runs with the configuration defaults: issuer and audience `portcullis`.
    let config = VerifierConfig::new(app.url("/.well-known/jwks.json"), "portcullis", "portcullis");
    let verifier = Verifier::new(config).unwrap();
    verifier.refresh().await.unwrap();
    let claims = verifier.verify(access).await.unwrap();
    assert_eq!(claims.sub.to_string(), pair["user"]["id"].as_str().unwrap());
    assert!(claims.tid.is_nil(), "the default tenant");
    assert_eq!(claims.amr, ["email"]);
    assert_eq!(claims.exp - claims.iat, 900);
    let other_audience = VerifierConfig::new(app.url("/.well-known/jwks.json"), "portcullis", "billing");
    assert!(matches!(
        Verifier::new(other_audience).unwrap().verify(access).await,
        Err(VerifyError::Invalid(_))
    ));

    let key = admin_key(&app).await;
    let introspector = Introspector::new(&app.url(""), SecretString::from(key.clone())).unwrap();
    let Introspection::Active(live) = introspector.introspect(access).await.unwrap() else {
        panic!("a fresh access token is active");
    };
    assert_eq!(
        (live.sub, live.sid, live.tid, live.exp),
        (claims.sub, claims.sid, claims.tid, claims.exp)
    );
    assert_eq!(live.amr, ["email"]);
    let refresh = pair["refresh_token"].as_str().unwrap();
    assert!(introspector.introspect(refresh).await.unwrap().is_active());
    assert_eq!(introspector.introspect("nope").await, Ok(Introspection::Inactive));

    // Logged out: introspection sees it at once; the signature still verifies until `exp`.
    let res = http
        .post(app.url("/v1/auth/logout"))
        .bearer_auth(access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    assert_eq!(introspector.introspect(access).await, Ok(Introspection::Inactive));
    assert!(verifier.verify(access).await.is_ok());

    // Keys Portcullis refuses.
    let wrong = Introspector::new(&app.url(""), SecretString::from(format!("{key}x"))).unwrap();
    assert_eq!(
        wrong.introspect(access).await,
        Err(IntrospectError::AdminKeyRefused {
            status: 401,
            code: "invalid_token".into()
        })
    );
    let other = sign_up(&app, &http, "bob@example.com").await;
    let user_token = other["access_token"].as_str().unwrap().to_owned();
    let not_admin = Introspector::new(&app.url(""), SecretString::from(user_token)).unwrap();
    assert_eq!(
        not_admin.introspect(access).await,
        Err(IntrospectError::AdminKeyRefused {
            status: 403,
            code: "admin_key_required".into()
        })
    );
}
