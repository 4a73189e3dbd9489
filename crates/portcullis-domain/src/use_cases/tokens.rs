//! Tokens: rotating a refresh token into a new pair, and authenticating a bearer token against
//! its live session.
use chrono::{DateTime, Utc};

use crate::liveness::{AccountLookup, Lookup};
use crate::model::{Account, ClientInfo, EventType, Principal, Session, Subject, TokenPair};
use crate::ports::RefreshOutcome;
use crate::refresh::{RefreshToken, decide_refresh};
use crate::service::base::{AuthService, InfraError};
use crate::token::{AccessClaims, TokenError};

/// How many rotations a replayed token may lag behind the head and still be answered (within
/// the grace window).
const MAX_REPLAY_STEPS: usize = 8;

/// Failures of [`AuthService::rotate_refresh_token`].
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// 401 `invalid_refresh_token`: unknown, malformed, or its session is over.
    #[error("invalid refresh token")]
    Invalid,
    /// 401 `refresh_token_reused`: a superseded token came back after the grace window; the
    /// session has been revoked.
    #[error("refresh token reused; session revoked")]
    Reused,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Failures of [`AuthService::authenticate`].
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// 401: the token does not verify.
    #[error("invalid access token: {0}")]
    Token(#[from] TokenError),
    /// 401: its session is revoked, expired or unknown.
    #[error("session is no longer active")]
    SessionEnded,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl AuthService {
    /// Exchanges a refresh token for a new pair. See [`decide_refresh`] for the rules. A reused
    /// token (its session revoked) is recorded as `refresh.reused`, with the revocation.
    pub async fn rotate_refresh_token(
        &self,
        presented: &str,
        client: &ClientInfo,
    ) -> Result<(Account, TokenPair), RefreshError> {
        let token = RefreshToken::parse(presented).ok_or(RefreshError::Invalid)?;
        let successor = token.successor(&self.deps.refresh_key);
        let now = self.deps.clock.now();
        let grace = self.deps.policy.refresh_grace;
        let outcome = self
            .deps
            .store
            .refresh(
                token.hash(),
                successor.hash(),
                now,
                &move |state| decide_refresh(&state, now, grace),
                &|session: &Session| {
                    let subject = Subject {
                        tenant: session.tenant_id,
                        user: Some(session.user_id),
                        session: Some(session.id),
                    };
                    self.audit_event(EventType::RefreshReused, subject, client, serde_json::json!({}))
                },
            )
            .await
            .map_err(InfraError::from)?;
        match outcome {
            RefreshOutcome::Rotated { session, account } => self.refreshed(account, session, successor),
            RefreshOutcome::Replayed { session, account, head } => {
                // The chain may have moved on more than one step inside the grace window; answer
                // with its head, which is reachable from the presented token through successors.
                let head = std::iter::successors(Some(successor), |t| Some(t.successor(&self.deps.refresh_key)))
                    .take(MAX_REPLAY_STEPS)
                    .find(|t| t.hash() == head);
                match head {
                    Some(head) => self.refreshed(account, session, head),
                    None => {
                        tracing::info!(session_id = %session.id, outcome = "invalid_refresh_token", "replay too far behind");
                        Err(RefreshError::Invalid)
                    }
                }
            }
            RefreshOutcome::Reused(session) => {
                self.liveness.session_ended(session.id);
                tracing::warn!(
                    user_id = %session.user_id, session_id = %session.id,
                    "superseded refresh token presented after the grace window; session revoked"
                );
                Err(RefreshError::Reused)
            }
            RefreshOutcome::Invalid => {
                tracing::info!(outcome = "invalid_refresh_token", "refresh refused");
                Err(RefreshError::Invalid)
            }
        }
    }

    fn refreshed(
        &self,
        account: Account,
        session: Session,
        token: RefreshToken,
    ) -> Result<(Account, TokenPair), RefreshError> {
        tracing::info!(user_id = %session.user_id, session_id = %session.id, outcome = "success", "refresh");
        self.liveness.session_changed(session.id);
        Ok((account, self.pair(session, token)?))
    }

    /// Verifies a bearer token and checks that its session is still live, so logout and
    /// revocation take effect at once. Liveness comes from the cache while its feed is up
    /// (see [`SessionLiveness`](crate::liveness::SessionLiveness)), from storage otherwise.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthenticateError> {
        let (now, claims) = self.verified_claims(bearer)?;
        let ticket = match self.liveness.lookup(claims.tid, claims.sid, claims.sub, now) {
            Lookup::Live(session) => return Ok(principal(claims, session)),
            Lookup::Miss(ticket) => ticket,
        };
        let session = self
            .deps
            .store
            .session(claims.tid, claims.sid)
            .await
            .map_err(InfraError::from)?;
        let session = live_session_of(&claims, session, now)?;
        self.liveness.remember(ticket, &session, now);
        Ok(principal(claims, session))
    }

    /// [`authenticate`](Self::authenticate), with the caller's account read in the same trip
    /// to storage, or kept with the session in the cache (which forgets it on every change of
    /// the account, on every node, the same way it forgets ended sessions). For endpoints that
    /// only show the account: a use case that changes it reads it from storage.
    pub async fn authenticate_account(&self, bearer: &str) -> Result<(Principal, Account), AuthenticateError> {
        let (now, claims) = self.verified_claims(bearer)?;
        let ticket = match self
            .liveness
            .lookup_with_account(claims.tid, claims.sid, claims.sub, now)
        {
            AccountLookup::Live(session, account) => return Ok((principal(claims, session), *account)),
            AccountLookup::Miss(ticket) => ticket,
        };
        let found = self
            .deps
            .store
            .session_with_account(claims.tid, claims.sid)
            .await
            .map_err(InfraError::from)?;
        let (session, account) = match found {
            Some((session, account)) => (Some(session), Some(account)),
            None => (None, None),
        };
        let session = live_session_of(&claims, session, now)?;
        let account = account.ok_or(AuthenticateError::SessionEnded)?;
        self.liveness.remember_with_account(ticket, &session, &account, now);
        Ok((principal(claims, session), account))
    }

    /// The claims of `bearer` once its signature and times check out (a token seen before
    /// skips the signature), with the time of the check.
    fn verified_claims(&self, bearer: &str) -> Result<(DateTime<Utc>, AccessClaims), AuthenticateError> {
        let now = self.deps.clock.now();
        let leeway = self.deps.policy.leeway.num_seconds();
        if let Some(claims) = self.verified.get(bearer, leeway, now.timestamp()) {
            return Ok((now, claims));
        }
        let claims = self
            .deps
            .keys
            .verify(&self.deps.policy, bearer, now)
            .inspect_err(|reason| {
                tracing::info!(%reason, outcome = "invalid_token", "access token refused");
            })?;
        self.verified.insert(bearer, &claims, leeway, now.timestamp());
        Ok((now, claims))
    }
}

/// The principal of a verified token and its live session.
fn principal(claims: AccessClaims, session: Session) -> Principal {
    Principal {
        claims,
        session,
        client: ClientInfo::default(),
    }
}

/// `session` if it is the live session the claims name.
fn live_session_of(
    claims: &AccessClaims,
    session: Option<Session>,
    now: DateTime<Utc>,
) -> Result<Session, AuthenticateError> {
    match session {
        Some(session) if session.user_id == claims.sub && session.is_live(now) => Ok(session),
        _ => {
            tracing::info!(
                user_id = %claims.sub, session_id = %claims.sid, outcome = "session_ended",
                "access token refused"
            );
            Err(AuthenticateError::SessionEnded)
        }
    }
}
