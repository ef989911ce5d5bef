"""The registry from Python (`capf.Registry` over capf-registry's SQLite
file) and the example server `examples/capf_server.py` (asyncio, Python's
``ssl``, registry-backed) enrolling the Rust phone `capf enroll` on
loopback, with the same registry file `capf device` manages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional

import pytest

import capf

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DEVICE = "SEP0011223344EE"
KEYED = "SEP0011223344EF"


@pytest.fixture
def issuer(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


def enroll_in_memory(
    registry: capf.Registry, issuer: capf.LscIssuer, device: str, auth_string: Optional[str]
) -> tuple[capf.ServerOutcome, capf.PhoneOutcome]:
    host = registry.host(issuer)
    server = capf.ServerSession(0x1357, NOW)
    phone = capf.PhoneSession(device, NOW, auth_string=auth_string)
    server_outcome: Optional[capf.ServerOutcome] = None
    phone_outcome: Optional[capf.PhoneOutcome] = None
    for _ in range(50):
        to_phone = []
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_phone.append(item.data)
            elif isinstance(item, capf.Need):
                host.decide(server, item.decision, NOW)
            elif isinstance(item.outcome, capf.ServerOutcome):
                server_outcome = item.outcome
        for frame in to_phone:
            phone.handle_input(frame)
        to_server = []
        while (item := phone.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_server.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "generate_key":
                    assert d.key_request is not None
                    phone.answer_key(capf.generate_key(d.key_request)[0])
                else:
                    assert d.kind == "store_certificate"
                    phone.answer_store()
            elif isinstance(item.outcome, capf.PhoneOutcome):
                phone_outcome = item.outcome
        for frame in to_server:
            server.handle_input(frame)
        if not to_phone and not to_server:
            break
    if not phone.is_done():
        phone.handle_peer_closed()
        while (item := phone.poll_output()) is not None:
            if isinstance(item, capf.Done) and isinstance(item.outcome, capf.PhoneOutcome):
                phone_outcome = item.outcome
    host.release(NOW)
    assert server_outcome is not None and phone_outcome is not None
    return server_outcome, phone_outcome


def test_registry_drives_a_session_as_capf_serve(
    tmp_path: Path, issuer: capf.LscIssuer
) -> None:
    registry = capf.Registry(tmp_path / "capf.db")
    assert registry.add_device(DEVICE, key="ec:p256", now=NOW) is True
    assert registry.add_device(KEYED, auth="auth-string", auth_string="4812", now=NOW) is True
    # The string is kept as its keyed hash; the key file is owner-only.
    key_file = tmp_path / "capf.db.auth-key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert b"4812" not in (tmp_path / "capf.db").read_bytes()
    assert [d.name for d in registry.devices()] == sorted([DEVICE, KEYED])
    device = registry.device(KEYED)
    assert device.has_auth_string and device.auth == "auth-string"
    assert device.status == "pending" and device.operation == "install"

    server, phone = enroll_in_memory(registry, issuer, DEVICE, None)
    assert server.result == "installed" and phone.result == "installed"
    assert registry.device(DEVICE).status == "successful"
    ledger = registry.certificates(DEVICE)
    assert [entry.state for entry in ledger] == ["installed"]
    assert ledger[0].certificate == phone.certificate == server.certificate

    wrong, _ = enroll_in_memory(registry, issuer, KEYED, "9999")
    assert wrong.result == "authentication_failed"
    assert registry.device(KEYED).failed_attempts == 1
    assert registry.certificates(KEYED) == []
    right, phone = enroll_in_memory(registry, issuer, KEYED, "4812")
    assert right.result == "installed" and phone.is_success
    # One operation, one certificate: the string was consumed.
    again, _ = enroll_in_memory(registry, issuer, KEYED, "4812")
    assert again.result != "installed"
    assert len(registry.certificates(KEYED)) == 1

    unknown, phone = enroll_in_memory(registry, issuer, "SEP0011223344FF", None)
    assert unknown.result == "unknown_device" and phone.result == "unknown_device"


def test_registry_deadline_and_misuse(tmp_path: Path, issuer: capf.LscIssuer) -> None:
    registry = capf.Registry(tmp_path / "capf.db")
    registry.add_device(DEVICE, complete_by=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    late, _ = enroll_in_memory(registry, issuer, DEVICE, None)
    assert late.result != "installed"
    assert registry.certificates(DEVICE) == []
    with pytest.raises(capf.MisuseError):
        registry.add_device(DEVICE, auth="auth-string")
    with pytest.raises(capf.MisuseError):
        registry.add_device(DEVICE, auth="null", auth_string="1234")
    with pytest.raises(capf.MisuseError):
        registry.add_device(DEVICE, operation="reboot")
    with pytest.raises(capf.RegistryError):
        registry.add_device(DEVICE, auth="auth-string", auth_string="12")
    with pytest.raises(capf.RegistryError):
        registry.device("SEP000000000000")
    with pytest.raises(capf.RegistryError):
        capf.Registry(tmp_path / "missing-dir" / "capf.db")
    # A keyed string without its key file: a server starting on the file
    # (a new Registry; one that already runs checked once, as capf serve
    # does at start) cannot make a host.
    registry.add_device(KEYED, auth="auth-string", auth_string="4812")
    (tmp_path / "capf.db.auth-key").unlink()
    with pytest.raises(capf.RegistryError, match="key"):
        capf.Registry(tmp_path / "capf.db").host(issuer)


def test_lifecycle_from_python(tmp_path: Path, issuer: capf.LscIssuer) -> None:
    registry = capf.Registry(tmp_path / "capf.db")
    digits = registry.schedule_with_generated_auth_string(KEYED, digits=8, key="ec:p256", now=NOW)
    assert len(digits) == 8 and digits.isdigit()
    assert registry.device(KEYED).has_auth_string
    server, phone = enroll_in_memory(registry, issuer, KEYED, digits)
    assert server.result == "installed" and phone.is_success
    [lsc] = registry.certificates(KEYED)
    assert not lsc.revoked

    # Renewal: the LSC (valid ten years) is due before a date past its end.
    assert registry.plan_renewals(used_share="0.5", dry_run=True, now=NOW) == []
    later = NOW + timedelta(days=365 * 20)
    due = registry.plan_renewals(expiring_before=later, dry_run=True, now=NOW)
    assert due == [(KEYED, lsc.id, lsc.serial_hex)]
    assert registry.device(KEYED).operation == "none"  # a dry run writes nothing
    assert registry.plan_renewals(expiring_before=later, now=NOW) == due
    renewal = registry.device(KEYED)
    assert renewal.operation == "install" and renewal.auth == "lsc"

    report = registry.report_csv()
    header = report.splitlines()[0].split(",")
    assert header[0] == "name" and "lsc_serial" in header
    assert KEYED in report and lsc.serial_hex in report

    revoked = registry.revoke(device=KEYED, reason="keyCompromise", now=NOW)
    assert [entry.serial_hex for entry in revoked] == [lsc.serial_hex]
    assert registry.certificates(KEYED)[0].revoked
    with pytest.raises(capf.RegistryError):
        registry.revoke(device=KEYED, now=NOW)  # nothing left to revoke
    with pytest.raises(capf.MisuseError):
        registry.revoke(device=KEYED, serial="01")
    with pytest.raises(capf.MisuseError):
        registry.revoke(device=KEYED, reason="bored")
    with pytest.raises(capf.MisuseError):
        registry.plan_renewals(used_share="2")


def tvs_query(registry: capf.Registry, certificate: bytes) -> capf.TvsOutcome:
    server = capf.TvsServerSession(NOW)
    client = capf.TvsClientSession(7, "CP-8845-" + DEVICE, certificate, NOW)
    for _ in range(10):
        to_server = []
        while (item := client.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_server.append(item.data)
            elif isinstance(item, capf.Done):
                assert isinstance(item.outcome, capf.TvsOutcome)
                return item.outcome
        for frame in to_server:
            server.handle_input(frame)
        to_client = []
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_client.append(item.data)
            elif isinstance(item, capf.Need):
                registry.tvs_answer(server, item.decision, NOW)
        for frame in to_client:
            client.handle_input(frame)
        if not to_server and not to_client:
            client.handle_peer_closed()
    raise AssertionError("the TVS query did not end")


def test_tvs_answers_from_the_allow_list_and_the_ledger(
    tmp_path: Path, issuer: capf.LscIssuer, data: Path
) -> None:
    registry = capf.Registry(tmp_path / "capf.db")
    ccm = (data / "keys" / "ccm-tftp.pem").read_bytes()
    ccm_der = capf.TrustStore.from_bytes("pem", "ccm", ccm).entries[0].certificate
    assert tvs_query(registry, ccm_der).result == "invalid"  # not registered
    registry.tvs_add(ccm, [capf.Role.CCM_TFTP], ttl=600, now=NOW)
    valid = tvs_query(registry, ccm_der)
    assert valid.result == "valid"
    assert valid.roles == [capf.Role.CCM_TFTP] and valid.ttl == 600
    assert registry.tvs_revoke(ccm) is True
    assert tvs_query(registry, ccm_der).result == "invalid"
    assert registry.tvs_revoke((data / "keys" / "tvs.pem").read_bytes()) is False

    # A registered LSC that the ledger revokes is INVALID too.
    registry.add_device(DEVICE, key="ec:p256", now=NOW)
    server, _ = enroll_in_memory(registry, issuer, DEVICE, None)
    assert server.certificate is not None
    registry.tvs_add(server.certificate, [capf.Role.CCM], now=NOW)
    assert tvs_query(registry, server.certificate).result == "valid"
    registry.revoke(device=DEVICE, now=NOW)
    assert tvs_query(registry, server.certificate).result == "invalid"


# ---- the example server against the Rust phone -----------------------------


def capf_binary() -> Path:
    found = Path(os.environ.get("CAPF_BIN", ROOT / "target" / "debug" / "capf"))
    if not found.is_file():
        print(f"SKIPPED: the capf binary is not built ({found})", file=sys.stderr)
        pytest.skip(f"SKIPPED: the capf binary is not built ({found}); cargo build -p capf-cli")
    return found


def run_capf(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, check=False, timeout=300
    )


@pytest.fixture(params=[1, 2], ids=["one-process", "two-workers"])
def python_server(
    tmp_path: Path, data: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path, Path]]:
    """capf_server.py on loopback, as one process and with --workers 2 (one
    socket shared by two worker processes on one registry)."""
    workers: int = request.param
    binary = capf_binary()
    db = tmp_path / "capf.db"
    for args in (
        ["--operation", "install", "--auth", "null", "--key", "ec:p256", DEVICE],
        ["--operation", "install", "--auth", "auth-string", "--auth-string", "4812",
         "--key", "ec:p256", KEYED],
    ):
        added = run_capf(binary, "device", "add", "--db", str(db), *args)
        assert added.returncode == 0, added.stderr
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable, str(ROOT / "python/examples/capf_server.py"),
            "--listen", "127.0.0.1:0",
            "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready), "--workers", str(workers),
            # The test's manufacturer: the SAST test key acts as MIC root.
            "--verify", str(data / "keys" / "sast.pem"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), f"capf_server.py did not start: {process.stderr}"
        yield str(json.loads(ready.read_text())["capf"]), db, binary
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        assert status == 0, process.stderr.read() if process.stderr else status


def test_rust_phone_enrolls_against_the_python_server(
    python_server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, db, binary = python_server
    ca = str(data / "issuer-ec-p256.cert.pem")
    out = tmp_path / "lsc.pem"
    enrolled = run_capf(
        binary, "enroll", "--server", address, "--ca", ca, "--device", DEVICE, "--out", str(out)
    )
    assert enrolled.returncode == 0, enrolled.stderr
    text = out.read_text()
    stored = capf.TrustStore.from_bytes("pem", "lsc.pem", text.encode()).entries[0].certificate
    # The registry (read by the Rust CLI and from Python) holds the very
    # certificate the Rust phone stored, as capf serve would have left it.
    shown = run_capf(binary, "device", "show", "--db", str(db), DEVICE)
    assert shown.returncode == 0, shown.stderr
    assert "install successful" in shown.stdout
    ledger = capf.Registry(db).certificates(DEVICE)
    assert [entry.certificate for entry in ledger] == [stored]
    assert ledger[0].state == "installed"

    common = ["--server", address, "--ca", ca, "--device", KEYED]
    wrong = run_capf(binary, "enroll", *common, "--out", str(tmp_path / "a.pem"),
                     "--auth-string", "9999")
    assert wrong.returncode == 1, wrong.stderr
    assert capf.Registry(db).device(KEYED).failed_attempts == 1
    right = run_capf(binary, "enroll", *common, "--out", str(tmp_path / "b.pem"),
                     "--auth-string", "4812")
    assert right.returncode == 0, right.stderr
    assert capf.Registry(db).device(KEYED).status == "successful"
    unknown = run_capf(binary, "enroll", "--server", address, "--ca", ca,
                       "--device", "SEP0011223344FF", "--out", str(tmp_path / "c.pem"))
    assert unknown.returncode == 1


def pem_block(text: str, label: str) -> str:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.index(begin)
    return text[start : text.index(end, start) + len(end)] + "\n"


def pem_certificate(der: bytes) -> str:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


def test_lsc_and_mic_modes_against_the_python_server(
    python_server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, db, binary = python_server
    common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
              "--device", DEVICE]
    registry = capf.Registry(db)
    first = run_capf(binary, "enroll", *common, "--out", str(tmp_path / "lsc.pem"))
    assert first.returncode == 0, first.stderr

    # LSC mode: the phone proves itself with the LSC it got (certificate
    # and key in the file capf enroll wrote).
    registry.add_device(DEVICE, auth="lsc", key="ec:p256")
    second = run_capf(binary, "enroll", *common, "--lsc", str(tmp_path / "lsc.pem"),
                      "--out", str(tmp_path / "lsc2.pem"))
    assert second.returncode == 0, second.stderr
    assert registry.device(DEVICE).status == "successful"

    # MIC mode: a MIC made by the manufacturer the server trusts (--verify).
    sast = (data / "keys" / "sast.pem").read_text()
    maker = capf.LscIssuer(pem_block(sast, "CERTIFICATE"), pem_block(sast, "PRIVATE KEY"))
    spki, key = capf.generate_key("ec:p256")
    mic = maker.issue(DEVICE, spki, datetime.now(timezone.utc) - timedelta(days=1))
    (tmp_path / "mic.pem").write_text(pem_certificate(mic) + key)
    registry.add_device(DEVICE, auth="mic", key="ec:p256")
    third = run_capf(binary, "enroll", *common, "--mic", str(tmp_path / "mic.pem"),
                     "--out", str(tmp_path / "lsc3.pem"))
    assert third.returncode == 0, third.stderr

    # A MIC from a maker the server does not trust is refused.
    stranger = capf.LscIssuer(
        pem_block((data / "keys" / "sast2.pem").read_text(), "CERTIFICATE"),
        pem_block((data / "keys" / "sast2.pem").read_text(), "PRIVATE KEY"),
    )
    fake = stranger.issue(DEVICE, spki, datetime.now(timezone.utc) - timedelta(days=1))
    (tmp_path / "fake.pem").write_text(pem_certificate(fake) + key)
    registry.add_device(DEVICE, auth="mic", key="ec:p256")
    refused = run_capf(binary, "enroll", *common, "--mic", str(tmp_path / "fake.pem"),
                       "--out", str(tmp_path / "lsc4.pem"))
    assert refused.returncode == 1, refused.stderr
    assert not (tmp_path / "lsc4.pem").exists()

    # Three sessions installed a certificate; each is in the ledger.
    ledger = registry.certificates(DEVICE)
    assert len(ledger) == 3 and len({entry.serial_hex for entry in ledger}) == 3


def test_example_bad_usage_exits_2(tmp_path: Path, data: Path) -> None:
    example = str(ROOT / "python/examples/capf_server.py")
    base = [sys.executable, example, "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"), "--db", str(tmp_path / "x.db")]
    for extra in (
        ["--listen", "nonsense"],
        ["--listen", "127.0.0.1:0", "--issuer", "x.pem"],
        ["--listen", "127.0.0.1:0", "--workers", "0"],
        # The supervisor checks the flags before any worker starts.
        ["--listen", "nonsense", "--workers", "2"],
        ["--listen", "127.0.0.1:0", "--workers", "2", "--verify", str(tmp_path / "none.pem")],
    ):
        run = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, run.stderr
    missing = subprocess.run([sys.executable, example], capture_output=True, timeout=60)
    assert missing.returncode == 2


def test_settings_are_the_registrys_and_the_host_issues_with_them(
    tmp_path: Path, issuer: capf.LscIssuer
) -> None:
    x509 = pytest.importorskip("cryptography.x509")
    registry = capf.Registry(tmp_path / "capf.db")
    settings = registry.settings()
    assert set(settings) == {
        "validity-days",
        "key-generation-timeout",
        "key-generation-retries",
        "max-failed-attempts",
        "renew-used-share",
    }
    assert settings["renew-used-share"] == "off"
    registry.set_setting("validity-days", "30", now=NOW)
    assert registry.settings()["validity-days"] == "30"
    # The library's one parser refuses what capf settings set refuses.
    with pytest.raises(capf.MisuseError, match="validity-days"):
        registry.set_setting("validity-days", "0")
    with pytest.raises(capf.MisuseError, match="unknown setting"):
        registry.set_setting("lsc-lifetime", "30")
    assert registry.settings()["validity-days"] == "30"
    # A host made without a validity issues for the registry's 30 days.
    assert registry.add_device(DEVICE, key="ec:p256", now=NOW) is True
    server, phone = enroll_in_memory(registry, issuer, DEVICE, None)
    assert server.result == "installed" and phone.certificate is not None
    lsc = x509.load_der_x509_certificate(phone.certificate)
    lifetime = lsc.not_valid_after_utc - lsc.not_valid_before_utc
    assert timedelta(days=29) < lifetime <= timedelta(days=31), lifetime


# ---- the offline CA: list and import from Python --------------------------


@pytest.mark.parametrize("server", ["capf serve", "capf_server.py"])
def test_offline_ca_requests_are_listed_and_imported_from_python(
    tmp_path: Path, data: Path, server: str
) -> None:
    """`capf serve --offline-ca` and the Python server host
    (`capf_server.py --offline-ca`, `Registry.host(None, offline_ca=True)`)
    keep a Rust phone's request and end its session pending (END_SESSION 0:
    `capf enroll` exits 3); a newer key makes the older request stale, which
    `delete_stale_certificate_requests` deletes; Python lists the request
    (with the phone-signed CSR) and imports a certificate for it, refused
    with the reason when it is wrong; the phone then installs it."""
    binary = capf_binary()
    db = tmp_path / "capf.db"
    added = run_capf(binary, "device", "add", "--db", str(db), "--operation", "install",
                     "--auth", "null", "--key", "ec:p256", DEVICE)
    assert added.returncode == 0, added.stderr
    cert = str(data / "issuer-ec-p256.cert.pem")
    key = str(data / "issuer-ec-p256.key.pem")
    ready = tmp_path / "ready.json"
    command = (
        [str(binary), "serve"]
        if server == "capf serve"
        else [sys.executable, str(ROOT / "python/examples/capf_server.py")]
    )
    process = subprocess.Popen(
        [*command, "--listen", "127.0.0.1:0", "--cert", cert, "--key", key,
         "--db", str(db), "--offline-ca", "--ready-file", str(ready)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), f"{server} did not start"
        address = str(json.loads(ready.read_text())["capf"])
        out = tmp_path / "lsc.pem"
        enroll = ["enroll", "--server", address, "--ca", cert, "--device", DEVICE,
                  "--out", str(out)]
        first = run_capf(binary, *enroll, "--send-csr")
        assert first.returncode == 3, first.stdout + first.stderr
        registry = capf.Registry(db)
        assert [r.state for r in registry.certificate_requests()] == ["pending"]
        # The phone asks again with a newer key: the first request is stale.
        again = run_capf(binary, *enroll, "--send-csr")
        assert again.returncode == 3, again.stdout + again.stderr
        assert [r.state for r in registry.certificate_requests()] == ["stale", "pending"]
        assert registry.delete_stale_certificate_requests(now=NOW + timedelta(hours=1)) == 1

        requests = registry.certificate_requests()
        assert [(r.device, r.state, r.key) for r in requests] == [(DEVICE, "pending", "ec:p256")]
        assert requests[0].csr is not None
        assert registry.certificate_requests(stale=True) == []

        issuer = capf.LscIssuer((data / "issuer-ec-p256.cert.pem").read_text(),
                                (data / "issuer-ec-p256.key.pem").read_text())
        later = NOW + timedelta(hours=1)
        wrong_name = issuer.issue("SEP0011223344FF", requests[0].public_key, NOW)
        with pytest.raises(capf.RegistryError, match="wrong name"):
            registry.import_certificate(wrong_name, now=later)
        signed = issuer.issue(DEVICE, requests[0].public_key, NOW)
        imported = registry.import_certificate(signed, now=later)
        assert imported.state == "pending"
        assert imported.certificate == signed
        with pytest.raises(capf.RegistryError, match="already imported"):
            registry.import_certificate(signed, now=later)
        assert [r.state for r in registry.certificate_requests()] == ["imported"]

        second = run_capf(binary, *enroll)
        assert second.returncode == 0, second.stdout + second.stderr
        ledger = registry.certificates(DEVICE)
        assert [(entry.certificate, entry.state) for entry in ledger] == [(signed, "installed")]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
