//! Request bodies: JSON or form-encoded, size-limited, every failure in the envelope.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A deserialised request body. Accepts `application/json` and
/// `application/x-www-form-urlencoded`; an empty body deserialises from `{}`, so every field is
/// optional at this layer and missing ones are reported by validation as `required`.
#[derive(Debug)]
pub struct Body<T>(pub T);

enum Kind {
    Json,
    Form,
}

fn kind_of(req: &HttpRequest) -> Result<Option<Kind>, ApiError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Ok(None);
    };
    let mime = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "application/json" => Ok(Some(Kind::Json)),
        "application/x-www-form-urlencoded" => Ok(Some(Kind::Form)),
        _ => Err(unsupported()),
    }
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Send application/json or application/x-www-form-urlencoded.",
    )
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The body exceeds {limit} bytes."),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<actix_web::web::Data<AppState>>()
            .map_or(64 * 1024, |s| s.body_limit);
        let kind = kind_of(req);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut bytes = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::malformed(format!("Could not read the body: {e}")))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                bytes.extend_from_slice(&chunk);
            }
            let empty = bytes.iter().all(u8::is_ascii_whitespace);
            let kind = match kind? {
                Some(kind) => kind,
                None if empty => Kind::Json,
                None => return Err(unsupported()),
            };
            let value = match kind {
                Kind::Json if empty => serde_json::from_slice(b"{}"),
                Kind::Json => serde_json::from_slice(&bytes),
                Kind::Form => {
                    // serde's messages quote the offending value, which may be a password: say
                    // what is wrong without it (these messages are also logged).
                    return serde_urlencoded::from_bytes(&bytes)
                        .map(Body)
                        .map_err(|_| ApiError::malformed("The form body is malformed or a field has the wrong type."));
                }
            };
            value.map(Body).map_err(|e| ApiError::malformed(json_problem(&e)))
        })
    }
}

/// Where and what kind of JSON problem, without quoting any of the input.
fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "is not valid JSON",
        Category::Eof => "ends too early",
        Category::Data => "has a field of the wrong type (fields are strings unless documented otherwise)",
        Category::Io => "could not be read",
    };
    format!("The JSON body {what} (line {}, column {}).", e.line(), e.column())
}
