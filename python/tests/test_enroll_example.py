"""The asyncio phone example (examples/enroll.py) over Python's ``ssl``
against ``capf serve`` on loopback: real TLS, a real SQLite registry."""

from __future__ import annotations

import base64
import datetime
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


def start_serve(
    binary: Path, tmp_path: Path, data: Path, db: Path, *extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`capf serve` on loopback (port 0) with the EC issuer as CAPF
    certificate; its bound address from the ready file."""
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            str(binary), "serve", "--listen", "127.0.0.1:0",
            "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready), *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Wait for the ready file (the server writes it once bound).
    for _ in range(600):
        if ready.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    if not ready.exists():
        stop(process)
        raise AssertionError("capf serve did not start")
    return process, json.loads(ready.read_text())["capf"]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    process, address = start_serve(binary, tmp_path, data, db)
    try:
        yield address, db, binary
    finally:
        stop(process)


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


# ---- certificate authentication (--lsc, --mic), --key, --retries ----------

LSC_DEVICE = "SEP00112233AAC1"
MIC_DEVICE = "SEP00112233AAC2"


def pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def manufacturing_ca(
    tmp_path: Path, seed: int = 0x5EED_CAFE_0001, common_name: str = "Test MIC Root"
) -> tuple[Path, capf.LscIssuer]:
    """A MIC maker's root (a self-signed CA made with `cryptography`, not
    with this package, from a fixed key) and an issuer of MICs under it."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.derive_private_key(seed, ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x4D4943)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / f"{seed:x}.pem"
    path.write_text(certificate_pem)
    return path, capf.LscIssuer(certificate_pem, key_pem)


def credential_file(path: Path, issuer: capf.LscIssuer, device: str) -> Path:
    """A certificate + PKCS#8 key file for `device`, issued by `issuer`."""
    spki, key_pem = capf.generate_key("ec:p256")
    issued = issuer.issue(
        device, spki, datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    )
    path.write_text(pem("CERTIFICATE", issued) + key_pem)
    return path


@pytest.fixture
def certificate_server(
    tmp_path: Path, data: Path
) -> Iterator[tuple[str, Path, Path, capf.LscIssuer]]:
    """`capf serve` with an LSC-authenticated and a MIC-authenticated
    device, trusting the test MIC root (--verify)."""
    binary = capf_binary()
    mic_root, mic_issuer = manufacturing_ca(tmp_path)
    db = tmp_path / "capf.db"
    for args in (
        ["--operation", "install", "--auth", "lsc", "--key", "ec:p256", LSC_DEVICE],
        ["--operation", "install", "--auth", "mic", "--key", "ec:p256", MIC_DEVICE],
    ):
        added = run_capf(binary, "device", "add", "--db", str(db), *args)
        assert added.returncode == 0, added.stderr
    process, address = start_serve(binary, tmp_path, data, db, "--verify", str(mic_root))
    try:
        yield address, db, binary, mic_issuer
    finally:
        stop(process)


def lsc_issuer(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


def installed_serial(binary: Path, db: Path, device: str) -> str:
    shown = run_capf(binary, "device", "show", "--db", str(db), device)
    assert shown.returncode == 0, shown.stderr
    assert "install successful" in shown.stdout, shown.stdout
    return shown.stdout


def stored_certificate(path: Path) -> bytes:
    text = path.read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def test_python_phone_enrolls_with_its_lsc(
    certificate_server: tuple[str, Path, Path, capf.LscIssuer], data: Path, tmp_path: Path
) -> None:
    address, db, binary, _ = certificate_server
    example = load_example()
    common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
              "--device", LSC_DEVICE]
    # An LSC from a CA this server does not trust: refused.
    _, stranger = manufacturing_ca(tmp_path, 0x5EED_CAFE_0002, "Stranger CA")
    foreign = credential_file(tmp_path / "foreign.pem", stranger, LSC_DEVICE)
    assert example.main([*common, "--out", str(tmp_path / "x.pem"), "--lsc", str(foreign)]) == 1
    assert not (tmp_path / "x.pem").exists()
    # The LSC the server's issuer gave this phone: the new LSC is installed.
    old = credential_file(tmp_path / "old-lsc.pem", lsc_issuer(data), LSC_DEVICE)
    out = tmp_path / "new-lsc.pem"
    assert example.main([*common, "--out", str(out), "--lsc", str(old)]) == 0
    new = stored_certificate(out)
    assert new != stored_certificate(old)
    shown = installed_serial(binary, db, LSC_DEVICE)
    assert f"(serial {certificate_serial(new).hex()})" in shown


def test_python_phone_enrolls_with_its_mic(
    certificate_server: tuple[str, Path, Path, capf.LscIssuer], data: Path, tmp_path: Path
) -> None:
    address, db, binary, mic_issuer = certificate_server
    example = load_example()
    common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
              "--device", MIC_DEVICE]
    # No credential at all (null string) for a MIC device: refused.
    assert example.main([*common, "--out", str(tmp_path / "x.pem")]) == 1
    mic = credential_file(tmp_path / "mic.pem", mic_issuer, MIC_DEVICE)
    out = tmp_path / "lsc.pem"
    assert example.main([*common, "--out", str(out), "--mic", str(mic)]) == 0
    shown = installed_serial(binary, db, MIC_DEVICE)
    assert f"(serial {certificate_serial(stored_certificate(out)).hex()})" in shown


def test_key_family_excluded_is_refused(
    server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, db, binary = server
    example = load_example()
    out = tmp_path / "lsc.pem"
    common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
              "--device", DEVICE, "--out", str(out)]
    # The server schedules ec:p256; --key rsa refuses to generate it.
    assert example.main([*common, "--key", "rsa"]) == 1
    assert not out.exists()
    assert example.main([*common, "--key", "ec"]) == 0
    assert out.exists()


def test_flags_as_capf_enroll(data: Path, tmp_path: Path) -> None:
    example = load_example()
    ca = str(data / "issuer-ec-p256.cert.pem")
    common = ["--server", "127.0.0.1:9", "--ca", ca, "--device", DEVICE,
              "--out", str(tmp_path / "x.pem")]
    # Bad usage: exit 2 before any connection.
    assert example.main([*common, "--key", "dsa"]) == 2
    assert example.main([*common, "--auth-string", "1234", "--lsc", ca]) == 2
    assert example.main([*common, "--lsc", ca]) == 2  # no private key in the file
    assert example.main([*common, "--retries", "x"]) == 2
    assert example.main([*common[:-1], str(tmp_path)]) == 2  # --out is a folder
    # Unreachable, tried again twice without waiting: still exit 2, and it
    # says so for each attempt.
    assert example.main([*common, "--retries", "2", "--retry-interval", "0"]) == 2


def test_retries_count_the_attempts(
    data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    status = example.main(
        ["--server", "127.0.0.1:9", "--ca", str(data / "issuer-ec-p256.cert.pem"),
         "--device", DEVICE, "--out", str(tmp_path / "x.pem"),
         "--retries", "2", "--retry-interval", "0"]
    )
    assert status == 2
    err = capfd.readouterr().err
    assert "attempt 1 of 3" in err and "attempt 2 of 3" in err
    assert "attempt 3 of 3" not in err


def test_untrusted_server_certificate_exits_1(
    server: tuple[str, Path, Path], data: Path, tmp_path: Path
) -> None:
    address, _, _ = server
    example = load_example()
    out = tmp_path / "lsc.pem"
    # Pinned to another certificate than the server's: refused (1), as
    # capf enroll does, and nothing stored.
    status = example.main(
        ["--server", address, "--ca", str(data / "keys/capf.pem"), "--device", DEVICE,
         "--out", str(out)]
    )
    assert status == 1
    assert not out.exists()


def test_ca_from_a_ctl_pins_its_capf_records(data: Path, tmp_path: Path) -> None:
    example = load_example()
    ctl = capf.TrustList.from_file(data / "cucm-CTLFile.tlv")
    expected = [r.certificate for r in ctl.records if r.role == capf.Role.CAPF]
    assert expected and all(c is not None for c in expected)
    assert example.trusted_capf_certificates(data / "cucm-CTLFile.tlv") == expected
    # A list that does not verify is not trusted (bad usage, as capf enroll).
    assert example.main(
        ["--server", "127.0.0.1:9", "--ca", str(data / "ctl-sha1-badsig.tlv"),
         "--device", DEVICE, "--out", str(tmp_path / "x.pem")]
    ) == 2


# ---- the offline CA: the Python phone keeps its key across sessions --------


def spki_of_lsc_file(path: Path) -> bytes:
    """The public key of the certificate in an LSC file (certificate +
    key, as the phone stores it)."""
    text = path.read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return capf.subject_public_key_info(base64.b64decode("".join(body.split())))


def test_python_phone_keeps_its_key_until_the_offline_ca_signs_it(
    tmp_path: Path, data: Path
) -> None:
    """Against `capf serve --offline-ca`: the first session (with a
    phone-signed PKCS#10 request) ends pending, exit 3, the new key kept in
    OUT.pending-key.pem; the request carries that key and its signature
    verifies (checked with `cryptography`); once the certificate is
    imported, the next session stores it without a new key and removes the
    pending file. A second phone whose pending key is not the certificate's
    answers the store with a failure (exit 1), keeps its key, writes no
    LSC, and the server marks the request stale."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        print("SKIPPED: the cryptography package is not installed", file=sys.stderr)
        pytest.skip("SKIPPED: the cryptography package is not installed")
    binary = capf_binary()
    db = tmp_path / "capf.db"
    other_device = "SEP00112233AABC"
    for device in (DEVICE, other_device):
        added = run_capf(binary, "device", "add", "--db", str(db), "--operation", "install",
                         "--auth", "null", "--key", "ec:p256", device)
        assert added.returncode == 0, added.stderr
    process, address = start_serve(binary, tmp_path, data, db, "--offline-ca")
    try:
        example = load_example()
        registry = capf.Registry(db)
        issuer = capf.LscIssuer((data / "issuer-ec-p256.cert.pem").read_text(),
                                (data / "issuer-ec-p256.key.pem").read_text())
        now = datetime.datetime.now(datetime.timezone.utc)
        common = ["--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem")]

        out = tmp_path / "lsc.pem"
        pending = tmp_path / "lsc.pem.pending-key.pem"
        arguments = [*common, "--device", DEVICE, "--out", str(out)]
        assert example.main([*arguments, "--send-csr"]) == 3
        assert not out.exists()
        assert pending.stat().st_mode & 0o077 == 0
        kept_key = serialization.load_pem_private_key(pending.read_bytes(), password=None)
        kept_spki = kept_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        [request] = registry.certificate_requests()
        assert (request.device, request.state, request.public_key) == (DEVICE, "pending", kept_spki)
        assert request.csr is not None
        csr = x509.load_der_x509_csr(request.csr)
        assert csr.is_signature_valid
        assert csr.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == kept_spki
        signed = issuer.issue(DEVICE, request.public_key, now)
        registry.import_certificate(signed, now=now)
        # Stored without a key generation: the server sends the imported
        # certificate, and only the kept key matches it.
        assert example.main(arguments) == 0
        assert not pending.exists()
        assert spki_of_lsc_file(out) == kept_spki
        assert [(e.certificate, e.state) for e in registry.certificates(DEVICE)] == [
            (signed, "installed")
        ]

        # A pending key that is not the certificate's.
        other_out = tmp_path / "other.pem"
        other_pending = tmp_path / "other.pem.pending-key.pem"
        other_arguments = [*common, "--device", other_device, "--out", str(other_out)]
        assert example.main(other_arguments) == 3
        [other_request] = [r for r in registry.certificate_requests() if r.device == other_device]
        registry.import_certificate(issuer.issue(other_device, other_request.public_key, now),
                                    now=now)
        stranger = ec.generate_private_key(ec.SECP256R1())
        stranger_text = stranger.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode() + stranger.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        other_pending.write_text(stranger_text)
        assert example.main(other_arguments) == 1
        assert not other_out.exists()
        assert other_pending.read_text() == stranger_text
        assert [r.device for r in registry.certificate_requests(stale=True)] == [other_device]
    finally:
        stop(process)
