//! PostgreSQL storage adapter: implements the domain's storage ports on diesel + diesel-async
//! with a deadpool connection pool. SQL lives here and nowhere else.
//!
//! Failures are translated at this boundary: unique violations become the domain's
//! `EmailTaken` / `UsernameTaken`, a pool that cannot hand out a connection in time or a lost
//! database becomes [`StoreError::Unavailable`] (503), anything else [`StoreError::Internal`].

mod error;
mod mfa;
mod migrate;
mod one_time;
mod outbox;
mod registration;
mod rekey;
mod rows;
mod schema;
#[cfg(feature = "testing")]
pub mod scratch;
mod store;

pub use migrate::{MigrateError, run_migrations};
pub use store::{PgSettings, PgStore};
