//! The tables, and the statements several ports run on them inside one critical section (the
//! in-memory counterpart of a transaction).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use portcullis_domain::model::{Customer, Plan, TenantRecord, TenantSettings};
use portcullis_domain::{
    Account, AccountCredentials, Email, MAX_PENDING_REGISTRATIONS, NewOneTimeSecret, NewSession, OutgoingMail, Purpose,
    RegistrationRequest, Session, SessionId, StoredPassword, Tenant, TenantId, TokenHash, UserId, Username,
};
use uuid::Uuid;

/// An account with what the domain's `Account` leaves out.
#[derive(Debug, Clone)]
pub(crate) struct AccountRow {
    pub(crate) id: UserId,
    pub(crate) tenant: TenantId,
    pub(crate) email: Email,
    pub(crate) email_verified: bool,
    pub(crate) username: Option<Username>,
    pub(crate) password: Option<StoredPassword>,
    pub(crate) mfa_enabled: bool,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) disabled_at: Option<DateTime<Utc>>,
    pub(crate) disabled_reason: Option<String>,
    pub(crate) avatar_version: Option<String>,
}

/// A session with why it was revoked.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub(crate) session: Session,
    pub(crate) revoked_reason: Option<&'static str>,
}

/// One refresh token of a session's chain.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRow {
    pub(crate) session: SessionId,
    pub(crate) generation: i64,
    pub(crate) superseded_at: Option<DateTime<Utc>>,
}

/// A stored one-time secret.
#[derive(Debug, Clone)]
pub(crate) struct SecretRow {
    pub(crate) secret: NewOneTimeSecret,
    pub(crate) failed_code_attempts: u32,
}

/// The wrong codes of an account and purpose, across every secret minted for them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeAttempts {
    pub(crate) failures: u32,
    pub(crate) last_failure_at: DateTime<Utc>,
}

/// A registration of an unverified address.
#[derive(Debug, Clone)]
pub(crate) struct RegistrationRow {
    pub(crate) id: Uuid,
    pub(crate) tenant: TenantId,
    pub(crate) user: UserId,
    pub(crate) password_hash: String,
    pub(crate) username: Option<Username>,
    pub(crate) network: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// An account's TOTP.
#[derive(Debug, Clone)]
pub(crate) struct TotpRow {
    pub(crate) sealed: Vec<u8>,
    pub(crate) enabled: bool,
    pub(crate) last_step: Option<i64>,
    pub(crate) failed_attempts: u32,
    pub(crate) locked_until: Option<DateTime<Utc>>,
    pub(crate) locks_in_a_row: u32,
    pub(crate) lock_notified: bool,
}

/// A mail in the outbox.
#[derive(Debug, Clone)]
pub(crate) struct OutboxRow {
    pub(crate) mail: OutgoingMail,
    pub(crate) status: MailStatus,
    pub(crate) attempts: u32,
    pub(crate) next_attempt_at: DateTime<Utc>,
    pub(crate) leased_until: Option<DateTime<Utc>>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
}

/// Where a mail of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    /// Waiting to be sent (or retried).
    Pending,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

/// A shared node of a tenant.
#[derive(Debug, Clone)]
pub(crate) struct NodeRow {
    pub(crate) id: Uuid,
    pub(crate) tenant: TenantId,
    pub(crate) name: String,
    pub(crate) domain: Option<String>,
    pub(crate) capacity: u32,
    pub(crate) enabled: bool,
}

/// A stored admin key: the key without its plaintext, and its hash.
#[derive(Debug, Clone)]
pub(crate) struct AdminKeyRow {
    pub(crate) new: portcullis_domain::admin_key::NewAdminKey,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

/// Every table. Key of per-account tables: (tenant, user).
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) accounts: Vec<AccountRow>,
    pub(crate) sessions: Vec<SessionRow>,
    pub(crate) refresh_tokens: HashMap<TokenHash, RefreshRow>,
    pub(crate) known_networks: HashSet<(TenantId, UserId, String)>,
    pub(crate) secrets: Vec<SecretRow>,
    pub(crate) code_attempts: HashMap<(TenantId, UserId, Purpose), CodeAttempts>,
    pub(crate) registrations: Vec<RegistrationRow>,
    pub(crate) registration_requests: Vec<RegistrationRequest>,
    pub(crate) mail_requests: Vec<portcullis_domain::MailRequest>,
    pub(crate) totp: HashMap<(TenantId, UserId), TotpRow>,
    pub(crate) recovery_codes: HashSet<(TenantId, UserId, TokenHash)>,
    pub(crate) outbox: Vec<OutboxRow>,
    pub(crate) server_secrets: BTreeMap<String, Vec<u8>>,
    /// Names and settings of tenants made through [`portcullis_domain::TenantStore`].
    pub(crate) tenant_records: Vec<TenantRecord>,
    pub(crate) plans: Vec<(TenantId, Plan)>,
    pub(crate) nodes: Vec<NodeRow>,
    pub(crate) customers: Vec<Customer>,
    pub(crate) admin_keys: Vec<AdminKeyRow>,
    pub(crate) events: Vec<portcullis_domain::model::AuditEvent>,
}

impl State {
    pub(crate) fn tenant(&self, id: TenantId) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// A tenant's name and settings; one added without them is named by its slug.
    pub(crate) fn record_of(&self, tenant: &Tenant) -> TenantRecord {
        self.tenant_records
            .iter()
            .find(|r| r.tenant.id == tenant.id)
            .cloned()
            .unwrap_or_else(|| TenantRecord {
                tenant: tenant.clone(),
                name: tenant.slug.clone(),
                settings: TenantSettings::default(),
                created_at: DateTime::<Utc>::UNIX_EPOCH,
            })
    }

    pub(crate) fn account_row(&self, tenant: TenantId, user: UserId) -> Option<&AccountRow> {
        self.accounts.iter().find(|a| a.tenant == tenant && a.id == user)
    }

    /// Whether the account is disabled.
    pub(crate) fn is_disabled(&self, tenant: TenantId, user: UserId) -> bool {
        self.account_row(tenant, user).is_some_and(|r| r.disabled_at.is_some())
    }

    pub(crate) fn account_row_mut(&mut self, tenant: TenantId, user: UserId) -> Option<&mut AccountRow> {
        self.accounts.iter_mut().find(|a| a.tenant == tenant && a.id == user)
    }

    pub(crate) fn by_email(&self, tenant: TenantId, email: &Email) -> Option<&AccountRow> {
        self.accounts
            .iter()
            .find(|a| a.tenant == tenant && a.email.normalized() == email.normalized())
    }

    pub(crate) fn username_holder(&self, tenant: TenantId, username: &Username) -> Option<&AccountRow> {
        self.accounts.iter().find(|a| {
            a.tenant == tenant
                && a.username
                    .as_ref()
                    .is_some_and(|u| u.normalized() == username.normalized())
        })
    }

    /// The domain's view of an account row.
    pub(crate) fn account_of(&self, row: &AccountRow) -> Account {
        let tenant = self.tenant(row.tenant).cloned().unwrap_or_else(|| Tenant {
            id: row.tenant,
            slug: String::new(),
        });
        Account {
            id: row.id,
            tenant,
            email: row.email.clone(),
            email_verified: row.email_verified,
            username: row.username.clone(),
            mfa_enabled: row.mfa_enabled,
            avatar_version: row.avatar_version.clone(),
            created_at: row.created_at,
            disabled: row.disabled_at.is_some(),
        }
    }

    pub(crate) fn account(&self, tenant: TenantId, user: UserId) -> Option<Account> {
        self.account_row(tenant, user).map(|row| self.account_of(row))
    }

    pub(crate) fn credentials_of(&self, row: &AccountRow) -> AccountCredentials {
        AccountCredentials {
            account: self.account_of(row),
            password: row.password.clone(),
        }
    }

    /// Stores a session and the hash of its first refresh token.
    pub(crate) fn insert_session(&mut self, new: &NewSession) {
        self.refresh_tokens.insert(
            new.refresh_hash,
            RefreshRow {
                session: new.session.id,
                generation: 0,
                superseded_at: None,
            },
        );
        self.sessions.push(SessionRow {
            session: new.session.clone(),
            revoked_reason: None,
        });
        self.events.extend(new.events.iter().cloned());
    }

    pub(crate) fn remember_network(&mut self, tenant: TenantId, user: UserId, network: &str) {
        self.known_networks.insert((tenant, user, network.to_owned()));
    }

    /// Revokes the account's live sessions except `keep`; returns how many.
    pub(crate) fn revoke_all(
        &mut self,
        tenant: TenantId,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        reason: &'static str,
    ) -> u64 {
        let mut n = 0;
        for row in &mut self.sessions {
            let s = &mut row.session;
            if s.tenant_id == tenant && s.user_id == user && s.revoked_at.is_none() && Some(s.id) != keep {
                s.revoked_at = Some(now);
                row.revoked_reason = Some(reason);
                n += 1;
            }
        }
        n
    }

    /// Forgets the account's pending secrets of `purposes`, and their counts of wrong codes.
    pub(crate) fn forget_secrets(&mut self, tenant: TenantId, user: UserId, purposes: &[Purpose]) {
        self.code_attempts
            .retain(|(t, u, p), _| !(*t == tenant && *u == user && purposes.contains(p)));
        self.secrets.retain(|row| {
            let s = &row.secret;
            !(s.tenant_id == tenant && s.user_id == user && purposes.contains(&s.purpose))
        });
    }

    /// Stores a secret, replacing the account's one of the same purpose and scope; the wrong-code
    /// count carries over while the replaced code is still alive.
    pub(crate) fn upsert_secret(&mut self, secret: &NewOneTimeSecret) {
        let same = |row: &SecretRow| {
            let s = &row.secret;
            s.tenant_id == secret.tenant_id
                && s.user_id == secret.user_id
                && s.purpose == secret.purpose
                && s.scope == secret.scope
        };
        let carried = self
            .secrets
            .iter()
            .find(|row| same(row))
            .filter(|row| row.secret.code_expires_at > secret.created_at)
            .map_or(0, |row| row.failed_code_attempts);
        self.secrets.retain(|row| !same(row));
        self.secrets.push(SecretRow {
            secret: secret.clone(),
            failed_code_attempts: carried,
        });
    }

    pub(crate) fn enqueue(&mut self, mail: &OutgoingMail, now: DateTime<Utc>) {
        self.outbox.push(OutboxRow {
            mail: mail.clone(),
            status: MailStatus::Pending,
            attempts: 0,
            next_attempt_at: now,
            leased_until: None,
            last_error: None,
            created_at: now,
        });
    }

    /// The account's registrations, oldest first: each one's id and the network it came from.
    pub(crate) fn registrations_of(&self, tenant: TenantId, user: UserId) -> Vec<(Uuid, Option<String>)> {
        let mut mine: Vec<&RegistrationRow> = self
            .registrations
            .iter()
            .filter(|r| r.tenant == tenant && r.user == user)
            .collect();
        mine.sort_by_key(|r| (r.created_at, r.id));
        mine.into_iter().map(|r| (r.id, r.network.clone())).collect()
    }

    pub(crate) fn forget_registrations(&mut self, tenant: TenantId, user: UserId) {
        self.registrations.retain(|r| !(r.tenant == tenant && r.user == user));
    }

    /// Activates the registration `scope` names (if it is one of the account's): its password,
    /// its username if no other account holds it, its network as the only known one; with none,
    /// the account is left without a password. Every registration of the account then goes.
    pub(crate) fn activate_registration(&mut self, tenant: TenantId, user: UserId, scope: &str) {
        let chosen = Uuid::parse_str(scope).ok().and_then(|id| {
            self.registrations
                .iter()
                .find(|r| r.id == id && r.tenant == tenant && r.user == user)
                .cloned()
        });
        let free = |state: &Self, name: &Username| {
            state
                .username_holder(tenant, name)
                .is_none_or(|holder| holder.id == user)
        };
        let username = chosen
            .as_ref()
            .and_then(|r| r.username.clone())
            .filter(|name| free(self, name));
        if let Some(row) = self.account_row_mut(tenant, user) {
            row.email_verified = true;
            row.password = chosen.as_ref().map(|r| StoredPassword::new(r.password_hash.clone()));
            row.username = username;
        }
        self.known_networks.retain(|(t, u, _)| !(*t == tenant && *u == user));
        if let Some(network) = chosen.as_ref().and_then(|r| r.network.as_deref()) {
            self.remember_network(tenant, user, network);
        }
        self.forget_registrations(tenant, user);
    }

    /// Stores the registration of `request` for the unverified account `user`, keeping the
    /// newest [`MAX_PENDING_REGISTRATIONS`]: older ones go, with their secrets. The account's
    /// password becomes the newest registration's.
    pub(crate) fn store_registration(&mut self, request: &RegistrationRequest, user: UserId) {
        let tenant = request.tenant_id;
        self.registrations.push(RegistrationRow {
            id: request.id,
            tenant,
            user,
            password_hash: request.password_hash.clone(),
            username: request.username.clone(),
            network: request.network.clone(),
            created_at: request.requested_at,
        });
        let ids: Vec<Uuid> = self
            .registrations_of(tenant, user)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let excess = ids.len().saturating_sub(MAX_PENDING_REGISTRATIONS);
        if excess > 0 {
            let old: Vec<String> = ids[..excess].iter().map(ToString::to_string).collect();
            self.secrets.retain(|row| {
                let s = &row.secret;
                !(s.tenant_id == tenant
                    && s.user_id == user
                    && s.purpose == Purpose::VerifyEmail
                    && old.contains(&s.scope))
            });
            self.registrations.retain(|r| !ids[..excess].contains(&r.id));
        }
        if let Some(row) = self.account_row_mut(tenant, user) {
            row.password = Some(StoredPassword::new(request.password_hash.clone()));
        }
    }

    /// Deletes an account with everything that hangs on it.
    pub(crate) fn delete_account(&mut self, tenant: TenantId, user: UserId) {
        self.accounts.retain(|a| !(a.tenant == tenant && a.id == user));
        let gone: HashSet<SessionId> = self
            .sessions
            .iter()
            .filter(|s| s.session.tenant_id == tenant && s.session.user_id == user)
            .map(|s| s.session.id)
            .collect();
        self.sessions.retain(|s| !gone.contains(&s.session.id));
        self.refresh_tokens.retain(|_, r| !gone.contains(&r.session));
        self.known_networks.retain(|(t, u, _)| !(*t == tenant && *u == user));
        self.secrets
            .retain(|r| !(r.secret.tenant_id == tenant && r.secret.user_id == user));
        self.code_attempts.retain(|(t, u, _), _| !(*t == tenant && *u == user));
        self.forget_registrations(tenant, user);
        self.totp.remove(&(tenant, user));
        self.customers.retain(|c| !(c.tenant_id == tenant && c.owner == user));
        self.recovery_codes.retain(|(t, u, _)| !(*t == tenant && *u == user));
    }
}
