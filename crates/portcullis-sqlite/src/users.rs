//! Operators' view of accounts on SQLite: search, overview, disable and enable.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::model::{AccountOverview, AuditEvent};
use portcullis_domain::{Account, StoreError, TenantId, UserAdminStore, UserId};

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::queries::{account_with_tenant, accounts_of};
use crate::rows::{AccountRow, TenantRow};
use crate::schema::{accounts, audit_events, mail_outbox, mail_requests, registration_requests, sessions};
use crate::sql::Db;

/// `prefix` as a `LIKE` pattern that matches it literally at the start.
fn starts_with(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[async_trait]
impl UserAdminStore for SqliteStore {
    async fn find_accounts(
        &self,
        tenant: TenantId,
        prefix: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let mut conn = self.conn().await?;
        let mut query = accounts_of(tenant);
        if let Some(prefix) = prefix {
            let pattern = starts_with(prefix);
            query = query.filter(
                accounts::email_normalized
                    .like(pattern.clone())
                    .escape('\\')
                    .or(accounts::username_normalized.like(pattern).escape('\\')),
            );
        }
        if let Some(after) = after {
            query = query.filter(accounts::id.gt(after.db()));
        }
        let rows = query
            .order(accounts::id.asc())
            .limit(i64::from(limit))
            .select(account_with_tenant())
            .load::<(AccountRow, TenantRow)>(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(|(a, t)| a.into_account(t).account).collect())
    }

    async fn account_overview(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountOverview>, StoreError> {
        let mut conn = self.conn().await?;
        let found = accounts_of(tenant)
            .filter(accounts::id.eq(user.db()))
            .select((
                AccountRow::as_select(),
                TenantRow::as_select(),
                accounts::disabled_at,
                accounts::disabled_reason,
            ))
            .first::<(AccountRow, TenantRow, Option<DateTime<Utc>>, Option<String>)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        let Some((account, tenant_row, disabled_at, disabled_reason)) = found else {
            return Ok(None);
        };
        let of_user = sessions::table
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::user_id.eq(user.db()));
        let last_login_at = of_user
            .select(sessions::created_at)
            .order(sessions::created_at.desc())
            .first::<DateTime<Utc>>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        let live: i64 = of_user
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .count()
            .get_result(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(Some(AccountOverview {
            account: account.into_account(tenant_row).account,
            disabled_at,
            disabled_reason,
            last_login_at,
            live_sessions: u64::try_from(live).unwrap_or(0),
        }))
    }

    async fn set_disabled(
        &self,
        tenant: TenantId,
        user: UserId,
        disable: bool,
        reason: Option<&str>,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let target = accounts::table
                .filter(accounts::tenant_id.eq(tenant.db()))
                .filter(accounts::id.eq(user.db()));
            if !disable {
                let n = diesel::update(target)
                    .set((
                        accounts::disabled_at.eq(None::<DateTime<Utc>>),
                        accounts::disabled_reason.eq(None::<String>),
                    ))
                    .execute(conn)
                    .await?;
                if n == 0 {
                    return Ok(None);
                }
                crate::audit::insert_events(conn, &[event(0)]).await?;
                return Ok(Some(0));
            }
            let n = diesel::update(target)
                .set((
                    accounts::disabled_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<diesel::sql_types::TimestamptzSqlite>,
                    >("coalesce(disabled_at, ")
                    .bind::<diesel::sql_types::TimestamptzSqlite, _>(now)
                    .sql(")")),
                    accounts::disabled_reason.eq(reason),
                ))
                .execute(conn)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            let revoked = diesel::update(
                sessions::table
                    .filter(sessions::tenant_id.eq(tenant.db()))
                    .filter(sessions::user_id.eq(user.db()))
                    .filter(sessions::revoked_at.is_null()),
            )
            .set((
                sessions::revoked_at.eq(now),
                sessions::revoked_reason.eq("account_disabled"),
            ))
            .execute(conn)
            .await?;
            let revoked = u64::try_from(revoked).unwrap_or(0);
            crate::audit::insert_events(conn, &[event(revoked)]).await?;
            Ok(Some(revoked))
        })
        .await
        .map_err(query_error)
    }

    async fn erase_account(
        &self,
        tenant: TenantId,
        user: UserId,
        pseudonym: UserId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let (t, u) = (tenant.as_uuid(), user.as_uuid());
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // Every table of the account refers to it with ON DELETE CASCADE.
            let deleted: Option<(String, String)> = diesel::delete(
                accounts::table
                    .filter(accounts::tenant_id.eq(t.db()))
                    .filter(accounts::id.eq(u.db())),
            )
            .returning((accounts::email, accounts::email_normalized))
            .get_result(conn)
            .await
            .optional()?;
            let Some((email, normalized)) = deleted else {
                return Ok(false);
            };
            // Requests naming the address that the worker has not taken yet.
            diesel::delete(
                mail_requests::table
                    .filter(mail_requests::tenant_id.eq(t.db()))
                    .filter(mail_requests::email_normalized.eq(&normalized)),
            )
            .execute(conn)
            .await?;
            diesel::delete(
                registration_requests::table
                    .filter(registration_requests::tenant_id.eq(t.db()))
                    .filter(registration_requests::email_normalized.eq(&normalized)),
            )
            .execute(conn)
            .await?;
            diesel::delete(
                mail_outbox::table
                    .filter(mail_outbox::tenant_id.eq(t.db()))
                    .filter(mail_outbox::recipient.eq(&email)),
            )
            .execute(conn)
            .await?;
            diesel::update(
                audit_events::table
                    .filter(audit_events::tenant_id.eq(t.db()))
                    .filter(audit_events::user_id.eq(u.db())),
            )
            .set(audit_events::user_id.eq(pseudonym.db()))
            .execute(conn)
            .await?;
            crate::audit::insert_events(conn, std::slice::from_ref(event)).await?;
            Ok(true)
        })
        .await
        .map_err(query_error)
    }
}
