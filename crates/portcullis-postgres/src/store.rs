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
    SessionSelection, SessionStore, SetUsernameError, StoreError, Tenant, TenantId, TokenHash, UserId, Username,
};

/// Most sessions one listing returns.
const MAX_LISTED_SESSIONS: i64 = 500;

use crate::error::{is_foreign_key_violation, pool_error, query_error, unique_violation};
use crate::rows::{AccountRow, NewAccountRow, SessionRow, TenantRow};
use crate::schema::{accounts, known_networks, refresh_tokens, server_secrets, sessions, tenants};

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

pub(crate) fn account_with_tenant() -> (
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
                    .values(NewAccountRow::from(&account))
                    .execute(conn)
                    .await?;
                if let Some(first) = &first_session {
                    insert_session_rows(conn, first).await?;
                }
                if let Some(network) = &account.network {
                    remember_network(
                        conn,
                        account.tenant_id.as_uuid(),
                        account.id.as_uuid(),
                        network,
                        account.created_at,
                    )
                    .await?;
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

    async fn credentials(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountCredentials>, StoreError> {
        self.find_account(accounts_of(tenant).filter(accounts::id.eq(user.as_uuid())))
            .await
    }

    async fn set_username(
        &self,
        tenant: TenantId,
        user: UserId,
        username: &Username,
        now: DateTime<Utc>,
    ) -> Result<Account, SetUsernameError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(
            accounts::table
                .filter(accounts::tenant_id.eq(tenant.as_uuid()))
                .filter(accounts::id.eq(user.as_uuid())),
        )
        .set((
            accounts::username.eq(username.as_str()),
            accounts::username_normalized.eq(username.normalized()),
            accounts::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some("accounts_tenant_username_key") => SetUsernameError::Taken,
            _ => SetUsernameError::Store(query_error(e)),
        })?;
        drop(conn);
        if n == 0 {
            return Err(SetUsernameError::NoAccount);
        }
        self.account(tenant, user).await?.ok_or(SetUsernameError::NoAccount)
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
                accounts::password_nfkc.eq(true),
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

/// Records `network` as known to the account (or refreshes when it was last seen).
pub(crate) async fn remember_network(
    conn: &mut AsyncPgConnection,
    tenant: uuid::Uuid,
    user: uuid::Uuid,
    network: &str,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(known_networks::table)
        .values((
            known_networks::tenant_id.eq(tenant),
            known_networks::user_id.eq(user),
            known_networks::network.eq(network),
            known_networks::first_seen.eq(now),
            known_networks::last_seen.eq(now),
        ))
        .on_conflict((
            known_networks::tenant_id,
            known_networks::user_id,
            known_networks::network,
        ))
        .do_update()
        .set(known_networks::last_seen.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

pub(crate) async fn insert_session_rows(conn: &mut AsyncPgConnection, new: &NewSession) -> QueryResult<()> {
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

    async fn is_known_network(&self, tenant: TenantId, user: UserId, network: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        diesel::select(diesel::dsl::exists(known_networks::table.find((
            tenant.as_uuid(),
            user.as_uuid(),
            network,
        ))))
        .get_result(&mut conn)
        .await
        .map_err(query_error)
    }

    async fn insert_session_from(
        &self,
        session: NewSession,
        network: &str,
        notice: Option<&portcullis_domain::OutgoingMail>,
    ) -> Result<Session, StoreError> {
        let mut conn = self.conn().await?;
        let s = &session.session;
        conn.transaction(async |conn| {
            insert_session_rows(conn, &session).await?;
            remember_network(conn, s.tenant_id.as_uuid(), s.user_id.as_uuid(), network, s.created_at).await?;
            if let Some(notice) = notice {
                crate::outbox::enqueue_on(conn, notice, s.created_at).await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
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
            .filter(sessions::expires_at.gt(now))
            .set((sessions::revoked_at.eq(now), sessions::revoked_reason.eq("logout")))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(n == 1)
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sessions::table
            .filter(sessions::tenant_id.eq(tenant.as_uuid()))
            .filter(sessions::user_id.eq(user.as_uuid()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .order((sessions::last_used_at.desc(), sessions::id.desc()))
            .limit(MAX_LISTED_SESSIONS)
            .select(SessionRow::as_select())
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    async fn revoke_selected(
        &self,
        tenant: TenantId,
        user: UserId,
        selection: &SessionSelection,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let mut chosen = sessions::table
            .filter(sessions::tenant_id.eq(tenant.as_uuid()))
            .filter(sessions::user_id.eq(user.as_uuid()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .select(sessions::id)
            .into_boxed();
        if !selection.all {
            let ids: Vec<uuid::Uuid> = selection.ids.iter().map(|id| id.as_uuid()).collect();
            let hashes: Vec<&[u8]> = selection.refresh_tokens.iter().map(|h| &h.0[..]).collect();
            let of_tokens = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq_any(hashes))
                .select(refresh_tokens::session_id);
            chosen = chosen.filter(sessions::id.eq_any(ids).or(sessions::id.eq_any(of_tokens)));
        }
        if let Some(keep) = selection.keep {
            chosen = chosen.filter(sessions::id.ne(keep.as_uuid()));
        }
        // The filter above keeps every statement to this user's own sessions.
        let n = diesel::update(sessions::table.filter(sessions::id.eq_any(chosen)))
            .filter(sessions::revoked_at.is_null())
            .set((
                sessions::revoked_at.eq(now),
                sessions::revoked_reason.eq("revoked_by_user"),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
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
