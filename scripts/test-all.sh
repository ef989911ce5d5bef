#!/usr/bin/env bash
# The README's second command: set up and run every test.
# .ci/run runs exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

echo "== Rust tests (unit, integration, doc)"
cargo test --workspace --all-features --quiet
