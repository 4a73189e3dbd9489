#!/usr/bin/env bash
# Runs an operator command (`tenant`, `plan`, `node`, `migrate`, …) against the database
# scripts/run.sh uses, e.g. `scripts/admin.sh tenant create --slug acme --name "Acme"`.
# Uses DATABASE_URL when set; otherwise the private cluster under .data/postgres: the running
# one, untouched, while scripts/run.sh serves; else it starts it for the command and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

if [ -z "${DATABASE_URL:-}" ]; then
  PG_OWNER=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then PG_OWNER=postgres; else PG_OWNER=nobody; fi
  fi
  if ! pg_attach_private_cluster .data/postgres; then
    trap pg_stop_private_cluster EXIT
    pg_private_cluster .data/postgres
  fi
  if ! "$PG_BIN/psql" "$DATABASE_URL" -Atqc "SELECT 1 FROM pg_database WHERE datname = 'portcullis'" | grep -q 1; then
    "$PG_BIN/psql" "$DATABASE_URL" -qc "CREATE DATABASE portcullis"
  fi
  export DATABASE_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/portcullis"
fi
cargo build -q -p portcullis-server --bin portcullis
./target/debug/portcullis "$@"
