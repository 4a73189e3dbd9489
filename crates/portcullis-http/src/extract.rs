//! Extractors: the authenticated caller and the client's network identity.

use std::future::Future;
use std::pin::Pin;

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, USER_AGENT};
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use ipnet::IpNet;
use portcullis_domain::{Account, ClientInfo, Principal};

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
        let token = presented_bearer(req);
        let client = client_info(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let mut principal = state.auth.authenticate(&token?).await?;
            principal.client = client;
            Ok(Self(principal))
        })
    }
}

/// [`Authenticated`] with the caller's account, read in the same trip to storage as the
/// session (for endpoints that answer with the account).
#[derive(Debug, Clone)]
pub struct CallerAccount(pub Principal, pub Account);

impl FromRequest for CallerAccount {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<Data<AppState>>().cloned();
        let token = presented_bearer(req);
        let client = client_info(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let (mut principal, account) = state.auth.authenticate_account(&token?).await?;
            principal.client = client;
            Ok(Self(principal, account))
        })
    }
}

/// An operator's live admin key (`Authorization: Bearer pca_…`), on `/v1/admin/…` and
/// `POST /v1/auth/introspect`. A user's access token there is 403 `admin_key_required`;
/// anything else 401.
#[derive(Debug, Clone)]
pub struct Admin(pub portcullis_domain::admin_key::AdminKey);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<Data<AppState>>().cloned();
        let token = presented_bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let token = token?;
            if token.starts_with(portcullis_domain::admin_key::ADMIN_KEY_PREFIX) {
                return Ok(Self(state.auth.authenticate_admin(&token).await?));
            }
            match state.auth.authenticate(&token).await {
                Ok(_) => Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "admin_key_required",
                    "This endpoint takes an admin key, not a user's token.",
                )),
                Err(e) => Err(e.into()),
            }
        })
    }
}

/// The token of the request's `Authorization: Bearer` header, or the 401 for its absence.
fn presented_bearer(req: &HttpRequest) -> Result<String, ApiError> {
    match req.headers().get(AUTHORIZATION).map(|v| v.to_str()) {
        None => Err(ApiError::bearer("missing_token", "An access token is required.")),
        Some(Err(_)) => Err(ApiError::bearer(
            "invalid_token",
            "The access token is invalid or expired.",
        )),
        Some(Ok(v)) => bearer_token(v)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bearer("invalid_token", "Use the Bearer authorization scheme.")),
    }
}

/// The credentials of a `Bearer` authorization header (scheme case-insensitive, RFC 6750).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Client IP, user agent and request id of a request.
pub fn client_info(req: &HttpRequest) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_id: Some(request_id(req)),
    }
}

/// The request's id: the `X-Request-Id` a trusted proxy passed on (1 to 128 characters of
/// letters, digits and `-._:`), else the one `tracing-actix-web` made. A client that is not a
/// trusted proxy cannot choose it, so it cannot plant an id in the log or the audit trail.
///
/// Chosen once per request (the request log, the response header and the audit events ask)
/// and kept in the request's extensions.
pub fn request_id(req: &HttpRequest) -> String {
    #[derive(Clone)]
    struct Chosen(String);
    if let Some(Chosen(id)) = req.extensions().get::<Chosen>() {
        return id.clone();
    }
    let id = passed_on_request_id(req).unwrap_or_else(|| {
        req.extensions()
            .get::<tracing_actix_web::RequestId>()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), ToString::to_string)
    });
    req.extensions_mut().insert(Chosen(id.clone()));
    id
}

fn passed_on_request_id(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?.trim();
    let well_formed = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    let peer = req.peer_addr()?.ip().to_canonical();
    let trusted = req
        .app_data::<Data<AppState>>()
        .is_some_and(|s| s.trusted_proxies.iter().any(|net| net.contains(&peer)));
    (well_formed && trusted).then(|| value.to_owned())
}

/// The client's IP: the socket peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not a trusted proxy. A header from anyone else is ignored,
/// so it cannot be spoofed past the proxies an operator named.
///
/// Resolved once per request (the request log, the rate limits, the captcha check and the
/// handler all ask) and kept in the request's extensions.
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    #[derive(Clone, Copy)]
    struct Resolved(Option<IpAddr>);
    if let Some(&Resolved(ip)) = req.extensions().get::<Resolved>() {
        return ip;
    }
    let ip = resolve_for(req);
    req.extensions_mut().insert(Resolved(ip));
    ip
}

fn resolve_for(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<Data<AppState>>()
        .map_or(&[][..], |s| s.trusted_proxies.as_slice());
    if trusted.is_empty() {
        return Some(peer.to_canonical());
    }
    Some(resolve_client_ip(peer, &forwarded_hops(req.headers()), trusted))
}

/// Every `X-Forwarded-For` entry, left to right across all the header's lines. The raw bytes are
/// split: a line that is not clean ASCII must not vanish whole, or a client could wipe out the
/// entry a proxy appended to its line. An undecodable entry stays in place as one that is not an
/// address, so the walk stops at it.
fn forwarded_hops(headers: &actix_web::http::header::HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|hop| std::str::from_utf8(hop).unwrap_or(""))
        .collect()
}

/// Walks the forwarding chain from the peer leftwards while each hop is a trusted proxy. An
/// entry that is not an IP address ends the walk at the last trusted hop: whoever wrote it is
/// not to be believed about anything further left.
fn resolve_client_ip(peer: IpAddr, hops: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    let mut client = peer.to_canonical();
    for hop in hops.iter().rev() {
        if !is_trusted(client) {
            break;
        }
        match parse_hop(hop) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`[v6]:port`, `v4:port`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::bearer_token;
    use super::{IpNet, resolve_client_ip};
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client_ip(ip("203.0.113.5"), &["198.51.100.1"], &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(resolve_client_ip(ip("203.0.113.5"), &[], &trusted), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_peer_speaks_for_the_right_most_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "192.0.2.7/32"]);
        // client, (spoofed left part), then two proxies of ours.
        let hops = ["1.1.1.1", " 198.51.100.9", "192.0.2.7 "];
        assert_eq!(resolve_client_ip(ip("10.1.2.3"), &hops, &trusted), ip("198.51.100.9"));
        // Only proxies: the left-most is as far as anyone can tell.
        assert_eq!(
            resolve_client_ip(ip("10.1.2.3"), &["10.9.9.9"], &trusted),
            ip("10.9.9.9")
        );
        // No header: the proxy itself.
        assert_eq!(resolve_client_ip(ip("10.1.2.3"), &[], &trusted), ip("10.1.2.3"));
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_understood() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["198.51.100.9:4711"], &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["[2001:db8::1]:443"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["[2001:db8::1]"], &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve_client_ip(ip("::ffff:10.0.0.1"), &["198.51.100.9"], &trusted),
            ip("198.51.100.9")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["::ffff:198.51.100.9"], &trusted),
            ip("198.51.100.9")
        );
    }

    #[test]
    fn a_line_that_is_not_ascii_keeps_the_entry_a_proxy_appended() {
        use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        headers.append(
            name.clone(),
            HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").expect("value"),
        );
        let hops = super::forwarded_hops(&headers);
        assert_eq!(hops, ["", " 203.0.113.9"]);
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(resolve_client_ip(ip("10.0.0.1"), &hops, &trusted), ip("203.0.113.9"));
        // Entries from several lines keep their order.
        headers.append(name, HeaderValue::from_static("198.51.100.4"));
        assert_eq!(super::forwarded_hops(&headers), ["", " 203.0.113.9", "198.51.100.4"]);
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["1.1.1.1", "unknown"], &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve_client_ip(ip("10.0.0.1"), &["1.1.1.1", "", "10.0.0.2"], &trusted),
            ip("10.0.0.2")
        );
    }

    proptest::proptest! {
        #[test]
        fn whatever_an_untrusted_peer_sends_the_peer_is_the_client(
            hops in proptest::collection::vec(".{0,40}", 0..6),
            a in 0u8..=255, b in 0u8..=255,
        ) {
            let trusted = nets(&["10.0.0.0/8"]);
            let peer = IpAddr::from([203, 0, a, b]);
            let hops: Vec<&str> = hops.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(resolve_client_ip(peer, &hops, &trusted), peer);
        }
    }

    #[test]
    fn parses_bearer_case_insensitively() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
