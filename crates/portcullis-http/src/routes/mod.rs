//! Handlers, one module per resource. Each one parses its input into domain types, calls one
//! use case and shapes the answer; nothing else.

mod account;
mod admin;
mod admin_users;
mod audit;
mod auth;
mod avatars;
mod code_login;
mod meta;
mod mfa;
mod secrets;
mod sessions;
mod shared;
mod signup;

pub use account::{account, change_email, change_password, update_account};
pub use admin::{
    add_node, create_tenant, delete_plan, introspect, list_customers, list_nodes, list_plans, list_tenants, put_plan,
    show_tenant, update_node, update_tenant,
};
pub use admin_users::{disable_user, enable_user, erase_user, list_users, revoke_user_sessions, show_user};
pub use audit::{my_events, tenant_events};
pub use auth::{login, logout, refresh, register, session};
pub use avatars::{AvatarQuery, delete_avatar, get_avatar, put_avatar};
pub use code_login::login_with_code;
pub use meta::{jwks, live, method_not_allowed, metrics, not_found, openapi, ready};
pub use mfa::{activate_totp, disable_totp, enroll_totp, regenerate_recovery_codes};
pub use secrets::{
    authorize_ip, check_reset, forgot_password, request_login_code, resend_verification, reset_password, verify_email,
};
pub use sessions::{delete_session, list_sessions, revoke_sessions};
pub use signup::{sign_up, signup_plans, verify_signup};
