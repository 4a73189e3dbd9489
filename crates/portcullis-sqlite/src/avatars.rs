//! Avatars on SQLite: the account's version and the blob's bytes change in one
//! transaction, so every node sees a current version with its bytes, or the previous one.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    AvatarRefStore, AvatarStore, AvatarWrite, Blob, BlobStore, NewAvatar, StoreError, TenantId, UserId, avatar_folder,
    avatar_key, checked_blob_key,
};

use crate::blobs::{delete, upsert};
use crate::error::query_error;
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::schema::accounts;
use crate::sql::Db;

/// Locks the account's row and reads its avatar version; `None` when the tenant has no such
/// account.
async fn lock_version(conn: &mut SqliteConn, tenant: TenantId, user: UserId) -> QueryResult<Option<Option<String>>> {
    accounts::table
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::id.eq(user.db()))
        .select(accounts::avatar_version)
        .first::<Option<String>>(conn)
        .await
        .optional()
}

/// Points the (locked) account at `version`.
async fn point_at(conn: &mut SqliteConn, user: UserId, version: Option<&str>) -> QueryResult<()> {
    diesel::update(accounts::table.filter(accounts::id.eq(user.db())))
        .set(accounts::avatar_version.eq(version))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl AvatarRefStore for SqliteStore {
    async fn swap_avatar_version(
        &self,
        tenant: TenantId,
        user: UserId,
        version: Option<&str>,
    ) -> Result<Option<Option<String>>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let previous = lock_version(conn, tenant, user).await?;
            if previous.is_some() {
                point_at(conn, user, version).await?;
            }
            Ok(previous)
        })
        .await
        .map_err(query_error)
    }

    async fn avatar_version(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn().await?;
        let found = accounts::table
            .filter(accounts::id.eq(user.db()))
            .filter(accounts::disabled_at.is_null())
            .select(accounts::avatar_version)
            .first::<Option<String>>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(found.flatten())
    }
}

#[async_trait]
impl AvatarStore for SqliteStore {
    async fn set_avatar(&self, tenant: TenantId, user: UserId, avatar: &NewAvatar) -> Result<AvatarWrite, StoreError> {
        let key = avatar_key(user, &avatar.version);
        checked_blob_key(&key)?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(previous) = lock_version(conn, tenant, user).await? else {
                return Ok(AvatarWrite::NoAccount);
            };
            upsert(conn, &key, &avatar.content_type, &avatar.bytes).await?;
            point_at(conn, user, Some(&avatar.version)).await?;
            if let Some(old) = previous.as_deref().filter(|old| *old != avatar.version) {
                delete(conn, &avatar_key(user, old)).await?;
            }
            Ok(AvatarWrite::Stored { previous })
        })
        .await
        .map_err(query_error)
    }

    async fn remove_avatar(&self, tenant: TenantId, user: UserId) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(Some(old)) = lock_version(conn, tenant, user).await? else {
                return Ok(None);
            };
            point_at(conn, user, None).await?;
            delete(conn, &avatar_key(user, &old)).await?;
            Ok(Some(old))
        })
        .await
        .map_err(query_error)
    }

    async fn current_avatar(&self, user: UserId) -> Result<Option<String>, StoreError> {
        self.avatar_version(user).await
    }

    async fn forget_avatars(&self, user: UserId) -> Result<(), StoreError> {
        self.delete_folder(&avatar_folder(user)).await
    }

    async fn avatar(&self, user: UserId) -> Result<Option<(String, Blob)>, StoreError> {
        #[derive(QueryableByName)]
        struct Current {
            #[diesel(sql_type = diesel::sql_types::Text)]
            avatar_version: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            content_type: String,
            #[diesel(sql_type = diesel::sql_types::Binary)]
            bytes: Vec<u8>,
        }
        let mut conn = self.conn().await?;
        // One statement, one snapshot: the version and its bytes always match.
        let found = diesel::sql_query(
            "SELECT a.avatar_version, b.content_type, b.bytes \
             FROM accounts a JOIN blobs b ON b.key = 'avatars/' || ?2 || '/' || a.avatar_version \
             WHERE a.id = ?1 AND a.disabled_at IS NULL",
        )
        .bind::<crate::sql::Uuid, _>(user.as_uuid())
        .bind::<diesel::sql_types::Text, _>(user.as_uuid().hyphenated().to_string())
        .get_result::<Current>(&mut conn)
        .await
        .optional()
        .map_err(query_error)?;
        Ok(found.map(|c| {
            let blob = Blob {
                content_type: c.content_type,
                bytes: c.bytes,
            };
            (c.avatar_version, blob)
        }))
    }
}
