//! Sessions: one refresh-token chain each.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::ids::{SessionId, TenantId, UserId};
use crate::refresh::TokenHash;

/// A login session: one refresh-token chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (`sid`).
    pub id: SessionId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its user.
    pub user_id: UserId,
    /// Authentication methods used at login (`amr`).
    pub amr: Vec<String>,
    /// Client IP at login.
    pub ip: Option<IpAddr>,
    /// Client user agent at login (truncated).
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_used_at: DateTime<Utc>,
    /// End of its life; no refresh after this.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Live at `now`: not revoked and not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A new session with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// SHA-256 of its first refresh token.
    pub refresh_hash: TokenHash,
    /// Audit events stored with it, in its transaction (the login it records).
    pub events: Vec<crate::model::AuditEvent>,
}

/// Which of a user's sessions to revoke: the union of `all`, `ids` and the sessions of
/// `refresh_tokens`, minus `keep`.
#[derive(Debug, Clone, Default)]
pub struct SessionSelection {
    /// Every live session.
    pub all: bool,
    /// These sessions.
    pub ids: Vec<SessionId>,
    /// The sessions these refresh tokens (hashed; current or superseded) belong to.
    pub refresh_tokens: Vec<TokenHash>,
    /// Never this one.
    pub keep: Option<SessionId>,
}
