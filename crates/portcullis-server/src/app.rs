//! The composition root: the only place that knows every adapter.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use base64::Engine as _;
use portcullis_argon2::{Argon2Hasher, Argon2Settings};
use portcullis_domain::{
    AuthDeps, AuthService, Clock, JwtKeys, OsRandom, PasswordPolicy, RefreshKey, SecretStore, SecureRandom,
    SystemClock, TokenPolicy, UsernamePolicy,
};
use portcullis_http::AppState;
use portcullis_postgres::{PgSettings, PgStore, run_migrations};
use secrecy::ExposeSecret;

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
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

const SIGNING_SEED_SECRET: &str = "jwt_ed25519_seed_v1";
const REFRESH_KEY_SECRET: &str = "refresh_hmac_key_v1";

/// Migrates (if configured), connects, loads keys, and binds the HTTP server.
pub async fn start(config: &Config, overrides: Overrides) -> anyhow::Result<Running> {
    let url = config
        .database
        .url
        .as_ref()
        .context("database.url is required")?
        .expose_secret()
        .to_owned();
    if config.database.migrate_on_start {
        let applied = run_migrations(&url).await.context("applying migrations")?;
        if !applied.is_empty() {
            tracing::info!(?applied, "migrations applied");
        }
    }
    let store = Arc::new(PgStore::connect(&PgSettings {
        url,
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_millis(config.database.acquire_timeout_ms),
        connect_timeout: Duration::from_millis(config.database.connect_timeout_ms),
        statement_timeout: Duration::from_millis(config.database.statement_timeout_ms),
    })?);
    let rng: Arc<dyn SecureRandom> = Arc::new(OsRandom);
    let clock: Arc<dyn Clock> = overrides.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));

    let keys = Arc::new(load_signing_keys(config, store.as_ref(), rng.as_ref()).await?);
    let refresh_key = load_refresh_key(config, store.as_ref(), rng.as_ref()).await?;

    let p = &config.passwords;
    let hasher = Arc::new(
        Argon2Hasher::start_with_rng(
            Argon2Settings {
                m_cost_kib: p.argon2_m_cost_kib,
                t_cost: p.argon2_t_cost,
                p_cost: p.argon2_p_cost,
                threads: if p.hashing_threads == 0 {
                    Argon2Settings::default().threads
                } else {
                    p.hashing_threads
                },
                queue: p.hashing_queue,
                wait_timeout: Duration::from_millis(p.hashing_wait_ms),
                ..Argon2Settings::default()
            },
            Arc::clone(&rng),
        )
        .context("starting the password hashing pool")?,
    );

    let t = &config.tokens;
    let secs = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    let policy = TokenPolicy {
        issuer: t.issuer.clone(),
        audience: t.audience.clone(),
        access_ttl: secs(t.access_ttl_secs),
        session_ttl: secs(t.session_ttl_secs),
        refresh_grace: secs(t.refresh_grace_secs),
        leeway: secs(t.leeway_secs),
    };
    let auth = AuthService::new(AuthDeps {
        store,
        hasher,
        clock,
        rng,
        keys,
        refresh_key,
        policy,
    });
    let state = web::Data::new(AppState {
        auth,
        passwords: PasswordPolicy {
            min_chars: p.min_length,
            max_chars: p.max_length,
        },
        usernames: UsernamePolicy::new(&config.usernames.pattern).map_err(anyhow::Error::msg)?,
        body_limit: config.server.body_limit_bytes,
    });

    let mut server = HttpServer::new(move || {
        App::new()
            .wrap_fn(portcullis_http::request_id)
            .wrap(tracing_actix_web::TracingLogger::default())
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
    let server = server
        .bind(config.server.bind)
        .with_context(|| format!("binding {}", config.server.bind))?;
    let addr = server.addrs().first().copied().context("the server bound no address")?;
    let server = server.run();
    let handle = server.handle();
    tracing::info!(%addr, "listening");
    Ok(Running { addr, handle, server })
}

async fn load_signing_keys(
    config: &Config,
    store: &dyn SecretStore,
    rng: &dyn SecureRandom,
) -> anyhow::Result<JwtKeys> {
    let t = &config.tokens;
    let pem = match (&t.signing_key_pem, &t.signing_key_file) {
        (Some(pem), _) => Some(pem.expose_secret().to_owned()),
        (None, Some(path)) => {
            Some(std::fs::read_to_string(path).with_context(|| format!("reading signing key {}", path.display()))?)
        }
        (None, None) => None,
    };
    if let Some(pem) = pem {
        return Ok(JwtKeys::from_pem(&pem, &t.previous_public_keys_pem)?);
    }
    let mut candidate = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut candidate[..]);
    let stored = zeroize::Zeroizing::new(store.get_or_create_secret(SIGNING_SEED_SECRET, &candidate[..]).await?);
    let seed: [u8; 32] = stored
        .as_slice()
        .try_into()
        .context("stored signing seed is not 32 bytes")?;
    tracing::warn!(
        "NO SIGNING KEY CONFIGURED: signing access tokens with a key generated on first start and stored in the \
         database, so all nodes agree. Anyone who can read the database can forge tokens. Configure \
         tokens.signing_key_file (Ed25519 PKCS#8 PEM) for production."
    );
    let previous = t
        .previous_public_keys_pem
        .iter()
        .map(|pem| JwtKeys::from_pem_public(pem))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JwtKeys::from_ed25519_seed(&seed, &previous)?)
}

async fn load_refresh_key(
    config: &Config,
    store: &dyn SecretStore,
    rng: &dyn SecureRandom,
) -> anyhow::Result<RefreshKey> {
    if let Some(configured) = &config.tokens.refresh_key {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(configured.expose_secret().trim())
            .context("tokens.refresh_key must be base64")?;
        return Ok(RefreshKey::new(bytes)?);
    }
    let mut candidate = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill(&mut candidate[..]);
    Ok(RefreshKey::new(
        store.get_or_create_secret(REFRESH_KEY_SECRET, &candidate[..]).await?,
    )?)
}
