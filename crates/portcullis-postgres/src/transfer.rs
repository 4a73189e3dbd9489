//! Moving the data in and out: every row of a table as a JSON object (`row_to_json`), and
//! back (`json_populate_recordset`), so a dump of either database loads into the other
//! (`portcullis export` / `portcullis import`; SQLite's adapter writes the same encoding).

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use portcullis_domain::StoreError;

use crate::error::query_error;
use crate::pool::PgStore;

/// The tables a dump holds, parents before children (foreign keys hold at every step).
pub const TABLES: &[&str] = &[
    "tenants",
    "server_secrets",
    "accounts",
    "sessions",
    "refresh_tokens",
    "mail_outbox",
    "one_time_secrets",
    "mail_requests",
    "mfa_totp",
    "mfa_recovery_codes",
    "known_networks",
    "registrations",
    "registration_requests",
    "code_attempts",
    "plans",
    "nodes",
    "customers",
    "admin_keys",
    "audit_events",
    "blobs",
];

fn checked(table: &str) -> Result<&'static str, StoreError> {
    TABLES
        .iter()
        .find(|t| **t == table)
        .copied()
        .ok_or_else(|| StoreError::Internal(format!("no table {table:?} to move")))
}

#[derive(diesel::QueryableByName)]
struct JsonRow {
    #[diesel(sql_type = Text)]
    row: String,
}

impl PgStore {
    /// Every row of every table of [`TABLES`], each a JSON object, all read in one snapshot,
    /// with times in UTC and bytes in hex whatever the database's settings.
    pub async fn export_rows(&self) -> Result<Vec<(&'static str, Vec<String>)>, StoreError> {
        let mut conn = self.conn().await?;
        conn.build_transaction()
            .repeatable_read()
            .read_only()
            .run::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query("SET LOCAL TimeZone = 'UTC'").execute(conn).await?;
                diesel::sql_query("SET LOCAL bytea_output = 'hex'")
                    .execute(conn)
                    .await?;
                let mut tables = Vec::with_capacity(TABLES.len());
                for table in TABLES {
                    let rows = diesel::sql_query(format!(
                        "SELECT row_to_json(t)::text AS row FROM {table} t ORDER BY ctid"
                    ))
                    .load::<JsonRow>(conn)
                    .await?;
                    tables.push((*table, rows.into_iter().map(|r| r.row).collect()));
                }
                Ok(tables)
            })
            .await
            .map_err(query_error)
    }

    /// Loads `tables` (each one of [`TABLES`] and its rows as a JSON array) in one transaction,
    /// refusing a database that has accounts already. The built-in tenant and the server secrets
    /// (keys) are taken as the dump has them.
    pub async fn import_rows(&self, tables: &[(String, String)]) -> Result<u64, StoreError> {
        for (table, _) in tables {
            checked(table)?;
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
            let mut loaded = 0;
            for (table, rows) in tables {
                let upsert = if table == "tenants" {
                    " ON CONFLICT (id) DO UPDATE SET slug = excluded.slug, name = excluded.name, \
                     created_at = excluded.created_at, settings = excluded.settings"
                } else if table == "server_secrets" {
                    " ON CONFLICT (name) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at"
                } else {
                    ""
                };
                loaded += diesel::sql_query(format!(
                    "INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, $1::json){upsert}"
                ))
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
