//! Accounts and tenants on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    Account, AccountConflict, AccountCredentials, AccountStore, Email, InsertAccountError, NewAccount, NewSession,
    SetUsernameError, StoreError, Tenant, TenantId, UserId, Username,
};

use crate::error::{is_foreign_key_violation, query_error, unique_violation};
use crate::pool::SqliteStore;
use crate::queries::{AccountsOfTenant, account_with_tenant, accounts_of, insert_session_rows, remember_network};
use crate::rows::{AccountRow, NewAccountRow, TenantRow};
use crate::schema::{accounts, tenants};
use crate::sql::Db;

impl SqliteStore {
    async fn find_account(&self, query: AccountsOfTenant<'_>) -> Result<Option<AccountCredentials>, StoreError> {
        let mut conn = self.conn().await?;
        let row = query
            .select(account_with_tenant())
            .first::<(AccountRow, TenantRow)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(|(a, t)| a.into_account(t)))
    }
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = tenants::table
            .filter(tenants::slug.eq(slug))
            .select(TenantRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Tenant::from))
    }

    async fn insert_account(
        &self,
        account: NewAccount,
        first_session: Option<NewSession>,
    ) -> Result<Account, InsertAccountError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(accounts::table)
                    .values(NewAccountRow::from(&account))
                    .execute(conn)
                    .await?;
                if let Some(first) = &first_session {
                    insert_session_rows(conn, first).await?;
                }
                if let Some(network) = &account.network {
                    remember_network(
                        conn,
                        account.tenant_id.as_uuid(),
                        account.id.as_uuid(),
                        network,
                        account.created_at,
                    )
                    .await?;
                }
                accounts::table
                    .inner_join(tenants::table)
                    .filter(accounts::id.eq(account.id.db()))
                    .select(account_with_tenant())
                    .first::<(AccountRow, TenantRow)>(conn)
                    .await
            })
            .await;
        match result {
            Ok((row, tenant)) => Ok(row.into_account(tenant).account),
            Err(e) => Err(match unique_violation(&e) {
                Some("accounts_tenant_email_key") => InsertAccountError::Conflict(AccountConflict::EmailTaken),
                Some("accounts_tenant_username_key") => InsertAccountError::Conflict(AccountConflict::UsernameTaken),
                _ if is_foreign_key_violation(&e) => InsertAccountError::Conflict(AccountConflict::UnknownTenant),
                _ => InsertAccountError::Store(query_error(e)),
            }),
        }
    }

    async fn credentials_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::email_normalized.eq(email.normalized())))
            .await
    }

    async fn credentials_by_username(
        &self,
        tenant: TenantId,
        username: &Username,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::username_normalized.eq(username.normalized())))
            .await
    }

    async fn account(&self, tenant: TenantId, user: UserId) -> Result<Option<Account>, StoreError> {
        let found = self
            .find_account(accounts_of(tenant).filter(accounts::id.eq(user.db())))
            .await?;
        Ok(found.map(|c| c.account))
    }

    async fn credentials(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::id.eq(user.db())))
            .await
    }

    async fn set_username(
        &self,
        tenant: TenantId,
        user: UserId,
        username: &Username,
        now: DateTime<Utc>,
    ) -> Result<Account, SetUsernameError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(
            accounts::table
                .filter(accounts::tenant_id.eq(tenant.db()))
                .filter(accounts::id.eq(user.db())),
        )
        .set((
            accounts::username.eq(username.as_str()),
            accounts::username_normalized.eq(username.normalized()),
            accounts::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("accounts_tenant_username_key") => SetUsernameError::Taken,
            _ => SetUsernameError::Store(query_error(e)),
        })?;
        drop(conn);
        if n == 0 {
            return Err(SetUsernameError::NoAccount);
        }
        self.account(tenant, user).await?.ok_or(SetUsernameError::NoAccount)
    }

    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(accounts::table)
            .filter(accounts::tenant_id.eq(tenant.db()))
            .filter(accounts::id.eq(user.db()))
            .filter(accounts::password_hash.eq(expected))
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::password_nfkc.eq(true),
                accounts::updated_at.eq(chrono::Utc::now()),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(n == 1)
    }
}
