//! Secrets and strings in the configuration: string settings read from the environment stay
//! strings whatever their characters (`PORTCULLIS_MAIL__SMTP_PASSWORD=0123` is the password
//! `0123`, not the number 123), every secret may come from a file (`…_file`, e.g.
//! `PORTCULLIS_MAIL__SMTP_PASSWORD_FILE=/run/secrets/smtp`), and no error message carries a
//! secret's value.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Serialized};
use secrecy::{ExposeSecret, SecretString};

use super::Config;

/// Every setting whose value is one string (or a path). From the environment they are taken
/// as written; everything else is parsed (numbers, booleans, lists).
pub(crate) const STRING_KEYS: &[&str] = &[
    "database.url",
    "database.url_file",
    "log.filter",
    "tokens.issuer",
    "tokens.audience",
    "tokens.signing_key_pem",
    "tokens.signing_key_file",
    "tokens.next_signing_key_file",
    "tokens.refresh_key",
    "tokens.refresh_key_file",
    "passwords.pwned_range_url",
    "usernames.pattern",
    "mail.from",
    "mail.dir",
    "mail.smtp_host",
    "mail.smtp_username",
    "mail.smtp_password",
    "mail.smtp_password_file",
    "mail.product_name",
    "mail.verify_email_url",
    "mail.change_email_url",
    "mail.reset_password_url",
    "mail.authorize_ip_url",
    "signup.site_url_template",
    "mfa.issuer",
    "mfa.encryption_key",
    "mfa.encryption_key_file",
    "mfa.next_encryption_key",
    "mfa.next_encryption_key_file",
    "captcha.hcaptcha.secret",
    "captcha.hcaptcha.secret_file",
    "captcha.hcaptcha.site_key",
    "captcha.hcaptcha.verify_url",
    "captcha.recaptcha.secret",
    "captcha.recaptcha.secret_file",
    "captcha.recaptcha.expected_action",
    "captcha.recaptcha.verify_url",
    "captcha.turnstile.secret",
    "captcha.turnstile.secret_file",
    "captcha.turnstile.verify_url",
    "server.public_url",
    "avatars.directory",
    "limits.redis_url",
    "limits.redis_url_file",
    "limits.redis_prefix",
];

/// The settings that hold a secret (scrubbed from every error message).
const SECRET_KEYS: &[&str] = &[
    "database.url",
    "limits.redis_url",
    "tokens.signing_key_pem",
    "tokens.refresh_key",
    "mail.smtp_password",
    "mfa.encryption_key",
    "mfa.next_encryption_key",
    "mfa.previous_encryption_keys",
    "captcha.hcaptcha.secret",
    "captcha.recaptcha.secret",
    "captcha.turnstile.secret",
];

/// Whether the setting `key` (dotted) holds a secret.
pub(crate) fn is_secret(key: &str) -> bool {
    SECRET_KEYS.contains(&key)
}

/// The default of a secret that may come from its `…_file` instead: empty, which the section's
/// check refuses when no file filled it.
pub(crate) fn unset() -> SecretString {
    SecretString::from(String::new())
}

fn dotted(env_key: &str) -> String {
    env_key.to_ascii_lowercase().replace("__", ".")
}

/// Merges the `PORTCULLIS_*` variables into `figment`: string settings as written, the rest
/// parsed. `PORTCULLIS_CONFIG` names the file; it is not a setting.
pub(crate) fn merge_environment(mut figment: Figment) -> Figment {
    let parsed = Env::prefixed("PORTCULLIS_")
        .ignore(&["config"])
        .filter(|key| !STRING_KEYS.contains(&dotted(key.as_str()).as_str()))
        .split("__");
    figment = figment.merge(parsed);
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        let Some(key) = name.strip_prefix("PORTCULLIS_") else {
            continue;
        };
        let key = dotted(key);
        if STRING_KEYS.contains(&key.as_str()) {
            figment = figment.merge(Serialized::default(&key, value));
        }
    }
    figment
}

/// A secret file's content, without the line break editors and `echo` leave at its end.
fn read(setting: &str, path: &Path) -> Result<SecretString, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SecretString::from(text.trim_end_matches(['\n', '\r']).to_owned())),
        Err(e) => Err(format!("{setting}: cannot read {}: {}", path.display(), e.kind())),
    }
}

/// A captcha provider's secret and the file it may come from.
type ProviderSecret<'a> = (&'a mut SecretString, Option<&'a PathBuf>);

/// Fills `target` from `file` when one is given; both given is an error.
fn from_file(setting: &str, target: &mut Option<SecretString>, file: Option<&PathBuf>, errors: &mut Vec<String>) {
    let Some(path) = file else { return };
    if target.as_ref().is_some_and(|s| !s.expose_secret().is_empty()) {
        errors.push(format!("set {setting} or {setting}_file, not both"));
        return;
    }
    match read(&format!("{setting}_file"), path) {
        Ok(secret) => *target = Some(secret),
        Err(e) => errors.push(e),
    }
}

impl Config {
    /// Reads every `…_file` secret into its setting; the errors of all of them.
    pub(crate) fn read_secret_files(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        let db = &mut self.database;
        from_file("database.url", &mut db.url, db.url_file.as_ref(), &mut errors);
        let l = &mut self.limits;
        from_file(
            "limits.redis_url",
            &mut l.redis_url,
            l.redis_url_file.as_ref(),
            &mut errors,
        );
        let t = &mut self.tokens;
        from_file(
            "tokens.refresh_key",
            &mut t.refresh_key,
            t.refresh_key_file.as_ref(),
            &mut errors,
        );
        let m = &mut self.mfa;
        from_file(
            "mfa.encryption_key",
            &mut m.encryption_key,
            m.encryption_key_file.as_ref(),
            &mut errors,
        );
        from_file(
            "mfa.next_encryption_key",
            &mut m.next_encryption_key,
            m.next_encryption_key_file.as_ref(),
            &mut errors,
        );
        let mail = &mut self.mail;
        from_file(
            "mail.smtp_password",
            &mut mail.smtp_password,
            mail.smtp_password_file.as_ref(),
            &mut errors,
        );
        let c = &mut self.captcha;
        let providers: [(&str, Option<ProviderSecret<'_>>); 3] = [
            (
                "captcha.hcaptcha.secret",
                c.hcaptcha.as_mut().map(|p| (&mut p.secret, p.secret_file.as_ref())),
            ),
            (
                "captcha.recaptcha.secret",
                c.recaptcha.as_mut().map(|p| (&mut p.secret, p.secret_file.as_ref())),
            ),
            (
                "captcha.turnstile.secret",
                c.turnstile.as_mut().map(|p| (&mut p.secret, p.secret_file.as_ref())),
            ),
        ];
        for (setting, provider) in providers {
            if let Some((secret, file)) = provider {
                let mut slot = Some(std::mem::replace(secret, unset()));
                from_file(setting, &mut slot, file, &mut errors);
                *secret = slot.unwrap_or_else(unset);
            }
        }
        errors
    }
}

/// `message` with the value of every secret setting found in the environment replaced by
/// `<redacted>`, so no error line can carry one whatever the parser quoted.
pub(crate) fn scrub(message: &str) -> String {
    let mut scrubbed = message.to_owned();
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else {
            continue;
        };
        let secret = name
            .strip_prefix("PORTCULLIS_")
            .is_some_and(|key| SECRET_KEYS.contains(&dotted(key).as_str()))
            || name == "DATABASE_URL";
        if secret && value.len() >= 4 {
            scrubbed = scrubbed.replace(value, "<redacted>");
        }
    }
    scrubbed
}
