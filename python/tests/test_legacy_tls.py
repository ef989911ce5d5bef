"""`capf_server.py --legacy-tls` (issue 14): a phone limited to TLS 1.0
and `AES128-SHA` (Python's `ssl` as the client, at OpenSSL security level
0) enrolls against the example server with the flag, is refused at the
handshake without it, and a modern client still enrolls with it. Real
TLS on loopback, a real SQLite registry."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest

import capf

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "SEP0011223344E1"
LEGACY_CLIENT_CIPHER = "AES128-SHA"


def load_enroll_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "enroll_example_legacy", ROOT / "python/examples/enroll.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def legacy_client_context(ca: Path) -> ssl.SSLContext:
    """A 7940-like phone: TLS 1.0 only, AES128-SHA only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    with warnings.catch_warnings():
        # TLS 1.0 is deprecated: that is the point of this client.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers(f"{LEGACY_CLIENT_CIPHER}:@SECLEVEL=0")
    context.load_verify_locations(cafile=str(ca))
    return context


def legacy_client_or_skip(ca: Path) -> ssl.SSLContext:
    """The legacy client context, or SKIPPED (said in the output) when this
    OpenSSL cannot do TLS 1.0 with AES128-SHA at all."""
    try:
        context = legacy_client_context(ca)
    except (ssl.SSLError, ValueError) as error:
        reason = f"this OpenSSL ({ssl.OPENSSL_VERSION}) refuses TLS 1.0 / AES128-SHA: {error}"
        print(f"SKIPPED: {reason}", file=sys.stderr)
        pytest.skip(f"SKIPPED: {reason}")
    if not ssl.HAS_TLSv1:
        reason = f"this OpenSSL ({ssl.OPENSSL_VERSION}) was built without TLS 1.0"
        print(f"SKIPPED: {reason}", file=sys.stderr)
        pytest.skip(f"SKIPPED: {reason}")
    return context


def handshake(address: str, context: ssl.SSLContext) -> tuple[str, str]:
    """(protocol version, cipher) of a completed handshake."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        with context.wrap_socket(raw) as tls:
            cipher = tls.cipher()
            assert cipher is not None
            return str(tls.version()), cipher[0]


def start(tmp_path: Path, data: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    db = tmp_path / "capf.db"
    if not db.exists():
        registry = capf.Registry(db)
        assert registry.add_device(DEVICE, key="ec:p256", auth="null")
        del registry
    ready = tmp_path / "ready.json"
    ready.unlink(missing_ok=True)
    # The CAPF certificate is RSA: the AES128-SHA suite needs RSA key exchange.
    process = subprocess.Popen(
        [
            sys.executable, str(ROOT / "python/examples/capf_server.py"),
            "--listen", "127.0.0.1:0",
            "--cert", str(data / "keys/capf.pem"), "--key", str(data / "keys/capf.pem"),
            "--issuer", str(data / "issuer-ec-p256.cert.pem"),
            "--issuer-key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready), *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        if ready.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    if not ready.exists():
        stop(process)
        raise AssertionError(f"capf_server.py did not start: {process.stderr}")
    return process, str(json.loads(ready.read_text())["capf"])


def stop(process: subprocess.Popen[str]) -> str:
    """Stops the server; its log."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


@pytest.fixture
def legacy_server(tmp_path: Path, data: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process, address = start(tmp_path, data, "--legacy-tls")
    try:
        yield address, process
    finally:
        stop(process)


def enroll_with(example: ModuleType, address: str, context: ssl.SSLContext,
                out: Path) -> capf.PhoneOutcome:
    host, _, port = address.rpartition(":")
    outcome: capf.PhoneOutcome = asyncio.run(
        example.enroll(host, int(port), context, DEVICE, example.Credentials(), out, 60.0)
    )
    return outcome


def test_tls10_aes128_sha_phone_enrolls_with_legacy_tls(
    legacy_server: tuple[str, subprocess.Popen[str]], data: Path, tmp_path: Path
) -> None:
    address, process = legacy_server
    context = legacy_client_or_skip(data / "keys/capf.pem")
    assert handshake(address, context) == ("TLSv1", LEGACY_CLIENT_CIPHER)
    example = load_enroll_example()
    out = tmp_path / "lsc.pem"
    outcome = enroll_with(example, address, context, out)
    assert outcome.result == "installed" and outcome.is_success
    assert outcome.certificate is not None
    assert example.stored_certificate(out) == outcome.certificate
    # The registry's ledger holds the certificate the phone stored.
    ledger = capf.Registry(tmp_path / "capf.db").certificates(DEVICE)
    assert [c.certificate for c in ledger] == [outcome.certificate]
    log = stop(process)
    assert "WARNING: --legacy-tls" in log and "TLS 1.0" in log and "AES128-SHA" in log


def test_modern_client_still_enrolls_with_legacy_tls(
    legacy_server: tuple[str, subprocess.Popen[str]], data: Path, tmp_path: Path
) -> None:
    address, _ = legacy_server
    example = load_enroll_example()
    modern = example.tls_context(data / "keys/capf.pem")
    version, _ = handshake(address, modern)
    assert version in ("TLSv1.2", "TLSv1.3")
    status = example.main(
        ["--server", address, "--ca", str(data / "keys/capf.pem"), "--device", DEVICE,
         "--out", str(tmp_path / "lsc.pem")]
    )
    assert status == 0


def test_tls10_phone_is_refused_without_legacy_tls(data: Path, tmp_path: Path) -> None:
    context = legacy_client_or_skip(data / "keys/capf.pem")
    process, address = start(tmp_path, data)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            handshake(address, context)
        example = load_enroll_example()
        out = tmp_path / "lsc.pem"
        # The example phone sees a TLS failure (capf's exit 1) or, when the
        # server drops the connection first, a reset.
        with pytest.raises((example.Untrusted, ConnectionError)):
            enroll_with(example, address, context, out)
        assert not out.exists()
        assert capf.Registry(tmp_path / "capf.db").certificates(DEVICE) == []
    finally:
        log = stop(process)
    assert "--legacy-tls" not in log
