//! Mail transport adapter: SMTP on lettre (STARTTLS, implicit TLS, or plain for local
//! development; optional authentication; pooled connections; timeouts), and a file transport
//! that writes each mail as an `.eml` file, the default when no SMTP server is configured.
//!
//! Both map delivery failures onto the domain's [`SendError`]: SMTP 5xx replies and invalid
//! addresses are permanent, everything else (refused connections, timeouts, 4xx) temporary.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::{ContentType, MessageId};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use portcullis_domain::{MailTransport, OutgoingMail, SendError};
use zeroize::Zeroizing;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text. Only for a relay on the same host or in tests.
    None,
    /// Plain connection upgraded with STARTTLS (required, never optional). Usually port 587.
    StartTls,
    /// TLS from the first byte. Usually port 465.
    Tls,
}

/// SMTP settings.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name (also the TLS server name).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection protection.
    pub security: Security,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, Zeroizing<String>)>,
    /// Timeout for opening a connection (lettre applies it to the TCP connect only).
    pub timeout: Duration,
    /// Limit for a whole send: connect, TLS, every command, the body. lettre's async transport
    /// has no limit past the connect, so a server that accepts and then stalls would hold a
    /// send (and a claimed mail's lease) indefinitely without it.
    pub exchange_timeout: Duration,
    /// Pooled connections kept open.
    pub max_connections: u32,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// A settings or address problem found at start-up.
#[derive(Debug, thiserror::Error)]
#[error("mail configuration: {0}")]
pub struct MailConfigError(String);

/// Builds messages: sender, `Message-ID` domain, multipart bodies.
#[derive(Debug, Clone)]
struct Composer {
    from: Mailbox,
    id_domain: String,
}

impl Composer {
    fn new(from: &str) -> Result<Self, MailConfigError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailConfigError(format!("sender {from:?}: {e}")))?;
        let id_domain = from.email.domain().to_owned();
        Ok(Self { from, id_domain })
    }

    /// The message for `mail`, from the tenant's sender when its brand has one (its domain then
    /// names the `Message-ID` too), from the configured one otherwise.
    fn compose(&self, mail: &OutgoingMail) -> Result<Message, SendError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient address is not valid: {e}")))?;
        let from: Mailbox = match &mail.from {
            Some(sender) => sender
                .parse()
                .map_err(|e| SendError::Permanent(format!("the tenant's sender is not valid: {e}")))?,
            None => self.from.clone(),
        };
        let id_domain = match &mail.from {
            Some(_) => from.email.domain().to_owned(),
            None => self.id_domain.clone(),
        };
        Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            // Stable across retries, so a receiver can drop a duplicate after a crash mid-send.
            .header(MessageId::from(format!("<{}@{id_domain}>", mail.id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(mail.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(mail.html.clone()),
                    ),
            )
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))
    }
}

/// Delivers through an SMTP server.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    composer: Composer,
    exchange_timeout: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.composer.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport. Connections are opened on first use.
    pub fn new(settings: &SmtpSettings, from: &str) -> Result<Self, MailConfigError> {
        let composer = Composer::new(from)?;
        let tls = || {
            TlsParameters::new(settings.host.clone())
                .map_err(|e| MailConfigError(format!("TLS parameters for {}: {e}", settings.host)))
        };
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls()?),
            Security::Tls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(settings.max_connections.max(1)));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(Self {
            transport: builder.build(),
            composer,
            exchange_timeout: settings.exchange_timeout,
        })
    }
}

#[async_trait]
impl MailTransport for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = self.composer.compose(mail)?;
        let sent = tokio::time::timeout(self.exchange_timeout, self.transport.send(message))
            .await
            .map_err(|_| SendError::Temporary(format!("SMTP exchange took over {:?}", self.exchange_timeout)))?;
        sent.map(drop).map_err(|e| {
            if e.is_permanent() {
                SendError::Permanent(e.to_string())
            } else {
                SendError::Temporary(e.to_string())
            }
        })
    }
}

/// Writes each mail as `<uuid>.eml` into a directory: the development default.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    transport: AsyncFileTransport<Tokio1Executor>,
    composer: Composer,
}

impl FileMailer {
    /// Creates the directory if needed.
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailConfigError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| MailConfigError(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self {
            transport: AsyncFileTransport::new(&dir),
            dir,
            composer: Composer::new(from)?,
        })
    }
}

#[async_trait]
impl MailTransport for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), SendError> {
        let message = self.composer.compose(mail)?;
        let name = self
            .transport
            .send(message)
            .await
            .map_err(|e| SendError::Temporary(e.to_string()))?;
        // One line saying where, never what: the body holds one-time links and codes.
        tracing::info!(mail_id = %mail.id, kind = mail.kind.name(), path = %self.dir.join(format!("{name}.eml")).display(), "mail written to file");
        Ok(())
    }
}
