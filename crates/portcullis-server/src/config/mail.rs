//! The `mail` section: transport, worker, retries and the front end's links.
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use super::common::{ConfigError, Problems};

/// A send may take this many SMTP command timeouts (connect, EHLO, MAIL, RCPT, DATA...).
pub const SEND_BUDGET_TIMEOUTS: u64 = 4;

/// `[mail]`. With no `smtp_host`, mail is written as `.eml` files under `dir` (the development
/// default); with one, it goes through that SMTP server.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// Sender, e.g. `Portcullis <no-reply@auth.example.com>`; its domain names Message-IDs.
    pub from: String,
    /// Directory of the file transport.
    pub dir: PathBuf,
    /// SMTP server host; unset = file transport.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// `starttls` (default), `tls` (implicit, port 465) or `none` (local relays and tests only).
    pub smtp_security: SmtpSecurity,
    /// SMTP user name.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<SecretString>,
    /// A file holding `smtp_password`.
    pub smtp_password_file: Option<PathBuf>,
    /// Per-command SMTP timeout, seconds.
    pub smtp_timeout_secs: u64,
    /// Pooled SMTP connections.
    pub smtp_max_connections: u32,
    /// Run the delivery worker in this process (any number of processes may).
    pub deliver: bool,
    /// How often the worker looks for due mail, ms.
    pub poll_interval_ms: u64,
    /// Mails claimed per pass.
    pub batch_size: u32,
    /// First retry wait after a temporary failure, seconds (doubles each time).
    pub retry_first_secs: u64,
    /// Longest retry wait, seconds.
    pub retry_max_secs: u64,
    /// Temporary failures are retried until a mail is this old, seconds; then it is given up.
    pub give_up_after_secs: u64,
    /// How long a worker's claim on a mail lasts, seconds. Must exceed a whole SMTP exchange.
    pub lease_secs: u64,
    /// Product name in subjects and texts.
    pub product_name: String,
    /// Front-end page that takes a verification link's token; must contain `{token}`. Links are
    /// built only from these settings, never from a request's `Host`.
    pub verify_email_url: String,
    /// Front-end page that confirms a new address; must contain `{token}`.
    pub change_email_url: String,
    /// Front-end page that sets a new password; must contain `{token}`.
    pub reset_password_url: String,
    /// Front-end page that authorizes a new IP address; must contain `{token}`.
    pub authorize_ip_url: String,
}

impl MailConfig {
    /// The branding of rendered mail.
    pub fn branding(&self) -> portcullis_domain::templates::MailBranding {
        portcullis_domain::templates::MailBranding {
            product: self.product_name.clone(),
            verify_email_url: self.verify_email_url.clone(),
            change_email_url: self.change_email_url.clone(),
            reset_password_url: self.reset_password_url.clone(),
            authorize_ip_url: self.authorize_ip_url.clone(),
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "Portcullis <no-reply@localhost.localdomain>".into(),
            dir: PathBuf::from(".data/mail"),
            smtp_host: None,
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_password_file: None,
            smtp_timeout_secs: 15,
            smtp_max_connections: 4,
            deliver: true,
            poll_interval_ms: 1_000,
            batch_size: 20,
            retry_first_secs: 5,
            retry_max_secs: 600,
            give_up_after_secs: 86_400,
            lease_secs: 120,
            product_name: "Portcullis".into(),
            verify_email_url: "http://localhost:3000/verify-email?token={token}".into(),
            change_email_url: "http://localhost:3000/confirm-email?token={token}".into(),
            reset_password_url: "http://localhost:3000/reset-password?token={token}".into(),
            authorize_ip_url: "http://localhost:3000/authorize-ip?token={token}".into(),
        }
    }
}

/// SMTP connection protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plain text.
    None,
}

impl MailConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        let m = self;
        if m.smtp_timeout_secs == 0 || m.lease_secs < 2 * SEND_BUDGET_TIMEOUTS * m.smtp_timeout_secs {
            problems.push(
                "mail.lease_secs must be at least 8 x mail.smtp_timeout_secs: a send may take 4 timeouts, and a claim must outlive it",
            );
        }
        if m.batch_size == 0
            || m.poll_interval_ms == 0
            || m.retry_first_secs == 0
            || m.retry_max_secs < m.retry_first_secs
        {
            problems.push(
                "mail: batch_size, poll_interval_ms and retry_first_secs must be positive, retry_max_secs >= retry_first_secs",
            );
        }
        problems.add(
            portcullis_domain::model::validate_sender(&m.from).map_err(|e| ConfigError(format!("mail.from: {e}"))),
        );
        if m.smtp_username.is_some() != m.smtp_password.is_some() {
            problems.push("mail.smtp_username and mail.smtp_password go together");
        }
        problems.add(
            self.branding()
                .validate()
                .map_err(|e| ConfigError(format!("mail: {e}"))),
        );
        problems.into_result()
    }
}
