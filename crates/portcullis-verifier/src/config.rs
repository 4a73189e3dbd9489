//! What a [`Verifier`](crate::Verifier) checks and how it caches: one value, built with setters
//! and checked by [`Verifier::new`](crate::Verifier::new).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::AlgorithmFamily;

use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;

/// The `typ` header Portcullis puts on its access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Settings of a [`Verifier`](crate::Verifier). [`VerifierConfig::new`] takes what has no
/// sensible default; every other setting starts at the default its setter names.
///
/// ```
/// use std::time::Duration;
/// use portcullis_verifier::VerifierConfig;
/// let config = VerifierConfig::new("https://auth.example.com/.well-known/jwks.json", "portcullis", "portcullis")
///     .leeway(Duration::from_secs(5))
///     .unknown_kid_refetch_interval(Duration::from_secs(60));
/// assert!(portcullis_verifier::Verifier::new(config).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub(crate) jwks_url: String,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) token_type: Option<String>,
    pub(crate) leeway: Duration,
    pub(crate) unknown_kid_refetch_interval: Duration,
    pub(crate) retry_interval: Duration,
    pub(crate) default_cache_lifetime: Duration,
    pub(crate) min_cache_lifetime: Duration,
    pub(crate) max_cache_lifetime: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

impl VerifierConfig {
    /// Keys from `jwks_url` (Portcullis serves them at `{base}/.well-known/jwks.json`); tokens
    /// must carry exactly this `iss` and `aud` (Portcullis's `tokens.issuer` and
    /// `tokens.audience`, both `portcullis` by default).
    pub fn new(jwks_url: impl Into<String>, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            jwks_url: jwks_url.into(),
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: vec![Algorithm::EdDSA],
            token_type: Some(ACCESS_TOKEN_TYP.to_owned()),
            leeway: Duration::from_secs(10),
            unknown_kid_refetch_interval: Duration::from_secs(30),
            retry_interval: Duration::from_secs(5),
            default_cache_lifetime: Duration::from_secs(300),
            min_cache_lifetime: Duration::from_secs(30),
            max_cache_lifetime: Duration::from_secs(3600),
            max_stale: Duration::from_secs(3600),
            http_timeout: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
        }
    }

    /// The `alg`s accepted (default `[EdDSA]`, what Portcullis signs with). Only asymmetric
    /// algorithms may be pinned: an HMAC one is refused by [`Verifier::new`](crate::Verifier::new).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// The `typ` header required (default `at+jwt`); `None` accepts any or none.
    pub fn token_type(mut self, typ: Option<&str>) -> Self {
        self.token_type = typ.map(str::to_owned);
        self
    }

    /// Clock skew tolerated on `exp`, `iat` and `nbf` (default 10 s, at most 5 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two fetches caused by a `kid` the cache does not hold (default
    /// 30 s): a flood of tokens with made-up `kid`s costs at most one fetch per interval.
    pub fn unknown_kid_refetch_interval(mut self, interval: Duration) -> Self {
        self.unknown_kid_refetch_interval = interval;
        self
    }

    /// The least time between a failed fetch and the next attempt (default 5 s).
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// How long keys are cached when the answer has no `Cache-Control: max-age` (default 5 min).
    pub fn default_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_cache_lifetime = lifetime;
        self
    }

    /// The shortest cache lifetime, used for `no-store`, `no-cache` and smaller `max-age`s
    /// (default 30 s).
    pub fn min_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.min_cache_lifetime = lifetime;
        self
    }

    /// The longest cache lifetime, however large `max-age` is (default 1 h): keys removed from
    /// the JWKS stop verifying at the latest this long after they were last fetched.
    pub fn max_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_cache_lifetime = lifetime;
        self
    }

    /// How long past their cache lifetime keys are still used while every refresh fails
    /// (default 1 h); after that, verification fails with
    /// [`VerifyError::JwksUnavailable`](crate::VerifyError::JwksUnavailable).
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Timeout of one JWKS request, connecting included (default 5 s).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The clock (default the system's; a [`ManualClock`](crate::ManualClock) in tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refuses what cannot work or would be unsafe.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let problem = |text: &str| Err(ConfigError(text.to_owned()));
        match reqwest::Url::parse(&self.jwks_url) {
            Ok(url) if transport_is_safe(&url) => {}
            _ => {
                return problem(
                    "the JWKS URL must be an absolute https URL (plain http only to this machine: anyone on the path \
                     could swap the keys)",
                );
            }
        }
        if self.issuer.is_empty() || self.audience.is_empty() {
            return problem("the issuer and the audience must not be empty");
        }
        if self.algorithms.is_empty() {
            return problem("at least one algorithm must be accepted");
        }
        if self.algorithms.iter().any(|a| a.family() == AlgorithmFamily::Hmac) {
            return problem("HMAC algorithms cannot be verified with a public JWKS");
        }
        if self.leeway > Duration::from_secs(300) {
            return problem("the leeway must be at most 5 minutes");
        }
        let zero = Duration::ZERO;
        if self.unknown_kid_refetch_interval == zero || self.retry_interval == zero || self.min_cache_lifetime == zero {
            return problem("the refetch interval, the retry interval and the minimum cache lifetime must not be zero");
        }
        if !(self.min_cache_lifetime <= self.default_cache_lifetime
            && self.default_cache_lifetime <= self.max_cache_lifetime)
        {
            return problem("cache lifetimes must be ordered: minimum <= default <= maximum");
        }
        if self.http_timeout == zero {
            return problem("the HTTP timeout must not be zero");
        }
        Ok(())
    }
}

/// The HTTP client of both the JWKS fetch and introspection: `timeout` per request and per
/// connection, and no redirects — the configured URL is the one trusted, and the admin key goes
/// only where it was configured to go.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis-verifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError(format!("HTTP client: {e}")))
}

/// Whether keys or an admin key may travel to `url`: https anywhere, plain http only to a
/// loopback address (a Portcullis beside the service, or a test).
pub(crate) fn transport_is_safe(url: &reqwest::Url) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(name))) => name.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> VerifierConfig {
        VerifierConfig::new("https://auth.example.com/.well-known/jwks.json", "iss", "aud")
    }

    #[test]
    fn defaults_pass_and_unsafe_or_impossible_settings_are_refused() {
        assert_eq!(base().validate(), Ok(()));
        let bad = [
            VerifierConfig::new("/relative", "iss", "aud"),
            VerifierConfig::new("ftp://host/jwks", "iss", "aud"),
            VerifierConfig::new("http://auth.example.com/jwks", "iss", "aud"),
            VerifierConfig::new("http://10.0.0.5/jwks", "iss", "aud"),
            VerifierConfig::new("https://host/jwks", "", "aud"),
            base().algorithms(&[]),
            base().algorithms(&[Algorithm::EdDSA, Algorithm::HS256]),
            base().leeway(Duration::from_secs(301)),
            base().unknown_kid_refetch_interval(Duration::ZERO),
            base().retry_interval(Duration::ZERO),
            base().min_cache_lifetime(Duration::ZERO),
            base().min_cache_lifetime(Duration::from_secs(600)),
            base().max_cache_lifetime(Duration::from_secs(60)),
            base().http_timeout(Duration::ZERO),
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        assert_eq!(
            base().algorithms(&[Algorithm::ES256, Algorithm::EdDSA]).validate(),
            Ok(())
        );
        for local in [
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:80/jwks",
        ] {
            assert_eq!(VerifierConfig::new(local, "iss", "aud").validate(), Ok(()), "{local}");
        }
    }
}
