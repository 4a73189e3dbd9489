//! One JWKS request: the keys, and how long the answer says they may be cached.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, HeaderMap};

use crate::error::{ConfigError, JwksError};
use crate::keyset::{self, Keys};

/// The most of a JWKS body read; Portcullis's is well under 1 KiB per key.
const MAX_BODY: usize = 1024 * 1024;

/// The cache lifetimes allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub(crate) default: Duration,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

/// Fetches one JWKS URL.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    url: reqwest::Url,
    algorithms: Vec<Algorithm>,
    lifetimes: Lifetimes,
}

/// What one successful fetch gave.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) keys: Keys,
    pub(crate) lifetime: Duration,
}

impl Fetcher {
    pub(crate) fn new(
        url: &str,
        algorithms: Vec<Algorithm>,
        lifetimes: Lifetimes,
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(url).map_err(|e| ConfigError(format!("JWKS URL: {e}")))?;
        let client = crate::config::http_client(timeout)?;
        Ok(Self {
            client,
            url,
            algorithms,
            lifetimes,
        })
    }

    pub(crate) fn url(&self) -> &reqwest::Url {
        &self.url
    }

    pub(crate) async fn fetch(&self) -> Result<Fetched, JwksError> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| JwksError::Request(e.without_url().to_string()))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(JwksError::Status(response.status().as_u16()));
        }
        let lifetime = lifetime(response.headers(), self.lifetimes);
        if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(JwksError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| JwksError::Request(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let keys = keyset::parse(&body, &self.algorithms)?;
        Ok(Fetched { keys, lifetime })
    }
}

/// How long an answer may be cached: its `max-age` less its `Age`, within the allowed
/// lifetimes; the shortest for `no-store` or `no-cache`; the default without `max-age`.
pub(crate) fn lifetime(headers: &HeaderMap, allowed: Lifetimes) -> Duration {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return allowed.min;
        };
        for directive in value.split(',') {
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive.trim(), None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return allowed.min;
            }
            if name.eq_ignore_ascii_case("max-age") {
                // An unreadable max-age is treated as 0 (RFC 9111, 4.2.1: the answer is stale).
                max_age = Some(argument.and_then(|a| a.parse::<u64>().ok()).unwrap_or(0));
            }
        }
    }
    let Some(max_age) = max_age else {
        return allowed.default;
    };
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(allowed.min, allowed.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const ALLOWED: Lifetimes = Lifetimes {
        default: Duration::from_secs(300),
        min: Duration::from_secs(30),
        max: Duration::from_secs(3600),
    };

    fn with(cache_control: &[&str], age: Option<&str>) -> Duration {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        if let Some(age) = age {
            headers.insert(AGE, HeaderValue::from_str(age).unwrap());
        }
        lifetime(&headers, ALLOWED)
    }

    #[test]
    fn max_age_is_honoured_within_bounds() {
        let secs = Duration::from_secs;
        assert_eq!(with(&[], None), secs(300), "no header: the default");
        assert_eq!(with(&["public"], None), secs(300), "no max-age: the default");
        assert_eq!(with(&["public, max-age=120"], None), secs(120));
        assert_eq!(with(&["Max-Age=\"120\""], None), secs(120), "case and quotes");
        assert_eq!(
            with(&["public", "max-age=120"], None),
            secs(120),
            "split over two headers"
        );
        assert_eq!(
            with(&["max-age=120"], Some("100")),
            secs(30),
            "Age counts, then the minimum"
        );
        assert_eq!(with(&["max-age=600"], Some("100")), secs(500));
        assert_eq!(with(&["max-age=1"], None), secs(30), "absurdly short: the minimum");
        assert_eq!(
            with(&["max-age=31536000"], None),
            secs(3600),
            "absurdly long: the maximum"
        );
        assert_eq!(with(&["max-age=soon"], None), secs(30), "unreadable: stale at once");
        assert_eq!(with(&["max-age=600, no-cache"], None), secs(30));
        assert_eq!(with(&["no-store"], None), secs(30));
    }
}
