//! Avatars: the caller uploads or removes theirs; anyone fetches a user's current one.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderName, HeaderValue, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::web::{Bytes, BytesMut, Data, Path, Payload, Query};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use portcullis_domain::{AvatarError, AvatarRead, ImageRejection, UserId};
use serde::Deserialize;
use serde_json::json;

use super::shared::{Result, no_content, ok};
use crate::dto::avatar_url;
use crate::error::{ApiError, FieldDetail};
use crate::extract::Authenticated;
use crate::state::AppState;

/// Room for a multipart body's boundaries, part headers and small extra fields around the
/// picture itself.
const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// How long a versioned avatar URL may be cached: its bytes never change, so browsers keep it a
/// year; shared caches (a CDN) check back hourly, so a disabled or erased account's picture
/// leaves them within the hour.
const IMMUTABLE: &str = "public, max-age=31536000, s-maxage=3600, immutable";

/// Most bytes reserved for a body before they arrive (a declared length is a claim).
const INITIAL_RESERVATION: usize = 64 * 1024;

/// How the upload is sent.
enum Upload {
    /// The body is the image.
    Raw,
    /// A `multipart/*` body with the image in its `avatar` part.
    Multipart { boundary: String },
}

/// The `boundary` parameter of a `multipart/*` media type (quoted or not).
fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && (1..=70).contains(&value.len())).then(|| value.to_owned())
    })
}

fn upload_kind(req: &HttpRequest) -> Result<Upload> {
    let declared = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = declared.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        let boundary = boundary_of(declared)
            .ok_or_else(|| ApiError::malformed("The multipart body has no boundary in its Content-Type."))?;
        Ok(Upload::Multipart { boundary })
    } else if mime.starts_with("image/") {
        Ok(Upload::Raw)
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send multipart/form-data with the picture in an `avatar` field, or the picture itself with an image/* \
             Content-Type.",
        ))
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The picture exceeds {limit} bytes."),
    )
}

/// Reads the body, refusing more than `cap` bytes (by its declared length before reading
/// anything, and as it arrives).
async fn read_capped(req: &HttpRequest, payload: &mut Payload, cap: usize, limit: usize) -> Result<Bytes> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large(limit));
    }
    let mut bytes = BytesMut::with_capacity(declared.unwrap_or(0).min(cap).min(INITIAL_RESERVATION));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::malformed(format!("Could not read the body: {e}")))?;
        if bytes.len() + chunk.len() > cap {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// The `avatar` part of a multipart body (other parts are skipped; the part's declared type
/// and file name are not looked at).
async fn avatar_part(body: Bytes, boundary: String, limit: usize) -> Result<Bytes> {
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let malformed = |_| ApiError::malformed("The multipart body is malformed.");
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        if field.name() == Some("avatar") {
            let bytes = field.bytes().await.map_err(malformed)?;
            if bytes.len() > limit {
                return Err(too_large(limit));
            }
            return Ok(bytes);
        }
    }
    Err(ApiError::validation(vec![FieldDetail {
        field: "avatar",
        code: "required",
        message: "the multipart body has no `avatar` part".into(),
    }]))
}

fn avatar_error(e: AvatarError) -> ApiError {
    match e {
        AvatarError::Image(ImageRejection::Invalid(why) | ImageRejection::TooLarge(why)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_image",
            format!("The upload is not a usable PNG, JPEG, WebP or GIF picture: {why}."),
        ),
        AvatarError::Image(ImageRejection::Busy) => busy(),
        AvatarError::NoAccount => ApiError::bearer("invalid_token", "The account no longer exists."),
        AvatarError::OverBudget(b) => b.into(),
        AvatarError::Infra(e) => e.into(),
    }
}

fn busy() -> ApiError {
    crate::capacity::warn_at_capacity();
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "The server is busy; try again shortly.",
    )
    .retry_after(1)
}

/// `PUT /v1/account/avatar`: the token, the media type, a place for the body and the account's
/// limit are all settled before a byte of the body is read.
pub async fn put_avatar(
    Authenticated(principal): Authenticated,
    state: Data<AppState>,
    req: HttpRequest,
    mut payload: Payload,
) -> Result<HttpResponse> {
    let kind = upload_kind(&req)?;
    let uploads = &state.avatar_uploads;
    let limit = uploads.limit;
    let Ok(_place) = uploads.places.clone().try_acquire_owned() else {
        tracing::warn!("avatar upload refused: every place for an upload body is taken");
        return Err(busy());
    };
    let admitted = state.auth.begin_avatar_upload(&principal).await.map_err(avatar_error)?;
    let read = async {
        match kind {
            Upload::Raw => read_capped(&req, &mut payload, limit, limit).await,
            Upload::Multipart { boundary } => {
                let body = read_capped(&req, &mut payload, limit + MULTIPART_OVERHEAD, limit).await?;
                avatar_part(body, boundary, limit).await
            }
        }
    };
    let picture = tokio::time::timeout(uploads.read_timeout, read).await.map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The upload took too long to arrive.",
        )
    })??;
    let version = state
        .auth
        .finish_avatar_upload(&principal, admitted, Vec::from(picture))
        .await
        .map_err(avatar_error)?;
    let url = avatar_url(&state.public_url, principal.claims.sub, &version);
    Ok(ok(StatusCode::OK, json!({ "avatar_url": url })))
}

/// `DELETE /v1/account/avatar`.
pub async fn delete_avatar(Authenticated(principal): Authenticated, state: Data<AppState>) -> Result<HttpResponse> {
    state.auth.remove_avatar(&principal).await?;
    Ok(no_content())
}

/// The query of `GET /v1/users/{id}/avatar`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvatarQuery {
    /// The version the URL was made for.
    v: Option<String>,
}

/// The versions named by `If-None-Match` (`"v"`, `W/"v"`, a list; `*` matches any).
fn known_versions(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').to_owned())
        .filter(|tag| !tag.is_empty())
        .collect()
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "This user has no avatar.")
}

/// `GET /v1/users/{id}/avatar`: public; the current picture with a strong `ETag`, cached for a
/// year when the URL names the current version, revalidated otherwise.
pub async fn get_avatar(
    state: Data<AppState>,
    req: HttpRequest,
    id: Path<String>,
    query: Query<AvatarQuery>,
) -> Result<HttpResponse> {
    let Ok(user) = uuid::Uuid::parse_str(&id) else {
        return Err(not_found());
    };
    let known = known_versions(&req);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let read = state.auth.avatar(UserId::from_uuid(user), &known).await?;
    let cache = |version: &str| {
        if query.v.as_deref() == Some(version) {
            IMMUTABLE
        } else {
            "public, no-cache"
        }
    };
    let etag = |version: &str| format!("\"{}\"", portcullis_domain::avatars::tag_of(version));
    match read {
        AvatarRead::Missing => Err(not_found()),
        AvatarRead::Unchanged { version } => Ok(HttpResponse::NotModified()
            .insert_header((ETAG, etag(&version)))
            .insert_header((CACHE_CONTROL, cache(&version)))
            .finish()),
        AvatarRead::Image { version, blob } => Ok(HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, blob.content_type))
            .insert_header((ETAG, etag(&version)))
            .insert_header((CACHE_CONTROL, cache(&version)))
            .insert_header((X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
            .insert_header((
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            ))
            .insert_header((
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ))
            .body(blob.bytes)),
    }
}
