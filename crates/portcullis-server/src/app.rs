//! The composition root: the only place that knows every adapter.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use portcullis_argon2::{Argon2Hasher, Argon2Settings};
use portcullis_domain::MfaSettings;
use portcullis_domain::one_time::{OneTimePolicy, OneTimeSecrets};
use portcullis_domain::{
    AuthDeps, AuthService, Clock, OsRandom, PasswordPolicy, SecureRandom, SystemClock, TokenPolicy, UsernamePolicy,
};
use portcullis_http::AppState;

use crate::config::Config;

/// Replacements for the real clock and randomness, for harnesses.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Clock to use instead of the system clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// Do not install signal handlers (embedded servers stop through their handle).
    pub no_signals: bool,
}

/// A started server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub handle: ServerHandle,
    /// Resolves when it has stopped.
    pub server: Server,
    /// The mail delivery worker, when this process runs one.
    pub mail_worker: Option<crate::mail::MailWorker>,
    /// The use cases the server runs (for harnesses that drive background work themselves).
    pub auth: AuthService,
    /// Where `GET /metrics` is served on its own (`metrics.bind`), if it is.
    pub metrics_addr: Option<SocketAddr>,
    /// Turns readiness off before a stop (see [`crate::shutdown`]).
    pub draining: portcullis_http::Draining,
    /// The database it runs on.
    pub database: Arc<crate::database::Database>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// A listening socket on `addr`, as actix would make it (address reuse, a deep backlog).
fn listen_for_metrics(bind: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    listen(bind).with_context(|| format!("binding metrics.bind {bind}"))
}

fn listen(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Where avatars are kept: beside the accounts in PostgreSQL, or files in a directory with the
/// version on the account.
async fn avatar_store(
    config: &Config,
    db: &crate::database::Database,
) -> anyhow::Result<Arc<dyn portcullis_domain::AvatarStore>> {
    use crate::config::AvatarStoreKind;
    Ok(match (config.avatars.store, &config.avatars.directory) {
        (AvatarStoreKind::Directory, Some(dir)) => {
            let blobs = portcullis_files::DirectoryBlobs::open(dir.clone())
                .await
                .with_context(|| format!("avatars.directory {}", dir.display()))?;
            tracing::info!(directory = %dir.display(), "avatars kept in a directory");
            Arc::new(portcullis_domain::avatars::BlobAvatars::new(
                db.storage(),
                Arc::new(blobs),
            ))
        }
        _ => db.avatars(),
    })
}

/// Migrates (if configured), connects, loads keys, and binds the HTTP server.
pub async fn start(config: &Config, overrides: Overrides) -> anyhow::Result<Running> {
    let db = Arc::new(crate::database::Database::open(config, None).await?);
    let store = db.storage();
    let rng: Arc<dyn SecureRandom> = Arc::new(OsRandom);
    let clock: Arc<dyn Clock> = overrides.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));

    let keys = crate::keys::load(config, store.as_ref(), rng.as_ref()).await?;
    let refresh_key = keys.refresh;
    let mfa_keys = keys.mfa;
    let keys = Arc::new(keys.signing);

    let p = &config.passwords;
    let threads = if p.hashing_threads == 0 {
        Argon2Settings::default().threads
    } else {
        p.hashing_threads
    };
    let hasher = Arc::new(
        Argon2Hasher::start_with_rng(
            Argon2Settings {
                backend: p.hash_backend.into(),
                m_cost_kib: p.argon2_m_cost_kib,
                t_cost: p.argon2_t_cost,
                p_cost: p.argon2_p_cost,
                threads,
                queue: p.hashing_queue.unwrap_or(portcullis_argon2::QUEUE_PER_THREAD * threads),
                overload_queue: p
                    .hashing_queue_overloaded
                    .unwrap_or(portcullis_argon2::OVERLOAD_QUEUE_PER_THREAD * threads),
                nice: p.hashing_nice,
                wait_timeout: Duration::from_millis(p.hashing_wait_ms),
                max_verify_m_cost_kib: Argon2Settings::default().max_verify_m_cost_kib.max(p.argon2_m_cost_kib),
            },
            Arc::clone(&rng),
        )
        .context("starting the password hashing pool")?,
    );

    let screen: Arc<dyn portcullis_domain::PasswordScreen> = if p.pwned_check {
        Arc::new(
            portcullis_password_screen::CommonPasswords::with_pwned(portcullis_password_screen::PwnedSettings {
                range_url: p.pwned_range_url.clone(),
                timeout: Duration::from_millis(p.pwned_timeout_ms),
                min_count: p.pwned_min_count,
            })
            .context("passwords.pwned_*")?,
        )
    } else {
        Arc::new(portcullis_password_screen::CommonPasswords::list_only())
    };

    let t = &config.tokens;
    let policy = TokenPolicy {
        issuer: t.issuer.clone(),
        audience: t.audience.clone(),
        access_ttl: crate::config::seconds(t.access_ttl_secs),
        session_ttl: crate::config::seconds(t.session_ttl_secs),
        refresh_grace: crate::config::seconds(t.refresh_grace_secs),
        leeway: crate::config::seconds(t.leeway_secs),
    };
    let transport = crate::mail::transport(&config.mail).context("setting up mail")?;
    let branding = config.mail.branding();
    let defaults = crate::config::MailConfig::default().branding();
    if config.mail.smtp_host.is_some()
        && [
            (&branding.verify_email_url, &defaults.verify_email_url),
            (&branding.change_email_url, &defaults.change_email_url),
            (&branding.reset_password_url, &defaults.reset_password_url),
            (&branding.authorize_ip_url, &defaults.authorize_ip_url),
        ]
        .iter()
        .any(|(set, default)| set == default)
    {
        tracing::warn!(
            "mail links point at the default front-end URLs (http://localhost:3000/...): set mail.verify_email_url, \
             mail.change_email_url, mail.reset_password_url and mail.authorize_ip_url"
        );
    }
    let o = &config.one_time;
    let one_time = OneTimeSecrets::new(
        refresh_key.clone(),
        OneTimePolicy {
            verify_link_ttl: crate::config::seconds(o.verify_link_ttl_secs),
            sensitive_link_ttl: crate::config::seconds(o.reset_link_ttl_secs),
            code_ttl: crate::config::seconds(o.code_ttl_secs),
            max_code_attempts: o.max_code_attempts,
            max_code_attempts_total: o.max_code_attempts_total,
        },
    );
    crate::mfa_keys::spawn(
        store.clone(),
        mfa_keys.clone(),
        rng.clone(),
        Duration::from_secs(config.mfa.reseal_interval_secs),
    );
    let mfa = MfaSettings {
        keys: mfa_keys,
        hash_key: refresh_key.clone(),
        issuer: config.mfa.issuer.clone(),
        max_failures: config.mfa.max_failures,
        lockout: crate::config::seconds(config.mfa.lockout_secs),
    };
    let limiter = crate::limits::limiter(config, clock.clone(), &refresh_key).await?;
    let auth = AuthService::new(AuthDeps {
        store: store.clone(),
        hasher,
        screen,
        clock: clock.clone(),
        rng,
        keys,
        refresh_key,
        policy,
        one_time,
        branding,
        require_email_verification: config.registration.require_email_verification,
        mfa,
        new_ip_policy: config.login.new_ip_policy.into(),
        limiter: limiter.clone(),
        unverified_account_ttl: chrono::Duration::days(
            i64::try_from(config.retention.unverified_account_days).unwrap_or(365),
        ),
        audit_retention: chrono::Duration::days(i64::try_from(config.retention.audit_event_days).unwrap_or(36_500)),
        site_url_template: config.signup.site_url_template.clone(),
        images: Arc::new(portcullis_images::AvatarProcessor::new(config.avatars.image_settings())),
        avatars: avatar_store(config, &db).await?,
    });
    // SQLite has no notifications to feed the cache: liveness is read from the database on
    // every request, so a revocation by the CLI (another process) counts at once.
    if let (true, crate::database::Target::Postgres(url)) =
        (config.database.liveness_cache, crate::database::Target::of(config)?)
    {
        portcullis_postgres::spawn_liveness_feed(url, Arc::clone(auth.liveness()));
    }
    let mail_worker = config
        .mail
        .deliver
        .then(|| crate::mail::MailWorker::spawn(store.clone(), transport, clock.clone(), auth.clone(), &config.mail));
    // Bound before the state is built: with port 0 (tests), the public URL's default needs
    // the port the system picked.
    let listener = listen(config.server.bind).with_context(|| format!("binding {}", config.server.bind))?;
    let addr = listener.local_addr().context("the listener's address")?;
    let public_url = match &config.server.public_url {
        Some(_) => config.server.public_url(),
        None => format!("http://{addr}"),
    };
    let metrics = crate::metrics::start(&config.metrics, &db);
    let observe = config.metrics.enabled;
    // `metrics.bind`: one more listener of this server, that serves `/metrics` alone.
    let metrics_listener = config
        .metrics
        .bind
        .filter(|_| metrics.is_some())
        .map(listen_for_metrics)
        .transpose()?;
    let metrics_addr = metrics_listener
        .as_ref()
        .map(std::net::TcpListener::local_addr)
        .transpose()?;
    let fence = metrics_addr.unwrap_or(addr);
    let draining = portcullis_http::Draining::default();
    let state = web::Data::new(AppState {
        auth: auth.clone(),
        passwords: PasswordPolicy {
            min_chars: p.min_length,
            max_chars: p.max_length,
        },
        usernames: UsernamePolicy::new(&config.usernames.pattern).map_err(anyhow::Error::msg)?,
        body_limit: config.server.body_limit_bytes,
        limiter,
        trusted_proxies: config.server.trusted_proxies()?,
        captcha: captcha_gate(&config.captcha)?,
        public_url,
        avatar_uploads: portcullis_http::AvatarUploads::new(
            config.avatars.max_upload_bytes,
            Duration::from_secs(config.avatars.upload_timeout_secs),
            config.avatars.max_concurrent_uploads,
        ),
        metrics: metrics.map(|text| portcullis_http::MetricsEndpoint {
            text,
            only_on: metrics_addr,
            allowed: config.metrics.allowed_networks.clone(),
        }),
        draining: draining.clone(),
    });
    if config.server.public_url.is_none() && config.server.profile == crate::config::Profile::Production {
        tracing::warn!(
            public_url = %state.public_url,
            "server.public_url is not set: avatar URLs point at the listen address; set it to the URL clients use"
        );
    }

    let request_limits = portcullis_http::RequestLimits {
        max_uri_bytes: config.server.max_uri_bytes,
        max_header_bytes: config.server.max_header_bytes,
        max_headers: config.server.max_headers,
    };
    let cors_origins = config.server.cors_allowed_origins.clone();
    let cors_max_age = usize::try_from(config.server.cors_max_age_secs).unwrap_or(600);
    let l = &config.limits;
    if l.failed_login_backoff_after > 0 && l.failed_logins_per_account.count == 0 {
        tracing::warn!(
            "limits.failed_login_backoff_after is set but limits.failed_logins_per_account is off: the back-off goes \
             with that limit, so failed logins of a name are not slowed down at all"
        );
    }
    let busy_delay = Duration::from_millis(config.passwords.busy_refusal_delay_ms);
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                portcullis_http::pace_busy_refusals(busy_delay, req, next)
            }))
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                portcullis_http::request_limits(request_limits, req, next)
            }))
            // Without origins, no CORS layer at all: a preflight is the plain 405 in the envelope.
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                crate::cors::cors(&cors_origins, cors_max_age),
            ))
            .wrap(actix_web::middleware::Condition::new(
                metrics_addr.is_some(),
                actix_web::middleware::from_fn(move |req, next| portcullis_http::metrics::fence(fence, req, next)),
            ))
            .wrap(actix_web::middleware::Condition::new(
                observe,
                actix_web::middleware::from_fn(portcullis_http::metrics::observe),
            ))
            .wrap_fn(portcullis_http::request_id)
            .wrap(tracing_actix_web::TracingLogger::<portcullis_http::RequestSpan>::new())
            .configure(portcullis_http::configure(state.clone()))
            .default_service(portcullis_http::not_found_service())
    })
    .shutdown_timeout(config.server.shutdown_timeout_secs);
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    if overrides.no_signals {
        server = server.disable_signals();
    }
    let mut server = server.listen(listener).context("listening")?;
    if let Some(metrics) = metrics_listener {
        server = server.listen(metrics).context("listening for metrics")?;
    }
    let server = server.run();
    let handle = server.handle();
    tracing::info!(%addr, "listening");
    if let Some(metrics) = metrics_addr {
        tracing::info!(addr = %metrics, "metrics listening");
    }
    Ok(Running {
        addr,
        handle,
        server,
        mail_worker,
        auth,
        metrics_addr,
        draining,
        database: db,
    })
}

/// The captcha requirement, when any provider is configured.
fn captcha_gate(config: &crate::config::CaptchaConfig) -> anyhow::Result<Option<portcullis_http::CaptchaGate>> {
    let Some(settings) = config.settings() else {
        return Ok(None);
    };
    let verifier = portcullis_captcha::HttpCaptcha::new(settings).context("captcha settings")?;
    let required_on = config.required_on()?;
    let names: Vec<&str> = required_on.iter().map(|e| e.name()).collect();
    let providers: Vec<&str> = portcullis_domain::CaptchaVerifier::providers(&verifier)
        .into_iter()
        .map(|p| p.name())
        .collect();
    tracing::info!(?providers, required_on = ?names, "captcha enabled");
    Ok(Some(portcullis_http::CaptchaGate::new(Arc::new(verifier), required_on)))
}
