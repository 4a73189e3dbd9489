//! The service the use cases hang on ([`AuthService`], in `base`), and the building blocks they
//! share: each tenant's brand (`brand`), minting sessions, tokens and mails (`mint`), checking passwords (`passwords`), the
//! per-account and per-recipient budgets (`budgets`), the second factor (`second_factor`) and
//! re-authentication (`reauth`), and redeeming mailed secrets (`redeem`). Use cases build on these and on the model and ports, never on
//! each other.

pub(crate) mod audit;
pub(crate) mod base;
pub(crate) mod brand;
mod brand_cache;
pub(crate) mod budgets;
pub(crate) mod mint;
mod passwords;
mod reauth;
pub(crate) mod redeem;
pub(crate) mod second_factor;

pub use base::{AuthDeps, AuthService, InfraError};
pub use brand_cache::BRAND_CACHE_SECS;
pub use budgets::OverBudget;
pub use mint::MAX_USER_AGENT_CHARS;
pub use redeem::{AMR_EMAIL, OneTimeError, Presented};
pub use second_factor::MfaError;
