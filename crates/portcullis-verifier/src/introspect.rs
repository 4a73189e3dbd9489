//! [`Introspector`]: asks Portcullis whether a token is live now (`POST /v1/auth/introspect`),
//! for the requests that must see a revoked session at once.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ConfigError;

/// The most of an introspection answer read.
const MAX_BODY: usize = 64 * 1024;

/// A client of Portcullis's introspection endpoint, with an admin key (`pca_…`; an
/// introspect-only one is enough). Cheap to clone.
#[derive(Clone)]
pub struct Introspector {
    client: reqwest::Client,
    url: reqwest::Url,
    admin_key: SecretString,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// What Portcullis says of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    /// Live now: an access token that verifies and whose session is live, or a refresh token
    /// heading its chain, in a tenant the admin key reaches.
    Active(ActiveToken),
    /// Anything else: expired, revoked, superseded, unknown, malformed, another tenant's.
    Inactive,
}

impl Introspection {
    /// Whether the token is live.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }
}

/// The facts about a live token (RFC 7662's fields as Portcullis fills them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ActiveToken {
    /// The user.
    pub sub: Uuid,
    /// The session.
    pub sid: Uuid,
    /// The tenant.
    pub tid: Uuid,
    /// Expiry (Unix seconds): the access token's `exp`, or the session's end for a refresh token.
    pub exp: i64,
    /// How the session was authenticated.
    pub amr: Vec<String>,
}

/// Why introspection gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectError {
    /// Portcullis refused the admin key: wrong or revoked (401 `invalid_token`), or not an admin
    /// key at all (403 `admin_key_required`).
    #[error("admin key refused: HTTP {status} {code}")]
    AdminKeyRefused {
        /// The status.
        status: u16,
        /// The envelope's error code.
        code: String,
    },
    /// Another error answer (the envelope's code, or empty).
    #[error("introspection refused: HTTP {status} {code}")]
    Refused {
        /// The status.
        status: u16,
        /// The envelope's error code.
        code: String,
    },
    /// No answer: connection, timeout.
    #[error("introspection unavailable: {0}")]
    Unavailable(String),
    /// An answer that is not an introspection envelope.
    #[error("unexpected introspection answer: {0}")]
    InvalidResponse(String),
}

#[derive(Deserialize)]
struct Envelope {
    success: bool,
    data: Option<serde_json::Value>,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
}

impl Introspector {
    /// A client of the Portcullis at `base_url`, where its paths start (such as
    /// `https://auth.example.com`, or `https://example.com/auth` behind a path prefix), with a
    /// 5-second timeout.
    pub fn new(base_url: &str, admin_key: SecretString) -> Result<Self, ConfigError> {
        Self::with_timeout(base_url, admin_key, Duration::from_secs(5))
    }

    /// As [`Introspector::new`], with another timeout per request.
    pub fn with_timeout(base_url: &str, admin_key: SecretString, timeout: Duration) -> Result<Self, ConfigError> {
        let url = format!("{}/v1/auth/introspect", base_url.trim_end_matches('/'));
        let url = reqwest::Url::parse(&url)
            .ok()
            .filter(|u| crate::config::transport_is_safe(u) && u.query().is_none())
            .ok_or_else(|| {
                ConfigError(
                    "the Portcullis URL must be an absolute https URL (plain http only to this machine: the admin key \
                     travels with every call)"
                        .into(),
                )
            })?;
        let client = crate::config::http_client(timeout)?;
        Ok(Self { client, url, admin_key })
    }

    /// Whether `token` (an access or a refresh token) is live now, and whose. A blank token is
    /// inactive without a request.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, IntrospectError> {
        let token = token.trim();
        if token.is_empty() {
            return Ok(Introspection::Inactive);
        }
        let unavailable = |e: reqwest::Error| IntrospectError::Unavailable(e.without_url().to_string());
        let mut response = self
            .client
            .post(self.url.clone())
            .bearer_auth(self.admin_key.expose_secret())
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .map_err(unavailable)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(IntrospectError::InvalidResponse("answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let envelope: Option<Envelope> = serde_json::from_slice(&body).ok();
        if status != 200 {
            let code = envelope.and_then(|e| e.error).map(|e| e.code).unwrap_or_default();
            return Err(match status {
                401 | 403 => IntrospectError::AdminKeyRefused { status, code },
                _ => IntrospectError::Refused { status, code },
            });
        }
        let data = envelope
            .filter(|e| e.success)
            .and_then(|e| e.data)
            .ok_or_else(|| IntrospectError::InvalidResponse("no envelope with data".into()))?;
        parse_data(data)
    }
}

fn parse_data(data: serde_json::Value) -> Result<Introspection, IntrospectError> {
    match data.get("active").and_then(serde_json::Value::as_bool) {
        Some(false) => Ok(Introspection::Inactive),
        Some(true) => serde_json::from_value(data)
            .map(Introspection::Active)
            .map_err(|e| IntrospectError::InvalidResponse(e.to_string())),
        None => Err(IntrospectError::InvalidResponse("no boolean `active`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_read_as_rfc_7662_says() {
        assert_eq!(parse_data(json!({ "active": false })), Ok(Introspection::Inactive));
        let nil = Uuid::nil();
        let active = json!({ "active": true, "sub": nil, "sid": nil, "tid": nil, "exp": 7, "amr": ["pwd"] });
        let Ok(Introspection::Active(t)) = parse_data(active) else {
            panic!("active");
        };
        assert_eq!((t.exp, t.amr.as_slice()), (7, &["pwd".to_owned()][..]));
        assert!(parse_data(json!({ "active": true, "sub": "x" })).is_err());
        assert!(parse_data(json!({ "active": "yes" })).is_err());
    }

    #[test]
    fn the_admin_key_stays_out_of_debug_output() {
        let i = Introspector::new("https://auth.example.com/", SecretString::from("pca_secret")).unwrap();
        let shown = format!("{i:?}");
        assert!(shown.contains("https://auth.example.com/v1/auth/introspect") && !shown.contains("pca_secret"));
    }
}
