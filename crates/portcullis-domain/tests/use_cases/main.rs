//! Every use case of the domain, on in-memory ports with a settable clock: no database, no
//! network. One module per use case module of `src/use_cases`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

mod account_changes;
mod avatars;
mod brands;
mod login;
mod mail_delivery;
mod mail_requests;
mod mfa_keys;
mod outages;
mod register;
mod second_factor;
mod secrets;
mod sessions;
mod signup;
mod tokens;
mod users;
