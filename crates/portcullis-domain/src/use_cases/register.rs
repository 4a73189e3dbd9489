//! Register: an account with a password, active at once or (with email verification) recorded
//! as a request that the mail worker fulfils.
use crate::identity::{Email, Password, Username};
use crate::ids::UserId;
use crate::model::{
    Account, AuditEvent, Brand, ClientInfo, EventType, MailKind, NewAccount, RegistrationPlan, RegistrationRequest,
    Subject, Tenant, TokenPair,
};
use crate::network::network_of;
use crate::one_time::Purpose;
use crate::ports::{AccountConflict, HashOwner, InsertAccountError};
use crate::service::base::{AuthService, InfraError};
use crate::service::mint::SecretMail;
use crate::templates::MailVars;

/// Failures of [`AuthService::register`].
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// 409 `email_taken` or `username_taken`; 404 when the tenant vanished between resolution
    /// and insert.
    #[error(transparent)]
    Conflict(#[from] AccountConflict),
    /// 422 `too_common` on `password`: a common or breached password.
    #[error("password too common")]
    PasswordTooCommon,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// What a registration led to.
// Built once per request and moved straight into the response; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Registered {
    /// Email verification is off: the account is active and logged in.
    Active(Account, TokenPair),
    /// Email verification is on, and a mail is on its way: a verification to a new address, or
    /// a notice to the owner of an existing one. The answer must not say which.
    MailSent,
}

/// A registration that passed edge validation.
#[derive(Debug)]
pub struct Registration {
    /// The tenant, already resolved.
    pub tenant: Tenant,
    /// Email address.
    pub email: Email,
    /// Password.
    pub password: Password,
    /// Optional username.
    pub username: Option<Username>,
}

impl AuthService {
    /// Creates an account. With email verification required, the account waits for
    /// [`AuthService::verify_email`] and a mail goes out (see [`Registered::MailSent`]);
    /// otherwise its email counts as verified and it is logged in at once. The password is
    /// hashed before anything is written, on both paths.
    pub async fn register(&self, reg: Registration, client: &ClientInfo) -> Result<Registered, RegisterError> {
        // As at login: no room to hash, nothing else done.
        if !self.deps.hasher.has_room(&HashOwner::client(client.ip)) {
            return Err(InfraError::Busy { retry_after_secs: 1 }.into());
        }
        if self.too_common(&reg.password).await {
            return Err(RegisterError::PasswordTooCommon);
        }
        let verify_first = self.brand(reg.tenant.id).await?.require_email_verification;
        if verify_first
            && let Some(name) = &reg.username
            && self
                .deps
                .store
                .username_taken(reg.tenant.id, name)
                .await
                .map_err(InfraError::from)?
        {
            // Asked whatever the address, so the answer says nothing about it.
            return Err(RegisterError::Conflict(AccountConflict::UsernameTaken));
        }
        let password_hash = self
            .deps
            .hasher
            .hash(&reg.password, &HashOwner::client(client.ip))
            .await
            .map_err(InfraError::from)?;
        if verify_first {
            return self.request_registration(reg, password_hash, client).await;
        }
        let user_id = UserId::from_uuid(self.new_id());
        let (mut first_session, refresh) = self.new_session(reg.tenant.id, user_id, vec!["pwd".into()], client);
        // Stored with the account and its first session, in their transaction.
        let registered = self.audit_event(
            EventType::UserRegistered,
            Subject::user(reg.tenant.id, user_id),
            client,
            serde_json::json!({}),
        );
        first_session.events.insert(0, registered);
        let new = NewAccount {
            id: user_id,
            tenant_id: reg.tenant.id,
            email: reg.email,
            email_verified: true,
            username: reg.username,
            password_hash,
            created_at: self.deps.clock.now(),
            network: client.ip.map(crate::network::network_of),
        };
        let account = self
            .deps
            .store
            .insert_account(new, Some(first_session.clone()))
            .await
            .map_err(|e| match e {
                InsertAccountError::Conflict(c) => RegisterError::Conflict(c),
                InsertAccountError::Store(s) => RegisterError::Infra(s.into()),
            })?;
        tracing::info!(user_id = %account.id, tenant_id = %account.tenant.id, "account registered");
        let pair = self.pair(first_session.session, refresh)?;
        Ok(Registered::Active(account, pair))
    }

    /// Registration with email verification: records the registration and answers. The
    /// password was hashed before, and nothing here depends on the address (one insert, the
    /// same for a new and an existing address), so neither the answer nor its timing says
    /// whether the address has an account. The mail worker fulfils it
    /// ([`AuthService::fulfil_registration_requests`]).
    pub(crate) async fn request_registration(
        &self,
        reg: Registration,
        password_hash: String,
        client: &ClientInfo,
    ) -> Result<Registered, RegisterError> {
        let tenant_id = reg.tenant.id;
        // A verification and a notice both go to the registered address: one check covers
        // either, and a limited address gets neither, with the same answer.
        let mail_allowed = self.may_mail(tenant_id, &reg.email).await;
        let request = RegistrationRequest {
            id: self.new_id(),
            tenant_id,
            email: reg.email,
            password_hash,
            username: reg.username,
            network: client.ip.map(network_of),
            mail_allowed,
            requested_at: self.deps.clock.now(),
        };
        self.deps
            .store
            .request_registration(&request)
            .await
            .map_err(|e| match e {
                InsertAccountError::Conflict(AccountConflict::UnknownTenant) => {
                    RegisterError::Conflict(AccountConflict::UnknownTenant)
                }
                InsertAccountError::Store(s) => RegisterError::Infra(s.into()),
                InsertAccountError::Conflict(_) => RegisterError::Infra(InfraError::Internal(
                    "storage reported a conflict on a registration request".into(),
                )),
            })?;
        tracing::info!(registration_id = %request.id, tenant_id = %tenant_id, "registration recorded");
        Ok(Registered::MailSent)
    }

    /// Fulfils up to `max` recorded registrations (run by the mail worker): a new address gets
    /// an unverified account; an unverified one gets one more registration with its own
    /// password and secret; a verified one only a notice to its owner. Returns how many were
    /// taken.
    pub async fn fulfil_registration_requests(&self, max: u32) -> Result<u32, InfraError> {
        let book = self.brand_book().await?;
        let plan = |request: &RegistrationRequest, account: Option<&Account>| {
            self.registration_plan(&book.get(request.tenant_id), request, account)
        };
        let mut taken = 0;
        while taken < max && self.deps.store.fulfil_registration(&plan).await? {
            taken += 1;
        }
        Ok(taken)
    }

    fn registration_plan(
        &self,
        brand: &Brand,
        request: &RegistrationRequest,
        account: Option<&Account>,
    ) -> RegistrationPlan {
        match account {
            Some(owner) if owner.disabled => {
                tracing::info!(registration_id = %request.id, user_id = %owner.id, "registration for a disabled account's address: nothing kept, no mail");
                RegistrationPlan::Notify(None)
            }
            Some(owner) if owner.email_verified => {
                tracing::info!(registration_id = %request.id, tenant_id = %owner.tenant.id, mailed = request.mail_allowed, "registration with a verified address; its owner was notified");
                RegistrationPlan::Notify(request.mail_allowed.then(|| {
                    self.outgoing(
                        brand,
                        &owner.email,
                        MailKind::ExistingAccountNotice,
                        &MailVars::default(),
                    )
                }))
            }
            // Kept even when no mail may go now: a resend from the same network can mail it
            // later (see `resent_registration`).
            found => {
                let user = found.map_or_else(|| UserId::from_uuid(self.new_id()), |a| a.id);
                let to = found.map_or(&request.email, |a| &a.email);
                let verification = request.mail_allowed.then(|| {
                    self.secret_mail(SecretMail {
                        brand,
                        user,
                        purpose: Purpose::VerifyEmail,
                        to,
                        kind: MailKind::SignupVerification,
                        // The secret confirms this registration, and no other.
                        scope: request.id.to_string(),
                        new_email: None,
                        ip: None,
                    })
                });
                tracing::info!(registration_id = %request.id, user_id = %user, mailed = request.mail_allowed, "registration stored");
                // The request kept only the client's network; it stands in for the IP.
                let created = vec![AuditEvent {
                    ip: request.network.clone(),
                    ..self.audit_event(
                        EventType::UserRegistered,
                        Subject::user(request.tenant_id, user),
                        &ClientInfo::default(),
                        serde_json::json!({}),
                    )
                }];
                RegistrationPlan::Register {
                    new_account: user,
                    verification,
                    created,
                }
            }
        }
    }
}
