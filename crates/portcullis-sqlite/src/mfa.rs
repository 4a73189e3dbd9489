//! Second factors on SQLite: the TOTP secret (encrypted by the domain before it arrives
//! here), the last accepted time step, the failure count and lock, and recovery-code hashes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    Disabled, MfaStore, SessionId, StepOutcome, StoreError, TenantId, TokenHash, TotpRecord, UserId, model::AuditEvent,
};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::schema::{accounts, mfa_recovery_codes, mfa_totp, sessions};
use crate::sql::Db;

/// Locks the account's TOTP row, the first lock of every change to the second factor (so two
/// changes never take their locks in opposite orders); `Some(enabled)` if there is one.
async fn lock_totp(conn: &mut SqliteConn, tenant: Uuid, user: Uuid) -> QueryResult<Option<bool>> {
    mfa_totp::table
        .find((tenant.db(), user.db()))
        .select(mfa_totp::enabled_at.is_not_null())
        .first::<bool>(conn)
        .await
        .optional()
}

async fn put_codes(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
    codes: &[TokenHash],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::delete(
        mfa_recovery_codes::table
            .filter(mfa_recovery_codes::tenant_id.eq(tenant.db()))
            .filter(mfa_recovery_codes::user_id.eq(user.db())),
    )
    .execute(conn)
    .await?;
    let rows: Vec<_> = codes
        .iter()
        .map(|c| {
            (
                mfa_recovery_codes::tenant_id.eq(tenant.db()),
                mfa_recovery_codes::user_id.eq(user.db()),
                mfa_recovery_codes::code_hash.eq(c.0.to_vec()),
                mfa_recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    // One statement per row: SQLite's multi-row VALUES cannot leave a column to its default.
    for row in rows {
        diesel::insert_into(mfa_recovery_codes::table)
            .values(row)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl MfaStore for SqliteStore {
    async fn totp(&self, tenant: TenantId, user: UserId) -> Result<Option<TotpRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = mfa_totp::table
            .find((tenant.db(), user.db()))
            .select((mfa_totp::secret_encrypted, mfa_totp::enabled_at, mfa_totp::locked_until))
            .first::<(Vec<u8>, Option<DateTime<Utc>>, Option<DateTime<Utc>>)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(|(secret_sealed, enabled_at, locked_until)| TotpRecord {
            secret_sealed,
            enabled: enabled_at.is_some(),
            locked_until,
        }))
    }

    async fn put_pending_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        // Replaces only a pending secret: the WHERE of the upsert leaves an active one alone.
        let n = diesel::sql_query(
            "INSERT INTO mfa_totp (tenant_id, user_id, secret_encrypted, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (tenant_id, user_id) DO UPDATE SET secret_encrypted = excluded.secret_encrypted, \
               created_at = excluded.created_at, failed_attempts = 0, last_step = NULL, locked_until = NULL \
             WHERE mfa_totp.enabled_at IS NULL",
        )
        .bind::<crate::sql::Uuid, _>(tenant.as_uuid())
        .bind::<crate::sql::Uuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Binary, _>(sealed)
        .bind::<diesel::sql_types::TimestamptzSqlite, _>(now)
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(n == 1)
    }

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
    ) -> Result<bool, StoreError> {
        let (tenant, user) = (tenant.as_uuid(), user.as_uuid());
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let n = diesel::update(mfa_totp::table.find((tenant.db(), user.db())))
                .filter(mfa_totp::enabled_at.is_null())
                .filter(mfa_totp::secret_encrypted.eq(sealed))
                .set((
                    mfa_totp::enabled_at.eq(now),
                    mfa_totp::last_step.eq(step),
                    mfa_totp::failed_attempts.eq(0),
                    mfa_totp::locked_until.eq(None::<DateTime<Utc>>),
                ))
                .execute(conn)
                .await?;
            if n == 0 {
                return Ok(false);
            }
            diesel::update(
                accounts::table
                    .filter(accounts::tenant_id.eq(tenant.db()))
                    .filter(accounts::id.eq(user.db())),
            )
            .set((accounts::mfa_enabled.eq(true), accounts::updated_at.eq(now)))
            .execute(conn)
            .await?;
            put_codes(conn, tenant, user, recovery_codes, now).await?;
            crate::audit::insert_events(conn, events).await?;
            Ok(true)
        })
        .await
        .map_err(query_error)
    }

    async fn accept_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
        max_failures: u32,
        _now: DateTime<Utc>,
    ) -> Result<StepOutcome, StoreError> {
        let mut conn = self.conn().await?;
        // One statement: the row lock serialises concurrent submissions, and only the first
        // sees a last_step below this one.
        let accepted = diesel::update(mfa_totp::table.find((tenant.db(), user.db())))
            .filter(mfa_totp::enabled_at.is_not_null())
            .filter(mfa_totp::last_step.is_null().or(mfa_totp::last_step.lt(step)))
            .set((
                mfa_totp::last_step.eq(step),
                mfa_totp::failed_attempts.eq(0),
                mfa_totp::locked_until.eq(None::<DateTime<Utc>>),
                mfa_totp::locks_in_a_row.eq(0),
                mfa_totp::lock_notified.eq(false),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        if accepted == 1 {
            return Ok(StepOutcome::Accepted);
        }
        // Hand the reserved attempt back; the lock stays only if the genuine attempts alone
        // reach the limit.
        diesel::sql_query(
            "UPDATE mfa_totp SET \
               failed_attempts = max(failed_attempts - 1, 0), \
               locked_until = CASE WHEN failed_attempts - 1 >= ?3 THEN locked_until ELSE NULL END, \
               locks_in_a_row = CASE WHEN locked_until IS NOT NULL AND failed_attempts - 1 < ?3 \
                                     THEN max(locks_in_a_row - 1, 0) ELSE locks_in_a_row END \
             WHERE tenant_id = ?1 AND user_id = ?2 AND failed_attempts > 0",
        )
        .bind::<crate::sql::Uuid, _>(tenant.as_uuid())
        .bind::<crate::sql::Uuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Integer, _>(i32::try_from(max_failures).unwrap_or(i32::MAX))
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
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
        #[derive(diesel::QueryableByName)]
        struct Locked {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::TimestamptzSqlite>)]
            locked_until: Option<DateTime<Utc>>,
        }
        #[derive(diesel::QueryableByName)]
        struct Counted {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            locked: bool,
            #[diesel(sql_type = diesel::sql_types::Integer)]
            locks_in_a_row: i32,
        }
        let mut conn = self.conn().await?;
        let max = i32::try_from(max_failures).unwrap_or(i32::MAX);
        // One statement, so the row lock orders concurrent attempts and each sees the count
        // the one before it left. Right-hand sides read the row as it was: a lock that ran out
        // (the WHERE lets only such a lock through) restarts the count at this attempt, and the
        // attempt that reaches the limit locks and adds to the streak of locks.
        let counted = diesel::sql_query(
            "UPDATE mfa_totp SET \
               failed_attempts = CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END, \
               locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END) >= ?3 \
                                   THEN ?4 ELSE NULL END, \
               locks_in_a_row = CASE WHEN (CASE WHEN locked_until IS NOT NULL THEN 1 ELSE failed_attempts + 1 END) >= ?3 \
                                     THEN locks_in_a_row + 1 ELSE locks_in_a_row END \
             WHERE tenant_id = ?1 AND user_id = ?2 AND (locked_until IS NULL OR locked_until <= ?5) \
             RETURNING locked_until IS NOT NULL AS locked, locks_in_a_row",
        )
        .bind::<crate::sql::Uuid, _>(tenant.as_uuid())
        .bind::<crate::sql::Uuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Integer, _>(max)
        .bind::<diesel::sql_types::TimestamptzSqlite, _>(lock_until)
        .bind::<diesel::sql_types::TimestamptzSqlite, _>(now)
        .get_result::<Counted>(&mut conn)
        .await
        .optional()
        .map_err(query_error)?;
        if let Some(counted) = counted {
            return Ok(Ok(counted
                .locked
                .then(|| u32::try_from(counted.locks_in_a_row).unwrap_or(0))));
        }
        let until = diesel::sql_query("SELECT locked_until FROM mfa_totp WHERE tenant_id = ?1 AND user_id = ?2")
            .bind::<crate::sql::Uuid, _>(tenant.as_uuid())
            .bind::<crate::sql::Uuid, _>(user.as_uuid())
            .get_result::<Locked>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?
            .and_then(|row| row.locked_until);
        // No row means no second factor: nothing to lock, let the check refuse it.
        Ok(until.map_or(Ok(None), Err))
    }

    async fn claim_lock_notice(&self, tenant: TenantId, user: UserId) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let claimed = diesel::update(mfa_totp::table.find((tenant.db(), user.db())))
            .filter(mfa_totp::lock_notified.eq(false))
            .set(mfa_totp::lock_notified.eq(true))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(claimed == 1)
    }

    async fn has_recovery_code(&self, tenant: TenantId, user: UserId, code: &TokenHash) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        diesel::select(diesel::dsl::exists(mfa_recovery_codes::table.find((
            tenant.db(),
            user.db(),
            code.0.to_vec(),
        ))))
        .get_result::<bool>(&mut conn)
        .await
        .map_err(query_error)
    }

    async fn use_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &TokenHash,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (tenant, user) = (tenant.as_uuid(), user.as_uuid());
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            if lock_totp(conn, tenant, user).await?.is_none() {
                return Ok(false);
            }
            let used = diesel::delete(mfa_recovery_codes::table.find((tenant.db(), user.db(), code.0.to_vec())))
                .execute(conn)
                .await?;
            if used == 1 {
                diesel::update(mfa_totp::table.find((tenant.db(), user.db())))
                    .set((
                        mfa_totp::failed_attempts.eq(0),
                        mfa_totp::locked_until.eq(None::<DateTime<Utc>>),
                        mfa_totp::locks_in_a_row.eq(0),
                        mfa_totp::lock_notified.eq(false),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(used == 1)
        })
        .await
        .map_err(query_error)
    }

    async fn replace_recovery_codes(
        &self,
        tenant: TenantId,
        user: UserId,
        codes: &[TokenHash],
        now: DateTime<Utc>,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            lock_totp(conn, tenant.as_uuid(), user.as_uuid()).await?;
            put_codes(conn, tenant.as_uuid(), user.as_uuid(), codes, now).await?;
            crate::audit::insert_events(conn, events).await
        })
        .await
        .map_err(query_error)
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
        let (tenant, user) = (tenant.as_uuid(), user.as_uuid());
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            if !lock_totp(conn, tenant, user).await?.is_some_and(|enabled| enabled) {
                return Ok(Disabled::NotEnabled);
            }
            if let Some(code) = spend {
                let used = diesel::delete(mfa_recovery_codes::table.find((tenant.db(), user.db(), code.0.to_vec())))
                    .execute(conn)
                    .await?;
                if used == 0 {
                    return Ok(Disabled::CodeUsed);
                }
            }
            diesel::delete(mfa_totp::table.find((tenant.db(), user.db())))
                .execute(conn)
                .await?;
            put_codes(conn, tenant, user, &[], now).await?;
            diesel::update(
                accounts::table
                    .filter(accounts::tenant_id.eq(tenant.db()))
                    .filter(accounts::id.eq(user.db())),
            )
            .set((accounts::mfa_enabled.eq(false), accounts::updated_at.eq(now)))
            .execute(conn)
            .await?;
            let revoked = diesel::update(
                sessions::table
                    .filter(sessions::tenant_id.eq(tenant.db()))
                    .filter(sessions::user_id.eq(user.db()))
                    .filter(sessions::revoked_at.is_null())
                    .filter(sessions::id.ne(keep.db())),
            )
            .set((
                sessions::revoked_at.eq(now),
                sessions::revoked_reason.eq("mfa_disabled"),
            ))
            .execute(conn)
            .await?;
            crate::audit::insert_events(conn, events).await?;
            Ok(Disabled::Done(u64::try_from(revoked).unwrap_or(u64::MAX)))
        })
        .await
        .map_err(query_error)
    }
}
