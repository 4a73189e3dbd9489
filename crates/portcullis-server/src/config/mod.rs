//! The one typed configuration: defaults, then a TOML file, then `PORTCULLIS_*` environment
//! variables (`__` separates levels: `PORTCULLIS_DATABASE__URL`). Unknown keys are an error, so
//! a typo never silently falls back to a default. Documented in docs/CONFIGURATION.md.

use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::Deserialize;

mod avatars;
mod common;
mod flows;
mod limits;
mod mail;
mod metrics;
mod secrets;
mod server;
mod tokens;

pub use avatars::{AvatarFormatConfig, AvatarShape, AvatarStoreKind, AvatarsConfig};
pub use common::{ConfigError, seconds};
pub use flows::{
    LoginConfig, MfaConfig, NewIpPolicyConfig, OneTimeConfig, RegistrationConfig, RetentionConfig, SignupConfig,
};
pub use limits::{
    CaptchaConfig, HCaptchaConfig, LimitConfig, LimitStore, LimitsConfig, ReCaptchaConfig, TurnstileConfig,
};
pub use mail::{MailConfig, SEND_BUDGET_TIMEOUTS, SmtpSecurity};
pub use metrics::MetricsConfig;
pub use server::{DatabaseConfig, LogConfig, LogFormat, Profile, ServerConfig};
pub use tokens::{HashBackendConfig, PasswordsConfig, TokensConfig, UsernamesConfig};

/// Everything the server reads at start-up.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP listener.
    pub server: ServerConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Access and refresh tokens, signing keys.
    pub tokens: TokensConfig,
    /// Password rules and hashing.
    pub passwords: PasswordsConfig,
    /// Username rules.
    pub usernames: UsernamesConfig,
    /// Logging.
    pub log: LogConfig,
    /// Outgoing mail.
    pub mail: MailConfig,
    /// Sign-up rules.
    pub registration: RegistrationConfig,
    /// Customer signup.
    pub signup: SignupConfig,
    /// Lifetimes and attempt limits of emailed links and codes.
    pub one_time: OneTimeConfig,
    /// Second factor.
    pub mfa: MfaConfig,
    /// Login rules.
    pub login: LoginConfig,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Captcha providers and the endpoints that need one.
    pub captcha: CaptchaConfig,
    /// How long stale data is kept.
    pub retention: RetentionConfig,
    /// Avatar uploads and storage.
    pub avatars: AvatarsConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
}

impl Config {
    /// Loads defaults ← `file` (if given) ← `DATABASE_URL` ← `PORTCULLIS_*`, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        figment = secrets::merge_environment(figment);
        Self::from_figment(&figment).map_err(|e| ConfigError(secrets::scrub(&e.0)))
    }

    /// Extracts and validates from any figment (tests build their own): every error found, one
    /// per line, each naming its setting.
    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigError> {
        let mut config: Self = figment.extract().map_err(|e| ConfigError(extraction_errors(e)))?;
        let mut errors = config.read_secret_files();
        if let Err(e) = config.validate() {
            errors.push(e.0);
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(errors.join("\n")))
        }
    }

    /// Checks what serde cannot: ranges and relations between settings, section by section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            self.passwords.validate(),
            self.tokens.validate(),
            self.server.validate(),
            self.limits.validate(),
            self.captcha.validate(),
            self.database.validate(),
            self.mail.validate(),
            self.one_time.validate(),
            self.mfa.validate(),
            self.usernames.validate(),
            self.signup.validate(),
            self.retention.validate(),
            self.log.validate(),
            self.avatars.validate(),
            self.metrics.validate(self.server.bind),
        ];
        let errors: Vec<String> = checks.into_iter().filter_map(Result::err).map(|e| e.0).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(errors.join("\n")))
        }
    }
}

/// Figment's errors, one per line; a secret setting's is told without its value.
fn extraction_errors(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if secrets::is_secret(&key) {
                format!("{key}: not a usable value (a string is expected; the value is not shown)")
            } else if key.is_empty() {
                // A syntax error of the file: the parser quotes the offending line, which may
                // hold a secret. Keep where it is and what is wrong, not the line.
                let text = e.to_string();
                let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                match (lines.first(), lines.last()) {
                    (Some(first), Some(last)) if lines.len() > 1 => format!("{first}: {last}"),
                    _ => text,
                }
            } else {
                e.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn with_url() -> Figment {
        Figment::new().merge(Serialized::default("database.url", "postgres://x@localhost/db"))
    }

    #[test]
    fn a_shared_limit_store_needs_its_url_and_a_url_needs_the_shared_store() {
        let load = |toml: &str| Config::from_figment(&with_url().merge(Toml::string(toml)));
        let err = |toml: &str| load(toml).unwrap_err().to_string();
        assert!(err("[limits]\nstore = \"redis\"").contains("limits.redis_url (or redis_url_file) is required"));
        assert!(err("[limits]\nredis_url = \"redis://127.0.0.1\"").contains("limits.store is \"memory\""));
        let wrong_scheme = err("[limits]\nstore = \"redis\"\nredis_url = \"http://user:hunter22@x\"");
        assert!(wrong_scheme.contains("must start with redis://"), "{wrong_scheme}");
        assert!(!wrong_scheme.contains("hunter22"), "{wrong_scheme}");
        assert!(err("[limits]\nstore = \"cluster\"").contains("limits.store"));
        let ok = load("[limits]\nstore = \"redis\"\nredis_url = \"rediss://cache.internal:6380\"").unwrap();
        assert_eq!(ok.limits.store, LimitStore::Redis);
        assert_eq!(ok.limits.redis_prefix, "portcullis:rl");
    }

    #[test]
    fn limits_read_as_count_per_period_and_zero_disables() {
        let parse = |v: &str| {
            let figment = with_url().merge(Toml::string(&format!("[limits]\nlogin_per_ip = {v}")));
            Config::from_figment(&figment).map(|c| c.limits.login_per_ip)
        };
        assert_eq!(parse("\"20/15m\"").unwrap(), LimitConfig::new(20, 900));
        assert_eq!(parse("\"3/1h\"").unwrap(), LimitConfig::new(3, 3600));
        assert_eq!(parse("\"10/d\"").unwrap(), LimitConfig::new(10, 86_400));
        assert_eq!(parse("\"5/900\"").unwrap(), LimitConfig::new(5, 900));
        assert_eq!(parse("0").unwrap().count, 0);
        assert_eq!(parse("\"off\"").unwrap().count, 0);
        for bad in ["5", "\"5 per minute\"", "\"5/15x\"", "\"-1/1m\"", "\"5/0s\""] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses_and_refuse_the_rest() {
        let mut server = ServerConfig {
            trusted_proxies: vec![
                "10.0.0.0/8".into(),
                "192.0.2.7".into(),
                "2001:db8::/32".into(),
                "10.1.2.3/8".into(),
                "::ffff:172.16.0.0/108".into(),
                "::ffff:192.0.2.9".into(),
            ],
            ..ServerConfig::default()
        };
        let nets = server.trusted_proxies().unwrap();
        assert_eq!(nets.len(), 6);
        assert!(nets[1].contains(&"192.0.2.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(nets[3].to_string(), "10.0.0.0/8");
        // Mapped forms mean the IPv4 nets, which is how peers are compared.
        assert_eq!(nets[4].to_string(), "172.16.0.0/12");
        assert_eq!(nets[5].to_string(), "192.0.2.9/32");
        server.trusted_proxies = vec!["proxy.internal".into()];
        assert!(server.trusted_proxies().is_err());
    }

    /// The complete example in docs/CONFIGURATION.md is a configuration this code accepts, so
    /// the page cannot drift from the keys.
    #[test]
    fn the_documented_complete_example_is_valid() {
        let doc = include_str!("../../../../docs/CONFIGURATION.md");
        let example = doc
            .split("## Complete example")
            .nth(1)
            .and_then(|rest| rest.split("```toml").nth(1))
            .and_then(|block| block.split("```").next())
            .expect("a toml block under Complete example");
        let config = Config::from_figment(&Figment::new().merge(Toml::string(example)))
            .unwrap_or_else(|e| panic!("the documented example is refused: {e}"));
        assert_eq!(config.limits.email_change_per_account, LimitConfig::new(3, 3600));
        assert_eq!(config.retention.unverified_account_days, 7);
        assert!(!config.passwords.pwned_check);
    }

    #[test]
    fn defaults_are_valid_with_or_without_a_database_url() {
        let config = Config::from_figment(&with_url()).unwrap();
        assert_eq!(config.passwords.min_length, 8);
        assert_eq!(config.tokens.refresh_grace_secs, 10);
        let embedded = Config::from_figment(&Figment::new()).expect("no url: SQLite under .data");
        assert_eq!(
            embedded.database.sqlite_path,
            std::path::Path::new(".data/portcullis.db")
        );
        for url in [
            "sqlite://db/auth.db",
            "sqlite:///var/lib/portcullis/auth.db",
            "sqlite://:memory:",
        ] {
            assert!(
                Config::from_figment(&Figment::new().merge(Serialized::default("database.url", url))).is_ok(),
                "{url}"
            );
        }
        assert!(Config::from_figment(&Figment::new().merge(Serialized::default("database.url", "sqlite://"))).is_err());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let figment = with_url().merge(Serialized::default("passwords.min_lenght", 10));
        let err = Config::from_figment(&figment).unwrap_err().to_string();
        assert!(err.contains("min_lenght"), "{err}");
        let figment = with_url().merge(Serialized::default("nonsense", 1));
        assert!(Config::from_figment(&figment).is_err());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "portcullis.toml",
                "[passwords]\nmin_length = 10\n[database]\nurl = \"postgres://f/db\"\n",
            )?;
            jail.set_env("PORTCULLIS_PASSWORDS__MIN_LENGTH", "12");
            jail.set_env("PORTCULLIS_CONFIG", "portcullis.toml");
            let config = Config::load(Some(Path::new("portcullis.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.passwords.min_length, 12);
            jail.set_env("PORTCULLIS_TOKENS__NOPE", "1");
            assert!(Config::load(Some(Path::new("portcullis.toml"))).is_err());
            Ok(())
        });
    }

    /// Digit-only and other number-like strings stay strings, secrets may come from files, and
    /// no error echoes a secret.
    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn strings_stay_strings_secrets_come_from_files_and_are_never_echoed() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://u@localhost/db");
            jail.set_env("PORTCULLIS_MAIL__SMTP_USERNAME", "0042");
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD", "0084736251");
            jail.set_env("PORTCULLIS_MFA__ISSUER", "true");
            jail.set_env("PORTCULLIS_PASSWORDS__MIN_LENGTH", "12");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.mail.smtp_username.as_deref(), Some("0042"));
            let password = config.mail.smtp_password.as_ref().map(|p| p.expose_secret().to_owned());
            assert_eq!(password.as_deref(), Some("0084736251"), "not the number 84736251");
            assert_eq!(config.mfa.issuer, "true");
            assert_eq!(config.passwords.min_length, 12, "numbers are still numbers");

            jail.create_file("smtp-password", "from a file 123\n")?;
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD", "");
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD_FILE", "smtp-password");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            let password = config.mail.smtp_password.as_ref().map(|p| p.expose_secret().to_owned());
            assert_eq!(password.as_deref(), Some("from a file 123"), "without its line break");

            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD", "s3cret-both-set");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("mail.smtp_password or mail.smtp_password_file"), "{err}");
            assert!(!err.contains("s3cret-both-set"), "{err}");
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD", "");
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD_FILE", "missing-file");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(
                err.contains("mail.smtp_password_file: cannot read missing-file"),
                "{err}"
            );

            // A TOML secret of the wrong type is named, its value not shown.
            jail.create_file("p.toml", "[mail]\nsmtp_username = \"u\"\nsmtp_password = 84736251\n")?;
            jail.set_env("PORTCULLIS_MAIL__SMTP_PASSWORD_FILE", "");
            let err = Config::load(Some(Path::new("p.toml"))).unwrap_err().to_string();
            assert!(err.contains("mail.smtp_password"), "{err}");
            assert!(!err.contains("84736251"), "{err}");

            // A syntax error: the parser would quote the line, secret and all.
            jail.create_file("broken.toml", "[tokens]\nrefresh_key = AAAAsecretBBBB=\n")?;
            let err = Config::load(Some(Path::new("broken.toml"))).unwrap_err().to_string();
            assert!(err.contains("line 2"), "where it is: {err}");
            assert!(!err.contains("AAAAsecretBBBB"), "{err}");
            Ok(())
        });
    }

    /// Every single-string setting is in the list read verbatim from the environment: a new
    /// one left out would be parsed (and `0123` would become 123).
    #[test]
    fn every_string_setting_is_read_verbatim() {
        let sources = [
            include_str!("avatars.rs"),
            include_str!("flows.rs"),
            include_str!("limits.rs"),
            include_str!("mail.rs"),
            include_str!("server.rs"),
            include_str!("tokens.rs"),
        ];
        let string_types = [
            ": String,",
            ": Option<String>,",
            ": SecretString,",
            ": Option<SecretString>,",
            ": PathBuf,",
            ": Option<PathBuf>,",
            ": Option<std::path::PathBuf>,",
        ];
        let fields = sources
            .iter()
            .flat_map(|s| s.lines())
            .filter(|l| l.trim_start().starts_with("pub ") && string_types.iter().any(|t| l.ends_with(t)))
            .count();
        assert_eq!(
            fields,
            secrets::STRING_KEYS.len(),
            "a string setting is missing from STRING_KEYS"
        );
    }

    #[test]
    fn every_error_is_listed_each_naming_its_setting() {
        let figment = with_url()
            .merge(Serialized::default("log.filter", "infoo"))
            .merge(Serialized::default("database.url", "not a url"))
            .merge(Serialized::default(
                "server.cors_allowed_origins",
                vec!["https://app.example.com/"],
            ))
            .merge(Serialized::default("server.trusted_proxies", vec!["proxy.internal"]))
            .merge(Serialized::default("mail.from", "nobody"))
            .merge(Serialized::default("mail.batch_size", 0))
            .merge(Serialized::default("passwords.min_length", 0))
            .merge(Serialized::default("passwords.pwned_range_url", "ftp://x"))
            .merge(Serialized::default("tokens.access_ttl_secs", 0))
            .merge(Serialized::default("tokens.leeway_secs", 999));
        let err = Config::from_figment(&figment).unwrap_err().to_string();
        // Several errors of one section are all listed too.
        for key in [
            "log.filter",
            "database.url",
            "server.cors_allowed_origins",
            "server.trusted_proxies",
            "mail.from",
            "mail: batch_size",
            "passwords.min_length",
            "passwords.pwned_range_url",
            "tokens.access_ttl_secs",
            "tokens.leeway_secs",
        ] {
            assert!(err.contains(key), "{key} missing from: {err}");
        }
        for fine in ["info", "portcullis=debug,info", "warn,actix_web=error", "off"] {
            let figment = with_url().merge(Serialized::default("log.filter", fine));
            assert!(Config::from_figment(&figment).is_ok(), "{fine}");
        }
        let figment = with_url().merge(Serialized::default("database.url", "mysql://x@localhost/db"));
        assert!(Config::from_figment(&figment).is_err());
    }

    #[test]
    fn invalid_relations_are_rejected() {
        for (key, value) in [
            ("passwords.min_length", 0i64),
            ("passwords.min_length", 200),
            ("tokens.access_ttl_secs", 0),
            ("tokens.access_ttl_secs", 9_300_000_000_000_000),
            ("tokens.session_ttl_secs", 8_000_000_000_000),
            ("tokens.leeway_secs", 301),
            ("passwords.argon2_m_cost_kib", 2_000_000),
            ("passwords.argon2_t_cost", 0),
            ("database.max_connections", 0),
            ("server.body_limit_bytes", 10),
            ("one_time.code_ttl_secs", 0),
            ("one_time.max_code_attempts", 0),
            ("one_time.reset_link_ttl_secs", 100_000_000),
        ] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value}");
        }
        let bad_pattern = with_url().merge(Serialized::default("usernames.pattern", "^.*$"));
        assert!(Config::from_figment(&bad_pattern).is_err());
        for (key, value) in [("mfa.issuer", "Acme:Corp"), ("mfa.issuer", " ")] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value:?}");
        }
        for (key, value) in [
            ("mfa.max_failures", 0),
            ("mfa.lockout_secs", 0),
            ("mfa.lockout_secs", 86_401),
        ] {
            let figment = with_url().merge(Serialized::default(key, value));
            assert!(Config::from_figment(&figment).is_err(), "{key}={value}");
        }
        let bad_key = with_url().merge(Serialized::default("mfa.encryption_key", "c2hvcnQ="));
        assert!(crate::keys::configured_keys(&Config::from_figment(&bad_key).unwrap()).is_err());
        let no_token = with_url().merge(Serialized::default(
            "mail.reset_password_url",
            "https://app.example.com/reset",
        ));
        assert!(Config::from_figment(&no_token).is_err());
    }
}
