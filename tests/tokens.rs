//! Refresh rotation, reuse detection, logout and bearer-token checks over HTTP.

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use common::{Ctx, error_code, read, s, spawn};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn tokens(ctx: &Ctx, email: &str) -> (String, String) {
    let data = ctx.register(email, None).await;
    (
        s(&data, "access_token").to_owned(),
        s(&data, "refresh_token").to_owned(),
    )
}

async fn status_with(ctx: &Ctx, token: &str) -> StatusCode {
    ctx.get("/v1/account", Some(token)).await.status()
}

#[tokio::test]
async fn refresh_rotates_and_the_new_pair_works() {
    let ctx = spawn().await;
    let (_, r1) = tokens(&ctx, "ada@example.com").await;
    let (status, body) = ctx.refresh(&r1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r2 = s(&body["data"], "refresh_token");
    assert_ne!(r2, r1);
    assert_eq!(body["data"]["user"]["email"], "ada@example.com");
    assert_eq!(
        status_with(&ctx, s(&body["data"], "access_token")).await,
        StatusCode::OK
    );
    let (status, _) = ctx.refresh(r2).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn superseded_token_within_grace_gets_the_same_successor() {
    let ctx = spawn().await;
    let (_, r1) = tokens(&ctx, "ada@example.com").await;
    let (_, first) = ctx.refresh(&r1).await;
    ctx.app.clock.advance(Duration::seconds(9));
    let (status, again) = ctx.refresh(&r1).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        again["data"]["refresh_token"], first["data"]["refresh_token"],
        "one chain, not two"
    );
}

#[tokio::test]
async fn a_replay_behind_several_rotations_gets_the_current_head() {
    let ctx = spawn().await;
    let (_, r0) = tokens(&ctx, "ada@example.com").await;
    let (_, b1) = ctx.refresh(&r0).await;
    let (_, b2) = ctx.refresh(s(&b1["data"], "refresh_token")).await;
    let head = s(&b2["data"], "refresh_token").to_owned();
    ctx.app.clock.advance(Duration::seconds(5));
    // A tab that still holds r0 (within its grace window) is handed the live head, not the
    // superseded r1 that would later count as reuse.
    let (status, late) = ctx.refresh(&r0).await;
    assert_eq!(status, StatusCode::OK, "{late}");
    assert_eq!(s(&late["data"], "refresh_token"), head);
    ctx.app.clock.advance(Duration::minutes(5));
    let (status, body) = ctx.refresh(&head).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn reuse_after_grace_revokes_the_whole_session_at_once() {
    let ctx = spawn().await;
    let (access, r1) = tokens(&ctx, "ada@example.com").await;
    let (_, body) = ctx.refresh(&r1).await;
    let r2 = s(&body["data"], "refresh_token").to_owned();
    let a2 = s(&body["data"], "access_token").to_owned();
    ctx.app.clock.advance(Duration::seconds(11));
    let (status, body) = ctx.refresh(&r1).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "refresh_token_reused");
    // Every token of the session is dead: the current refresh token and both access tokens.
    let (status, body) = ctx.refresh(&r2).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
    assert_eq!(status_with(&ctx, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&ctx, &a2).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn eight_concurrent_refreshes_of_one_token_all_succeed_on_one_chain() {
    let ctx = spawn().await;
    let (_, r1) = tokens(&ctx, "ada@example.com").await;
    let results = futures::future::join_all((0..8).map(|_| ctx.refresh(&r1))).await;
    let successors: Vec<&Value> = results
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            &body["data"]["refresh_token"]
        })
        .collect();
    assert!(
        successors.windows(2).all(|w| w[0] == w[1]),
        "all got the same successor"
    );
    let successor = successors[0].as_str().unwrap().to_owned();
    // The chain goes on from that successor, and the session is intact.
    let (status, body) = ctx.refresh(&successor).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        status_with(&ctx, s(&body["data"], "access_token")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn garbage_and_missing_refresh_tokens() {
    let ctx = spawn().await;
    for junk in [
        "",
        "pcr_",
        "pcr_AAAA",
        "not a token",
        &format!("pcr_{}", "A".repeat(43)),
    ] {
        let (status, body) = ctx.refresh(junk).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{junk}: {body}");
        assert_eq!(error_code(&body), "invalid_refresh_token");
    }
    let (status, body) = read(ctx.post("/v1/auth/refresh", json!({})).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["field"], "refresh_token");
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let ctx = spawn().await;
    let (access, refresh) = tokens(&ctx, "ada@example.com").await;
    assert_eq!(status_with(&ctx, &refresh).await, StatusCode::UNAUTHORIZED);
    let (status, body) = ctx.refresh(&access).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_refresh_token")
    );
}

#[tokio::test]
async fn logout_kills_the_access_token_at_once() {
    let ctx = spawn().await;
    let (access, refresh) = tokens(&ctx, "ada@example.com").await;
    let res = ctx.post_bearer("/v1/auth/logout", &access, json!({})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.text().await.unwrap().is_empty());
    let (status, body) = read(ctx.get("/v1/account", Some(&access)).await).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));
    let (status, _) = ctx.refresh(&refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Logging out again with the dead token is 401, not a silent success.
    assert_eq!(
        ctx.post_bearer("/v1/auth/logout", &access, json!({})).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_without_a_body_is_local() {
    let ctx = spawn().await;
    let (access, _) = tokens(&ctx, "ada@example.com").await;
    let res = ctx
        .http
        .post(ctx.app.url("/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_with(&ctx, &access).await, StatusCode::UNAUTHORIZED);
}

async fn three_sessions(ctx: &Ctx) -> Vec<String> {
    let (a, _) = tokens(ctx, "ada@example.com").await;
    let mut all = vec![a];
    for _ in 0..2 {
        let (_, body) = ctx.login("ada@example.com", common::PASSWORD).await;
        all.push(s(&body["data"], "access_token").to_owned());
    }
    all
}

#[tokio::test]
async fn logout_scopes() {
    let ctx = spawn().await;
    let (bob, _) = tokens(&ctx, "bob@example.com").await;

    let s1 = three_sessions(&ctx).await;
    assert_eq!(
        ctx.post_bearer("/v1/auth/logout", &s1[0], json!({ "scope": "others" }))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(status_with(&ctx, &s1[0]).await, StatusCode::OK);
    assert_eq!(status_with(&ctx, &s1[1]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&ctx, &s1[2]).await, StatusCode::UNAUTHORIZED);

    let (_, body) = ctx.login("ada@example.com", common::PASSWORD).await;
    let other = s(&body["data"], "access_token").to_owned();
    let res = ctx
        .post_form_bearer("/v1/auth/logout", &s1[0], &[("scope", "global")])
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_with(&ctx, &s1[0]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&ctx, &other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status_with(&ctx, &bob).await,
        StatusCode::OK,
        "another user's sessions are untouched"
    );

    let (status, body) = read(
        ctx.post_bearer("/v1/auth/logout", &bob, json!({ "scope": "everyone" }))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["field"], "scope");
    assert_eq!(status_with(&ctx, &bob).await, StatusCode::OK);
}

#[tokio::test]
async fn expired_access_token_is_refused() {
    let ctx = spawn().await;
    let (access, refresh) = tokens(&ctx, "ada@example.com").await;
    ctx.app.clock.advance(Duration::minutes(15) + Duration::seconds(11));
    let res = ctx.get("/v1/account", Some(&access)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // The refresh token still works and yields a fresh access token.
    let (status, body) = ctx.refresh(&refresh).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        status_with(&ctx, s(&body["data"], "access_token")).await,
        StatusCode::OK
    );
}

fn forge(header: Value, claims: &Value, signature: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{h}.{c}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_tampered_and_malformed_tokens_are_refused() {
    let ctx = spawn().await;
    let (access, _) = tokens(&ctx, "ada@example.com").await;
    let claims = claims_of(&access);
    let kid = {
        let h = access.split('.').next().unwrap();
        let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        v["kid"].clone()
    };

    // alg none, unsigned.
    let none = forge(json!({ "alg": "none", "typ": "at+jwt", "kid": kid }), &claims, b"");
    // HS256 signed with the public key (the classic key-confusion attack).
    let (_, jwks) = read(ctx.get("/.well-known/jwks.json", None).await).await;
    let public_x = URL_SAFE_NO_PAD.decode(s(&jwks["keys"][0], "x")).unwrap();
    let hs = {
        let header = jsonwebtoken::Header {
            kid: kid.as_str().map(str::to_owned),
            typ: Some("at+jwt".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public_x)).unwrap()
    };
    // A validly signed token from a key that is not ours, with our kid.
    let stranger = {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = key.to_pkcs8_der().unwrap();
        let header = jsonwebtoken::Header {
            kid: kid.as_str().map(str::to_owned),
            typ: Some("at+jwt".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA)
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )
        .unwrap()
    };
    // Our own token with a changed claim.
    let tampered = {
        let mut parts: Vec<&str> = access.split('.').collect();
        let mut c = claims.clone();
        c["amr"] = json!(["pwd", "otp"]);
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        parts[1] = &encoded;
        parts.join(".")
    };
    // A header that carries its own key.
    let jwk_header = {
        let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
        let h = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid, "jwk": jwks["keys"][0] });
        parts[0] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap());
        parts.join(".")
    };
    for (name, token) in [
        ("alg none", none.as_str()),
        ("hs256 with public key", hs.as_str()),
        ("stranger key", stranger.as_str()),
        ("tampered", tampered.as_str()),
        ("jwk header", jwk_header.as_str()),
        ("garbage", "abc.def.ghi"),
        ("not a jwt", "hello"),
    ] {
        let (status, body) = read(ctx.get("/v1/account", Some(token)).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        assert_eq!(error_code(&body), "invalid_token", "{name}");
    }
    assert_eq!(
        status_with(&ctx, &access).await,
        StatusCode::OK,
        "the real token still works"
    );
}

#[tokio::test]
async fn missing_or_non_bearer_authorization_is_401() {
    let ctx = spawn().await;
    let (status, body) = read(ctx.get("/v1/account", None).await).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "missing_token"));
    let res = ctx
        .http
        .get(ctx.app.url("/v1/account"))
        .header("Authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    let (status, body) = read(res).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));
}

#[tokio::test]
async fn issued_tokens_verify_against_the_published_jwks() {
    let ctx = spawn().await;
    let (access, _) = tokens(&ctx, "ada@example.com").await;
    let (status, jwks) = read(ctx.get("/.well-known/jwks.json", None).await).await;
    assert_eq!(status, StatusCode::OK);
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["portcullis"]);
    validation.set_issuer(&["portcullis"]);
    let data = jsonwebtoken::decode::<Value>(&access, &key, &validation).unwrap();
    for claim in ["iss", "aud", "sub", "sid", "tid", "iat", "exp", "jti", "amr"] {
        assert!(!data.claims[claim].is_null(), "{claim} missing");
    }
    assert_eq!(data.header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
}
