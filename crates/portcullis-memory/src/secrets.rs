//! One-time secrets, the account changes they unlock, and mail requests, in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_domain::{
    Fulfilling, MailRequest, MailRequestStore, MailTarget, NewOneTimeSecret, OneTimeStore, OutgoingMail,
    PasswordChange, Purged, Purpose, RedeemOutcome, Redemption, SecretLookup, StoreError, StoredPassword, StoredSecret,
    Verdict,
};

use crate::MemoryStore;
use crate::state::{CodeAttempts, State};

/// At most this many email changes to one address are candidates for a code (as PostgreSQL).
const MAX_CODE_CANDIDATES: usize = 8;

impl State {
    /// The candidates of a lookup: a token's secret, or an address's own secrets and then the
    /// email changes to it (live codes with the most wrong tries first, then newest).
    fn candidates(&self, lookup: &SecretLookup, purposes: &[Purpose], now: DateTime<Utc>) -> Vec<StoredSecret> {
        let rows: Vec<&crate::state::SecretRow> = match lookup {
            SecretLookup::Token(tenant, hash) => self
                .secrets
                .iter()
                .filter(|r| r.secret.tenant_id == *tenant && r.secret.token_hash == *hash)
                .filter(|r| purposes.contains(&r.secret.purpose))
                .collect(),
            SecretLookup::Email(tenant, email) => {
                let owner = self.by_email(*tenant, email).map(|a| a.id);
                let mut own: Vec<&crate::state::SecretRow> = self
                    .secrets
                    .iter()
                    .filter(|r| r.secret.tenant_id == *tenant && Some(r.secret.user_id) == owner)
                    .filter(|r| purposes.contains(&r.secret.purpose) && r.secret.purpose != Purpose::ChangeEmail)
                    .collect();
                let mut changes: Vec<&crate::state::SecretRow> = self
                    .secrets
                    .iter()
                    .filter(|r| r.secret.tenant_id == *tenant && r.secret.purpose == Purpose::ChangeEmail)
                    .filter(|_| purposes.contains(&Purpose::ChangeEmail))
                    .filter(|r| {
                        r.secret
                            .new_email
                            .as_ref()
                            .is_some_and(|e| e.normalized() == email.normalized())
                    })
                    .collect();
                changes.sort_by(|a, b| {
                    let key = |r: &crate::state::SecretRow| {
                        (
                            r.secret.code_expires_at > now,
                            r.failed_code_attempts,
                            r.secret.created_at,
                        )
                    };
                    key(b).cmp(&key(a))
                });
                changes.truncate(MAX_CODE_CANDIDATES);
                own.extend(changes);
                own
            }
        };
        rows.into_iter()
            .filter_map(|row| {
                let s = &row.secret;
                let account = self.account(s.tenant_id, s.user_id)?;
                let purpose_failures = self
                    .code_attempts
                    .get(&(s.tenant_id, s.user_id, s.purpose))
                    .map_or(0, |c| c.failures);
                Some(StoredSecret {
                    id: s.id,
                    account,
                    purpose: s.purpose,
                    scope: s.scope.clone(),
                    code_hash: s.code_hash,
                    token_expires_at: s.token_expires_at,
                    code_expires_at: s.code_expires_at,
                    failed_code_attempts: row.failed_code_attempts,
                    purpose_failed_code_attempts: purpose_failures,
                    new_email: s.new_email.clone(),
                })
            })
            .collect()
    }

    /// Applies an accepted secret's redemption; `Err(())` when the new address of an email
    /// change belongs to another verified account (nothing is changed then).
    fn apply(&mut self, secret: &StoredSecret, redemption: &Redemption, now: DateTime<Utc>) -> Result<(), ()> {
        let (tenant, user) = (secret.account.tenant.id, secret.account.id);
        match redemption {
            Redemption::Check => return Ok(()),
            Redemption::VerifyEmail { session } => {
                self.activate_registration(tenant, user, &secret.scope);
                // A customer signup has no registration to name a network: the one its
                // address was proved from becomes known.
                if secret.purpose == Purpose::Signup
                    && !self.known_networks.iter().any(|(t, u, _)| *t == tenant && *u == user)
                    && let Some(ip) = session.session.ip
                {
                    self.remember_network(tenant, user, &portcullis_domain::network::network_of(ip));
                }
                self.confirm_customer(tenant, user, now);
                self.forget_secrets(tenant, user, &Purpose::ALL);
                self.insert_session(session);
            }
            Redemption::ChangeEmail { notices } => {
                let new = secret.new_email.as_ref().ok_or(())?;
                let holder = self
                    .by_email(tenant, new)
                    .filter(|a| a.id != user)
                    .map(|a| (a.id, a.email_verified));
                match holder {
                    Some((_, true)) => return Err(()),
                    // An account that never proved this mailbox gives way to one that just did.
                    Some((other, false)) => self.delete_account(tenant, other),
                    None => {}
                }
                if let Some(row) = self.account_row_mut(tenant, user) {
                    row.email = new.clone();
                    row.email_verified = true;
                }
                self.forget_secrets(
                    tenant,
                    user,
                    &[
                        Purpose::VerifyEmail,
                        Purpose::ResetPassword,
                        Purpose::AuthorizeIp,
                        Purpose::Signup,
                        Purpose::LoginCode,
                    ],
                );
                for notice in notices {
                    self.enqueue(notice, now);
                }
            }
            Redemption::AuthorizeNetwork => self.remember_network(tenant, user, &secret.scope),
            Redemption::Spend => {}
            Redemption::ResetPassword { password_hash, notice } => {
                if let Some(row) = self.account_row_mut(tenant, user) {
                    row.password = Some(StoredPassword::new(password_hash.clone()));
                    row.email_verified = true;
                }
                self.revoke_all(tenant, user, None, now, "password_reset");
                self.forget_registrations(tenant, user);
                self.forget_secrets(tenant, user, &Purpose::ALL);
                self.enqueue(notice, now);
            }
        }
        self.secrets.retain(|r| r.secret.id != secret.id);
        self.code_attempts.remove(&(tenant, user, secret.purpose));
        Ok(())
    }
}

#[async_trait]
impl OneTimeStore for MemoryStore {
    async fn issue_secret_unless_live(
        &self,
        secret: NewOneTimeSecret,
        mail: &OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock().await?;
        if state.account_row(secret.tenant_id, secret.user_id).is_none() {
            return Err(StoreError::Internal(
                "a secret for an account that does not exist".into(),
            ));
        }
        let same_purpose = |r: &crate::state::SecretRow| {
            r.secret.tenant_id == secret.tenant_id
                && r.secret.user_id == secret.user_id
                && r.secret.purpose == secret.purpose
        };
        if state
            .secrets
            .iter()
            .any(|r| same_purpose(r) && r.secret.scope == secret.scope && r.secret.token_expires_at > now)
        {
            return Ok(false);
        }
        let carried = state
            .secrets
            .iter()
            .filter(|r| same_purpose(r) && r.secret.code_expires_at > now)
            .map(|r| r.failed_code_attempts)
            .max()
            .unwrap_or(0);
        state.secrets.retain(|r| !same_purpose(r));
        state.upsert_secret(&secret);
        if let Some(row) = state.secrets.iter_mut().find(|r| r.secret.id == secret.id) {
            row.failed_code_attempts = carried;
        }
        state.enqueue(mail, now);
        Ok(true)
    }

    async fn issue_secret(
        &self,
        secret: NewOneTimeSecret,
        mails: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock().await?;
        state.upsert_secret(&secret);
        for mail in mails {
            state.enqueue(mail, now);
        }
        Ok(())
    }

    async fn redeem_secret(
        &self,
        lookup: &SecretLookup,
        purposes: &[Purpose],
        now: DateTime<Utc>,
        judge: &(dyn for<'a> Fn(&'a [StoredSecret]) -> Verdict + Send + Sync),
    ) -> Result<RedeemOutcome, StoreError> {
        let mut state = self.lock().await?;
        let mut candidates = state.candidates(lookup, purposes, now);
        let wrong: Vec<StoredSecret> = match judge(&candidates) {
            Verdict::Accept {
                index,
                redemption,
                events,
            } if index < candidates.len() => {
                let secret = candidates.swap_remove(index);
                if state.apply(&secret, &redemption, now).is_err() {
                    return Ok(RedeemOutcome::EmailTaken);
                }
                state.events.extend(events);
                let account = state
                    .account(secret.account.tenant.id, secret.account.id)
                    .ok_or_else(|| StoreError::Internal("redeemed secret without an account".into()))?;
                return Ok(RedeemOutcome::Redeemed {
                    secret,
                    account,
                    redemption,
                });
            }
            Verdict::Accept { .. } => Vec::new(),
            Verdict::Refuse { wrong } => wrong.into_iter().filter_map(|i| candidates.get(i).cloned()).collect(),
        };
        let mut counted = Vec::new();
        for c in &wrong {
            let key = (c.account.tenant.id, c.account.id, c.purpose);
            if !counted.contains(&key) {
                counted.push(key);
                let entry = state.code_attempts.entry(key).or_insert(CodeAttempts {
                    failures: 0,
                    last_failure_at: now,
                });
                entry.failures += 1;
                entry.last_failure_at = now;
            }
            if let Some(row) = state.secrets.iter_mut().find(|r| r.secret.id == c.id) {
                row.failed_code_attempts += 1;
            }
        }
        Ok(RedeemOutcome::Refused)
    }

    async fn change_password(&self, change: &PasswordChange, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        let mut state = self.lock().await?;
        let Some(row) = state.account_row_mut(change.tenant, change.user) else {
            return Ok(None);
        };
        if row.password.as_ref().map(|p| &p.phc) != change.expected.as_ref() {
            return Ok(None);
        }
        row.password = Some(StoredPassword::new(change.new_hash.clone()));
        let revoked = state.revoke_all(change.tenant, change.user, change.keep, now, "password_changed");
        state.forget_secrets(
            change.tenant,
            change.user,
            &[
                Purpose::ResetPassword,
                Purpose::ChangeEmail,
                Purpose::AuthorizeIp,
                Purpose::LoginCode,
            ],
        );
        state.enqueue(&change.notice, now);
        state.events.extend(change.events.iter().cloned());
        Ok(Some(revoked))
    }

    async fn purge(&self, now: DateTime<Utc>, stale_before: DateTime<Utc>) -> Result<Purged, StoreError> {
        let mut state = self.lock().await?;
        let before = state.secrets.len();
        state
            .secrets
            .retain(|r| !(r.secret.token_expires_at < now && r.secret.code_expires_at < now));
        let secrets = before - state.secrets.len();
        let stale: Vec<_> = state
            .accounts
            .iter()
            .filter(|a| !a.email_verified && a.created_at < stale_before)
            .filter(|a| {
                !state
                    .registrations
                    .iter()
                    .any(|r| r.tenant == a.tenant && r.user == a.id && r.created_at >= stale_before)
            })
            .filter(|a| {
                // A signup asked for again lately keeps its account.
                !state
                    .customers
                    .iter()
                    .any(|c| c.tenant_id == a.tenant && c.owner == a.id && c.held_until >= stale_before)
            })
            .map(|a| (a.tenant, a.id))
            .collect();
        for (tenant, user) in &stale {
            state.delete_account(*tenant, *user);
        }
        // A customer never verified whose hold ended long ago (its owner verified some other
        // way, too late) holds nothing and goes.
        state
            .customers
            .retain(|c| c.verified_at.is_some() || c.held_until >= stale_before);
        state.code_attempts.retain(|_, c| c.last_failure_at >= stale_before);
        Ok(Purged {
            secrets: secrets as u64,
            unverified_accounts: stale.iter().map(|(_, user)| *user).collect(),
        })
    }
}

#[async_trait]
impl MailRequestStore for MemoryStore {
    async fn request_mail(&self, request: &MailRequest) -> Result<(), StoreError> {
        self.lock().await?.mail_requests.push(request.clone());
        Ok(())
    }

    async fn fulfil_mail_request(
        &self,
        fulfil: &(dyn for<'a, 'b> Fn(&'a MailRequest, Option<&'b MailTarget>) -> Fulfilling + Send + Sync),
    ) -> Result<bool, StoreError> {
        // Held across the fulfilment, as the database transaction is.
        let mut state = self.lock().await?;
        let Some(oldest) = state
            .mail_requests
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| r.requested_at)
            .map(|(i, _)| i)
        else {
            return Ok(false);
        };
        let request = state.mail_requests.remove(oldest);
        let target = state.by_email(request.tenant_id, &request.email).map(|row| {
            let registrations = if row.email_verified {
                Vec::new()
            } else {
                state.registrations_of(row.tenant, row.id)
            };
            MailTarget {
                account: state.account_of(row),
                registrations,
            }
        });
        if let Some((secret, mail)) = fulfil(&request, target.as_ref()).await {
            state.upsert_secret(&secret);
            state.enqueue(&mail, secret.created_at);
        }
        Ok(true)
    }
}
