//! One-time secrets, the account changes they unlock, and deferred mail requests. Each port
//! method is one transaction, and the mail it names is enqueued in that transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::{excluded, on_constraint};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use portcullis_domain::OutgoingMail;
use portcullis_domain::one_time::Purpose;
use portcullis_domain::{
    Account, Email, Fulfilling, MailRequest, MailRequestStore, MailTarget, NewOneTimeSecret, OneTimeStore,
    PasswordChange, Purged, RedeemOutcome, Redemption, SecretLookup, SessionId, StoreError, StoredSecret, TenantId,
    TokenHash, Verdict,
};
use uuid::Uuid;

use crate::PgStore;
use crate::error::{query_error, unique_violation};
use crate::outbox::enqueue_on;
use crate::rows::{AccountRow, TenantRow};
use crate::schema::{accounts, code_attempts, mail_requests, one_time_secrets, sessions, tenants};
use crate::store::{account_with_tenant, insert_session_rows, remember_network};

/// Most email changes to one address a code is checked against, besides the owner's own
/// secrets. Live codes with the most wrong tries come first, so the address's shared count is
/// always among them: newer changes cannot push an exhausted code out of view.
const MAX_CODE_CANDIDATES: i64 = 8;

#[derive(Queryable, Selectable)]
#[diesel(table_name = one_time_secrets, check_for_backend(diesel::pg::Pg))]
struct SecretRow {
    id: Uuid,
    purpose: String,
    scope: String,
    code_hash: Vec<u8>,
    token_expires_at: DateTime<Utc>,
    code_expires_at: DateTime<Utc>,
    failed_code_attempts: i32,
    new_email: Option<String>,
}

impl SecretRow {
    fn into_stored(self, account: Account, purpose_failures: u32) -> QueryResult<StoredSecret> {
        let corrupt =
            |what: &str| diesel::result::Error::DeserializationError(format!("one_time_secrets: {what}").into());
        Ok(StoredSecret {
            id: self.id,
            account,
            purpose: Purpose::from_name(&self.purpose).ok_or_else(|| corrupt("unknown purpose"))?,
            scope: self.scope,
            code_hash: TokenHash(
                self.code_hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt("code hash length"))?,
            ),
            token_expires_at: self.token_expires_at,
            code_expires_at: self.code_expires_at,
            failed_code_attempts: u32::try_from(self.failed_code_attempts).unwrap_or(0),
            purpose_failed_code_attempts: purpose_failures,
            new_email: self.new_email.map(Email::from_stored),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = mail_requests, check_for_backend(diesel::pg::Pg))]
struct MailRequestRow {
    id: Uuid,
    tenant_id: Uuid,
    purpose: String,
    email: String,
    requested_at: DateTime<Utc>,
    network: Option<String>,
}

/// Failures inside a transaction: the database's, or a reason to roll back.
enum TxError {
    Db(diesel::result::Error),
    EmailTaken,
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

pub(crate) async fn load_account(conn: &mut AsyncPgConnection, tenant: Uuid, id: Uuid) -> QueryResult<Account> {
    accounts::table
        .inner_join(tenants::table)
        .filter(accounts::tenant_id.eq(tenant))
        .filter(accounts::id.eq(id))
        .select(account_with_tenant())
        .first::<(AccountRow, TenantRow)>(conn)
        .await
        .map(|(a, t)| a.into_account(t).account)
}

/// Stores `secret`, replacing the live one of its account, purpose and scope.
pub(crate) async fn upsert_secret(conn: &mut AsyncPgConnection, secret: &NewOneTimeSecret) -> QueryResult<()> {
    use one_time_secrets as s;
    diesel::insert_into(s::table)
        .values((
            s::id.eq(secret.id),
            s::tenant_id.eq(secret.tenant_id.as_uuid()),
            s::user_id.eq(secret.user_id.as_uuid()),
            s::purpose.eq(secret.purpose.name()),
            s::scope.eq(&secret.scope),
            s::token_hash.eq(&secret.token_hash.0[..]),
            s::code_hash.eq(&secret.code_hash.0[..]),
            s::token_expires_at.eq(secret.token_expires_at),
            s::code_expires_at.eq(secret.code_expires_at),
            s::new_email.eq(secret.new_email.as_ref().map(Email::as_str)),
            s::new_email_normalized.eq(secret.new_email.as_ref().map(Email::normalized)),
            s::created_at.eq(secret.created_at),
        ))
        .on_conflict(on_constraint("one_time_secrets_one_live"))
        .do_update()
        .set((
            s::id.eq(excluded(s::id)),
            s::token_hash.eq(excluded(s::token_hash)),
            s::code_hash.eq(excluded(s::code_hash)),
            s::token_expires_at.eq(excluded(s::token_expires_at)),
            s::code_expires_at.eq(excluded(s::code_expires_at)),
            // A new code does not buy new guesses: the count carries over while the code it
            // replaces was still alive, so asking again and again cannot reset it.
            s::failed_code_attempts.eq(diesel::dsl::sql::<diesel::sql_types::Integer>(
                "CASE WHEN one_time_secrets.code_expires_at > excluded.created_at \
                 THEN one_time_secrets.failed_code_attempts ELSE 0 END",
            )),
            s::new_email.eq(excluded(s::new_email)),
            s::new_email_normalized.eq(excluded(s::new_email_normalized)),
            s::created_at.eq(excluded(s::created_at)),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Forgets the account's pending secrets of `purposes`, and their counts of wrong codes.
async fn forget_secrets(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    user: Uuid,
    purposes: &[Purpose],
) -> QueryResult<usize> {
    let names: Vec<&str> = purposes.iter().map(|p| p.name()).collect();
    diesel::delete(
        code_attempts::table
            .filter(code_attempts::tenant_id.eq(tenant))
            .filter(code_attempts::user_id.eq(user))
            .filter(code_attempts::purpose.eq_any(&names)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        one_time_secrets::table
            .filter(one_time_secrets::tenant_id.eq(tenant))
            .filter(one_time_secrets::user_id.eq(user))
            .filter(one_time_secrets::purpose.eq_any(names)),
    )
    .execute(conn)
    .await
}

/// Revokes the account's live sessions except `keep`; returns how many.
async fn revoke_all(
    conn: &mut AsyncPgConnection,
    tenant: Uuid,
    user: Uuid,
    keep: Option<SessionId>,
    now: DateTime<Utc>,
    reason: &str,
) -> QueryResult<u64> {
    let keep = keep.map(|k| k.as_uuid()).unwrap_or(Uuid::nil());
    let n = diesel::update(
        sessions::table
            .filter(sessions::tenant_id.eq(tenant))
            .filter(sessions::user_id.eq(user))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep)),
    )
    .set((sessions::revoked_at.eq(now), sessions::revoked_reason.eq(reason)))
    .execute(conn)
    .await?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Locks the candidate secrets of a lookup, with their accounts, newest first.
///
/// Lock order, everywhere: account rows, then secret rows. A redemption finds its accounts
/// through the secrets, so it reads the candidates first, locks their accounts (in id order),
/// then locks the secrets and reads them again; a secret replaced in between is simply not a
/// candidate any more.
async fn lock_candidates(
    conn: &mut AsyncPgConnection,
    lookup: &SecretLookup,
    purposes: &[&str],
    now: DateTime<Utc>,
) -> QueryResult<Vec<StoredSecret>> {
    use one_time_secrets as s;
    let found: Vec<(Uuid, Uuid)> = match lookup {
        SecretLookup::Token(tenant, hash) => {
            s::table
                .filter(s::tenant_id.eq(tenant.as_uuid()))
                .filter(s::token_hash.eq(&hash.0[..]))
                .filter(s::purpose.eq_any(purposes))
                .select((s::id, s::user_id))
                .load(conn)
                .await?
        }
        SecretLookup::Email(tenant, email) => {
            let owner = accounts::table
                .filter(accounts::tenant_id.eq(tenant.as_uuid()))
                .filter(accounts::email_normalized.eq(email.normalized()))
                .select(accounts::id);
            // A code is entered with the address it was mailed to: the account's own address,
            // or, for an email change, the new one. The owner's own secrets come first and are
            // never crowded out by other accounts' pending changes to this address.
            let mut own: Vec<(Uuid, Uuid)> = s::table
                .filter(s::tenant_id.eq(tenant.as_uuid()))
                .filter(s::purpose.eq_any(purposes))
                .filter(s::purpose.ne(Purpose::ChangeEmail.name()))
                .filter(s::user_id.eq_any(owner))
                .select((s::id, s::user_id))
                .load(conn)
                .await?;
            let changes: Vec<(Uuid, Uuid)> = s::table
                .filter(s::tenant_id.eq(tenant.as_uuid()))
                .filter(s::purpose.eq_any(purposes))
                .filter(s::purpose.eq(Purpose::ChangeEmail.name()))
                .filter(s::new_email_normalized.eq(email.normalized()))
                .order((
                    s::code_expires_at.gt(now).desc(),
                    s::failed_code_attempts.desc(),
                    s::created_at.desc(),
                ))
                .limit(MAX_CODE_CANDIDATES)
                .select((s::id, s::user_id))
                .load(conn)
                .await?;
            own.extend(changes);
            own
        }
    };
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let tenant = match lookup {
        SecretLookup::Token(tenant, _) | SecretLookup::Email(tenant, _) => tenant.as_uuid(),
    };
    let mut users: Vec<Uuid> = found.iter().map(|(_, user)| *user).collect();
    users.sort_unstable();
    users.dedup();
    accounts::table
        .filter(accounts::tenant_id.eq(tenant))
        .filter(accounts::id.eq_any(&users))
        .order(accounts::id)
        .select(accounts::id)
        .for_update()
        .load::<Uuid>(conn)
        .await?;
    let ids: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
    s::table
        .filter(s::id.eq_any(&ids))
        .select(s::id)
        .for_update()
        .load::<Uuid>(conn)
        .await?;
    let mut rows: Vec<(SecretRow, AccountRow, TenantRow)> = s::table
        .inner_join(accounts::table.on(accounts::id.eq(s::user_id).and(accounts::tenant_id.eq(s::tenant_id))))
        .inner_join(tenants::table.on(tenants::id.eq(accounts::tenant_id)))
        .filter(s::id.eq_any(&ids))
        .select((SecretRow::as_select(), AccountRow::as_select(), TenantRow::as_select()))
        .load(conn)
        .await?;
    // The order of `found`: own secrets first, then the newest email changes.
    rows.sort_by_key(|(secret, _, _)| ids.iter().position(|id| *id == secret.id));
    let counts: Vec<(Uuid, String, i32)> = code_attempts::table
        .filter(code_attempts::tenant_id.eq(tenant))
        .filter(code_attempts::user_id.eq_any(&users))
        .select((code_attempts::user_id, code_attempts::purpose, code_attempts::failures))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(secret, account, tenant)| {
            let failures = counts
                .iter()
                .find(|(user, purpose, _)| *user == account.id && *purpose == secret.purpose)
                .map_or(0, |(_, _, n)| u32::try_from(*n).unwrap_or(0));
            secret.into_stored(account.into_account(tenant).account, failures)
        })
        .collect()
}

/// Adds one wrong code to the count of each (account, purpose).
async fn count_wrong_codes(
    conn: &mut AsyncPgConnection,
    wrong: &[(Uuid, Uuid, Purpose)],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let mut seen: Vec<&(Uuid, Uuid, Purpose)> = Vec::new();
    for key in wrong {
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let (tenant, user, purpose) = key;
        diesel::insert_into(code_attempts::table)
            .values((
                code_attempts::tenant_id.eq(tenant),
                code_attempts::user_id.eq(user),
                code_attempts::purpose.eq(purpose.name()),
                code_attempts::failures.eq(1),
                code_attempts::last_failure_at.eq(now),
            ))
            .on_conflict((code_attempts::tenant_id, code_attempts::user_id, code_attempts::purpose))
            .do_update()
            .set((
                code_attempts::failures.eq(code_attempts::failures + 1),
                code_attempts::last_failure_at.eq(now),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Applies an accepted secret's redemption (the secret is locked by the caller).
async fn apply(
    conn: &mut AsyncPgConnection,
    secret: &StoredSecret,
    redemption: &Redemption,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    let (tenant, user) = (secret.account.tenant.id.as_uuid(), secret.account.id.as_uuid());
    let account = accounts::table
        .filter(accounts::tenant_id.eq(tenant))
        .filter(accounts::id.eq(user));
    match redemption {
        Redemption::Check => return Ok(()),
        Redemption::VerifyEmail { session } => {
            crate::registration::activate_registration(conn, tenant, user, &secret.scope, now).await?;
            // What was pending before the address was proved belongs to no one now.
            forget_secrets(conn, tenant, user, &Purpose::ALL).await?;
            insert_session_rows(conn, session).await?;
        }
        Redemption::ChangeEmail { notices } => {
            let new = secret
                .new_email
                .as_ref()
                .ok_or_else(|| TxError::Db(diesel::result::Error::NotFound))?;
            // An account that never proved this mailbox gives way to one that just did.
            diesel::delete(
                accounts::table
                    .filter(accounts::tenant_id.eq(tenant))
                    .filter(accounts::email_normalized.eq(new.normalized()))
                    .filter(accounts::email_verified.eq(false))
                    .filter(accounts::id.ne(user)),
            )
            .execute(conn)
            .await?;
            let moved = diesel::update(account)
                .set((
                    accounts::email.eq(new.as_str()),
                    accounts::email_normalized.eq(new.normalized()),
                    accounts::email_verified.eq(true),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)
                .await;
            match moved {
                Err(e) if unique_violation(&e) == Some("accounts_tenant_email_key") => return Err(TxError::EmailTaken),
                other => other?,
            };
            // Secrets mailed to the old address must not outlive it.
            forget_secrets(
                conn,
                tenant,
                user,
                &[Purpose::VerifyEmail, Purpose::ResetPassword, Purpose::AuthorizeIp],
            )
            .await?;
            for notice in notices {
                enqueue_on(conn, notice, now).await?;
            }
        }
        Redemption::AuthorizeNetwork => {
            remember_network(conn, tenant, user, &secret.scope, now).await?;
        }
        Redemption::ResetPassword { password_hash, notice } => {
            diesel::update(account)
                .set((
                    accounts::password_hash.eq(password_hash),
                    accounts::password_nfkc.eq(true),
                    accounts::email_verified.eq(true),
                    accounts::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            revoke_all(conn, tenant, user, None, now, "password_reset").await?;
            crate::registration::forget_registrations(conn, tenant, user).await?;
            forget_secrets(
                conn,
                tenant,
                user,
                // A pending network authorization may be the intruder's: it dies with the
                // password that let them get that far.
                &[
                    Purpose::VerifyEmail,
                    Purpose::ChangeEmail,
                    Purpose::ResetPassword,
                    Purpose::AuthorizeIp,
                ],
            )
            .await?;
            enqueue_on(conn, notice, now).await?;
        }
    }
    diesel::delete(one_time_secrets::table.find(secret.id))
        .execute(conn)
        .await?;
    // A secret of this purpose worked: its count of wrong codes starts again.
    diesel::delete(
        code_attempts::table
            .filter(code_attempts::tenant_id.eq(tenant))
            .filter(code_attempts::user_id.eq(user))
            .filter(code_attempts::purpose.eq(secret.purpose.name())),
    )
    .execute(conn)
    .await?;
    Ok(())
}

fn tx_store_error(e: TxError) -> StoreError {
    match e {
        TxError::Db(e) => query_error(e),
        TxError::EmailTaken => StoreError::Internal("unexpected conflict".into()),
    }
}

#[async_trait]
impl OneTimeStore for PgStore {
    async fn issue_secret_unless_live(
        &self,
        secret: NewOneTimeSecret,
        mail: &OutgoingMail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let (tenant, user) = (secret.tenant_id.as_uuid(), secret.user_id.as_uuid());
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            use one_time_secrets as s;
            // The account row serialises issuers (the lock order of every flow: account, then
            // its secrets), so two sign-ins from two new networks cannot both keep a secret.
            accounts::table
                .filter(accounts::tenant_id.eq(tenant))
                .filter(accounts::id.eq(user))
                .select(accounts::id)
                .for_update()
                .first::<Uuid>(conn)
                .await?;
            let live: Vec<(String, i32, DateTime<Utc>, DateTime<Utc>)> = s::table
                .filter(s::tenant_id.eq(tenant))
                .filter(s::user_id.eq(user))
                .filter(s::purpose.eq(secret.purpose.name()))
                .select((
                    s::scope,
                    s::failed_code_attempts,
                    s::token_expires_at,
                    s::code_expires_at,
                ))
                .load(conn)
                .await?;
            // While this scope's link lives, no second mail.
            if live
                .iter()
                .any(|(scope, _, token_expires, _)| *scope == secret.scope && *token_expires > now)
            {
                return Ok(false);
            }
            let carried = live
                .iter()
                .filter(|(_, _, _, code_expires)| *code_expires > now)
                .map(|(_, failed, _, _)| *failed)
                .max()
                .unwrap_or(0);
            diesel::delete(
                s::table
                    .filter(s::tenant_id.eq(tenant))
                    .filter(s::user_id.eq(user))
                    .filter(s::purpose.eq(secret.purpose.name())),
            )
            .execute(conn)
            .await?;
            upsert_secret(conn, &secret).await?;
            if carried > 0 {
                diesel::update(s::table.find(secret.id))
                    .set(s::failed_code_attempts.eq(carried))
                    .execute(conn)
                    .await?;
            }
            enqueue_on(conn, mail, now).await?;
            Ok(true)
        })
        .await
        .map_err(query_error)
    }

    async fn issue_secret(
        &self,
        secret: NewOneTimeSecret,
        mails: &[OutgoingMail],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            upsert_secret(conn, &secret).await?;
            for mail in mails {
                enqueue_on(conn, mail, now).await?;
            }
            Ok(())
        })
        .await
        .map_err(query_error)
    }

    async fn redeem_secret(
        &self,
        lookup: &SecretLookup,
        purposes: &[Purpose],
        now: DateTime<Utc>,
        judge: &(dyn for<'a> Fn(&'a [StoredSecret]) -> Verdict + Send + Sync),
    ) -> Result<RedeemOutcome, StoreError> {
        let names: Vec<&str> = purposes.iter().map(|p| p.name()).collect();
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxError, _>(async |conn| {
                let mut candidates = lock_candidates(conn, lookup, &names, now).await?;
                let wrong: Vec<&StoredSecret> = match judge(&candidates) {
                    Verdict::Accept { index, redemption } if index < candidates.len() => {
                        let secret = candidates.swap_remove(index);
                        apply(conn, &secret, &redemption, now).await?;
                        let account =
                            load_account(conn, secret.account.tenant.id.as_uuid(), secret.account.id.as_uuid()).await?;
                        return Ok(RedeemOutcome::Redeemed { secret, account });
                    }
                    Verdict::Accept { .. } => Vec::new(),
                    Verdict::Refuse { wrong } => wrong.into_iter().filter_map(|i| candidates.get(i)).collect(),
                };
                if !wrong.is_empty() {
                    let keys: Vec<(Uuid, Uuid, Purpose)> = wrong
                        .iter()
                        .map(|c| (c.account.tenant.id.as_uuid(), c.account.id.as_uuid(), c.purpose))
                        .collect();
                    count_wrong_codes(conn, &keys, now).await?;
                    let wrong: Vec<Uuid> = wrong.iter().map(|c| c.id).collect();
                    diesel::update(one_time_secrets::table.filter(one_time_secrets::id.eq_any(&wrong)))
                        .set(one_time_secrets::failed_code_attempts.eq(one_time_secrets::failed_code_attempts + 1))
                        .execute(conn)
                        .await?;
                }
                Ok(RedeemOutcome::Refused)
            })
            .await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(TxError::EmailTaken) => Ok(RedeemOutcome::EmailTaken),
            Err(e) => Err(tx_store_error(e)),
        }
    }

    async fn change_password(&self, change: &PasswordChange, now: DateTime<Utc>) -> Result<Option<u64>, StoreError> {
        let (tenant, user) = (change.tenant.as_uuid(), change.user.as_uuid());
        let (expected, new_hash, keep, notice) = (&change.expected, &change.new_hash, change.keep, &change.notice);
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // IS NOT DISTINCT FROM: a missing password is expected as NULL.
            let replaced = diesel::update(
                accounts::table
                    .filter(accounts::tenant_id.eq(tenant))
                    .filter(accounts::id.eq(user))
                    .filter(accounts::password_hash.is_not_distinct_from(expected.as_deref())),
            )
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::password_nfkc.eq(true),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
            if replaced == 0 {
                return Ok(None);
            }
            let revoked = revoke_all(conn, tenant, user, keep, now, "password_changed").await?;
            forget_secrets(
                conn,
                tenant,
                user,
                &[Purpose::ResetPassword, Purpose::ChangeEmail, Purpose::AuthorizeIp],
            )
            .await?;
            enqueue_on(conn, notice, now).await?;
            Ok(Some(revoked))
        })
        .await
        .map_err(query_error)
    }

    async fn purge(&self, now: DateTime<Utc>, stale_before: DateTime<Utc>) -> Result<Purged, StoreError> {
        use crate::schema::registrations;
        let mut conn = self.conn().await?;
        let secrets = diesel::delete(
            one_time_secrets::table
                .filter(one_time_secrets::token_expires_at.lt(now))
                .filter(one_time_secrets::code_expires_at.lt(now)),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        // Registrations, secrets and sessions go with their account (cascade).
        let recent = registrations::table
            .filter(registrations::created_at.ge(stale_before))
            .select(registrations::user_id);
        let accounts = diesel::delete(
            accounts::table
                .filter(accounts::email_verified.eq(false))
                .filter(accounts::created_at.lt(stale_before))
                .filter(accounts::id.ne_all(recent)),
        )
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        diesel::delete(code_attempts::table.filter(code_attempts::last_failure_at.lt(stale_before)))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(Purged {
            secrets: u64::try_from(secrets).unwrap_or(u64::MAX),
            unverified_accounts: u64::try_from(accounts).unwrap_or(u64::MAX),
        })
    }
}

#[async_trait]
impl MailRequestStore for PgStore {
    async fn request_mail(&self, request: &MailRequest) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        diesel::insert_into(mail_requests::table)
            .values((
                mail_requests::id.eq(request.id),
                mail_requests::tenant_id.eq(request.tenant_id.as_uuid()),
                mail_requests::purpose.eq(request.purpose.name()),
                mail_requests::email.eq(request.email.as_str()),
                mail_requests::email_normalized.eq(request.email.normalized()),
                mail_requests::network.eq(&request.network),
                mail_requests::requested_at.eq(request.requested_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(())
    }

    async fn fulfil_mail_request(
        &self,
        fulfil: &(dyn for<'a, 'b> Fn(&'a MailRequest, Option<&'b MailTarget>) -> Fulfilling + Send + Sync),
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            // SKIP LOCKED: workers on several nodes each take a different request.
            let Some(row) = mail_requests::table
                .order(mail_requests::requested_at.asc())
                .select(MailRequestRow::as_select())
                .for_update()
                .skip_locked()
                .first::<MailRequestRow>(conn)
                .await
                .optional()?
            else {
                return Ok(false);
            };
            diesel::delete(mail_requests::table.find(row.id)).execute(conn).await?;
            let Some(purpose) = Purpose::from_name(&row.purpose) else {
                tracing::error!(mail_request_id = %row.id, "mail request with an unknown purpose dropped");
                return Ok(true);
            };
            let request = MailRequest {
                id: row.id,
                tenant_id: TenantId::from_uuid(row.tenant_id),
                purpose,
                email: Email::from_stored(row.email),
                network: row.network,
                requested_at: row.requested_at,
            };
            let account = accounts::table
                .inner_join(tenants::table)
                .filter(accounts::tenant_id.eq(row.tenant_id))
                .filter(accounts::email_normalized.eq(request.email.normalized()))
                .select(account_with_tenant())
                .first::<(AccountRow, TenantRow)>(conn)
                .await
                .optional()?
                .map(|(a, t)| a.into_account(t).account);
            let target = match account {
                Some(account) => {
                    let registrations = if account.email_verified {
                        Vec::new()
                    } else {
                        crate::registration::registrations_of(conn, row.tenant_id, account.id.as_uuid()).await?
                    };
                    Some(MailTarget { account, registrations })
                }
                None => None,
            };
            if let Some((secret, mail)) = fulfil(&request, target.as_ref()).await {
                upsert_secret(conn, &secret).await?;
                enqueue_on(conn, &mail, secret.created_at).await?;
            }
            Ok(true)
        })
        .await
        .map_err(query_error)
    }
}
