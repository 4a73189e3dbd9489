//! Throwaway databases for tests and harnesses: one fresh, migrated database per test, dropped
//! when the handle is dropped.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::migrate::{MigrateError, run_migrations};

/// A freshly created and migrated database on the server of an admin URL.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `portcullis_test_<uuid>` on the server `admin_url` points at (any database the
    /// role may connect to, with `CREATEDB`), and migrates it.
    pub async fn create(admin_url: &str) -> Result<Self, MigrateError> {
        let db = Self::create_empty(admin_url).await?;
        run_migrations(&db.url).await?;
        Ok(db)
    }

    /// Creates the database without migrating it.
    pub async fn create_empty(admin_url: &str) -> Result<Self, MigrateError> {
        let name = format!("portcullis_test_{}", Uuid::now_v7().simple());
        let mut admin = crate::migrate::connect(admin_url).await?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await?;
        let url = with_database(admin_url, &name);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// Drops the database now, terminating every connection to it: an outage, for fault tests.
    pub async fn drop_now(&self) -> Result<(), MigrateError> {
        let mut admin = crate::migrate::connect(&self.admin_url).await?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await?;
        Ok(())
    }

    /// URL of the scratch database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A store on a fresh scratch database of the server `DATABASE_URL` names, for tests; panics
/// when there is none (`scripts/test.sh` sets it).
pub async fn store_from_env() -> (ScratchDatabase, crate::PgStore) {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point at a PostgreSQL server (scripts/test.sh sets it)");
    let db = ScratchDatabase::create(&url).await.expect("scratch database");
    let store = crate::PgStore::connect(&crate::PgSettings::new(db.url())).expect("pool");
    (db, store)
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Best effort, off any runtime the caller may be inside of.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut admin) = AsyncPgConnection::establish(&admin_url).await {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Replaces the database name in a `postgres://…/name?params` URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5/db", "x"), "postgres://u@h:5/x");
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
