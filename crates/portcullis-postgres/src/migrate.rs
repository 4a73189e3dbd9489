use diesel::migration::MigrationSource;
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
    /// Cannot reach the database: where and why.
    #[error("{0}")]
    Connect(String),
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
    let mut conn = connect(database_url).await?;
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

pub(crate) async fn connect(database_url: &str) -> Result<AsyncPgConnection, MigrateError> {
    match AsyncPgConnection::establish(database_url).await {
        Ok(conn) => Ok(conn),
        Err(e) => Err(MigrateError::Connect(crate::diagnose::diagnose(database_url, &e).await)),
    }
}

/// Which migrations the database has and which this build would still apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions applied, oldest first (those of this build and any others found).
    pub applied: Vec<String>,
    /// Versions of this build not applied yet, oldest first.
    pub pending: Vec<String>,
}

/// The versions of the migrations built into this binary, oldest first.
pub(crate) fn embedded_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
}

/// Reads which migrations are applied and which are pending (`portcullis migrate status`),
/// changing nothing. An empty database has every migration pending.
pub async fn migration_status(database_url: &str) -> Result<MigrationStatus, MigrateError> {
    let mut conn = connect(database_url).await?;
    let applied = applied_versions(&mut conn).await?;
    let pending = embedded_versions()
        .into_iter()
        .filter(|v| !applied.contains(v))
        .collect();
    Ok(MigrationStatus { applied, pending })
}

/// The versions recorded as applied (none when the bookkeeping table does not exist yet).
pub(crate) async fn applied_versions(conn: &mut AsyncPgConnection) -> Result<Vec<String>, MigrateError> {
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        present: bool,
    }
    let exists = diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present")
        .get_result::<Exists>(conn)
        .await?;
    if !exists.present {
        return Ok(Vec::new());
    }
    let versions = diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .load::<Version>(conn)
        .await?;
    Ok(versions.into_iter().map(|v| v.version).collect())
}
