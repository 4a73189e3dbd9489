//! Outgoing mail: what it is for, and a rendered mail ready for the outbox.

use uuid::Uuid;

use crate::ids::TenantId;

/// What a mail is for; also the outbox's `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// Link and code to verify a new account's address.
    SignupVerification,
    /// Someone tried to register with an address that already has an account.
    ExistingAccountNotice,
    /// Link and code to confirm a new address, sent to that address.
    EmailChangeVerification,
    /// A change of address was asked for; sent to the current one.
    EmailChangeRequestedNotice,
    /// The address was changed; sent to the old one.
    EmailChangedNotice,
    /// Link and code to reset a password.
    PasswordReset,
    /// The password was changed.
    PasswordChangedNotice,
    /// Link and code to authorize a login from a new IP address.
    IpAuthorization,
    /// A sign-in from a new IP address happened (policy `notify`).
    NewSignInNotice,
    /// A TOTP code was presented again after it had been used: someone may have seen it.
    TotpReplayNotice,
    /// Wrong codes locked the second factor again and again.
    TotpLockedNotice,
    /// The code that verifies a customer's address at tenant signup (no link).
    SignupCode,
    /// A code to log in without a password (no link).
    LoginCode,
}

impl MailKind {
    /// Every kind.
    pub const ALL: [Self; 13] = [
        Self::SignupVerification,
        Self::ExistingAccountNotice,
        Self::EmailChangeVerification,
        Self::EmailChangeRequestedNotice,
        Self::EmailChangedNotice,
        Self::PasswordReset,
        Self::PasswordChangedNotice,
        Self::IpAuthorization,
        Self::NewSignInNotice,
        Self::TotpReplayNotice,
        Self::TotpLockedNotice,
        Self::SignupCode,
        Self::LoginCode,
    ];

    /// Stable name, as stored.
    ///
    /// ```
    /// use portcullis_domain::MailKind;
    /// for kind in MailKind::ALL {
    ///     assert_eq!(MailKind::from_name(kind.name()), Some(kind));
    /// }
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Self::SignupVerification => "signup_verification",
            Self::ExistingAccountNotice => "existing_account_notice",
            Self::EmailChangeVerification => "email_change_verification",
            Self::EmailChangeRequestedNotice => "email_change_requested_notice",
            Self::EmailChangedNotice => "email_changed_notice",
            Self::PasswordReset => "password_reset",
            Self::PasswordChangedNotice => "password_changed_notice",
            Self::IpAuthorization => "ip_authorization",
            Self::NewSignInNotice => "new_sign_in_notice",
            Self::TotpReplayNotice => "totp_replay_notice",
            Self::TotpLockedNotice => "totp_locked_notice",
            Self::SignupCode => "signup_code",
            Self::LoginCode => "login_code",
        }
    }

    /// The kind with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A rendered mail, ready for the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Outbox id; the transport derives the `Message-ID` from it, so a retried mail keeps its id.
    pub id: Uuid,
    /// Tenant of the account it concerns.
    pub tenant_id: TenantId,
    /// Recipient address.
    pub to: String,
    /// Sender (`Name <address>`) of the tenant's brand; `None` sends as the transport's
    /// configured sender.
    pub from: Option<String>,
    /// Purpose.
    pub kind: MailKind,
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

impl std::fmt::Debug for OutgoingMail {
    // Bodies carry one-time links and codes: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
