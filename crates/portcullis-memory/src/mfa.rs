//! Second factors in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Disabled, MfaStore, SealedTotp, SessionId, StepOutcome, StoreError, TenantId, TokenHash, TotpRecord,
    TotpResealStore, UserId, model::AuditEvent,
};

use crate::MemoryStore;
use crate::state::{State, TotpRow};

impl State {
    fn put_codes(&mut self, tenant: TenantId, user: UserId, codes: &[TokenHash]) {
        self.recovery_codes.retain(|(t, u, _)| !(*t == tenant && *u == user));
        for code in codes {
            self.recovery_codes.insert((tenant, user, *code));
        }
    }

    fn set_mfa_enabled(&mut self, tenant: TenantId, user: UserId, enabled: bool) {
        if let Some(row) = self.account_row_mut(tenant, user) {
            row.mfa_enabled = enabled;
        }
    }
}

/// A right code: the count of wrong ones, any lock and the streak of locks start again.
fn clear_failures(row: &mut TotpRow) {
    row.failed_attempts = 0;
    row.locked_until = None;
    row.locks_in_a_row = 0;
    row.lock_notified = false;
}

#[async_trait]
impl MfaStore for MemoryStore {
    async fn totp(&self, tenant: TenantId, user: UserId) -> Result<Option<TotpRecord>, StoreError> {
        let state = self.lock().await?;
        Ok(state.totp.get(&(tenant, user)).map(|row| TotpRecord {
            secret_sealed: row.sealed.clone(),
            enabled: row.enabled,
            locked_until: row.locked_until,
        }))
    }

    async fn put_pending_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let existing = state.totp.get(&(tenant, user));
        if existing.is_some_and(|row| row.enabled) {
            return Ok(false);
        }
        // A new pending secret starts its count of wrong codes again; the streak of locks and
        // whether the owner was told of it carry over (as in PostgreSQL).
        let (locks_in_a_row, lock_notified) =
            existing.map_or((0, false), |row| (row.locks_in_a_row, row.lock_notified));
        state.totp.insert(
            (tenant, user),
            TotpRow {
                sealed: sealed.to_vec(),
                enabled: false,
                last_step: None,
                failed_attempts: 0,
                locked_until: None,
                locks_in_a_row,
                lock_notified,
            },
        );
        Ok(true)
    }

    #[allow(clippy::too_many_arguments)]
    async fn activate_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        step: i64,
        recovery_codes: &[TokenHash],
        _now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let Some(row) = state
            .totp
            .get_mut(&(tenant, user))
            .filter(|row| !row.enabled && row.sealed == sealed)
        else {
            return Ok(false);
        };
        row.enabled = true;
        row.last_step = Some(step);
        row.failed_attempts = 0;
        row.locked_until = None;
        state.set_mfa_enabled(tenant, user, true);
        state.put_codes(tenant, user, recovery_codes);
        state.events.extend(events.iter().cloned());
        Ok(true)
    }

    async fn accept_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
        max_failures: u32,
        _now: DateTime<Utc>,
    ) -> Result<StepOutcome, StoreError> {
        let mut state = self.lock().await?;
        let Some(row) = state.totp.get_mut(&(tenant, user)) else {
            return Ok(StepOutcome::Replayed);
        };
        if row.enabled && row.last_step.is_none_or(|last| last < step) {
            row.last_step = Some(step);
            clear_failures(row);
            return Ok(StepOutcome::Accepted);
        }
        // Hand the reserved attempt back; the lock stays only if the genuine attempts alone
        // reach the limit.
        if row.failed_attempts > 0 {
            let genuine = row.failed_attempts - 1;
            if genuine < max_failures && row.locked_until.is_some() {
                row.locked_until = None;
                row.locks_in_a_row = row.locks_in_a_row.saturating_sub(1);
            }
            row.failed_attempts = genuine;
        }
        Ok(StepOutcome::Replayed)
    }

    async fn reserve_mfa_attempt(
        &self,
        tenant: TenantId,
        user: UserId,
        max_failures: u32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Result<Option<u32>, DateTime<Utc>>, StoreError> {
        let mut state = self.lock().await?;
        // No second factor: nothing to lock, let the check refuse it.
        let Some(row) = state.totp.get_mut(&(tenant, user)) else {
            return Ok(Ok(None));
        };
        if let Some(until) = row.locked_until.filter(|until| *until > now) {
            return Ok(Err(until));
        }
        // A lock that ran out starts the count again at this attempt.
        row.failed_attempts = if row.locked_until.is_some() {
            1
        } else {
            row.failed_attempts + 1
        };
        if row.failed_attempts >= max_failures {
            row.locked_until = Some(lock_until);
            row.locks_in_a_row += 1;
            Ok(Ok(Some(row.locks_in_a_row)))
        } else {
            row.locked_until = None;
            Ok(Ok(None))
        }
    }

    async fn claim_lock_notice(&self, tenant: TenantId, user: UserId) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        Ok(match state.totp.get_mut(&(tenant, user)) {
            Some(row) if !row.lock_notified => {
                row.lock_notified = true;
                true
            }
            _ => false,
        })
    }

    async fn use_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &TokenHash,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        if !state.totp.contains_key(&(tenant, user)) {
            return Ok(false);
        }
        let used = state.recovery_codes.remove(&(tenant, user, *code));
        if used && let Some(row) = state.totp.get_mut(&(tenant, user)) {
            clear_failures(row);
        }
        Ok(used)
    }

    async fn has_recovery_code(&self, tenant: TenantId, user: UserId, code: &TokenHash) -> Result<bool, StoreError> {
        Ok(self.lock().await?.recovery_codes.contains(&(tenant, user, *code)))
    }

    async fn replace_recovery_codes(
        &self,
        tenant: TenantId,
        user: UserId,
        codes: &[TokenHash],
        _now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut state = self.lock().await?;
        state.put_codes(tenant, user, codes);
        state.events.extend(events.iter().cloned());
        Ok(())
    }

    async fn disable_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: SessionId,
        spend: Option<&TokenHash>,
        now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<Disabled, StoreError> {
        let mut state = self.lock().await?;
        if !state.totp.get(&(tenant, user)).is_some_and(|row| row.enabled) {
            return Ok(Disabled::NotEnabled);
        }
        if let Some(code) = spend
            && !state.recovery_codes.remove(&(tenant, user, *code))
        {
            return Ok(Disabled::CodeUsed);
        }
        state.totp.remove(&(tenant, user));
        state.put_codes(tenant, user, &[]);
        state.set_mfa_enabled(tenant, user, false);
        state.events.extend(events.iter().cloned());
        Ok(Disabled::Done(state.revoke_all(
            tenant,
            user,
            Some(keep),
            now,
            "mfa_disabled",
        )))
    }
}

#[async_trait]
impl TotpResealStore for MemoryStore {
    async fn sealed_totp_page(
        &self,
        after: Option<(TenantId, UserId)>,
        limit: usize,
    ) -> Result<Vec<SealedTotp>, StoreError> {
        let state = self.lock().await?;
        let mut keys: Vec<&(TenantId, UserId)> = state.totp.keys().filter(|k| after.is_none_or(|a| **k > a)).collect();
        keys.sort_unstable();
        Ok(keys
            .into_iter()
            .take(limit)
            .filter_map(|key| {
                state.totp.get(key).map(|row| SealedTotp {
                    tenant: key.0,
                    user: key.1,
                    sealed: row.sealed.clone(),
                })
            })
            .collect())
    }

    async fn reseal_totp(&self, tenant: TenantId, user: UserId, from: &[u8], to: &[u8]) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        match state.totp.get_mut(&(tenant, user)) {
            Some(row) if row.sealed == from => {
                row.sealed = to.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
