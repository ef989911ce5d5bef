#!/usr/bin/env bash
# The README's second command: set up and run every test.
# .ci/run runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

echo "== fuzz targets compile (their own workspace, sharing this target folder)"
cargo check --manifest-path fuzz/Cargo.toml --bins --target-dir target --quiet

echo "== Rust tests (unit, integration, doc), PostgreSQL tests on a throw-away cluster"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# with-postgres.sh installs PostgreSQL when missing, starts a cluster on a
# free loopback port, sets CAPF_TEST_POSTGRES_URL and stops it afterwards.
bash scripts/with-postgres.sh cargo test --workspace --all-features --quiet 2>&1 | tee "$log"
# With both provider features on, aws-lc-rs is used. Test again with ring
# alone what the provider changes: LSC signing (issuance, server sessions),
# TLS, and chain signatures (trust, certificate checks, TVS). The phone, wire,
# proof and rollover tests never reach the provider and are not run twice.
# A new capf-core test file that issues, evaluates trust or speaks TLS
# belongs in this list.
echo "== capf-core with the ring crypto provider"
cargo test -p capf-core --no-default-features --features ring,tls --quiet --lib \
  --test issuance --test issuance_matrix --test certificate_check \
  --test server_state_table --test server_vectors --test tls_loopback --test tls_connection \
  --test trust_evaluate --test trust_properties --test trust_tls \
  --test tvs_sessions --test tvs_vectors 2>&1 | tee -a "$log"
echo "== Python package (wheel in a fresh virtual environment, pytest, stubtest, mypy --strict)"
bash scripts/test-python.sh 2>&1 | tee -a "$log"
# The uniffi bindings on the JVM (installs kotlinc and JNA when missing;
# generates Kotlin and Swift bindings; a failing Kotlin test fails the run).
echo "== Kotlin bindings (capf-ffi) on the JVM"
bash scripts/test-kotlin.sh 2>&1 | tee -a "$log"
# One closing line for the whole run (cargo prints one per test binary).
# pytest's summary ("1 failed, 17 passed in 0.3s") counts too.
awk '/^test result:/ || /^(=+ )?[0-9]+ (passed|failed)/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed[;,]?$/) p += $(i-1); if ($(i) ~ /^failed[;,]?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
