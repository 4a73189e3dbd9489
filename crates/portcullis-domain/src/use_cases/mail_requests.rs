//! Mail anyone may ask for (verification resend, password reset, login code), recorded at once
//! and fulfilled by the mail worker; and the purge of what can no longer be used.
use crate::identity::Email;
use crate::ids::TenantId;
use crate::model::{Brand, ClientInfo, Fulfilling, MailKind, MailRequest, MailTarget, Purged, RequestFulfilment};
use crate::network::network_of;
use crate::one_time::Purpose;
use crate::service::base::{AuthService, InfraError};
use crate::service::mint::SecretMail;

/// The registration a resend mails a new secret for: the newest one made from the network the
/// resend comes from. A resend proves nothing about who asks, so it never picks another
/// person's registration: from any other network (or when that network made none), the secret
/// names no registration, proves the mailbox and signs in, but activates no password. (A
/// squatter who registered the address from their own network thus never has their password
/// confirmed by the owner's resend.)
fn resent_registration(request: &MailRequest, target: &MailTarget) -> String {
    let Some(network) = &request.network else {
        return String::new();
    };
    target
        .registrations
        .iter()
        .rev()
        .find(|(_, from)| from.as_ref() == Some(network))
        .map(|(id, _)| id.to_string())
        .unwrap_or_default()
}

impl AuthService {
    /// `verify-email/resend`: records the request. A new verification mail goes out later if
    /// the tenant has an unverified account with this address; nothing otherwise.
    pub async fn request_verification_mail(
        &self,
        tenant: TenantId,
        email: Email,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        self.request_mail(tenant, email, Purpose::VerifyEmail, client).await
    }

    /// `password/forgot`: records the request. A reset mail goes out later if the tenant has an
    /// account with this address; nothing otherwise.
    pub async fn request_password_reset(
        &self,
        tenant: TenantId,
        email: Email,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        self.request_mail(tenant, email, Purpose::ResetPassword, client).await
    }

    /// `login/code/request`: records the request. A login code goes out later if the tenant
    /// has an account with this address that may log in (verified, when verification is
    /// required); nothing otherwise.
    pub async fn request_login_code(
        &self,
        tenant: TenantId,
        email: Email,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        self.request_mail(tenant, email, Purpose::LoginCode, client).await
    }

    /// Records a request; whether it becomes a mail (and spends the address's mail budget) is
    /// decided by the mail worker ([`AuthService::fulfil_mail_requests`]).
    async fn request_mail(
        &self,
        tenant: TenantId,
        email: Email,
        purpose: Purpose,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        let request = MailRequest {
            id: self.new_id(),
            tenant_id: tenant,
            purpose,
            email,
            network: client.ip.map(network_of),
            requested_at: self.deps.clock.now(),
        };
        self.deps.store.request_mail(&request).await?;
        tracing::info!(mail_request_id = %request.id, tenant_id = %tenant, purpose = purpose.name(), "mail requested");
        Ok(())
    }

    /// Fulfils up to `max` recorded mail requests (run by the mail worker). Returns how many
    /// were taken.
    pub async fn fulfil_mail_requests(&self, max: u32) -> Result<u32, InfraError> {
        let book = self.brand_book().await?;
        let fulfil = |request: &MailRequest, target: Option<&MailTarget>| -> Fulfilling {
            let (service, request, target) = (self.clone(), request.clone(), target.cloned());
            let brand = book.get(request.tenant_id);
            Box::pin(async move { service.fulfilment(&brand, &request, target.as_ref()).await })
        };
        let mut taken = 0;
        while taken < max && self.deps.store.fulfil_mail_request(&fulfil).await? {
            taken += 1;
        }
        Ok(taken)
    }

    /// Deletes one-time secrets that can no longer be used, accounts that never verified their
    /// address within the configured time, and audit events past their retention (run by the
    /// mail worker).
    pub async fn purge_stale(&self) -> Result<Purged, InfraError> {
        let now = self.deps.clock.now();
        // A failure here must not hold up the purge of secrets and accounts below.
        match self.deps.store.purge_events(now - self.deps.audit_retention).await {
            Ok(0) => {}
            Ok(events) => tracing::info!(events, "audit events past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "purging old audit events failed; will try again"),
        }
        let purged = self
            .deps
            .store
            .purge(now, now - self.deps.unverified_account_ttl)
            .await?;
        if purged != Purged::default() {
            tracing::info!(
                secrets = purged.secrets,
                unverified_accounts = purged.unverified_accounts.len(),
                "stale one-time secrets and unverified accounts deleted"
            );
        }
        for user in &purged.unverified_accounts {
            if let Err(e) = self.deps.avatars.forget_avatars(*user).await {
                tracing::warn!(user_id = %user, error = %e, "pictures of a purged account could not be removed");
            }
        }
        Ok(purged)
    }

    async fn fulfilment(&self, brand: &Brand, request: &MailRequest, target: Option<&MailTarget>) -> RequestFulfilment {
        // A disabled account gets nothing: no reset, no verification, no login code.
        let account = target.map(|t| &t.account).filter(|a| !a.disabled);
        let kind = match (request.purpose, account) {
            (Purpose::VerifyEmail, Some(a)) if !a.email_verified => MailKind::SignupVerification,
            (Purpose::ResetPassword, Some(_)) => MailKind::PasswordReset,
            (Purpose::LoginCode, Some(a)) if a.email_verified || !brand.require_email_verification => {
                MailKind::LoginCode
            }
            _ => {
                tracing::info!(mail_request_id = %request.id, purpose = request.purpose.name(), "mail request needs no mail");
                return None;
            }
        };
        let (account, target) = (account?, target?);
        // Only a mail that really goes out spends the address's budget, so requests that
        // mail nothing (a resend for a verified address) cannot use it up.
        if !self.may_mail(account.tenant.id, &account.email).await {
            return None;
        }
        tracing::info!(mail_request_id = %request.id, user_id = %account.id, purpose = request.purpose.name(), "mail request fulfilled");
        let scope = match request.purpose {
            Purpose::VerifyEmail => resent_registration(request, target),
            _ => String::new(),
        };
        Some(self.secret_mail(SecretMail {
            brand,
            user: account.id,
            purpose: request.purpose,
            to: &account.email,
            kind,
            scope,
            new_email: None,
            ip: None,
        }))
    }
}
