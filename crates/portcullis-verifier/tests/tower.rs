//! The tower layer (feature `tower`) around a service that echoes the claims it was given.
#![allow(clippy::unwrap_used)]

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use portcullis_verifier::{Claims, ManualClock, VerifyLayer};
use support::{JwksServer, TestKey, claims_at, jwks, unix_now};
use tower::{Layer, ServiceExt, service_fn};

async fn echo(request: Request<()>) -> Result<Response<String>, Infallible> {
    let claims = request.extensions().get::<Claims>().cloned();
    Ok(Response::new(
        claims.map_or_else(|| "no claims".into(), |c| c.sub.to_string()),
    ))
}

#[tokio::test]
async fn only_verified_requests_reach_the_service_with_their_claims() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let layer = VerifyLayer::new(server.verifier(&clock));
    let token = key.token(&claims_at(unix_now(&clock)));

    let send = |authorization: Option<String>| {
        let service = layer.layer(service_fn(echo));
        let mut request = Request::builder().uri("/me");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        service.oneshot(request.body(()).unwrap())
    };
    let response = send(Some(format!("Bearer {token}"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "0196a4b0-0000-7000-8000-000000000001");

    let response = send(None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body["error"]["code"], "missing_token");

    let forged = TestKey::new(2, "key-1").token(&claims_at(unix_now(&clock)));
    let response = send(Some(format!("Bearer {forged}"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(
        (body["success"].clone(), body["error"]["code"].clone()),
        (false.into(), "invalid_token".into())
    );
}
