//! What signed-in users do to their sessions: read their account, log out, list and revoke
//! sessions. Every operation is scoped to the caller's tenant and user by construction; another
//! user's session id behaves exactly like one that does not exist.
use crate::ids::SessionId;
use crate::model::{Account, AuditEvent, EventType, Principal, Session, SessionSelection};
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// Only the caller's session.
    #[default]
    Local,
    /// Every session of the user except the caller's.
    Others,
    /// Every session of the user.
    Global,
}

/// Which of the caller's sessions `POST /v1/account/sessions/revoke` ends: the union of `all`,
/// `session_ids` and the sessions of `refresh_tokens`, minus the caller's own session when
/// `exclude_current` is set.
#[derive(Clone, Default)]
pub struct RevokeRequest {
    /// Every session.
    pub all: bool,
    /// Keep the session the request is made with.
    pub exclude_current: bool,
    /// These sessions.
    pub session_ids: Vec<SessionId>,
    /// The sessions of these refresh tokens. Strings that cannot be refresh tokens match
    /// nothing.
    pub refresh_tokens: Vec<String>,
}

impl std::fmt::Debug for RevokeRequest {
    // Never prints the refresh tokens.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokeRequest")
            .field("all", &self.all)
            .field("exclude_current", &self.exclude_current)
            .field("session_ids", &self.session_ids)
            .field("refresh_tokens", &self.refresh_tokens.len())
            .finish()
    }
}

impl AuthService {
    /// The caller's account.
    pub async fn account(&self, principal: &Principal) -> Result<Option<Account>, InfraError> {
        Ok(self
            .deps
            .store
            .account(principal.claims.tid, principal.claims.sub)
            .await?)
    }

    /// Ends sessions per `scope`. Returns how many were revoked.
    pub async fn logout(&self, principal: &Principal, scope: LogoutScope) -> Result<u64, InfraError> {
        let (tid, uid, sid) = (principal.claims.tid, principal.claims.sub, principal.session.id);
        let now = self.deps.clock.now();
        let store = &self.deps.store;
        let how = match scope {
            LogoutScope::Local => "logout",
            LogoutScope::Others => "logout_others",
            LogoutScope::Global => "logout_everywhere",
        };
        let event = self.revocation_event(principal, how);
        let revoked = match scope {
            LogoutScope::Local => u64::from(store.revoke_session(tid, uid, sid, now, &event).await?),
            LogoutScope::Others => store.revoke_sessions(tid, uid, Some(sid), now, &event).await?,
            LogoutScope::Global => store.revoke_sessions(tid, uid, None, now, &event).await?,
        };
        self.account_changed(tid, uid);
        tracing::info!(user_id = %uid, session_id = %sid, ?scope, revoked, "logout");
        Ok(revoked)
    }

    /// The `session.revoked` event of the caller ending `n` sessions (`how`: `logout`,
    /// `logout_others`, `logout_everywhere`, `revoked_by_user`).
    fn revocation_event<'a>(
        &'a self,
        principal: &'a Principal,
        how: &'a str,
    ) -> impl Fn(u64) -> AuditEvent + Send + Sync + 'a {
        move |n| {
            let subject = principal.subject();
            let details = serde_json::json!({ "actor": "user", "how": how, "revoked_sessions": n });
            self.audit_event(EventType::SessionsRevoked, subject, &principal.client, details)
        }
    }

    /// The caller's live sessions, most recently used first.
    pub async fn sessions(&self, principal: &Principal) -> Result<Vec<Session>, InfraError> {
        let now = self.deps.clock.now();
        Ok(self
            .deps
            .store
            .live_sessions(principal.claims.tid, principal.claims.sub, now)
            .await?)
    }

    /// Ends one of the caller's sessions. `false` when the caller has no live session with this
    /// id (whoever else might).
    pub async fn revoke_own_session(&self, principal: &Principal, id: SessionId) -> Result<bool, InfraError> {
        let now = self.deps.clock.now();
        let revoked = self
            .deps
            .store
            .revoke_session(
                principal.claims.tid,
                principal.claims.sub,
                id,
                now,
                &self.revocation_event(principal, "revoked_by_user"),
            )
            .await?;
        self.liveness.session_ended(id);
        tracing::info!(user_id = %principal.claims.sub, session_id = %id, revoked, "session revoked by its user");
        Ok(revoked)
    }

    /// Ends the caller's sessions that `request` names; returns how many.
    pub async fn revoke_own_sessions(&self, principal: &Principal, request: &RevokeRequest) -> Result<u64, InfraError> {
        let selection = SessionSelection {
            all: request.all,
            ids: request.session_ids.clone(),
            refresh_tokens: request
                .refresh_tokens
                .iter()
                .filter_map(|t| RefreshToken::parse(t))
                .map(|t| t.hash())
                .collect(),
            keep: request.exclude_current.then_some(principal.session.id),
        };
        let now = self.deps.clock.now();
        let revoked = self
            .deps
            .store
            .revoke_selected(
                principal.claims.tid,
                principal.claims.sub,
                &selection,
                now,
                &self.revocation_event(principal, "revoked_by_user"),
            )
            .await?;
        self.account_changed(principal.claims.tid, principal.claims.sub);
        tracing::info!(user_id = %principal.claims.sub, revoked, "sessions revoked by their user");
        Ok(revoked)
    }
}
