//! What signed-in users do to their own account: list and revoke their sessions, choose a
//! username. Every operation is scoped to the caller's tenant and user by construction; another
//! user's session id behaves exactly like one that does not exist.

use crate::identity::Username;
use crate::ids::SessionId;
use crate::ports::{Account, Session, SessionSelection, SetUsernameError};
use crate::service::{AuthService, InfraError, Principal};
use crate::token::RefreshToken;

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

/// Failures of [`AuthService::set_username`].
#[derive(Debug, thiserror::Error)]
pub enum UsernameError {
    /// 409 `username_taken`.
    #[error("username taken")]
    Taken,
    /// 401: the account behind the token is gone.
    #[error("no such account")]
    NoAccount,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl AuthService {
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
            .revoke_session(principal.claims.tid, principal.claims.sub, id, now)
            .await?;
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
            .revoke_selected(principal.claims.tid, principal.claims.sub, &selection, now)
            .await?;
        tracing::info!(user_id = %principal.claims.sub, revoked, "sessions revoked by their user");
        Ok(revoked)
    }

    /// Sets or changes the caller's username.
    pub async fn set_username(&self, principal: &Principal, username: &Username) -> Result<Account, UsernameError> {
        let now = self.deps.clock.now();
        let account = self
            .deps
            .store
            .set_username(principal.claims.tid, principal.claims.sub, username, now)
            .await
            .map_err(|e| match e {
                SetUsernameError::Taken => UsernameError::Taken,
                SetUsernameError::NoAccount => UsernameError::NoAccount,
                SetUsernameError::Store(e) => UsernameError::Infra(e.into()),
            })?;
        tracing::info!(user_id = %account.id, "username set");
        Ok(account)
    }
}
