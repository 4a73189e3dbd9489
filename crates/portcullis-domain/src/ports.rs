//! Port traits: what the domain needs from the outside world. Adapters implement them and
//! translate their own failures into the errors named here, at their boundary.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::identity::{Email, Password, Username};
use crate::ids::{SessionId, TenantId, UserId};
use crate::token::{RefreshDecision, RefreshTokenState, TokenHash};

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
    /// Public URL of its avatar, if it has one.
    pub avatar_url: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An account with its stored password hash (PHC string), for credential checks only.
#[derive(Debug, Clone)]
pub struct AccountCredentials {
    /// The account.
    pub account: Account,
    /// Its PHC password hash.
    pub password_hash: String,
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
}

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
}

/// Failures every storage call may return.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or no connection is free in time (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500). The text is for logs only.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// Failures of [`AccountStore::insert_account`].
#[derive(Debug, thiserror::Error)]
pub enum InsertAccountError {
    /// Another account of the tenant has this email (case-insensitively).
    #[error("email taken")]
    EmailTaken,
    /// Another account of the tenant has this username (case-insensitively).
    #[error("username taken")]
    UsernameTaken,
    /// The tenant does not exist.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Infrastructure failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Accounts and tenants.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The tenant with this slug.
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError>;

    /// Stores a new account and, when given, its first session, in one transaction: either both
    /// are written or neither. A unique violation must come back as `EmailTaken` /
    /// `UsernameTaken`, never as a generic failure.
    async fn insert_account(
        &self,
        account: NewAccount,
        first_session: Option<NewSession>,
    ) -> Result<Account, InsertAccountError>;

    /// Looks up by email, case-insensitively, within a tenant.
    async fn credentials_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> Result<Option<AccountCredentials>, StoreError>;

    /// Looks up by username, case-insensitively, within a tenant.
    async fn credentials_by_username(
        &self,
        tenant: TenantId,
        username: &Username,
    ) -> Result<Option<AccountCredentials>, StoreError>;

    /// The account with this id in this tenant.
    async fn account(&self, tenant: TenantId, user: UserId) -> Result<Option<Account>, StoreError>;

    /// Replaces a password hash, but only if it is still `expected` (a rehash must not overwrite a
    /// password changed meanwhile). Returns whether it was replaced.
    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;
}

/// How many superseded refresh-token hashes a session keeps, to tell reuse from garbage. A token
/// older than that answers `invalid_refresh_token` instead of revoking the session.
pub const KEPT_SUPERSEDED_TOKENS: i64 = 32;

/// What [`SessionStore::refresh`] did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The token was the head; its successor is now the head.
    Rotated(Session),
    /// The token was superseded within the grace window; nothing changed. `head` is the hash
    /// of the chain's current head, which the caller answers with.
    Replayed {
        /// The session.
        session: Session,
        /// SHA-256 of the chain's current head token.
        head: TokenHash,
    },
    /// The token was superseded outside the grace window; the session is now revoked.
    Reused(Session),
    /// Unknown token, or its session is revoked or expired.
    Invalid,
}

/// Sessions and refresh-token chains.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session with this id in this tenant, live or not.
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Stores a session for an existing account.
    async fn insert_session(&self, session: NewSession) -> Result<Session, StoreError>;

    /// Applies a refresh atomically. Under a lock on the token's session, the adapter reads the
    /// token's [`RefreshTokenState`], asks `decide` what to do, and applies that decision:
    /// `Rotate` stores `successor` as the head (marking the presented token superseded at `now`),
    /// sets `last_used_at`, and may forget superseded hashes older than the last
    /// [`KEPT_SUPERSEDED_TOKENS`]; `Replay` changes nothing but `last_used_at` and reports the
    /// head; `Reuse` revokes the session at `now`; `Dead` changes nothing. An unknown `presented`
    /// hash is `Invalid`.
    async fn refresh(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        now: DateTime<Utc>,
        decide: &(dyn Fn(RefreshTokenState) -> RefreshDecision + Send + Sync),
    ) -> Result<RefreshOutcome, StoreError>;

    /// Revokes one session of this user (no-op if already revoked). Returns whether it was live.
    async fn revoke_session(
        &self,
        tenant: TenantId,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Revokes every live session of this user, except `keep`. Returns how many.
    async fn revoke_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Server-wide secrets that every node must share (generated signing key, refresh key).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Returns the secret stored under `name`; if there is none, stores `candidate` and returns
    /// it. Concurrent first calls from several nodes must all get the same value.
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
}

/// Readiness.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Succeeds when storage answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Everything the domain needs from storage, as one object.
pub trait Storage: AccountStore + SessionStore + SecretStore + HealthCheck {}
impl<T: AccountStore + SessionStore + SecretStore + HealthCheck> Storage for T {}

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches.
    pub matches: bool,
    /// It matches, but the hash was made with other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// Failures of the password hasher.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No hashing slot became free in time; the caller should retry after `retry_after`.
    #[error("password hashing is at capacity")]
    Busy {
        /// A hint for `Retry-After`.
        retry_after: Duration,
    },
    /// Anything else.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// Password hashing. Implementations must not block the async executor, must bound the number
/// of hashes in flight, and must spend the same time on `verify(_, None)` as on a real check.
#[async_trait]
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    /// Hashes a new password into a PHC string.
    async fn hash(&self, password: &Password) -> Result<String, HashError>;

    /// Checks `password` against `stored`. With `stored = None` (no such account) it checks
    /// against a dummy hash with the configured parameters and reports no match, so the
    /// caller's timing does not reveal whether the account exists.
    async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification, HashError>;
}
