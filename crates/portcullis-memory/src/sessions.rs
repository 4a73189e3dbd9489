//! Sessions and refresh-token rotation in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Account, KEPT_SUPERSEDED_TOKENS, NewSession, OutgoingMail, RefreshDecision, RefreshOutcome, RefreshTokenState,
    Session, SessionId, SessionSelection, SessionStore, StoreError, TenantId, TokenHash, UserId, model::AuditEvent,
};

use crate::MemoryStore;
use crate::state::{RefreshRow, State};

/// Most sessions one listing returns (as the PostgreSQL adapter).
const MAX_LISTED_SESSIONS: usize = 500;

impl State {
    fn session_mut(&mut self, id: SessionId) -> Option<&mut crate::state::SessionRow> {
        self.sessions.iter_mut().find(|s| s.session.id == id)
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .sessions
            .iter()
            .find(|s| s.session.tenant_id == tenant && s.session.id == id)
            .filter(|s| !state.is_disabled(s.session.tenant_id, s.session.user_id))
            .map(|s| s.session.clone()))
    }

    async fn session_with_account(
        &self,
        tenant: TenantId,
        id: SessionId,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .sessions
            .iter()
            .find(|s| s.session.tenant_id == tenant && s.session.id == id)
            .filter(|s| !state.is_disabled(s.session.tenant_id, s.session.user_id))
            .and_then(|s| Some((s.session.clone(), state.account(tenant, s.session.user_id)?))))
    }

    async fn insert_session(&self, session: NewSession) -> Result<Session, StoreError> {
        let mut state = self.lock().await?;
        state.insert_session(&session);
        Ok(session.session)
    }

    async fn is_known_network(&self, tenant: TenantId, user: UserId, network: &str) -> Result<bool, StoreError> {
        let state = self.lock().await?;
        Ok(state.known_networks.contains(&(tenant, user, network.to_owned())))
    }

    async fn insert_session_from(
        &self,
        session: NewSession,
        network: &str,
        notice: Option<&OutgoingMail>,
    ) -> Result<Session, StoreError> {
        let mut state = self.lock().await?;
        let s = &session.session;
        state.insert_session(&session);
        state.remember_network(s.tenant_id, s.user_id, network);
        if let Some(notice) = notice {
            state.enqueue(notice, s.created_at);
        }
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
        let mut state = self.lock().await?;
        let Some(token) = state.refresh_tokens.get(&presented).cloned() else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(row) = state.sessions.iter().find(|s| s.session.id == token.session) else {
            return Ok(RefreshOutcome::Invalid);
        };
        let decision = decide(RefreshTokenState {
            superseded_at: token.superseded_at,
            session_revoked_at: row.session.revoked_at,
            session_expires_at: row.session.expires_at,
            account_disabled: state.is_disabled(row.session.tenant_id, row.session.user_id),
        });
        // Read with the session, as PostgreSQL reads it in the locking statement: a session
        // without its account is not refreshed at all.
        let (tenant, user) = (row.session.tenant_id, row.session.user_id);
        let Some(account) = state.account(tenant, user) else {
            return Ok(RefreshOutcome::Invalid);
        };
        let Some(row) = state.session_mut(token.session) else {
            return Ok(RefreshOutcome::Invalid);
        };
        match decision {
            RefreshDecision::Dead => Ok(RefreshOutcome::Invalid),
            RefreshDecision::Reuse => {
                row.session.revoked_at = Some(now);
                row.revoked_reason = Some("refresh_token_reused");
                let session = row.session.clone();
                state.events.push(reused(&session));
                Ok(RefreshOutcome::Reused(session))
            }
            RefreshDecision::Replay => {
                row.session.last_used_at = now;
                let session = row.session.clone();
                let head = state
                    .refresh_tokens
                    .iter()
                    .find(|(_, t)| t.session == session.id && t.superseded_at.is_none())
                    .map(|(hash, _)| *hash);
                Ok(match head {
                    Some(head) => RefreshOutcome::Replayed { session, account, head },
                    None => RefreshOutcome::Invalid,
                })
            }
            RefreshDecision::Rotate => {
                row.session.last_used_at = now;
                let session = row.session.clone();
                if let Some(t) = state.refresh_tokens.get_mut(&presented) {
                    t.superseded_at = Some(now);
                }
                state.refresh_tokens.insert(
                    successor,
                    RefreshRow {
                        session: session.id,
                        generation: token.generation + 1,
                        superseded_at: None,
                    },
                );
                // Bound the chain: forget superseded hashes beyond the kept window.
                let oldest_kept = token.generation - KEPT_SUPERSEDED_TOKENS;
                state
                    .refresh_tokens
                    .retain(|_, t| t.session != session.id || t.generation > oldest_kept);
                Ok(RefreshOutcome::Rotated { session, account })
            }
        }
    }

    async fn revoke_session(
        &self,
        tenant: TenantId,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let revoked = match state.session_mut(id) {
            Some(row) if row.session.tenant_id == tenant && row.session.user_id == user && row.session.is_live(now) => {
                row.session.revoked_at = Some(now);
                row.revoked_reason = Some("logout");
                true
            }
            _ => false,
        };
        if revoked {
            state.events.push(event(1));
        }
        Ok(revoked)
    }

    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let state = self.lock().await?;
        let mut live: Vec<Session> = state
            .sessions
            .iter()
            .map(|s| &s.session)
            .filter(|s| s.tenant_id == tenant && s.user_id == user && s.is_live(now))
            .cloned()
            .collect();
        live.sort_by_key(|s| std::cmp::Reverse((s.last_used_at, s.id)));
        live.truncate(MAX_LISTED_SESSIONS);
        Ok(live)
    }

    async fn revoke_selected(
        &self,
        tenant: TenantId,
        user: UserId,
        selection: &SessionSelection,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError> {
        let mut state = self.lock().await?;
        let of_tokens: Vec<SessionId> = selection
            .refresh_tokens
            .iter()
            .filter_map(|hash| state.refresh_tokens.get(hash).map(|t| t.session))
            .collect();
        let mut n = 0;
        for row in &mut state.sessions {
            let s = &mut row.session;
            let named = selection.all || selection.ids.contains(&s.id) || of_tokens.contains(&s.id);
            if s.tenant_id == tenant && s.user_id == user && s.is_live(now) && named && selection.keep != Some(s.id) {
                s.revoked_at = Some(now);
                row.revoked_reason = Some("revoked_by_user");
                n += 1;
            }
        }
        if n > 0 {
            state.events.push(event(n));
        }
        Ok(n)
    }

    async fn revoke_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<u64, StoreError> {
        let mut state = self.lock().await?;
        let n = state.revoke_all(tenant, user, keep, now, "logout");
        if n > 0 {
            state.events.push(event(n));
        }
        Ok(n)
    }
}
