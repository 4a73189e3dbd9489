//! The connection pool behind every port, server-wide secrets and readiness.
//!
//! Every connection runs with foreign keys on, a busy timeout, case-sensitive `LIKE` (as in
//! PostgreSQL) and, on a file, write-ahead logging. The pool holds one connection: every port
//! call of this process runs after the one before it, so a transaction that reads then writes
//! never interleaves with another — what makes rotation, step reservation and placement atomic
//! here. (Another process, the CLI, waits up to the busy timeout for the write lock; a
//! transaction it overtakes fails with 503 rather than act on what it read.)

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::FutureExt;
use portcullis_domain::{HealthCheck, SecretStore, StoreError};

use crate::error::{pool_error, query_error};
use crate::schema::server_secrets;
use crate::sql::Db;

pub(crate) use crate::conn::SqliteConn;
pub use crate::conn::path_of;
use crate::conn::{Detached, InFlight};

/// Where the database is and how to reach it.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// A file path, `sqlite://PATH` (`sqlite:///abs/path` or `sqlite://rel/path`), or
    /// `:memory:` for a private in-memory database (one connection at a time; gone with the
    /// store).
    pub url: String,
    /// How long a request waits for a free connection before it gets 503 (default 2 s).
    pub acquire_timeout: Duration,
    /// How long a writer waits for another writer's lock before its query fails with 503
    /// (default 5 s).
    pub busy_timeout: Duration,
}

impl SqliteSettings {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            acquire_timeout: Duration::from_secs(2),
            busy_timeout: Duration::from_secs(5),
        }
    }

    /// Whether this names a private in-memory database.
    pub fn is_memory(&self) -> bool {
        matches!(path_of(&self.url), ":memory:")
    }
}

/// The connection pool as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections it may open.
    pub max: usize,
    /// Connections open.
    pub open: usize,
    /// Open and idle.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// The SQLite implementation of every storage port.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Pool<SqliteConn>,
    /// Tenant slugs by id, as read (a slug never changes once its tenant exists).
    tenant_slugs: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<uuid::Uuid, String>>>,
    memory: bool,
    /// In memory: a connection that is never used, holding the shared in-memory database open
    /// while the pool replaces its connection (one dropped after a cancelled transaction, say).
    _anchor: Option<std::sync::Arc<std::sync::Mutex<SqliteConnection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("SqliteStore")
            .field("memory", &self.memory)
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

/// The statements every new connection runs first.
fn setup_sql(busy_timeout: Duration, memory: bool) -> String {
    let journal = if memory {
        ""
    } else {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    };
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON; {journal}",
        busy_timeout.as_millis()
    )
}

impl SqliteStore {
    /// Opens the database (creating the file if needed; see [`crate::run_migrations`] for its
    /// schema) and builds the pool. In memory, the schema is made on open.
    pub async fn open(settings: &SqliteSettings) -> Result<Self, StoreError> {
        let memory = settings.is_memory();
        let mut path = path_of(&settings.url).to_owned();
        let mut anchor = None;
        if memory {
            // A private name, shared by this store's connections (and no one else's).
            path = format!("file:portcullis-{}?mode=memory&cache=shared", uuid::Uuid::now_v7());
            let opened = tokio::task::spawn_blocking({
                let path = path.clone();
                move || <SqliteConnection as diesel::Connection>::establish(&path)
            })
            .await
            .map_err(|e| StoreError::Internal(e.to_string()))?
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            anchor = Some(std::sync::Arc::new(std::sync::Mutex::new(opened)));
        }
        if !memory {
            // SQLite creates the file, not its directory.
            if let Some(dir) = std::path::Path::new(&path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let setup = setup_sql(settings.busy_timeout, memory);
        let in_flight = InFlight::default();
        let mut config = ManagerConfig::default();
        let counted = in_flight.clone();
        config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            let setup = setup.clone();
            let counted = counted.clone();
            async move {
                let opened =
                    tokio::task::spawn_blocking(move || <SqliteConnection as diesel::Connection>::establish(&url))
                        .await
                        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))??;
                let mut conn = SqliteConn::with_runtime(opened, Detached::counted(counted));
                conn.batch_execute(&setup)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                if memory {
                    // Migrated by the first connection (a no-op for the next).
                    crate::migrate::migrate_connection(&mut conn)
                        .await
                        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
                }
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
        let pool = Pool::builder(manager)
            .max_size(1)
            .wait_timeout(Some(settings.acquire_timeout))
            // A connection given back while a cancelled call's statement still runs on it is
            // closed, not handed out (see `Detached`).
            .pre_recycle(deadpool::managed::Hook::sync_fn(move |_, _| {
                if in_flight.any() {
                    Err(deadpool::managed::HookError::message(
                        "a cancelled call's statement still runs",
                    ))
                } else {
                    Ok(())
                }
            }))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let store = Self {
            pool,
            tenant_slugs: std::sync::Arc::default(),
            memory,
            _anchor: anchor,
        };
        // Opens the first connection now: a path that cannot be written fails here, not on the
        // first request (and in memory, this is when the schema is made).
        drop(store.conn().await?);
        Ok(store)
    }

    /// A private in-memory database, migrated: for tests and embedding. Nothing outlives the
    /// store.
    pub async fn in_memory() -> Result<Self, StoreError> {
        Self::open(&SqliteSettings::new(":memory:")).await
    }

    /// Whether the database lives in memory only.
    pub fn is_memory(&self) -> bool {
        self.memory
    }

    /// The migrations of this build that the database lacks (none: the schema is current).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let applied = crate::migrate::applied_versions(&mut conn).await.map_err(query_error)?;
        Ok(crate::migrate::embedded_versions()
            .into_iter()
            .filter(|v| !applied.contains(v))
            .collect())
    }

    /// The slug of tenant `id`, from memory or else the database (`None`: no such tenant).
    pub(crate) async fn tenant_slug(
        &self,
        conn: &mut SqliteConn,
        id: uuid::Uuid,
    ) -> Result<Option<String>, StoreError> {
        let known = self
            .tenant_slugs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned();
        if known.is_some() {
            return Ok(known);
        }
        let slug = crate::schema::tenants::table
            .find(id.db())
            .select(crate::schema::tenants::slug)
            .first::<String>(conn)
            .await
            .optional()
            .map_err(query_error)?;
        if let Some(slug) = &slug {
            let mut slugs = self
                .tenant_slugs
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slugs.len() >= 10_000 {
                slugs.clear();
            }
            slugs.insert(id, slug.clone());
        }
        Ok(slug)
    }

    pub(crate) async fn conn(&self) -> Result<Object<SqliteConn>, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// The pool as it stands: connections open, idle, and callers waiting for one.
    pub fn pool_status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max: s.max_size,
            open: s.size,
            idle: s.available,
            waiting: s.waiting,
        }
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(server_secrets::table)
            .values((
                server_secrets::name.eq(name),
                server_secrets::secret.eq(candidate),
                server_secrets::created_at.eq(chrono::Utc::now()),
            ))
            .on_conflict_do_nothing()
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        server_secrets::table
            .find(name)
            .select(server_secrets::secret)
            .first::<Vec<u8>>(&mut conn)
            .await
            .map_err(query_error)
    }

    async fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn().await?;
        server_secrets::table
            .find(name)
            .select(server_secrets::secret)
            .first::<Vec<u8>>(&mut conn)
            .await
            .optional()
            .map_err(query_error)
    }

    async fn put_secret(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(server_secrets::table)
            .values((
                server_secrets::name.eq(name),
                server_secrets::secret.eq(value),
                server_secrets::created_at.eq(chrono::Utc::now()),
            ))
            .on_conflict(server_secrets::name)
            .do_update()
            .set(server_secrets::secret.eq(value))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn replace_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let written = match expected {
            None => {
                diesel::insert_into(server_secrets::table)
                    .values((
                        server_secrets::name.eq(name),
                        server_secrets::secret.eq(value),
                        server_secrets::created_at.eq(chrono::Utc::now()),
                    ))
                    .on_conflict_do_nothing()
                    .execute(&mut conn)
                    .await
            }
            Some(expected) => {
                diesel::update(
                    server_secrets::table
                        .filter(server_secrets::name.eq(name))
                        .filter(server_secrets::secret.eq(expected)),
                )
                .set(server_secrets::secret.eq(value))
                .execute(&mut conn)
                .await
            }
        }
        .map_err(query_error)?;
        Ok(written == 1)
    }
}

#[async_trait]
impl HealthCheck for SqliteStore {
    /// Ready when the database answers and its schema has every migration of this build.
    async fn ping(&self) -> Result<(), StoreError> {
        let pending = self.pending_migrations().await?;
        if !pending.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "the database schema is behind this build: {} migration(s) pending",
                pending.len()
            )));
        }
        Ok(())
    }
}
