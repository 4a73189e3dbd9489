//! Recomputes the identity keys (`email_normalized`, `username_normalized`,
//! `new_email_normalized`) of rows written before keys were Unicode-aware. Runs once, right
//! after the migration that changed the rule is applied (see [`crate::run_migrations`]).
//!
//! Only text with non-ASCII characters can get another key, so only such rows are read. A row
//! whose new key another row already holds (two accounts that were distinct under the old rule
//! and are look-alikes under the new) keeps its old key, and a warning names it for an operator
//! to settle; nothing is merged or lost.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use portcullis_domain::Email;
use portcullis_domain::identity::identity_key;
use uuid::Uuid;

use crate::error::unique_violation;
use crate::schema::{accounts, one_time_secrets};

/// Rows with a character outside ASCII in a column that holds a key's source text.
fn non_ascii(columns: &str) -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    let test: Vec<String> = columns
        .split(',')
        .map(|c| format!("coalesce({c}, '') ~ '[^\\x01-\\x7f]'"))
        .collect();
    diesel::dsl::sql(&test.join(" OR "))
}

/// An account's source texts and their stored keys.
type IdentityRow = (Uuid, String, String, Option<String>, Option<String>);

/// Rekeys every row that needs it; returns how many rows changed.
pub(crate) async fn rekey_identities(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let mut changed = 0;
    let rows: Vec<IdentityRow> = accounts::table
        .filter(non_ascii("email,username"))
        .select((
            accounts::id,
            accounts::email,
            accounts::email_normalized,
            accounts::username,
            accounts::username_normalized,
        ))
        .load(conn)
        .await?;
    for (id, email, email_key, username, username_key) in rows {
        let new_email_key = Email::from_stored(email).normalized().to_owned();
        if new_email_key != email_key {
            let result = diesel::update(accounts::table.find(id))
                .set(accounts::email_normalized.eq(&new_email_key))
                .execute(conn)
                .await;
            changed += kept_on_conflict(result, id, "email")?;
        }
        let new_username_key = username.as_deref().map(identity_key);
        if new_username_key != username_key {
            let result = diesel::update(accounts::table.find(id))
                .set(accounts::username_normalized.eq(&new_username_key))
                .execute(conn)
                .await;
            changed += kept_on_conflict(result, id, "username")?;
        }
    }
    let pending: Vec<(Uuid, String, Option<String>)> = one_time_secrets::table
        .filter(non_ascii("new_email"))
        .select((
            one_time_secrets::id,
            one_time_secrets::new_email.assume_not_null(),
            one_time_secrets::new_email_normalized,
        ))
        .load(conn)
        .await?;
    for (id, new_email, key) in pending {
        let new_key = Email::from_stored(new_email).normalized().to_owned();
        if Some(&new_key) != key.as_ref() {
            diesel::update(one_time_secrets::table.find(id))
                .set(one_time_secrets::new_email_normalized.eq(&new_key))
                .execute(conn)
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// A rekey that hit a unique key keeps the old key, with a warning; other failures fail.
fn kept_on_conflict(result: QueryResult<usize>, id: Uuid, what: &str) -> QueryResult<usize> {
    match result {
        Err(e) if unique_violation(&e).is_some() => {
            tracing::warn!(
                account_id = %id,
                what,
                "another account of the tenant has a look-alike of this account's {what}; its old key was kept: \
                 rename one of the two"
            );
            Ok(0)
        }
        other => other,
    }
}
