//! The flows that depend on a mail arriving: verification of a new account, verification
//! resend, password reset, change of email, change of password.
//!
//! Every change and the mail it causes are written in one storage transaction (the outbox), so
//! a mail is never lost and never sent for a change that did not happen. Endpoints whose answer
//! could tell whether an account exists (resend, forgot) only record a request; the mail worker
//! fulfils it later through [`AuthService::fulfil_mail_requests`], so their answer and timing
//! are the same for every address.

use std::sync::Mutex;

use crate::identity::{Email, Password};
use crate::ids::{SessionId, TenantId, UserId};
use crate::mail::{MailKind, OutgoingMail};
use crate::mfa::{MfaError, SecondFactor};
use crate::network::network_of;
use crate::one_time::{CodeDecision, CodeState, Purpose, decide_code};
use crate::ports::{
    Account, AccountCredentials, Fulfilling, HashOwner, InsertAccountError, MailRequest, MailTarget, NewOneTimeSecret,
    NewSession, PasswordChange, Purged, RedeemOutcome, Redemption, RegistrationPlan, RegistrationRequest,
    RequestFulfilment, SecretLookup, StoredSecret, Verdict,
};
use crate::service::{
    AuthService, ClientInfo, InfraError, Principal, RegisterError, Registered, Registration, TokenPair,
};
use crate::templates::{MailVars, render};

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
use crate::token::RefreshToken;

/// How young a session must be to set a first password without a current one.
pub const FRESH_SESSION: chrono::Duration = chrono::Duration::minutes(10);

/// The authentication method recorded (`amr`) for a session opened by an emailed secret.
pub const AMR_EMAIL: &str = "email";

/// A one-time secret as a client presents it: the link token, or the code with the address it
/// was mailed to.
#[derive(Clone)]
pub enum Presented {
    /// The `pcl_` token of a link, presented to a tenant.
    Token {
        /// The tenant the request names.
        tenant: TenantId,
        /// The token.
        token: String,
    },
    /// A six-digit code and the address it was sent to.
    Code {
        /// Tenant of the address.
        tenant: TenantId,
        /// The address.
        email: Email,
        /// The code.
        code: String,
    },
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token { tenant, .. } => f
                .debug_struct("Presented::Token")
                .field("tenant", tenant)
                .finish_non_exhaustive(),
            Self::Code { tenant, .. } => f
                .debug_struct("Presented::Code")
                .field("tenant", tenant)
                .finish_non_exhaustive(),
        }
    }
}

/// What `verify-email` did.
// Built once per request and moved straight into the response; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Verified {
    /// A signup was completed: the account is verified and logged in.
    SignedUp(Account, TokenPair),
    /// An email change was confirmed.
    EmailChanged(Account),
}

/// Failures of the flows that take a one-time secret.
#[derive(Debug, thiserror::Error)]
pub enum OneTimeError {
    /// 400 `invalid_or_expired_token`: unknown, expired, used, superseded, or out of attempts.
    #[error("invalid or expired token")]
    InvalidOrExpired,
    /// 409 `email_taken`: the new address of an email change belongs to another account now.
    #[error("email taken")]
    EmailTaken,
    /// 422 `too_common` on `new_password`: a common or breached password (reset).
    #[error("password too common")]
    PasswordTooCommon,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

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
    /// 429 `too_many_attempts`: too many wrong passwords for this account lately.
    #[error("too many failed password attempts")]
    Throttled {
        /// Until the next attempt is let through.
        retry_after: std::time::Duration,
    },
    /// 429 `rate_limited`: too many such requests for this account lately.
    #[error("too many requests for this account")]
    RateLimited {
        /// Until the next request is let through.
        retry_after: std::time::Duration,
    },
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<MfaError> for AccountChangeError {
    fn from(e: MfaError) -> Self {
        match e {
            MfaError::InvalidCredentials => Self::InvalidCredentials,
            MfaError::Infra(e) => Self::Infra(e),
            MfaError::Throttled { retry_after } => Self::Throttled { retry_after },
            MfaError::RateLimited { retry_after } => Self::RateLimited { retry_after },
            other => Self::SecondFactor(other),
        }
    }
}

/// How a presented secret fits a stored one.
enum Fit {
    Opens,
    Wrong,
    No,
}

impl AuthService {
    /// Renders a mail of `kind` to `to`.
    pub(crate) fn outgoing(&self, tenant: TenantId, to: &Email, kind: MailKind, vars: &MailVars<'_>) -> OutgoingMail {
        let rendered = render(kind, &self.deps.branding, vars);
        OutgoingMail {
            id: self.new_id(),
            tenant_id: tenant,
            to: to.as_str().to_owned(),
            kind,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        }
    }

    /// Mints a secret for `user` and renders the mail of `kind` that carries it to `to`.
    fn secret_mail(
        &self,
        tenant: TenantId,
        user: UserId,
        purpose: Purpose,
        new_email: Option<Email>,
        to: &Email,
        kind: MailKind,
    ) -> (NewOneTimeSecret, OutgoingMail) {
        self.scoped_secret_mail(tenant, user, purpose, new_email, to, kind, None)
    }

    /// [`Self::secret_mail`] for a secret scoped to a client network (IP authorization).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scoped_secret_mail(
        &self,
        tenant: TenantId,
        user: UserId,
        purpose: Purpose,
        new_email: Option<Email>,
        to: &Email,
        kind: MailKind,
        network: Option<(&str, &str)>,
    ) -> (NewOneTimeSecret, OutgoingMail) {
        let now = self.deps.clock.now();
        let minted = self.deps.one_time.mint(user, purpose, now, &*self.deps.rng);
        let vars = MailVars {
            token: Some(&minted.token),
            code: Some(&minted.code),
            ip: network.map(|(ip, _)| ip),
            ..MailVars::default()
        };
        let mail = self.outgoing(tenant, to, kind, &vars);
        let secret = NewOneTimeSecret {
            id: self.new_id(),
            tenant_id: tenant,
            user_id: user,
            purpose,
            scope: network.map(|(_, scope)| scope.to_owned()).unwrap_or_default(),
            token_hash: minted.token_hash,
            code_hash: minted.code_hash,
            token_expires_at: minted.token_expires_at,
            code_expires_at: minted.code_expires_at,
            new_email,
            created_at: now,
        };
        (secret, mail)
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
                InsertAccountError::UnknownTenant => RegisterError::UnknownTenant,
                InsertAccountError::Store(s) => RegisterError::Infra(s.into()),
                InsertAccountError::EmailTaken | InsertAccountError::UsernameTaken => RegisterError::Infra(
                    InfraError::Internal("storage reported a conflict on a registration request".into()),
                ),
            })?;
        tracing::info!(registration_id = %request.id, tenant_id = %tenant_id, "registration recorded");
        Ok(Registered::MailSent)
    }

    /// Fulfils up to `max` recorded registrations (run by the mail worker): a new address gets
    /// an unverified account; an unverified one gets one more registration with its own
    /// password and secret; a verified one only a notice to its owner. Returns how many were
    /// taken.
    pub async fn fulfil_registration_requests(&self, max: u32) -> Result<u32, InfraError> {
        let plan = |request: &RegistrationRequest, account: Option<&Account>| self.registration_plan(request, account);
        let mut taken = 0;
        while taken < max && self.deps.store.fulfil_registration(&plan).await? {
            taken += 1;
        }
        Ok(taken)
    }

    fn registration_plan(&self, request: &RegistrationRequest, account: Option<&Account>) -> RegistrationPlan {
        match account {
            Some(owner) if owner.email_verified => {
                tracing::info!(registration_id = %request.id, tenant_id = %owner.tenant.id, mailed = request.mail_allowed, "registration with a verified address; its owner was notified");
                RegistrationPlan::Notify(request.mail_allowed.then(|| {
                    self.outgoing(
                        owner.tenant.id,
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
                    let (mut secret, mail) = self.secret_mail(
                        request.tenant_id,
                        user,
                        Purpose::VerifyEmail,
                        None,
                        to,
                        MailKind::SignupVerification,
                    );
                    // The secret confirms this registration, and no other.
                    secret.scope = request.id.to_string();
                    (secret, mail)
                });
                tracing::info!(registration_id = %request.id, user_id = %user, mailed = request.mail_allowed, "registration stored");
                RegistrationPlan::Register {
                    new_account: user,
                    verification,
                }
            }
        }
    }

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

    /// Counts a request of a signed-in account against `limit` (keyed by the account);
    /// `Err(wait)` when the account is over it.
    pub(crate) async fn account_request(
        &self,
        limit: crate::limits::Limit,
        principal: &Principal,
    ) -> Result<(), std::time::Duration> {
        let key = format!("{}:{}", principal.claims.tid, principal.claims.sub);
        match self.deps.limiter.hit(limit, &key).await {
            crate::limits::RateDecision::Limited { retry_after, .. } => {
                tracing::warn!(user_id = %principal.claims.sub, limit = limit.name(), "request refused: account over its limit");
                Err(retry_after)
            }
            _ => Ok(()),
        }
    }

    /// Whether a mail that anyone could trigger (signup verification, existing-account notice,
    /// resend, reset, TOTP replay notice), or that goes to an address the account does not own
    /// (an email change's confirmation), may go to `to` now, under the per-recipient limits;
    /// counts it if so. Security notices to an account's own address are not limited: an owner
    /// must always hear about changes to their account.
    pub(crate) async fn may_mail(&self, tenant: TenantId, to: &Email) -> bool {
        self.mail_budget(tenant, to).await.is_ok()
    }

    /// [`Self::may_mail`], with how long until the next mail to `to` may go when it may not.
    pub(crate) async fn mail_budget(&self, tenant: TenantId, to: &Email) -> Result<(), std::time::Duration> {
        use crate::limits::{Limit, RateDecision};
        // The mailbox is the thing protected, and it is the same mailbox under every tenant.
        let key = to.normalized();
        let limiter = &self.deps.limiter;
        // The daily limit is checked first without spending, so a refused mail does not use
        // up the minute's allowance, nor a minute-refused one the day's.
        let refused = match limiter.held_back(Limit::MailPerDay, key).await {
            Some(wait) => Some(wait),
            None => match limiter.hit(Limit::MailPerMinute, key).await {
                RateDecision::Limited { retry_after, .. } => Some(retry_after),
                _ => match limiter.hit(Limit::MailPerDay, key).await {
                    RateDecision::Limited { retry_after, .. } => Some(retry_after),
                    _ => None,
                },
            },
        };
        match refused {
            Some(wait) => {
                tracing::info!(tenant_id = %tenant, "mail not sent: recipient limit reached");
                Err(wait)
            }
            None => Ok(()),
        }
    }

    /// Fulfils up to `max` recorded mail requests (run by the mail worker). Returns how many
    /// were taken.
    pub async fn fulfil_mail_requests(&self, max: u32) -> Result<u32, InfraError> {
        let fulfil = |request: &MailRequest, target: Option<&MailTarget>| -> Fulfilling {
            let (service, request, target) = (self.clone(), request.clone(), target.cloned());
            Box::pin(async move { service.fulfilment(&request, target.as_ref()).await })
        };
        let mut taken = 0;
        while taken < max && self.deps.store.fulfil_mail_request(&fulfil).await? {
            taken += 1;
        }
        Ok(taken)
    }

    /// Deletes one-time secrets that can no longer be used, and accounts that never verified
    /// their address within the configured time (run by the mail worker).
    pub async fn purge_stale(&self) -> Result<Purged, InfraError> {
        let now = self.deps.clock.now();
        let purged = self
            .deps
            .store
            .purge(now, now - self.deps.unverified_account_ttl)
            .await?;
        if purged != Purged::default() {
            tracing::info!(
                secrets = purged.secrets,
                unverified_accounts = purged.unverified_accounts,
                "stale one-time secrets and unverified accounts deleted"
            );
        }
        Ok(purged)
    }

    async fn fulfilment(&self, request: &MailRequest, target: Option<&MailTarget>) -> RequestFulfilment {
        let account = target.map(|t| &t.account);
        let kind = match (request.purpose, account) {
            (Purpose::VerifyEmail, Some(a)) if !a.email_verified => MailKind::SignupVerification,
            (Purpose::ResetPassword, Some(_)) => MailKind::PasswordReset,
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
        let (mut secret, mail) = self.secret_mail(
            account.tenant.id,
            account.id,
            request.purpose,
            None,
            &account.email,
            kind,
        );
        if request.purpose == Purpose::VerifyEmail {
            secret.scope = resent_registration(request, target);
        }
        Some((secret, mail))
    }

    /// Where storage should look for a presented secret; `None` if it cannot be one of ours
    /// (refused without touching storage or counting an attempt).
    fn lookup(&self, presented: &Presented) -> Option<SecretLookup> {
        match presented {
            Presented::Token { tenant, token } => self
                .deps
                .one_time
                .token_hash(token)
                .map(|hash| SecretLookup::Token(*tenant, hash)),
            Presented::Code { tenant, email, code } => {
                let code = code.trim();
                (code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| SecretLookup::Email(*tenant, email.clone()))
            }
        }
    }

    /// Whether `presented` opens `stored`: a link until it expires; a code until it expires or
    /// runs out of attempts, `failed` being the wrong codes that count against it.
    fn fit(
        &self,
        presented: &Presented,
        stored: &StoredSecret,
        failed: u32,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Fit {
        match presented {
            // Storage found it by the token's hash.
            Presented::Token { .. } if stored.token_expires_at > now => Fit::Opens,
            Presented::Token { .. } => Fit::No,
            Presented::Code { code, .. } => {
                let matches = self
                    .deps
                    .one_time
                    .code_hash(stored.account.id, stored.purpose, code)
                    .is_some_and(|h| h == stored.code_hash);
                let state = CodeState {
                    failed_attempts: failed,
                    code_expires_at: stored.code_expires_at,
                    consumed: false,
                };
                let policy = self.deps.one_time.policy();
                // Every secret minted for the account and purpose draws on one total, so asking
                // for new ones (a new network, a new reset) cannot buy guesses for ever.
                if stored.purpose_failed_code_attempts >= policy.max_code_attempts_total {
                    return Fit::No;
                }
                match decide_code(&state, matches, now, policy.max_code_attempts) {
                    CodeDecision::Accept => Fit::Opens,
                    CodeDecision::Wrong => Fit::Wrong,
                    CodeDecision::Dead => Fit::No,
                }
            }
        }
    }

    /// Finds the secret of one of `purposes` that `presented` opens and applies what `redeem`
    /// returns for it.
    async fn redeem(
        &self,
        presented: &Presented,
        purposes: &[Purpose],
        redeem: &(dyn Fn(&StoredSecret) -> Option<Redemption> + Send + Sync),
    ) -> Result<(StoredSecret, Account), OneTimeError> {
        let lookup = self.lookup(presented).ok_or(OneTimeError::InvalidOrExpired)?;
        let now = self.deps.clock.now();
        let judge = |candidates: &[StoredSecret]| {
            // A code entered with an address is a guess at every code mailed to it, so they
            // share one count of wrong tries: the highest among the live ones. However many
            // pending email changes name an address, it takes five wrong codes in all.
            let shared = match presented {
                Presented::Code { .. } => candidates
                    .iter()
                    .filter(|c| c.code_expires_at > now)
                    .map(|c| c.failed_code_attempts)
                    .max()
                    .unwrap_or(0),
                Presented::Token { .. } => 0,
            };
            let mut wrong = Vec::new();
            for (index, stored) in candidates.iter().enumerate() {
                match self.fit(presented, stored, shared.max(stored.failed_code_attempts), now) {
                    Fit::Opens => {
                        if let Some(redemption) = redeem(stored) {
                            return Verdict::Accept { index, redemption };
                        }
                    }
                    Fit::Wrong => wrong.push(index),
                    Fit::No => {}
                }
            }
            Verdict::Refuse { wrong }
        };
        let outcome = self
            .deps
            .store
            .redeem_secret(&lookup, purposes, now, &judge)
            .await
            .map_err(InfraError::from)?;
        match outcome {
            RedeemOutcome::Redeemed { secret, account } => Ok((secret, account)),
            RedeemOutcome::Refused => {
                tracing::info!(
                    ?purposes,
                    outcome = "invalid_or_expired_token",
                    "one-time secret refused"
                );
                Err(OneTimeError::InvalidOrExpired)
            }
            RedeemOutcome::EmailTaken => {
                tracing::info!(
                    outcome = "email_taken",
                    "email change refused: the address was taken meanwhile"
                );
                Err(OneTimeError::EmailTaken)
            }
        }
    }

    /// `verify-email`: completes a signup (and logs the account in) or confirms an email change,
    /// whichever the secret was minted for.
    pub async fn verify_email(&self, presented: &Presented, client: &ClientInfo) -> Result<Verified, OneTimeError> {
        let refresh = RefreshToken::generate(&*self.deps.rng);
        let session_id = SessionId::from_uuid(self.new_id());
        let opened: Mutex<Option<NewSession>> = Mutex::new(None);
        let redeem = |stored: &StoredSecret| match stored.purpose {
            // Verified meanwhile (a reset, another link): the secret proves nothing new and must
            // not become a password-less login.
            Purpose::VerifyEmail if stored.account.email_verified => None,
            Purpose::VerifyEmail => {
                let a = &stored.account;
                let session = self.session_for(session_id, a.tenant.id, a.id, vec![AMR_EMAIL.into()], client, &refresh);
                if let Ok(mut slot) = opened.lock() {
                    *slot = Some(session.clone());
                }
                Some(Redemption::VerifyEmail { session })
            }
            Purpose::ChangeEmail => {
                let new = stored.new_email.as_ref()?;
                let vars = MailVars {
                    other_email: Some(new.as_str()),
                    ..MailVars::default()
                };
                let a = &stored.account;
                let notice = self.outgoing(a.tenant.id, &a.email, MailKind::EmailChangedNotice, &vars);
                Some(Redemption::ChangeEmail { notices: vec![notice] })
            }
            Purpose::ResetPassword | Purpose::AuthorizeIp => None,
        };
        let (secret, account) = self
            .redeem(presented, &[Purpose::VerifyEmail, Purpose::ChangeEmail], &redeem)
            .await?;
        if secret.purpose == Purpose::ChangeEmail {
            tracing::info!(user_id = %account.id, "email change confirmed");
            return Ok(Verified::EmailChanged(account));
        }
        let session = opened
            .into_inner()
            .ok()
            .flatten()
            .ok_or_else(|| InfraError::Internal("verified without opening a session".into()))?;
        tracing::info!(user_id = %account.id, session_id = %session.session.id, "email verified; signup complete");
        Ok(Verified::SignedUp(account, self.pair(session.session, refresh)?))
    }

    /// `authorize-ip`: marks the network the secret was minted for as known to its account. Logs
    /// nobody in: the user logs in again from that network.
    pub async fn authorize_network(&self, presented: &Presented) -> Result<Account, OneTimeError> {
        let (secret, account) = self
            .redeem(presented, &[Purpose::AuthorizeIp], &|_| {
                Some(Redemption::AuthorizeNetwork)
            })
            .await?;
        tracing::info!(user_id = %account.id, network = %secret.scope, "network authorized");
        Ok(account)
    }

    /// `password/verify`: whether `presented` would reset a password now. Consumes nothing, but
    /// a wrong code counts against the attempt limit.
    pub async fn check_reset_secret(&self, presented: &Presented) -> Result<(), OneTimeError> {
        self.redeem(presented, &[Purpose::ResetPassword], &|_| Some(Redemption::Check))
            .await
            .map(drop)
    }

    /// `password/reset`: sets a new password, marks the address verified, revokes every session
    /// and mails a notice. The secret is checked before the (costly) hash is made.
    pub async fn reset_password(
        &self,
        presented: &Presented,
        new_password: &Password,
        client: &ClientInfo,
    ) -> Result<Account, OneTimeError> {
        if self.too_common(new_password).await {
            return Err(OneTimeError::PasswordTooCommon);
        }
        self.check_reset_secret(presented).await?;
        let password_hash = self
            .deps
            .hasher
            .hash(new_password, &HashOwner::client(client.ip))
            .await
            .map_err(InfraError::from)?;
        let redeem = |stored: &StoredSecret| {
            let a = &stored.account;
            let notice = self.outgoing(
                a.tenant.id,
                &a.email,
                MailKind::PasswordChangedNotice,
                &MailVars::default(),
            );
            Some(Redemption::ResetPassword {
                password_hash: password_hash.clone(),
                notice,
            })
        };
        let (_, account) = self.redeem(presented, &[Purpose::ResetPassword], &redeem).await?;
        tracing::info!(user_id = %account.id, "password reset; every session revoked");
        Ok(account)
    }

    /// Checks the caller's current password (re-authentication for sensitive changes). Wrong
    /// passwords count against the account's failed-login budget, so a stolen access token is
    /// no oracle for guessing the password.
    pub(crate) async fn reauthenticate(
        &self,
        principal: &Principal,
        password: &Password,
    ) -> Result<AccountCredentials, AccountChangeError> {
        self.account_request(crate::limits::Limit::Reauthentication, principal)
            .await
            .map_err(|retry_after| AccountChangeError::RateLimited { retry_after })?;
        let found = self
            .deps
            .store
            .credentials(principal.claims.tid, principal.claims.sub)
            .await
            .map_err(InfraError::from)?;
        let key = format!("{}:account:{}", principal.claims.tid, principal.claims.sub);
        let stored = found.as_ref().and_then(|c| c.password.as_ref());
        let owner = HashOwner::account(principal.claims.tid, principal.claims.sub);
        let verdict = self
            .check_password_within_budget(&key, password, stored, &owner)
            .await?
            .map_err(|retry_after| {
                tracing::warn!(user_id = %principal.claims.sub, outcome = "throttled", "re-authentication refused: too many failed attempts");
                AccountChangeError::Throttled { retry_after }
            })?;
        match found.filter(|_| verdict.matches) {
            Some(creds) => Ok(creds),
            None => {
                tracing::info!(user_id = %principal.claims.sub, outcome = "invalid_credentials", "re-authentication refused");
                Err(AccountChangeError::InvalidCredentials)
            }
        }
    }

    /// Whether the caller may set a first password without a current one: the account has no
    /// password, the session is fresh, and the second factor (if any) checks out.
    async fn first_password_allowed(
        &self,
        principal: &Principal,
        factor: Option<&SecondFactor>,
    ) -> Result<AccountCredentials, AccountChangeError> {
        self.account_request(crate::limits::Limit::Reauthentication, principal)
            .await
            .map_err(|retry_after| AccountChangeError::RateLimited { retry_after })?;
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
            self.check_second_factor(&creds.account, factor).await?;
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
        self.account_request(crate::limits::Limit::EmailChange, principal)
            .await
            .map_err(|retry_after| AccountChangeError::RateLimited { retry_after })?;
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
        let (secret, verification) = self.secret_mail(
            tenant,
            account.id,
            Purpose::ChangeEmail,
            Some(new_email.clone()),
            &new_email,
            MailKind::EmailChangeVerification,
        );
        let vars = MailVars {
            other_email: Some(new_email.as_str()),
            ..MailVars::default()
        };
        let notice = self.outgoing(tenant, &account.email, MailKind::EmailChangeRequestedNotice, &vars);
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
        let notice = self.outgoing(
            account.tenant.id,
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
                },
                self.deps.clock.now(),
            )
            .await
            .map_err(InfraError::from)?
            // Changed by someone else since it was checked: the given password is not current.
            .ok_or(AccountChangeError::InvalidCredentials)?;
        tracing::info!(user_id = %account.id, revoked, "password changed; other sessions revoked");
        Ok(revoked)
    }
}
