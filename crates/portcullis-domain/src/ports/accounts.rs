//! Accounts, tenants and usernames.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::{Email, Username};
use crate::ids::{TenantId, UserId};
use crate::model::{Account, AccountCredentials, NewAccount, NewSession, Tenant};
use crate::ports::StoreError;

/// Why an account cannot be stored as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccountConflict {
    /// Another account of the tenant has this email (case-insensitively).
    #[error("email taken")]
    EmailTaken,
    /// Another account of the tenant has this username (case-insensitively).
    #[error("username taken")]
    UsernameTaken,
    /// The tenant does not exist.
    #[error("unknown tenant")]
    UnknownTenant,
}

/// Failures of [`AccountStore::insert_account`].
#[derive(Debug, thiserror::Error)]
pub enum InsertAccountError {
    /// The account conflicts with what is stored.
    #[error(transparent)]
    Conflict(#[from] AccountConflict),
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

    /// The account with this id in this tenant, with its password hash (re-authentication).
    async fn credentials(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountCredentials>, StoreError>;

    /// Sets the username. A unique violation must come back as `Taken`.
    async fn set_username(
        &self,
        tenant: TenantId,
        user: UserId,
        username: &Username,
        now: DateTime<Utc>,
    ) -> Result<Account, SetUsernameError>;

    /// Replaces a password hash with `new_hash` (made from a normalised password), but only if
    /// it is still `expected` (a rehash must not overwrite a password changed meanwhile).
    /// Returns whether it was replaced.
    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;
}

/// Failures of [`AccountStore::set_username`].
#[derive(Debug, thiserror::Error)]
pub enum SetUsernameError {
    /// Another account of the tenant has it (case-insensitively).
    #[error("username taken")]
    Taken,
    /// The account is gone.
    #[error("no such account")]
    NoAccount,
    /// Infrastructure failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}
