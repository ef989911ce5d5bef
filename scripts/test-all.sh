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

echo "== Rust tests (unit, integration, doc)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --all-features --quiet 2>&1 | tee "$log"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
