//! Port traits: what the domain needs from the outside world. Adapters implement them and
//! translate their own failures into the errors named here, at their boundary.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::identity::{Email, Password, Username};
use crate::ids::{SessionId, TenantId, UserId};
use crate::one_time::Purpose;
use crate::token::{RefreshDecision, RefreshTokenState, TokenHash};

/// A tenant: accounts, emails and usernames are scoped to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its public slug (`X-Tenant`, `tenant_slug`).
    pub slug: String,
}

/// A user account as the domain sees it. Never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: UserId,
    /// Its tenant.
    pub tenant: Tenant,
    /// Its email address.
    pub email: Email,
    /// Whether the address was verified.
    pub email_verified: bool,
    /// Its username, if one was chosen.
    pub username: Option<Username>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// Public URL of its avatar, if it has one.
    pub avatar_url: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An account with its stored password hash, for credential checks only.
#[derive(Debug, Clone)]
pub struct AccountCredentials {
    /// The account.
    pub account: Account,
    /// Its password hash; `None` when the account has no password (it was verified through a
    /// secret no single registration backed, and no password has been set since).
    pub password: Option<StoredPassword>,
}

/// A stored password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The PHC string.
    pub phc: String,
    /// Made from the password's NFKC form (every hash made now), rather than from the input as
    /// typed (hashes made before passwords were normalised).
    pub normalized: bool,
}

impl StoredPassword {
    /// A hash made now, from a normalised password.
    pub fn new(phc: String) -> Self {
        Self { phc, normalized: true }
    }
}

impl std::fmt::Debug for StoredPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPassword")
            .field("normalized", &self.normalized)
            .finish_non_exhaustive()
    }
}

/// A new account to store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Pre-minted id (UUID v7).
    pub id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its email address.
    pub email: Email,
    /// Whether the address counts as verified from the start.
    pub email_verified: bool,
    /// Its username, if given.
    pub username: Option<Username>,
    /// PHC password hash.
    pub password_hash: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The network it registered from, which counts as known (see [`crate::network`]).
    pub network: Option<String>,
}

/// A login session: one refresh-token chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (`sid`).
    pub id: SessionId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its user.
    pub user_id: UserId,
    /// Authentication methods used at login (`amr`).
    pub amr: Vec<String>,
    /// Client IP at login.
    pub ip: Option<IpAddr>,
    /// Client user agent at login (truncated).
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last refresh.
    pub last_used_at: DateTime<Utc>,
    /// End of its life; no refresh after this.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Live at `now`: not revoked and not expired.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A new session with the hash of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session.
    pub session: Session,
    /// SHA-256 of its first refresh token.
    pub refresh_hash: TokenHash,
}

/// Failures every storage call may return.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or no connection is free in time (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500). The text is for logs only.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// Failures of [`AccountStore::insert_account`].
#[derive(Debug, thiserror::Error)]
pub enum InsertAccountError {
    /// Another account of the tenant has this email (case-insensitively).
    #[error("email taken")]
    EmailTaken,
    /// Another account of the tenant has this username (case-insensitively).
    #[error("username taken")]
    UsernameTaken,
    /// The tenant does not exist.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Infrastructure failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Accounts and tenants.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The tenant with this slug.
    async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError>;

    /// Stores a new account and, when given, its first session, in one transaction: either both
    /// are written or neither. A unique violation must come back as `EmailTaken` /
    /// `UsernameTaken`, never as a generic failure.
    async fn insert_account(
        &self,
        account: NewAccount,
        first_session: Option<NewSession>,
    ) -> Result<Account, InsertAccountError>;

    /// Looks up by email, case-insensitively, within a tenant.
    async fn credentials_by_email(
        &self,
        tenant: TenantId,
        email: &Email,
    ) -> Result<Option<AccountCredentials>, StoreError>;

    /// Looks up by username, case-insensitively, within a tenant.
    async fn credentials_by_username(
        &self,
        tenant: TenantId,
        username: &Username,
    ) -> Result<Option<AccountCredentials>, StoreError>;

    /// The account with this id in this tenant.
    async fn account(&self, tenant: TenantId, user: UserId) -> Result<Option<Account>, StoreError>;

    /// The account with this id in this tenant, with its password hash (re-authentication).
    async fn credentials(&self, tenant: TenantId, user: UserId) -> Result<Option<AccountCredentials>, StoreError>;

    /// Sets the username. A unique violation must come back as `Taken`.
    async fn set_username(
        &self,
        tenant: TenantId,
        user: UserId,
        username: &Username,
        now: DateTime<Utc>,
    ) -> Result<Account, SetUsernameError>;

    /// Replaces a password hash with `new_hash` (made from a normalised password), but only if
    /// it is still `expected` (a rehash must not overwrite a password changed meanwhile).
    /// Returns whether it was replaced.
    async fn replace_password_hash(
        &self,
        tenant: TenantId,
        user: UserId,
        expected: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;
}

/// How many superseded refresh-token hashes a session keeps, to tell reuse from garbage. A token
/// older than that answers `invalid_refresh_token` instead of revoking the session.
pub const KEPT_SUPERSEDED_TOKENS: i64 = 32;

/// What [`SessionStore::refresh`] did.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// The token was the head; its successor is now the head.
    Rotated(Session),
    /// The token was superseded within the grace window; nothing changed. `head` is the hash
    /// of the chain's current head, which the caller answers with.
    Replayed {
        /// The session.
        session: Session,
        /// SHA-256 of the chain's current head token.
        head: TokenHash,
    },
    /// The token was superseded outside the grace window; the session is now revoked.
    Reused(Session),
    /// Unknown token, or its session is revoked or expired.
    Invalid,
}

/// Sessions and refresh-token chains.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The session with this id in this tenant, live or not.
    async fn session(&self, tenant: TenantId, id: SessionId) -> Result<Option<Session>, StoreError>;

    /// Stores a session for an existing account.
    async fn insert_session(&self, session: NewSession) -> Result<Session, StoreError>;

    /// Whether the account has signed in from `network` before.
    async fn is_known_network(&self, tenant: TenantId, user: UserId, network: &str) -> Result<bool, StoreError>;

    /// Stores a session opened from `network`, records the network as known, and enqueues
    /// `notice` (a new-sign-in notice), in one transaction.
    async fn insert_session_from(
        &self,
        session: NewSession,
        network: &str,
        notice: Option<&crate::mail::OutgoingMail>,
    ) -> Result<Session, StoreError>;

    /// Applies a refresh atomically. Under a lock on the token's session, the adapter reads the
    /// token's [`RefreshTokenState`], asks `decide` what to do, and applies that decision:
    /// `Rotate` stores `successor` as the head (marking the presented token superseded at `now`),
    /// sets `last_used_at`, and may forget superseded hashes older than the last
    /// [`KEPT_SUPERSEDED_TOKENS`]; `Replay` changes nothing but `last_used_at` and reports the
    /// head; `Reuse` revokes the session at `now`; `Dead` changes nothing. An unknown `presented`
    /// hash is `Invalid`.
    async fn refresh(
        &self,
        presented: TokenHash,
        successor: TokenHash,
        now: DateTime<Utc>,
        decide: &(dyn Fn(RefreshTokenState) -> RefreshDecision + Send + Sync),
    ) -> Result<RefreshOutcome, StoreError>;

    /// Revokes one session of this user (no-op if already revoked). Returns whether it was live.
    async fn revoke_session(
        &self,
        tenant: TenantId,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The user's live sessions (not revoked, not expired at `now`), most recently used first.
    async fn live_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;

    /// Revokes the user's live sessions that `selection` names; only ever this user's. Returns
    /// how many.
    async fn revoke_selected(
        &self,
        tenant: TenantId,
        user: UserId,
        selection: &SessionSelection,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Revokes every live session of this user, except `keep`. Returns how many.
    async fn revoke_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Which of a user's sessions to revoke: the union of `all`, `ids` and the sessions of
/// `refresh_tokens`, minus `keep`.
#[derive(Debug, Clone, Default)]
pub struct SessionSelection {
    /// Every live session.
    pub all: bool,
    /// These sessions.
    pub ids: Vec<SessionId>,
    /// The sessions these refresh tokens (hashed; current or superseded) belong to.
    pub refresh_tokens: Vec<TokenHash>,
    /// Never this one.
    pub keep: Option<SessionId>,
}

/// Failures of [`AccountStore::set_username`].
#[derive(Debug, thiserror::Error)]
pub enum SetUsernameError {
    /// Another account of the tenant has it (case-insensitively).
    #[error("username taken")]
    Taken,
    /// The account is gone.
    #[error("no such account")]
    NoAccount,
    /// Infrastructure failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Server-wide secrets that every node must share (generated signing key, refresh key).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Returns the secret stored under `name`; if there is none, stores `candidate` and returns
    /// it. Concurrent first calls from several nodes must all get the same value.
    async fn get_or_create_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>, StoreError>;
}

/// Readiness.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Succeeds when storage answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What storage keeps of an account's TOTP.
#[derive(Clone)]
pub struct TotpRecord {
    /// The encrypted secret (see [`crate::mfa::MfaSettings::seal`]).
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

/// What [`MfaStore::accept_totp_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step was newer than every step accepted before; it is now the last accepted one.
    Accepted,
    /// This step (or a later one) was accepted already.
    Replayed,
}

/// What [`MfaStore::disable_totp`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disabled {
    /// Disabled; this many other sessions were revoked.
    Done(u64),
    /// The second factor was not enabled (any more): nothing changed.
    NotEnabled,
    /// The recovery code to spend was used meanwhile: nothing changed.
    CodeUsed,
}

/// Second factors.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The account's TOTP, active or pending.
    async fn totp(&self, tenant: TenantId, user: UserId) -> Result<Option<TotpRecord>, StoreError>;

    /// Stores a pending (inactive) secret, replacing a pending one. `false`, and nothing
    /// written, if an active one exists.
    async fn put_pending_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Activates the pending secret with `step` as its last accepted step, marks the account's
    /// second factor enabled and replaces its recovery codes, in one transaction. `false` if
    /// there was no pending secret, or it is no longer `sealed` (a concurrent enrolment
    /// replaced the secret the code was checked against).
    async fn activate_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        sealed: &[u8],
        step: i64,
        recovery_codes: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Atomically accepts `step` if it is newer than the last accepted step; clears the
    /// failure count and any lock when accepted. Of concurrent calls with one step, exactly one
    /// is `Accepted`. Only called after [`MfaStore::reserve_mfa_attempt`] let the attempt in.
    /// A `Replayed` step hands its reserved attempt back (a right code sent twice is no guess),
    /// lifting a lock that only it completed (`max_failures` in a row).
    async fn accept_totp_step(
        &self,
        tenant: TenantId,
        user: UserId,
        step: i64,
        max_failures: u32,
        now: DateTime<Utc>,
    ) -> Result<StepOutcome, StoreError>;

    /// Counts an attempt at the second factor before its code is checked, in one statement,
    /// so concurrent guesses cannot all slip in under the limit: `Err(until)` when the second
    /// factor is locked at `now`; otherwise the attempt is counted and the `max_failures`-th in
    /// a row locks until `lock_until` (it is itself still checked). A lock that has run out
    /// starts the count again. A right code clears the count ([`MfaStore::accept_totp_step`],
    /// [`MfaStore::use_recovery_code`]). `Ok(Some(n))`: this attempt locked the second factor,
    /// the `n`-th lock in a row without a right code between.
    async fn reserve_mfa_attempt(
        &self,
        tenant: TenantId,
        user: UserId,
        max_failures: u32,
        lock_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Result<Option<u32>, DateTime<Utc>>, StoreError>;

    /// Marks that the owner has been told their second factor keeps being locked; `true` only
    /// for the first call since the last right code (so the owner is told once per streak).
    async fn claim_lock_notice(&self, tenant: TenantId, user: UserId) -> Result<bool, StoreError>;

    /// Uses up a recovery code; `false` if the account has no such unused code. On success the
    /// failure count, any lock and the streak of locks are cleared. Locks the account's TOTP
    /// row before its codes, as every change to the second factor does.
    async fn use_recovery_code(
        &self,
        tenant: TenantId,
        user: UserId,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Whether the account has this unused recovery code, without using it up.
    async fn has_recovery_code(&self, tenant: TenantId, user: UserId, code: &TokenHash) -> Result<bool, StoreError>;

    /// Replaces the account's recovery codes.
    async fn replace_recovery_codes(
        &self,
        tenant: TenantId,
        user: UserId,
        codes: &[TokenHash],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// In one transaction: uses up `spend` (a recovery code presented to disable, when it is
    /// one), deletes the secret and the recovery codes, marks the second factor disabled, and
    /// revokes every live session but `keep`. Locks the TOTP row before the codes, as every
    /// change to the second factor does, so it never deadlocks with a login spending a code.
    async fn disable_totp(
        &self,
        tenant: TenantId,
        user: UserId,
        keep: SessionId,
        spend: Option<&TokenHash>,
        now: DateTime<Utc>,
    ) -> Result<Disabled, StoreError>;
}

/// Everything the domain needs from storage, as one object.
pub trait Storage:
    AccountStore
    + SessionStore
    + SecretStore
    + OneTimeStore
    + RegistrationStore
    + MailRequestStore
    + MfaStore
    + crate::mail::OutboxStore
    + HealthCheck
{
}
impl<
    T: AccountStore
        + SessionStore
        + SecretStore
        + OneTimeStore
        + RegistrationStore
        + MailRequestStore
        + MfaStore
        + crate::mail::OutboxStore
        + HealthCheck,
> Storage for T
{
}

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
        notices: Vec<crate::mail::OutgoingMail>,
    },
    /// Record the secret's scope (a network) as known for the account. Logs nobody in.
    AuthorizeNetwork,
    /// Replace the password hash, mark the address verified (the mail proved it), revoke every
    /// session, forget the account's other pending secrets and registrations, enqueue `notice`.
    ResetPassword {
        /// The new PHC hash.
        password_hash: String,
        /// Mail to enqueue in the same transaction.
        notice: crate::mail::OutgoingMail,
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
        })
    }
}

/// The verdict on the candidate secrets of one presentation.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// The candidate at `index` is right and alive: apply `redemption`, then delete it (unless
    /// it is [`Redemption::Check`]).
    Accept {
        /// Its place among the candidates.
        index: usize,
        /// What to apply.
        redemption: Redemption,
    },
    /// None is accepted; count a failed attempt against each candidate at `wrong`.
    Refuse {
        /// Places among the candidates of those whose code was wrong.
        wrong: Vec<usize>,
    },
}

/// What [`OneTimeStore::redeem_secret`] did.
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
    },
    /// No candidate was accepted.
    Refused,
    /// An email change was accepted, but the address now belongs to another account; nothing
    /// was changed.
    EmailTaken,
}

/// A registration, recorded by `register` and fulfilled later by the mail worker (see
/// [`RegistrationStore`]).
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
        verification: Option<(NewOneTimeSecret, crate::mail::OutgoingMail)>,
    },
    /// A verified account has the address: enqueue this notice to its owner, if any.
    Notify(Option<crate::mail::OutgoingMail>),
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
    /// verification), and an account keeps its newest [`MAX_PENDING_REGISTRATIONS`]
    /// registrations (older ones go with their secrets). Returns whether there was a request.
    async fn fulfil_registration(
        &self,
        plan: &(dyn for<'a, 'b> Fn(&'a RegistrationRequest, Option<&'b Account>) -> RegistrationPlan + Send + Sync),
    ) -> Result<bool, StoreError>;
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

/// A request for a mail that goes out only if an account qualifies (see [`MailRequestStore`]).
#[derive(Debug, Clone)]
pub struct MailRequest {
    /// Its id.
    pub id: uuid::Uuid,
    /// Tenant the address is looked up in.
    pub tenant_id: TenantId,
    /// [`Purpose::VerifyEmail`] (resend) or [`Purpose::ResetPassword`] (forgot).
    pub purpose: Purpose,
    /// The address given.
    pub email: Email,
    /// The client network the request came from.
    pub network: Option<String>,
    /// When.
    pub requested_at: DateTime<Utc>,
}

/// What fulfilling a mail request writes: a secret and its mail, or nothing.
pub type RequestFulfilment = Option<(NewOneTimeSecret, crate::mail::OutgoingMail)>;

/// The domain's decision on a mail request, reached asynchronously (it may consult the
/// recipient's mail budget, which only a mail that really goes out spends).
pub type Fulfilling = std::pin::Pin<Box<dyn std::future::Future<Output = RequestFulfilment> + Send>>;

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
        mail: &crate::mail::OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Stores `secret`, replacing the account's live secret of the same purpose and scope, and
    /// enqueues `mails`.
    async fn issue_secret(
        &self,
        secret: NewOneTimeSecret,
        mails: &[crate::mail::OutgoingMail],
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

/// What [`OneTimeStore::purge`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Dead one-time secrets.
    pub secrets: u64,
    /// Accounts that never verified their address.
    pub unverified_accounts: u64,
}

/// A change of password, for [`OneTimeStore::change_password`].
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
    pub notice: crate::mail::OutgoingMail,
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
