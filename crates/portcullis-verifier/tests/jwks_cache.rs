//! How the JWKS is fetched and cached: counted fetches against a local JWKS server, with the
//! verifier on a manual clock.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::{JwksError, ManualClock, Verifier, VerifyError};
use support::{JwksServer, TestKey, claims_at, jwks, unix_now};
use tokio::task::JoinSet;

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Verifies every token at once, each on its own task; the results in order.
async fn all_at_once(verifier: &Verifier, tokens: Vec<String>) -> Vec<Result<(), VerifyError>> {
    let mut set = JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let verifier = verifier.clone();
        set.spawn(async move { (i, verifier.verify(&token).await.map(drop)) });
    }
    let mut results = set.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_interval() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    let claims = claims_at(unix_now(&clock));
    assert!(verifier.verify(&key.token(&claims)).await.is_ok());
    assert_eq!(server.fetches(), 1);

    let flood = |round: u32| -> Vec<String> {
        (0..200)
            .map(|i| TestKey::new(1, &format!("random-{round}-{i}")).token(&claims))
            .collect()
    };
    // Within 30 s of the last fetch: no fetch at all.
    let results = all_at_once(&verifier, flood(0)).await;
    assert!(
        results.iter().all(|r| *r == Err(VerifyError::UnknownKey)),
        "{results:?}"
    );
    assert_eq!(server.fetches(), 1);
    // Past the interval: exactly one, however many ask at once.
    clock.advance(secs(31));
    all_at_once(&verifier, flood(1)).await;
    assert_eq!(server.fetches(), 2);
    clock.advance(secs(29));
    all_at_once(&verifier, flood(2)).await;
    assert_eq!(server.fetches(), 2, "29 s after the last fetch");
    clock.advance(secs(2));
    all_at_once(&verifier, flood(3)).await;
    assert_eq!(server.fetches(), 3);
    // Known keys were answered all along.
    assert!(verifier.verify(&key.token(&claims)).await.is_ok());
    assert_eq!(server.fetches(), 3);
}

#[tokio::test]
async fn key_rotation_is_picked_up_and_removed_keys_stop_verifying() {
    let old = TestKey::new(1, "old");
    let new = TestKey::new(2, "new");
    let server = JwksServer::start(jwks(&[&old])).await;
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    let claims = claims_at(unix_now(&clock));
    let (old_token, new_token) = (old.token(&claims), new.token(&claims));
    assert!(verifier.verify(&old_token).await.is_ok());

    // The new key is published; its first token, past the unknown-kid interval, refetches.
    server.serve(jwks(&[&new, &old]));
    clock.advance(secs(31));
    assert!(verifier.verify(&new_token).await.is_ok());
    assert!(verifier.verify(&old_token).await.is_ok());
    assert_eq!(server.fetches(), 2);

    // The old key is withdrawn: it verifies while the cache is fresh, not after the refresh.
    server.serve(jwks(&[&new]));
    clock.advance(secs(299));
    assert!(verifier.verify(&old_token).await.is_ok());
    assert_eq!(server.fetches(), 2);
    clock.advance(secs(2));
    assert_eq!(verifier.verify(&old_token).await, Err(VerifyError::UnknownKey));
    assert_eq!(server.fetches(), 3);
    assert!(verifier.verify(&new_token).await.is_ok());

    // Withdrawn and then asked for past the interval: the refetch confirms it is gone.
    clock.advance(secs(31));
    assert_eq!(verifier.verify(&old_token).await, Err(VerifyError::UnknownKey));
    assert_eq!(server.fetches(), 4);
}

/// Fetch count after verifying at `at` seconds (cumulative) past the first fetch.
async fn fetches_over(cache_control: Option<&str>, steps: &[(u64, usize)]) {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    server.cache_control(cache_control);
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    // Valid for a day, so only caching is tested.
    let mut claims = claims_at(unix_now(&clock));
    claims["exp"] = serde_json::json!(unix_now(&clock) + 86_400);
    let token = key.token(&claims);
    assert!(verifier.verify(&token).await.is_ok());
    let mut elapsed = 0;
    for &(at, expected) in steps {
        clock.advance(secs(at - elapsed));
        elapsed = at;
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(server.fetches(), expected, "{cache_control:?} at {at} s");
    }
}

#[tokio::test]
async fn cache_control_max_age_is_honoured_within_bounds() {
    fetches_over(Some("public, max-age=60"), &[(59, 1), (61, 2), (120, 2), (122, 3)]).await;
    // Portcullis's own header.
    fetches_over(Some("public, max-age=300"), &[(299, 1), (301, 2)]).await;
    // None: the default lifetime, 5 min.
    fetches_over(None, &[(299, 1), (301, 2)]).await;
    // no-store, no-cache, and a max-age under the minimum: the minimum, 30 s.
    for short in ["no-store", "no-cache", "max-age=0", "max-age=5"] {
        fetches_over(Some(short), &[(29, 1), (31, 2)]).await;
    }
    // Absurdly long: the maximum, 1 h.
    fetches_over(Some("max-age=31536000"), &[(3599, 1), (3601, 2)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_fetch() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    server.delay(Duration::from_millis(200));
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    let token = key.token(&claims_at(unix_now(&clock)));
    let results = all_at_once(&verifier, vec![token.clone(); 50]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.fetches(), 1, "cold cache");
    clock.advance(secs(301));
    let results = all_at_once(&verifier, vec![token; 50]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.fetches(), 2, "stale cache");
}

#[tokio::test]
async fn cached_keys_outlive_a_jwks_outage_for_a_bounded_time() {
    let key = TestKey::new(1, "key-1");
    let server = JwksServer::start(jwks(&[&key])).await;
    let clock = Arc::new(ManualClock::new());
    let verifier = server.verifier(&clock);
    let mut claims = claims_at(unix_now(&clock));
    claims["exp"] = serde_json::json!(unix_now(&clock) + 86_400);
    let token = key.token(&claims);
    assert!(verifier.verify(&token).await.is_ok());

    server.status(503);
    clock.advance(secs(301));
    assert!(verifier.verify(&token).await.is_ok(), "stale keys served");
    assert_eq!(server.fetches(), 2);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 2, "no retry within 5 s of a failure");
    clock.advance(secs(6));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.fetches(), 3);

    // 300 s fresh + 3600 s stale, then nothing is trusted.
    clock.advance(secs(3600));
    assert_eq!(
        verifier.verify(&token).await,
        Err(VerifyError::JwksUnavailable(JwksError::Status(503)))
    );
    // Back: once the retry interval has passed, verification works again.
    server.status(200);
    assert!(verifier.verify(&token).await.unwrap_err().is_unavailable());
    clock.advance(secs(6));
    assert!(verifier.verify(&token).await.is_ok());
    assert!(verifier.refresh().await.is_ok());
}

#[tokio::test]
async fn an_unreachable_or_broken_jwks_without_cached_keys_is_unavailable() {
    let key = TestKey::new(1, "key-1");
    let clock = Arc::new(ManualClock::new());
    let token = key.token(&claims_at(unix_now(&clock)));

    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap())
    };
    let config = portcullis_verifier::VerifierConfig::new(closed, "portcullis", "portcullis").clock(clock.clone());
    let verifier = Verifier::new(config).unwrap();
    assert!(matches!(verifier.refresh().await, Err(JwksError::Request(_))));
    let error = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(error, VerifyError::JwksUnavailable(JwksError::Request(_))),
        "{error:?}"
    );

    let server = JwksServer::start("<html>not here</html>".into()).await;
    let verifier = server.verifier(&clock);
    let error = verifier.verify(&token).await.unwrap_err();
    assert!(
        matches!(error, VerifyError::JwksUnavailable(JwksError::NotJwks(_))),
        "{error:?}"
    );
    server.status(302);
    clock.advance(secs(6));
    let error = verifier.verify(&token).await.unwrap_err();
    assert_eq!(
        error,
        VerifyError::JwksUnavailable(JwksError::Status(302)),
        "redirects are not followed"
    );
    assert_eq!(server.fetches(), 2);
}
