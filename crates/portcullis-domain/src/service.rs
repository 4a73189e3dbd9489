//! The use cases: register, log in, refresh, authenticate a bearer token, log out.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::identity::{Email, LoginId, Password, Username};
use crate::ids::{SessionId, TenantId, UserId};
use crate::limits::Limit;
use crate::one_time::OneTimeSecrets;
use crate::ports::{
    Account, HashError, HashOwner, InsertAccountError, NewAccount, NewSession, PasswordHasher, PasswordScreen,
    RefreshOutcome, Session, Storage, StoreError, StoredPassword, Tenant,
};
use crate::random::{SecureRandom, random_array};
use crate::templates::MailBranding;
use crate::token::{
    AccessClaims, JwtKeys, KeyError, RefreshKey, RefreshToken, TokenError, TokenPolicy, TokenSubject, decide_refresh,
};

/// How many rotations a replayed token may lag behind the head and still be answered (within
/// the grace window).
const MAX_REPLAY_STEPS: usize = 8;

/// Longest user agent kept with a session; the rest is cut.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Infrastructure failures any use case can end in.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// Storage unreachable or saturated (503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Hashing saturated (503 with `Retry-After`).
    #[error("password hashing at capacity")]
    Busy {
        /// Seconds to suggest in `Retry-After`.
        retry_after_secs: u64,
    },
    /// A bug or an unexpected failure (500). The text goes to logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for InfraError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            StoreError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<HashError> for InfraError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy { retry_after } => Self::Busy {
                retry_after_secs: u64::try_from(retry_after.num_seconds().max(1)).unwrap_or(1),
            },
            HashError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<KeyError> for InfraError {
    fn from(e: KeyError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Failures of [`AuthService::register`].
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// 409 `email_taken`.
    #[error("email taken")]
    EmailTaken,
    /// 409 `username_taken`.
    #[error("username taken")]
    UsernameTaken,
    /// 404: the tenant vanished between resolution and insert.
    #[error("unknown tenant")]
    UnknownTenant,
    /// 422 `too_common` on `password`: a common or breached password.
    #[error("password too common")]
    PasswordTooCommon,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Failures of [`AuthService::login`].
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// 401 `invalid_credentials`: unknown account or wrong password, indistinguishably.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 403 `email_not_verified`: right credentials, but the address is not verified yet.
    #[error("email not verified")]
    EmailNotVerified,
    /// The second factor is missing (403 `mfa_required`), wrong or locked.
    #[error(transparent)]
    SecondFactor(crate::mfa::MfaError),
    /// 403 `ip_authorization_required`: right credentials from a network the account has not
    /// used, under policy `require`; a mail with a link and code is on its way (unless one for
    /// this network still lives).
    #[error("ip authorization required")]
    IpAuthorizationRequired,
    /// 429: too many failed logins for this account (or, for a name no account has, for that
    /// name, so the answer is the same). Checked before the password, so the account's owner
    /// is not locked out for good: one more attempt comes back every period / count.
    #[error("too many failed logins")]
    Throttled {
        /// Until the next attempt is allowed.
        retry_after: std::time::Duration,
    },
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Failures of [`AuthService::refresh`].
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// 401 `invalid_refresh_token`: unknown, malformed, or its session is over.
    #[error("invalid refresh token")]
    Invalid,
    /// 401 `refresh_token_reused`: a superseded token came back after the grace window; the
    /// session has been revoked.
    #[error("refresh token reused; session revoked")]
    Reused,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Failures of [`AuthService::authenticate`].
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// 401: the token does not verify.
    #[error("invalid access token: {0}")]
    Token(#[from] TokenError),
    /// 401: its session is revoked, expired or unknown.
    #[error("session is no longer active")]
    SessionEnded,
    /// Infrastructure.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// What a registration led to.
// Built once per request and moved straight into the response; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Registered {
    /// Email verification is off: the account is active and logged in.
    Active(Account, TokenPair),
    /// Email verification is on, and a mail is on its way: a verification to a new address, or
    /// a notice to the owner of an existing one. The answer must not say which.
    MailSent,
}

/// Who is calling and from where; recorded with sessions.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// A fresh access token and refresh token.
#[derive(Debug)]
pub struct TokenPair {
    /// Signed JWT.
    pub access_token: String,
    /// When it expires.
    pub access_expires_at: DateTime<Utc>,
    /// Its lifetime in seconds from issue (`expires_in`).
    pub expires_in: i64,
    /// Opaque refresh token.
    pub refresh_token: RefreshToken,
    /// The session both belong to.
    pub session: Session,
}

/// The caller behind a verified bearer token whose session is live.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The verified claims.
    pub claims: AccessClaims,
    /// The live session.
    pub session: Session,
}

/// A registration that passed edge validation.
#[derive(Debug)]
pub struct Registration {
    /// The tenant, already resolved.
    pub tenant: Tenant,
    /// Email address.
    pub email: Email,
    /// Password.
    pub password: Password,
    /// Optional username.
    pub username: Option<Username>,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    /// Only the caller's session.
    #[default]
    Local,
    /// Every session of the user except the caller's.
    Others,
    /// Every session of the user.
    Global,
}

/// Everything the use cases need, wired once by the composition root.
#[derive(Clone)]
pub struct AuthDeps {
    /// Storage port.
    pub store: Arc<dyn Storage>,
    /// Hasher port.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Refuses common and breached new passwords.
    pub screen: Arc<dyn PasswordScreen>,
    /// Clock port.
    pub clock: Arc<dyn Clock>,
    /// Randomness port.
    pub rng: Arc<dyn SecureRandom>,
    /// Signing and verification keys.
    pub keys: Arc<JwtKeys>,
    /// Refresh successor key.
    pub refresh_key: RefreshKey,
    /// Token settings.
    pub policy: TokenPolicy,
    /// Mints and checks one-time secrets of mail flows.
    pub one_time: OneTimeSecrets,
    /// Product name and front-end link templates of mails.
    pub branding: MailBranding,
    /// Whether a new account must verify its address before it can log in.
    pub require_email_verification: bool,
    /// Second-factor keys and limits.
    pub mfa: crate::mfa::MfaSettings,
    /// What a sign-in from an unknown network does.
    pub new_ip_policy: crate::network::NewIpPolicy,
    /// Counts failed logins per account and mails per recipient.
    pub limiter: Arc<dyn crate::limits::RateLimiter>,
    /// How long an account may stay unverified (since its last registration) before it is
    /// deleted.
    pub unverified_account_ttl: chrono::Duration,
}

impl std::fmt::Debug for AuthDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthDeps")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The account, session and token use cases.
#[derive(Debug, Clone)]
pub struct AuthService {
    pub(crate) deps: AuthDeps,
}

impl AuthService {
    /// Builds the service from its ports.
    pub fn new(deps: AuthDeps) -> Self {
        Self { deps }
    }

    /// Token settings in force.
    pub fn policy(&self) -> &TokenPolicy {
        &self.deps.policy
    }

    /// Keys in force (for JWKS).
    pub fn keys(&self) -> &JwtKeys {
        &self.deps.keys
    }

    /// The current time by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.deps.clock.now()
    }

    /// Resolves a tenant slug; `None` when no tenant has it.
    pub async fn tenant(&self, slug: &str) -> Result<Option<Tenant>, InfraError> {
        Ok(self.deps.store.tenant_by_slug(slug).await?)
    }

    /// Storage readiness.
    pub async fn ready(&self) -> Result<(), InfraError> {
        Ok(self.deps.store.ping().await?)
    }

    pub(crate) fn new_id(&self) -> Uuid {
        // UUID v7: time-ordered (our clock) with random bits from the randomness port.
        let now = self.deps.clock.now();
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(millis, &random_array::<10>(&*self.deps.rng)).into_uuid()
    }

    fn new_session(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        amr: Vec<String>,
        client: &ClientInfo,
    ) -> (NewSession, RefreshToken) {
        let refresh = RefreshToken::generate(&*self.deps.rng);
        let id = SessionId::from_uuid(self.new_id());
        (self.session_for(id, tenant_id, user_id, amr, client, &refresh), refresh)
    }

    /// A session with a given id and first refresh token (for sessions opened inside a storage
    /// transaction, whose account is only known there).
    pub(crate) fn session_for(
        &self,
        id: SessionId,
        tenant_id: TenantId,
        user_id: UserId,
        amr: Vec<String>,
        client: &ClientInfo,
        refresh: &RefreshToken,
    ) -> NewSession {
        let now = self.deps.clock.now();
        let session = Session {
            id,
            tenant_id,
            user_id,
            amr,
            ip: client.ip,
            user_agent: client
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            created_at: now,
            last_used_at: now,
            expires_at: now + self.deps.policy.session_ttl,
            revoked_at: None,
        };
        NewSession {
            session,
            refresh_hash: refresh.hash(),
        }
    }

    pub(crate) fn pair(&self, session: Session, refresh_token: RefreshToken) -> Result<TokenPair, InfraError> {
        let subject = TokenSubject {
            user_id: session.user_id,
            session_id: session.id,
            tenant_id: session.tenant_id,
            amr: &session.amr,
        };
        let issued_at = self.deps.clock.now();
        let (access_token, access_expires_at) =
            self.deps
                .keys
                .issue(&self.deps.policy, &subject, issued_at, &*self.deps.rng)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            expires_in: (access_expires_at - issued_at).num_seconds(),
            refresh_token,
            session,
        })
    }

    /// Creates an account. With email verification required, the account waits for
    /// [`AuthService::verify_email`] and a mail goes out (see [`Registered::MailSent`]);
    /// otherwise its email counts as verified and it is logged in at once. The password is
    /// hashed before anything is written, on both paths.
    pub async fn register(&self, reg: Registration, client: &ClientInfo) -> Result<Registered, RegisterError> {
        if self.too_common(&reg.password).await {
            return Err(RegisterError::PasswordTooCommon);
        }
        if self.deps.require_email_verification
            && let Some(name) = &reg.username
            && self
                .deps
                .store
                .username_taken(reg.tenant.id, name)
                .await
                .map_err(InfraError::from)?
        {
            // Asked whatever the address, so the answer says nothing about it.
            return Err(RegisterError::UsernameTaken);
        }
        let password_hash = self
            .deps
            .hasher
            .hash(&reg.password, &HashOwner::client(client.ip))
            .await
            .map_err(InfraError::from)?;
        if self.deps.require_email_verification {
            return self.request_registration(reg, password_hash, client).await;
        }
        let user_id = UserId::from_uuid(self.new_id());
        let (first_session, refresh) = self.new_session(reg.tenant.id, user_id, vec!["pwd".into()], client);
        let new = NewAccount {
            id: user_id,
            tenant_id: reg.tenant.id,
            email: reg.email,
            email_verified: true,
            username: reg.username,
            password_hash,
            created_at: self.deps.clock.now(),
            network: client.ip.map(crate::network::network_of),
        };
        let account = self
            .deps
            .store
            .insert_account(new, Some(first_session.clone()))
            .await
            .map_err(|e| match e {
                InsertAccountError::EmailTaken => RegisterError::EmailTaken,
                InsertAccountError::UsernameTaken => RegisterError::UsernameTaken,
                InsertAccountError::UnknownTenant => RegisterError::UnknownTenant,
                InsertAccountError::Store(s) => RegisterError::Infra(s.into()),
            })?;
        tracing::info!(user_id = %account.id, tenant_id = %account.tenant.id, "account registered");
        let pair = self.pair(first_session.session, refresh)?;
        Ok(Registered::Active(account, pair))
    }

    /// Checks credentials and opens a session. Unknown account and wrong password cost the same
    /// hashing (see `check_password`) and end in the same error.
    pub async fn login(
        &self,
        tenant: &Tenant,
        login: &LoginId,
        password: &Password,
        factor: Option<&crate::mfa::SecondFactor>,
        client: &ClientInfo,
    ) -> Result<(Account, TokenPair), LoginError> {
        let store = &self.deps.store;
        let found = match login {
            LoginId::Email(email) => store.credentials_by_email(tenant.id, email).await,
            LoginId::Username(name) => store.credentials_by_username(tenant.id, name).await,
        }
        .map_err(InfraError::from)?;
        // Failed passwords count per login name as typed, whether or not an account has it: an
        // unknown name is throttled exactly like a known one, and throttling an account's
        // address says nothing about its username (or the other way round).
        let name_key = match login {
            LoginId::Email(email) => format!("{}:email:{}", tenant.id, email.normalized()),
            LoginId::Username(name) => format!("{}:username:{}", tenant.id, name.normalized()),
        };
        // Failures from a network the account has signed in from before count apart from the
        // rest, so someone guessing from elsewhere cannot keep the owner out. The lookup runs
        // for unknown names too (it finds nothing), so it costs the same either way, and its
        // answer serves the new-IP policy below.
        let network = client.ip.map(crate::network::network_of);
        let known = match &network {
            Some(network) => {
                let user = found.as_ref().map_or(UserId::from_uuid(Uuid::nil()), |c| c.account.id);
                store
                    .is_known_network(tenant.id, user, network)
                    .await
                    .map_err(InfraError::from)?
            }
            None => false,
        };
        let throttle_key = match (&network, known) {
            (Some(network), true) => format!("{name_key}:known:{network}"),
            _ => name_key,
        };
        let stored = found.as_ref().and_then(|c| c.password.as_ref());
        let owner = HashOwner::client(client.ip);
        let verdict = match self
            .check_password_within_budget(&throttle_key, password, stored, &owner)
            .await?
        {
            Ok(verdict) => verdict,
            Err(retry_after) => {
                tracing::warn!(tenant_id = %tenant.id, outcome = "throttled", "login refused: too many failed logins");
                return Err(LoginError::Throttled { retry_after });
            }
        };
        let Some(creds) = found.filter(|_| verdict.matches) else {
            tracing::info!(tenant_id = %tenant.id, outcome = "invalid_credentials", "login refused");
            return Err(LoginError::InvalidCredentials);
        };
        if verdict.needs_rehash
            && let Some(stored) = &creds.password
        {
            self.upgrade_hash(&creds.account, &stored.phc, password, &owner).await;
        }
        let account = creds.account;
        if self.deps.require_email_verification && !account.email_verified {
            tracing::info!(user_id = %account.id, outcome = "email_not_verified", "login refused");
            return Err(LoginError::EmailNotVerified);
        }
        let mut amr = vec!["pwd".to_owned()];
        if account.mfa_enabled {
            // A login the new-IP policy will refuse must not spend a recovery code (the user
            // would come back with the next one after authorizing the network).
            let refused_later =
                self.deps.new_ip_policy == crate::network::NewIpPolicy::Require && network.is_some() && !known;
            let method = self
                .check_second_factor_then(&account, factor, !refused_later)
                .await
                .map_err(|e| match e {
                    crate::mfa::MfaError::Infra(e) => LoginError::Infra(e),
                    other => LoginError::SecondFactor(other),
                })?;
            amr.push(method.to_owned());
        }
        let (new_session, refresh) = self.new_session(account.tenant.id, account.id, amr, client);
        let session = self.open_session(&account, new_session, client, known).await?;
        tracing::info!(user_id = %account.id, session_id = %session.id, outcome = "success", "login");
        Ok((account, self.pair(session, refresh)?))
    }

    /// Checks `password` against `stored` (`None`: no such account, a dummy hash is checked)
    /// within the failed-password budget and back-off of `key`, and records the outcome there.
    /// `Ok(Err(wait))`: the key is held back (or another attempt on it is in progress), and
    /// nothing was checked.
    pub(crate) async fn check_password_within_budget(
        &self,
        key: &str,
        password: &Password,
        stored: Option<&StoredPassword>,
        owner: &HashOwner,
    ) -> Result<Result<crate::ports::Verification, std::time::Duration>, InfraError> {
        let limiter = &self.deps.limiter;
        let attempt = match limiter.begin_attempt(Limit::FailedLogin, key).await {
            Ok(permit) => permit,
            Err(wait) => return Ok(Err(wait)),
        };
        // An attempt that fails for the infrastructure's sake is not counted either way.
        let verdict = self.check_password(password, stored, owner).await?;
        limiter
            .end_attempt(Limit::FailedLogin, key, attempt, verdict.matches)
            .await;
        Ok(Ok(verdict))
    }

    /// Whether a new password is too common to accept (register, change, reset). Checked before
    /// anything is hashed or looked up, so it costs the same whoever asks.
    pub(crate) async fn too_common(&self, password: &Password) -> bool {
        let common = self.deps.screen.is_common(password).await;
        if common {
            tracing::info!(outcome = "password_too_common", "new password refused: too common");
        }
        common
    }

    /// Checks `password` against `stored` (`None`: no such account, a dummy hash is checked).
    ///
    /// Passwords are hashed in NFKC form. A hash made before that was made from the input as
    /// typed, so when the two forms differ and the NFKC form does not match such a hash, the
    /// typed form is tried too, and a match asks for a rehash. Only such a hash is ever checked
    /// against the typed form: a current hash gets one guess per request, not two. Whenever
    /// the forms differ a second check runs (against the dummy hash where there is nothing to
    /// try), so the time taken depends on the password alone, never on the account.
    async fn check_password(
        &self,
        password: &Password,
        stored: Option<&StoredPassword>,
        owner: &HashOwner,
    ) -> Result<crate::ports::Verification, InfraError> {
        let hasher = &self.deps.hasher;
        let first = hasher.verify(password, stored.map(|s| s.phc.as_str()), owner).await?;
        let legacy = stored.filter(|s| !s.normalized);
        let verdict = match password.as_typed() {
            None => first,
            Some(as_typed) => {
                let untried = legacy.filter(|_| !first.matches);
                let second = hasher.verify(&as_typed, untried.map(|s| s.phc.as_str()), owner).await?;
                if untried.is_some() && second.matches {
                    second
                } else {
                    first
                }
            }
        };
        Ok(crate::ports::Verification {
            matches: verdict.matches,
            // A hash of the typed form is replaced by one of the normalised form.
            needs_rehash: verdict.matches && (verdict.needs_rehash || legacy.is_some()),
        })
    }

    /// Stores a login's session under the new-IP policy; `known`: whether the account knows
    /// the client's network.
    async fn open_session(
        &self,
        account: &Account,
        session: NewSession,
        client: &ClientInfo,
        known: bool,
    ) -> Result<Session, LoginError> {
        use crate::network::{NewIpPolicy, network_of};
        let store = &self.deps.store;
        let (policy, Some(ip)) = (self.deps.new_ip_policy, client.ip) else {
            return Ok(store.insert_session(session).await.map_err(InfraError::from)?);
        };
        if policy == NewIpPolicy::Off {
            return Ok(store.insert_session(session).await.map_err(InfraError::from)?);
        }
        let (tenant, user) = (account.tenant.id, account.id);
        let network = network_of(ip);
        if known {
            return Ok(store
                .insert_session_from(session, &network, None)
                .await
                .map_err(InfraError::from)?);
        }
        let ip_text = ip.to_string();
        if policy == NewIpPolicy::Notify {
            let vars = crate::templates::MailVars {
                ip: Some(&ip_text),
                ..crate::templates::MailVars::default()
            };
            let notice = self.outgoing(tenant, &account.email, crate::mail::MailKind::NewSignInNotice, &vars);
            tracing::info!(user_id = %user, %network, "sign-in from a new network; owner notified");
            return Ok(store
                .insert_session_from(session, &network, Some(&notice))
                .await
                .map_err(InfraError::from)?);
        }
        let (secret, mail) = self.scoped_secret_mail(
            tenant,
            user,
            crate::one_time::Purpose::AuthorizeIp,
            None,
            &account.email,
            crate::mail::MailKind::IpAuthorization,
            Some((&ip_text, &network)),
        );
        let mailed = store
            .issue_secret_unless_live(secret, &mail, self.deps.clock.now())
            .await
            .map_err(InfraError::from)?;
        tracing::info!(user_id = %user, %network, mailed, outcome = "ip_authorization_required", "login refused");
        Err(LoginError::IpAuthorizationRequired)
    }

    /// Re-hashes a password whose stored hash used other parameters. Failure only delays the
    /// upgrade to a later login, so it is logged and not returned.
    async fn upgrade_hash(&self, account: &Account, old_hash: &str, password: &Password, owner: &HashOwner) {
        match self.deps.hasher.hash(password, owner).await {
            Ok(new_hash) => {
                match self
                    .deps
                    .store
                    .replace_password_hash(account.tenant.id, account.id, old_hash, &new_hash)
                    .await
                {
                    Ok(_) => tracing::info!(user_id = %account.id, "password hash upgraded to current parameters"),
                    Err(e) => {
                        tracing::warn!(user_id = %account.id, error = %e, "could not store upgraded password hash")
                    }
                }
            }
            Err(e) => tracing::warn!(user_id = %account.id, error = %e, "could not upgrade password hash"),
        }
    }

    /// Exchanges a refresh token for a new pair. See [`decide_refresh`] for the rules.
    pub async fn refresh(&self, presented: &str) -> Result<(Account, TokenPair), RefreshError> {
        let token = RefreshToken::parse(presented).ok_or(RefreshError::Invalid)?;
        let successor = token.successor(&self.deps.refresh_key);
        let now = self.deps.clock.now();
        let grace = self.deps.policy.refresh_grace;
        let outcome = self
            .deps
            .store
            .refresh(token.hash(), successor.hash(), now, &move |state| {
                decide_refresh(&state, now, grace)
            })
            .await
            .map_err(InfraError::from)?;
        match outcome {
            RefreshOutcome::Rotated(session) => self.refreshed(session, successor).await,
            RefreshOutcome::Replayed { session, head } => {
                // The chain may have moved on more than one step inside the grace window; answer
                // with its head, which is reachable from the presented token through successors.
                let head = std::iter::successors(Some(successor), |t| Some(t.successor(&self.deps.refresh_key)))
                    .take(MAX_REPLAY_STEPS)
                    .find(|t| t.hash() == head);
                match head {
                    Some(head) => self.refreshed(session, head).await,
                    None => {
                        tracing::info!(session_id = %session.id, outcome = "invalid_refresh_token", "replay too far behind");
                        Err(RefreshError::Invalid)
                    }
                }
            }
            RefreshOutcome::Reused(session) => {
                tracing::warn!(
                    user_id = %session.user_id, session_id = %session.id,
                    "superseded refresh token presented after the grace window; session revoked"
                );
                Err(RefreshError::Reused)
            }
            RefreshOutcome::Invalid => {
                tracing::info!(outcome = "invalid_refresh_token", "refresh refused");
                Err(RefreshError::Invalid)
            }
        }
    }

    async fn refreshed(&self, session: Session, token: RefreshToken) -> Result<(Account, TokenPair), RefreshError> {
        tracing::info!(user_id = %session.user_id, session_id = %session.id, outcome = "success", "refresh");
        let account = self
            .deps
            .store
            .account(session.tenant_id, session.user_id)
            .await
            .map_err(InfraError::from)?
            .ok_or(RefreshError::Invalid)?;
        Ok((account, self.pair(session, token)?))
    }

    /// Verifies a bearer token and checks that its session is still live, so logout and
    /// revocation take effect at once.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthenticateError> {
        let now = self.deps.clock.now();
        let claims = self
            .deps
            .keys
            .verify(&self.deps.policy, bearer, now)
            .inspect_err(|reason| {
                tracing::info!(%reason, outcome = "invalid_token", "access token refused");
            })?;
        let session = self
            .deps
            .store
            .session(claims.tid, claims.sid)
            .await
            .map_err(InfraError::from)?;
        match session {
            Some(session) if session.user_id == claims.sub && session.is_live(now) => Ok(Principal { claims, session }),
            _ => {
                tracing::info!(
                    user_id = %claims.sub, session_id = %claims.sid, outcome = "session_ended",
                    "access token refused"
                );
                Err(AuthenticateError::SessionEnded)
            }
        }
    }

    /// The caller's account.
    pub async fn account(&self, principal: &Principal) -> Result<Option<Account>, InfraError> {
        Ok(self
            .deps
            .store
            .account(principal.claims.tid, principal.claims.sub)
            .await?)
    }

    /// Ends sessions per `scope`. Returns how many were revoked.
    pub async fn logout(&self, principal: &Principal, scope: LogoutScope) -> Result<u64, InfraError> {
        let (tid, uid, sid) = (principal.claims.tid, principal.claims.sub, principal.session.id);
        let now = self.deps.clock.now();
        let store = &self.deps.store;
        let revoked = match scope {
            LogoutScope::Local => u64::from(store.revoke_session(tid, uid, sid, now).await?),
            LogoutScope::Others => store.revoke_sessions(tid, uid, Some(sid), now).await?,
            LogoutScope::Global => store.revoke_sessions(tid, uid, None, now).await?,
        };
        tracing::info!(user_id = %uid, session_id = %sid, ?scope, revoked, "logout");
        Ok(revoked)
    }
}
