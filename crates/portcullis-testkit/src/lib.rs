//! A real Portcullis, spawned in-process for tests — ours, and those of services that put
//! Portcullis in front of their users.
//!
//! Each [`TestApp`] gets a fresh database of its own — by default a private in-memory SQLite
//! database (nothing to install or start), or with [`Builder::postgres`] a fresh, migrated
//! PostgreSQL database on the server named by `DATABASE_URL` (dropped afterwards) — listens on
//! a free port of 127.0.0.1, delivers its mail over real SMTP to a server of the test's own
//! ([`TestApp::mail`]), and runs on a [`ManualClock`] the test can move. Captcha is off unless
//! configured (see [`siteverify`] for a stub provider). Nothing is mocked: storage, hashing,
//! tokens and HTTP are the production code.
//!
//! Another service's integration test, registering, verifying and logging in:
//!
//! ```
//! # #[tokio::main] async fn main() -> anyhow::Result<()> {
//! use serde_json::json;
//! let app = portcullis_testkit::TestApp::spawn().await?;
//! let ada = json!({ "email": "ada@example.com", "password": "correct horse battery" });
//! app.post("/v1/auth/register", &ada).await?;
//! let code = app.nth_mail_to("ada@example.com", 1).await?.code().expect("a code");
//! app.post("/v1/auth/verify-email", &json!({ "email": "ada@example.com", "code": code })).await?;
//! let login = app.post("/v1/auth/login", &ada).await?;
//! assert!(login["access_token"].is_string());
//! app.clock.advance(chrono::Duration::minutes(16)); // the access token has expired now
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
    database: Arc<portcullis_server::database::Database>,
    // Dropped last: the server must stop before its database goes.
    db: Option<ScratchDatabase>,
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
    /// `Some(admin URL)`: a scratch PostgreSQL database made there; `None`: SQLite in memory.
    postgres: Option<String>,
    /// A database that exists already (migrated or not), used as it is and kept afterwards.
    existing: Option<String>,
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
        Builder {
            config,
            mail,
            postgres: None,
            existing: None,
        }
    }

    /// Spawns with test defaults.
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::builder().spawn().await
    }

    /// Absolute URL of `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Drops the app's PostgreSQL database under it (terminating its connections): a database
    /// outage, for fault tests. An error on SQLite.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        let db = self
            .db
            .as_ref()
            .context("drop_database needs PostgreSQL (Builder::postgres)")?;
        Ok(db.drop_now().await?)
    }

    /// URL of the app's own PostgreSQL database, for tests that look at what was stored.
    ///
    /// # Panics
    /// On SQLite (the default), whose in-memory database no other connection can reach.
    pub fn database_url(&self) -> &str {
        self.db
            .as_ref()
            .map(ScratchDatabase::url)
            .expect("database_url needs PostgreSQL (Builder::postgres)")
    }

    /// Whether the app runs on PostgreSQL (else SQLite in memory).
    pub fn on_postgres(&self) -> bool {
        self.db.is_some()
    }

    /// The app's database, as the server opened it.
    pub fn database(&self) -> &portcullis_server::database::Database {
        &self.database
    }

    /// Every storage port of the app's database (to set up what no endpoint does, as an
    /// operator's command would).
    pub fn storage(&self) -> Arc<dyn portcullis_domain::Storage> {
        self.database.storage()
    }

    /// POSTs `body` as JSON to `path` and returns the envelope's `data`; an error, with the
    /// answer's status and body, unless the answer is a success.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
        self.send(reqwest::Client::new().post(self.url(path)).json(body)).await
    }

    /// GETs `path` with `access_token` as the bearer and returns the envelope's `data` (see
    /// [`TestApp::post`]).
    pub async fn get(&self, path: &str, access_token: &str) -> anyhow::Result<serde_json::Value> {
        self.send(reqwest::Client::new().get(self.url(path)).bearer_auth(access_token))
            .await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
        let response = request.send().await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("the answer is not JSON")?;
        anyhow::ensure!(
            status.is_success() && body["success"] == serde_json::Value::Bool(true),
            "{status}: {body}"
        );
        Ok(body["data"].clone())
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
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let in_flight = self.database.mail_in_flight().await?;
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

    /// Runs on a fresh database on the PostgreSQL server `admin_url` names (created and
    /// migrated here, dropped with the app) instead of SQLite in memory.
    pub fn postgres(mut self, admin_url: impl Into<String>) -> Self {
        self.postgres = Some(admin_url.into());
        self
    }

    /// Runs on the database at `url` (`postgres://…` or `sqlite://…`) as it is, migrating it
    /// first: to start again on what another app left, or on a database a test filled.
    pub fn existing_database(mut self, url: impl Into<String>) -> Self {
        self.existing = Some(url.into());
        self
    }

    /// What our own suites run on: PostgreSQL at `DATABASE_URL` unless
    /// `PORTCULLIS_TEST_DATABASE=sqlite` (or no `DATABASE_URL` is set), else SQLite in memory.
    pub fn database_from_env(self) -> Self {
        let sqlite = std::env::var("PORTCULLIS_TEST_DATABASE").is_ok_and(|v| v == "sqlite");
        match std::env::var("DATABASE_URL") {
            Ok(url) if !sqlite => self.postgres(url),
            _ => self,
        }
    }

    /// Creates the database and starts the server. The socket is bound when this returns, so
    /// requests sent at once are queued, not refused.
    pub async fn spawn(mut self) -> anyhow::Result<TestApp> {
        let mail = self.mail.context("starting the test SMTP server")?;
        let db = match (&self.existing, &self.postgres) {
            (Some(url), _) => {
                self.config.database.url = Some(SecretString::from(url.clone()));
                None
            }
            (None, Some(admin_url)) => {
                let db = ScratchDatabase::create(admin_url)
                    .await
                    .context("creating the test database")?;
                self.config.database.url = Some(SecretString::from(db.url().to_owned()));
                // The scratch database is migrated already.
                self.config.database.migrate_on_start = false;
                Some(db)
            }
            (None, None) => {
                self.config.database.url = Some(SecretString::from("sqlite://:memory:"));
                None
            }
        };
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
            database: running.database,
            db,
        })
    }
}
