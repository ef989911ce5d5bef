#!/usr/bin/env bash
# The README's first command: set up what is needed and run the main job.
# Today the main job inspects and verifies the real Cisco Unified CM CTL
# shipped in tests/vectors (a file Cisco software signed; its signature
# verifies with the certificate of its own SAST record).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

ctl=tests/vectors/real/cucm/CTLFile.tlv
cargo build --quiet -p capf-cli
capf=target/debug/capf
echo "== capf trustlist show $ctl"
"$capf" trustlist show "$ctl"
echo
echo "== capf trustlist verify $ctl"
"$capf" trustlist verify "$ctl"
