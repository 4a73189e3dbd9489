//! Redeeming a one-time secret inside one transaction: locking the candidates, counting
//! wrong codes, and applying what the redemption does.
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use portcullis_domain::one_time::Purpose;
use portcullis_domain::{Account, Email, Redemption, SecretLookup, SessionId, StoreError, StoredSecret, TokenHash};
use uuid::Uuid;

use crate::error::{query_error, unique_violation};
use crate::pool::SqliteConn;
use crate::queries::{enqueue_on, insert_session_rows, remember_network};
use crate::rows::{AccountRow, TenantRow};
use crate::schema::{accounts, code_attempts, one_time_secrets, sessions, tenants};
use crate::sql::Db;

/// Most email changes to one address a code is checked against, besides the owner's own
/// secrets. Live codes with the most wrong tries come first, so the address's shared count is
/// always among them: newer changes cannot push an exhausted code out of view.
pub(crate) const MAX_CODE_CANDIDATES: i64 = 8;

#[derive(Queryable, Selectable)]
#[diesel(table_name = one_time_secrets, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct SecretRow {
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

/// Failures inside a transaction: the database's, or a reason to roll back.
pub(crate) enum TxError {
    Db(diesel::result::Error),
    EmailTaken,
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

/// Forgets the account's pending secrets of `purposes`, and their counts of wrong codes.
pub(crate) async fn forget_secrets(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
    purposes: &[Purpose],
) -> QueryResult<usize> {
    let names: Vec<&str> = purposes.iter().map(|p| p.name()).collect();
    diesel::delete(
        code_attempts::table
            .filter(code_attempts::tenant_id.eq(tenant.db()))
            .filter(code_attempts::user_id.eq(user.db()))
            .filter(code_attempts::purpose.eq_any(&names)),
    )
    .execute(conn)
    .await?;
    diesel::delete(
        one_time_secrets::table
            .filter(one_time_secrets::tenant_id.eq(tenant.db()))
            .filter(one_time_secrets::user_id.eq(user.db()))
            .filter(one_time_secrets::purpose.eq_any(names)),
    )
    .execute(conn)
    .await
}

/// Revokes the account's live sessions except `keep`; returns how many.
pub(crate) async fn revoke_all(
    conn: &mut SqliteConn,
    tenant: Uuid,
    user: Uuid,
    keep: Option<SessionId>,
    now: DateTime<Utc>,
    reason: &str,
) -> QueryResult<u64> {
    let keep = keep.map(|k| k.as_uuid()).unwrap_or(Uuid::nil());
    let n = diesel::update(
        sessions::table
            .filter(sessions::tenant_id.eq(tenant.db()))
            .filter(sessions::user_id.eq(user.db()))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep.db())),
    )
    .set((sessions::revoked_at.eq(now), sessions::revoked_reason.eq(reason)))
    .execute(conn)
    .await?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Locks the candidate secrets of a lookup, with their accounts: a token's one secret, or an
/// address's own secrets and then the email changes to it (live codes with the most wrong
/// tries first, then the newest).
///
/// Lock order, everywhere: account rows, then secret rows. A redemption finds its accounts
/// through the secrets, so it reads the candidates first, locks their accounts (in id order),
/// then locks the secrets and reads them again; a secret replaced in between is simply not a
/// candidate any more.
pub(crate) async fn lock_candidates(
    conn: &mut SqliteConn,
    lookup: &SecretLookup,
    purposes: &[&str],
    now: DateTime<Utc>,
) -> QueryResult<Vec<StoredSecret>> {
    use one_time_secrets as s;
    let found: Vec<(Uuid, Uuid)> = match lookup {
        SecretLookup::Token(tenant, hash) => {
            s::table
                .filter(s::tenant_id.eq(tenant.db()))
                .filter(s::token_hash.eq(&hash.0[..]))
                .filter(s::purpose.eq_any(purposes))
                .select((s::id, s::user_id))
                .load(conn)
                .await?
        }
        SecretLookup::Email(tenant, email) => {
            let owner = accounts::table
                .filter(accounts::tenant_id.eq(tenant.db()))
                .filter(accounts::email_normalized.eq(email.normalized()))
                .select(accounts::id);
            // A code is entered with the address it was mailed to: the account's own address,
            // or, for an email change, the new one. The owner's own secrets come first and are
            // never crowded out by other accounts' pending changes to this address.
            let mut own: Vec<(Uuid, Uuid)> = s::table
                .filter(s::tenant_id.eq(tenant.db()))
                .filter(s::purpose.eq_any(purposes))
                .filter(s::purpose.ne(Purpose::ChangeEmail.name()))
                .filter(s::user_id.eq_any(owner))
                .select((s::id, s::user_id))
                .load(conn)
                .await?;
            let changes: Vec<(Uuid, Uuid)> = s::table
                .filter(s::tenant_id.eq(tenant.db()))
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
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::id.eq_any(&users.iter().map(Db::db).collect::<Vec<_>>()))
        .order(accounts::id)
        .select(accounts::id)
        .load::<Uuid>(conn)
        .await?;
    let ids: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
    s::table
        .filter(s::id.eq_any(&ids.iter().map(Db::db).collect::<Vec<_>>()))
        .select(s::id)
        .load::<Uuid>(conn)
        .await?;
    let mut rows: Vec<(SecretRow, AccountRow, TenantRow)> = s::table
        .inner_join(accounts::table.on(accounts::id.eq(s::user_id).and(accounts::tenant_id.eq(s::tenant_id))))
        .inner_join(tenants::table.on(tenants::id.eq(accounts::tenant_id)))
        .filter(s::id.eq_any(&ids.iter().map(Db::db).collect::<Vec<_>>()))
        .select((SecretRow::as_select(), AccountRow::as_select(), TenantRow::as_select()))
        .load(conn)
        .await?;
    // The order of `found`: own secrets first, then the newest email changes.
    rows.sort_by_key(|(secret, _, _)| ids.iter().position(|id| *id == secret.id));
    let counts: Vec<(Uuid, String, i32)> = code_attempts::table
        .filter(code_attempts::tenant_id.eq(tenant.db()))
        .filter(code_attempts::user_id.eq_any(&users.iter().map(Db::db).collect::<Vec<_>>()))
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
pub(crate) async fn count_wrong_codes(
    conn: &mut SqliteConn,
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
                code_attempts::tenant_id.eq(tenant.db()),
                code_attempts::user_id.eq(user.db()),
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
pub(crate) async fn apply(
    conn: &mut SqliteConn,
    secret: &StoredSecret,
    redemption: &Redemption,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    let (tenant, user) = (secret.account.tenant.id.as_uuid(), secret.account.id.as_uuid());
    let account = accounts::table
        .filter(accounts::tenant_id.eq(tenant.db()))
        .filter(accounts::id.eq(user.db()));
    match redemption {
        Redemption::Check => return Ok(()),
        Redemption::VerifyEmail { session } => {
            crate::registration::activate_registration(conn, tenant, user, &secret.scope, now).await?;
            // A customer signup has no registration to name a network: the one its address
            // was proved from becomes known.
            if let (Purpose::Signup, Some(ip)) = (secret.purpose, session.session.ip) {
                let known: bool = diesel::select(diesel::dsl::exists(
                    crate::schema::known_networks::table
                        .filter(crate::schema::known_networks::tenant_id.eq(tenant.db()))
                        .filter(crate::schema::known_networks::user_id.eq(user.db())),
                ))
                .get_result(conn)
                .await?;
                if !known {
                    let network = portcullis_domain::network::network_of(ip);
                    remember_network(conn, tenant, user, &network, now).await?;
                }
            }
            crate::signup::confirm_customer(conn, tenant, user, now).await?;
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
                    .filter(accounts::tenant_id.eq(tenant.db()))
                    .filter(accounts::email_normalized.eq(new.normalized()))
                    .filter(accounts::email_verified.eq(false))
                    .filter(accounts::id.ne(user.db())),
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
                &[
                    Purpose::VerifyEmail,
                    Purpose::ResetPassword,
                    Purpose::AuthorizeIp,
                    Purpose::Signup,
                    Purpose::LoginCode,
                ],
            )
            .await?;
            for notice in notices {
                enqueue_on(conn, notice, now).await?;
            }
        }
        Redemption::AuthorizeNetwork => {
            remember_network(conn, tenant, user, &secret.scope, now).await?;
        }
        Redemption::Spend => {}
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
                &Purpose::ALL,
            )
            .await?;
            enqueue_on(conn, notice, now).await?;
        }
    }
    diesel::delete(one_time_secrets::table.find(secret.id.db()))
        .execute(conn)
        .await?;
    // A secret of this purpose worked: its count of wrong codes starts again.
    diesel::delete(
        code_attempts::table
            .filter(code_attempts::tenant_id.eq(tenant.db()))
            .filter(code_attempts::user_id.eq(user.db()))
            .filter(code_attempts::purpose.eq(secret.purpose.name())),
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn tx_store_error(e: TxError) -> StoreError {
    match e {
        TxError::Db(e) => query_error(e),
        TxError::EmailTaken => StoreError::Internal("unexpected conflict".into()),
    }
}
