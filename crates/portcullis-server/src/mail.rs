//! Mail wiring: the transport named by the configuration and the background delivery worker.

use std::sync::Arc;
use std::time::Duration;

use portcullis_domain::{AuthService, Clock};
use portcullis_domain::{MailDelivery, MailTransport, OutboxStore, RetryPolicy};
use portcullis_smtp::{FileMailer, Security, SmtpMailer, SmtpSettings};
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{MailConfig, SEND_BUDGET_TIMEOUTS, SmtpSecurity};

/// Builds the configured transport: SMTP when a host is set, `.eml` files otherwise.
pub fn transport(config: &MailConfig) -> anyhow::Result<Arc<dyn MailTransport>> {
    let Some(host) = &config.smtp_host else {
        tracing::info!(dir = %config.dir.display(), "no SMTP server configured: mail is written as .eml files");
        return Ok(Arc::new(FileMailer::new(&config.dir, &config.from)?));
    };
    let settings = SmtpSettings {
        host: host.clone(),
        port: config.smtp_port,
        security: match config.smtp_security {
            SmtpSecurity::Starttls => Security::StartTls,
            SmtpSecurity::Tls => Security::Tls,
            SmtpSecurity::None => Security::None,
        },
        credentials: config.smtp_username.clone().zip(
            config
                .smtp_password
                .as_ref()
                .map(|p| zeroize::Zeroizing::new(p.expose_secret().to_owned())),
        ),
        timeout: Duration::from_secs(config.smtp_timeout_secs),
        // The budget the delivery use case allows a send, so a lease never lapses mid-send.
        exchange_timeout: Duration::from_secs(SEND_BUDGET_TIMEOUTS * config.smtp_timeout_secs),
        max_connections: config.smtp_max_connections,
    };
    Ok(Arc::new(SmtpMailer::new(&settings, &config.from)?))
}

/// How often the worker deletes stale one-time secrets and unverified accounts.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// The retry policy of the configuration.
pub fn retry_policy(config: &MailConfig) -> RetryPolicy {
    RetryPolicy {
        first_backoff: crate::config::seconds(config.retry_first_secs),
        max_backoff: crate::config::seconds(config.retry_max_secs),
        give_up_after: crate::config::seconds(config.give_up_after_secs),
        lease: crate::config::seconds(config.lease_secs),
        send_budget: crate::config::seconds(SEND_BUDGET_TIMEOUTS * config.smtp_timeout_secs),
    }
}

/// A running delivery worker. Dropping it asks the worker to stop after its current mail.
#[derive(Debug)]
pub struct MailWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    control: portcullis_domain::DeliveryControl,
}

impl MailWorker {
    /// Starts polling every `poll_interval_ms`: first it fulfils recorded registrations and
    /// mail requests (password reset, verification resend) into accounts and outbox mail, then
    /// it drains due mail in batches of `batch_size`.
    pub fn spawn(
        outbox: Arc<dyn OutboxStore>,
        transport: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
        requests: AuthService,
        config: &MailConfig,
    ) -> Self {
        let delivery = MailDelivery::new(outbox, transport, clock, retry_policy(config));
        let control = delivery.control();
        let interval = Duration::from_millis(config.poll_interval_ms);
        let batch = config.batch_size;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut next_purge = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= next_purge {
                    next_purge = tokio::time::Instant::now() + PURGE_INTERVAL;
                    if let Err(e) = requests.purge_stale().await {
                        tracing::warn!(error = %e, "purging stale secrets and accounts failed; will try again");
                    }
                }
                // One batch of each kind of request per round, then delivery: a flood of cheap
                // requests (register, password/forgot) cannot hold up the mail already in the
                // outbox.
                let registrations_left = match requests.fulfil_registration_requests(batch).await {
                    Ok(taken) => taken == batch,
                    Err(e) => {
                        tracing::warn!(error = %e, "fulfilling registrations failed; will try again");
                        false
                    }
                };
                let requests_left = match requests.fulfil_mail_requests(batch).await {
                    Ok(taken) => taken == batch || registrations_left,
                    Err(e) => {
                        tracing::warn!(error = %e, "fulfilling mail requests failed; will try again");
                        registrations_left
                    }
                };
                // Drain: a full batch means more may be due.
                loop {
                    match delivery.run_once(batch).await {
                        Ok(report) if report.handled() == batch => crate::metrics::record_delivery(&report),
                        Ok(report) => {
                            crate::metrics::record_delivery(&report);
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "mail delivery pass failed; will try again");
                            break;
                        }
                    }
                    if *stopped.borrow() {
                        return;
                    }
                }
                if *stopped.borrow() {
                    return;
                }
                if requests_left {
                    continue;
                }
                tokio::select! {
                    changed = stopped.changed() => if changed.is_err() || *stopped.borrow() { return },
                    () = tokio::time::sleep(interval) => {}
                }
            }
        });
        Self { stop, task, control }
    }

    /// Asks the worker to stop and waits (at most `grace`) for the mail in hand. The claims of
    /// its batch that it has not started are given back, so another node sends them at once
    /// rather than when their lease ends; a send that outlives `grace` keeps its own lease.
    pub async fn shutdown(self, grace: Duration) {
        self.control.stop();
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            tracing::warn!("mail worker did not stop in time; the mail being sent keeps its lease");
            if let Err(e) = self.control.release_unstarted().await {
                tracing::warn!(error = %e, "giving back outbox leases failed; they end on their own");
            }
        }
    }
}
