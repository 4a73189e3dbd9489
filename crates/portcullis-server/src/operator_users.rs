//! `portcullis user …`: operators' commands on one account, on the database directly. A
//! disable takes effect at once on every node: it revokes every session in its transaction, and
//! every node reads sessions (and whether their account is disabled) from the database on each
//! request.

use std::io::Write;

use anyhow::{Context, bail};
use clap::Subcommand;
use portcullis_domain::model::AccountOverview;
use portcullis_domain::{Clock, Email, Storage, TenantId, UserId};

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
    let revoked = store
        .set_disabled(tenant, user, disable, reason.as_deref(), now)
        .await?
        .context("the account was deleted meanwhile")?;
    if disable {
        writeln!(out, "disabled {} ({user}); {revoked} sessions revoked", who.email)?;
    } else {
        writeln!(out, "enabled {} ({user})", who.email)?;
    }
    Ok(())
}
