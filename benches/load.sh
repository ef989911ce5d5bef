#!/bin/sh
# CAPF load benchmark: builds the release `capf` binary, then runs
# benches/benches/capf_load.rs against it. Arguments go to the benchmark:
#   benches/load.sh --devices 20000 --concurrency 64 --seconds 10
# (or CAPF_LOAD_DEVICES / CAPF_LOAD_CONCURRENCY / CAPF_LOAD_SECONDS).
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p capf-cli
CAPF_BIN="${CAPF_BIN:-$PWD/target/release/capf}" \
    exec cargo bench -p capf-benches --bench capf_load -- "$@"
