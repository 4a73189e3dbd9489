//! Which database the service runs on: PostgreSQL when `database.url` is `postgres://…`,
//! else SQLite — the file `database.url` names (`sqlite://PATH`), or `database.sqlite_path`
//! when no URL is set (the zero-setup default: no database server at all).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use portcullis_domain::{AvatarStore, BlobStore, Storage, StoreError};
use portcullis_postgres::{PgSettings, PgStore};
use portcullis_sqlite::{SqliteSettings, SqliteStore};
use secrecy::ExposeSecret;

use crate::config::Config;

/// Where the configuration points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `postgres://` URL.
    Postgres(String),
    /// A `sqlite://PATH` URL (or `sqlite://:memory:`).
    Sqlite(String),
}

impl Target {
    /// The configured database: `database.url`, or the SQLite file at `database.sqlite_path`.
    pub fn of(config: &Config) -> anyhow::Result<Self> {
        match config
            .database
            .url
            .as_ref()
            .map(|u| u.expose_secret().to_owned())
            .filter(|u| !u.is_empty())
        {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok(Self::Postgres(url)),
            Some(url) if url.starts_with("sqlite:") => Ok(Self::Sqlite(url)),
            Some(_) => anyhow::bail!("database.url must start with postgres://, postgresql:// or sqlite://"),
            None => Ok(Self::Sqlite(format!(
                "sqlite://{}",
                config.database.sqlite_path.display()
            ))),
        }
    }

    /// What to log about it (never a password).
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres(url) => format!("PostgreSQL at {}", portcullis_postgres::describe_target(url)),
            Self::Sqlite(url) => format!("SQLite at {}", portcullis_sqlite::path_of(url)),
        }
    }

    /// Applies pending migrations; returns the versions applied.
    pub async fn migrate(&self) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Self::Postgres(url) => portcullis_postgres::run_migrations(url).await?,
            Self::Sqlite(url) => portcullis_sqlite::run_migrations(url).await?,
        })
    }
}

/// The open database, behind every storage port.
#[derive(Debug, Clone)]
pub enum Database {
    /// Several nodes, one database server.
    Postgres(Arc<PgStore>),
    /// One node, a file (or memory).
    Sqlite(Arc<SqliteStore>),
}

impl Database {
    /// Migrates (when `database.migrate_on_start` is set), opens, and checks the schema is
    /// current. `max_connections` overrides the configured PostgreSQL pool size (operator
    /// commands; SQLite always has one connection).
    pub async fn open(config: &Config, max_connections: Option<usize>) -> anyhow::Result<Self> {
        let target = Target::of(config)?;
        let memory = matches!(&target, Target::Sqlite(url) if portcullis_sqlite::path_of(url) == ":memory:");
        if config.database.migrate_on_start && !memory {
            let applied = target.migrate().await.context("applying migrations")?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
        }
        let d = &config.database;
        let db = match &target {
            Target::Postgres(url) => Self::Postgres(Arc::new(PgStore::connect(&PgSettings {
                url: url.clone(),
                max_connections: max_connections.unwrap_or(d.max_connections),
                acquire_timeout: Duration::from_millis(d.acquire_timeout_ms),
                connect_timeout: Duration::from_millis(d.connect_timeout_ms),
                statement_timeout: Duration::from_millis(d.statement_timeout_ms),
            })?)),
            Target::Sqlite(url) => Self::Sqlite(Arc::new(
                SqliteStore::open(&SqliteSettings {
                    acquire_timeout: Duration::from_millis(d.acquire_timeout_ms),
                    busy_timeout: Duration::from_millis(d.statement_timeout_ms),
                    ..SqliteSettings::new(url.clone())
                })
                .await
                .with_context(|| format!("opening {}", target.describe()))?,
            )),
        };
        tracing::info!(database = %target.describe(), "storage");
        if config
            .database
            .url
            .as_ref()
            .is_none_or(|u| u.expose_secret().is_empty())
            && config.server.profile == crate::config::Profile::Production
        {
            tracing::warn!(
                database = %target.describe(),
                "no database.url (DATABASE_URL): running on the embedded SQLite file; several nodes each get their \
                 own accounts this way. Set DATABASE_URL (postgres://…, or sqlite://PATH to choose the file)"
            );
        }
        if !config.database.migrate_on_start {
            let pending = db.pending_migrations().await.context("checking the database schema")?;
            if !pending.is_empty() {
                anyhow::bail!(
                    "the database schema is behind this build: {} migration(s) pending (first {}); run `portcullis \
                     migrate`, or set database.migrate_on_start = true",
                    pending.len(),
                    pending[0]
                );
            }
        }
        Ok(db)
    }

    /// Every storage port.
    pub fn storage(&self) -> Arc<dyn Storage> {
        match self {
            Self::Postgres(s) => s.clone(),
            Self::Sqlite(s) => s.clone(),
        }
    }

    /// Avatars kept beside the accounts, in the database.
    pub fn avatars(&self) -> Arc<dyn AvatarStore> {
        match self {
            Self::Postgres(s) => s.clone(),
            Self::Sqlite(s) => s.clone(),
        }
    }

    /// The database's blob table.
    pub fn blobs(&self) -> Arc<dyn BlobStore> {
        match self {
            Self::Postgres(s) => s.clone(),
            Self::Sqlite(s) => s.clone(),
        }
    }

    /// The migrations of this build the database lacks.
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Self::Postgres(s) => s.pending_migrations().await,
            Self::Sqlite(s) => s.pending_migrations().await,
        }
    }

    /// Connections: (max, open, idle, waiting).
    pub fn pool_status(&self) -> (usize, usize, usize, usize) {
        match self {
            Self::Postgres(s) => {
                let p = s.pool_status();
                (p.max, p.open, p.idle, p.waiting)
            }
            Self::Sqlite(s) => {
                let p = s.pool_status();
                (p.max, p.open, p.idle, p.waiting)
            }
        }
    }

    /// Mails still to send: how many, and when the oldest was enqueued.
    pub async fn outbox_backlog(&self) -> Result<(u64, Option<chrono::DateTime<chrono::Utc>>), StoreError> {
        match self {
            Self::Postgres(s) => s.outbox_backlog().await.map(|b| (b.pending, b.oldest)),
            Self::Sqlite(s) => s.outbox_backlog().await.map(|b| (b.pending, b.oldest)),
        }
    }

    /// Mail asked for and not yet tried once (see `PgStore::mail_in_flight`).
    pub async fn mail_in_flight(&self) -> Result<u64, StoreError> {
        match self {
            Self::Postgres(s) => s.mail_in_flight().await,
            Self::Sqlite(s) => s.mail_in_flight().await,
        }
    }

    /// Every table's rows, each a JSON object, read in one snapshot (see [`crate::transfer`]).
    pub async fn export_rows(&self) -> Result<Vec<(&'static str, Vec<String>)>, StoreError> {
        match self {
            Self::Postgres(s) => s.export_rows().await,
            Self::Sqlite(s) => s.export_rows().await,
        }
    }

    /// Loads tables of rows in one transaction (see [`crate::transfer`]).
    pub async fn import_rows(&self, tables: &[(String, String)]) -> Result<u64, StoreError> {
        match self {
            Self::Postgres(s) => s.import_rows(tables).await,
            Self::Sqlite(s) => s.import_rows(tables).await,
        }
    }
}
