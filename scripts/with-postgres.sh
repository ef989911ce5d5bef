#!/usr/bin/env bash
# scripts/with-postgres.sh CMD [ARG...]
#
# Runs CMD with CAPF_TEST_POSTGRES_URL set to a throw-away PostgreSQL
# cluster: installs the distribution's postgresql package only when no
# initdb is found, creates a cluster in a temporary folder, starts it on a
# free loopback port as the unprivileged `postgres` user (when run as root)
# or as the calling user, runs CMD, and stops and deletes the cluster on
# exit, whether CMD passed or failed. Idempotent: every run makes its own
# cluster. Exits with CMD's status. The cluster runs with fsync=off (tests
# need no durability across power loss); CAPF_PG_FSYNC=on for benchmarks.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
fi

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

bin=$(pg_bin)
if [ -z "$bin" ]; then
  echo "== installing postgresql (initdb not found)" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "with-postgres.sh: initdb is missing and installing it needs root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  bin=$(pg_bin)
  if [ -z "$bin" ]; then
    echo "with-postgres.sh: no initdb after installing postgresql" >&2
    exit 1
  fi
fi

# initdb and pg_ctl refuse to run as root: the cluster belongs to postgres.
if [ "$(id -u)" -eq 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/capf-pg.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
started=""
cleanup() {
  if [ -n "$started" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_owner "$bin/initdb" -D "$dir/data" -A trust -U capf --no-sync >/dev/null

# TLS: a throw-away CA and a server certificate for 127.0.0.1, when
# openssl is there (the TLS test says SKIPPED otherwise).
tls_options=""
if command -v openssl >/dev/null 2>&1; then
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=capf test database CA" -keyout ca.key -out ca.crt >/dev/null 2>&1
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=127.0.0.1" -keyout server.key -out server.csr >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.crt >/dev/null 2>&1
    chmod 600 server.key
  ) && {
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/server.key" "$dir/server.crt"; fi
    tls_options="-c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
    export CAPF_TEST_POSTGRES_CA="$dir/ca.crt"
  }
fi

# A free loopback port: ask the kernel, then let the server confirm it.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}
for _attempt in 1 2 3 4 5; do
  port=$(free_port)
  if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${CAPF_PG_FSYNC:-off} -c max_connections=200 $tls_options" \
      >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "with-postgres.sh: the cluster did not start; its log:" >&2
  cat "$dir/log" >&2 || true
  exit 1
fi

export CAPF_TEST_POSTGRES_URL="postgres://capf@127.0.0.1:$port/postgres"
echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (throw-away)" >&2
status=0
"$@" || status=$?
exit "$status"
