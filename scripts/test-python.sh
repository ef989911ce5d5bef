#!/usr/bin/env bash
# The Python package's tests, as CI runs them (scripts/test-all.sh calls
# this): build the wheel with maturin (debug profile: CI has 2 cores),
# install it into a virtual environment under target/ (never an editable
# install, so packaging mistakes fail here), then run pytest, mypy's
# stubtest against the installed module, and mypy --strict on the tests
# and examples.
# Idempotent: the environment and its tools are reused; the wheel is
# reinstalled every run.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "capf: $python (CPython 3.9 or later) is required for the Python package tests" >&2
  exit 2
fi
venv=target/python-venv
# Tool versions verified together (TOOLCHAIN.md); bump them together.
# `cryptography` is optional for the package: installed here so that the
# tests of its objects as certificates and keys run (one test checks the
# package without it).
tools=(maturin==1.16.0 pytest==9.2.0 mypy cryptography)
stamp="$venv/.tools-$(printf '%s ' "${tools[@]}" | sha256sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "${tools[@]}"
  touch "$stamp"
fi

wheels=target/python-wheels
rm -rf "$wheels"
# maturin must see the venv's interpreter to tag the wheel.
VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" \
  "$venv/bin/maturin" build --quiet -m python/Cargo.toml --out "$wheels" \
  --interpreter "$venv/bin/python"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$wheels"/capf-*.whl

# From outside the source tree, so `import capf` is the installed wheel.
root=$PWD
(cd target && "$root/$venv/bin/python" -m pytest -q -rs -p no:cacheprovider "$root/python/tests")
"$venv/bin/python" -m mypy.stubtest capf
# The tests and examples type-check against the installed stubs (a stub
# that disagrees with how the API is used fails here).
typed=(python/tests)
if compgen -G "python/examples/*.py" >/dev/null; then
  typed+=(python/examples)
fi
if compgen -G "python/benches/*.py" >/dev/null; then
  typed+=(python/benches)
fi
"$venv/bin/python" -m mypy --strict --cache-dir target/mypy-cache "${typed[@]}"
