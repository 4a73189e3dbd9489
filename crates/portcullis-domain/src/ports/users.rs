//! Operators' view of accounts: finding them, reading their state, disabling them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{TenantId, UserId};
use crate::model::{Account, AccountOverview, AuditEvent};
use crate::ports::StoreError;

/// Accounts as operators manage them.
#[async_trait]
pub trait UserAdminStore: Send + Sync {
    /// The tenant's accounts whose normalised address or username starts with `prefix`
    /// (every account when `None`), by id (creation order), those after `after` only, at most
    /// `limit`.
    async fn find_accounts(
        &self,
        tenant: TenantId,
        prefix: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError>;

    /// The account with its disabled state, last login and live sessions at `now`; `None` when
    /// the tenant has no such account.
    async fn account_overview(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountOverview>, StoreError>;

    /// Disables the account (`reason` kept for operators; a disabled one keeps its first time
    /// and takes the new reason) and revokes every live session of it, in one transaction; or,
    /// with `disable` false, enables it again (its sessions stay revoked). `event` makes the
    /// audit event of the change from the number of sessions revoked; it is stored in the same
    /// transaction. `None` (and nothing written) when the tenant has no such account, else how
    /// many sessions were revoked.
    async fn set_disabled(
        &self,
        tenant: TenantId,
        user: UserId,
        disable: bool,
        reason: Option<&str>,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<Option<u64>, StoreError>;

    /// Erases the account in one transaction: its row and everything of it (sessions and
    /// refresh tokens, secrets, second factor, known networks, registrations, customer), the
    /// outbox's mail to its current address (sent or not) and the pending mail and registration
    /// requests naming it, and the user reference of its audit events,
    /// which becomes `pseudonym`; then stores `event` (the erasure, under the pseudonym).
    /// `false`, and nothing changed, when the tenant has no such account.
    async fn erase_account(
        &self,
        tenant: TenantId,
        user: UserId,
        pseudonym: UserId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError>;
}
