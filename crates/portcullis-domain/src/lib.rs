//! Portcullis domain: accounts, sessions and tokens behind port traits.
//!
//! This crate is pure: no database, HTTP, mail or network code. Adapters implement the traits in
//! [`ports`] (storage, password hashing) plus [`Clock`] and [`SecureRandom`]; the HTTP layer
//! parses input into the types of [`identity`] and calls the use cases of [`AuthService`].

pub mod captcha;
pub mod clock;
pub mod identity;
pub mod ids;
pub mod limits;
pub mod mail;
pub mod mail_flows;
pub mod mfa;
pub mod network;
pub mod one_time;
pub mod ports;
pub mod random;
pub mod self_service;
pub mod service;
pub mod templates;
pub mod token;

pub use captcha::{CaptchaError, CaptchaProvider, CaptchaVerifier};
pub use clock::{Clock, ManualClock, SystemClock};
pub use identity::{Email, FieldError, LoginId, Password, PasswordPolicy, Username, UsernamePolicy};
pub use ids::{SessionId, TenantId, UserId};
pub use limits::{Limit, NoLimits, Quota, RateDecision, RateLimiter};
pub use mail_flows::{AccountChangeError, OneTimeError, Presented, Verified};
pub use mfa::{MfaError, MfaSettings, SecondFactor, TotpEnrollment};
pub use ports::{
    Account, AccountCredentials, AccountStore, Disabled, Fulfilling, HashError, HashOwner, HealthCheck,
    InsertAccountError, KEPT_SUPERSEDED_TOKENS, MAX_PENDING_REGISTRATIONS, MailRequest, MailRequestStore, MailTarget,
    MfaStore, NewAccount, NewOneTimeSecret, NewSession, OneTimeStore, PasswordChange, PasswordHasher, PasswordScreen,
    Purged, RedeemOutcome, Redemption, RefreshOutcome, RegistrationPlan, RegistrationRequest, RegistrationStore,
    RequestFulfilment, SecretLookup, SecretStore, Session, SessionSelection, SessionStore, SetUsernameError,
    StepOutcome, Storage, StoreError, StoredPassword, StoredSecret, Tenant, TotpRecord, Verdict, Verification,
};
pub use random::{OsRandom, SecureRandom};
pub use self_service::{RevokeRequest, UsernameError};
pub use service::{
    AuthDeps, AuthService, AuthenticateError, ClientInfo, InfraError, LoginError, LogoutScope, Principal, RefreshError,
    RegisterError, Registered, Registration, TokenPair,
};
pub use token::{
    AccessClaims, JwtKeys, KeyError, RefreshDecision, RefreshKey, RefreshToken, RefreshTokenState, TokenError,
    TokenHash, TokenPolicy, decide_refresh,
};
