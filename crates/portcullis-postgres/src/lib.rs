//! PostgreSQL storage adapter: implements the domain's storage ports on diesel + diesel-async
//! with a deadpool connection pool. SQL lives here and nowhere else.
//!
//! One module per port family (`accounts`, `sessions`, `secrets` with `redemption`,
//! `registration`, `mail_requests`, `mfa`, `outbox`, `tenants` with `signup`), on the pool (`pool`) and the statements
//! several of them run inside their own transactions (`queries`).
//!
//! Failures are translated at this boundary: unique violations become the domain's
//! `EmailTaken` / `UsernameTaken`, a pool that cannot hand out a connection in time or a lost
//! database becomes [`StoreError::Unavailable`] (503), anything else [`StoreError::Internal`].

mod accounts;
mod admin;
mod audit;
mod avatars;
mod blobs;
mod diagnose;
mod error;
pub mod liveness;
mod mail_requests;
mod mfa;
mod migrate;
mod outbox;
mod pool;
mod queries;
mod redemption;
mod registration;
mod rekey;
mod reseal;
mod rows;
mod schema;
#[cfg(feature = "testing")]
pub mod scratch;
mod secrets;
mod sessions;
mod signup;
mod tenants;
mod transfer;
mod users;

pub use diagnose::describe_target;
pub use liveness::spawn_liveness_feed;
pub use migrate::{MigrateError, MigrationStatus, migration_status, run_migrations};
pub use outbox::OutboxBacklog;
pub use pool::{POOL_WAIT, PgSettings, PgStore, PoolStatus};
pub use transfer::TABLES;
