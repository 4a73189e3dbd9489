//! Port traits: what the domain needs from the outside world, one module per family. Adapters
//! implement them and translate their own failures into the errors named here, at their
//! boundary: every storage call may fail with [`StoreError`] (`Unavailable` when the database
//! cannot be reached or no connection is free in time, `Internal` for anything else); calls that
//! can fail for a reason of the domain's (a taken address, a lost race) say so in their own
//! error or outcome type.

mod accounts;
mod admin;
mod audit;
mod avatars;
mod blobs;
mod error;
mod hasher;
mod images;
mod mail;
mod second_factor;
mod secrets;
mod sessions;
mod tenants;
mod users;

pub use accounts::{AccountConflict, AccountStore, InsertAccountError, SetUsernameError};
pub use admin::AdminKeyStore;
pub use audit::AuditStore;
pub use avatars::{AvatarRefStore, AvatarStore, AvatarWrite, NewAvatar, avatar_folder, avatar_key};
pub use blobs::{Blob, BlobStore, MAX_BLOB_KEY, checked_blob_key, valid_blob_key};
pub use error::StoreError;
pub use hasher::{HashError, HashOwner, PasswordHasher, PasswordScreen, Verification};
pub use images::{AvatarFormat, AvatarImage, ImageProcessor, ImageRejection, UploadFormat};
pub use mail::{ClaimedMail, MailTransport, OutboxStore, SendError};
pub use second_factor::{MfaStore, TotpResealStore};
pub use secrets::{MailRequestStore, OneTimeStore, RegistrationStore, SecretStore};
pub use sessions::{KEPT_SUPERSEDED_TOKENS, RefreshOutcome, SessionStore};
pub use tenants::{SignupStore, TenantStore, TenantWriteError};
pub use users::UserAdminStore;

use async_trait::async_trait;

/// Readiness.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// Succeeds when storage answers a trivial query.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Declares [`Storage`] as every one of the store ports, and implements it for whatever
/// implements them all, so the list is written once.
macro_rules! storage {
    ($($port:ident),+ $(,)?) => {
        /// Everything the domain needs from storage, as one object.
        pub trait Storage: $($port +)+ {}
        impl<T: $($port +)+> Storage for T {}
    };
}

storage!(
    AccountStore,
    SessionStore,
    SecretStore,
    OneTimeStore,
    RegistrationStore,
    MailRequestStore,
    MfaStore,
    TotpResealStore,
    OutboxStore,
    TenantStore,
    SignupStore,
    AdminKeyStore,
    UserAdminStore,
    AuditStore,
    AvatarRefStore,
    HealthCheck,
);
