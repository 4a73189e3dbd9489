//! The claims of a verified access token.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a verified Portcullis access token says. `iss` and `aud` are not repeated: they are the
/// pinned ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id (`sub`).
    pub sub: Uuid,
    /// The session id (`sid`); its revocation is seen only through introspection, or when the
    /// token expires.
    pub sid: Uuid,
    /// The tenant id (`tid`); the built-in `default` tenant is the nil UUID.
    pub tid: Uuid,
    /// How the session was authenticated (RFC 8176): `["pwd"]`, `["pwd", "otp"]`,
    /// `["pwd", "recovery"]` or `["email"]`.
    pub amr: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// The token's unique id.
    pub jti: String,
}

impl Claims {
    /// Whether the session was authenticated with `method` (an `amr` value such as `otp`).
    ///
    /// ```
    /// # let claims = portcullis_verifier::Claims { sub: uuid::Uuid::nil(), sid: uuid::Uuid::nil(),
    /// #     tid: uuid::Uuid::nil(), amr: vec!["pwd".into(), "otp".into()], exp: 0, iat: 0, jti: String::new() };
    /// assert!(claims.authenticated_with("otp"));
    /// ```
    pub fn authenticated_with(&self, method: &str) -> bool {
        self.amr.iter().any(|m| m == method)
    }
}

/// The claims as read from the token, with those checked and not kept.
#[derive(Deserialize)]
pub(crate) struct TokenClaims {
    #[serde(flatten)]
    pub(crate) claims: Claims,
    pub(crate) nbf: Option<i64>,
}
