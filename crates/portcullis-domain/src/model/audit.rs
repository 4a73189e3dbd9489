//! Audit events: an append-only record of every security-relevant change and decision, written
//! with the change it records. `details` never holds a secret (no password, code, token or TOTP
//! secret): only what the event type documents.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ids::{SessionId, TenantId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A session was opened: a login (password, email code), a verified signup or address.
    /// `details`: `{amr}`.
    LoginSucceeded,
    /// A login was refused, for an unknown account too (then without `user_id`). `details`:
    /// `{reason}` (`invalid_credentials`, `email_not_verified`, `account_disabled`,
    /// `mfa_required`, `mfa_invalid`, `mfa_locked`).
    LoginFailed,
    /// An operator disabled the account (its sessions were revoked). `details`: `{actor,
    /// reason, revoked_sessions}`.
    AccountDisabled,
    /// An operator enabled the account again. `details`: `{actor}`.
    AccountEnabled,
    /// Sessions were ended: by an operator (`details`: `{actor, revoked_sessions}`).
    SessionsRevoked,
    /// A mailed link or code proved the account's address (a signup, a verification).
    UserEmailVerified,
    /// An email change was confirmed from the new address. `details`: `{}` (the addresses are
    /// the account's, not the trail's).
    EmailChanged,
    /// A mailed link or code set a new password; every session was revoked.
    PasswordReset,
    /// A mailed link or code made a network known to the account. `details`: `{network}`.
    NetworkAuthorized,
    /// The owner changed the password; every other session was revoked.
    PasswordChanged,
    /// The owner turned the second factor on.
    MfaEnabled,
    /// The owner turned the second factor off; every other session was revoked.
    MfaDisabled,
    /// The owner replaced the recovery codes.
    RecoveryCodesRegenerated,
    /// A refresh token came back after its successor was issued (outside the grace window):
    /// someone holds a copy. Its session was revoked.
    RefreshReused,
    /// A sign-in from a network the account had not used, let in under policy `notify` (the
    /// owner was mailed). `details`: `{network}`.
    LoginNewIp,
    /// A right TOTP code came back after its time step was used (a double submit, or someone
    /// who saw the code); it was refused and the owner mailed.
    TotpReplayed,
    /// An account was created by a registration (`details`: `{}`; its address is proved by a
    /// later `user.email_verified`, unless verification is off).
    UserRegistered,
    /// Failed passwords for one login name (or, for re-authentication, one account) began a
    /// lockout: further attempts are refused (429) for a while. Written once per lockout,
    /// however many refusals follow; `user_id` when an account has the name. `details`:
    /// `{scope, retry_after_secs}`, `scope` one of `login_name`, `known_network` (the
    /// failures came from a network the account has used), `reauthentication`.
    LoginLocked,
    /// An operator erased the account. Its `user_id`, and that of every earlier event of the
    /// account, is a random pseudonym minted at erasure. `details`: `{actor}`.
    AccountErased,
}

impl EventType {
    /// Every type.
    pub const ALL: [Self; 19] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::SessionsRevoked,
        Self::UserEmailVerified,
        Self::EmailChanged,
        Self::PasswordReset,
        Self::NetworkAuthorized,
        Self::PasswordChanged,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::RefreshReused,
        Self::LoginNewIp,
        Self::AccountErased,
        Self::UserRegistered,
        Self::TotpReplayed,
        Self::LoginLocked,
    ];

    /// Its name in the API and in storage.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::AccountDisabled => "account.disabled",
            Self::AccountEnabled => "account.enabled",
            Self::SessionsRevoked => "session.revoked",
            Self::UserEmailVerified => "user.email_verified",
            Self::EmailChanged => "email.changed",
            Self::PasswordReset => "password.reset",
            Self::NetworkAuthorized => "network.authorized",
            Self::PasswordChanged => "password.changed",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::RecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            Self::RefreshReused => "refresh.reused",
            Self::LoginNewIp => "login.new_ip",
            Self::AccountErased => "account.erased",
            Self::UserRegistered => "user.registered",
            Self::TotpReplayed => "totp.replayed",
            Self::LoginLocked => "login.locked",
        }
    }

    /// The type with this name.
    ///
    /// ```
    /// use portcullis_domain::model::EventType;
    /// for t in EventType::ALL {
    ///     assert_eq!(EventType::from_name(t.name()), Some(t));
    /// }
    /// assert_eq!(EventType::from_name("login.maybe"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// The type and details of an operator (`actor`) disabling (`disable`, for `reason`, ending
/// `revoked` sessions) or enabling an account: one shape for the admin API and the CLI.
///
/// ```
/// use portcullis_domain::model::{EventType, access_change};
/// let (kind, details) = access_change(true, "cli", Some("abuse"), 2);
/// assert_eq!(kind, EventType::AccountDisabled);
/// assert_eq!(details["revoked_sessions"], 2);
/// assert_eq!(access_change(false, "cli", None, 0).0, EventType::AccountEnabled);
/// ```
pub fn access_change(disable: bool, actor: &str, reason: Option<&str>, revoked: u64) -> (EventType, serde_json::Value) {
    if disable {
        let details = serde_json::json!({ "actor": actor, "reason": reason, "revoked_sessions": revoked });
        (EventType::AccountDisabled, details)
    } else {
        (EventType::AccountEnabled, serde_json::json!({ "actor": actor }))
    }
}

/// One audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Its id (UUID v7: time-ordered).
    pub id: Uuid,
    /// What happened.
    pub kind: EventType,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The account, when one is concerned (none for a login to an unknown name).
    pub user_id: Option<UserId>,
    /// The session, when one is concerned.
    pub session_id: Option<SessionId>,
    /// The client's IP.
    pub ip: Option<String>,
    /// The client's user agent (cut to 512 characters).
    pub user_agent: Option<String>,
    /// The request's id (`X-Request-Id`), to find its log lines.
    pub request_id: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// What else the type documents; never a secret.
    pub details: serde_json::Value,
}

/// Which events to read: a tenant's, newest first, optionally one account's, of some types,
/// within a time range, before a cursor.
#[derive(Debug, Clone)]
pub struct EventQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// Only this account's.
    pub user: Option<UserId>,
    /// Only these types (all when empty).
    pub types: Vec<EventType>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only events older than the event with this id (the cursor: the last id of the page
    /// before).
    pub before: Option<Uuid>,
    /// At most this many.
    pub limit: u32,
}

/// Whom an event concerns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject {
    pub(crate) tenant: TenantId,
    pub(crate) user: Option<UserId>,
    pub(crate) session: Option<SessionId>,
}

impl Subject {
    pub(crate) fn user(tenant: TenantId, user: UserId) -> Self {
        Self {
            tenant,
            user: Some(user),
            session: None,
        }
    }
}
