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
#                                   `capf device import` (production PBKDF2)
#                                   [CAPF_LOAD_AUTH], default null
#   --devices N (or --phones N)     phones registered per null-string
#                                   configuration [CAPF_LOAD_DEVICES], 20000
#   --auth-string-devices N         phones registered per auth-string
#                                   configuration (each costs one PBKDF2 at
#                                   import) [CAPF_LOAD_AUTH_STRING_DEVICES],
#                                   default 30 x seconds + concurrency
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
#   --openssl PATH                  [OPENSSL_BIN], default openssl
#
# Printed per configuration: enrollments/s, p50/p90/p99 latency, errors,
# server RSS, the negotiated TLS version/suite/key exchange, CPU over the
# window (server from /proc/PID/stat utime+stime, load generator, other
# processes), server CPU ms per enrollment, the floor (2 signatures of the
# CAPF key + ECDHE, + PBKDF2 with auth strings, timed by `openssl speed` in
# the same run), their ratio and the non-signature work in RSA-2048
# signatures, and "LOAD GENERATOR IS THE BOTTLENECK" when the generator used
# more than 70% of one core, or the server was idle (no thread running or
# waiting for a core, from /proc/PID/task/*/schedstat) more than 30% of the
# cores' time. /proc/loadavg is printed at start and end: the load
# generator, the server and anything else on the machine share its cores.
# This is a benchmark, never a test: nothing here asserts a speed.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p capf-cli
CAPF_BIN="${CAPF_BIN:-$PWD/target/release/capf}" \
    exec cargo bench -p capf-benches --bench capf_load -- "$@"
