use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError as ConnError;
use diesel_async::pooled_connection::deadpool::PoolError;
use portcullis_domain::StoreError;

/// Pool failures: a timeout or a database we cannot open is "unavailable" (503).
pub(crate) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(_) => StoreError::Unavailable("no database connection free in time".into()),
        PoolError::Backend(ConnError::ConnectionError(e)) => StoreError::Unavailable(format!("cannot open: {e}")),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Query failures. A database still locked by another writer after the busy timeout, or one
/// that cannot be written (disk full, read-only, I/O error), is transient (503); the rest is 500.
#[allow(clippy::needless_pass_by_value)] // shaped for `map_err(query_error)`
pub(crate) fn query_error(e: DieselError) -> StoreError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | DieselError::BrokenTransactionManager => {
            StoreError::Unavailable(e.to_string())
        }
        DieselError::DatabaseError(_, info)
            if [
                "database is locked",
                "database table is locked",
                "disk I/O error",
                "database or disk is full",
                "attempt to write a readonly database",
                "unable to open database",
            ]
            .iter()
            .any(|m| info.message().contains(m)) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// Unique constraints by the columns SQLite names in its message ("UNIQUE constraint failed:
/// accounts.tenant_id, accounts.email_normalized"), under the names PostgreSQL gives them.
const UNIQUE_CONSTRAINTS: &[(&str, &str)] = &[
    (
        "accounts.tenant_id, accounts.email_normalized",
        "accounts_tenant_email_key",
    ),
    (
        "accounts.tenant_id, accounts.username_normalized",
        "accounts_tenant_username_key",
    ),
    ("accounts.tenant_id, accounts.id", "accounts_tenant_id_key"),
    ("accounts.id", "accounts_pkey"),
    ("tenants.slug", "tenants_slug_key"),
    ("tenants.id", "tenants_pkey"),
    ("nodes.tenant_id, nodes.name", "nodes_tenant_name_key"),
    ("nodes.id", "nodes_pkey"),
    ("plans.tenant_id, plans.name", "plans_pkey"),
    ("customers.tenant_id, customers.user_id", "customers_owner_key"),
    (
        "one_time_secrets.tenant_id, one_time_secrets.user_id, one_time_secrets.purpose, one_time_secrets.scope",
        "one_time_secrets_one_live",
    ),
    ("one_time_secrets.token_hash", "one_time_secrets_token_hash_key"),
    ("refresh_tokens.session_id", "refresh_tokens_one_head"),
    ("refresh_tokens.token_hash", "refresh_tokens_pkey"),
    ("admin_keys.key_hash", "admin_keys_key_hash_key"),
];

/// The name of the unique constraint a failed insert hit, if that is what happened: the
/// PostgreSQL name where this adapter knows it, else SQLite's list of columns.
pub(crate) fn unique_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let columns = info
                .message()
                .strip_prefix("UNIQUE constraint failed: ")
                .unwrap_or(info.message());
            Some(
                UNIQUE_CONSTRAINTS
                    .iter()
                    .find(|(c, _)| *c == columns)
                    .map_or(columns, |(_, name)| name),
            )
        }
        _ => None,
    }
}

pub(crate) fn is_foreign_key_violation(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _))
}
