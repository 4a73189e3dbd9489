//! Sessions and refresh-token rotation on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::{
    KEPT_SUPERSEDED_TOKENS, NewSession, RefreshDecision, RefreshOutcome, RefreshTokenState, Session, SessionId,
    SessionSelection, SessionStore, StoreError, TenantId, TokenHash, UserId,
};

use crate::error::query_error;
use crate::pool::PgStore;
use crate::queries::{insert_session_rows, remember_network, touch_session};
use crate::rows::SessionRow;
use crate::schema::{known_networks, refresh_tokens, sessions};

/// Most sessions one listing returns.
const MAX_LISTED_SESSIONS: i64 = 500;

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
