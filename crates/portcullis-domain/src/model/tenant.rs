//! Tenants (the brands an operator runs), the plans they offer, the shared nodes their customers
//! are placed on, and the customers signup makes.

use chrono::{DateTime, Utc};

use crate::identity::FieldError;
use crate::ids::{TenantId, UserId};
use crate::model::{Account, NewOneTimeSecret, OutgoingMail};

/// Most characters of a tenant's display name and a customer's company name.
pub const MAX_NAME_CHARS: usize = 200;
/// Most characters of a tenant slug.
pub const MAX_SLUG_CHARS: usize = 100;
/// Most characters of a plan name.
pub const MAX_PLAN_CHARS: usize = 50;
/// Most characters of a node name.
pub const MAX_NODE_NAME_CHARS: usize = 100;

/// An invalid field of something an operator or a signup gives: which, why, and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// The field, as named in the API.
    pub field: &'static str,
    /// Why.
    pub error: FieldError,
    /// The rule, for people.
    pub rule: String,
}

pub(crate) fn invalid(field: &'static str, error: FieldError, rule: &str) -> InvalidField {
    InvalidField {
        field,
        error,
        rule: format!("{field}: {rule}"),
    }
}

/// Checks a tenant slug: 1–100 lower-case ASCII letters, digits and inner hyphens, so it is safe
/// in a header, a URL path and a host name.
///
/// ```
/// use portcullis_domain::model::valid_tenant_slug;
/// assert!(valid_tenant_slug("acme-hosting").is_ok());
/// assert!(valid_tenant_slug("Acme").is_err());
/// assert!(valid_tenant_slug("-acme").is_err());
/// assert!(valid_tenant_slug("").is_err());
/// ```
pub fn valid_tenant_slug(slug: &str) -> Result<(), InvalidField> {
    let ok_chars = slug
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if slug.is_empty() {
        return Err(invalid("slug", FieldError::Required, "must be 1 to 100 characters"));
    }
    if slug.len() > MAX_SLUG_CHARS {
        return Err(invalid("slug", FieldError::TooLong, "must be 1 to 100 characters"));
    }
    if !ok_chars || slug.starts_with('-') || slug.ends_with('-') {
        return Err(invalid(
            "slug",
            FieldError::Invalid,
            "only lower-case letters, digits and inner hyphens",
        ));
    }
    Ok(())
}

/// Checks a display text: 1..=`max` characters, not blank, no control characters. Returns it
/// trimmed.
pub fn display_text(field: &'static str, value: &str, max: usize) -> Result<String, InvalidField> {
    let trimmed = value.trim();
    let rule = format!("must be 1 to {max} characters");
    if trimmed.is_empty() {
        return Err(invalid(field, FieldError::Required, &rule));
    }
    if trimmed.chars().count() > max {
        return Err(invalid(field, FieldError::TooLong, &rule));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(invalid(
            field,
            FieldError::Invalid,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Placeholders a `site_url` template may use.
pub const SITE_URL_PLACEHOLDERS: [&str; 4] = ["{customer_id}", "{domain}", "{node}", "{tenant}"];

/// Checks a `site_url` template: an `http(s)://` URL whose only `{…}` are
/// [`SITE_URL_PLACEHOLDERS`], and which names the customer (`{customer_id}`), so no two
/// customers share a site.
///
/// ```
/// use portcullis_domain::model::validate_site_url_template;
/// assert!(validate_site_url_template("https://{customer_id}.{domain}").is_ok());
/// assert!(validate_site_url_template("https://{domain}/{customer_id}").is_ok());
/// assert!(validate_site_url_template("https://{domain}").is_err());
/// assert!(validate_site_url_template("https://{customer}.{domain}").is_err());
/// assert!(validate_site_url_template("ftp://{customer_id}").is_err());
/// ```
pub fn validate_site_url_template(template: &str) -> Result<(), String> {
    if !(template.starts_with("https://") || template.starts_with("http://")) {
        return Err("must start with https:// or http://".into());
    }
    if !template.contains("{customer_id}") {
        return Err("must contain {customer_id}".into());
    }
    let mut rest = template.to_owned();
    for placeholder in SITE_URL_PLACEHOLDERS {
        rest = rest.replace(placeholder, "");
    }
    if rest.contains('{') || rest.contains('}') {
        return Err(format!(
            "only these placeholders are known: {}",
            SITE_URL_PLACEHOLDERS.join(", ")
        ));
    }
    if template.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(())
}

/// A customer's `site_url`: `template` with `{customer_id}`, `{domain}` (the node's domain, or
/// its name when it has none), `{node}` (the node's name) and `{tenant}` (the tenant's slug).
///
/// ```
/// use portcullis_domain::model::site_url;
/// let url = site_url("https://{customer_id}.{domain}", "c1", "eu1.example.net", "eu1", "acme");
/// assert_eq!(url, "https://c1.eu1.example.net");
/// ```
pub fn site_url(template: &str, customer_id: &str, domain: &str, node: &str, tenant: &str) -> String {
    template
        .replace("{customer_id}", customer_id)
        .replace("{domain}", domain)
        .replace("{node}", node)
        .replace("{tenant}", tenant)
}

/// A plan a tenant offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Its name, unique in the tenant (`starter`).
    pub name: String,
    /// Description shown at signup.
    pub description: String,
    /// Price as display text (`€5/mo`).
    pub price: String,
    /// Features shown at signup.
    pub features: Vec<String>,
    /// Whether signup offers it.
    pub active: bool,
}

impl Plan {
    /// Checks the plan as an operator gives it.
    pub fn validate(&self) -> Result<(), Vec<InvalidField>> {
        let mut errors = Vec::new();
        if let Err(e) = display_text("name", &self.name, MAX_PLAN_CHARS) {
            errors.push(e);
        }
        // Line breaks may format a description; no other control character belongs in any of
        // these (and PostgreSQL refuses NUL outright).
        let controls = |t: &str, breaks: bool| {
            t.chars()
                .any(|c| c.is_control() && !(breaks && matches!(c, '\n' | '\r' | '\t')))
        };
        if self.description.chars().count() > 1000 {
            errors.push(invalid("description", FieldError::TooLong, "at most 1000 characters"));
        } else if controls(&self.description, true) {
            errors.push(invalid(
                "description",
                FieldError::Invalid,
                "no control characters but line breaks and tabs",
            ));
        }
        if self.price.chars().count() > 100 {
            errors.push(invalid("price", FieldError::TooLong, "at most 100 characters"));
        } else if controls(&self.price, false) {
            errors.push(invalid("price", FieldError::Invalid, "no control characters"));
        }
        if self.features.iter().any(|f| controls(f, false)) {
            errors.push(invalid("features", FieldError::Invalid, "no control characters"));
        }
        if self.features.len() > 50 || self.features.iter().any(|f| f.chars().count() > 200) {
            errors.push(invalid(
                "features",
                FieldError::TooLong,
                "at most 50 features of at most 200 characters",
            ));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A shared node of a tenant, with how many customers it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name, unique in the tenant.
    pub name: String,
    /// Its domain, for `site_url`.
    pub domain: Option<String>,
    /// Most customers it takes.
    pub capacity: u32,
    /// Whether signup places customers on it.
    pub enabled: bool,
    /// Customers it holds: verified ones, and unverified ones whose hold is alive.
    pub used: u32,
}

impl Node {
    /// Slots still free.
    pub fn free(&self) -> u32 {
        self.capacity.saturating_sub(self.used)
    }

    /// What `{domain}` is in a `site_url`: its domain, or its name when it has none.
    pub fn domain_or_name(&self) -> &str {
        self.domain.as_deref().unwrap_or(&self.name)
    }
}

/// A node to add.
#[derive(Debug, Clone)]
pub struct NewNode {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// Its domain.
    pub domain: Option<String>,
    /// Most customers it takes.
    pub capacity: u32,
    /// Whether signup places customers on it.
    pub enabled: bool,
}

impl NewNode {
    /// Checks the node as an operator gives it.
    pub fn validate(&self) -> Result<(), Vec<InvalidField>> {
        let mut errors = Vec::new();
        if let Err(e) = display_text("name", &self.name, MAX_NODE_NAME_CHARS) {
            errors.push(e);
        }
        if let Some(domain) = &self.domain {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if domain.len() > 253 || !domain.split('.').all(label_ok) {
                errors.push(invalid("domain", FieldError::Invalid, "must be a host name"));
            }
        }
        if self.capacity > i32::MAX as u32 {
            errors.push(invalid("capacity", FieldError::Invalid, "at most 2147483647"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// A customer: a company signed up on a plan, placed on a node, owned by an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The account that owns it.
    pub owner: UserId,
    /// The node it was placed on.
    pub node_id: uuid::Uuid,
    /// Company name.
    pub company_name: String,
    /// Plan name.
    pub plan: String,
    /// Its site.
    pub site_url: String,
    /// When it signed up.
    pub created_at: DateTime<Utc>,
    /// Until when an unverified customer holds its slot.
    pub held_until: DateTime<Utc>,
    /// When its owner verified the address; `None` while unverified.
    pub verified_at: Option<DateTime<Utc>>,
}

/// What storage found for a signup's address.
#[derive(Debug, Clone)]
pub struct SignupTarget {
    /// The tenant's account with the address.
    pub account: Account,
    /// Its customer, if it has one.
    pub customer: Option<Customer>,
}

/// What a signup writes, decided once storage has placed it (see
/// [`SignupStore::sign_up`](crate::ports::SignupStore::sign_up)).
#[derive(Debug, Clone)]
pub struct SignupPlan {
    /// The customer the answer names (stored only for [`SignupWrite::Hold`]).
    pub customer: Customer,
    /// What to write.
    pub write: SignupWrite,
}

/// The writes of a [`SignupPlan`].
// Built once per request and consumed at once; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SignupWrite {
    /// The address has a verified account: keep nothing, enqueue this notice (if the
    /// recipient's mail budget allows one).
    Notice(Option<OutgoingMail>),
    /// Store the customer (creating its unverified, password-less owner when the address has
    /// no account, replacing the owner's earlier unverified customer), its signup secret, and
    /// enqueue its mail.
    Hold {
        /// Id of the owner account to create, if none has the address.
        new_account: UserId,
        /// The signup code.
        secret: NewOneTimeSecret,
        /// Its mail, if the recipient's mail budget allows one.
        mail: Option<OutgoingMail>,
    },
}

/// What [`SignupStore::sign_up`](crate::ports::SignupStore::sign_up) did.
// Built once per request and consumed at once; boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum SignupOutcome {
    /// No enabled node of the tenant has a free slot; nothing was written. `next_free` is when
    /// the earliest unverified hold ends, if any.
    NoCapacity {
        /// When a slot may be free again.
        next_free: Option<DateTime<Utc>>,
    },
    /// The plan was written.
    Written(SignupPlan),
}
