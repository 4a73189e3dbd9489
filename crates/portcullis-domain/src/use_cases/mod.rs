//! The use cases, one module per use case or close family. Each adds its operations to
//! [`crate::AuthService`] and has its own error type; they share only the model, the ports and
//! the building blocks of the private `service` module.

pub mod account_changes;
pub mod admin;
pub mod audit;
pub mod avatars;
pub mod login;
pub mod mail_delivery;
pub mod mail_requests;
pub mod mfa_keys;
pub mod register;
pub mod second_factor;
pub mod secrets;
pub mod sessions;
pub mod signup;
pub mod tokens;
pub mod users;
