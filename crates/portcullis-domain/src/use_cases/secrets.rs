//! The flows that redeem a mailed one-time secret (link or code): verify an address (a signup or
//! an email change), authorize a network, check and reset a password.

use crate::identity::Password;
use crate::ids::SessionId;
use crate::model::{Account, ClientInfo, MailKind, Redemption, StoredSecret, TokenPair};
use crate::one_time::Purpose;
use crate::ports::HashOwner;
use crate::refresh::RefreshToken;
use crate::service::base::{AuthService, InfraError};
use crate::service::redeem::{AMR_EMAIL, OneTimeError, Presented};
use crate::templates::MailVars;

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

impl AuthService {
    /// `verify-email`: completes a signup (and logs the account in) or confirms an email change,
    /// whichever the secret was minted for.
    pub async fn verify_email(&self, presented: &Presented, client: &ClientInfo) -> Result<Verified, OneTimeError> {
        let refresh = RefreshToken::generate(&*self.deps.rng);
        let session_id = SessionId::from_uuid(self.new_id());
        let brand = self.brand(presented.tenant()).await?;
        let redeem = |stored: &StoredSecret| match stored.purpose {
            // Verified meanwhile (a reset, another link): the secret proves nothing new and must
            // not become a password-less login.
            Purpose::VerifyEmail if stored.account.email_verified => None,
            Purpose::VerifyEmail => {
                let a = &stored.account;
                let session = self.session_for(session_id, a.tenant.id, a.id, vec![AMR_EMAIL.into()], client, &refresh);
                Some(Redemption::VerifyEmail { session })
            }
            Purpose::ChangeEmail => {
                let new = stored.new_email.as_ref()?;
                let vars = MailVars {
                    other_email: Some(new.as_str()),
                    ..MailVars::default()
                };
                let a = &stored.account;
                let notice = self.outgoing(&brand, &a.email, MailKind::EmailChangedNotice, &vars);
                Some(Redemption::ChangeEmail { notices: vec![notice] })
            }
            Purpose::ResetPassword | Purpose::AuthorizeIp | Purpose::Signup | Purpose::LoginCode => None,
        };
        let (_, account, redemption) = self
            .redeem(
                presented,
                &[Purpose::VerifyEmail, Purpose::ChangeEmail],
                client,
                &redeem,
            )
            .await?;
        let session = match redemption {
            Redemption::VerifyEmail { session } => session,
            _ => {
                tracing::info!(user_id = %account.id, "email change confirmed");
                return Ok(Verified::EmailChanged(account));
            }
        };
        tracing::info!(user_id = %account.id, session_id = %session.session.id, "email verified; signup complete");
        Ok(Verified::SignedUp(account, self.pair(session.session, refresh)?))
    }

    /// `authorize-ip`: marks the network the secret was minted for as known to its account. Logs
    /// nobody in: the user logs in again from that network.
    pub async fn authorize_network(&self, presented: &Presented, client: &ClientInfo) -> Result<Account, OneTimeError> {
        let (secret, account, _) = self
            .redeem(presented, &[Purpose::AuthorizeIp], client, &|_| {
                Some(Redemption::AuthorizeNetwork)
            })
            .await?;
        tracing::info!(user_id = %account.id, network = %secret.scope, "network authorized");
        Ok(account)
    }

    /// `password/verify`: whether `presented` would reset a password now. Consumes nothing, but
    /// a wrong code counts against the attempt limit.
    pub async fn check_reset_secret(&self, presented: &Presented, client: &ClientInfo) -> Result<(), OneTimeError> {
        self.redeem(presented, &[Purpose::ResetPassword], client, &|_| {
            Some(Redemption::Check)
        })
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
        self.check_reset_secret(presented, client).await?;
        let password_hash = self
            .deps
            .hasher
            .hash(new_password, &HashOwner::client(client.ip))
            .await
            .map_err(InfraError::from)?;
        let brand = self.brand(presented.tenant()).await?;
        let redeem = |stored: &StoredSecret| {
            let a = &stored.account;
            let notice = self.outgoing(&brand, &a.email, MailKind::PasswordChangedNotice, &MailVars::default());
            Some(Redemption::ResetPassword {
                password_hash: password_hash.clone(),
                notice,
            })
        };
        let (_, account, _) = self
            .redeem(presented, &[Purpose::ResetPassword], client, &redeem)
            .await?;
        tracing::info!(user_id = %account.id, "password reset; every session revoked");
        Ok(account)
    }
}
