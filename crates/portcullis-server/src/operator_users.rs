//! `portcullis user …`: operators' commands on one account, on the database directly. A
//! disable takes effect at once on every node: it revokes every session in its transaction, and
//! every node reads sessions (and whether their account is disabled) from the database on each
//! request.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use portcullis_domain::model::{AccountOverview, AuditEvent, EventQuery, EventType, access_change};
use portcullis_domain::{Clock, Email, Storage, TenantId, UserId};
use serde_json::json;

/// Which account: its tenant and address.
#[derive(Debug, clap::Args)]
pub struct UserRef {
    /// The tenant's slug.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// The account's email address.
    #[arg(long)]
    pub email: String,
}

/// `portcullis user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Show an account: state, last login, live sessions.
    Show(UserRef),
    /// Disable an account: every session ends at once and nothing opens a new one.
    Disable {
        /// The account.
        #[command(flatten)]
        user: UserRef,
        /// Why (kept for operators, shown by `show`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable a disabled account again (its sessions stay ended).
    Enable(UserRef),
    /// Erase an account and everything of it for good; its audit events stay under a
    /// pseudonym.
    Erase {
        /// The account.
        #[command(flatten)]
        user: UserRef,
        /// Say so: erasing cannot be undone.
        #[arg(long)]
        confirm: bool,
    },
}

/// `portcullis events`: a tenant's audit events, newest first.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// The tenant's slug.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Only this account's (by address).
    #[arg(long)]
    pub user: Option<String>,
    /// Only events of these types (`login.failed`, …; comma-separated).
    #[arg(long = "type")]
    pub types: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// Prints the events `args` selects, one per line: time, type, user, IP, request id, details.
pub async fn events(store: &dyn Storage, args: EventsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let tenant = store
        .tenant_by_slug(&args.tenant)
        .await?
        .with_context(|| format!("no tenant has the slug {:?}", args.tenant))?;
    let user = match &args.user {
        Some(email) => Some(
            find(
                store,
                &UserRef {
                    tenant: args.tenant.clone(),
                    email: email.clone(),
                },
            )
            .await?
            .1,
        ),
        None => None,
    };
    let types = match args.types.as_deref() {
        Some(list) => list
            .split(',')
            .map(|t| EventType::from_name(t.trim()).with_context(|| format!("no event type is called {t:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let query = EventQuery {
        tenant: tenant.id,
        user,
        types,
        since: None,
        until: None,
        before: None,
        limit: args.limit.clamp(1, 10_000),
    };
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    for e in store.events(&query).await? {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.at.to_rfc3339(),
            e.kind.name(),
            dash(e.user_id.map(|u| u.to_string())),
            dash(e.ip),
            dash(e.request_id),
            e.details
        )?;
    }
    Ok(())
}

async fn find(store: &dyn Storage, who: &UserRef) -> anyhow::Result<(TenantId, UserId)> {
    let tenant = store
        .tenant_by_slug(&who.tenant)
        .await?
        .with_context(|| format!("no tenant has the slug {:?}", who.tenant))?;
    let email = Email::parse(&who.email).map_err(|e| anyhow::anyhow!("--email is not an address: {e:?}"))?;
    let creds = store
        .credentials_by_email(tenant.id, &email)
        .await?
        .with_context(|| format!("no account of {} has the address {}", who.tenant, who.email))?;
    Ok((tenant.id, creds.account.id))
}

fn show(o: &AccountOverview, out: &mut dyn Write) -> anyhow::Result<()> {
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339());
    let a = &o.account;
    writeln!(out, "id:            {}", a.id)?;
    writeln!(
        out,
        "email:         {} (verified: {})",
        a.email.as_str(),
        a.email_verified
    )?;
    let name = a.username.as_ref().map_or("-", |u| u.as_str());
    writeln!(out, "username:      {name}")?;
    writeln!(out, "mfa:           {}", if a.mfa_enabled { "on" } else { "off" })?;
    writeln!(out, "created:       {}", a.created_at.to_rfc3339())?;
    writeln!(out, "last login:    {}", at(o.last_login_at))?;
    writeln!(out, "live sessions: {}", o.live_sessions)?;
    match o.disabled_at {
        Some(since) => writeln!(
            out,
            "state:         disabled since {} ({})",
            since.to_rfc3339(),
            o.disabled_reason.as_deref().unwrap_or("no reason given")
        )?,
        None => writeln!(out, "state:         enabled")?,
    }
    Ok(())
}

fn random<const N: usize>() -> [u8; N] {
    use portcullis_domain::SecureRandom;
    let mut b = [0u8; N];
    portcullis_domain::OsRandom.fill(&mut b);
    b
}

/// An event of an operator's command: `cli` acts, with no request.
fn cli_event(
    kind: EventType,
    tenant: TenantId,
    user: UserId,
    now: chrono::DateTime<chrono::Utc>,
    details: serde_json::Value,
) -> AuditEvent {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    AuditEvent {
        id: uuid::Builder::from_unix_timestamp_millis(millis, &random()).into_uuid(),
        kind,
        tenant_id: tenant,
        user_id: Some(user),
        session_id: None,
        ip: None,
        user_agent: None,
        request_id: None,
        at: now,
        details,
    }
}

/// Runs `command` against `store`, writing what it did to `out`.
pub async fn execute(
    store: &dyn Storage,
    clock: &dyn Clock,
    command: UserCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let now = clock.now();
    let (who, disable, reason) = match command {
        UserCommand::Show(who) => {
            let (tenant, user) = find(store, &who).await?;
            let o = store
                .account_overview(tenant, user, now)
                .await?
                .context("the account was deleted meanwhile")?;
            return show(&o, out);
        }
        UserCommand::Erase { user: who, confirm } => {
            if !confirm {
                bail!("erasing {} cannot be undone: add --confirm", who.email);
            }
            let (tenant, user) = find(store, &who).await?;
            let pseudonym = UserId::from_uuid(uuid::Builder::from_random_bytes(random()).into_uuid());
            let event = cli_event(
                EventType::AccountErased,
                tenant,
                pseudonym,
                now,
                json!({ "actor": "cli" }),
            );
            if !store.erase_account(tenant, user, pseudonym, &event).await? {
                bail!("the account was deleted meanwhile");
            }
            // Not the pseudonym: printed beside the address, it would name the erased account.
            writeln!(out, "erased {}; its audit events stay under a pseudonym", who.email)?;
            return Ok(());
        }
        UserCommand::Disable { user, reason } => (user, true, reason),
        UserCommand::Enable(who) => (who, false, None),
    };
    let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| {
        r.chars().count() > portcullis_domain::use_cases::users::MAX_REASON_CHARS || r.chars().any(char::is_control)
    }) {
        bail!("--reason: at most 500 characters, no control characters");
    }
    let (tenant, user) = find(store, &who).await?;
    // Recorded as the admin API records it, with `cli` as the actor and no request.
    let event = |revoked: u64| {
        let (kind, details) = access_change(disable, "cli", reason.as_deref(), revoked);
        cli_event(kind, tenant, user, now, details)
    };
    let revoked = store
        .set_disabled(tenant, user, disable, reason.as_deref(), now, &event)
        .await?
        .context("the account was deleted meanwhile")?;
    if disable {
        writeln!(out, "disabled {} ({user}); {revoked} sessions revoked", who.email)?;
    } else {
        writeln!(out, "enabled {} ({user})", who.email)?;
    }
    Ok(())
}
