//! A tower layer for `http` 1 services such as axum's (feature `tower`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::rejection::{AuthError, bearer_token};
use crate::verifier::Verifier;

/// Wraps a service so that only requests with a verified bearer token reach it, with the
/// token's [`Claims`](crate::Claims) in the request's extensions. Others get the answers of
/// [`Authenticated`](crate::Authenticated) (401 `missing_token` / `invalid_token` with a bearer
/// challenge, 503 `service_unavailable`), the envelope as the body: the response body type must
/// be `From<String>` (axum's `Body`, `http_body_util::Full<Bytes>`, `String`).
///
/// ```
/// # fn demo(verifier: portcullis_verifier::Verifier) {
/// use tower::ServiceBuilder;
/// let stack = ServiceBuilder::new().layer(portcullis_verifier::VerifyLayer::new(verifier));
/// # let _ = stack; }
/// ```
#[derive(Debug, Clone)]
pub struct VerifyLayer {
    verifier: Verifier,
}

impl VerifyLayer {
    /// A layer verifying with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> VerifyService<S> {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`VerifyLayer`] makes.
#[derive(Debug, Clone)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for VerifyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was made ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            // Owned, so the request (whose body need not be `Sync`) is not borrowed across the await.
            let token =
                bearer_token(request.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes)).map(str::to_owned);
            let verified = match token {
                Ok(token) => verifier.verify(&token).await.map_err(AuthError::from),
                Err(e) => Err(e),
            };
            match verified {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(e) => Ok(refusal(&e)),
            }
        })
    }
}

fn refusal<B: From<String>>(error: &AuthError) -> Response<B> {
    let answer = error.answer();
    let mut response = Response::new(B::from(answer.body()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(challenge) = answer.www_authenticate {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    if let Some(secs) = answer.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from_static(secs));
    }
    response
}
