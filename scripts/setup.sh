#!/usr/bin/env bash
# Idempotent set-up shared by the README's two commands. Sourced, not run.
# Installs only what is missing; safe to run any number of times.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "capf: cargo (Rust 1.88 or later) is required: https://rustup.rs" >&2
  exit 2
fi
