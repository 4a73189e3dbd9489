//! A real Portcullis, spawned in-process for tests — ours, and those of services that put
//! Portcullis in front of their users.
//!
//! Each [`TestApp`] gets a fresh, migrated PostgreSQL database on the server named by
//! `DATABASE_URL` (dropped afterwards), listens on a free port of 127.0.0.1, and runs on a
//! [`ManualClock`] the test can move. Nothing is mocked: storage, hashing, tokens and HTTP are
//! the production code.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let app = portcullis_testkit::TestApp::spawn().await?;
//! let url = app.url("/health/ready");
//! app.clock.advance(chrono::Duration::minutes(16)); // access tokens have expired now
//! # Ok(()) }
//! ```

pub mod pwned;
pub mod siteverify;
pub mod smtp;
mod stub;

pub use smtp::{ReceivedMail, SmtpSink};

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use portcullis_domain::{Clock, ManualClock};
use portcullis_postgres::scratch::ScratchDatabase;
use portcullis_server::{Config, Overrides};
use secrecy::SecretString;

/// A running Portcullis with its own database.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its clock; move it to expire tokens or leave grace windows.
    pub clock: Arc<ManualClock>,
    /// The SMTP server its mail goes to (unless a test configured another transport).
    pub mail: SmtpSink,
    /// Where `GET /metrics` is served on its own (`metrics.bind`), if it is.
    pub metrics_addr: Option<SocketAddr>,
    auth: portcullis_domain::AuthService,
    _stop: StopOnDrop,
    // Kept for the app's life: dropping it stops the mail worker.
    _mail_worker: Option<portcullis_server::mail::MailWorker>,
    mail_dir: std::path::PathBuf,
    // Dropped last: the server must stop before its database goes.
    db: ScratchDatabase,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.mail_dir);
    }
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Stops the server when the app is dropped.
struct StopOnDrop(Option<actix_web::dev::ServerHandle>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            // stop() only signals; the server task winds down on its own runtime.
            drop(handle.stop(false));
        }
    }
}

/// Settings a test may change before the app starts.
#[derive(Debug)]
pub struct Builder {
    config: Config,
    mail: std::io::Result<SmtpSink>,
}

impl TestApp {
    /// A builder with test defaults: cheap argon2 parameters (so suites stay fast), one HTTP
    /// worker, port 0, rate limits off, and mail delivered over real SMTP to [`TestApp::mail`],
    /// polled every 50 ms. Everything else is the production default (email verification
    /// required).
    pub fn builder() -> Builder {
        let mail = SmtpSink::start();
        let mut config = Config::default();
        config.server.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.server.workers = 1;
        // Each test database gets keys of its own, generated and kept in it.
        config.server.profile = portcullis_server::config::Profile::Development;
        config.passwords.argon2_m_cost_kib = 1024;
        config.passwords.argon2_t_cost = 1;
        config.passwords.hashing_threads = 2;
        config.mail.dir = std::env::temp_dir().join(format!("portcullis-testkit-mail-{}", uuid::Uuid::now_v7()));
        config.mail.poll_interval_ms = 50;
        // Suites log in and register far more often than people; a test of the limits turns
        // them back on with `configure`.
        config.limits.disable_all();
        if let Ok(sink) = &mail {
            config.mail.smtp_host = Some("127.0.0.1".into());
            config.mail.smtp_port = sink.port();
            config.mail.smtp_security = portcullis_server::config::SmtpSecurity::None;
        }
        Builder { config, mail }
    }

    /// Spawns with test defaults.
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::builder().spawn().await
    }

    /// Absolute URL of `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Drops the app's database under it (terminating its connections): a database outage,
    /// for fault tests.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        Ok(self.db.drop_now().await?)
    }

    /// URL of the app's own database, for tests that look at what was stored.
    pub fn database_url(&self) -> &str {
        self.db.url()
    }

    /// Waits (up to 10 s) for the `n`-th mail to `to` and returns it.
    pub async fn nth_mail_to(&self, to: &str, n: usize) -> anyhow::Result<ReceivedMail> {
        let got = self.mail.wait_for_to(to, n, std::time::Duration::from_secs(10)).await;
        got.into_iter()
            .nth(n.saturating_sub(1))
            .with_context(|| format!("no mail number {n} to {to} arrived"))
    }

    /// Waits (up to 10 s) until every mail asked of the app so far has had its first delivery
    /// attempt: no queued registration or mail request is unfulfilled and no outbox mail is
    /// untried or being sent. After it returns, counting [`TestApp::mail`] gives a stable baseline for "the
    /// next mail", which a count taken while a mail is still in flight does not.
    pub async fn mail_settled(&self) -> anyhow::Result<()> {
        use diesel::sql_types::BigInt;
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }

        let mut conn = AsyncPgConnection::establish(self.db.url()).await?;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let in_flight = diesel::sql_query(
                "SELECT (SELECT count(*) FROM mail_requests) \
                      + (SELECT count(*) FROM registration_requests) \
                      + (SELECT count(*) FROM mail_outbox WHERE status = 'pending' \
                          AND (attempts = 0 OR leased_until IS NOT NULL)) AS n",
            )
            .get_result::<Count>(&mut conn)
            .await?
            .n;
            if in_flight == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{in_flight} mails still in flight after 10 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The current time on the app's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Runs the purge the mail worker runs about once a minute (dead one-time secrets, accounts
    /// left unverified), now, on the app's clock: for tests that move the clock past a
    /// retention period.
    pub async fn purge_stale(&self) -> anyhow::Result<portcullis_domain::Purged> {
        Ok(self.auth.purge_stale().await?)
    }
}

impl Builder {
    /// Changes any setting.
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(&mut self.config);
        self
    }

    /// Creates the database and starts the server. The socket is bound when this returns, so
    /// requests sent at once are queued, not refused.
    pub async fn spawn(mut self) -> anyhow::Result<TestApp> {
        let mail = self.mail.context("starting the test SMTP server")?;
        let admin_url = std::env::var("DATABASE_URL")
            .context("DATABASE_URL must point at a PostgreSQL server the tests may create databases on")?;
        let db = ScratchDatabase::create(&admin_url)
            .await
            .context("creating the test database")?;
        self.config.database.url = Some(SecretString::from(db.url().to_owned()));
        // The scratch database is migrated already.
        self.config.database.migrate_on_start = false;
        self.config.validate()?;
        let clock = Arc::new(ManualClock::starting_now());
        let overrides = Overrides {
            clock: Some(clock.clone() as Arc<dyn Clock>),
            no_signals: true,
        };
        let running = portcullis_server::start(&self.config, overrides).await?;
        let handle = running.handle.clone();
        tokio::spawn(running.server);
        Ok(TestApp {
            addr: running.addr,
            metrics_addr: running.metrics_addr,
            clock,
            mail,
            auth: running.auth.clone(),
            _stop: StopOnDrop(Some(handle)),
            _mail_worker: running.mail_worker,
            mail_dir: self.config.mail.dir.clone(),
            db,
        })
    }
}
