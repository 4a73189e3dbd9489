//! A request refused by the extractor or the layer, and the answer it gets: Portcullis's error
//! envelope, with a bearer challenge on 401.

use crate::error::VerifyError;

/// Why a request was not let through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no access token")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("not a bearer token")]
    NotBearer,
    /// The token was refused, or the JWKS is unavailable.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// No [`Verifier`](crate::Verifier) in the application's data (a wiring mistake).
    #[error("no verifier registered")]
    NoVerifier,
}

/// What to answer: status, envelope code and message, and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
    pub(crate) www_authenticate: Option<&'static str>,
    pub(crate) retry_after: Option<&'static str>,
}

impl AuthError {
    /// The answer, as Portcullis's own endpoints give it.
    pub(crate) fn answer(&self) -> Answer {
        let invalid = Answer {
            status: 401,
            code: "invalid_token",
            message: "The access token is invalid or expired.",
            www_authenticate: Some("Bearer error=\"invalid_token\""),
            retry_after: None,
        };
        match self {
            // RFC 6750, 3.1: no error code when the request carried no credentials.
            Self::Missing => Answer {
                code: "missing_token",
                message: "An access token is required.",
                www_authenticate: Some("Bearer"),
                ..invalid
            },
            Self::NotBearer => Answer {
                message: "Use the Bearer authorization scheme.",
                ..invalid
            },
            Self::Verify(e) if e.is_unavailable() => Answer {
                status: 503,
                code: "service_unavailable",
                message: "Access tokens cannot be verified right now.",
                www_authenticate: None,
                retry_after: Some("5"),
            },
            Self::Verify(_) => invalid,
            Self::NoVerifier => Answer {
                status: 500,
                code: "internal_error",
                message: "Internal error.",
                www_authenticate: None,
                retry_after: None,
            },
        }
    }
}

impl Answer {
    /// The envelope: `{"success": false, "error": {"code", "message"}}`.
    pub(crate) fn body(&self) -> String {
        serde_json::json!({
            "success": false,
            "error": { "code": self.code, "message": self.message },
        })
        .to_string()
    }
}

/// The token of an `Authorization` header value: `Bearer <token>`, the scheme in any case
/// (RFC 6750), or `NotBearer`.
pub(crate) fn bearer_token(value: Option<&[u8]>) -> Result<&str, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    let value = std::str::from_utf8(value).map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::NotBearer)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
        Ok(token)
    } else {
        Err(AuthError::NotBearer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_read_as_rfc_6750_says() {
        assert_eq!(bearer_token(Some(b"Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer_token(Some(b"bearer  abc ")).ok(), Some("abc"));
        for bad in [&b"Basic abc"[..], b"Bearer", b"Bearer   ", b"abc", b"Bearer \xff"] {
            assert!(matches!(bearer_token(Some(bad)), Err(AuthError::NotBearer)), "{bad:?}");
        }
        assert!(matches!(bearer_token(None), Err(AuthError::Missing)));
    }

    #[test]
    fn answers_follow_portcullis_codes() {
        let unavailable = AuthError::Verify(VerifyError::JwksUnavailable(crate::error::JwksError::Status(502)));
        assert_eq!(unavailable.answer().status, 503);
        assert_eq!(unavailable.answer().code, "service_unavailable");
        let expired = AuthError::Verify(VerifyError::Expired).answer();
        assert_eq!((expired.status, expired.code), (401, "invalid_token"));
        let body: serde_json::Value = serde_json::from_str(&expired.body()).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "invalid_token");
        assert_eq!(AuthError::Missing.answer().www_authenticate, Some("Bearer"));
    }
}
