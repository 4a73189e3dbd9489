//! Who calls, and what a successful sign-in hands them.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::model::Session;
use crate::refresh::RefreshToken;
use crate::token::AccessClaims;

/// Who is calling and from where; recorded with sessions.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// User agent.
    pub user_agent: Option<String>,
    /// The request's id (`X-Request-Id`), recorded with audit events.
    pub request_id: Option<String>,
}

/// A fresh access token and refresh token.
#[derive(Debug)]
pub struct TokenPair {
    /// Signed JWT.
    pub access_token: String,
    /// When it expires.
    pub access_expires_at: DateTime<Utc>,
    /// Its lifetime in seconds from issue (`expires_in`).
    pub expires_in: i64,
    /// Opaque refresh token.
    pub refresh_token: RefreshToken,
    /// The session both belong to.
    pub session: Session,
}

/// The caller behind a verified bearer token whose session is live.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The verified claims.
    pub claims: AccessClaims,
    /// The live session.
    pub session: Session,
    /// The request it came with (IP, user agent, request id), for audit events; the HTTP
    /// layer fills it in after [`AuthService::authenticate`](crate::AuthService::authenticate),
    /// which leaves it empty.
    pub client: ClientInfo,
}

impl Principal {
    /// The caller as the subject of an audit event: their account, in the session they act
    /// from.
    pub(crate) fn subject(&self) -> crate::model::Subject {
        crate::model::Subject {
            tenant: self.claims.tid,
            user: Some(self.claims.sub),
            session: Some(self.session.id),
        }
    }
}
