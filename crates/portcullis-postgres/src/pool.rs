//! The connection pool behind every port, server-wide secrets and readiness.

use std::time::Duration;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;
use portcullis_domain::{HealthCheck, SecretStore, StoreError};

use crate::error::{pool_error, query_error};
use crate::schema::server_secrets;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// `postgres://user:pass@host:port/db`.
    pub url: String,
    /// Maximum pooled connections (default 16).
    pub max_connections: usize,
    /// How long a request waits for a free connection before it gets 503 (default 2 s).
    pub acquire_timeout: Duration,
    /// How long opening a connection may take (default 5 s).
    pub connect_timeout: Duration,
    /// `statement_timeout` of every pooled connection (default 5 s).
    pub statement_timeout: Duration,
}

impl PgSettings {
    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        }
    }
}

/// Time a caller waited for a pooled connection (a metric).
pub const POOL_WAIT: &str = "portcullis_db_pool_wait_seconds";

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

/// The PostgreSQL implementation of every storage port.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    /// The migrations this build expects applied (readiness checks them).
    expected_versions: std::sync::Arc<Vec<String>>,
    /// Tenant slugs by id, as read (a slug never changes once its tenant exists), so the hot
    /// authenticated read need not join `tenants`.
    tenant_slugs: std::sync::Arc<std::sync::RwLock<std::collections::HashMap<uuid::Uuid, String>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish()
    }
}

impl PgStore {
    /// Builds the pool. Connections are opened lazily; call [`HealthCheck::ping`] to check reachability.
    pub fn connect(settings: &PgSettings) -> Result<Self, StoreError> {
        let statement_timeout_ms = settings.statement_timeout.as_millis();
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(move |url| {
            let url = url.to_owned();
            async move {
                let mut conn = match AsyncPgConnection::establish(&url).await {
                    Ok(conn) => conn,
                    Err(e) => {
                        return Err(diesel::ConnectionError::BadConnection(
                            crate::diagnose::diagnose(&url, &e).await,
                        ));
                    }
                };
                diesel::sql_query(format!("SET statement_timeout = {statement_timeout_ms}"))
                    .execute(&mut conn)
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(&settings.url, config);
        let pool = Pool::builder(manager)
            .max_size(settings.max_connections)
            .wait_timeout(Some(settings.acquire_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .runtime(deadpool_runtime())
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        Ok(Self {
            pool,
            expected_versions: std::sync::Arc::new(crate::migrate::embedded_versions()),
            tenant_slugs: std::sync::Arc::default(),
        })
    }

    /// The migrations of this build that the database lacks (none: the schema is current).
    pub async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        let applied = crate::migrate::applied_versions(&mut conn).await.map_err(|e| match e {
            crate::MigrateError::Query(e) => query_error(e),
            other => StoreError::Unavailable(other.to_string()),
        })?;
        Ok(self
            .expected_versions
            .iter()
            .filter(|v| !applied.contains(v))
            .cloned()
            .collect())
    }

    /// The slug of tenant `id`, from memory or else the database (`None`: no such tenant).
    pub(crate) async fn tenant_slug(
        &self,
        conn: &mut AsyncPgConnection,
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
            .find(id)
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
            // Tenants are few; a bound keeps a flood of signups from growing this for ever.
            if slugs.len() >= 10_000 {
                slugs.clear();
            }
            slugs.insert(id, slug.clone());
        }
        Ok(slug)
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        let asked = std::time::Instant::now();
        let conn = self.pool.get().await;
        metrics::histogram!(POOL_WAIT).record(asked.elapsed().as_secs_f64());
        conn.map_err(pool_error)
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

pub(crate) fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

#[async_trait]
impl SecretStore for PgStore {
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(server_secrets::table)
            .values((server_secrets::name.eq(name), server_secrets::secret.eq(candidate)))
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
            .values((server_secrets::name.eq(name), server_secrets::secret.eq(value)))
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
                    .values((server_secrets::name.eq(name), server_secrets::secret.eq(value)))
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
impl HealthCheck for PgStore {
    /// Ready when the database answers and its schema has every migration of this build.
    async fn ping(&self) -> Result<(), StoreError> {
        let pending = self.pending_migrations().await?;
        if !pending.is_empty() {
            tracing::warn!(
                pending = pending.len(),
                first = %pending[0],
                "not ready: the database schema is behind this build; run `portcullis migrate`"
            );
            return Err(StoreError::Unavailable(format!(
                "the database schema is behind this build: {} migration(s) pending",
                pending.len()
            )));
        }
        Ok(())
    }
}
