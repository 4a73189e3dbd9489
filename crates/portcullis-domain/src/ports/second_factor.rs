//! The second factor: TOTP secrets, time steps, lockouts and recovery codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{SessionId, TenantId, UserId};
use crate::model::{AuditEvent, Disabled, SealedTotp, StepOutcome, TotpRecord};
use crate::ports::StoreError;
use crate::refresh::TokenHash;

/// Stored TOTP secrets in bulk, for sealing them again under a new key after a rotation.
#[async_trait]
pub trait TotpResealStore: Send + Sync {
    /// Up to `limit` TOTP secrets, active and pending, of every tenant, in (tenant, user)
    /// order, starting after `after`.
    async fn sealed_totp_page(
        &self,
        after: Option<(TenantId, UserId)>,
        limit: usize,
    ) -> Result<Vec<SealedTotp>, StoreError>;

    /// Replaces the account's secret `from` by `to`, only if `from` is still what is stored;
    /// `false`, and nothing written, when it is not (enrolled again or disabled meanwhile).
    /// Nothing else of the row changes (last step, failures, lock).
    async fn reseal_totp(&self, tenant: TenantId, user: UserId, from: &[u8], to: &[u8]) -> Result<bool, StoreError>;
}

/// Second factors.
///
/// The methods that change the second factor take the audit `events` of the change and store
/// them in its transaction, only when the change is made.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The account's TOTP, active or pending.
    async fn totp(&self, tenant: TenantId, user: UserId) -> Result<Option<TotpRecord>, StoreError>;

    /// Stores a pending (inactive) secret, replacing a pending one. `false`, and nothing
    /// written, if an active one exists.
    async fn put_pending_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Activates the pending secret with `step` as its last accepted step, marks the account's
    /// second factor enabled and replaces its recovery codes, in one transaction. `false` if
    /// there was no pending secret, or it is no longer `sealed` (a concurrent enrolment
    /// replaced the secret the code was checked against).
    // The change, its recovery codes and its events: one call, one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn activate_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        step: i64,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError>;

    /// Atomically accepts `step` if it is newer than the last accepted step; clears the
    /// failure count and any lock when accepted. Of concurrent calls with one step, exactly one
    /// is `Accepted`. Only called after [`MfaStore::reserve_mfa_attempt`] let the attempt in.
    /// A `Replayed` step hands its reserved attempt back (a right code sent twice is no guess),
    /// lifting a lock that only it completed (`max_failures` in a row).
    async fn accept_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
        max_failures: u32,
        now: DateTime<Utc>,
    ) -> Result<StepOutcome, StoreError>;

    /// Counts an attempt at the second factor before its code is checked, in one statement,
    /// so concurrent guesses cannot all slip in under the limit: `Err(until)` when the second
    /// factor is locked at `now`; otherwise the attempt is counted and the `max_failures`-th in
    /// a row locks until `lock_until` (it is itself still checked). A lock that has run out
    /// starts the count again. A right code clears the count ([`MfaStore::accept_totp_step`],
    /// [`MfaStore::use_recovery_code`]). `Ok(Some(n))`: this attempt locked the second factor,
    /// the `n`-th lock in a row without a right code between.
    async fn reserve_mfa_attempt(
        &self,
        tenant: TenantId,
        user: UserId,
        max_failures: u32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Result<Option<u32>, DateTime<Utc>>, StoreError>;

    /// Marks that the owner has been told their second factor keeps being locked; `true` only
    /// for the first call since the last right code (so the owner is told once per streak).
    async fn claim_lock_notice(&self, tenant: TenantId, user: UserId) -> Result<bool, StoreError>;

    /// Uses up a recovery code; `false` if the account has no such unused code. On success the
    /// failure count, any lock and the streak of locks are cleared. Locks the account's TOTP
    /// row before its codes, as every change to the second factor does.
    async fn use_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Whether the account has this unused recovery code, without using it up.
    async fn has_recovery_code(&self, tenant: TenantId, user: UserId, code: &TokenHash) -> Result<bool, StoreError>;

    /// Replaces the account's recovery codes.
    async fn replace_recovery_codes(
        &self,
        tenant: TenantId,
        user: UserId,
        codes: &[TokenHash],
        now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError>;

    /// In one transaction: uses up `spend` (a recovery code presented to disable, when it is
    /// one), deletes the secret and the recovery codes, marks the second factor disabled, and
    /// revokes every live session but `keep`. Locks the TOTP row before the codes, as every
    /// change to the second factor does, so it never deadlocks with a login spending a code.
    async fn disable_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: SessionId,
        spend: Option<&TokenHash>,
        now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<Disabled, StoreError>;
}
