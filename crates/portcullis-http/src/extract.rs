//! Extractors: the authenticated caller and the client's network identity.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, USER_AGENT};
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use portcullis_domain::{ClientInfo, Principal};

use crate::error::ApiError;
use crate::state::AppState;

/// The caller behind a valid `Authorization: Bearer` token whose session is live.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<Data<AppState>>().cloned();
        let header = req.headers().get(AUTHORIZATION).map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let value = match header {
                None => return Err(ApiError::bearer("missing_token", "An access token is required.")),
                Some(Err(_)) => {
                    return Err(ApiError::bearer(
                        "invalid_token",
                        "The access token is invalid or expired.",
                    ));
                }
                Some(Ok(v)) => v,
            };
            let token = bearer_token(&value)
                .ok_or_else(|| ApiError::bearer("invalid_token", "Use the Bearer authorization scheme."))?;
            Ok(Self(state.auth.authenticate(token).await?))
        })
    }
}

/// The credentials of a `Bearer` authorization header (scheme case-insensitive, RFC 6750).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Client IP and user agent of a request.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        // The socket peer; trusted-proxy handling of X-Forwarded-For arrives with rate limiting.
        ip: req.peer_addr().map(|a| a.ip()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn parses_bearer_case_insensitively() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
