//! What can go wrong: a token refused, the JWKS out of reach, a configuration rejected.

/// Why [`Verifier::verify`](crate::Verifier::verify) refused a token.
///
/// [`VerifyError::JwksUnavailable`] is the only one that is not the token's fault: the keys could
/// not be fetched and none were cached (answer 503, not 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is not one this verifier accepts; the reason is for logs, not for the caller.
    #[error("invalid token: {0}")]
    Invalid(InvalidReason),
    /// No key of the JWKS, even after a refetch (at most one per configured interval), has the
    /// token's `kid`.
    #[error("no key of the JWKS has the token's kid")]
    UnknownKey,
    /// Past `exp`, leeway included.
    #[error("token expired")]
    Expired,
    /// The JWKS could not be fetched and no usable keys are cached.
    #[error("JWKS unavailable: {0}")]
    JwksUnavailable(JwksError),
}

impl VerifyError {
    /// Whether the failure is the verifier's (the JWKS is out of reach) rather than the token's.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::JwksUnavailable(_))
    }
}

/// Why a token is [`VerifyError::Invalid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Not a JWT, longer than 4096 bytes, or with an `alg` no library knows (such as `none`).
    #[error("malformed")]
    Malformed,
    /// `alg` is not one of the pinned algorithms, or not one the key with that `kid` is for.
    #[error("algorithm not accepted")]
    Algorithm,
    /// `typ` is not the configured one (`at+jwt` by default).
    #[error("wrong typ")]
    Type,
    /// No `kid` header.
    #[error("no kid")]
    MissingKid,
    /// A header that carries or points at a key (`jku`, `jwk`, `x5u`, `x5c`, `x5t`, `x5t#S256`),
    /// or `crit`: keys come from the configured JWKS URL only.
    #[error("forbidden header")]
    ForbiddenHeader,
    /// The signature does not verify with the key of that `kid`.
    #[error("bad signature")]
    Signature,
    /// `iss` is not the pinned issuer.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` is not the pinned audience.
    #[error("wrong audience")]
    Audience,
    /// A claim is missing or of the wrong type (`sub`, `sid`, `tid` must be UUIDs; `iat`,
    /// `exp`, `jti`, `amr` are required).
    #[error("missing or malformed claims")]
    Claims,
    /// `iat` or `nbf` is in the future beyond the leeway.
    #[error("not valid yet")]
    NotYetValid,
}

/// Why the JWKS could not be fetched or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The request failed: connection, TLS, timeout.
    #[error("request failed: {0}")]
    Request(String),
    /// The server answered with another status than 200 (redirects are not followed).
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The body is larger than the verifier reads (1 MiB).
    #[error("answer too large")]
    TooLarge,
    /// The body is not a JWKS (`{"keys": [...]}`).
    #[error("not a JWKS: {0}")]
    NotJwks(String),
}

/// A configuration the verifier refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid verifier configuration: {0}")]
pub struct ConfigError(pub(crate) String);
