//! Operators' user administration: finding accounts, reading one, disabling and enabling it,
//! ending its sessions. Disabling takes effect at once everywhere: every live session is
//! revoked in the same transaction, storage hides a disabled account's sessions from then on
//! (so a login racing the disable opens nothing usable), and every path that would open a
//! session or send a secret refuses the account.

use serde_json::json;

use crate::identity::{FieldError, identity_key};
use crate::ids::{TenantId, UserId};
use crate::model::{Account, AccountOverview, ClientInfo, EventType, InvalidField, Subject, access_change};
use crate::random::random_array;
use crate::service::base::{AuthService, InfraError};
use crate::use_cases::admin::MAX_PAGE;

/// Most characters of a disable reason.
pub const MAX_REASON_CHARS: usize = 500;

/// Who acts on an account: the operator's name as the audit trail shows it (`key:<admin key
/// name>`, `cli`) and the request it came with.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Its name.
    pub name: String,
    /// Its request.
    pub client: ClientInfo,
}

/// One page of accounts.
#[derive(Debug, Clone)]
pub struct UserPage {
    /// The accounts, oldest first.
    pub items: Vec<Account>,
    /// Where the next page starts, if there is one.
    pub next: Option<UserId>,
}

/// Failures of disabling an account.
#[derive(Debug, thiserror::Error)]
pub enum UserAdminError {
    /// 422: the reason is too long or holds control characters.
    #[error("invalid reason")]
    Invalid(InvalidField),
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl AuthService {
    /// The tenant's accounts whose address or username starts with `query` (compared as
    /// identities are: case and Unicode look-alikes ignored), oldest first, `limit` (1 to
    /// [`MAX_PAGE`]) at a time after `after`.
    pub async fn find_users(
        &self,
        tenant: TenantId,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<UserPage, InfraError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let prefix = query.map(str::trim).filter(|q| !q.is_empty()).map(identity_key);
        let mut items = self
            .deps
            .store
            .find_accounts(tenant, prefix.as_deref(), after, limit + 1)
            .await?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more.then(|| items.last().map(|a| a.id)).flatten();
        Ok(UserPage { items, next })
    }

    /// The account as operators see it; `None` when the tenant has no such account.
    pub async fn user_overview(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountOverview>, InfraError> {
        Ok(self
            .deps
            .store
            .account_overview(tenant, user, self.deps.clock.now())
            .await?)
    }

    /// Disables the account and revokes every session of it at once. `None` when the tenant
    /// has no such account.
    pub async fn disable_user(
        &self,
        tenant: TenantId,
        user: UserId,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<Option<AccountOverview>, UserAdminError> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            check_reason(r)?;
        }
        self.set_disabled(tenant, user, true, reason, actor).await
    }

    /// Enables a disabled account again. Its sessions stay revoked: the user logs in anew.
    pub async fn enable_user(
        &self,
        tenant: TenantId,
        user: UserId,
        actor: &Actor,
    ) -> Result<Option<AccountOverview>, UserAdminError> {
        self.set_disabled(tenant, user, false, None, actor).await
    }

    async fn set_disabled(
        &self,
        tenant: TenantId,
        user: UserId,
        disable: bool,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<Option<AccountOverview>, UserAdminError> {
        let now = self.deps.clock.now();
        let store = &self.deps.store;
        let event = |revoked: u64| {
            let (kind, details) = access_change(disable, &actor.name, reason, revoked);
            self.audit_event(kind, Subject::user(tenant, user), &actor.client, details)
        };
        let changed = store.set_disabled(tenant, user, disable, reason, now, &event).await;
        self.account_changed(tenant, user);
        let Some(revoked) = changed.map_err(InfraError::from)? else {
            return Ok(None);
        };
        if disable {
            tracing::warn!(tenant_id = %tenant, user_id = %user, revoked, "account disabled; every session revoked");
        } else {
            tracing::warn!(tenant_id = %tenant, user_id = %user, "account enabled");
        }
        Ok(self.user_overview(tenant, user).await?)
    }

    /// Erases the account and everything of it; its audit events stay, under a random pseudonym
    /// in place of its id (the same for all of them, so they still read as one account's, and
    /// derived from nothing: the erased id cannot be recovered from it). `false` when the
    /// tenant has no such account.
    pub async fn erase_user(&self, tenant: TenantId, user: UserId, actor: &Actor) -> Result<bool, InfraError> {
        let pseudonym =
            UserId::from_uuid(uuid::Builder::from_random_bytes(random_array::<16>(&*self.deps.rng)).into_uuid());
        let subject = Subject::user(tenant, pseudonym);
        let event = self.audit_event(
            EventType::AccountErased,
            subject,
            &actor.client,
            json!({ "actor": actor.name }),
        );
        // The picture goes first: an account erased with its avatar left behind would keep
        // serving it from a store that no longer knows whose it is.
        self.deps.avatars.remove_avatar(tenant, user).await?;
        let erased = self.deps.store.erase_account(tenant, user, pseudonym, &event).await;
        self.account_changed(tenant, user);
        let erased = erased?;
        if erased {
            // A picture stored while the erasure ran would outlive the account otherwise.
            if let Err(e) = self.deps.avatars.forget_avatars(user).await {
                tracing::error!(tenant_id = %tenant, error = %e, "pictures of an erased account could not be removed");
            }
            // The erased id and its pseudonym are never written side by side.
            tracing::warn!(tenant_id = %tenant, user_id = %user, "account erased; its audit events pseudonymised");
        }
        Ok(erased)
    }

    /// Revokes every live session of the account. `None` when the tenant has no such account.
    /// The revocation and its audit event (when any session was live) are one transaction.
    pub async fn revoke_user_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        actor: &Actor,
    ) -> Result<Option<u64>, InfraError> {
        if self.user_overview(tenant, user).await?.is_none() {
            return Ok(None);
        }
        let now = self.deps.clock.now();
        let event = |revoked: u64| {
            let details = json!({ "actor": actor.name, "revoked_sessions": revoked });
            self.audit_event(
                EventType::SessionsRevoked,
                Subject::user(tenant, user),
                &actor.client,
                details,
            )
        };
        let revoked = self.deps.store.revoke_sessions(tenant, user, None, now, &event).await;
        self.account_changed(tenant, user);
        let revoked = revoked?;
        tracing::warn!(tenant_id = %tenant, user_id = %user, revoked, "every session of the account revoked by an operator");
        Ok(Some(revoked))
    }
}

fn check_reason(reason: &str) -> Result<(), UserAdminError> {
    let invalid = |error, rule: &str| {
        UserAdminError::Invalid(InvalidField {
            field: "reason",
            error,
            rule: format!("reason: {rule}"),
        })
    };
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid(FieldError::TooLong, "at most 500 characters"));
    }
    if reason.chars().any(char::is_control) {
        return Err(invalid(FieldError::Invalid, "no control characters"));
    }
    Ok(())
}
