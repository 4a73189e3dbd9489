//! `portcullis export` / `portcullis import`: the whole database as JSON Lines, to move from
//! SQLite to PostgreSQL (or back, or to a new host). The first line names the format; each
//! other line is `{"table": …, "row": {…}}`, tables parents first, rows in the encoding of
//! PostgreSQL's `row_to_json`, which both adapters read and write.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use serde_json::Value;

use crate::database::Database;

/// What the first line of a dump says.
const FORMAT: &str = "portcullis-dump";
/// The version of that format this build writes and reads.
const VERSION: u64 = 1;

/// Writes every table of `db` to `out`, as one snapshot; returns the rows written.
pub async fn export(db: &Database, out: &mut dyn Write) -> anyhow::Result<u64> {
    writeln!(out, "{}", serde_json::json!({ "format": FORMAT, "version": VERSION }))?;
    let mut written = 0;
    for (table, rows) in db.export_rows().await.context("reading the database")? {
        for row in rows {
            // Re-encoded, not pasted, so a line is one JSON value whatever the row holds.
            let row: Value = serde_json::from_str(&row).with_context(|| format!("a row of {table}"))?;
            writeln!(out, "{}", serde_json::json!({ "table": table, "row": row }))?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// Loads a dump from `input` into `db` (migrated, with no accounts yet) in one transaction;
/// returns the rows loaded. A dump of another format, an unknown table or a bad line loads
/// nothing.
pub async fn import(db: &Database, input: &mut dyn BufRead) -> anyhow::Result<u64> {
    let mut lines = input.lines();
    let header: Value = serde_json::from_str(&lines.next().context("the dump is empty")??)
        .context("the first line of the dump is not JSON")?;
    anyhow::ensure!(
        header["format"] == FORMAT && header["version"] == VERSION,
        "not a {FORMAT} version {VERSION} file (first line: {header})"
    );
    let mut tables: Vec<(String, Vec<Value>)> = portcullis_postgres::TABLES
        .iter()
        .map(|t| ((*t).to_owned(), Vec::new()))
        .collect();
    for (n, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut entry: Value = serde_json::from_str(&line).with_context(|| format!("line {} is not JSON", n + 2))?;
        let table = entry["table"].as_str().unwrap_or_default().to_owned();
        let rows = tables
            .iter_mut()
            .find(|(t, _)| *t == table)
            .map(|(_, rows)| rows)
            .with_context(|| format!("line {}: no table {table:?}", n + 2))?;
        anyhow::ensure!(entry["row"].is_object(), "line {}: no row object", n + 2);
        rows.push(entry["row"].take());
    }
    let batches: Vec<(String, String)> = tables
        .into_iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(t, rows)| Ok((t, serde_json::to_string(&rows)?)))
        .collect::<anyhow::Result<_>>()?;
    Ok(db.import_rows(&batches).await?)
}
