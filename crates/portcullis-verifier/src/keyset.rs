//! A JWKS document turned into the keys a token may be verified with.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::error::JwksError;

/// One verification key and the pinned algorithms it may verify.
pub(crate) struct Key {
    pub(crate) decoding: DecodingKey,
    pub(crate) algorithms: Vec<Algorithm>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// Usable keys by `kid`.
pub(crate) type Keys = HashMap<String, Arc<Key>>;

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

/// The keys of a JWKS body that can verify one of `pinned`. A key is skipped, not fatal, when it
/// has no `kid`, is not for signatures (`use`, `key_ops`), is symmetric (`kty: oct`: a public
/// document cannot hold a secret), names an `alg` that is not pinned, or does not parse; of two
/// keys with one `kid`, the first is kept. Only a body that is not `{"keys": [...]}` is an error.
pub(crate) fn parse(body: &[u8], pinned: &[Algorithm]) -> Result<Keys, JwksError> {
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| JwksError::NotJwks(e.to_string()))?;
    let mut keys = Keys::new();
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if keys.contains_key(&kid) || !for_signatures(&jwk) {
            continue;
        }
        let algorithms: Vec<Algorithm> = fitting(&jwk).iter().copied().filter(|a| pinned.contains(a)).collect();
        if algorithms.is_empty() {
            continue;
        }
        let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.insert(kid, Arc::new(Key { decoding, algorithms }));
    }
    Ok(keys)
}

fn for_signatures(jwk: &Jwk) -> bool {
    let usable_use = match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => true,
        Some(_) => false,
    };
    let usable_ops = jwk
        .common
        .key_operations
        .as_ref()
        .is_none_or(|ops| ops.contains(&KeyOperations::Verify));
    usable_use && usable_ops
}

/// The algorithms the key's type and curve allow, narrowed to its `alg` when it names one.
fn fitting(jwk: &Jwk) -> Vec<Algorithm> {
    let by_type: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => &[Algorithm::EdDSA],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => &[Algorithm::ES256],
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => &[Algorithm::ES384],
        AlgorithmParameters::RSA(_) => &[
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        // Symmetric keys, and curves no algorithm here verifies.
        _ => &[],
    };
    match jwk.common.key_algorithm {
        None => by_type.to_vec(),
        Some(named) => by_type
            .iter()
            .copied()
            .filter(|a| key_algorithm(*a) == Some(named))
            .collect(),
    }
}

fn key_algorithm(a: Algorithm) -> Option<KeyAlgorithm> {
    Some(match a {
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE";

    fn parse_json(value: &serde_json::Value, pinned: &[Algorithm]) -> Result<Keys, JwksError> {
        parse(value.to_string().as_bytes(), pinned)
    }

    #[test]
    fn usable_signature_keys_are_kept_and_the_rest_skipped() {
        let okp = |kid: &str, extra: serde_json::Value| {
            let mut key = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "x": X, "kid": kid });
            if let (Some(key), Some(extra)) = (key.as_object_mut(), extra.as_object()) {
                key.extend(extra.clone());
            }
            key
        };
        let set = serde_json::json!({ "keys": [
            okp("plain", serde_json::json!({})),
            okp("tagged", serde_json::json!({ "alg": "EdDSA", "use": "sig" })),
            okp("for-encryption", serde_json::json!({ "use": "enc" })),
            okp("sign-only", serde_json::json!({ "key_ops": ["sign"] })),
            okp("other-alg", serde_json::json!({ "alg": "ES256" })),
            { "kty": "OKP", "crv": "Ed25519", "x": X },
            { "kty": "oct", "k": "c2VjcmV0", "kid": "symmetric", "alg": "HS256" },
            { "kty": "weird", "kid": "unknown-type" },
            { "kty": "EC", "crv": "P-256", "x": X, "y": X, "kid": "ec" },
        ]});
        let keys = parse_json(&set, &[Algorithm::EdDSA]).unwrap();
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["plain", "tagged"]);
        assert_eq!(keys["plain"].algorithms, [Algorithm::EdDSA]);
        // The EC key is kept only when ES256 is pinned.
        let keys = parse_json(&set, &[Algorithm::ES256]).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ec"]);
    }

    #[test]
    fn a_body_that_is_no_jwks_is_an_error_and_an_empty_set_is_not() {
        assert!(matches!(
            parse(b"<html>", &[Algorithm::EdDSA]),
            Err(JwksError::NotJwks(_))
        ));
        assert!(matches!(
            parse(b"{\"key\":[]}", &[Algorithm::EdDSA]),
            Err(JwksError::NotJwks(_))
        ));
        assert!(parse(b"{\"keys\":[]}", &[Algorithm::EdDSA]).unwrap().is_empty());
    }
}
