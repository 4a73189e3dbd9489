use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::PoolError as ConnError;
use diesel_async::pooled_connection::deadpool::PoolError;
use portcullis_domain::StoreError;

/// Pool failures: a timeout or a database we cannot connect to is "unavailable" (503).
pub(crate) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Timeout(_) => StoreError::Unavailable("no database connection free in time".into()),
        PoolError::Backend(ConnError::ConnectionError(e)) => StoreError::Unavailable(format!("cannot connect: {e}")),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Query failures. Lost connections and statement timeouts are transient (503); the rest is 500.
#[allow(clippy::needless_pass_by_value)] // shaped for `map_err(query_error)`
pub(crate) fn query_error(e: DieselError) -> StoreError {
    match &e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | DieselError::BrokenTransactionManager => {
            StoreError::Unavailable(e.to_string())
        }
        DieselError::DatabaseError(_, info) if info.message().contains("statement timeout") => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// The name of the unique constraint a failed insert hit, if that is what happened.
pub(crate) fn unique_violation(e: &DieselError) -> Option<&str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => info.constraint_name(),
        _ => None,
    }
}

pub(crate) fn is_foreign_key_violation(e: &DieselError) -> bool {
    matches!(e, DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _))
}
