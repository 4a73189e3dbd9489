#!/usr/bin/env bash
# Runs the whole test suite: unit, property, storage, black-box HTTP and doc tests, and each
# benchmark once in test mode. Uses DATABASE_URL when set; otherwise starts a throwaway
# PostgreSQL cluster on a free port and deletes it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh

if [ -z "${DATABASE_URL:-}" ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-test-pg.XXXXXX")
  # The cluster's owner (an unprivileged account when we are root) must reach its directory.
  chmod 711 "$tmp"
  cleanup() { pg_stop_private_cluster; rm -rf "$tmp"; }
  trap cleanup EXIT
  pg_private_cluster "$tmp/data"
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
