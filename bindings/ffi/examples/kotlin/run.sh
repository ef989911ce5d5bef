#!/usr/bin/env bash
# Builds what the Kotlin example needs (the debug capf-ffi cdylib, its
# Kotlin bindings, the Kotlin compiler from npm and JNA from Debian if
# missing), then runs Enroll.kt with the given arguments:
#   bash bindings/ffi/examples/kotlin/run.sh --server HOST:PORT \
#     --ca CAPF.pem|CTLFile.tlv --device NAME --out LSC.pem [--auth-string DIGITS] [--send-csr]
# Exits as `capf enroll` does: 0 installed, 1 refused, 2 bad usage or
# unreachable, 3 certificate pending at an offline CA (the key kept in
# LSC.pem.pending-key.pem for the next run). Build output goes to target/kotlin-example/ (recompiled only
# when the library or Enroll.kt changed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../../.."

tools=${CAPF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/capf}
kotlin_home="$tools/kotlin/node_modules/kotlin-compiler"
if [ ! -x "$kotlin_home/bin/kotlinc" ]; then
  echo "installing kotlin-compiler@2.4.20 into $tools/kotlin" >&2
  mkdir -p "$tools/kotlin"
  npm install --no-audit --no-fund --silent --prefix "$tools/kotlin" kotlin-compiler@2.4.20 >&2
fi
jna_jar=$(dpkg -L libjna-java 2>/dev/null | grep '/jna.jar$' || true)
if [ -z "$jna_jar" ]; then
  echo "installing libjna-java" >&2
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd=sudo
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends libjna-java >&2
  jna_jar=$(dpkg -L libjna-java | grep '/jna.jar$')
fi

target=${CARGO_TARGET_DIR:-target}
out="$target/kotlin-example"
lib="$target/debug/libcapf_ffi.so"
cargo build -p capf-ffi --lib --quiet >&2
jar="$out/enroll.jar"
if [ ! -f "$jar" ] || [ "$lib" -nt "$jar" ] || [ "$here/Enroll.kt" -nt "$jar" ]; then
  cargo build -p capf-ffi --features cli --bin uniffi-bindgen --quiet >&2
  rm -rf "$out/kotlin"
  mkdir -p "$out"
  "$target/debug/uniffi-bindgen" generate --library "$lib" --language kotlin --no-format \
    --out-dir "$out/kotlin" >/dev/null
  "$kotlin_home/bin/kotlinc" -nowarn -cp "$jna_jar" $(find "$out/kotlin" -name '*.kt') \
    "$here/Enroll.kt" -d "$out/enroll-new.jar" >&2
  mv "$out/enroll-new.jar" "$jar"
fi
exec java -Djna.library.path="$(dirname "$lib")" \
  -cp "$jar:$jna_jar:$kotlin_home/lib/kotlin-stdlib.jar" EnrollKt "$@"
