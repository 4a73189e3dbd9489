//! The second factor as stored.

use chrono::{DateTime, Utc};

use crate::ids::{TenantId, UserId};

/// What storage keeps of an account's TOTP.
#[derive(Clone)]
pub struct TotpRecord {
    /// The encrypted secret (see [`crate::totp::MfaSettings::seal`]).
    pub secret_sealed: Vec<u8>,
    /// Activated (a first code was confirmed).
    pub enabled: bool,
    /// Locked until then after too many wrong codes.
    pub locked_until: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("enabled", &self.enabled)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// A stored TOTP secret (active or pending), as sealed, for re-encryption under a new key.
#[derive(Clone)]
pub struct SealedTotp {
    /// Its account's tenant.
    pub tenant: TenantId,
    /// Its account.
    pub user: UserId,
    /// The encrypted secret.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTotp")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// What [`MfaStore::accept_totp_step`](crate::ports::MfaStore::accept_totp_step) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step was newer than every step accepted before; it is now the last accepted one.
    Accepted,
    /// This step (or a later one) was accepted already.
    Replayed,
}

/// What [`MfaStore::disable_totp`](crate::ports::MfaStore::disable_totp) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disabled {
    /// Disabled; this many other sessions were revoked.
    Done(u64),
    /// The second factor was not enabled (any more): nothing changed.
    NotEnabled,
    /// The recovery code to spend was used meanwhile: nothing changed.
    CodeUsed,
}
