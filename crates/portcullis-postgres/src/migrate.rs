use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The migration after which identity keys must be recomputed ([`crate::rekey`]).
const UNICODE_KEYS_MIGRATION: &str = "20261204000001";

/// Advisory lock key held while migrating, so nodes starting together migrate one at a time.
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c; // "portcull"

/// A migration failure.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Cannot reach the database.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Applies pending migrations under a session-level advisory lock and returns the versions
/// applied. Safe to call from many processes at once.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrateError> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    // The harness drives the async connection through a blocking wrapper; keep it off the
    // executor's worker threads.
    let joined = tokio::task::spawn_blocking(move || {
        let mut harness = AsyncMigrationHarness::new(conn);
        let result = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| MigrateError::Migration(e.to_string()));
        (harness.into_inner(), result)
    })
    .await
    .map_err(|e| MigrateError::Migration(format!("migration task failed: {e}")))?;
    let (mut conn, result) = joined;
    let result = match result {
        Ok(applied) if applied.iter().any(|v| v == UNICODE_KEYS_MIGRATION) => {
            let changed = crate::rekey::rekey_identities(&mut conn).await?;
            tracing::info!(changed, "identity keys recomputed for Unicode look-alikes");
            Ok(applied)
        }
        other => other,
    };
    // Closing the connection would release the lock too; unlock explicitly all the same.
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    result
}
