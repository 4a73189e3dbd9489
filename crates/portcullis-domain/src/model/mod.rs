//! What the domain works with: accounts, sessions, one-time secrets, registrations, the second
//! factor, mail, and tenants with their plans, nodes and customers. Plain data; the rules live in the use cases.

mod account;
mod audit;
mod client;
mod mail;
mod registration;
mod second_factor;
mod secret;
mod session;
mod tenant;
mod tenant_settings;

pub use account::{Account, AccountCredentials, AccountOverview, NewAccount, StoredPassword, Tenant};
pub(crate) use audit::Subject;
pub use audit::{AuditEvent, EventQuery, EventType, access_change};
pub use client::{ClientInfo, Principal, TokenPair};
pub use mail::{MailKind, OutgoingMail};
pub use registration::{
    Fulfilling, MAX_PENDING_REGISTRATIONS, MailRequest, MailTarget, RegistrationPlan, RegistrationRequest,
    RequestFulfilment,
};
pub use second_factor::{Disabled, SealedTotp, StepOutcome, TotpRecord};
pub use secret::{
    NewOneTimeSecret, PasswordChange, Purged, RedeemOutcome, Redemption, SecretLookup, StoredSecret, Verdict,
};
pub use session::{NewSession, Session, SessionSelection};
pub use tenant::{
    Customer, InvalidField, MAX_NAME_CHARS, MAX_PLAN_CHARS, MAX_SLUG_CHARS, NewNode, Node, Plan, SITE_URL_PLACEHOLDERS,
    SignupOutcome, SignupPlan, SignupTarget, SignupWrite, display_text, site_url, valid_tenant_slug,
    validate_site_url_template,
};
pub use tenant_settings::{Brand, TenantRecord, TenantSettings, validate_sender};
