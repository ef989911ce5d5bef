#!/usr/bin/env bash
# The Kotlin/JVM tests of the uniffi bindings (bindings/ffi), run by
# scripts/test-all.sh. Idempotent: installs the Kotlin compiler (npm, into
# a cache folder) and JNA (Debian's libjna-java) only when missing, builds
# the debug cdylib, generates the Kotlin and Swift bindings (build output
# under target/, never committed), compiles the Kotlin tests against them
# and runs them on the JVM; then starts `capf serve` on loopback (the debug
# binary, a fresh openssl-made PKI and registry under target/ each run) and
# runs the Kotlin enrollment tests against it, one per auth mode; then a
# second `capf serve --offline-ca` (its own registry, an openssl-made
# offline CA) for the phone's side of the offline CA. Exits non-zero when
# any Kotlin test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${CAPF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/capf}
kotlin_home="$tools/kotlin/node_modules/kotlin-compiler"
kotlinc="$kotlin_home/bin/kotlinc"
if [ ! -x "$kotlinc" ]; then
  echo "installing kotlin-compiler@2.4.20 into $tools/kotlin"
  mkdir -p "$tools/kotlin"
  npm install --no-audit --no-fund --silent --prefix "$tools/kotlin" kotlin-compiler@2.4.20
fi
jna_jar=$(dpkg -L libjna-java 2>/dev/null | grep '/jna.jar$' || true)
if [ -z "$jna_jar" ] || [ ! -f "$jna_jar" ]; then
  echo "installing libjna-java"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  $sudo_cmd apt-get install -y -qq --no-install-recommends libjna-java \
    || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq --no-install-recommends libjna-java; }
  jna_jar=$(dpkg -L libjna-java | grep '/jna.jar$')
fi
command -v java >/dev/null || { echo "capf: java (17+) is required for the Kotlin tests" >&2; exit 2; }

target=${CARGO_TARGET_DIR:-target}
out="$target/kotlin-tests"
mkdir -p "$out"

echo "== capf-ffi: debug cdylib and uniffi-bindgen"
cargo build -p capf-ffi --lib --quiet
cargo build -p capf-ffi --features cli --bin uniffi-bindgen --quiet
lib="$target/debug/libcapf_ffi.so"
bindgen="$target/debug/uniffi-bindgen"

echo "== generate Kotlin, Swift and Python bindings"
rm -rf "$out/kotlin" "$out/swift" "$out/python"
"$bindgen" generate --library "$lib" --language kotlin --no-format --out-dir "$out/kotlin" >/dev/null
"$bindgen" generate --library "$lib" --language swift --no-format --out-dir "$out/swift" >/dev/null
"$bindgen" generate --library "$lib" --language python --no-format --out-dir "$out/python" >/dev/null
[ -s "$out/python/capf_ffi.py" ] || { echo "Python bindings were not generated" >&2; exit 1; }
# A smoke check of the uniffi Python bindings (the project's Python package
# is the pyo3 one in python/; this only proves the generated module loads).
cp "$lib" "$out/python/"
( cd "$out/python" && python3 - "$OLDPWD/tests/vectors/real/cucm/CTLFile.tlv" <<'PY'
import sys
import capf_ffi as c
ctl = c.TrustList.parse(open(sys.argv[1], "rb").read())
assert ctl.header().version == "1.2", ctl.header().version
assert ctl.verify(c.HashPolicy.CISCO).record_index == 0
try:
    c.TrustList.parse(b"junk")
    raise SystemExit("junk parsed")
except c.FileError.Malformed:
    pass
print("uniffi Python bindings: CTL parsed and verified, junk raised FileError.Malformed")
PY
)
kt=$(find "$out/kotlin" -name '*.kt' | head -1)
[ -n "$kt" ] || { echo "no Kotlin bindings generated" >&2; exit 1; }
for f in Capf.swift CapfFFI.h CapfFFI.modulemap; do
  [ -s "$out/swift/$f" ] || { echo "Swift binding $f was not generated" >&2; exit 1; }
done
echo "Swift bindings generated in $out/swift (not compiled: no Swift compiler on this machine)"

echo "== compile the Kotlin tests"
rm -f "$out/capf-test.jar"
"$kotlinc" -nowarn -cp "$jna_jar" "$kt" bindings/ffi/tests/kotlin/CapfTest.kt \
  bindings/ffi/tests/kotlin/LoopbackTest.kt bindings/ffi/tests/kotlin/RegistryTest.kt \
  bindings/ffi/tests/kotlin/OfflineCaTest.kt bindings/ffi/tests/kotlin/TestRunner.kt \
  -d "$out/capf-test.jar"

echo "== run the Kotlin tests on the JVM"
run_kotlin() {
  java -Djna.library.path="$(dirname "$lib")" \
    -cp "$out/capf-test.jar:$jna_jar:$kotlin_home/lib/kotlin-stdlib.jar" "$@"
}
run_kotlin CapfTestKt tests/vectors

echo "== capf serve on loopback for the Kotlin enrollment tests"
cargo build -p capf-cli --bin capf --quiet
capf_bin="$target/debug/capf"
# A fresh PKI and registry each run (idempotent): real certificates made
# with openssl, a real SQLite registry managed with `capf device`.
pki="$out/loopback"
rm -rf "$pki"
mkdir -p "$pki"
command -v openssl >/dev/null || { echo "capf: openssl is required for the loopback tests" >&2; exit 2; }
ossl() { openssl "$@" 2>/dev/null; }
# The CAPF certificate (EC P-256, a CA: it issues the LSCs).
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/capf.key"
ossl req -new -x509 -key "$pki/capf.key" -out "$pki/capf.pem" -days 30 -subj "/O=capf/CN=CAPF-kotlin" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,digitalSignature,keyCertSign"
# A manufacturing CA and a MIC (RSA 2048, as real phones have) it issued.
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/manufacturing.key"
ossl req -new -x509 -key "$pki/manufacturing.key" -out "$pki/manufacturing.pem" -days 30 \
  -subj "/CN=Manufacturing CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/mic.key"
ossl req -new -key "$pki/mic.key" -subj "/CN=CP-8865-SEP0000000000C4" -out "$pki/mic.csr"
printf 'keyUsage=critical,digitalSignature\n' > "$pki/mic.ext"
ossl x509 -req -in "$pki/mic.csr" -CA "$pki/manufacturing.pem" -CAkey "$pki/manufacturing.key" \
  -CAcreateserial -days 30 -extfile "$pki/mic.ext" -out "$pki/mic.pem"
# The offline CA (EC P-256): made and used by openssl only; the offline
# server names it as --issuer.
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/offline-ca.key" \
  -out "$pki/offline-ca.pem" -subj "/CN=Offline CA" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
for f in capf.pem capf.key manufacturing.pem mic.pem mic.key offline-ca.pem offline-ca.key; do
  [ -s "$pki/$f" ] || { echo "openssl did not make $pki/$f" >&2; exit 1; }
done
"$capf_bin" serve --listen 127.0.0.1:0 --cert "$pki/capf.pem" --key "$pki/capf.key" \
  --db "$pki/capf.db" --verify "$pki/manufacturing.pem" --handshake-timeout 10 \
  --response-timeout 20 --tvs-listen 127.0.0.1:0 --ready-file "$pki/ready.json" 2>"$pki/serve.log" &
serve_pid=$!
offline_pid=""
stop_servers() {
  for pid in "$serve_pid" $offline_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT
wait_ready() { # PID READY-FILE LOG
  for _ in $(seq 1 300); do
    [ -s "$2" ] && return 0
    kill -0 "$1" 2>/dev/null || { echo "capf serve exited:" >&2; cat "$3" >&2; exit 1; }
    sleep 0.1
  done
}
ready_address() { # READY-FILE ROLE (capf or tvs): the bound address
  sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"
}
# Runs a Kotlin test class against a server; on failure shows that
# server's log and stops.
run_kotlin_showing_log() { # LOG CLASS ARGS...
  local log=$1
  shift
  if ! run_kotlin "$@"; then
    echo "--- $log" >&2
    cat "$log" >&2
    exit 1
  fi
}
wait_ready "$serve_pid" "$pki/ready.json" "$pki/serve.log"
address=$(ready_address "$pki/ready.json" capf)
tvs_address=$(ready_address "$pki/ready.json" tvs)
[ -n "$address" ] && [ -n "$tvs_address" ] \
  || { echo "capf serve did not become ready:" >&2; cat "$pki/ready.json" "$pki/serve.log" >&2; exit 1; }
echo "capf serve listening on $address (CAPF) and $tvs_address (TVS)"
run_kotlin_showing_log "$pki/serve.log" LoopbackTestKt "$capf_bin" "$pki" "$address" "$tvs_address"

echo "== capf serve --offline-ca on loopback for the Kotlin offline-CA tests"
"$capf_bin" serve --listen 127.0.0.1:0 --cert "$pki/capf.pem" --key "$pki/capf.key" \
  --db "$pki/offline.db" --issuer "$pki/offline-ca.pem" --issuer-key "$pki/offline-ca.key" --offline-ca \
  --handshake-timeout 10 --response-timeout 20 --ready-file "$pki/offline-ready.json" 2>"$pki/offline.log" &
offline_pid=$!
wait_ready "$offline_pid" "$pki/offline-ready.json" "$pki/offline.log"
offline_address=$(ready_address "$pki/offline-ready.json" capf)
[ -n "$offline_address" ] \
  || { echo "capf serve --offline-ca did not become ready:" >&2; cat "$pki/offline-ready.json" "$pki/offline.log" >&2; exit 1; }
echo "capf serve --offline-ca listening on $offline_address"
run_kotlin_showing_log "$pki/offline.log" OfflineCaTestKt "$capf_bin" "$pki" "$pki/offline.db" "$offline_address"

echo "== the Kotlin example (bindings/ffi/examples/kotlin) against capf serve"
example=bindings/ffi/examples/kotlin/run.sh
expect_status() { # STATUS WHAT COMMAND…
  local want=$1 what=$2 status=0
  shift 2
  "$@" >"$pki/example.out" 2>&1 || status=$?
  if [ "$status" != "$want" ]; then
    echo "example: $what: exit $status, expected $want" >&2
    cat "$pki/example.out" "$pki/serve.log" >&2
    exit 1
  fi
  echo "test example_$what ... ok"
}
"$capf_bin" device add --db "$pki/capf.db" SEP0000000000E1 --operation install \
  --auth auth-string --auth-string 192837 --key ec:p256 >/dev/null
lsc="$pki/example-lsc.pem"
expect_status 0 installs bash "$example" --server "$address" --ca "$pki/capf.pem" \
  --device SEP0000000000E1 --out "$lsc" --auth-string 192837
# The file holds the LSC, issued by the CAPF certificate, and its own key
# (checked with openssl, not with the code under test).
openssl verify -partial_chain -CAfile "$pki/capf.pem" "$lsc" >/dev/null \
  || { echo "example: the LSC does not verify against the CAPF certificate" >&2; exit 1; }
[ "$(openssl x509 -in "$lsc" -pubkey -noout)" = "$(openssl pkey -in "$lsc" -pubout)" ] \
  || { echo "example: the key in $lsc is not the LSC's" >&2; exit 1; }
expect_status 1 refuses_an_unknown_device bash "$example" --server "$address" \
  --ca "$pki/capf.pem" --device SEP0000000000E9 --out "$pki/unknown.pem"
[ ! -e "$pki/unknown.pem" ] || { echo "example: a refused device got an LSC file" >&2; exit 1; }
expect_status 2 bad_usage bash "$example" --server "$address" --ca "$pki/capf.pem"
expect_status 2 unreachable bash "$example" --server 127.0.0.1:1 --ca "$pki/capf.pem" \
  --device SEP0000000000E1 --out "$pki/unreachable.pem"
# The example's offline-CA path (as `capf enroll --send-csr` against
# `capf serve --offline-ca`): pending (exit 3, the key kept owner-only
# beside --out), the phone-signed request signed by openssl and imported,
# then installed for the kept key at the next run (checked with openssl).
"$capf_bin" device add --db "$pki/offline.db" SEP0000000000E2 --operation install \
  --auth null --key ec:p256 >/dev/null
offline_lsc="$pki/example-offline-lsc.pem"
expect_status 3 pending_at_the_offline_ca bash "$example" --server "$offline_address" \
  --ca "$pki/capf.pem" --device SEP0000000000E2 --out "$offline_lsc" --send-csr
kept="$offline_lsc.pending-key.pem"
{ [ -s "$kept" ] && [ ! -e "$offline_lsc" ] && [ "$(stat -c %a "$kept")" = 600 ]; } \
  || { echo "example: the pending key is not kept owner-only in $kept (or an LSC was written)" >&2; exit 1; }
"$capf_bin" ca csr export --db "$pki/offline.db" --out "$pki/example-requests" >/dev/null
csr="$pki/example-requests/SEP0000000000E2.csr"
openssl req -in "$csr" -noout -verify >/dev/null 2>&1 \
  || { echo "example: the phone-signed request does not verify" >&2; exit 1; }
kept_key=$(openssl pkey -in "$kept" -pubout)
[ "$(openssl req -in "$csr" -noout -pubkey)" = "$kept_key" ] \
  || { echo "example: the request does not carry the kept key" >&2; exit 1; }
ossl x509 -req -in "$csr" -CA "$pki/offline-ca.pem" -CAkey "$pki/offline-ca.key" -days 30 \
  -set_serial 0x7003 -out "$pki/example-offline-signed.pem"
"$capf_bin" ca import --db "$pki/offline.db" "$pki/example-offline-signed.pem" >/dev/null
expect_status 0 installs_for_the_pending_key bash "$example" --server "$offline_address" \
  --ca "$pki/capf.pem" --device SEP0000000000E2 --out "$offline_lsc"
[ ! -e "$kept" ] || { echo "example: the pending key file is still there after the install" >&2; exit 1; }
[ "$(openssl x509 -in "$offline_lsc" -pubkey -noout)" = "$kept_key" ] \
  || { echo "example: the installed LSC is not for the kept key" >&2; exit 1; }
[ "$(openssl pkey -in "$offline_lsc" -pubout)" = "$kept_key" ] \
  || { echo "example: the key in $offline_lsc is not the kept key" >&2; exit 1; }
openssl verify -partial_chain -CAfile "$pki/offline-ca.pem" "$offline_lsc" >/dev/null \
  || { echo "example: the LSC does not verify against the offline CA" >&2; exit 1; }
