//! Log in with a password, or with a code sent by mail (and a second factor), under the
//! failed-login budget and the new-IP policy.

use serde_json::json;
use uuid::Uuid;

use crate::identity::{LoginId, Password};
use crate::ids::{TenantId, UserId};
use crate::model::{
    Account, Brand, ClientInfo, EventType, NewSession, Redemption, Session, Subject, Tenant, TokenPair,
};
use crate::one_time::Purpose;
use crate::ports::HashOwner;
use crate::service::base::{AuthService, InfraError};
use crate::service::mint::SecretMail;
use crate::service::redeem::{AMR_EMAIL, OneTimeError, Presented};

/// Failures of [`AuthService::login`].
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// 401 `invalid_credentials`: unknown account or wrong password, indistinguishably.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403 `email_not_verified`: right credentials, but the address is not verified yet.
    #[error("email not verified")]
    EmailNotVerified,
    /// 403 `account_disabled`: right credentials, but an operator disabled the account. (A
    /// wrong password gets [`LoginError::InvalidCredentials`], as for any account.)
    #[error("account disabled")]
    AccountDisabled,
    /// The second factor is missing (403 `mfa_required`), wrong or locked.
    #[error(transparent)]
    SecondFactor(crate::service::MfaError),
    /// 403 `ip_authorization_required`: right credentials from a network the account has not
    /// used, under policy `require`; a mail with a link and code is on its way (unless one for
    /// this network still lives).
    #[error("ip authorization required")]
    IpAuthorizationRequired,
    /// 429: too many failed logins for this account (or, for a name no account has, for that
    /// name, so the answer is the same). Checked before the password, so the account's owner
    /// is not locked out for good: one more attempt comes back every period / count.
    #[error("too many failed logins")]
    Throttled {
        /// Until the next attempt is allowed.
        retry_after: std::time::Duration,
    },
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Failures of [`AuthService::login_with_code`].
#[derive(Debug, thiserror::Error)]
pub enum CodeLoginError {
    /// 400 `invalid_or_expired_token`: the code is wrong, expired, used or out of tries.
    #[error(transparent)]
    Code(#[from] OneTimeError),
    /// The refusals a password login has past its password (second factor, new-IP policy).
    #[error(transparent)]
    Login(#[from] LoginError),
}

impl From<InfraError> for CodeLoginError {
    fn from(e: InfraError) -> Self {
        Self::Login(LoginError::Infra(e))
    }
}

impl AuthService {
    /// Checks credentials and opens a session. Unknown account and wrong password cost the same
    /// hashing (see `check_password`) and end in the same error.
    pub async fn login(
        &self,
        tenant: &Tenant,
        login: &LoginId,
        password: &Password,
        factor: Option<&crate::totp::SecondFactor>,
        client: &ClientInfo,
    ) -> Result<(Account, TokenPair), LoginError> {
        // Refused before anything is looked up when the hasher has no room: a flood of logins
        // then costs one check each. Whether the name exists plays no part.
        if !self.deps.hasher.has_room(&HashOwner::client(client.ip)) {
            return Err(InfraError::Busy { retry_after_secs: 1 }.into());
        }
        let store = &self.deps.store;
        let found = match login {
            LoginId::Email(email) => store.credentials_by_email(tenant.id, email).await,
            LoginId::Username(name) => store.credentials_by_username(tenant.id, name).await,
        }
        .map_err(InfraError::from)?;
        // Failed passwords count per login name as typed, whether or not an account has it: an
        // unknown name is throttled exactly like a known one, and throttling an account's
        // address says nothing about its username (or the other way round).
        let name_key = match login {
            LoginId::Email(email) => format!("{}:email:{}", tenant.id, email.normalized()),
            LoginId::Username(name) => format!("{}:username:{}", tenant.id, name.normalized()),
        };
        // Failures from a network the account has signed in from before count apart from the
        // rest, so someone guessing from elsewhere cannot keep the owner out. The lookup runs
        // for unknown names too (it finds nothing), so it costs the same either way, and its
        // answer serves the new-IP policy below.
        let network = client.ip.map(crate::network::network_of);
        let known = match &network {
            Some(network) => {
                let user = found.as_ref().map_or(UserId::from_uuid(Uuid::nil()), |c| c.account.id);
                store
                    .is_known_network(tenant.id, user, network)
                    .await
                    .map_err(InfraError::from)?
            }
            None => false,
        };
        let throttle_key = match (&network, known) {
            (Some(network), true) => format!("{name_key}:known:{network}"),
            _ => name_key,
        };
        let stored = found.as_ref().and_then(|c| c.password.as_ref());
        let owner = HashOwner::client(client.ip);
        let scope = if known { "known_network" } else { "login_name" };
        let checked = match self
            .check_password_within_budget(&throttle_key, password, stored, &owner)
            .await?
        {
            Ok(checked) => checked,
            Err(retry_after) => {
                tracing::warn!(tenant_id = %tenant.id, outcome = "throttled", "login refused: too many failed logins");
                return Err(LoginError::Throttled { retry_after });
            }
        };
        let found_id = found.as_ref().map(|c| c.account.id);
        let verdict = checked.verdict;
        let Some(creds) = found.filter(|_| verdict.matches) else {
            tracing::info!(tenant_id = %tenant.id, outcome = "invalid_credentials", "login refused");
            // Recorded for an unknown name too (without a user), so both cost one write.
            let subject = Subject {
                tenant: tenant.id,
                user: found_id,
                session: None,
            };
            let mut events = vec![self.audit_event(
                EventType::LoginFailed,
                subject,
                client,
                json!({ "reason": "invalid_credentials" }),
            )];
            if let Some(wait) = checked.locked_for {
                tracing::warn!(tenant_id = %tenant.id, scope, "login name locked: too many failed logins");
                events.push(self.audit_event(
                    EventType::LoginLocked,
                    subject,
                    client,
                    json!({ "scope": scope, "retry_after_secs": wait.as_secs().max(1) }),
                ));
            }
            self.deps.store.append_events(&events).await.map_err(InfraError::from)?;
            return Err(LoginError::InvalidCredentials);
        };
        if verdict.needs_rehash
            && let Some(stored) = &creds.password
        {
            self.upgrade_hash(&creds.account, &stored.phc, password, &owner).await;
        }
        let account = creds.account;
        if account.disabled {
            tracing::info!(user_id = %account.id, outcome = "account_disabled", "login refused");
            self.login_refused(tenant.id, Some(account.id), client, "account_disabled")
                .await?;
            return Err(LoginError::AccountDisabled);
        }
        let brand = self.brand(account.tenant.id).await?;
        if brand.require_email_verification && !account.email_verified {
            tracing::info!(user_id = %account.id, outcome = "email_not_verified", "login refused");
            self.login_refused(tenant.id, Some(account.id), client, "email_not_verified")
                .await?;
            return Err(LoginError::EmailNotVerified);
        }
        let mut amr = vec!["pwd".to_owned()];
        if account.mfa_enabled {
            // A login the new-IP policy will refuse must not spend a recovery code (the user
            // would come back with the next one after authorizing the network).
            let refused_later =
                brand.new_ip_policy == crate::network::NewIpPolicy::Require && network.is_some() && !known;
            let method = match self
                .check_second_factor_then(&account, factor, !refused_later, client)
                .await
            {
                Ok(method) => method,
                Err(crate::service::MfaError::Infra(e)) => return Err(LoginError::Infra(e)),
                Err(other) => {
                    self.login_refused(tenant.id, Some(account.id), client, mfa_reason(&other))
                        .await?;
                    return Err(LoginError::SecondFactor(other));
                }
            };
            amr.push(method.to_owned());
        }
        let (new_session, refresh) = self.new_session(account.tenant.id, account.id, amr, client);
        let session = self.open_session(&brand, &account, new_session, client, known).await?;
        tracing::info!(user_id = %account.id, session_id = %session.id, outcome = "success", "login");
        Ok((account, self.pair(session, refresh)?))
    }

    /// `login/code`: logs in with a code mailed by [`AuthService::request_login_code`]
    /// (`amr` `["email"]`, then the second factor's method). The code is checked first (a
    /// wrong one counts against its five tries); a login the second factor or the new-IP
    /// policy refuses neither spends it nor counts as a wrong try, so the user comes back with
    /// the same code. Only then is it spent (once, even under concurrency) and the session
    /// opened.
    pub async fn login_with_code(
        &self,
        presented: &Presented,
        factor: Option<&crate::totp::SecondFactor>,
        client: &ClientInfo,
    ) -> Result<(Account, TokenPair), CodeLoginError> {
        let (_, account, _) = self
            .redeem(presented, &[Purpose::LoginCode], client, &|_| Some(Redemption::Check))
            .await?;
        let network = client.ip.map(crate::network::network_of);
        let known = match &network {
            Some(network) => self
                .deps
                .store
                .is_known_network(account.tenant.id, account.id, network)
                .await
                .map_err(InfraError::from)?,
            None => false,
        };
        let brand = self.brand(account.tenant.id).await?;
        let refused_later = brand.new_ip_policy == crate::network::NewIpPolicy::Require && network.is_some() && !known;
        let mut amr = vec![AMR_EMAIL.to_owned()];
        if account.mfa_enabled {
            let method = match self
                .check_second_factor_then(&account, factor, !refused_later, client)
                .await
            {
                Ok(method) => method,
                Err(crate::service::MfaError::Infra(e)) => return Err(LoginError::Infra(e).into()),
                Err(other) => {
                    self.login_refused(account.tenant.id, Some(account.id), client, mfa_reason(&other))
                        .await?;
                    return Err(LoginError::SecondFactor(other).into());
                }
            };
            amr.push(method.to_owned());
        }
        let (new_session, refresh) = self.new_session(account.tenant.id, account.id, amr, client);
        if refused_later {
            // Refuses, and mails the authorization (the code stays usable).
            return Err(self
                .open_session(&brand, &account, new_session, client, known)
                .await
                .err()
                .unwrap_or(LoginError::IpAuthorizationRequired)
                .into());
        }
        // Spent only now, by whichever concurrent login gets there first.
        self.redeem(presented, &[Purpose::LoginCode], client, &|_| Some(Redemption::Spend))
            .await?;
        let session = self.open_session(&brand, &account, new_session, client, known).await?;
        tracing::info!(user_id = %account.id, session_id = %session.id, outcome = "success", "login by code");
        Ok((account, self.pair(session, refresh)?))
    }

    /// Records a refused login (`login.failed` with `reason`); `user` when an account has the
    /// name given.
    async fn login_refused(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        client: &ClientInfo,
        reason: &str,
    ) -> Result<(), InfraError> {
        let subject = Subject {
            tenant,
            user,
            session: None,
        };
        let event = self.audit_event(EventType::LoginFailed, subject, client, json!({ "reason": reason }));
        self.record(event).await
    }

    /// Stores a login's session under the tenant's new-IP policy; `known`: whether the account
    /// knows the client's network.
    async fn open_session(
        &self,
        brand: &Brand,
        account: &Account,
        mut session: NewSession,
        client: &ClientInfo,
        known: bool,
    ) -> Result<Session, LoginError> {
        use crate::network::{NewIpPolicy, network_of};
        let store = &self.deps.store;
        let (policy, Some(ip)) = (brand.new_ip_policy, client.ip) else {
            return Ok(store.insert_session(session).await.map_err(InfraError::from)?);
        };
        if policy == NewIpPolicy::Off {
            return Ok(store.insert_session(session).await.map_err(InfraError::from)?);
        }
        let user = account.id;
        let network = network_of(ip);
        if known {
            return Ok(store
                .insert_session_from(session, &network, None)
                .await
                .map_err(InfraError::from)?);
        }
        let ip_text = ip.to_string();
        if policy == NewIpPolicy::Notify {
            let vars = crate::templates::MailVars {
                ip: Some(&ip_text),
                ..crate::templates::MailVars::default()
            };
            let notice = self.outgoing(brand, &account.email, crate::model::MailKind::NewSignInNotice, &vars);
            let subject = Subject {
                tenant: account.tenant.id,
                user: Some(user),
                session: Some(session.session.id),
            };
            let details = json!({ "network": network });
            session
                .events
                .push(self.audit_event(EventType::LoginNewIp, subject, client, details));
            tracing::info!(user_id = %user, %network, "sign-in from a new network; owner notified");
            return Ok(store
                .insert_session_from(session, &network, Some(&notice))
                .await
                .map_err(InfraError::from)?);
        }
        let (secret, mail) = self.secret_mail(SecretMail {
            brand,
            user,
            purpose: crate::one_time::Purpose::AuthorizeIp,
            to: &account.email,
            kind: crate::model::MailKind::IpAuthorization,
            scope: network.clone(),
            new_email: None,
            ip: Some(&ip_text),
        });
        let mailed = store
            .issue_secret_unless_live(secret, &mail, self.deps.clock.now())
            .await
            .map_err(InfraError::from)?;
        tracing::info!(user_id = %user, %network, mailed, outcome = "ip_authorization_required", "login refused");
        self.login_refused(account.tenant.id, Some(user), client, "ip_authorization_required")
            .await?;
        Err(LoginError::IpAuthorizationRequired)
    }
}

/// The `reason` of a `login.failed` the second factor refused.
fn mfa_reason(e: &crate::service::MfaError) -> &'static str {
    use crate::service::MfaError;
    match e {
        MfaError::Required => "mfa_required",
        MfaError::Locked { .. } => "mfa_locked",
        _ => "mfa_invalid",
    }
}
