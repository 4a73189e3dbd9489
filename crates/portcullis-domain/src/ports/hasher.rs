//! Password hashing and screening.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::Duration;

use crate::identity::Password;
use crate::ids::{TenantId, UserId};

/// Result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The password matches.
    pub matches: bool,
    /// It matches, but the hash was made with other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// Failures of the password hasher.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No hashing slot became free in time; the caller should retry after `retry_after`.
    #[error("password hashing is at capacity")]
    Busy {
        /// A hint for `Retry-After`.
        retry_after: Duration,
    },
    /// Anything else.
    #[error("password hashing failed: {0}")]
    Internal(String),
}

/// On whose behalf a hash is made: a signed-in account, or an anonymous client network. The
/// hasher queues work fairly between owners, so no one owner crowds everyone else out.
///
/// ```
/// use portcullis_domain::{HashOwner, TenantId, UserId};
/// let user = UserId::from_uuid(uuid::Uuid::nil());
/// assert_ne!(HashOwner::account(TenantId::DEFAULT, user), HashOwner::client(Some("192.0.2.1".parse().unwrap())));
/// assert_eq!(HashOwner::client(Some("2001:db8::1".parse().unwrap())), HashOwner::client(Some("2001:db8::2".parse().unwrap())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HashOwner(String);

impl HashOwner {
    /// Work for a signed-in account.
    pub fn account(tenant: TenantId, user: UserId) -> Self {
        Self(format!("account:{tenant}:{user}"))
    }

    /// Work for an anonymous client, by its network (an IPv4 address or an IPv6 /64).
    pub fn client(ip: Option<IpAddr>) -> Self {
        Self(format!(
            "client:{}",
            ip.map_or_else(|| "unknown".to_owned(), crate::network::network_of)
        ))
    }

    /// The owner as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Password hashing. Implementations must not block the async executor, must bound the number
/// of hashes in flight, must share capacity fairly between [`HashOwner`]s (an owner may use
/// idle capacity, but while others wait it holds no more than its share), and must spend the
/// same time on `verify(_, None, _)` as on a real check. When it cannot take the work in time
/// it returns [`HashError::Busy`].
#[async_trait]
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    /// Hashes a new password into a PHC string.
    async fn hash(&self, password: &Password, owner: &HashOwner) -> Result<String, HashError>;

    /// Checks `password` against `stored`. With `stored = None` (no such account) it checks
    /// against a dummy hash with the configured parameters and reports no match, so the
    /// caller's timing does not reveal whether the account exists.
    async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
        owner: &HashOwner,
    ) -> Result<Verification, HashError>;

    /// Whether a hash for `owner` would be admitted now: a hint, not a reservation, so a
    /// caller can refuse at once the work it would otherwise do only to be refused by the
    /// hasher (a login flood then costs no database look-up per refusal). The default says yes.
    fn has_room(&self, owner: &HashOwner) -> bool {
        let _ = owner;
        true
    }
}

/// Screens new passwords: refuses ones that are too common to be safe (in a list of the most
/// common passwords, or known from breaches). Implementations must be quick for the list and
/// must never fail a request because of their own trouble: a breach service that cannot answer
/// lets the password through and logs why.
#[async_trait]
pub trait PasswordScreen: Send + Sync + std::fmt::Debug {
    /// Whether `password` is too common to accept.
    async fn is_common(&self, password: &Password) -> bool;
}
