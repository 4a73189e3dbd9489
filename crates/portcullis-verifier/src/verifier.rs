//! [`Verifier`]: checks an access token against the pinned settings and the cached JWKS.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};

use crate::cache::{self, KeyCache};
use crate::claims::{Claims, TokenClaims};
use crate::clock::unix_seconds;
use crate::config::VerifierConfig;
use crate::error::{ConfigError, InvalidReason, JwksError, VerifyError};
use crate::fetch::{Fetcher, Lifetimes};

/// Longest token read; longer ones are refused unparsed (as Portcullis itself does).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Verifies Portcullis access tokens. Cheap to clone (one shared cache); build one per process
/// and share it, for example as `web::Data<Verifier>`.
#[derive(Debug, Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: VerifierConfig,
    cache: KeyCache,
}

impl Verifier {
    /// A verifier for `config`. Nothing is fetched until the first token (or
    /// [`Verifier::refresh`]); an error means the configuration is unusable.
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let lifetimes = Lifetimes {
            default: config.default_cache_lifetime,
            min: config.min_cache_lifetime,
            max: config.max_cache_lifetime,
        };
        let fetcher = Fetcher::new(
            &config.jwks_url,
            config.algorithms.clone(),
            lifetimes,
            config.http_timeout,
        )?;
        let policy = cache::Policy {
            unknown_kid_interval: config.unknown_kid_refetch_interval,
            retry_interval: config.retry_interval,
            max_stale: config.max_stale,
        };
        let cache = KeyCache::new(fetcher, policy, config.clock.clone());
        Ok(Self {
            inner: Arc::new(Inner { config, cache }),
        })
    }

    /// Fetches the JWKS now, whatever is cached: at start-up, to learn at once that the URL is
    /// wrong or unreachable (verification would otherwise fetch on the first token).
    pub async fn refresh(&self) -> Result<(), JwksError> {
        self.inner.cache.refresh().await
    }

    /// Verifies `token` (the bare JWT, without `Bearer `) and returns its claims.
    ///
    /// Checked, in order: length; the header (`alg` pinned, `typ`, a `kid`, no key-carrying
    /// header); the key of that `kid` (fetching the JWKS when needed) and that it is for `alg`;
    /// the signature; `iss` and `aud`; the claims' presence and types; `exp`, `iat` and `nbf`
    /// against the clock with the leeway.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let config = &self.inner.config;
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Invalid(InvalidReason::Malformed));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid(InvalidReason::Malformed))?;
        let kid = check_header(config, &header).map_err(VerifyError::Invalid)?;
        let key = self.inner.cache.key(kid).await?;
        if !key.algorithms.contains(&header.alg) {
            return Err(VerifyError::Invalid(InvalidReason::Algorithm));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Times are checked below, against the configured clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<TokenClaims>(token, &key.decoding, &validation)
            .map_err(|e| VerifyError::Invalid(reason(e.kind())))?;
        let TokenClaims { claims, nbf } = data.claims;
        let now = unix_seconds(config.clock.now());
        let leeway = i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX);
        if claims.exp.saturating_add(leeway) <= now {
            return Err(VerifyError::Expired);
        }
        let future = |t: i64| t.saturating_sub(leeway) > now;
        if future(claims.iat) || nbf.is_some_and(future) {
            return Err(VerifyError::Invalid(InvalidReason::NotYetValid));
        }
        Ok(claims)
    }
}

/// The header's `kid`, when the rest of the header is acceptable.
fn check_header<'h>(config: &VerifierConfig, header: &'h Header) -> Result<&'h str, InvalidReason> {
    if !config.algorithms.contains(&header.alg) {
        return Err(InvalidReason::Algorithm);
    }
    if let Some(expected) = &config.token_type
        && header.typ.as_deref() != Some(expected.as_str())
    {
        return Err(InvalidReason::Type);
    }
    // Keys come from the configured URL only; a token must not point at, carry or ask for
    // anything else, and no critical extension is understood.
    if header.jku.is_some()
        || header.jwk.is_some()
        || header.x5u.is_some()
        || header.x5c.is_some()
        || header.x5t.is_some()
        || header.x5t_s256.is_some()
        || header.crit.is_some()
    {
        return Err(InvalidReason::ForbiddenHeader);
    }
    header.kid.as_deref().ok_or(InvalidReason::MissingKid)
}

fn reason(kind: &ErrorKind) -> InvalidReason {
    match kind {
        ErrorKind::InvalidSignature => InvalidReason::Signature,
        ErrorKind::InvalidIssuer => InvalidReason::Issuer,
        ErrorKind::InvalidAudience => InvalidReason::Audience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => InvalidReason::Algorithm,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => {
            InvalidReason::Claims
        }
        _ => InvalidReason::Malformed,
    }
}
