//! Admin keys, and the refresh-token lookup of introspection, on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::admin_key::{AdminKey, NewAdminKey};
use portcullis_domain::{AdminKeyStore, Session, StoreError, Tenant, TenantId, TenantWriteError, TokenHash};
use uuid::Uuid;

use crate::error::{is_foreign_key_violation, query_error};
use crate::pool::SqliteStore;
use crate::rows::SessionRow;
use crate::schema::{admin_keys, refresh_tokens, sessions, tenants};
use crate::sql::Db;

type KeyRow = (
    Uuid,
    String,
    Option<Uuid>,
    bool,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn key_of(r: KeyRow) -> AdminKey {
    let (id, name, tenant, introspect_only, created_at, revoked_at, slug) = r;
    AdminKey {
        id,
        name,
        tenant: tenant.zip(slug).map(|(id, slug)| Tenant {
            id: TenantId::from_uuid(id),
            slug,
        }),
        introspect_only,
        created_at,
        revoked_at,
    }
}

/// Keys with the slug of their tenant.
macro_rules! keys_with_tenant {
    () => {
        admin_keys::table.left_join(tenants::table.on(tenants::id.nullable().eq(admin_keys::tenant_id)))
    };
}

/// The columns of a [`KeyRow`].
macro_rules! key_columns {
    () => {
        (
            admin_keys::id,
            admin_keys::name,
            admin_keys::tenant_id,
            admin_keys::introspect_only,
            admin_keys::created_at,
            admin_keys::revoked_at,
            tenants::slug.nullable(),
        )
    };
}

#[async_trait]
impl AdminKeyStore for SqliteStore {
    async fn insert_admin_key(&self, key: &NewAdminKey) -> Result<AdminKey, TenantWriteError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(admin_keys::table)
            .values((
                admin_keys::id.eq(key.id.db()),
                admin_keys::name.eq(&key.name),
                admin_keys::key_hash.eq(&key.hash.0[..]),
                admin_keys::tenant_id.eq(key.tenant.map(|t| t.db())),
                admin_keys::introspect_only.eq(key.introspect_only),
                admin_keys::created_at.eq(key.created_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    TenantWriteError::UnknownTenant
                } else {
                    TenantWriteError::Store(query_error(e))
                }
            })?;
        let row = keys_with_tenant!()
            .filter(admin_keys::id.eq(key.id.db()))
            .select(key_columns!())
            .first::<KeyRow>(&mut conn)
            .await
            .map_err(|e| TenantWriteError::Store(query_error(e)))?;
        Ok(key_of(row))
    }

    async fn admin_keys(&self) -> Result<Vec<AdminKey>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = keys_with_tenant!()
            .order((admin_keys::created_at.asc(), admin_keys::id.asc()))
            .select(key_columns!())
            .load::<KeyRow>(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(key_of).collect())
    }

    async fn revoke_admin_key(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(
            admin_keys::table
                .filter(admin_keys::id.eq(id.db()))
                .filter(admin_keys::revoked_at.is_null()),
        )
        .set(admin_keys::revoked_at.eq(now))
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(n == 1)
    }

    async fn live_admin_key(&self, hash: &TokenHash) -> Result<Option<AdminKey>, StoreError> {
        let mut conn = self.conn().await?;
        let row = keys_with_tenant!()
            .filter(admin_keys::key_hash.eq(&hash.0[..]))
            .filter(admin_keys::revoked_at.is_null())
            .select(key_columns!())
            .first::<KeyRow>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(key_of))
    }

    async fn session_of_refresh_token(&self, hash: &TokenHash) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn().await?;
        let row = refresh_tokens::table
            .inner_join(sessions::table)
            .filter(refresh_tokens::token_hash.eq(&hash.0[..]))
            .filter(refresh_tokens::superseded_at.is_null())
            .filter(crate::sessions::account_enabled())
            .select(SessionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Session::from))
    }
}
