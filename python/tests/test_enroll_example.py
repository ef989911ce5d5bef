"""The asyncio phone example (examples/enroll.py) over Python's ``ssl``
against ``capf serve`` on loopback: real TLS, a real SQLite registry."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

import capf

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "SEP00112233AABB"


def capf_binary() -> Path:
    found = Path(os.environ.get("CAPF_BIN", ROOT / "target" / "debug" / "capf"))
    if not found.is_file():
        print(f"SKIPPED: the capf binary is not built ({found})", file=sys.stderr)
        pytest.skip(f"SKIPPED: the capf binary is not built ({found}); cargo build -p capf-cli")
    return found


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("enroll_example", ROOT / "python/examples/enroll.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def der_element(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the DER element at `at`."""
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        return tag, at + 2, at + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
    return tag, at + 2 + count, at + 2 + count + length


def certificate_serial(der: bytes) -> bytes:
    """The serial number of an X.509 certificate, read by hand (no parser of
    this package involved)."""
    _, tbs_outer, _ = der_element(der, 0)
    _, inside, _ = der_element(der, tbs_outer)
    tag, start, end = der_element(der, inside)
    if tag == 0xA0:  # [0] version
        tag, start, end = der_element(der, end)
    assert tag == 0x02
    return der[start:end].lstrip(b"\x00")


def run_capf(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, check=False)


@pytest.fixture
def server(tmp_path: Path, data: Path) -> Iterator[tuple[str, Path, Path]]:
    binary = capf_binary()
    db = tmp_path / "capf.db"
    for args in (
        ["--operation", "install", "--auth", "null", "--key", "ec:p256", DEVICE],
        [
            "--operation", "install", "--auth", "auth-string", "--auth-string", "4812",
            "--key", "ec:p256", "SEP00112233AABC",
        ],
    ):
        added = run_capf(binary, "device", "add", "--db", str(db), *args)
        assert added.returncode == 0, added.stderr
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            str(binary), "serve", "--listen", "127.0.0.1:0",
            "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait for the ready file (the server writes it once bound).
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "capf serve did not start"
        address = json.loads(ready.read_text())["capf"]
        yield address, db, binary
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_python_phone_enrolls_against_capf_serve(
    server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, db, binary = server
    example = load_example()
    out = tmp_path / "lsc.pem"
    status = example.main(
        [
            "--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
            "--device", DEVICE, "--out", str(out),
        ]
    )
    assert status == 0
    text = out.read_text()
    assert "-----BEGIN CERTIFICATE-----" in text and "-----BEGIN PRIVATE KEY-----" in text
    assert out.stat().st_mode & 0o077 == 0
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    certificate = base64.b64decode("".join(body.split()))
    # An EC P-256 key, as scheduled (id-ecPublicKey + prime256v1 in the SPKI).
    spki = capf.subject_public_key_info(certificate)
    assert bytes.fromhex("2a8648ce3d020106082a8648ce3d030107") in spki
    # The registry holds the very certificate the phone stored.
    shown = run_capf(binary, "device", "show", "--db", str(db), DEVICE)
    assert shown.returncode == 0, shown.stderr
    assert "install successful" in shown.stdout
    assert f"(serial {certificate_serial(certificate).hex()})" in shown.stdout


def test_python_phone_auth_string_right_and_wrong(
    server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, _, _ = server
    example = load_example()
    common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem")]
    wrong = example.main(
        [*common, "--device", "SEP00112233AABC", "--out", str(tmp_path / "a.pem"),
         "--auth-string", "9999"]
    )
    assert wrong == 1
    assert not (tmp_path / "a.pem").exists()
    right = example.main(
        [*common, "--device", "SEP00112233AABC", "--out", str(tmp_path / "b.pem"),
         "--auth-string", "4812"]
    )
    assert right == 0
    unknown = example.main(
        [*common, "--device", "SEP0011223344FF", "--out", str(tmp_path / "c.pem")]
    )
    assert unknown == 1


def test_unreachable_server_and_bad_usage_exit_2(data: Path, tmp_path: Path) -> None:
    example = load_example()
    ca = str(data / "issuer-ec-p256.cert.pem")
    # Port 9 on loopback: nothing listens (connection refused).
    assert example.main(
        ["--server", "127.0.0.1:9", "--ca", ca, "--device", DEVICE, "--out", str(tmp_path / "x")]
    ) == 2
    assert example.main(["--server", "nonsense"]) == 2
