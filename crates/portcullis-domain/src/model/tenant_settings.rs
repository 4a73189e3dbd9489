//! A tenant (brand) with its name, what it sets for itself, and what is in force for it once
//! the global configuration fills the gaps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::identity::{Email, FieldError};
use crate::ids::TenantId;
use crate::model::Tenant;
use crate::model::tenant::{
    InvalidField, MAX_NAME_CHARS, display_text, invalid, valid_tenant_slug, validate_site_url_template,
};
use crate::network::NewIpPolicy;
use crate::templates::{MailBranding, validate_link_template};

/// A tenant with its name and settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    /// Id and slug.
    pub tenant: Tenant,
    /// Display name.
    pub name: String,
    /// Its own settings.
    pub settings: TenantSettings,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl TenantRecord {
    /// A new tenant as an operator gives it, checked: its slug, name (trimmed) and settings;
    /// every problem at once.
    pub fn checked(
        id: TenantId,
        slug: &str,
        name: &str,
        settings: TenantSettings,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<InvalidField>> {
        let mut errors = Vec::new();
        if let Err(e) = valid_tenant_slug(slug) {
            errors.push(e);
        }
        let name = display_text("name", name, MAX_NAME_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        errors.extend(settings.problems());
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                tenant: Tenant {
                    id,
                    slug: slug.to_owned(),
                },
                name,
                settings,
                created_at: now,
            }),
            _ => Err(errors),
        }
    }
}

/// Settings of one tenant. Every one left `None` falls back to the global configuration, so a
/// tenant made with only a slug and a name behaves like the built-in one. Stored and shown as a
/// JSON object holding only the keys that are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Product name in mail subjects and texts (`mail.product_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Sender of the tenant's mail, `Name <address>` or `address` (`mail.from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    /// Front-end page of verification links (`mail.verify_email_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_email_url: Option<String>,
    /// Front-end page of email-change links (`mail.change_email_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_email_url: Option<String>,
    /// Front-end page of password-reset links (`mail.reset_password_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_password_url: Option<String>,
    /// Front-end page of IP-authorization links (`mail.authorize_ip_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_ip_url: Option<String>,
    /// Template of a customer's `site_url` (`signup.site_url_template`; see
    /// [`site_url`](crate::model::site_url)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_url_template: Option<String>,
    /// Issuer shown by authenticator apps (`mfa.issuer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_issuer: Option<String>,
    /// Whether new accounts must verify their address before logging in
    /// (`registration.require_email_verification`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_email_verification: Option<bool>,
    /// What a sign-in from an unknown network does (`login.new_ip_policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_ip_policy: Option<NewIpPolicy>,
}

impl TenantSettings {
    /// The settings as a JSON object of the keys that are set.
    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of strings, booleans and unit enums always serializes to an object.
            _ => Map::new(),
        }
    }

    /// Every key a setting may have.
    pub const KEYS: [&'static str; 10] = [
        "product_name",
        "mail_from",
        "verify_email_url",
        "change_email_url",
        "reset_password_url",
        "authorize_ip_url",
        "site_url_template",
        "totp_issuer",
        "require_email_verification",
        "new_ip_policy",
    ];

    /// Settings read back from [`TenantSettings::to_json`]'s form; keys this version does not
    /// know (written by a newer one) are skipped, so a rollback never hides a tenant.
    pub fn from_stored(stored: &Value) -> Self {
        let Value::Object(map) = stored else {
            return Self::default();
        };
        let kept: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| Self::KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(Value::Object(kept)).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "stored tenant settings do not read; the global ones apply");
            Self::default()
        })
    }

    /// These settings changed by a JSON merge patch (RFC 7396): a key given replaces the
    /// setting, a key given as `null` returns it to the global configuration, a key left out
    /// keeps it. An unknown key or a value of the wrong type is an invalid `settings` field;
    /// the result is not yet checked (see [`TenantSettings::problems`]).
    pub fn patched(&self, patch: &Map<String, Value>) -> Result<Self, InvalidField> {
        let mut merged = self.to_json();
        for (key, value) in patch {
            if value.is_null() {
                merged.remove(key);
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
        serde_json::from_value(Value::Object(merged))
            .map_err(|e| invalid("settings", FieldError::Invalid, &e.to_string()))
    }

    /// Every problem of the settings, by field.
    pub fn problems(&self) -> Vec<InvalidField> {
        let mut errors = Vec::new();
        let text = |field: &'static str, value: &Option<String>, max: usize, errors: &mut Vec<InvalidField>| {
            if let Some(Err(e)) = value.as_deref().map(|v| display_text(field, v, max)) {
                errors.push(e);
            }
        };
        text("product_name", &self.product_name, MAX_NAME_CHARS, &mut errors);
        // As `mfa.issuer`: the otpauth label cannot carry a ':' (authenticator apps split on it).
        match self.totp_issuer.as_deref() {
            Some(i) if i.contains(':') || i.len() > 100 => {
                errors.push(invalid(
                    "totp_issuer",
                    FieldError::Invalid,
                    "1 to 100 bytes without ':'",
                ));
            }
            _ => text("totp_issuer", &self.totp_issuer, 100, &mut errors),
        }
        if let Some(Err(e)) = self.mail_from.as_deref().map(validate_sender) {
            errors.push(invalid("mail_from", FieldError::Invalid, &e));
        }
        for (field, url) in [
            ("verify_email_url", &self.verify_email_url),
            ("change_email_url", &self.change_email_url),
            ("reset_password_url", &self.reset_password_url),
            ("authorize_ip_url", &self.authorize_ip_url),
        ] {
            if let Some(Err(e)) = url.as_deref().map(validate_link_template) {
                errors.push(invalid(field, FieldError::Invalid, &e));
            }
        }
        if let Some(Err(e)) = self.site_url_template.as_deref().map(validate_site_url_template) {
            errors.push(invalid("site_url_template", FieldError::Invalid, &e));
        }
        errors
    }
}

/// Checks a mail sender: `address` or `Display Name <address>`, the address ASCII and as strict
/// as a signup address, the name free of control characters and of the RFC 5322 specials but
/// the dot, unquoted (so every mail library reads it one way).
///
/// ```
/// use portcullis_domain::model::validate_sender;
/// assert!(validate_sender("no-reply@acme.example").is_ok());
/// assert!(validate_sender("Acme Hosting <no-reply@acme.example>").is_ok());
/// assert!(validate_sender("Äcme Inc. <no-reply@acme.example>").is_ok());
/// assert!(validate_sender("Acme, Inc <no-reply@acme.example>").is_err());
/// assert!(validate_sender("Acme <no-reply>").is_err());
/// assert!(validate_sender("\"Acme\" <no-reply@acme.example>").is_err());
/// assert!(validate_sender("Acme <a@acme.example>\r\nBcc: x@evil.example").is_err());
/// ```
pub fn validate_sender(sender: &str) -> Result<(), String> {
    const SPECIALS: &str = "\"<>\\,;:()[]@";
    let sender = sender.trim();
    let (name, address) = match sender.split_once('<') {
        Some((name, rest)) => match rest.strip_suffix('>') {
            Some(address) => (name.trim(), address),
            None => return Err("must be `address` or `Name <address>`".into()),
        },
        None => ("", sender),
    };
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(|c| c.is_control() || SPECIALS.contains(c)) {
        return Err(format!("the name must be at most 200 characters, none of {SPECIALS}"));
    }
    if !address.is_ascii() || Email::parse(address).is_err() {
        return Err("must hold a valid mail address".into());
    }
    Ok(())
}

/// What is in force for one tenant: its settings over the global configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    /// The tenant.
    pub tenant: TenantId,
    /// Product name and link templates of its mail.
    pub mail: MailBranding,
    /// Sender of its mail; `None` sends as the transport's configured sender.
    pub mail_from: Option<String>,
    /// Template of its customers' `site_url`.
    pub site_url_template: String,
    /// Issuer shown by authenticator apps.
    pub totp_issuer: String,
    /// Whether its new accounts must verify their address before logging in.
    pub require_email_verification: bool,
    /// What a sign-in from an unknown network does.
    pub new_ip_policy: NewIpPolicy,
}

impl Brand {
    /// `global` (the configuration's brand) with whatever `settings` set.
    pub fn resolve(tenant: TenantId, global: &Brand, settings: &TenantSettings) -> Self {
        let or = |own: &Option<String>, global: &String| own.clone().unwrap_or_else(|| global.clone());
        Self {
            tenant,
            mail: MailBranding {
                product: or(&settings.product_name, &global.mail.product),
                verify_email_url: or(&settings.verify_email_url, &global.mail.verify_email_url),
                change_email_url: or(&settings.change_email_url, &global.mail.change_email_url),
                reset_password_url: or(&settings.reset_password_url, &global.mail.reset_password_url),
                authorize_ip_url: or(&settings.authorize_ip_url, &global.mail.authorize_ip_url),
            },
            mail_from: settings.mail_from.clone().or_else(|| global.mail_from.clone()),
            site_url_template: or(&settings.site_url_template, &global.site_url_template),
            totp_issuer: or(&settings.totp_issuer, &global.totp_issuer),
            require_email_verification: settings
                .require_email_verification
                .unwrap_or(global.require_email_verification),
            new_ip_policy: settings.new_ip_policy.unwrap_or(global.new_ip_policy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn global() -> Brand {
        Brand {
            tenant: TenantId::DEFAULT,
            mail: MailBranding {
                product: "Portcullis".into(),
                verify_email_url: "https://auth.example/verify?t={token}".into(),
                change_email_url: "https://auth.example/email?t={token}".into(),
                reset_password_url: "https://auth.example/reset?t={token}".into(),
                authorize_ip_url: "https://auth.example/ip?t={token}".into(),
            },
            mail_from: None,
            site_url_template: "https://{customer_id}.{domain}".into(),
            totp_issuer: "Portcullis".into(),
            require_email_verification: true,
            new_ip_policy: NewIpPolicy::Notify,
        }
    }

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn a_tenant_without_settings_takes_everything_from_the_global_brand() {
        let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(7));
        let brand = Brand::resolve(tenant, &global(), &TenantSettings::default());
        assert_eq!(
            Brand {
                tenant: TenantId::DEFAULT,
                ..brand
            },
            global()
        );
    }

    #[test]
    fn what_a_tenant_sets_wins_and_the_rest_stays_global() {
        let settings = TenantSettings::default()
            .patched(&object(json!({
                "product_name": "Acme Hosting",
                "mail_from": "Acme <no-reply@acme.example>",
                "reset_password_url": "https://my.acme.example/reset/{token}",
                "require_email_verification": false,
                "new_ip_policy": "require",
            })))
            .expect("known keys");
        assert!(settings.problems().is_empty());
        let brand = Brand::resolve(TenantId::DEFAULT, &global(), &settings);
        assert_eq!(brand.mail.product, "Acme Hosting");
        assert_eq!(brand.mail_from.as_deref(), Some("Acme <no-reply@acme.example>"));
        assert_eq!(brand.mail.reset_password_url, "https://my.acme.example/reset/{token}");
        assert_eq!(brand.mail.verify_email_url, global().mail.verify_email_url);
        assert!(!brand.require_email_verification);
        assert_eq!(brand.new_ip_policy, NewIpPolicy::Require);
        assert_eq!(brand.totp_issuer, "Portcullis");
    }

    #[test]
    fn a_merge_patch_sets_clears_and_keeps() {
        let first = TenantSettings::default()
            .patched(&object(json!({"product_name": "Acme", "totp_issuer": "Acme"})))
            .expect("known keys");
        let second = first
            .patched(&object(json!({"product_name": null, "new_ip_policy": "off"})))
            .expect("known keys");
        assert_eq!(second.product_name, None);
        assert_eq!(second.totp_issuer.as_deref(), Some("Acme"));
        assert_eq!(second.new_ip_policy, Some(NewIpPolicy::Off));
        assert_eq!(
            Value::Object(second.to_json()),
            json!({"totp_issuer": "Acme", "new_ip_policy": "off"})
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_and_bad_values_all_reported() {
        let none = TenantSettings::default();
        assert_eq!(
            none.patched(&object(json!({"colour": "red"})))
                .expect_err("unknown")
                .field,
            "settings"
        );
        assert!(none.patched(&object(json!({"new_ip_policy": "sometimes"}))).is_err());
        assert!(
            none.patched(&object(json!({"require_email_verification": "yes"})))
                .is_err()
        );
        let bad = none
            .patched(&object(json!({
                "product_name": " ",
                "mail_from": "Acme <no-reply@acme.example>\r\nBcc: a@b.example",
                "verify_email_url": "https://acme.example/verify",
                "site_url_template": "https://{domain}",
                "totp_issuer": "Acme: EU",
            })))
            .expect("known keys");
        let fields: Vec<_> = bad.problems().iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "product_name",
                "totp_issuer",
                "mail_from",
                "verify_email_url",
                "site_url_template"
            ]
        );
    }

    #[test]
    fn stored_keys_of_a_newer_version_are_skipped_not_fatal() {
        let stored = json!({"product_name": "Acme", "webhook_url": "https://hooks.acme.example"});
        assert_eq!(
            TenantSettings::from_stored(&stored).product_name.as_deref(),
            Some("Acme")
        );
        assert_eq!(
            TenantSettings::from_stored(&json!("garbage")),
            TenantSettings::default()
        );
    }
}
