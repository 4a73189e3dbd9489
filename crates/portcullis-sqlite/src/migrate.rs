//! The schema of migrations/sqlite, built into the binary and applied on open.

use diesel::migration::MigrationSource;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_async::{AsyncConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::conn::{SqliteConn, path_of};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// A migration failure.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Cannot open the database file: where and why.
    #[error("cannot open the SQLite database {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// SQLite's word.
        reason: String,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Applies pending migrations to the database at `url` (a path or `sqlite://PATH`), creating
/// the file and its directory if needed, and returns the versions applied. SQLite's write lock
/// serialises processes that migrate at once.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, MigrateError> {
    let path = path_of(url).to_owned();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection as _;
        if let Some(dir) = std::path::Path::new(&path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| MigrateError::Open {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        }
        let mut conn = SqliteConnection::establish(&path).map_err(|e| MigrateError::Open {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;",
        )?;
        apply(&mut conn)
    })
    .await
    .map_err(|e| MigrateError::Migration(format!("migration task failed: {e}")))?
}

fn apply(conn: &mut SqliteConnection) -> Result<Vec<String>, MigrateError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| MigrateError::Migration(e.to_string()))
}

/// The versions applied and those of this build still pending, oldest first (`portcullis
/// migrate status`), changing nothing. A missing file has every migration pending.
pub async fn migration_status(url: &str) -> Result<(Vec<String>, Vec<String>), MigrateError> {
    let path = path_of(url).to_owned();
    let applied = if std::path::Path::new(&path).exists() {
        let mut conn = SqliteConn::establish(&path).await.map_err(|e| MigrateError::Open {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        applied_versions(&mut conn).await?
    } else {
        Vec::new()
    };
    let pending = embedded_versions()
        .into_iter()
        .filter(|v| !applied.contains(v))
        .collect();
    Ok((applied, pending))
}

/// Migrates the database behind one pooled connection (an in-memory database, which no other
/// connection can reach).
pub(crate) async fn migrate_connection(conn: &mut SqliteConn) -> Result<Vec<String>, MigrateError> {
    conn.spawn_blocking(|c| apply(c).map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into())))
        .await
        .map_err(MigrateError::Query)
}

/// The versions of the migrations built into this binary, oldest first.
pub(crate) fn embedded_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<Sqlite>::migrations(&MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default();
    versions.sort();
    versions
}

/// The versions recorded as applied (none when the bookkeeping table does not exist yet).
pub(crate) async fn applied_versions(conn: &mut SqliteConn) -> Result<Vec<String>, diesel::result::Error> {
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let present = diesel::sql_query(
        "SELECT name AS version FROM sqlite_master WHERE type = 'table' AND name = '__diesel_schema_migrations'",
    )
    .load::<Version>(conn)
    .await?;
    if present.is_empty() {
        return Ok(Vec::new());
    }
    let versions = diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .load::<Version>(conn)
        .await?;
    Ok(versions.into_iter().map(|v| v.version).collect())
}
