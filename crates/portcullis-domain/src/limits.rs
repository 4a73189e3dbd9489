//! The rate-limit port: how often something may happen per key (a client network, an account,
//! a mail recipient) before it is held back.
//!
//! The in-process adapter keeps counters per process, shared by every HTTP worker; a shared
//! store for several nodes implements the same trait, and nothing that calls it changes.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;

/// What is being counted. Each has its own quota and its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    /// Login attempts per client network.
    Login,
    /// Registrations per client network.
    Register,
    /// Password-reset mail requests per client network.
    PasswordResetRequest,
    /// Verification-mail resend requests per client network.
    VerificationResend,
    /// Requests for a login code by mail per client network.
    LoginCodeRequest,
    /// Code and token submissions (verify-email, password verify/reset, authorize-ip) per
    /// client network.
    SecretSubmission,
    /// Failed password checks per login name (the address or username as typed, whether or not
    /// an account has it) and, for re-authentication, per account.
    FailedLogin,
    /// Mails per recipient per minute.
    MailPerMinute,
    /// Mails per recipient per day.
    MailPerDay,
    /// Requests to the endpoints that re-authenticate a signed-in user (password change, email
    /// change, disabling TOTP, new recovery codes), per account.
    Reauthentication,
    /// Email-change requests per account.
    EmailChange,
    /// Avatar uploads per account (each one costs an image decode and a write).
    AvatarUpload,
}

impl Limit {
    /// Every limit.
    pub const ALL: [Self; 12] = [
        Self::Login,
        Self::Register,
        Self::PasswordResetRequest,
        Self::VerificationResend,
        Self::LoginCodeRequest,
        Self::SecretSubmission,
        Self::FailedLogin,
        Self::MailPerMinute,
        Self::MailPerDay,
        Self::Reauthentication,
        Self::EmailChange,
        Self::AvatarUpload,
    ];

    /// A short name for logs and config.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::PasswordResetRequest => "password_reset_request",
            Self::VerificationResend => "verification_resend",
            Self::LoginCodeRequest => "login_code_request",
            Self::SecretSubmission => "secret_submission",
            Self::FailedLogin => "failed_login",
            Self::MailPerMinute => "mail_per_minute",
            Self::MailPerDay => "mail_per_day",
            Self::Reauthentication => "reauthentication",
            Self::EmailChange => "email_change",
            Self::AvatarUpload => "avatar_upload",
        }
    }
}

/// How many events a limit allows in a period. `count == 0` disables the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Events allowed per period (the burst); 0 = unlimited.
    pub count: u32,
    /// The period over which `count` events replenish.
    pub period: Duration,
}

impl Quota {
    /// `count` per `period`.
    pub const fn new(count: u32, period: Duration) -> Self {
        Self { count, period }
    }

    /// Whether this quota limits anything.
    pub const fn is_enabled(&self) -> bool {
        self.count > 0 && !self.period.is_zero()
    }
}

/// Back-off after consecutive failures on one key: the first `after` failures cost nothing
/// more than their count; then each further one makes the key wait `first`, doubled for every
/// failure after that, up to `max`. A success ends the streak, and a streak whose last failure
/// is older than [`Backoff::forget_after`] is forgotten, so nobody is ever locked out for good:
/// at worst one attempt comes back every `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures in a row that are free of back-off.
    pub after: u32,
    /// The wait after the first failure beyond `after`.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures, counted from the last one.
    ///
    /// ```
    /// use std::time::Duration;
    /// use portcullis_domain::limits::Backoff;
    /// let b = Backoff { after: 3, first: Duration::from_secs(1), max: Duration::from_secs(900) };
    /// assert_eq!(b.wait(3), Duration::ZERO);
    /// assert_eq!(b.wait(4), Duration::from_secs(1));
    /// assert_eq!(b.wait(6), Duration::from_secs(4));
    /// assert_eq!(b.wait(40), Duration::from_secs(900));
    /// ```
    pub fn wait(&self, failures: u32) -> Duration {
        let Some(beyond) = failures.checked_sub(self.after).filter(|n| *n > 0) else {
            return Duration::ZERO;
        };
        let doublings = (beyond - 1).min(30);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// How long after its last failure a streak is forgotten: twice the longest wait.
    pub fn forget_after(&self) -> Duration {
        self.max.saturating_mul(2)
    }

    /// Whether this back-off ever makes anyone wait.
    pub fn is_enabled(&self) -> bool {
        !self.max.is_zero() && !self.first.is_zero()
    }
}

/// The answer to one counted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Let through; `remaining` more would be let through right now.
    Allowed {
        /// The quota's count (for `RateLimit-Limit`).
        limit: u32,
        /// Events left before the limit is reached (for `RateLimit-Remaining`).
        remaining: u32,
    },
    /// Held back; try again after `retry_after`.
    Limited {
        /// The quota's count.
        limit: u32,
        /// Until the next event would be allowed.
        retry_after: Duration,
    },
    /// The limit is disabled.
    Unlimited,
}

impl RateDecision {
    /// Whether the event may go ahead.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Self::Limited { .. })
    }
}

/// Counts events per key and says when a key has had too many.
///
/// Keys are opaque strings the caller builds (see [`client_key`]). Implementations must be
/// safe to share between every worker of a process, keep memory bounded (forget keys that are
/// back to a fresh state), and never fail a request because of their own trouble: a store that
/// cannot answer lets the event through and logs why.
#[async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one event for `key` under `limit` and says whether it may go ahead. A refused
    /// event is not counted.
    async fn hit(&self, limit: Limit, key: &str) -> RateDecision;

    /// Without counting anything: `Some(wait)` when an event for `key` under `limit` would be
    /// refused now. For limits that count only failures (failed logins), checked before the
    /// attempt.
    async fn held_back(&self, limit: Limit, key: &str) -> Option<Duration>;

    /// Starts an attempt that counts only if it fails (see [`end_attempt`](Self::end_attempt)):
    /// `Err(wait)` when `key` is held back now (its quota is used up, or its back-off runs), or
    /// when another attempt on `key` is still in progress (so a burst of concurrent guesses
    /// cannot all pass the check before the first failure is counted); otherwise a permit for
    /// this attempt. It never waits: a refusal is answered at once.
    ///
    /// The default does not see attempts in progress; an implementation that can should.
    async fn begin_attempt(&self, limit: Limit, key: &str) -> Result<AttemptPermit, Duration> {
        match self.held_back(limit, key).await {
            Some(wait) => Err(wait),
            None => Ok(AttemptPermit::unguarded()),
        }
    }

    /// Ends an attempt begun with [`begin_attempt`](Self::begin_attempt): a failure counts
    /// against the quota and lengthens the key's back-off; a success ends the back-off.
    ///
    /// The default counts a failure with [`hit`](Self::hit) and has no back-off.
    async fn end_attempt(&self, limit: Limit, key: &str, permit: AttemptPermit, succeeded: bool) {
        if !succeeded {
            self.hit(limit, key).await;
        }
        drop(permit);
    }
}

/// Held for the length of one attempt begun with [`RateLimiter::begin_attempt`]; dropping it
/// lets the next attempt on the same key go ahead.
#[must_use = "the attempt ends when the permit is dropped"]
pub struct AttemptPermit(Option<Box<dyn std::any::Any + Send + Sync>>);

impl AttemptPermit {
    /// A permit that holds `guard` (a lock, a lease) until it is dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Some(Box::new(guard)))
    }

    /// A permit that holds nothing.
    pub fn unguarded() -> Self {
        Self(None)
    }

    /// The guard this permit holds, when it is a `G`: how a store that issued the permit takes
    /// it back in [`RateLimiter::end_attempt`] (a shared store ends the attempt it leased, in
    /// the same step that counts it). Any other permit comes back unchanged.
    ///
    /// ```
    /// use portcullis_domain::limits::AttemptPermit;
    /// let permit = AttemptPermit::new(7_u32);
    /// let permit = permit.into_guard::<String>().unwrap_err();
    /// assert_eq!(permit.into_guard::<u32>().ok(), Some(7));
    /// ```
    pub fn into_guard<G: 'static>(self) -> Result<G, Self> {
        match self.0 {
            Some(guard) => match guard.downcast::<G>() {
                Ok(guard) => Ok(*guard),
                Err(other) => Err(Self(Some(other))),
            },
            None => Err(self),
        }
    }
}

impl std::fmt::Debug for AttemptPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptPermit")
            .field("guarded", &self.0.is_some())
            .finish()
    }
}

/// A limiter that never limits: for embedding the domain where limits are someone else's job.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLimits;

#[async_trait]
impl RateLimiter for NoLimits {
    async fn hit(&self, _limit: Limit, _key: &str) -> RateDecision {
        RateDecision::Unlimited
    }

    async fn held_back(&self, _limit: Limit, _key: &str) -> Option<Duration> {
        None
    }
}

/// The key of a client for per-client limits: its network as the new-IP policy sees it (an
/// IPv4 address, or an IPv6 /64, so a client cannot step around a limit by hopping addresses
/// inside its own prefix).
///
/// ```
/// use portcullis_domain::limits::client_key;
/// let a = client_key("2001:db8:1:2::1".parse().unwrap());
/// let b = client_key("2001:db8:1:2:ffff::9".parse().unwrap());
/// assert_eq!(a, b);
/// assert_ne!(client_key("192.0.2.1".parse().unwrap()), client_key("192.0.2.2".parse().unwrap()));
/// ```
pub fn client_key(ip: IpAddr) -> String {
    crate::network::network_of(ip)
}
