//! Registrations and mail requests waiting for the mail worker.

use chrono::{DateTime, Utc};

use crate::identity::{Email, Username};
use crate::ids::{TenantId, UserId};
use crate::model::{Account, NewOneTimeSecret};
use crate::one_time::Purpose;

/// A registration, recorded by `register` and fulfilled later by the mail worker (see
/// [`RegistrationStore`](crate::ports::RegistrationStore)).
#[derive(Clone)]
pub struct RegistrationRequest {
    /// Its id; also the id of the registration it becomes.
    pub id: uuid::Uuid,
    /// Tenant the address is registered in.
    pub tenant_id: TenantId,
    /// The address.
    pub email: Email,
    /// PHC hash of the password chosen (of its normalised form).
    pub password_hash: String,
    /// The username chosen, if any; claimed when the address is verified, if still free.
    pub username: Option<Username>,
    /// The client network it came from, known to the account once this registration is the
    /// one verified.
    pub network: Option<String>,
    /// Whether the address's mail budget let a mail go when the request was made.
    pub mail_allowed: bool,
    /// When.
    pub requested_at: DateTime<Utc>,
}

impl std::fmt::Debug for RegistrationRequest {
    // Never prints the password hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationRequest")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// What fulfilling a registration request writes, decided from the address's account.
// Built once per request and consumed at once; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RegistrationPlan {
    /// No verified account has the address: store the registration, creating an unverified
    /// account with id `new_account` when no account has the address, and with it, when given,
    /// its verification secret (scoped to the registration) and mail.
    Register {
        /// The id of the account to create, if none has the address.
        new_account: UserId,
        /// The registration's secret and its mail; `None` stores the registration alone.
        verification: Option<(NewOneTimeSecret, crate::model::OutgoingMail)>,
        /// Audit events of creating the account, stored only if it is created.
        created: Vec<crate::model::AuditEvent>,
    },
    /// A verified account has the address: enqueue this notice to its owner, if any.
    Notify(Option<crate::model::OutgoingMail>),
}

/// Most registrations one unverified account keeps; the oldest go first.
pub const MAX_PENDING_REGISTRATIONS: usize = 10;

/// The account a mail request found, with its pending registrations (oldest first) when its
/// address is not verified yet.
#[derive(Debug, Clone)]
pub struct MailTarget {
    /// The account.
    pub account: Account,
    /// Its registrations: each one's id and the client network it came from.
    pub registrations: Vec<(uuid::Uuid, Option<String>)>,
}

/// A request for a mail that goes out only if an account qualifies (see [`MailRequestStore`](crate::ports::MailRequestStore)).
#[derive(Debug, Clone)]
pub struct MailRequest {
    /// Its id.
    pub id: uuid::Uuid,
    /// Tenant the address is looked up in.
    pub tenant_id: TenantId,
    /// [`Purpose::VerifyEmail`] (resend), [`Purpose::ResetPassword`] (forgot) or
    /// [`Purpose::LoginCode`] (a login code).
    pub purpose: Purpose,
    /// The address given.
    pub email: Email,
    /// The client network the request came from.
    pub network: Option<String>,
    /// When.
    pub requested_at: DateTime<Utc>,
}

/// What fulfilling a mail request writes: a secret and its mail, or nothing.
pub type RequestFulfilment = Option<(NewOneTimeSecret, crate::model::OutgoingMail)>;

/// The domain's decision on a mail request, reached asynchronously (it may consult the
/// recipient's mail budget, which only a mail that really goes out spends).
pub type Fulfilling = std::pin::Pin<Box<dyn std::future::Future<Output = RequestFulfilment> + Send>>;
