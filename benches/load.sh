#!/bin/sh
# CAPF load benchmark: builds the release `capf` binary (a no-op when it is
# up to date), then runs benches/benches/capf_load.rs against it: phones
# enrolling over TLS against `capf serve` on 127.0.0.1, one configuration
# after another, then one summary table.
#
#   bash benches/load.sh          # default: 10 s each of rsa2048 and p256
#                                 # CAPF certificates, null-string phones
#   bash benches/load.sh --cert-kind rsa2048 --auth both --seconds 20
#
# Options (environment variable in brackets):
#   --cert-kind rsa2048|p256|both   CAPF certificate (self-signed, also the
#                                   LSC issuer); a comma list runs each
#                                   [CAPF_LOAD_CERT_KIND], default both
#   --auth null|auth-string|both    phone authentication; auth-string
#                                   devices get generated strings through
#                                   `capf device import` (production keyed
#                                   hash: HMAC under <db>.auth-key)
#                                   [CAPF_LOAD_AUTH], default null
#   --devices N (or --phones N)     phones registered per null-string
#                                   configuration [CAPF_LOAD_DEVICES], 20000
#   --auth-string-devices N         phones registered per auth-string
#                                   configuration
#                                   [CAPF_LOAD_AUTH_STRING_DEVICES],
#                                   default: --devices
#   --concurrency N                 phones enrolling at once
#                                   [CAPF_LOAD_CONCURRENCY], default 16
#   --seconds N                     measured seconds per configuration
#                                   [CAPF_LOAD_SECONDS], default 10
#   --tls rustls|legacy|both        rustls: the default listener, TLS 1.3
#                                   phones; legacy: `capf serve --legacy-tls`
#                                   (OpenSSL) with TLS 1.0 AES128-SHA phones
#                                   (RSA certificates only) [CAPF_LOAD_TLS],
#                                   default rustls
#   --capf PATH                     [CAPF_BIN], default target/release/capf
#   --server rust|python|both       the server loaded: `capf serve`, the
#                                   Python example server
#                                   (python/examples/capf_server.py, same
#                                   certificates and registry), or each in
#                                   turn with the Python/Rust ratios
#                                   [CAPF_LOAD_SERVER], default rust
#   --registry sqlite|postgres|postgres-2|all
#                                   the registry: an SQLite file, or one
#                                   PostgreSQL database served by one or by
#                                   two `capf serve` nodes (phones spread
#                                   over both); PostgreSQL is
#                                   CAPF_TEST_POSTGRES_URL, else a
#                                   throw-away cluster started by
#                                   scripts/with-postgres.sh with fsync on
#                                   [CAPF_LOAD_REGISTRY], default sqlite
#   --python PATH                   the Python that runs it
#                                   [CAPF_LOAD_PYTHON], default
#                                   target/python-venv/bin/python, into which
#                                   this script installs a release wheel
#                                   (scripts/test-python.sh puts its debug
#                                   wheel back)
#   --openssl PATH                  [OPENSSL_BIN], default openssl
#
# Printed per configuration: enrollments/s, p50/p90/p99 latency, errors,
# server RSS (at the end also split: anonymous, file-backed), the
# negotiated TLS version/suite/key exchange, CPU over the window (server
# from /proc/PID/stat utime+stime, load generator, other processes),
# server CPU ms per enrollment (and its kernel part, stime), the floor (2 signatures of the CAPF key +
# ECDHE, + one HMAC with auth strings, timed by `openssl speed` right
# before and right after each configuration's window: their mean, and how
# far apart they are, "MACHINE SPEED CHANGED" above 10%), their ratio and
# the non-signature work in RSA-2048 signatures, and "LOAD GENERATOR IS THE BOTTLENECK" when the generator used
# more than 70% of one core, or the server was idle (no thread running or
# waiting for a core, from /proc/PID/task/*/schedstat) more than 30% of the
# cores' time. /proc/loadavg is printed at start and end: the load
# generator, the server and anything else on the machine share its cores.
# The phones' EC P-256 keys are made before each window, on every core (a
# phone makes its own key), so the window holds the phones' protocol and
# TLS only.
# This is a benchmark, never a test: nothing here asserts a speed.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p capf-cli
# The Python server needs the package, built with optimisations (a debug
# wheel would measure the debug build): a release wheel into the test venv.
server="${CAPF_LOAD_SERVER:-rust}"
python=""
previous=""
for arg in "$@"; do
    [ "$previous" = "--server" ] && server="$arg"
    [ "$previous" = "--python" ] && python="$arg"
    previous="$arg"
done
case "$server" in
*python* | both | all)
    if [ -z "$python" ] && [ -z "${CAPF_LOAD_PYTHON:-}" ]; then
        venv=target/python-venv
        [ -x "$venv/bin/python" ] || { "${PYTHON:-python3}" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet maturin==1.16.0; }
        [ -x "$venv/bin/maturin" ] || "$venv/bin/python" -m pip install --quiet maturin==1.16.0
        rm -rf target/python-wheels-release
        VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
            "$venv/bin/maturin" build --release --quiet -m python/Cargo.toml \
            --out target/python-wheels-release --interpreter "$venv/bin/python"
        "$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps \
            target/python-wheels-release/capf-*.whl
    fi
    ;;
esac
registry="${CAPF_LOAD_REGISTRY:-sqlite}"
previous=""
for arg in "$@"; do
    [ "$previous" = "--registry" ] && registry="$arg"
    previous="$arg"
done
wrap=""
case "$registry" in
*postgres* | all)
    # A durable throw-away cluster, as a production database would be.
    if [ -z "${CAPF_TEST_POSTGRES_URL:-}" ]; then
        wrap="scripts/with-postgres.sh"
        CAPF_PG_FSYNC="${CAPF_PG_FSYNC:-on}"
        export CAPF_PG_FSYNC
    fi
    ;;
esac
CAPF_BIN="${CAPF_BIN:-$PWD/target/release/capf}" \
    exec ${wrap:+bash "$wrap"} cargo bench -p capf-benches --bench capf_load -- "$@"
