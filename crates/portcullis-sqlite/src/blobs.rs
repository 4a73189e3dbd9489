//! Blobs on SQLite: the `blobs` table, so every node reads what any node wrote.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use portcullis_domain::{Blob, BlobStore, StoreError, checked_blob_key};

use crate::error::query_error;
use crate::pool::SqliteConn;
use crate::pool::SqliteStore;
use crate::schema::blobs;

#[async_trait]
impl BlobStore for SqliteStore {
    async fn put_blob(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let key = checked_blob_key(key)?;
        let mut conn = self.conn().await?;
        upsert(&mut conn, key, content_type, bytes).await.map_err(query_error)
    }

    async fn blob(&self, key: &str) -> Result<Option<Blob>, StoreError> {
        let key = checked_blob_key(key)?;
        let mut conn = self.conn().await?;
        let row = blobs::table
            .find(key)
            .select((blobs::content_type, blobs::bytes))
            .first::<(String, Vec<u8>)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(|(content_type, bytes)| Blob { content_type, bytes }))
    }

    async fn delete_blob(&self, key: &str) -> Result<(), StoreError> {
        let key = checked_blob_key(key)?;
        let mut conn = self.conn().await?;
        delete(&mut conn, key).await.map_err(query_error)
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), StoreError> {
        let folder = checked_blob_key(folder)?;
        let mut conn = self.conn().await?;
        // `folder/` ≤ key < `folder0` ('0' follows '/'): a range on the "C"-collated key, so
        // the index finds it and no LIKE wildcard (`_` is a key character) over-matches.
        diesel::delete(
            blobs::table
                .filter(blobs::key.ge(format!("{folder}/")))
                .filter(blobs::key.lt(format!("{folder}0"))),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(())
    }
}

/// Writes (or replaces) the blob under `key`, on `conn` (inside the caller's transaction, if any).
pub(crate) async fn upsert(conn: &mut SqliteConn, key: &str, content_type: &str, bytes: &[u8]) -> QueryResult<()> {
    diesel::insert_into(blobs::table)
        .values((
            blobs::key.eq(key),
            blobs::content_type.eq(content_type),
            blobs::bytes.eq(bytes),
            blobs::updated_at.eq(chrono::Utc::now()),
        ))
        .on_conflict(blobs::key)
        .do_update()
        .set((
            blobs::content_type.eq(excluded(blobs::content_type)),
            blobs::bytes.eq(excluded(blobs::bytes)),
            blobs::updated_at.eq(excluded(blobs::updated_at)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the blob under `key`, if any, on `conn`.
pub(crate) async fn delete(conn: &mut SqliteConn, key: &str) -> QueryResult<()> {
    diesel::delete(blobs::table.find(key)).execute(conn).await?;
    Ok(())
}
