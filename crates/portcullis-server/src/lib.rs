//! The Portcullis server: configuration, wiring, the `serve` / `migrate` commands and the
//! operators' commands (`operator`).

pub mod app;
pub mod config;
pub mod cors;
pub mod database;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod mfa_keys;
pub mod operator;
pub mod operator_users;
pub mod shutdown;
pub mod telemetry;
pub mod transfer;

pub use app::{Overrides, Running, start};
pub use config::Config;
pub use keys::{ConfiguredKeys, configured_keys};
