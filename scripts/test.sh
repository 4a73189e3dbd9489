#!/usr/bin/env bash
# Runs the whole test suite: unit, property, storage, black-box HTTP and doc tests, and each
# benchmark once in test mode. Uses DATABASE_URL and REDIS_URL when set; otherwise starts a
# throwaway PostgreSQL cluster and a throwaway Redis on free ports and deletes them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
# shellcheck source=scripts/redis.sh
source scripts/redis.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-test.XXXXXX")
# The cluster's owner (an unprivileged account when we are root) must reach its directory.
chmod 711 "$tmp"
cleanup() {
  [ -z "${PG_DATA_DIR:-}" ] || pg_stop_private_cluster
  redis_stop_private_server
  rm -rf "$tmp"
}
trap cleanup EXIT
if [ -z "${DATABASE_URL:-}" ]; then
  pg_private_cluster "$tmp/data"
fi
if [ -z "${REDIS_URL:-}" ]; then
  redis_private_server "$tmp/redis"
fi
# The OpenAPI fuzz test installs its fuzzer (schemathesis, from PyPI) into a virtualenv under
# target/: it needs Python 3 with venv and pip.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "Python's venv not found; installing Debian's python3-venv package..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
  else
    echo "error: the tests need Python 3 with venv (Debian: apt-get install python3-venv)." >&2
    exit 1
  fi
fi

cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"

# The black-box HTTP suite (tests/*.rs) once more, on SQLite in memory, less the tests listed in
# tests/postgres-only.txt: they read PostgreSQL's tables directly, drop its database, or check
# its pool's metrics.
e2e=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  case "$name" in structure | openapi) ;; *) e2e+=(--test "$name") ;; esac
done
skips=()
while read -r name; do [ -n "$name" ] && skips+=(--skip "$name"); done < tests/postgres-only.txt
# Arguments after a `--` of our own go to the test binaries, beside the skips.
cargo_args=()
test_args=()
for arg in "$@"; do
  if [ ${#test_args[@]} -gt 0 ] || [ "$arg" = "--" ]; then test_args+=("$arg"); else cargo_args+=("$arg"); fi
done
[ ${#test_args[@]} -gt 0 ] && test_args=("${test_args[@]:1}")
PORTCULLIS_TEST_DATABASE=sqlite cargo test --workspace "${e2e[@]}" "${cargo_args[@]}" -- "${test_args[@]}" "${skips[@]}"
