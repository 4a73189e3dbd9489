//! Operators' view of accounts in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::model::{AccountOverview, AuditEvent};
use portcullis_domain::{Account, StoreError, TenantId, UserAdminStore, UserId};

use crate::MemoryStore;

#[async_trait]
impl UserAdminStore for MemoryStore {
    async fn find_accounts(
        &self,
        tenant: TenantId,
        prefix: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let state = self.lock().await?;
        let mut rows: Vec<_> = state
            .accounts
            .iter()
            .filter(|r| r.tenant == tenant)
            .filter(|r| after.is_none_or(|a| r.id.as_uuid() > a.as_uuid()))
            .filter(|r| {
                prefix.is_none_or(|p| {
                    r.email.normalized().starts_with(p)
                        || r.username.as_ref().is_some_and(|u| u.normalized().starts_with(p))
                })
            })
            .collect();
        rows.sort_by_key(|r| r.id.as_uuid());
        Ok(rows
            .into_iter()
            .take(limit as usize)
            .map(|r| state.account_of(r))
            .collect())
    }

    async fn account_overview(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<AccountOverview>, StoreError> {
        let state = self.lock().await?;
        let Some(row) = state.account_row(tenant, user) else {
            return Ok(None);
        };
        let sessions = state
            .sessions
            .iter()
            .map(|r| &r.session)
            .filter(|s| s.tenant_id == tenant && s.user_id == user);
        let last_login_at = sessions.clone().map(|s| s.created_at).max();
        let live_sessions = sessions.filter(|s| s.is_live(now)).count() as u64;
        Ok(Some(AccountOverview {
            account: state.account_of(row),
            disabled_at: row.disabled_at,
            disabled_reason: row.disabled_reason.clone(),
            last_login_at,
            live_sessions,
        }))
    }

    async fn set_disabled(
        &self,
        tenant: TenantId,
        user: UserId,
        disable: bool,
        reason: Option<&str>,
        now: DateTime<Utc>,
        event: &(dyn Fn(u64) -> AuditEvent + Send + Sync),
    ) -> Result<Option<u64>, StoreError> {
        let mut state = self.lock().await?;
        let Some(row) = state.account_row_mut(tenant, user) else {
            return Ok(None);
        };
        if !disable {
            row.disabled_at = None;
            row.disabled_reason = None;
            state.events.push(event(0));
            return Ok(Some(0));
        }
        row.disabled_at = row.disabled_at.or(Some(now));
        row.disabled_reason = reason.map(str::to_owned);
        let revoked = state.revoke_all(tenant, user, None, now, "account_disabled");
        state.events.push(event(revoked));
        Ok(Some(revoked))
    }

    async fn erase_account(
        &self,
        tenant: TenantId,
        user: UserId,
        pseudonym: UserId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let Some(row) = state.account_row(tenant, user).cloned() else {
            return Ok(false);
        };
        let mine = |t: TenantId, u: UserId| t == tenant && u == user;
        state.accounts.retain(|a| !mine(a.tenant, a.id));
        let sessions: Vec<_> = state
            .sessions
            .iter()
            .filter(|s| mine(s.session.tenant_id, s.session.user_id))
            .map(|s| s.session.id)
            .collect();
        state.sessions.retain(|s| !sessions.contains(&s.session.id));
        state.refresh_tokens.retain(|_, r| !sessions.contains(&r.session));
        state.secrets.retain(|s| !mine(s.secret.tenant_id, s.secret.user_id));
        state.code_attempts.retain(|(t, u, _), _| !mine(*t, *u));
        state.registrations.retain(|r| !mine(r.tenant, r.user));
        state.totp.retain(|(t, u), _| !mine(*t, *u));
        state.recovery_codes.retain(|(t, u, _)| !mine(*t, *u));
        state.known_networks.retain(|(t, u, _)| !mine(*t, *u));
        state.customers.retain(|c| !mine(c.tenant_id, c.owner));
        state
            .outbox
            .retain(|o| !(o.mail.tenant_id == tenant && o.mail.to == row.email.as_str()));
        let address = row.email.normalized();
        state
            .mail_requests
            .retain(|r| !(r.tenant_id == tenant && r.email.normalized() == address));
        state
            .registration_requests
            .retain(|r| !(r.tenant_id == tenant && r.email.normalized() == address));
        for e in &mut state.events {
            if e.tenant_id == tenant && e.user_id == Some(user) {
                e.user_id = Some(pseudonym);
            }
        }
        state.events.push(event.clone());
        Ok(true)
    }
}
