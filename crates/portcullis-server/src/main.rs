//! `portcullis`: the authentication service binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis_server::{Config, Overrides, config::LogConfig, operator, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Self-hostable authentication and account service"
)]
struct Cli {
    /// TOML configuration file (settings may also come from PORTCULLIS_* variables).
    #[arg(long, short, env = "PORTCULLIS_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit (`migrate status`: list them, change nothing).
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Load and validate the configuration, then exit.
    CheckConfig,
    /// Write the whole database as JSON Lines (to move it: `import` it elsewhere).
    Export {
        /// The file to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load a dump written by `export` into the configured database, which must have no
    /// accounts yet; all or nothing.
    Import {
        /// The file to read (default: standard input).
        #[arg(long, short)]
        input: Option<PathBuf>,
    },
    /// Tenants (brands): create, list, show.
    #[command(subcommand)]
    Tenant(operator::TenantCommand),
    /// A tenant's signup plans.
    #[command(subcommand)]
    Plan(operator::PlanCommand),
    /// A tenant's shared nodes.
    #[command(subcommand)]
    Node(operator::NodeCommand),
    /// Keys for the admin API and token introspection.
    #[command(subcommand)]
    AdminKey(operator::AdminKeyCommand),
    /// The MFA encryption keys: `status` counts TOTP secrets by the key that sealed them,
    /// `reseal` seals those under a previous key again under the current one.
    #[command(subcommand)]
    MfaKeys(portcullis_server::mfa_keys::MfaKeysCommand),
    /// One account: show, disable (every session ends at once), enable.
    #[command(subcommand)]
    User(portcullis_server::operator_users::UserCommand),
    /// A tenant's audit events, newest first.
    Events(portcullis_server::operator_users::EventsArgs),
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply pending migrations (the default).
    Apply,
    /// List applied and pending migrations; exit status 1 when some are pending.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            telemetry::init(&LogConfig::default());
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let done: anyhow::Result<()> = match cli.command.unwrap_or(Command::Serve) {
            Command::CheckConfig => {
                let keys = portcullis_server::configured_keys(&config)?;
                portcullis_server::keys::refuse_missing(&config, &keys)?;
                tracing::info!(
                    signing_key = if keys.signing.is_some() {
                        "configured"
                    } else {
                        "generated and kept in the database"
                    },
                    refresh_key = if keys.refresh.is_some() {
                        "configured"
                    } else {
                        "generated and kept in the database"
                    },
                    "configuration is valid"
                );
                Ok(())
            }
            Command::Migrate { action } => {
                let target = portcullis_server::database::Target::of(&config)?;
                match action.unwrap_or(MigrateAction::Apply) {
                    MigrateAction::Apply => {
                        let applied = target.migrate().await?;
                        tracing::info!(count = applied.len(), ?applied, "migrations applied");
                        Ok(())
                    }
                    MigrateAction::Status => {
                        let (applied, pending) = match &target {
                            portcullis_server::database::Target::Postgres(url) => {
                                let s = portcullis_postgres::migration_status(url).await?;
                                (s.applied, s.pending)
                            }
                            portcullis_server::database::Target::Sqlite(url) => {
                                portcullis_sqlite::migration_status(url).await?
                            }
                        };
                        let status = MigrationStatus { applied, pending };
                        use std::io::Write as _;
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "database: {}", target.describe())?;
                        for version in &status.applied {
                            writeln!(out, "applied  {version}")?;
                        }
                        for version in &status.pending {
                            writeln!(out, "pending  {version}")?;
                        }
                        writeln!(
                            out,
                            "{} applied, {} pending",
                            status.applied.len(),
                            status.pending.len()
                        )?;
                        if status.pending.is_empty() {
                            Ok(())
                        } else {
                            return Ok(ExitCode::from(1));
                        }
                    }
                }
            }
            Command::Export { output } => {
                let db = portcullis_server::database::Database::open(&config, Some(2)).await?;
                let mut out: Box<dyn std::io::Write> = match output {
                    Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                let rows = portcullis_server::transfer::export(&db, &mut out).await?;
                tracing::info!(rows, "exported");
                Ok(())
            }
            Command::Import { input } => {
                let db = portcullis_server::database::Database::open(&config, Some(2)).await?;
                let mut from: Box<dyn std::io::BufRead> = match input {
                    Some(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
                    None => Box::new(std::io::BufReader::new(std::io::stdin().lock())),
                };
                let rows = portcullis_server::transfer::import(&db, &mut from).await?;
                tracing::info!(rows, "imported");
                Ok(())
            }
            Command::Tenant(c) => operator::run(&config, operator::Operation::Tenant(c)).await,
            Command::Plan(c) => operator::run(&config, operator::Operation::Plan(c)).await,
            Command::Node(c) => operator::run(&config, operator::Operation::Node(c)).await,
            Command::AdminKey(c) => operator::run(&config, operator::Operation::AdminKey(c)).await,
            Command::MfaKeys(c) => {
                if operator::run_mfa_keys(&config, &c).await? {
                    Ok(())
                } else {
                    return Ok(ExitCode::from(1));
                }
            }
            Command::User(c) => operator::run(&config, operator::Operation::User(c)).await,
            Command::Events(a) => operator::run(&config, operator::Operation::Events(a)).await,
            Command::Serve => {
                let overrides = Overrides {
                    no_signals: true,
                    ..Overrides::default()
                };
                let mut running = portcullis_server::start(&config, overrides).await?;
                // SIGTERM: not ready, drain, then stop gracefully; SIGINT and SIGQUIT stop at once.
                portcullis_server::shutdown::on_signals(
                    running.handle.clone(),
                    running.draining.clone(),
                    std::time::Duration::from_secs(config.server.shutdown_drain_secs),
                )?;
                running.server.await?;
                if let Some(worker) = running.mail_worker.take() {
                    worker
                        .shutdown(std::time::Duration::from_secs(config.server.shutdown_timeout_secs))
                        .await;
                }
                tracing::info!("stopped");
                Ok(())
            }
        };
        done.map(|()| ExitCode::SUCCESS)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "fatal");
            ExitCode::FAILURE
        }
    }
}

/// What `migrate status` prints.
struct MigrationStatus {
    applied: Vec<String>,
    pending: Vec<String>,
}
