//! Operators' commands on the database directly: tenants, their plans and nodes, admin keys. They share the
//! running service's database without stopping or locking it; each command is one short
//! transaction.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use portcullis_domain::admin_key::{NewAdminKey, mint_admin_key};
use portcullis_domain::model::{InvalidField, NewNode, Plan, TenantRecord, TenantSettings, display_text};
use portcullis_domain::{Clock, Storage, TenantId, TenantStore, TenantWriteError};

/// `portcullis tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; every setting left out comes from the global configuration.
    Create {
        /// Public slug (`X-Tenant`, `tenant_slug`): lower-case letters, digits, inner hyphens.
        #[arg(long)]
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// The tenant's own `site_url` template (default: `signup.site_url_template`).
        #[arg(long)]
        site_url_template: Option<String>,
        /// The tenant's own settings as a JSON object (docs/CONFIGURATION.md, "Per-tenant
        /// settings", lists the keys), e.g.
        /// `{"product_name":"Acme","mail_from":"Acme <no-reply@acme.example>"}`.
        #[arg(long)]
        settings: Option<String>,
    },
    /// Change a tenant's name or settings. Running servers pick the change up within a few
    /// seconds.
    Set {
        /// The tenant's slug.
        slug: String,
        /// New display name.
        #[arg(long)]
        name: Option<String>,
        /// A JSON merge patch of the settings: a key given replaces the setting, `null` returns
        /// it to the global configuration, a key left out stays.
        #[arg(long)]
        settings: Option<String>,
    },
    /// List every tenant.
    List,
    /// Show one tenant with its plans and nodes.
    Show {
        /// The tenant's slug.
        slug: String,
    },
}

/// `portcullis plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Create or replace a plan of a tenant.
    Set {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Plan name (`starter` is the one a signup gets when it names none).
        #[arg(long)]
        name: String,
        /// Price as display text (`€5/mo`).
        #[arg(long, default_value = "")]
        price: String,
        /// Description shown at signup.
        #[arg(long, default_value = "")]
        description: String,
        /// A feature shown at signup (repeat for several).
        #[arg(long = "feature")]
        features: Vec<String>,
        /// Keep it, but do not offer it at signup.
        #[arg(long)]
        inactive: bool,
    },
}

/// `portcullis node …`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Add a shared node customers are placed on.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Node name, unique in the tenant.
        #[arg(long)]
        name: String,
        /// Most customers it takes.
        #[arg(long)]
        capacity: u32,
        /// Its domain, for `site_url` (`{domain}`); the name stands in without one.
        #[arg(long)]
        domain: Option<String>,
        /// Add it disabled (signup places nobody on it).
        #[arg(long)]
        disabled: bool,
    },
}

/// `portcullis admin-key …`.
#[derive(Debug, Subcommand)]
pub enum AdminKeyCommand {
    /// Make a key for the admin API; it is printed once, on the last line, and kept only hashed.
    Create {
        /// What the key is for (shown by `list`).
        #[arg(long)]
        name: String,
        /// Bind it to one tenant (by slug); without, it reaches every tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Let it only introspect tokens (`POST /v1/auth/introspect`).
        #[arg(long)]
        introspect_only: bool,
    },
    /// List every key (never the key itself).
    List,
    /// Revoke a key by id; it stops working at once.
    Revoke {
        /// The key's id (from `list`).
        id: uuid::Uuid,
    },
}

/// One operator command.
#[derive(Debug)]
pub enum Operation {
    /// `tenant …`.
    Tenant(TenantCommand),
    /// `plan …`.
    Plan(PlanCommand),
    /// `node …`.
    Node(NodeCommand),
    /// `admin-key …`.
    AdminKey(AdminKeyCommand),
    /// `user …`.
    User(crate::operator_users::UserCommand),
    /// `events …`.
    Events(crate::operator_users::EventsArgs),
}

fn refused(errors: Vec<InvalidField>) -> anyhow::Error {
    let lines: Vec<String> = errors.into_iter().map(|e| e.rule).collect();
    anyhow::anyhow!("invalid: {}", lines.join("; "))
}

/// The settings of `current` changed by the JSON merge patch `patch`.
fn patched_settings(current: &TenantSettings, patch: Option<&str>) -> anyhow::Result<TenantSettings> {
    let patch: serde_json::Map<String, serde_json::Value> = match patch {
        Some(text) => serde_json::from_str(text).context("--settings must be a JSON object")?,
        None => serde_json::Map::new(),
    };
    current.patched(&patch).map_err(|e| refused(vec![e]))
}

async fn tenant_of(store: &dyn TenantStore, slug: &str) -> anyhow::Result<TenantRecord> {
    store
        .tenant_record(slug)
        .await?
        .with_context(|| format!("no tenant has the slug {slug:?}"))
}

fn new_id(clock: &dyn Clock) -> uuid::Uuid {
    let millis = u64::try_from(clock.now().timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand_bytes()).into_uuid()
}

fn rand_bytes() -> [u8; 10] {
    use portcullis_domain::SecureRandom;
    let mut b = [0u8; 10];
    portcullis_domain::OsRandom.fill(&mut b);
    b
}

/// Runs `op` against `store`, writing what it did to `out`.
pub async fn execute(store: &dyn Storage, clock: &dyn Clock, op: Operation, out: &mut dyn Write) -> anyhow::Result<()> {
    let now = clock.now();
    match op {
        Operation::Tenant(TenantCommand::Create {
            slug,
            name,
            site_url_template,
            settings,
        }) => {
            let id = TenantId::from_uuid(new_id(clock));
            let mut settings = patched_settings(&TenantSettings::default(), settings.as_deref())?;
            settings.site_url_template = site_url_template.or(settings.site_url_template);
            let record = TenantRecord::checked(id, &slug, &name, settings, now).map_err(refused)?;
            match store.create_tenant(&record).await {
                Ok(()) => {}
                Err(TenantWriteError::Taken) => bail!("the slug {:?} is taken", record.tenant.slug),
                Err(e) => return Err(e.into()),
            }
            writeln!(out, "created tenant {} ({})", record.tenant.slug, record.tenant.id)?;
        }
        Operation::Tenant(TenantCommand::Set { slug, name, settings }) => {
            let current = tenant_of(store, &slug).await?;
            let settings = patched_settings(&current.settings, settings.as_deref())?;
            let name = name.as_deref().unwrap_or(&current.name);
            let t = &current.tenant;
            let record = TenantRecord::checked(t.id, &t.slug, name, settings, current.created_at).map_err(refused)?;
            if !store.replace_tenant(&record).await? {
                bail!("no tenant has the slug {slug:?}");
            }
            writeln!(out, "updated tenant {}", record.tenant.slug)?;
        }
        Operation::Tenant(TenantCommand::List) => {
            for t in store.tenants().await? {
                writeln!(out, "{}\t{}\t{}", t.tenant.slug, t.tenant.id, t.name)?;
            }
        }
        Operation::Tenant(TenantCommand::Show { slug }) => {
            let t = tenant_of(store, &slug).await?;
            writeln!(out, "slug:     {}", t.tenant.slug)?;
            writeln!(out, "id:       {}", t.tenant.id)?;
            writeln!(out, "name:     {}", t.name)?;
            writeln!(out, "settings: {}", serde_json::Value::Object(t.settings.to_json()))?;
            for p in store.plans(t.tenant.id).await? {
                let state = if p.active { "active" } else { "inactive" };
                writeln!(
                    out,
                    "plan {}\t{}\t{}\t{}",
                    p.name,
                    state,
                    p.price,
                    p.features.join(", ")
                )?;
            }
            for n in store.nodes(t.tenant.id, now).await? {
                let state = if n.enabled { "enabled" } else { "disabled" };
                let domain = n.domain.as_deref().unwrap_or("-");
                writeln!(
                    out,
                    "node {}\t{}\t{}\t{}/{} used\t{}",
                    n.name, n.id, state, n.used, n.capacity, domain
                )?;
            }
        }
        Operation::Plan(PlanCommand::Set {
            tenant,
            name,
            price,
            description,
            features,
            inactive,
        }) => {
            let t = tenant_of(store, &tenant).await?;
            let plan = Plan {
                name: name.trim().to_owned(),
                description,
                price,
                features,
                active: !inactive,
            };
            plan.validate().map_err(refused)?;
            store.put_plan(t.tenant.id, &plan, now).await?;
            writeln!(out, "plan {} of {} saved", plan.name, t.tenant.slug)?;
        }
        Operation::AdminKey(AdminKeyCommand::Create {
            name,
            tenant,
            introspect_only,
        }) => {
            let name = display_text("name", &name, 100).map_err(|e| refused(vec![e]))?;
            let tenant = match tenant {
                Some(slug) => Some(tenant_of(store, &slug).await?.tenant),
                None => None,
            };
            let minted = mint_admin_key(&portcullis_domain::OsRandom);
            let key = NewAdminKey {
                id: new_id(clock),
                name,
                tenant: tenant.as_ref().map(|t| t.id),
                introspect_only,
                hash: minted.hash,
                created_at: now,
            };
            store.insert_admin_key(&key).await?;
            let reach = tenant.map_or_else(|| "every tenant".to_owned(), |t| format!("tenant {}", t.slug));
            let scope = if introspect_only { "introspect only" } else { "full" };
            writeln!(
                out,
                "created admin key {} ({}; {reach}; {scope}); it is shown once:",
                key.name, key.id
            )?;
            writeln!(out, "{}", minted.key.as_str())?;
        }
        Operation::User(command) => crate::operator_users::execute(store, clock, command, out).await?,
        Operation::Events(args) => crate::operator_users::events(store, args, out).await?,
        Operation::AdminKey(AdminKeyCommand::List) => {
            for k in store.admin_keys().await? {
                let reach = k.tenant.map_or_else(|| "*".to_owned(), |t| t.slug);
                let scope = if k.introspect_only { "introspect" } else { "full" };
                let state = k
                    .revoked_at
                    .map_or_else(|| "live".to_owned(), |at| format!("revoked {}", at.to_rfc3339()));
                writeln!(out, "{}\t{}\t{reach}\t{scope}\t{state}", k.id, k.name)?;
            }
        }
        Operation::AdminKey(AdminKeyCommand::Revoke { id }) => {
            if !store.revoke_admin_key(id, now).await? {
                bail!("no live admin key has the id {id}");
            }
            writeln!(out, "revoked admin key {id}")?;
        }
        Operation::Node(NodeCommand::Add {
            tenant,
            name,
            capacity,
            domain,
            disabled,
        }) => {
            let t = tenant_of(store, &tenant).await?;
            let node = NewNode {
                id: new_id(clock),
                name: name.trim().to_owned(),
                domain: domain.map(|d| d.trim().to_ascii_lowercase()),
                capacity,
                enabled: !disabled,
            };
            node.validate().map_err(refused)?;
            match store.add_node(t.tenant.id, &node, now).await {
                Ok(_) => {}
                Err(TenantWriteError::Taken) => {
                    bail!("tenant {} already has a node named {:?}", t.tenant.slug, node.name)
                }
                Err(e) => return Err(e.into()),
            }
            writeln!(out, "added node {} ({}) to {}", node.name, node.id, t.tenant.slug)?;
        }
    }
    Ok(())
}

/// Runs `op` against the configured database (migrating it first when
/// `database.migrate_on_start` is set, as `serve` would), printing to stdout.
pub async fn run(config: &crate::Config, op: Operation) -> anyhow::Result<()> {
    // On PostgreSQL, two connections: the command needs one, and it must not take the service's
    // share (SQLite's pool has one connection whatever is asked).
    let store = crate::database::Database::open(config, Some(2)).await?.storage();
    let mut out = std::io::stdout().lock();
    execute(store.as_ref(), &portcullis_domain::SystemClock, op, &mut out).await
}

/// Runs `command` against the configured database with the configured keys (checked against
/// the database's records, nothing written by the check), printing to stdout; `Ok(false)` when secrets are left under a previous key.
pub async fn run_mfa_keys(config: &crate::Config, command: &crate::mfa_keys::MfaKeysCommand) -> anyhow::Result<bool> {
    let store = crate::database::Database::open(config, Some(2)).await?.storage();
    let rng = portcullis_domain::OsRandom;
    let keys = crate::keys::mfa_keys_for_operator(config, store.as_ref()).await?;
    let mut out = std::io::stdout().lock();
    crate::mfa_keys::execute(store.as_ref(), &keys, &rng, command, &mut out).await
}
