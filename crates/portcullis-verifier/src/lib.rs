//! Verifies Portcullis access tokens in other Rust services, against the keys Portcullis
//! publishes at `/.well-known/jwks.json`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let app = portcullis_testkit::TestApp::spawn().await?;
//! # let (http, email) = (reqwest::Client::new(), "ada@example.com");
//! # let account = serde_json::json!({ "email": email, "password": "correct horse battery staple" });
//! # http.post(app.url("/v1/auth/register")).json(&account).send().await?.error_for_status()?;
//! # let code = app.nth_mail_to(email, 1).await?.code().ok_or("no code mailed")?;
//! # let verified = http.post(app.url("/v1/auth/verify-email"))
//! #     .json(&serde_json::json!({ "email": email, "code": code })).send().await?.error_for_status()?;
//! # let pair: serde_json::Value = verified.json().await?;
//! # let access_token = pair["data"]["access_token"].as_str().ok_or("no access token")?;
//! use portcullis_verifier::{Verifier, VerifierConfig};
//!
//! let jwks_url = app.url("/.well-known/jwks.json");
//! let verifier = Verifier::new(VerifierConfig::new(jwks_url, "portcullis", "portcullis"))?;
//!
//! let claims = verifier.verify(access_token).await?;
//! assert_eq!(claims.amr, ["email"]);
//! println!("user {} in tenant {}, session {}", claims.sub, claims.tid, claims.sid);
//! # Ok(()) }
//! ```
//!
//! # What is checked
//!
//! The rules Portcullis applies to its own tokens ([`Verifier::verify`]):
//!
//! - The token is at most 4096 bytes.
//! - `alg` is one of the pinned algorithms (default `EdDSA` only). HMAC algorithms cannot be
//!   pinned, and `none` is not an algorithm at all.
//! - `typ` is `at+jwt` (configurable).
//! - A `kid` is present. No `jku`, `jwk`, `x5u`, `x5c`, `x5t`, `x5t#S256` or `crit` header is
//!   present: keys come only from the configured JWKS URL, and a token pointing elsewhere is
//!   refused rather than followed.
//! - The key of that `kid` is for that `alg`. JWKS keys that are symmetric, not for signatures,
//!   or for algorithms that are not pinned are never loaded.
//! - The signature verifies.
//! - `iss` and `aud` equal the pinned values.
//! - `sub`, `sid` and `tid` are UUIDs, and `iat`, `exp`, `jti` and `amr` are present.
//! - `exp` is not past, and `iat` (and `nbf`, if present) not in the future, each with the
//!   leeway (default 10 s).
//!
//! A verified token does not prove that its session is live. Portcullis's own endpoints check
//! that; a service sees a revocation only when the token expires (15 minutes by default), or at
//! once by asking [`Introspector`].
//!
//! # Caching and refetching
//!
//! - **First use.** Keys are fetched on the first verification, or by [`Verifier::refresh`]
//!   at start-up.
//! - **Lifetime.** Fetched keys are fresh for the answer's `Cache-Control: max-age`, less its
//!   `Age` header, kept between a minimum (default 30 s) and a maximum (default 1 h). Without
//!   `max-age` the default lifetime applies (5 min). `no-store` and `no-cache` get the minimum.
//!   Portcullis sends `max-age=300`.
//! - **Single flight.** Stale keys are refreshed by one caller while the others wait for its
//!   result. A fresh key is looked up without waiting.
//! - **Unknown `kid`.** A `kid` missing from fresh keys causes a refetch only when the last
//!   fetch started at least `unknown_kid_refetch_interval` (default 30 s) ago; otherwise the
//!   answer is [`VerifyError::UnknownKey`] at once. A flood of tokens with made-up `kid`s
//!   therefore causes at most one fetch per interval. A key newly added to the JWKS is found
//!   by that refetch, or by the next refresh.
//! - **Removed keys.** A refetch replaces the whole key set, so a key removed from the JWKS
//!   stops verifying at the next refetch (at the latest, the maximum lifetime after the last
//!   one).
//! - **Failures.** When a fetch fails, no new one is tried for `retry_interval` (default 5 s).
//!   Meanwhile the keys already cached keep being used, up to `max_stale` (default 1 h) past
//!   their lifetime. Past that, or when nothing was ever fetched, verification fails with
//!   [`VerifyError::JwksUnavailable`].
//! - **Requests.** Redirects are not followed, one request may take `http_timeout` (default
//!   5 s), and a body over 1 MiB is refused.
//!
//! # Failures
//!
//! Nothing here panics on any input. [`VerifyError`] tells apart a bad token
//! ([`Invalid`](VerifyError::Invalid), with an [`InvalidReason`] for logs), an unknown key,
//! an expired token, and a JWKS that cannot be had. The [`Authenticated`] extractor (feature
//! `actix`, on by default) and the `VerifyLayer` (feature `tower`) answer in Portcullis's
//! error envelope:
//!
//! - 401 `missing_token` (no `Authorization` header), with `WWW-Authenticate: Bearer`.
//! - 401 `invalid_token` (anything else that is the token's fault), with
//!   `WWW-Authenticate: Bearer error="invalid_token"`.
//! - 503 `service_unavailable` with `Retry-After: 5` (JWKS unavailable, nothing usable cached).

mod cache;
mod claims;
mod clock;
mod config;
mod error;
mod fetch;
mod introspect;
mod keyset;
mod verifier;

#[cfg(feature = "actix")]
mod extractor;
#[cfg(feature = "tower")]
mod layer;
#[cfg(any(feature = "actix", feature = "tower"))]
mod rejection;

pub use claims::Claims;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ACCESS_TOKEN_TYP, VerifierConfig};
pub use error::{ConfigError, InvalidReason, JwksError, VerifyError};
#[cfg(feature = "actix")]
pub use extractor::Authenticated;
pub use introspect::{ActiveToken, IntrospectError, Introspection, Introspector};
pub use jsonwebtoken::Algorithm;
#[cfg(feature = "tower")]
pub use layer::{VerifyLayer, VerifyService};
#[cfg(any(feature = "actix", feature = "tower"))]
pub use rejection::AuthError;
pub use verifier::{MAX_TOKEN_LEN, Verifier};
