//! SQLite storage adapter: implements the domain's storage ports on diesel's SQLite backend,
//! SQLite compiled in, driven through diesel-async's `SyncConnectionWrapper` (each statement on
//! tokio's blocking pool, never on the executor's threads) on a pool of one connection.
//!
//! For one node with no database server: a file under the data directory (write-ahead log,
//! busy timeout, foreign keys on), or a private in-memory database for tests and embedding
//! ([`SqliteStore::in_memory`]). Several nodes need PostgreSQL (`portcullis-postgres`).
//!
//! The guarantees are the PostgreSQL adapter's, and the same conformance suite proves them:
//! the pool's one connection runs one port call at a time, so no transaction that reads then
//! writes can interleave with another — what row locks give on PostgreSQL (refresh rotation,
//! TOTP step reservation, capacity placement, outbox claims, redemption), this gives here.
//!
//! The modules mirror `portcullis-postgres`'s, one per port family; the SQL differs where the
//! dialects do (no `FOR UPDATE`, JSON arrays for text arrays, UUIDs as 16-byte BLOBs).

mod accounts;
mod admin;
mod audit;
mod avatars;
mod blobs;
mod conn;
mod error;
mod mail_requests;
mod mfa;
mod migrate;
mod outbox;
mod pool;
mod queries;
mod redemption;
mod registration;
mod reseal;
mod rows;
mod schema;
mod secrets;
mod sessions;
mod signup;
mod sql;
mod tenants;
mod transfer;
mod users;

pub use migrate::{MigrateError, migration_status, run_migrations};
pub use outbox::OutboxBacklog;
pub use pool::{PoolStatus, SqliteSettings, SqliteStore, path_of};
