//! The actix-web extractor in a tiny app: 200 with the claims, 401 and 503 in Portcullis's
//! error envelope.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{App, HttpResponse, test, web};
use portcullis_verifier::{Authenticated, ManualClock, Verifier, VerifierConfig};
use serde_json::Value;
use support::{JwksServer, TestKey, claims_at, jwks, unix_now};

async fn me(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", user.sub, user.0.amr.join("+")))
}

async fn maybe(user: Option<Authenticated>) -> HttpResponse {
    HttpResponse::Ok().body(user.map_or_else(|| "anonymous".to_owned(), |u| u.sub.to_string()))
}

/// Calls `GET path` with `authorization` and returns status, `WWW-Authenticate`, body.
async fn call(
    verifier: Option<Verifier>,
    path: &str,
    authorization: Option<&str>,
) -> (StatusCode, Option<String>, String) {
    let mut app = App::new()
        .route("/me", web::get().to(me))
        .route("/maybe", web::get().to(maybe));
    if let Some(v) = verifier {
        app = app.app_data(web::Data::new(v));
    }
    let app = test::init_service(app).await;
    let mut req = test::TestRequest::get().uri(path);
    if let Some(a) = authorization {
        req = req.insert_header(("authorization", a));
    }
    let res = test::call_service(&app, req.to_request()).await;
    let status = res.status();
    let challenge = res
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert_eq!(res.headers().get(RETRY_AFTER).unwrap(), "5");
    }
    let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    (status, challenge, body)
}

fn code(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    body["error"]["code"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_valid_token_gets_through_and_anything_else_gets_401() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    let token = key.token(&claims_at(unix_now(&clock)));

    let (status, _, body) = call(Some(verifier.clone()), "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "0196a4b0-0000-7000-8000-000000000001 pwd+otp");
    let (status, _, _) = call(Some(verifier.clone()), "/me", Some(&format!("bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "the scheme in any case");

    let (status, challenge, body) = call(Some(verifier.clone()), "/me", None).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
    assert_eq!(code(&body), "missing_token");

    let forged = TestKey::new(2, "key-1").token(&claims_at(unix_now(&clock)));
    let expired = key.token(&claims_at(unix_now(&clock) - 3600));
    for authorization in [
        format!("Basic {token}"),
        "Bearer".to_owned(),
        "Bearer not-a-jwt".to_owned(),
        format!("Bearer {forged}"),
        format!("Bearer {expired}"),
    ] {
        let (status, challenge, body) = call(Some(verifier.clone()), "/me", Some(&authorization)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:.20}");
        assert_eq!(challenge.as_deref(), Some("Bearer error=\"invalid_token\""));
        assert_eq!(code(&body), "invalid_token");
    }

    // Optional: absent or bad is anonymous, good is the user.
    let (_, _, body) = call(Some(verifier.clone()), "/maybe", None).await;
    assert_eq!(body, "anonymous");
    let (_, _, body) = call(Some(verifier.clone()), "/maybe", Some(&format!("Bearer {token}"))).await;
    assert_eq!(body, "0196a4b0-0000-7000-8000-000000000001");
}

#[actix_web::test]
async fn an_unreachable_jwks_is_503_and_a_missing_verifier_500() {
    let clock = Arc::new(ManualClock::new());
    let token = TestKey::new(1, "key-1").token(&claims_at(unix_now(&clock)));
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/jwks", listener.local_addr().unwrap())
    };
    let verifier = Verifier::new(VerifierConfig::new(closed, "portcullis", "portcullis").clock(clock)).unwrap();
    let (status, challenge, body) = call(Some(verifier), "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!((status, challenge), (StatusCode::SERVICE_UNAVAILABLE, None));
    assert_eq!(code(&body), "service_unavailable");

    let (status, _, body) = call(None, "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(code(&body), "internal_error");
}

#[actix_web::test]
async fn a_plain_verifier_in_the_app_data_works_too() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let app = App::new()
        .app_data(server.verifier(&clock))
        .route("/me", web::get().to(me));
    let app = test::init_service(app).await;
    let token = key.token(&claims_at(unix_now(&clock)));
    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), StatusCode::OK);
}
