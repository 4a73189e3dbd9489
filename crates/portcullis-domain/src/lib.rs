//! Portcullis domain: accounts, sessions and tokens behind port traits.
//!
//! This crate is pure: no database, HTTP, mail or network code. Its parts:
//!
//! - [`model`]: the data the use cases work with (accounts, sessions, one-time secrets,
//!   registrations, the second factor, mail, tenants and customers);
//! - [`ports`]: the traits adapters implement (storage by family, password hashing and
//!   screening, mail transport and outbox), plus [`Clock`], [`SecureRandom`], [`RateLimiter`]
//!   and [`CaptchaVerifier`];
//! - [`use_cases`]: one module per use case, each adding its operations to [`AuthService`] with
//!   its own error type, on the shared building blocks of `service`;
//! - rules without state: [`identity`] (what the HTTP layer parses input into), [`token`]
//!   (JWTs and refresh tokens), [`one_time`] (mailed secrets), [`totp`], [`network`],
//!   [`limits`], [`templates`].

pub mod admin_key;
pub mod avatars;
pub mod captcha;
pub mod clock;
pub mod identity;
pub mod ids;
pub mod limits;
pub mod liveness;
pub mod model;
pub mod network;
pub mod one_time;
pub mod ports;
pub mod random;
pub mod refresh;
mod service;
pub mod templates;
pub mod token;
mod token_cache;
pub mod totp;
pub mod use_cases;

pub use captcha::{CaptchaError, CaptchaProvider, CaptchaVerifier};
pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::{Email, FieldError, LoginId, Password, PasswordPolicy, Username, UsernamePolicy};
pub use ids::{SessionId, TenantId, UserId};
pub use limits::{Limit, NoLimits, Quota, RateDecision, RateLimiter};
pub use model::{
    Account, AccountCredentials, AccountOverview, ClientInfo, Disabled, Fulfilling, MAX_PENDING_REGISTRATIONS,
    MailKind, MailRequest, MailTarget, NewAccount, NewOneTimeSecret, NewSession, OutgoingMail, PasswordChange,
    Principal, Purged, RedeemOutcome, Redemption, RegistrationPlan, RegistrationRequest, RequestFulfilment, SealedTotp,
    SecretLookup, Session, SessionSelection, StepOutcome, StoredPassword, StoredSecret, Tenant, TokenPair, TotpRecord,
    Verdict,
};
pub use one_time::Purpose;
pub use ports::{
    AccountConflict, AccountStore, AdminKeyStore, AuditStore, AvatarFormat, AvatarImage, AvatarRefStore, AvatarStore,
    AvatarWrite, Blob, BlobStore, ClaimedMail, HashError, HashOwner, HealthCheck, ImageProcessor, ImageRejection,
    InsertAccountError, KEPT_SUPERSEDED_TOKENS, MailRequestStore, MailTransport, MfaStore, NewAvatar, OneTimeStore,
    OutboxStore, PasswordHasher, PasswordScreen, RefreshOutcome, RegistrationStore, SecretStore, SendError,
    SessionStore, SetUsernameError, SignupStore, Storage, StoreError, TenantStore, TenantWriteError, TotpResealStore,
    UploadFormat, UserAdminStore, Verification, avatar_folder, avatar_key, checked_blob_key, valid_blob_key,
};
pub use random::{OsRandom, SecureRandom};
pub use refresh::{
    RefreshDecision, RefreshToken, RefreshTokenState, ServerKey, TokenHash, decide_refresh, key_fingerprint,
};
pub use service::{
    AMR_EMAIL, AuthDeps, AuthService, BRAND_CACHE_SECS, InfraError, MAX_USER_AGENT_CHARS, MfaError, OneTimeError,
    OverBudget, Presented,
};
pub use token::{AccessClaims, JwtKeys, KeyError, TokenError, TokenPolicy};
pub use totp::{MfaKeyring, MfaSettings, SealedWith, SecondFactor, TotpEnrollment};
pub use use_cases::account_changes::{AccountChangeError, FRESH_SESSION, UsernameError};
pub use use_cases::admin::{AdminAuthError, AdminWriteError};
pub use use_cases::audit::EventPage;
pub use use_cases::avatars::{AvatarError, AvatarRead, AvatarUpload};
pub use use_cases::login::{CodeLoginError, LoginError};
pub use use_cases::mail_delivery::{DeliveryControl, DeliveryReport, MailDelivery, RetryPolicy};
pub use use_cases::mfa_keys::ResealReport;
pub use use_cases::register::{RegisterError, Registered, Registration};
pub use use_cases::secrets::Verified;
pub use use_cases::sessions::{LogoutScope, RevokeRequest};
pub use use_cases::signup::{CustomerSession, DEFAULT_PLAN, SignedUp, Signup, SignupError};
pub use use_cases::tokens::{AuthenticateError, RefreshError};
pub use use_cases::users::{Actor, UserAdminError, UserPage};
