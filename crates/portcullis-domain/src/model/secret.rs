//! One-time secrets (links and codes mailed for a purpose) and what redeeming one does.

use chrono::{DateTime, Utc};

use crate::identity::Email;
use crate::ids::{SessionId, TenantId, UserId};
use crate::model::{Account, NewSession};
use crate::one_time::Purpose;
use crate::refresh::TokenHash;

/// A one-time secret to store: only its hashes.
#[derive(Debug, Clone)]
pub struct NewOneTimeSecret {
    /// Its id.
    pub id: uuid::Uuid,
    /// Tenant of its account.
    pub tenant_id: TenantId,
    /// Its account.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: Purpose,
    /// `""`, or the client network it authorizes (IP authorization): one live secret per
    /// account, purpose and scope.
    pub scope: String,
    /// SHA-256 of the link token.
    pub token_hash: TokenHash,
    /// Keyed hash of the code.
    pub code_hash: TokenHash,
    /// When the link dies.
    pub token_expires_at: DateTime<Utc>,
    /// When the code dies.
    pub code_expires_at: DateTime<Utc>,
    /// The address an email change moves to (only for [`Purpose::ChangeEmail`]).
    pub new_email: Option<Email>,
    /// When it was minted.
    pub created_at: DateTime<Utc>,
}

/// An outstanding one-time secret with its account, as storage holds it.
#[derive(Debug, Clone)]
pub struct StoredSecret {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its account.
    pub account: Account,
    /// What it is for.
    pub purpose: Purpose,
    /// See [`NewOneTimeSecret::scope`].
    pub scope: String,
    /// Keyed hash of the code.
    pub code_hash: TokenHash,
    /// When the link dies.
    pub token_expires_at: DateTime<Utc>,
    /// When the code dies.
    pub code_expires_at: DateTime<Utc>,
    /// Wrong codes so far.
    pub failed_code_attempts: u32,
    /// Wrong codes for its account and purpose, across every secret minted for them, since
    /// one of their secrets was last redeemed (or the password changed).
    pub purpose_failed_code_attempts: u32,
    /// See [`NewOneTimeSecret::new_email`].
    pub new_email: Option<Email>,
}

/// How a presented secret is found.
#[derive(Debug, Clone)]
pub enum SecretLookup {
    /// By the hash of a link token, within a tenant.
    Token(TenantId, TokenHash),
    /// Codes are entered with an address: secrets of the tenant's account with this email, and
    /// email changes to this address.
    Email(TenantId, Email),
}

/// What to do with a secret that was presented correctly.
#[derive(Clone)]
pub enum Redemption {
    /// Nothing: the caller only checks it (it stays usable).
    Check,
    /// Mark the address verified and activate the registration the secret is bound to (its
    /// scope names it): its password, its username if no other account holds it, its network
    /// as the only one known. With no such registration (a resend after several people
    /// registered the address) the account is left with no password. Every registration of
    /// the account and every other pending secret of it dies; `session` is opened.
    VerifyEmail {
        /// The session to open.
        session: NewSession,
    },
    /// Move the account to the secret's new address (verified) and enqueue `notices`. An
    /// unverified account that holds the address is deleted: it never proved the mailbox, and
    /// this secret just did. If a verified account of the tenant has taken the address
    /// meanwhile, nothing happens.
    ChangeEmail {
        /// Mail to enqueue in the same transaction.
        notices: Vec<crate::model::OutgoingMail>,
    },
    /// Record the secret's scope (a network) as known for the account. Logs nobody in.
    AuthorizeNetwork,
    /// Use the secret up, and nothing else (a login by code: the session is opened after).
    Spend,
    /// Replace the password hash, mark the address verified (the mail proved it), revoke every
    /// session, forget the account's other pending secrets and registrations, enqueue `notice`.
    ResetPassword {
        /// The new PHC hash.
        password_hash: String,
        /// Mail to enqueue in the same transaction.
        notice: crate::model::OutgoingMail,
    },
}

impl std::fmt::Debug for Redemption {
    // Never prints the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Check => "Redemption::Check",
            Self::VerifyEmail { .. } => "Redemption::VerifyEmail",
            Self::ChangeEmail { .. } => "Redemption::ChangeEmail",
            Self::ResetPassword { .. } => "Redemption::ResetPassword",
            Self::AuthorizeNetwork => "Redemption::AuthorizeNetwork",
            Self::Spend => "Redemption::Spend",
        })
    }
}

/// The verdict on the candidate secrets of one presentation.
// Built once per presentation and consumed at once; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The candidate at `index` is right and alive: apply `redemption`, then delete it (unless
    /// it is [`Redemption::Check`]).
    Accept {
        /// Its place among the candidates.
        index: usize,
        /// What to apply.
        redemption: Redemption,
        /// Audit events of the redemption, stored in its transaction (none if it is refused
        /// after all, an email change to a taken address say).
        events: Vec<crate::model::AuditEvent>,
    },
    /// None is accepted; count a failed attempt against each candidate at `wrong`.
    Refuse {
        /// Places among the candidates of those whose code was wrong.
        wrong: Vec<usize>,
    },
}

/// What [`OneTimeStore::redeem_secret`](crate::ports::OneTimeStore::redeem_secret) did.
// Built once per request and moved straight into the response; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum RedeemOutcome {
    /// A secret was accepted and its redemption applied.
    Redeemed {
        /// The secret, as it was before.
        secret: StoredSecret,
        /// Its account, after the redemption.
        account: Account,
        /// The redemption that was applied (a signup's session, say).
        redemption: Redemption,
    },
    /// No candidate was accepted.
    Refused,
    /// An email change was accepted, but the address now belongs to another account; nothing
    /// was changed.
    EmailTaken,
}

/// What [`OneTimeStore::purge`](crate::ports::OneTimeStore::purge) deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Dead one-time secrets.
    pub secrets: u64,
    /// The accounts deleted because they never verified their address (their ids, so what is
    /// kept outside storage, such as pictures in a directory, can go with them).
    pub unverified_accounts: Vec<crate::ids::UserId>,
}

/// A change of password, for [`OneTimeStore::change_password`](crate::ports::OneTimeStore::change_password).
#[derive(Clone)]
pub struct PasswordChange {
    /// Tenant of the account.
    pub tenant: TenantId,
    /// The account.
    pub user: UserId,
    /// The hash the current password was checked against; `None` for an account that had no
    /// password.
    pub expected: Option<String>,
    /// The new hash.
    pub new_hash: String,
    /// The session that stays signed in.
    pub keep: Option<SessionId>,
    /// The notice to mail.
    pub notice: crate::model::OutgoingMail,
    /// Audit events of the change, stored with it.
    pub events: Vec<crate::model::AuditEvent>,
}

impl std::fmt::Debug for PasswordChange {
    // Never prints the hashes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .field("keep", &self.keep)
            .finish_non_exhaustive()
    }
}
