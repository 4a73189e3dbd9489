//! Accounts, tenants and registrations in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Account, AccountConflict, AccountCredentials, AccountStore, Email, InsertAccountError, NewAccount, NewSession,
    RegistrationPlan, RegistrationRequest, RegistrationStore, SetUsernameError, StoreError, StoredPassword, Tenant,
    TenantId, UserId, Username,
};

use crate::MemoryStore;
use crate::state::AccountRow;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        let state = self.lock().await?;
        Ok(state.tenants.iter().find(|t| t.slug == slug).cloned())
    }

    async fn insert_account(
        &self,
        account: NewAccount,
        first_session: Option<NewSession>,
    ) -> Result<Account, InsertAccountError> {
        let mut state = self.lock().await?;
        if state.tenant(account.tenant_id).is_none() {
            return Err(InsertAccountError::Conflict(AccountConflict::UnknownTenant));
        }
        if state.by_email(account.tenant_id, &account.email).is_some() {
            return Err(InsertAccountError::Conflict(AccountConflict::EmailTaken));
        }
        if let Some(name) = &account.username
            && state.username_holder(account.tenant_id, name).is_some()
        {
            return Err(InsertAccountError::Conflict(AccountConflict::UsernameTaken));
        }
        let row = AccountRow {
            id: account.id,
            tenant: account.tenant_id,
            email: account.email,
            email_verified: account.email_verified,
            username: account.username,
            password: Some(StoredPassword::new(account.password_hash)),
            mfa_enabled: false,
            created_at: account.created_at,
            disabled_at: None,
            disabled_reason: None,
            avatar_version: None,
        };
        state.accounts.push(row.clone());
        if let Some(session) = &first_session {
            state.insert_session(session);
        }
        if let Some(network) = &account.network {
            state.remember_network(row.tenant, row.id, network);
        }
        Ok(state.account_of(&row))
    }

    async fn credentials_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        let state = self.lock().await?;
        Ok(state.by_email(tenant, email).map(|row| state.credentials_of(row)))
    }

    async fn credentials_by_username(
        &self,
        tenant: TenantId,
        username: &Username,
    ) -> Result<Option<AccountCredentials>, StoreError> {
        let state = self.lock().await?;
        Ok(state
            .username_holder(tenant, username)
            .map(|row| state.credentials_of(row)))
    }

    async fn account(&self, tenant: TenantId, user: UserId) -> Result<Option<Account>, StoreError> {
        Ok(self.lock().await?.account(tenant, user))
    }

    async fn credentials(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountCredentials>, StoreError> {
        let state = self.lock().await?;
        Ok(state.account_row(tenant, user).map(|row| state.credentials_of(row)))
    }

    async fn set_username(
        &self,
        tenant: TenantId,
        user: UserId,
        username: &Username,
        _now: DateTime<Utc>,
    ) -> Result<Account, SetUsernameError> {
        let mut state = self.lock().await?;
        if state
            .username_holder(tenant, username)
            .is_some_and(|holder| holder.id != user)
        {
            return Err(SetUsernameError::Taken);
        }
        let row = state.account_row_mut(tenant, user).ok_or(SetUsernameError::NoAccount)?;
        row.username = Some(username.clone());
        let row = row.clone();
        Ok(state.account_of(&row))
    }

    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        match state.account_row_mut(tenant, user) {
            Some(row) if row.password.as_ref().is_some_and(|p| p.phc == expected) => {
                row.password = Some(StoredPassword::new(new_hash.to_owned()));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

#[async_trait]
impl RegistrationStore for MemoryStore {
    async fn username_taken(&self, tenant: TenantId, username: &Username) -> Result<bool, StoreError> {
        Ok(self.lock().await?.username_holder(tenant, username).is_some())
    }

    async fn request_registration(&self, request: &RegistrationRequest) -> Result<(), InsertAccountError> {
        let mut state = self.lock().await?;
        if state.tenant(request.tenant_id).is_none() {
            return Err(InsertAccountError::Conflict(AccountConflict::UnknownTenant));
        }
        state.registration_requests.push(request.clone());
        Ok(())
    }

    async fn fulfil_registration(
        &self,
        plan: &(dyn for<'a, 'b> Fn(&'a RegistrationRequest, Option<&'b Account>) -> RegistrationPlan + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        let Some(oldest) = state
            .registration_requests
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| (r.requested_at, r.id))
            .map(|(i, _)| i)
        else {
            return Ok(false);
        };
        let request = state.registration_requests.remove(oldest);
        let tenant = request.tenant_id;
        let account = state.by_email(tenant, &request.email).map(|row| state.account_of(row));
        match plan(&request, account.as_ref()) {
            RegistrationPlan::Notify(notice) => {
                if let Some(notice) = notice {
                    state.enqueue(&notice, request.requested_at);
                }
            }
            RegistrationPlan::Register {
                new_account,
                verification,
                created,
            } => {
                let user = match &account {
                    Some(existing) => existing.id,
                    None => {
                        state.accounts.push(AccountRow {
                            id: new_account,
                            tenant,
                            email: request.email.clone(),
                            email_verified: false,
                            username: None,
                            password: Some(StoredPassword::new(request.password_hash.clone())),
                            mfa_enabled: false,
                            created_at: request.requested_at,
                            disabled_at: None,
                            disabled_reason: None,
                            avatar_version: None,
                        });
                        state.events.extend(created);
                        new_account
                    }
                };
                state.store_registration(&request, user);
                if let Some((secret, mail)) = verification {
                    state.upsert_secret(&secret);
                    state.enqueue(&mail, request.requested_at);
                }
            }
        }
        Ok(true)
    }
}
