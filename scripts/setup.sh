#!/usr/bin/env bash
# Idempotent set-up shared by the README's two commands. Sourced, not run.
# Installs only what is missing; safe to run any number of times.
set -euo pipefail
if ! command -v cargo >/dev/null 2>&1; then
  echo "capf: cargo (Rust 1.88 or later) is required: https://rustup.rs" >&2
  exit 2
fi
# The OpenSSL engine for legacy phones (crate capf-legacy-tls, `capf serve
# --legacy-tls`) links the distribution's libssl through pkg-config; a C
# build of OpenSSL (the openssl crate's `vendored` feature) would cost
# minutes on a 2-core CI. Installed only when missing.
if ! pkg-config --exists openssl 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "capf: installing libssl-dev and pkg-config (apt-get)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config >/dev/null
  else
    echo "capf: the legacy TLS engine needs OpenSSL's headers and pkg-config: install libssl-dev and pkg-config (Debian/Ubuntu) or openssl-devel and pkgconf (Fedora)" >&2
    exit 2
  fi
fi
