//! The actix-web extractor (feature `actix`, on by default).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use crate::claims::Claims;
use crate::rejection::{AuthError, bearer_token};
use crate::verifier::Verifier;

/// The claims of the request's verified bearer token. Extracting it needs a [`Verifier`] in the
/// app data (`web::Data<Verifier>`, or a plain `Verifier`). A request without one answers 401
/// `missing_token`; with a token that does not verify, 401 `invalid_token` (both with a
/// `WWW-Authenticate: Bearer` challenge); when the JWKS cannot be fetched and no keys are
/// cached, 503 `service_unavailable`. Bodies are Portcullis's error envelope. Take
/// `Option<Authenticated>` where a token is optional.
///
/// ```
/// use actix_web::{get, HttpResponse};
/// use portcullis_verifier::Authenticated;
///
/// #[get("/me")]
/// async fn me(user: Authenticated) -> HttpResponse {
///     HttpResponse::Ok().body(user.sub.to_string())
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub Claims);

impl Deref for Authenticated {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl FromRequest for Authenticated {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Verified once per request, however many handlers' arguments ask.
            if let Some(claims) = req.extensions().get::<Claims>() {
                return Ok(Self(claims.clone()));
            }
            let verifier = req
                .app_data::<web::Data<Verifier>>()
                .map(|data| Verifier::clone(data))
                .or_else(|| req.app_data::<Verifier>().cloned())
                .ok_or(AuthError::NoVerifier)?;
            let token = bearer_token(req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))?;
            let claims = verifier.verify(token).await?;
            req.extensions_mut().insert(claims.clone());
            Ok(Self(claims))
        })
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.answer().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let answer = self.answer();
        if let Self::NoVerifier = self {
            tracing::error!("Authenticated extractor used without a Verifier in the app data");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Some(challenge) = answer.www_authenticate {
            response.insert_header((WWW_AUTHENTICATE, challenge));
        }
        if let Some(secs) = answer.retry_after {
            response.insert_header((RETRY_AFTER, secs));
        }
        response
            .insert_header((CACHE_CONTROL, "no-store"))
            .content_type("application/json")
            .body(answer.body())
    }
}
