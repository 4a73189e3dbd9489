//! Access tokens (EdDSA JWTs) and opaque refresh tokens.
//!
//! Access tokens are verified with one pinned algorithm, issuer, audience and `typ`, against keys
//! from our own configuration only. Refresh tokens are 256-bit random strings stored only as
//! SHA-256 hashes; a rotated token's successor is derived with HMAC under a server key, so every
//! concurrent presenter of the same token receives the *same* successor and a session can never
//! fork into two live chains, while a database dump (hashes only) yields no usable token.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::{SessionId, TenantId, UserId};
use crate::random::{SecureRandom, random_array};

/// The `typ` header of our access tokens (RFC 9068), so no other JWT of ours can pass as one.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Upper bound on a presented access token's length; anything longer is refused unparsed.
pub const MAX_ACCESS_TOKEN_LEN: usize = 4096;

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: UserId,
    /// The session id.
    pub sid: SessionId,
    /// The tenant id.
    pub tid: TenantId,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Authentication methods (RFC 8176), e.g. `["pwd"]`.
    pub amr: Vec<String>,
}

/// Issuer, audience and lifetimes of tokens.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// `iss` of issued tokens, and the only one accepted.
    pub issuer: String,
    /// `aud` of issued tokens, and the only one accepted.
    pub audience: String,
    /// Access token lifetime (default 15 min).
    pub access_ttl: Duration,
    /// Session (refresh chain) lifetime from login (default 30 days).
    pub session_ttl: Duration,
    /// How long a superseded refresh token still works (default 10 s).
    pub refresh_grace: Duration,
    /// Clock skew tolerated on `exp` and `iat` (default 10 s).
    pub leeway: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            issuer: "portcullis".into(),
            audience: "portcullis".into(),
            access_ttl: Duration::minutes(15),
            session_ttl: Duration::days(30),
            refresh_grace: Duration::seconds(10),
            leeway: Duration::seconds(10),
        }
    }
}

/// Why a presented access token was refused. All of them are a plain 401 to the caller; the
/// variants exist for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, too long, or claims missing or of the wrong type.
    #[error("malformed token")]
    Malformed,
    /// `alg`, `typ`, `kid` or a forbidden header (`jku`, `jwk`, `x5u`, `x5c`) is not acceptable.
    #[error("unacceptable token header")]
    Header,
    /// Signature does not verify.
    #[error("bad signature")]
    Signature,
    /// Wrong issuer or audience.
    #[error("wrong issuer or audience")]
    Claims,
    /// Past `exp` (plus leeway), or issued in the future.
    #[error("expired")]
    Expired,
}

/// A key that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid key: {0}")]
pub struct KeyError(pub(crate) String);

struct VerificationKey {
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

/// The signing key and every key we still accept, with the JWKS document that publishes them.
pub struct JwtKeys {
    active_kid: String,
    encoding: EncodingKey,
    verification: HashMap<String, VerificationKey>,
    jwks: serde_json::Value,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("active_kid", &self.active_kid)
            .field("verification_kids", &self.verification.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Builds the key set from a 32-byte Ed25519 seed (the active signing key) and the public
    /// keys of earlier signing keys that tokens in flight may still carry.
    ///
    /// ```
    /// use portcullis_domain::JwtKeys;
    /// let keys = JwtKeys::from_ed25519_seed(&[7u8; 32], &[]).unwrap();
    /// assert_eq!(keys.jwks()["keys"][0]["alg"], "EdDSA");
    /// ```
    pub fn from_ed25519_seed(seed: &[u8; 32], previous: &[[u8; 32]]) -> Result<Self, KeyError> {
        let signing = ed25519_dalek::SigningKey::from_bytes(seed);
        Self::from_signing_key(&signing, previous)
    }

    /// Builds the key set from a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`)
    /// and the public keys of earlier signing keys (see [`JwtKeys::from_pem_public`]).
    pub fn from_pem(private_pem: &str, previous: &[[u8; 32]]) -> Result<Self, KeyError> {
        let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(private_pem)
            .map_err(|e| KeyError(format!("signing key is not an Ed25519 PKCS#8 PEM key: {e}")))?;
        Self::from_signing_key(&signing, previous)
    }

    /// Decodes an SPKI PEM Ed25519 public key (an earlier signing key kept for verification).
    pub fn from_pem_public(pem: &str) -> Result<[u8; 32], KeyError> {
        ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map(|k| k.to_bytes())
            .map_err(|e| KeyError(format!("previous public key is not an Ed25519 SPKI PEM key: {e}")))
    }

    /// The public key in a PEM: an SPKI public key, or the public half of a PKCS#8 private one
    /// (a key file given only to be published and accepted).
    pub fn public_key_from_pem(pem: &str) -> Result<[u8; 32], KeyError> {
        if pem.contains("PRIVATE KEY") {
            ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                .map(|k| k.verifying_key().to_bytes())
                .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 PEM key: {e}")))
        } else {
            Self::from_pem_public(pem)
        }
    }

    /// The `kid` tokens signed by the key with this public half carry (its RFC 7638
    /// thumbprint).
    ///
    /// ```
    /// use portcullis_domain::JwtKeys;
    /// let keys = JwtKeys::from_ed25519_seed(&[7u8; 32], &[]).unwrap();
    /// let public = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]).verifying_key().to_bytes();
    /// assert_eq!(JwtKeys::kid_of(&public), keys.active_kid());
    /// ```
    pub fn kid_of(public: &[u8; 32]) -> String {
        jwk_thumbprint(&URL_SAFE_NO_PAD.encode(public))
    }

    fn from_signing_key(signing: &ed25519_dalek::SigningKey, previous: &[[u8; 32]]) -> Result<Self, KeyError> {
        let der = signing.to_pkcs8_der().map_err(|e| KeyError(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let active_public = signing.verifying_key().to_bytes();
        let mut verification = HashMap::new();
        let mut jwks = Vec::new();
        let mut active_kid = String::new();
        for (i, public) in std::iter::once(&active_public).chain(previous).enumerate() {
            let x = URL_SAFE_NO_PAD.encode(public);
            let kid = jwk_thumbprint(&x);
            if i == 0 {
                active_kid.clone_from(&kid);
            }
            // A key listed twice (the signing key among the previous ones) is published once.
            if verification.contains_key(&kid) {
                continue;
            }
            let decoding = DecodingKey::from_ed_components(&x).map_err(|e| KeyError(e.to_string()))?;
            let jwk = serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig",
            });
            jwks.push(jwk.clone());
            verification.insert(kid, VerificationKey { decoding, jwk });
        }
        Ok(Self {
            active_kid,
            encoding,
            verification,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// The JSON Web Key Set to publish at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// The `kid` new tokens are signed with.
    pub fn active_kid(&self) -> &str {
        &self.active_kid
    }

    /// The public JWK of a key we accept, by `kid`.
    pub fn jwk(&self, kid: &str) -> Option<&serde_json::Value> {
        self.verification.get(kid).map(|k| &k.jwk)
    }

    /// Signs an access token for `session`. Returns the token and its expiry.
    pub fn issue(
        &self,
        policy: &TokenPolicy,
        subject: &TokenSubject<'_>,
        now: DateTime<Utc>,
        rng: &dyn SecureRandom,
    ) -> Result<(String, DateTime<Utc>), KeyError> {
        let exp = now + policy.access_ttl;
        let claims = AccessClaims {
            iss: policy.issuer.clone(),
            aud: policy.audience.clone(),
            sub: subject.user_id,
            sid: subject.session_id,
            tid: subject.tenant_id,
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: uuid::Builder::from_random_bytes(random_array::<16>(rng))
                .into_uuid()
                .to_string(),
            amr: subject.amr.to_vec(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.into());
        header.kid = Some(self.active_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| KeyError(e.to_string()))?;
        Ok((token, exp))
    }

    /// Verifies an access token: EdDSA only, our `typ`, a `kid` we know, no key-carrying headers,
    /// issuer and audience pinned, `exp` and `iat` checked against `now` with the policy's leeway.
    /// Whether its session is still live is the caller's second check.
    pub fn verify(&self, policy: &TokenPolicy, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_ACCESS_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP)
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.x5t.is_some()
            || header.x5t_s256.is_some()
        {
            return Err(TokenError::Header);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.verification.get(kid))
            .ok_or(TokenError::Header)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&policy.issuer]);
        validation.set_audience(&[&policy.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        // Time is checked below against our clock port, not the library's system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => TokenError::Signature,
                K::InvalidIssuer | K::InvalidAudience => TokenError::Claims,
                K::InvalidAlgorithm | K::InvalidAlgorithmName => TokenError::Header,
                _ => TokenError::Malformed,
            }
        })?;
        let claims = data.claims;
        let leeway = policy.leeway.num_seconds();
        let now = now.timestamp();
        if claims.exp.saturating_add(leeway) <= now || claims.iat.saturating_sub(leeway) > now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// Whom an access token is for.
#[derive(Debug, Clone, Copy)]
pub struct TokenSubject<'a> {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`.
    pub session_id: SessionId,
    /// `tid`.
    pub tenant_id: TenantId,
    /// `amr`.
    pub amr: &'a [String],
}

/// RFC 7638 thumbprint of an Ed25519 JWK, used as its `kid`.
fn jwk_thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn subject(amr: &[String]) -> TokenSubject<'_> {
        TokenSubject {
            user_id: UserId::from_uuid(Uuid::now_v7()),
            session_id: SessionId::from_uuid(Uuid::now_v7()),
            tenant_id: TenantId::DEFAULT,
            amr,
        }
    }

    fn keys() -> JwtKeys {
        JwtKeys::from_ed25519_seed(&[42u8; 32], &[]).unwrap()
    }

    #[test]
    fn issued_token_verifies_and_carries_every_claim() {
        let keys = keys();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let amr = vec!["pwd".to_owned()];
        let s = subject(&amr);
        let (token, exp) = keys.issue(&policy, &s, now, &OsRandom).unwrap();
        let claims = keys.verify(&policy, &token, now).unwrap();
        assert_eq!(claims.sub, s.user_id);
        assert_eq!(claims.sid, s.session_id);
        assert_eq!(claims.tid, TenantId::DEFAULT);
        assert_eq!(claims.amr, amr);
        assert_eq!(claims.exp, exp.timestamp());
        assert_eq!(claims.iss, "portcullis");
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(keys.active_kid()));
    }

    #[test]
    fn expiry_uses_the_given_clock_with_leeway() {
        let keys = keys();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let (token, _) = keys.issue(&policy, &subject(&[]), now, &OsRandom).unwrap();
        let just_inside = now + policy.access_ttl + policy.leeway - Duration::seconds(1);
        assert!(keys.verify(&policy, &token, just_inside).is_ok());
        let outside = now + policy.access_ttl + policy.leeway;
        assert_eq!(keys.verify(&policy, &token, outside), Err(TokenError::Expired));
        let before_issue = now - policy.leeway - Duration::seconds(1);
        assert_eq!(keys.verify(&policy, &token, before_issue), Err(TokenError::Expired));
    }

    #[test]
    fn other_issuer_audience_or_key_is_refused() {
        let keys = keys();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let (token, _) = keys.issue(&policy, &subject(&[]), now, &OsRandom).unwrap();
        let other_aud = TokenPolicy {
            audience: "other".into(),
            ..TokenPolicy::default()
        };
        assert_eq!(keys.verify(&other_aud, &token, now), Err(TokenError::Claims));
        let other_iss = TokenPolicy {
            issuer: "other".into(),
            ..TokenPolicy::default()
        };
        assert_eq!(keys.verify(&other_iss, &token, now), Err(TokenError::Claims));
        let stranger = JwtKeys::from_ed25519_seed(&[1u8; 32], &[]).unwrap();
        assert_eq!(
            stranger.verify(&policy, &token, now),
            Err(TokenError::Header),
            "unknown kid"
        );
    }

    #[test]
    fn previous_keys_still_verify_after_rotation() {
        let old = JwtKeys::from_ed25519_seed(&[1u8; 32], &[]).unwrap();
        let old_public = ed25519_dalek::SigningKey::from_bytes(&[1u8; 32])
            .verifying_key()
            .to_bytes();
        let rotated = JwtKeys::from_ed25519_seed(&[2u8; 32], &[old_public]).unwrap();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let (token, _) = old.issue(&policy, &subject(&[]), now, &OsRandom).unwrap();
        assert!(rotated.verify(&policy, &token, now).is_ok());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn key_carrying_headers_are_refused_even_when_correctly_signed() {
        let keys = keys();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let (token, _) = keys.issue(&policy, &subject(&[]), now, &OsRandom).unwrap();
        let claims = keys.verify(&policy, &token, now).unwrap();
        let signing = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
        let der = signing.to_pkcs8_der().unwrap();
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys.jwks()["keys"][0].clone()).unwrap();
        let base = || {
            let mut h = Header::new(Algorithm::EdDSA);
            h.typ = Some(ACCESS_TOKEN_TYP.into());
            h.kid = Some(keys.active_kid().to_owned());
            h
        };
        let variants: Vec<(&str, Header)> = vec![
            (
                "jku",
                Header {
                    jku: Some("https://evil.example/jwks".into()),
                    ..base()
                },
            ),
            (
                "jwk",
                Header {
                    jwk: Some(jwk),
                    ..base()
                },
            ),
            (
                "x5u",
                Header {
                    x5u: Some("https://evil.example/cert".into()),
                    ..base()
                },
            ),
            (
                "typ JWT",
                Header {
                    typ: Some("JWT".into()),
                    ..base()
                },
            ),
            ("no kid", Header { kid: None, ..base() }),
        ];
        // The control: the same claims and key with a clean header verify.
        let clean = jsonwebtoken::encode(&base(), &claims, &encoding).unwrap();
        assert!(keys.verify(&policy, &clean, now).is_ok());
        for (name, header) in variants {
            let forged = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
            assert_eq!(keys.verify(&policy, &forged, now), Err(TokenError::Header), "{name}");
        }
    }

    #[test]
    fn tampered_payload_fails_signature() {
        let keys = keys();
        let policy = TokenPolicy::default();
        let now = Utc::now();
        let (token, _) = keys.issue(&policy, &subject(&[]), now, &OsRandom).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["amr"] = serde_json::json!(["pwd", "otp"]);
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(keys.verify(&policy, &parts.join("."), now), Err(TokenError::Signature));
    }

    proptest! {
        #[test]
        fn verify_never_panics_on_arbitrary_input(s in "\\PC{0,400}") {
            let _ = keys().verify(&TokenPolicy::default(), &s, Utc::now());
        }
    }
}
