//! TOTP secrets in bulk on SQLite, for sealing them again under a new key: read in pages
//! by primary key, each replaced only if it is still the ciphertext that was read.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::{SealedTotp, StoreError, TenantId, TotpResealStore, UserId};
use uuid::Uuid;

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::schema::mfa_totp;
use crate::sql::Db;

#[async_trait]
impl TotpResealStore for SqliteStore {
    async fn sealed_totp_page(
        &self,
        after: Option<(TenantId, UserId)>,
        limit: usize,
    ) -> Result<Vec<SealedTotp>, StoreError> {
        let mut conn = self.conn().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut query = mfa_totp::table
            .select((mfa_totp::tenant_id, mfa_totp::user_id, mfa_totp::secret_encrypted))
            .order((mfa_totp::tenant_id, mfa_totp::user_id))
            .limit(limit)
            .into_boxed();
        if let Some((tenant, user)) = after {
            let (tenant, user) = (tenant.as_uuid(), user.as_uuid());
            query = query.filter(
                mfa_totp::tenant_id
                    .gt(tenant.db())
                    .or(mfa_totp::tenant_id.eq(tenant.db()).and(mfa_totp::user_id.gt(user.db()))),
            );
        }
        let rows: Vec<(Uuid, Uuid, Vec<u8>)> = query.load(&mut conn).await.map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|(tenant, user, sealed)| SealedTotp {
                tenant: TenantId::from_uuid(tenant),
                user: UserId::from_uuid(user),
                sealed,
            })
            .collect())
    }

    async fn reseal_totp(&self, tenant: TenantId, user: UserId, from: &[u8], to: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(
            mfa_totp::table
                .find((tenant.db(), user.db()))
                .filter(mfa_totp::secret_encrypted.eq(from)),
        )
        .set(mfa_totp::secret_encrypted.eq(to))
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(n == 1)
    }
}
