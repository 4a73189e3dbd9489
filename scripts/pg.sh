# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/run.sh: starts a private PostgreSQL cluster when no
# DATABASE_URL is given, and exports DATABASE_URL pointing at it. Never touches a system cluster.
#
#   pg_private_cluster DATA_DIR    # start (initdb on first use) a cluster in DATA_DIR on a free port
#   pg_stop_private_cluster        # stop it (also registered as an EXIT trap by the callers)

pg_bin_dir() {
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  # Debian installs the server binaries off PATH; take the newest version present.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

pg_ensure_binaries() {
  if pg_bin_dir >/dev/null; then return 0; fi
  # A fresh Debian/Ubuntu machine: install the server if we are allowed to.
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "PostgreSQL server binaries not found; installing Debian's postgresql package..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  fi
  pg_bin_dir >/dev/null || {
    echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found. Install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL." >&2
    return 1
  }
}

# PostgreSQL refuses to run as root: run its commands as an unprivileged account then.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_OWNER" -- "$@"
  else
    "$@"
  fi
}

pg_free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

pg_private_cluster() {
  local data_dir=$1 bin port tries
  pg_ensure_binaries || return 1
  bin=$(pg_bin_dir)
  PG_OWNER=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then PG_OWNER=postgres; else PG_OWNER=nobody; fi
  fi
  mkdir -p "$data_dir"
  data_dir=$(cd "$data_dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown "$PG_OWNER" "$data_dir" && chmod 700 "$data_dir"
  # A generated password (scram), never trust: other local users can reach 127.0.0.1 too.
  local password_file="$data_dir.password" pwfile
  if [ ! -f "$data_dir/PG_VERSION" ]; then
    (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$password_file")
    pwfile=$(mktemp "${TMPDIR:-/tmp}/portcullis-pw.XXXXXX")
    cat "$password_file" >"$pwfile"
    [ "$(id -u)" -eq 0 ] && chown "$PG_OWNER" "$pwfile"
    if ! pg_as_owner "$bin/initdb" -D "$data_dir" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
        -E UTF8 --no-locale >"$data_dir.initdb.log" 2>&1; then
      rm -f "$pwfile"; cat "$data_dir.initdb.log" >&2; return 1
    fi
    rm -f "$pwfile"
  fi
  PG_PASSWORD=$(cat "$password_file")
  PG_DATA_DIR=$data_dir
  PG_BIN=$bin
  # A cluster left running by an earlier run that was killed: stop it, then start afresh.
  if pg_as_owner "$bin/pg_ctl" -D "$data_dir" status >/dev/null 2>&1; then
    pg_as_owner "$bin/pg_ctl" -D "$data_dir" -m fast -w stop >/dev/null 2>&1 || true
  fi
  for tries in 1 2 3 4 5; do
    port=$(pg_free_port) || return 1
    # fsync off: this cluster is for tests and local trials, and is thrown away or rebuildable.
    if pg_as_owner "$bin/pg_ctl" -D "$data_dir" -w -t 60 -l "$data_dir/server.log" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k '$data_dir' -c fsync=off -c max_connections=200" start >/dev/null; then
      PG_PORT=$port
      export DATABASE_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$port/postgres"
      echo "private PostgreSQL cluster in $data_dir on 127.0.0.1:$port" >&2
      return 0
    fi
    echo "port $port failed (attempt $tries); retrying" >&2
  done
  cat "$data_dir/server.log" >&2
  return 1
}

# Uses the cluster under $1 if a server (scripts/run.sh) is running it, without restarting it;
# returns 1 when none is running. Sets what pg_private_cluster sets, except PG_DATA_DIR, so
# pg_stop_private_cluster leaves that server alone.
pg_attach_private_cluster() {
  local data_dir=$1 port
  [ -f "$data_dir/postmaster.pid" ] && [ -f "$data_dir.password" ] || return 1
  PG_BIN=$(pg_bin_dir) || return 1
  pg_as_owner "$PG_BIN/pg_ctl" -D "$data_dir" status >/dev/null 2>&1 || return 1
  # The fourth line of postmaster.pid is the port the running server listens on.
  port=$(sed -n 4p "$data_dir/postmaster.pid")
  PG_PASSWORD=$(cat "$data_dir.password")
  PG_PORT=$port
  export DATABASE_URL="postgres://postgres:$PG_PASSWORD@127.0.0.1:$port/postgres"
  echo "using the running PostgreSQL cluster in $data_dir on 127.0.0.1:$port" >&2
}

pg_stop_private_cluster() {
  if [ -n "${PG_DATA_DIR:-}" ] && [ -f "$PG_DATA_DIR/postmaster.pid" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
