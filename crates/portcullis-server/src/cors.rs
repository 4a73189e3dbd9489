//! CORS for the configured origins.

/// CORS for the configured origins: exact matches only, no credentials (tokens travel in the
/// `Authorization` header, which a page sets itself), the methods and headers the API uses,
/// the headers a client reads exposed. With no origins configured, it adds nothing and a
/// cross-origin browser call is refused by the browser.
pub fn cors(origins: &[String], max_age_secs: usize) -> actix_cors::Cors {
    use actix_web::http::{Method, header};
    let mut cors = actix_cors::Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit-limit"),
            header::HeaderName::from_static("ratelimit-remaining"),
        ])
        .max_age(max_age_secs);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
