//! The service the use cases hang on: its dependencies, wired once by the composition root,
//! and the infrastructure failures any use case can end in.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::clock::Clock;
use crate::ids::{TenantId, UserId};
use crate::model::{Brand, Tenant};
use crate::one_time::OneTimeSecrets;
use crate::ports::{HashError, PasswordHasher, PasswordScreen, Storage, StoreError};
use crate::random::{SecureRandom, random_array};
use crate::refresh::ServerKey;
use crate::service::brand_cache::BrandCache;
use crate::templates::MailBranding;
use crate::token::{JwtKeys, KeyError, TokenPolicy};

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

/// The brand of the global configuration, which tenants' settings override.
fn global_brand(deps: &AuthDeps) -> Brand {
    Brand {
        tenant: crate::ids::TenantId::DEFAULT,
        mail: deps.branding.clone(),
        mail_from: None,
        site_url_template: deps.site_url_template.clone(),
        totp_issuer: deps.mfa.issuer.clone(),
        require_email_verification: deps.require_email_verification,
        new_ip_policy: deps.new_ip_policy,
    }
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
    pub refresh_key: ServerKey,
    /// Token settings.
    pub policy: TokenPolicy,
    /// Mints and checks one-time secrets of mail flows.
    pub one_time: OneTimeSecrets,
    /// Product name and front-end link templates of mails (tenants may set their own; so for
    /// the fields below marked "global").
    pub branding: MailBranding,
    /// Global: whether a new account must verify its address before it can log in.
    pub require_email_verification: bool,
    /// Second-factor keys and limits.
    pub mfa: crate::totp::MfaSettings,
    /// Global: what a sign-in from an unknown network does.
    pub new_ip_policy: crate::network::NewIpPolicy,
    /// Counts failed logins per account and mails per recipient.
    pub limiter: Arc<dyn crate::limits::RateLimiter>,
    /// How long an account may stay unverified (since its last registration) before it is
    /// deleted.
    pub unverified_account_ttl: chrono::Duration,
    /// How long audit events are kept.
    pub audit_retention: chrono::Duration,
    /// Global: template of a signup customer's `site_url` for tenants that set none (see
    /// [`crate::model::site_url`]).
    pub site_url_template: String,
    /// Makes avatars from uploads.
    pub images: Arc<dyn crate::ports::ImageProcessor>,
    /// Where avatars are kept.
    pub avatars: Arc<dyn crate::ports::AvatarStore>,
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
    /// The brand of the global configuration.
    pub(crate) global: Arc<Brand>,
    /// Tenants' brands as last read.
    pub(crate) brands: Arc<BrandCache>,
    /// The last id [`AuthService::new_id`] minted.
    last_id: Arc<std::sync::Mutex<u128>>,
    /// Access tokens whose signature has been checked.
    pub(crate) verified: Arc<crate::token_cache::VerifiedTokens>,
    /// Sessions known live, while a feed keeps it true.
    pub(crate) liveness: Arc<crate::liveness::SessionLiveness>,
}

impl AuthService {
    /// Builds the service from its ports.
    pub fn new(deps: AuthDeps) -> Self {
        Self {
            global: Arc::new(global_brand(&deps)),
            brands: Arc::default(),
            last_id: Arc::default(),
            verified: Arc::default(),
            liveness: Arc::default(),
            deps,
        }
    }

    /// The session-liveness cache, for the feed that invalidates it (bypassed until the feed
    /// says it is connected).
    pub fn liveness(&self) -> &Arc<crate::liveness::SessionLiveness> {
        &self.liveness
    }

    /// Forgets what is cached about `user`'s sessions and account: called after anything that
    /// can end them or change what the account shows (whether the write went through or not),
    /// so this node answers from storage at once, before the feed's own notice arrives.
    pub(crate) fn account_changed(&self, tenant: TenantId, user: UserId) {
        self.liveness.account_changed(tenant, user);
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

    /// A UUID v7: time-ordered (our clock) with random bits from the randomness port, and
    /// strictly increasing within this service (one minted in the same millisecond as the one
    /// before, or while the clock stands still, is that one plus one), so audit events and
    /// pages ordered by id keep the order things happened in.
    pub(crate) fn new_id(&self) -> Uuid {
        const RANDOM_B: u128 = (1 << 62) - 1;
        let now = self.deps.clock.now();
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let fresh = uuid::Builder::from_unix_timestamp_millis(millis, &random_array::<10>(&*self.deps.rng))
            .into_uuid()
            .as_u128();
        let mut last = self.last_id.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Past the last one, unless that would carry out of its random bits (a 2^-62 chance).
        let id = if fresh > *last || *last & RANDOM_B == RANDOM_B {
            fresh
        } else {
            *last + 1
        };
        *last = id;
        Uuid::from_u128(id)
    }
}
