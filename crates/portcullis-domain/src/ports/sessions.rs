//! Sessions and refresh-token rotation.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{SessionId, TenantId, UserId};
use crate::model::{Account, AuditEvent, NewSession, Session, SessionSelection};
use crate::ports::StoreError;
use crate::refresh::{RefreshDecision, RefreshTokenState, TokenHash};

/// How many superseded refresh-token hashes a session keeps, to tell reuse from garbage. A token
/// older than that answers `invalid_refresh_token` instead of revoking the session.
pub const KEPT_SUPERSEDED_TOKENS: i64 = 32;

/// What [`SessionStore::refresh`] did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The token was the head; its successor is now the head. With the session's account, read
    /// in the same step (no second trip to storage).
    Rotated {
        /// The session.
        session: Session,
        /// Its account.
        account: Account,
    },
    /// The token was superseded within the grace window; nothing changed. `head` is the hash
    /// of the chain's current head, which the caller answers with.
    Replayed {
        /// The session.
        session: Session,
        /// Its account.
        account: Account,
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
    /// The session with this id in this tenant, live or not; `None` as well when its account is
    /// disabled (so a session a login opened while the account was being disabled is dead).
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// [`session`](Self::session) and its account, in one trip to storage (`None` under the
    /// same conditions, and when the account is gone).
    async fn session_with_account(
        &self,
        tenant: TenantId,
        id: SessionId,
    ) -> Result<Option<(Session, Account)>, StoreError>;

    /// Stores a session for an existing account.
    async fn insert_session(&self, session: NewSession) -> Result<Session, StoreError>;

    /// Whether the account has signed in from `network` before.
    async fn is_known_network(&self, tenant: TenantId, user: UserId, network: &str) -> Result<bool, StoreError>;

    /// Stores a session opened from `network`, records the network as known, and enqueues
    /// `notice` (a new-sign-in notice), in one transaction.
    async fn insert_session_from(
        &self,
        session: NewSession,
        network: &str,
        notice: Option<&crate::model::OutgoingMail>,
    ) -> Result<Session, StoreError>;

    /// Applies a refresh atomically. Under a lock on the token's session, the adapter reads the
    /// token's [`RefreshTokenState`], asks `decide` what to do, and applies that decision:
    /// `Rotate` stores `successor` as the head (marking the presented token superseded at `now`),
    /// sets `last_used_at`, and may forget superseded hashes older than the last
    /// [`KEPT_SUPERSEDED_TOKENS`]; `Replay` changes nothing but `last_used_at` and reports the
    /// head; `Reuse` revokes the session at `now` and stores `reused(session)`, its audit
    /// event, in the same transaction; `Dead` changes nothing. An unknown `presented`
    /// hash is `Invalid`.
    async fn refresh(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        now: DateTime<Utc>,
        decide: &(dyn Fn(RefreshTokenState) -> RefreshDecision + Send + Sync),
        reused: &(dyn for<'s> Fn(&'s Session) -> AuditEvent + Send + Sync),
    ) -> Result<RefreshOutcome, StoreError>;

    /// Revokes one session of this user (no-op if already revoked). Returns whether it was live.
    /// The revocations below store `event(n)`, the audit event of revoking `n` sessions, in
    /// their transaction when they revoke any.
    async fn revoke_session(
        &self,
        tenant: TenantId,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<bool, StoreError>;

    /// The user's live sessions (not revoked, not expired at `now`), most recently used first.
    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;

    /// Revokes the user's live sessions that `selection` names; only ever this user's. Returns
    /// how many.
    async fn revoke_selected(
        &self,
        tenant: TenantId,
        user: UserId,
        selection: &SessionSelection,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError>;

    /// Revokes every live session of this user, except `keep`. Returns how many.
    async fn revoke_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError>;
}
