//! Changes a signed-in user makes to their account: email address, password, username.
use crate::identity::{Email, Password, Username};
use crate::limits::Limit;
use crate::model::{Account, AccountCredentials, EventType, MailKind, PasswordChange, Principal, Subject};
use crate::one_time::Purpose;
use crate::ports::{HashOwner, SetUsernameError};
use crate::service::base::{AuthService, InfraError};
use crate::service::budgets::OverBudget;
use crate::service::mint::SecretMail;
use crate::service::second_factor::MfaError;
use crate::templates::MailVars;
use crate::totp::SecondFactor;

/// How young a session must be to set a first password without a current one.
pub const FRESH_SESSION: chrono::Duration = chrono::Duration::minutes(10);

/// Failures of changes that need the current password.
#[derive(Debug, thiserror::Error)]
pub enum AccountChangeError {
    /// 401 `invalid_credentials`: the current password is wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 422: the new address is the current one.
    #[error("the new address is the current one")]
    SameAddress,
    /// 422 `too_common` on `new_password`: a common or breached password.
    #[error("password too common")]
    PasswordTooCommon,
    /// 422 `required` on `current_password`: the account has a password, so changing it needs it.
    #[error("the current password is required")]
    CurrentPasswordRequired,
    /// 403 `fresh_session_required`: an account without a password sets its first one only from
    /// a session younger than [`FRESH_SESSION`].
    #[error("a fresh session is required")]
    FreshSessionRequired,
    /// 429 `rate_limited`: the new address has had as much mail as anyone may send it lately.
    #[error("too much mail to this address lately")]
    RecipientLimited {
        /// Until the next mail to it may go.
        retry_after: std::time::Duration,
    },
    /// The second factor is enabled and was missing, wrong or locked.
    #[error(transparent)]
    SecondFactor(MfaError),
    /// 429: the account's budgets hold the caller back.
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<MfaError> for AccountChangeError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::InvalidCredentials => Self::InvalidCredentials,
            MfaError::Infra(e) => Self::Infra(e),
            MfaError::OverBudget(b) => Self::OverBudget(b),
            other => Self::SecondFactor(other),
        }
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
    /// Whether the caller may set a first password without a current one: the account has no
    /// password, the session is fresh, and the second factor (if any) checks out.
    async fn first_password_allowed(
        &self,
        principal: &Principal,
        factor: Option<&SecondFactor>,
    ) -> Result<AccountCredentials, AccountChangeError> {
        self.account_request(Limit::Reauthentication, principal).await?;
        let creds = self
            .deps
            .store
            .credentials(principal.claims.tid, principal.claims.sub)
            .await
            .map_err(InfraError::from)?
            .ok_or(AccountChangeError::InvalidCredentials)?;
        if creds.password.is_some() {
            return Err(AccountChangeError::CurrentPasswordRequired);
        }
        if self.deps.clock.now() - principal.session.created_at > FRESH_SESSION {
            tracing::info!(user_id = %principal.claims.sub, outcome = "fresh_session_required", "first password refused: the session is too old");
            return Err(AccountChangeError::FreshSessionRequired);
        }
        if creds.account.mfa_enabled {
            self.check_second_factor(&creds.account, factor, &principal.client)
                .await?;
        }
        Ok(creds)
    }

    /// `POST /v1/account/email`: mails a link and code to `new_email` and a notice to the current
    /// address. The address changes only when the new one is confirmed through
    /// [`AuthService::verify_email`].
    pub async fn request_email_change(
        &self,
        principal: &Principal,
        new_email: Email,
        current_password: &Password,
        factor: Option<&SecondFactor>,
    ) -> Result<(), AccountChangeError> {
        self.account_request(Limit::EmailChange, principal).await?;
        let account = self
            .reauthenticate_with_factor(principal, current_password, factor)
            .await?
            .account;
        if account.email.normalized() == new_email.normalized() {
            return Err(AccountChangeError::SameAddress);
        }
        let tenant = account.tenant.id;
        // The new address is not the account's (yet): its mail counts against that mailbox's
        // budget like any mail a stranger can trigger.
        self.mail_budget(tenant, &new_email)
            .await
            .map_err(|retry_after| AccountChangeError::RecipientLimited { retry_after })?;
        let brand = self.brand(tenant).await?;
        let (secret, verification) = self.secret_mail(SecretMail {
            brand: &brand,
            user: account.id,
            purpose: Purpose::ChangeEmail,
            to: &new_email,
            kind: MailKind::EmailChangeVerification,
            scope: String::new(),
            new_email: Some(new_email.clone()),
            ip: None,
        });
        let vars = MailVars {
            other_email: Some(new_email.as_str()),
            ..MailVars::default()
        };
        let notice = self.outgoing(&brand, &account.email, MailKind::EmailChangeRequestedNotice, &vars);
        self.deps
            .store
            .issue_secret(secret, &[verification, notice], self.deps.clock.now())
            .await
            .map_err(InfraError::from)?;
        tracing::info!(user_id = %account.id, "email change requested; confirmation mailed");
        Ok(())
    }

    /// `POST /v1/account/password`: replaces the password, revokes every other session, cancels
    /// pending resets and email changes, and mails a notice. Returns how many sessions ended.
    /// An account without a password sets one without `current_password`, from a session at
    /// most [`FRESH_SESSION`] old (and with its second factor, if it has one).
    pub async fn change_password(
        &self,
        principal: &Principal,
        current_password: Option<&Password>,
        new_password: &Password,
        factor: Option<&SecondFactor>,
    ) -> Result<u64, AccountChangeError> {
        if self.too_common(new_password).await {
            return Err(AccountChangeError::PasswordTooCommon);
        }
        let creds = match current_password {
            Some(current) => self.reauthenticate_with_factor(principal, current, factor).await?,
            None => self.first_password_allowed(principal, factor).await?,
        };
        let expected = creds.password.as_ref().map(|p| p.phc.clone());
        let owner = HashOwner::account(principal.claims.tid, principal.claims.sub);
        let new_hash = self
            .deps
            .hasher
            .hash(new_password, &owner)
            .await
            .map_err(InfraError::from)?;
        let account = &creds.account;
        let brand = self.brand(account.tenant.id).await?;
        let notice = self.outgoing(
            &brand,
            &account.email,
            MailKind::PasswordChangedNotice,
            &MailVars::default(),
        );
        let revoked = self
            .deps
            .store
            .change_password(
                &PasswordChange {
                    tenant: account.tenant.id,
                    user: account.id,
                    expected,
                    new_hash,
                    keep: Some(principal.session.id),
                    notice,
                    events: vec![self.audit_event(
                        EventType::PasswordChanged,
                        Subject {
                            tenant: account.tenant.id,
                            user: Some(account.id),
                            session: Some(principal.session.id),
                        },
                        &principal.client,
                        serde_json::json!({}),
                    )],
                },
                self.deps.clock.now(),
            )
            .await
            .map_err(InfraError::from)?
            // Changed by someone else since it was checked: the given password is not current.
            .ok_or(AccountChangeError::InvalidCredentials)?;
        self.account_changed(account.tenant.id, account.id);
        tracing::info!(user_id = %account.id, revoked, "password changed; other sessions revoked");
        Ok(revoked)
    }

    /// Sets or changes the caller's username.
    pub async fn set_username(&self, principal: &Principal, username: &Username) -> Result<Account, UsernameError> {
        let now = self.deps.clock.now();
        let set = self
            .deps
            .store
            .set_username(principal.claims.tid, principal.claims.sub, username, now)
            .await;
        self.account_changed(principal.claims.tid, principal.claims.sub);
        let account = set.map_err(|e| match e {
            SetUsernameError::Taken => UsernameError::Taken,
            SetUsernameError::NoAccount => UsernameError::NoAccount,
            SetUsernameError::Store(e) => UsernameError::Infra(e.into()),
        })?;
        tracing::info!(user_id = %account.id, "username set");
        Ok(account)
    }
}
