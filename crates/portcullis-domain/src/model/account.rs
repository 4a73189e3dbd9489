//! Accounts and tenants.

use chrono::{DateTime, Utc};

use crate::identity::{Email, Username};
use crate::ids::{TenantId, UserId};

/// A tenant: accounts, emails and usernames are scoped to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its public slug (`X-Tenant`, `tenant_slug`).
    pub slug: String,
}

/// A user account as the domain sees it. Never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: UserId,
    /// Its tenant.
    pub tenant: Tenant,
    /// Its email address.
    pub email: Email,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Its username, if one was chosen.
    pub username: Option<Username>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// The version of its avatar (a digest of the image's bytes, so a new picture gets a new
    /// URL), if it has one. The HTTP layer makes the public URL from it.
    pub avatar_version: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Disabled by an operator: no session of it is live, and nothing opens a new one.
    pub disabled: bool,
}

/// An account as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOverview {
    /// The account.
    pub account: Account,
    /// When it was disabled, if it is.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why, as the operator said.
    pub disabled_reason: Option<String>,
    /// When its latest session was opened (a login, a verification, a signup).
    pub last_login_at: Option<DateTime<Utc>>,
    /// Its sessions live now.
    pub live_sessions: u64,
}

/// An account with its stored password hash, for credential checks only.
#[derive(Debug, Clone)]
pub struct AccountCredentials {
    /// The account.
    pub account: Account,
    /// Its password hash; `None` when the account has no password (it was verified through a
    /// secret no single registration backed, and no password has been set since).
    pub password: Option<StoredPassword>,
}

/// A stored password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The PHC string.
    pub phc: String,
    /// Made from the password's NFKC form (every hash made now), rather than from the input as
    /// typed (hashes made before passwords were normalised).
    pub normalized: bool,
}

impl StoredPassword {
    /// A hash made now, from a normalised password.
    pub fn new(phc: String) -> Self {
        Self { phc, normalized: true }
    }
}

impl std::fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPassword")
            .field("normalized", &self.normalized)
            .finish_non_exhaustive()
    }
}

/// A new account to store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Pre-minted id (UUID v7).
    pub id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its email address.
    pub email: Email,
    /// Whether the address counts as verified from the start.
    pub email_verified: bool,
    /// Its username, if given.
    pub username: Option<Username>,
    /// PHC password hash.
    pub password_hash: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The network it registered from, which counts as known (see [`crate::network`]).
    pub network: Option<String>,
}
