//! One-time secrets, registrations, mail requests and server secrets.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::identity::Username;
use crate::ids::TenantId;
use crate::model::{
    Account, Fulfilling, MailRequest, MailTarget, NewOneTimeSecret, PasswordChange, Purged, RedeemOutcome,
    RegistrationPlan, RegistrationRequest, SecretLookup, StoredSecret, Verdict,
};
use crate::one_time::Purpose;
use crate::ports::{InsertAccountError, StoreError};

/// Server-wide secrets that every node must share (generated signing key, refresh key).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Returns the secret stored under `name`; if there is none, stores `candidate` and returns
    /// it. Concurrent first calls from several nodes must all get the same value.
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;

    /// The secret stored under `name`, if any (changes nothing).
    async fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores `value` under `name`, replacing what was there (a key's fingerprint moving on
    /// with a rotation).
    async fn put_secret(&self, name: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Stores `value` under `name` only if what is there is still `expected` (`None`: nothing
    /// is there); `false`, changing nothing, when another writer got there first. For values
    /// several nodes read, change and write back (the list of retiring keys).
    async fn replace_secret(&self, name: &str, expected: Option<&[u8]>, value: &[u8]) -> Result<bool, StoreError>;
}

/// Registrations, recorded by `register` and fulfilled by the mail worker, so that register's
/// answer and timing are the same whether or not the address has an account.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Whether an account of the tenant holds this username.
    async fn username_taken(&self, tenant: TenantId, username: &Username) -> Result<bool, StoreError>;

    /// Records a request. A tenant that no longer exists is `UnknownTenant`.
    async fn request_registration(&self, request: &RegistrationRequest) -> Result<(), InsertAccountError>;

    /// Takes the oldest request no other worker holds and, in one transaction, deletes it, looks
    /// up the tenant's account with its address (locking it), and writes what `plan` returns
    /// for it. A registration is stored under the request's id; an unverified account's
    /// password hash becomes the newest registration's (for the answer a login gets before
    /// verification), and an account keeps its newest [`MAX_PENDING_REGISTRATIONS`](crate::model::MAX_PENDING_REGISTRATIONS)
    /// registrations (older ones go with their secrets). Returns whether there was a request.
    async fn fulfil_registration(
        &self,
        plan: &(dyn for<'a, 'b> Fn(&'a RegistrationRequest, Option<&'b Account>) -> RegistrationPlan + Send + Sync),
    ) -> Result<bool, StoreError>;
}

/// One-time secrets and the account changes they unlock. Every method is one transaction, and
/// mail named in it is enqueued in that same transaction.
#[async_trait]
pub trait OneTimeStore: Send + Sync {
    /// Stores `secret` and enqueues `mail` only if the account has no secret of this purpose
    /// and scope whose link is still alive at `now`. Returns whether it did. Any other secret
    /// of the purpose (another scope, or expired) is replaced, so an account has at most one
    /// live secret per purpose; while the code being replaced is alive its wrong-code count
    /// carries over, so asking from ever new scopes (networks) buys no extra guesses.
    async fn issue_secret_unless_live(
        &self,
        secret: NewOneTimeSecret,
        mail: &crate::model::OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores `secret`, replacing the account's live secret of the same purpose and scope, and
    /// enqueues `mails`.
    async fn issue_secret(
        &self,
        secret: NewOneTimeSecret,
        mails: &[crate::model::OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Finds the candidate secrets of `purposes` (a token finds at most one; an address its
    /// account's own secrets first, then at most a few email changes to it, newest first),
    /// locks them, and asks `judge` about all of them at once. Applies the accepted one's
    /// redemption and deletes it (unless it is a check), which also clears the count of wrong
    /// codes of its account and purpose; or counts a failed attempt on every candidate the
    /// verdict names wrong, and on their accounts' counts for their purposes.
    async fn redeem_secret(
        &self,
        lookup: &SecretLookup,
        purposes: &[Purpose],
        now: DateTime<Utc>,
        judge: &(dyn for<'a> Fn(&'a [StoredSecret]) -> Verdict + Send + Sync),
    ) -> Result<RedeemOutcome, StoreError>;

    /// Replaces the password hash if it is still `change.expected` (or still none, when that is
    /// `None`), revokes every live session
    /// of the account but `change.keep`, forgets its pending reset, email-change and
    /// IP-authorization secrets (and their counts of wrong codes), and enqueues
    /// `change.notice`. `None` if the hash had changed (nothing was written);
    /// otherwise how many sessions were revoked.
    async fn change_password(&self, change: &PasswordChange, now: DateTime<Utc>) -> Result<Option<u64>, StoreError>;

    /// Deletes secrets whose link and code have both expired by `now`, counts of wrong codes
    /// last added to before `stale_before`, and accounts that never verified their address and
    /// have had no registration since `stale_before` (with their registrations and secrets).
    async fn purge(&self, now: DateTime<Utc>, stale_before: DateTime<Utc>) -> Result<Purged, StoreError>;
}

/// Mail requests, recorded by endpoints that must not reveal whether an account exists and
/// fulfilled later by the mail worker.
#[async_trait]
pub trait MailRequestStore: Send + Sync {
    /// Records a request.
    async fn request_mail(&self, request: &MailRequest) -> Result<(), StoreError>;

    /// Takes the oldest request no other worker holds, looks up the tenant's account with its
    /// address (and, if it is unverified, its registrations), and in one transaction stores
    /// what `fulfil` returns (replacing the account's live secret of that purpose and scope),
    /// enqueues its mail, and deletes the request. Returns whether there was a request.
    async fn fulfil_mail_request(
        &self,
        fulfil: &(dyn for<'a, 'b> Fn(&'a MailRequest, Option<&'b MailTarget>) -> Fulfilling + Send + Sync),
    ) -> Result<bool, StoreError>;
}
