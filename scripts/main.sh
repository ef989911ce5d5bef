#!/usr/bin/env bash
# The README's first command: set up what is needed and run the main job.
#
# The main job is `capf demo`: on loopback, with an SQLite registry in a
# temporary folder, it makes a CAPF CA, registers phones with each auth mode
# and key type, enrolls them through real TLS against the CAPF server, fetches
# and deletes one LSC, builds and verifies a CTL listing the CAPF certificate,
# and prints a summary. Before that it inspects and verifies the real Cisco
# Unified CM CTL shipped in tests/vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --quiet -p capf-cli
capf=target/debug/capf

ctl=tests/vectors/real/cucm/CTLFile.tlv
echo "== capf trustlist verify $ctl  (a CTL made by Cisco Unified CM)"
"$capf" trustlist verify "$ctl"
echo
echo "== capf demo"
"$capf" demo
