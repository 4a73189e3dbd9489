use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;
use portcullis_domain::{
    Account, AccountCredentials, AccountStore, Email, HealthCheck, InsertAccountError, KEPT_SUPERSEDED_TOKENS,
    NewAccount, NewSession, RefreshDecision, RefreshOutcome, RefreshTokenState, SecretStore, Session, SessionId,
    SessionStore, StoreError, Tenant, TenantId, TokenHash, UserId, Username,
};

use crate::error::{is_foreign_key_violation, pool_error, query_error, unique_violation};
use crate::rows::{AccountRow, SessionRow, TenantRow};
use crate::schema::{accounts, refresh_tokens, server_secrets, sessions, tenants};

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

/// The PostgreSQL implementation of every storage port.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
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
                let mut conn = AsyncPgConnection::establish(&url).await?;
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
        Ok(Self { pool })
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

fn deadpool_runtime() -> deadpool::Runtime {
    deadpool::Runtime::Tokio1
}

fn account_with_tenant() -> (
    diesel::helper_types::AsSelect<AccountRow, diesel::pg::Pg>,
    diesel::helper_types::AsSelect<TenantRow, diesel::pg::Pg>,
) {
    (AccountRow::as_select(), TenantRow::as_select())
}

/// Accounts of one tenant, joined with their tenant: every account look-up starts here, so none
/// can forget the tenant.
type AccountsOfTenant<'a> = diesel::helper_types::IntoBoxed<
    'a,
    diesel::helper_types::InnerJoin<accounts::table, tenants::table>,
    diesel::pg::Pg,
>;

fn accounts_of<'a>(tenant: TenantId) -> AccountsOfTenant<'a> {
    accounts::table
        .inner_join(tenants::table)
        .filter(accounts::tenant_id.eq(tenant.as_uuid()))
        .into_boxed()
}

impl PgStore {
    async fn find_account(&self, query: AccountsOfTenant<'_>) -> Result<Option<AccountCredentials>, StoreError> {
        let mut conn = self.conn().await?;
        let row = query
            .select(account_with_tenant())
            .first::<(AccountRow, TenantRow)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(|(a, t)| a.into_account(t)))
    }
}

#[async_trait]
impl AccountStore for PgStore {
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = tenants::table
            .filter(tenants::slug.eq(slug))
            .select(TenantRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Tenant::from))
    }

    async fn insert_account(
        &self,
        account: NewAccount,
        first_session: Option<NewSession>,
    ) -> Result<Account, InsertAccountError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(accounts::table)
                    .values((
                        accounts::id.eq(account.id.as_uuid()),
                        accounts::tenant_id.eq(account.tenant_id.as_uuid()),
                        accounts::email.eq(account.email.as_str()),
                        accounts::email_normalized.eq(account.email.normalized()),
                        accounts::email_verified.eq(account.email_verified),
                        accounts::username.eq(account.username.as_ref().map(Username::as_str)),
                        accounts::username_normalized.eq(account.username.as_ref().map(Username::normalized)),
                        accounts::password_hash.eq(&account.password_hash),
                        accounts::created_at.eq(account.created_at),
                        accounts::updated_at.eq(account.created_at),
                    ))
                    .execute(conn)
                    .await?;
                if let Some(first) = &first_session {
                    insert_session_rows(conn, first).await?;
                }
                accounts::table
                    .inner_join(tenants::table)
                    .filter(accounts::id.eq(account.id.as_uuid()))
                    .select(account_with_tenant())
                    .first::<(AccountRow, TenantRow)>(conn)
                    .await
            })
            .await;
        match result {
            Ok((row, tenant)) => Ok(row.into_account(tenant).account),
            Err(e) => Err(match unique_violation(&e) {
                Some("accounts_tenant_email_key") => InsertAccountError::EmailTaken,
                Some("accounts_tenant_username_key") => InsertAccountError::UsernameTaken,
                _ if is_foreign_key_violation(&e) => InsertAccountError::UnknownTenant,
                _ => InsertAccountError::Store(query_error(e)),
            }),
        }
    }

    async fn credentials_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::email_normalized.eq(email.normalized())))
            .await
    }

    async fn credentials_by_username(
        &self,
        tenant: TenantId,
        username: &Username,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::username_normalized.eq(username.normalized())))
            .await
    }

    async fn account(&self, tenant: TenantId, user: UserId) -> Result<Option<Account>, StoreError> {
        let found = self
            .find_account(accounts_of(tenant).filter(accounts::id.eq(user.as_uuid())))
            .await?;
        Ok(found.map(|c| c.account))
    }

    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(accounts::table)
            .filter(accounts::tenant_id.eq(tenant.as_uuid()))
            .filter(accounts::id.eq(user.as_uuid()))
            .filter(accounts::password_hash.eq(expected))
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::updated_at.eq(diesel::dsl::now),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(n == 1)
    }
}

async fn touch_session(conn: &mut AsyncPgConnection, id: uuid::Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

async fn insert_session_rows(conn: &mut AsyncPgConnection, new: &NewSession) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow::from(&new.session))
        .execute(conn)
        .await?;
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(&new.refresh_hash.0[..]),
            refresh_tokens::session_id.eq(new.session.id.as_uuid()),
            refresh_tokens::generation.eq(0),
            refresh_tokens::created_at.eq(new.session.created_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl SessionStore for PgStore {
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sessions::table
            .filter(sessions::tenant_id.eq(tenant.as_uuid()))
            .filter(sessions::id.eq(id.as_uuid()))
            .select(SessionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Session::from))
    }

    async fn insert_session(&self, session: NewSession) -> Result<Session, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| insert_session_rows(conn, &session).await)
            .await
            .map_err(query_error)?;
        Ok(session.session)
    }

    async fn refresh(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        now: DateTime<Utc>,
        decide: &(dyn Fn(RefreshTokenState) -> RefreshDecision + Send + Sync),
    ) -> Result<RefreshOutcome, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // Lock the token's row and its session's row: every refresh of one session is
            // serialised here, and a waiter re-reads the rows as the winner left them.
            let found = refresh_tokens::table
                .inner_join(sessions::table)
                .filter(refresh_tokens::token_hash.eq(&presented.0[..]))
                .select((
                    refresh_tokens::superseded_at,
                    refresh_tokens::generation,
                    SessionRow::as_select(),
                ))
                .for_update()
                .first::<(Option<DateTime<Utc>>, i64, SessionRow)>(conn)
                .await
                .optional()?;
            let Some((superseded_at, generation, row)) = found else {
                return Ok(RefreshOutcome::Invalid);
            };
            let state = RefreshTokenState {
                superseded_at,
                session_revoked_at: row.revoked_at,
                session_expires_at: row.expires_at,
            };
            let session_id = row.id;
            let mut session = Session::from(row);
            match decide(state) {
                RefreshDecision::Dead => Ok(RefreshOutcome::Invalid),
                RefreshDecision::Reuse => {
                    diesel::update(sessions::table.find(session_id))
                        .set((
                            sessions::revoked_at.eq(now),
                            sessions::revoked_reason.eq("refresh_token_reused"),
                        ))
                        .execute(conn)
                        .await?;
                    session.revoked_at = Some(now);
                    Ok(RefreshOutcome::Reused(session))
                }
                RefreshDecision::Rotate => {
                    diesel::update(refresh_tokens::table.find(&presented.0[..]))
                        .set(refresh_tokens::superseded_at.eq(now))
                        .execute(conn)
                        .await?;
                    diesel::insert_into(refresh_tokens::table)
                        .values((
                            refresh_tokens::token_hash.eq(&successor.0[..]),
                            refresh_tokens::session_id.eq(session_id),
                            refresh_tokens::generation.eq(generation + 1),
                            refresh_tokens::created_at.eq(now),
                        ))
                        .execute(conn)
                        .await?;
                    // Bound the chain: forget superseded hashes beyond the kept window.
                    diesel::delete(
                        refresh_tokens::table
                            .filter(refresh_tokens::session_id.eq(session_id))
                            .filter(refresh_tokens::generation.le(generation - KEPT_SUPERSEDED_TOKENS)),
                    )
                    .execute(conn)
                    .await?;
                    touch_session(conn, session_id, now).await?;
                    session.last_used_at = now;
                    Ok(RefreshOutcome::Rotated(session))
                }
                RefreshDecision::Replay => {
                    let head = refresh_tokens::table
                        .filter(refresh_tokens::session_id.eq(session_id))
                        .filter(refresh_tokens::superseded_at.is_null())
                        .select(refresh_tokens::token_hash)
                        .first::<Vec<u8>>(conn)
                        .await?;
                    let head = <[u8; 32]>::try_from(head.as_slice()).map_err(|_| {
                        diesel::result::Error::DeserializationError("token hash is not 32 bytes".into())
                    })?;
                    touch_session(conn, session_id, now).await?;
                    session.last_used_at = now;
                    Ok(RefreshOutcome::Replayed {
                        session,
                        head: TokenHash(head),
                    })
                }
            }
        })
        .await
        .map_err(query_error)
    }

    async fn revoke_session(
        &self,
        tenant: TenantId,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(sessions::table)
            .filter(sessions::tenant_id.eq(tenant.as_uuid()))
            .filter(sessions::user_id.eq(user.as_uuid()))
            .filter(sessions::id.eq(id.as_uuid()))
            .filter(sessions::revoked_at.is_null())
            .set((sessions::revoked_at.eq(now), sessions::revoked_reason.eq("logout")))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(n == 1)
    }

    async fn revoke_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let target = sessions::table
            .filter(sessions::tenant_id.eq(tenant.as_uuid()))
            .filter(sessions::user_id.eq(user.as_uuid()))
            .filter(sessions::revoked_at.is_null());
        let set = (sessions::revoked_at.eq(now), sessions::revoked_reason.eq("logout"));
        let n = match keep {
            Some(keep) => {
                diesel::update(target.filter(sessions::id.ne(keep.as_uuid())))
                    .set(set)
                    .execute(&mut conn)
                    .await
            }
            None => diesel::update(target).set(set).execute(&mut conn).await,
        }
        .map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }
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
}

#[async_trait]
impl HealthCheck for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }
}
