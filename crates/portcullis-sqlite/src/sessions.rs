//! Sessions and refresh-token rotation on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    Account, KEPT_SUPERSEDED_TOKENS, NewSession, RefreshDecision, RefreshOutcome, RefreshTokenState, Session,
    SessionId, SessionSelection, SessionStore, StoreError, TenantId, TokenHash, UserId, model::AuditEvent,
};

use crate::error::query_error;
use crate::pool::SqliteStore;
use crate::queries::{insert_session_rows, remember_network, touch_session};
use crate::rows::{AccountRow, SessionRow, TenantRow};
use crate::schema::{accounts, known_networks, refresh_tokens, sessions};
use crate::sql::Db;

/// Whether the account of the `sessions` row at hand is not disabled (a correlated `EXISTS`
/// on the account's primary key).
#[diesel::dsl::auto_type]
pub(crate) fn account_enabled() -> _ {
    diesel::dsl::exists(
        accounts::table
            .filter(accounts::tenant_id.eq(sessions::tenant_id))
            .filter(accounts::id.eq(sessions::user_id))
            .filter(accounts::disabled_at.is_null()),
    )
}

/// Stores the audit event of revoking `n` sessions, if any were.
async fn record_revocation(
    conn: &mut crate::pool::SqliteConn,
    n: usize,
    event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
) -> QueryResult<()> {
    if n == 0 {
        return Ok(());
    }
    crate::audit::insert_events(conn, &[event(u64::try_from(n).unwrap_or(u64::MAX))]).await
}

/// Most sessions one listing returns.
const MAX_LISTED_SESSIONS: i64 = 500;

/// Reads a refresh token's row, its session's, and the session's account and tenant, in one
/// statement, inside the refresh's transaction. Port calls run one at a time on the store's one
/// connection, so every refresh is serialised and a later one reads the rows as the winner
/// left them.
const LOCK_CHAIN: &str = "SELECT rt.superseded_at, rt.generation, \
       s.id, s.tenant_id, s.user_id, s.amr, s.ip, s.user_agent, s.created_at, s.last_used_at, \
       s.expires_at, s.revoked_at, \
       a.id AS account_id, a.email, a.email_verified, a.username, a.password_hash, \
       a.created_at AS account_created_at, a.mfa_enabled, a.password_nfkc, a.disabled_at, a.avatar_version, \
       t.slug \
     FROM refresh_tokens rt \
     JOIN sessions s ON s.id = rt.session_id \
     JOIN accounts a ON a.tenant_id = s.tenant_id AND a.id = s.user_id \
     JOIN tenants t ON t.id = a.tenant_id \
     WHERE rt.token_hash = ?1";

/// What [`LOCK_CHAIN`] reads.
struct LockedChain {
    superseded_at: Option<DateTime<Utc>>,
    generation: i64,
    session: SessionRow,
    account: AccountRow,
    tenant: TenantRow,
}

impl diesel::deserialize::QueryableByName<diesel::sqlite::Sqlite> for LockedChain {
    fn build<'a>(row: &impl diesel::row::NamedRow<'a, diesel::sqlite::Sqlite>) -> diesel::deserialize::Result<Self> {
        use crate::sql::{TextArray, Uuid as SqlUuid};
        use diesel::row::NamedRow;
        use diesel::sql_types::{BigInt, Bool, Nullable, Text, TimestamptzSqlite};
        let tenant_id = NamedRow::get::<SqlUuid, uuid::Uuid>(row, "tenant_id")?;
        Ok(Self {
            superseded_at: NamedRow::get::<Nullable<TimestamptzSqlite>, _>(row, "superseded_at")?,
            generation: NamedRow::get::<BigInt, _>(row, "generation")?,
            session: SessionRow {
                id: NamedRow::get::<SqlUuid, _>(row, "id")?,
                tenant_id,
                user_id: NamedRow::get::<SqlUuid, _>(row, "user_id")?,
                amr: NamedRow::get::<TextArray, _>(row, "amr")?,
                ip: NamedRow::get::<Nullable<Text>, _>(row, "ip")?,
                user_agent: NamedRow::get::<Nullable<Text>, _>(row, "user_agent")?,
                created_at: NamedRow::get::<TimestamptzSqlite, _>(row, "created_at")?,
                last_used_at: NamedRow::get::<TimestamptzSqlite, _>(row, "last_used_at")?,
                expires_at: NamedRow::get::<TimestamptzSqlite, _>(row, "expires_at")?,
                revoked_at: NamedRow::get::<Nullable<TimestamptzSqlite>, _>(row, "revoked_at")?,
            },
            account: AccountRow {
                id: NamedRow::get::<SqlUuid, _>(row, "account_id")?,
                email: NamedRow::get::<Text, _>(row, "email")?,
                email_verified: NamedRow::get::<Bool, _>(row, "email_verified")?,
                username: NamedRow::get::<Nullable<Text>, _>(row, "username")?,
                password_hash: NamedRow::get::<Nullable<Text>, _>(row, "password_hash")?,
                created_at: NamedRow::get::<TimestamptzSqlite, _>(row, "account_created_at")?,
                mfa_enabled: NamedRow::get::<Bool, _>(row, "mfa_enabled")?,
                password_nfkc: NamedRow::get::<Bool, _>(row, "password_nfkc")?,
                disabled_at: NamedRow::get::<Nullable<TimestamptzSqlite>, _>(row, "disabled_at")?,
                avatar_version: NamedRow::get::<Nullable<Text>, _>(row, "avatar_version")?,
            },
            tenant: TenantRow {
                id: tenant_id,
                slug: NamedRow::get::<Text, _>(row, "slug")?,
            },
        })
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sessions::table
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::id.eq(id.db()))
            .filter(account_enabled())
            .select(SessionRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        Ok(row.map(Session::from))
    }

    async fn session_with_account(
        &self,
        tenant: TenantId,
        id: SessionId,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let mut conn = self.conn().await?;
        // One statement (prepared once per connection): the session and its enabled account;
        // the tenant's slug comes from memory (read once per tenant).
        let row = sessions::table
            .inner_join(
                accounts::table.on(accounts::tenant_id
                    .eq(sessions::tenant_id)
                    .and(accounts::id.eq(sessions::user_id))
                    .and(accounts::disabled_at.is_null())),
            )
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::id.eq(id.db()))
            .select((SessionRow::as_select(), AccountRow::as_select()))
            .first::<(SessionRow, AccountRow)>(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        let Some((s, a)) = row else {
            return Ok(None);
        };
        let Some(slug) = self.tenant_slug(&mut conn, tenant.as_uuid()).await? else {
            return Ok(None);
        };
        let t = TenantRow {
            id: tenant.as_uuid(),
            slug,
        };
        Ok(Some((Session::from(s), a.into_account(t).account)))
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
            tenant.db(),
            user.db(),
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
                crate::queries::enqueue_on(conn, notice, s.created_at).await?;
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
        reused: &(dyn for<'s> Fn(&'s Session) -> AuditEvent + Send + Sync),
    ) -> Result<RefreshOutcome, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // Lock the token's row and its session's row: every refresh of one session is
            // serialised here, and a waiter re-reads the rows as the winner left them.
            let found = diesel::sql_query(LOCK_CHAIN)
                .bind::<diesel::sql_types::Binary, _>(&presented.0[..])
                .get_result::<LockedChain>(conn)
                .await
                .optional()?;
            let Some(LockedChain {
                superseded_at,
                generation,
                session: row,
                account,
                tenant,
            }) = found
            else {
                return Ok(RefreshOutcome::Invalid);
            };
            let state = RefreshTokenState {
                superseded_at,
                session_revoked_at: row.revoked_at,
                session_expires_at: row.expires_at,
                account_disabled: account.disabled_at.is_some(),
            };
            let account = account.into_account(tenant).account;
            let session_id = row.id;
            let mut session = Session::from(row);
            match decide(state) {
                RefreshDecision::Dead => Ok(RefreshOutcome::Invalid),
                RefreshDecision::Reuse => {
                    diesel::update(sessions::table.find(session_id.db()))
                        .set((
                            sessions::revoked_at.eq(now),
                            sessions::revoked_reason.eq("refresh_token_reused"),
                        ))
                        .execute(conn)
                        .await?;
                    session.revoked_at = Some(now);
                    crate::audit::insert_events(conn, &[reused(&session)]).await?;
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
                            refresh_tokens::session_id.eq(session_id.db()),
                            refresh_tokens::generation.eq(generation + 1),
                            refresh_tokens::created_at.eq(now),
                        ))
                        .execute(conn)
                        .await?;
                    // Bound the chain: forget superseded hashes beyond the kept window.
                    diesel::delete(
                        refresh_tokens::table
                            .filter(refresh_tokens::session_id.eq(session_id.db()))
                            .filter(refresh_tokens::generation.le(generation - KEPT_SUPERSEDED_TOKENS)),
                    )
                    .execute(conn)
                    .await?;
                    touch_session(conn, session_id, now).await?;
                    session.last_used_at = now;
                    Ok(RefreshOutcome::Rotated { session, account })
                }
                RefreshDecision::Replay => {
                    let head = refresh_tokens::table
                        .filter(refresh_tokens::session_id.eq(session_id.db()))
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
                        account,
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
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let n = diesel::update(sessions::table)
                .filter(sessions::tenant_id.eq(tenant.db()))
                .filter(sessions::user_id.eq(user.db()))
                .filter(sessions::id.eq(id.db()))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::expires_at.gt(now))
                .set((sessions::revoked_at.eq(now), sessions::revoked_reason.eq("logout")))
                .execute(conn)
                .await?;
            record_revocation(conn, n, event).await?;
            Ok(n == 1)
        })
        .await
        .map_err(query_error)
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sessions::table
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::user_id.eq(user.db()))
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
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let mut chosen = sessions::table
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::user_id.eq(user.db()))
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
            chosen = chosen.filter(
                sessions::id
                    .eq_any(ids.iter().map(Db::db).collect::<Vec<_>>())
                    .or(sessions::id.eq_any(of_tokens)),
            );
        }
        if let Some(keep) = selection.keep {
            chosen = chosen.filter(sessions::id.ne(keep.db()));
        }
        // The filter above keeps every statement to this user's own sessions.
        let n = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(sessions::table.filter(sessions::id.eq_any(chosen)))
                    .filter(sessions::revoked_at.is_null())
                    .set((
                        sessions::revoked_at.eq(now),
                        sessions::revoked_reason.eq("revoked_by_user"),
                    ))
                    .execute(conn)
                    .await?;
                record_revocation(conn, n, event).await?;
                Ok(n)
            })
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
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let target = sessions::table
                    .filter(sessions::tenant_id.eq(tenant.db()))
                    .filter(sessions::user_id.eq(user.db()))
                    .filter(sessions::revoked_at.is_null());
                let set = (sessions::revoked_at.eq(now), sessions::revoked_reason.eq("logout"));
                let n = match keep {
                    Some(keep) => {
                        diesel::update(target.filter(sessions::id.ne(keep.db())))
                            .set(set)
                            .execute(conn)
                            .await?
                    }
                    None => diesel::update(target).set(set).execute(conn).await?,
                };
                record_revocation(conn, n, event).await?;
                Ok(n)
            })
            .await
            .map_err(query_error)?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }
}
