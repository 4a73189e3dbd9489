//! What a token must be to verify: each refusal beside a control that passes.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis_verifier::{InvalidReason, ManualClock, Verifier, VerifierConfig, VerifyError};
use serde_json::{Value, json};
use support::{JwksServer, TestKey, claims_at, jwks, unix_now};

struct Setup {
    server: JwksServer,
    clock: Arc<ManualClock>,
    key: TestKey,
    verifier: Verifier,
}

async fn setup() -> Setup {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    Setup {
        server,
        clock,
        key,
        verifier,
    }
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

fn invalid(reason: InvalidReason) -> Result<(), VerifyError> {
    Err(VerifyError::Invalid(reason))
}

#[tokio::test]
async fn a_portcullis_token_verifies_and_its_claims_come_out() {
    let s = setup().await;
    let now = unix_now(&s.clock);
    let claims = s.verifier.verify(&s.key.token(&claims_at(now))).await.unwrap();
    assert_eq!(claims.sub.to_string(), "0196a4b0-0000-7000-8000-000000000001");
    assert_eq!(claims.sid.to_string(), "0196a4b0-0000-7000-8000-000000000002");
    assert!(claims.tid.is_nil());
    assert_eq!(claims.amr, ["pwd", "otp"]);
    assert!(claims.authenticated_with("otp") && !claims.authenticated_with("email"));
    assert_eq!((claims.iat, claims.exp), (now, now + 900));
    assert_eq!(claims.jti, "9b2f7c1e-5d4a-4e3b-8c2d-1f0e9a8b7c6d");
    assert_eq!(s.server.fetches(), 1);
}

#[tokio::test]
async fn wrong_issuer_audience_or_claims_are_refused() {
    let s = setup().await;
    let good = claims_at(unix_now(&s.clock));
    let check = async |claims: Value| s.verifier.verify(&s.key.token(&claims)).await.map(drop);
    assert_eq!(check(good.clone()).await, Ok(()));
    assert_eq!(
        check(with(good.clone(), "iss", json!("evil"))).await,
        invalid(InvalidReason::Issuer)
    );
    assert_eq!(
        check(with(good.clone(), "aud", json!("other-service"))).await,
        invalid(InvalidReason::Audience)
    );
    assert_eq!(
        check(without(good.clone(), "iss")).await,
        invalid(InvalidReason::Claims)
    );
    assert_eq!(
        check(without(good.clone(), "aud")).await,
        invalid(InvalidReason::Claims)
    );
    for field in ["sub", "sid", "tid", "iat", "exp", "jti", "amr"] {
        assert_eq!(
            check(without(good.clone(), field)).await,
            invalid(InvalidReason::Claims),
            "{field}"
        );
    }
    assert_eq!(
        check(with(good.clone(), "sub", json!("ada"))).await,
        invalid(InvalidReason::Claims)
    );
    assert_eq!(
        check(with(good, "exp", json!("tomorrow"))).await,
        invalid(InvalidReason::Claims)
    );
}

#[tokio::test]
async fn expiry_and_issue_time_are_checked_with_the_leeway_on_the_configured_clock() {
    let s = setup().await;
    let now = unix_now(&s.clock);
    let token = s.key.token(&claims_at(now));
    // 900 s of life and 10 s of leeway.
    s.clock.advance(Duration::from_secs(909));
    assert!(s.verifier.verify(&token).await.is_ok());
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(s.verifier.verify(&token).await, Err(VerifyError::Expired));

    let now = unix_now(&s.clock);
    let early = s.key.token(&claims_at(now + 11));
    assert_eq!(
        s.verifier.verify(&early).await.map(drop),
        invalid(InvalidReason::NotYetValid)
    );
    let skewed = s.key.token(&claims_at(now + 10));
    assert!(s.verifier.verify(&skewed).await.is_ok(), "within the leeway");
    let not_before = s.key.token(&with(claims_at(now), "nbf", json!(now + 60)));
    assert_eq!(
        s.verifier.verify(&not_before).await.map(drop),
        invalid(InvalidReason::NotYetValid)
    );
}

#[tokio::test]
async fn other_algorithms_and_key_carrying_headers_are_refused() {
    let s = setup().await;
    let claims = claims_at(unix_now(&s.clock));
    let check = async |token: String| s.verifier.verify(&token).await.map(drop);
    assert_eq!(check(s.key.sign(&s.key.header(), &claims)).await, Ok(()));

    // HS256 "signed" with the public key, as bytes and as the JWK's `x`: the classic confusion.
    let x = URL_SAFE_NO_PAD.encode(s.key.public);
    for secret in [&s.key.public[..], x.as_bytes()] {
        let header = Header {
            alg: Algorithm::HS256,
            ..s.key.header()
        };
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap();
        assert_eq!(check(token).await, invalid(InvalidReason::Algorithm));
    }
    // `alg: none` with an empty signature.
    let none_header = json!({ "alg": "none", "typ": "at+jwt", "kid": s.key.kid });
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!("{}.{}.", encode(&none_header), encode(&claims));
    assert_eq!(check(unsigned).await, invalid(InvalidReason::Malformed));

    let headers: Vec<(InvalidReason, Header)> = vec![
        (
            InvalidReason::MissingKid,
            Header {
                kid: None,
                ..s.key.header()
            },
        ),
        (
            InvalidReason::Type,
            Header {
                typ: Some("JWT".into()),
                ..s.key.header()
            },
        ),
        (
            InvalidReason::Type,
            Header {
                typ: None,
                ..s.key.header()
            },
        ),
        (
            InvalidReason::ForbiddenHeader,
            Header {
                jku: Some("https://evil.example/jwks.json".into()),
                ..s.key.header()
            },
        ),
        (
            InvalidReason::ForbiddenHeader,
            Header {
                x5u: Some("https://evil.example/cert.pem".into()),
                ..s.key.header()
            },
        ),
        (
            InvalidReason::ForbiddenHeader,
            Header {
                jwk: Some(serde_json::from_value(s.key.jwk()).unwrap()),
                ..s.key.header()
            },
        ),
        (
            InvalidReason::ForbiddenHeader,
            Header {
                crit: Some(vec!["exp".into()]),
                ..s.key.header()
            },
        ),
    ];
    for (reason, header) in headers {
        assert_eq!(check(s.key.sign(&header, &claims)).await, invalid(reason), "{header:?}");
    }
    // No header made the verifier fetch a key from anywhere but its JWKS URL, once.
    assert_eq!(s.server.fetches(), 1);
}

#[tokio::test]
async fn tampered_forged_and_garbage_tokens_are_refused() {
    let s = setup().await;
    let claims = claims_at(unix_now(&s.clock));
    let token = s.key.token(&claims);
    assert!(s.verifier.verify(&token).await.is_ok());

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] =
        URL_SAFE_NO_PAD.encode(with(claims.clone(), "sub", json!("0196a4b0-0000-7000-8000-00000000beef")).to_string());
    let tampered = parts.join(".");
    assert_eq!(
        s.verifier.verify(&tampered).await.map(drop),
        invalid(InvalidReason::Signature)
    );

    // Another key claiming this key's kid.
    let impostor = TestKey::new(9, "key-1");
    assert_eq!(
        s.verifier.verify(&impostor.token(&claims)).await.map(drop),
        invalid(InvalidReason::Signature)
    );

    let long = format!("{token}{}", "A".repeat(4096));
    for garbage in [
        "",
        "nope",
        "a.b.c",
        "..",
        &long,
        "eyJhbGciOiJFZERTQSJ9",
        "\u{0}\u{ffff}",
    ] {
        assert_eq!(
            s.verifier.verify(garbage).await.map(drop),
            invalid(InvalidReason::Malformed),
            "{garbage:.20}"
        );
    }
}

#[tokio::test]
async fn hmac_algorithms_cannot_be_pinned_and_the_pinned_list_is_enforced() {
    let s = setup().await;
    let config = s.server.config(&s.clock).algorithms(&[Algorithm::HS256]);
    assert!(Verifier::new(config).is_err());
    let es_only = Verifier::new(s.server.config(&s.clock).algorithms(&[Algorithm::ES256])).unwrap();
    let token = s.key.token(&claims_at(unix_now(&s.clock)));
    assert_eq!(
        es_only.verify(&token).await.map(drop),
        invalid(InvalidReason::Algorithm)
    );
    let any_typ = Verifier::new(s.server.config(&s.clock).token_type(None)).unwrap();
    let plain = s.key.sign(
        &Header {
            typ: Some("JWT".into()),
            ..s.key.header()
        },
        &claims_at(unix_now(&s.clock)),
    );
    assert!(any_typ.verify(&plain).await.is_ok());
    assert!(Verifier::new(VerifierConfig::new("not a url", "i", "a")).is_err());
}
