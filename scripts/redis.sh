# shellcheck shell=bash
# Sourced by scripts/test.sh: starts a private, throwaway Redis when no REDIS_URL is given and
# exports REDIS_URL pointing at it. Never touches a system Redis.
#
#   redis_private_server DIR     # start redis-server on a free loopback port, files in DIR
#   redis_stop_private_server    # stop it

redis_ensure_binary() {
  if command -v redis-server >/dev/null 2>&1; then return 0; fi
  # A fresh Debian/Ubuntu machine: install the server if we are allowed to.
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "redis-server not found; installing Debian's redis-server package..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
  fi
  command -v redis-server >/dev/null 2>&1 || {
    echo "error: redis-server not found. Install Redis (Debian: apt-get install redis-server) or set REDIS_URL." >&2
    return 1
  }
}

redis_private_server() {
  local dir=$1 port tries
  redis_ensure_binary || return 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  for tries in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 40000 ))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    # Loopback only, a generated password, nothing written to disk.
    REDIS_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    printf 'port %s\nbind 127.0.0.1\nrequirepass %s\nsave ""\nappendonly no\ndir %s\npidfile %s/redis.pid\nlogfile %s/redis.log\ndaemonize yes\n' \
      "$port" "$REDIS_PASSWORD" "$dir" "$dir" "$dir" >"$dir/redis.conf"
    chmod 600 "$dir/redis.conf"
    if redis-server "$dir/redis.conf" >/dev/null 2>&1; then
      for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
          REDIS_DIR=$dir
          export REDIS_URL="redis://default:$REDIS_PASSWORD@127.0.0.1:$port/0"
          return 0
        fi
        sleep 0.05
      done
    fi
  done
  echo "error: could not start a private redis-server (see $dir/redis.log)" >&2
  return 1
}

redis_stop_private_server() {
  if [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/redis.pid" ]; then
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
  fi
}
