//! Moving the data in and out: every row of a table as a JSON object, in the encoding
//! PostgreSQL's `row_to_json` gives (UUIDs as text, bytes as `\x` and hex, booleans as JSON
//! booleans, timestamps as text, lists and documents as JSON), so a dump of either database
//! loads into the other (`portcullis export` / `portcullis import`).

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::StoreError;

use crate::error::query_error;
use crate::pool::SqliteStore;

/// How a column is stored here, for its JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A 16-byte BLOB; text in JSON.
    Uuid,
    /// A BLOB; `\x` and lower-case hex in JSON.
    Bytes,
    /// TEXT as diesel writes a timestamp; PostgreSQL's JSON has a `T` between date and time.
    Time,
    /// INTEGER 0/1; a JSON boolean.
    Bool,
    /// TEXT holding JSON (a list or a document).
    Json,
    /// TEXT or INTEGER, as is.
    Plain,
}

use Kind::{Bool, Bytes, Json, Plain, Time, Uuid};

/// Every table's columns, in the order of `migrations/sqlite` (and of PostgreSQL's tables).
const COLUMNS: &[(&str, &[(&str, Kind)])] = &[
    (
        "tenants",
        &[
            ("id", Uuid),
            ("slug", Plain),
            ("name", Plain),
            ("created_at", Time),
            ("settings", Json),
        ],
    ),
    (
        "server_secrets",
        &[("name", Plain), ("secret", Bytes), ("created_at", Time)],
    ),
    (
        "accounts",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("email", Plain),
            ("email_normalized", Plain),
            ("email_verified", Bool),
            ("username", Plain),
            ("username_normalized", Plain),
            ("password_hash", Plain),
            ("created_at", Time),
            ("updated_at", Time),
            ("mfa_enabled", Bool),
            ("password_nfkc", Bool),
            ("disabled_at", Time),
            ("disabled_reason", Plain),
            ("avatar_version", Plain),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("amr", Json),
            ("ip", Plain),
            ("user_agent", Plain),
            ("created_at", Time),
            ("last_used_at", Time),
            ("expires_at", Time),
            ("revoked_at", Time),
            ("revoked_reason", Plain),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("token_hash", Bytes),
            ("session_id", Uuid),
            ("generation", Plain),
            ("created_at", Time),
            ("superseded_at", Time),
        ],
    ),
    (
        "mail_outbox",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("recipient", Plain),
            ("kind", Plain),
            ("subject", Plain),
            ("body_text", Plain),
            ("body_html", Plain),
            ("status", Plain),
            ("attempts", Plain),
            ("next_attempt_at", Time),
            ("leased_until", Time),
            ("last_error", Plain),
            ("created_at", Time),
            ("sent_at", Time),
            ("failed_at", Time),
            ("sender", Plain),
        ],
    ),
    (
        "one_time_secrets",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("purpose", Plain),
            ("scope", Plain),
            ("token_hash", Bytes),
            ("code_hash", Bytes),
            ("token_expires_at", Time),
            ("code_expires_at", Time),
            ("failed_code_attempts", Plain),
            ("new_email", Plain),
            ("new_email_normalized", Plain),
            ("created_at", Time),
        ],
    ),
    (
        "mail_requests",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("purpose", Plain),
            ("email", Plain),
            ("email_normalized", Plain),
            ("requested_at", Time),
            ("network", Plain),
        ],
    ),
    (
        "mfa_totp",
        &[
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("secret_encrypted", Bytes),
            ("enabled_at", Time),
            ("last_step", Plain),
            ("failed_attempts", Plain),
            ("locked_until", Time),
            ("created_at", Time),
            ("locks_in_a_row", Plain),
            ("lock_notified", Bool),
        ],
    ),
    (
        "mfa_recovery_codes",
        &[
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("code_hash", Bytes),
            ("created_at", Time),
        ],
    ),
    (
        "known_networks",
        &[
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("network", Plain),
            ("first_seen", Time),
            ("last_seen", Time),
        ],
    ),
    (
        "registrations",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("password_hash", Plain),
            ("username", Plain),
            ("username_normalized", Plain),
            ("network", Plain),
            ("created_at", Time),
        ],
    ),
    (
        "registration_requests",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("email", Plain),
            ("email_normalized", Plain),
            ("password_hash", Plain),
            ("username", Plain),
            ("network", Plain),
            ("mail_allowed", Bool),
            ("requested_at", Time),
        ],
    ),
    (
        "code_attempts",
        &[
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("purpose", Plain),
            ("failures", Plain),
            ("last_failure_at", Time),
        ],
    ),
    (
        "plans",
        &[
            ("tenant_id", Uuid),
            ("name", Plain),
            ("description", Plain),
            ("price", Plain),
            ("features", Json),
            ("active", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    ),
    (
        "nodes",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("name", Plain),
            ("domain", Plain),
            ("capacity", Plain),
            ("enabled", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    ),
    (
        "customers",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("user_id", Uuid),
            ("node_id", Uuid),
            ("company_name", Plain),
            ("plan", Plain),
            ("site_url", Plain),
            ("created_at", Time),
            ("held_until", Time),
            ("verified_at", Time),
        ],
    ),
    (
        "admin_keys",
        &[
            ("id", Uuid),
            ("name", Plain),
            ("key_hash", Bytes),
            ("tenant_id", Uuid),
            ("introspect_only", Bool),
            ("created_at", Time),
            ("revoked_at", Time),
        ],
    ),
    (
        "audit_events",
        &[
            ("id", Uuid),
            ("tenant_id", Uuid),
            ("event_type", Plain),
            ("user_id", Uuid),
            ("session_id", Uuid),
            ("ip", Plain),
            ("user_agent", Plain),
            ("request_id", Plain),
            ("at", Time),
            ("details", Json),
        ],
    ),
    (
        "blobs",
        &[
            ("key", Plain),
            ("content_type", Plain),
            ("bytes", Bytes),
            ("updated_at", Time),
        ],
    ),
];

fn columns(table: &str) -> Result<&'static [(&'static str, Kind)], StoreError> {
    COLUMNS
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, c)| *c)
        .ok_or_else(|| StoreError::Internal(format!("no table {table:?} to move")))
}

/// The SQL that gives `column` in its JSON form.
fn exported(column: &str, kind: Kind) -> String {
    match kind {
        Uuid => format!(
            "CASE WHEN {column} IS NULL THEN NULL ELSE lower(substr(hex({column}), 1, 8) || '-' || \
             substr(hex({column}), 9, 4) || '-' || substr(hex({column}), 13, 4) || '-' || \
             substr(hex({column}), 17, 4) || '-' || substr(hex({column}), 21)) END"
        ),
        Bytes => format!("CASE WHEN {column} IS NULL THEN NULL ELSE '\\x' || lower(hex({column})) END"),
        Bool => format!("CASE WHEN {column} IS NULL THEN NULL WHEN {column} THEN json('true') ELSE json('false') END"),
        Json => format!("json({column})"),
        Time | Plain => column.to_owned(),
    }
}

/// The SQL that gives `column`'s stored form from a row of `json_each` (`value`).
fn imported(column: &str, kind: Kind) -> String {
    match kind {
        Uuid => format!("unhex(replace(value ->> '{column}', '-', ''))"),
        Bytes => format!("unhex(substr(value ->> '{column}', 3))"),
        Time => format!("replace(value ->> '{column}', 'T', ' ')"),
        Json => format!("value -> '{column}'"),
        Bool | Plain => format!("value ->> '{column}'"),
    }
}

#[derive(diesel::QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    row: String,
}

impl SqliteStore {
    /// Every row of every table, each a JSON object, all read in one transaction (one
    /// snapshot).
    pub async fn export_rows(&self) -> Result<Vec<(&'static str, Vec<String>)>, StoreError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let mut tables = Vec::with_capacity(COLUMNS.len());
            for (table, cols) in COLUMNS {
                let pairs: Vec<String> = cols
                    .iter()
                    .map(|(c, k)| format!("'{c}', {}", exported(c, *k)))
                    .collect();
                let sql = format!(
                    "SELECT json_object({}) AS row FROM {table} ORDER BY rowid",
                    pairs.join(", ")
                );
                let rows = diesel::sql_query(sql).load::<JsonRow>(conn).await?;
                tables.push((*table, rows.into_iter().map(|r| r.row).collect()));
            }
            Ok(tables)
        })
        .await
        .map_err(query_error)
    }

    /// Loads `tables` (each a table of the schema and its rows as a JSON array) in one
    /// transaction, refusing a database that has accounts already. The built-in tenant and
    /// the server secrets (keys) are taken as the dump has them.
    pub async fn import_rows(&self, tables: &[(String, String)]) -> Result<u64, StoreError> {
        let mut statements = Vec::with_capacity(tables.len());
        let mut checks = Vec::new();
        for (table, _) in tables {
            let cols = columns(table)?;
            // Times are compared as text here: only UTC ones compare right.
            let times: Vec<String> = cols
                .iter()
                .filter(|(_, k)| *k == Time)
                .map(|(c, _)| format!("(value ->> '{c}' IS NOT NULL AND value ->> '{c}' NOT LIKE '%+00:00')"))
                .collect();
            checks.push(
                (!times.is_empty())
                    .then(|| format!("SELECT count(*) AS n FROM json_each(?1) WHERE {}", times.join(" OR "))),
            );
            let names: Vec<&str> = cols.iter().map(|(c, _)| *c).collect();
            let values: Vec<String> = cols.iter().map(|(c, k)| imported(c, *k)).collect();
            let upsert = if table == "tenants" {
                " ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name = excluded.name, \
                 created_at = excluded.created_at, settings = excluded.settings"
            } else if table == "server_secrets" {
                " ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at"
            } else {
                ""
            };
            statements.push(format!(
                "INSERT INTO {table} ({}) SELECT {} FROM json_each(?1) WHERE true{upsert}",
                names.join(", "),
                values.join(", ")
            ));
        }
        let mut conn = self.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let existing = diesel::sql_query("SELECT count(*) AS n FROM accounts")
                .get_result::<Count>(conn)
                .await?
                .n;
            if existing > 0 {
                return Err(diesel::result::Error::QueryBuilderError(
                    format!("the database has {existing} accounts already; import into a new one").into(),
                ));
            }
            for (check, (table, rows)) in checks.iter().zip(tables) {
                let Some(check) = check else { continue };
                let off = diesel::sql_query(check.as_str())
                    .bind::<Text, _>(rows)
                    .get_result::<Count>(conn)
                    .await?
                    .n;
                if off > 0 {
                    return Err(diesel::result::Error::QueryBuilderError(
                        format!("{off} rows of {table} have times not in UTC (+00:00); export them again").into(),
                    ));
                }
            }
            let mut loaded = 0;
            for (statement, (_, rows)) in statements.iter().zip(tables) {
                loaded += diesel::sql_query(statement.as_str())
                    .bind::<Text, _>(rows)
                    .execute(conn)
                    .await?;
            }
            Ok(u64::try_from(loaded).unwrap_or(u64::MAX))
        })
        .await
        .map_err(|e| match e {
            diesel::result::Error::QueryBuilderError(why) => StoreError::Internal(why.to_string()),
            other => query_error(other),
        })
    }
}
