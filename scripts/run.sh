#!/usr/bin/env bash
# Starts Portcullis on its embedded defaults: with no DATABASE_URL, on the SQLite file
# .data/portcullis.db (no database server, nothing to install). Uses DATABASE_URL when set
# (postgres://… or sqlite://…). A private PostgreSQL cluster an earlier version made under
# .data/postgres keeps being used, so nobody loses their accounts on upgrade.
# Extra arguments go to the server, e.g. `scripts/run.sh migrate`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

if [ -z "${DATABASE_URL:-}" ] && [ -d .data/postgres ]; then
  trap pg_stop_private_cluster EXIT
  pg_private_cluster .data/postgres
  # The server's own database, created on first start.
  if ! "$PG_BIN/psql" "$DATABASE_URL" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'portcullis'" | grep -q 1; then
    "$PG_BIN/psql" "$DATABASE_URL" -qc "CREATE DATABASE portcullis"
  fi
  export DATABASE_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/portcullis"
fi
# A laptop, not a deployment: keys are generated on first start and kept in the database
# (a deployment configures them; see docs/OPERATIONS.md, "Keys").
export PORTCULLIS_SERVER__PROFILE="${PORTCULLIS_SERVER__PROFILE:-development}"
# The release build: the binary people deploy, with its speed (a debug build hashes passwords
# and serves requests many times slower).
cargo build --release -p portcullis-server --bin portcullis
./target/release/portcullis "$@"
