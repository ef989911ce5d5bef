"""LSCs signed by an online CA through EST from Python: `capf.EstIssuer`
given to `Registry.host(...)`, and the example server
`examples/capf_server.py --est-url ...` enrolling the example phone
`examples/enroll.py --send-csr`, against a minimal EST responder written
here (Python's ``ssl`` and ``http.server`` on loopback, certificates signed
with ``cryptography``, answers as certs-only PKCS#7 from
``pkcs7.serialize_certificates``). The certificates are checked with
``cryptography`` (issuer, key), independently of capf; refusals by the
END_SESSION reason and the status in the registry's report."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import ipaddress
import json
import signal
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

import capf

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DEVICE = "SEP0011223344E5"
USER, PASSWORD = "capf", "est-secret-1"


class Responder:
    """An EST CA on 127.0.0.1 for the tests: `/cacerts` and `/simpleenroll`
    (HTTP basic authentication), signing whatever request arrives."""

    def __init__(self, tmp_path: Path) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Python EST CA")])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls_certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(name)
            .public_key(tls_key.public_key())
            .serial_number(2)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.ca_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.ca_file = tmp_path / "est-ca.pem"
        self.ca_file.write_bytes(self.ca_pem)
        tls_file = tmp_path / "est-tls.pem"
        tls_file.write_bytes(
            tls_certificate.public_bytes(serialization.Encoding.PEM)
            + tls_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.statuses: list[int] = []
        self.next_serial = 0x100
        self.lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_file)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"

    def issue(self, request_der: bytes) -> bytes:
        """The certs-only PKCS#7 (DER) of a certificate for the request's
        key and subject, with the CA."""
        request = x509.load_der_x509_csr(request_der)
        assert request.is_signature_valid
        with self.lock:
            serial = self.next_serial
            self.next_serial += 1
        certificate = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.certificate.subject)
            .public_key(request.public_key())
            .serial_number(serial)
            .not_valid_before(NOW - dt.timedelta(minutes=5))
            .not_valid_after(NOW + dt.timedelta(days=10))
            .sign(self.key, hashes.SHA256())
        )
        return pkcs7.serialize_certificates(
            [certificate, self.certificate], serialization.Encoding.DER
        )

    def handler(self) -> type[BaseHTTPRequestHandler]:
        responder = self
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def answer(self, status: int, body: bytes, content_type: str) -> None:
                with responder.lock:
                    responder.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def pkcs7(self, der: bytes) -> None:
                self.answer(
                    200,
                    base64.encodebytes(der),
                    "application/pkcs7-mime; smime-type=certs-only",
                )

            def do_GET(self) -> None:
                if self.path != "/.well-known/est/cacerts":
                    self.answer(404, b"not found", "text/plain")
                    return
                self.pkcs7(
                    pkcs7.serialize_certificates(
                        [responder.certificate], serialization.Encoding.DER
                    )
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self.path != "/.well-known/est/simpleenroll":
                    self.answer(404, b"not found", "text/plain")
                elif self.headers.get("Authorization") != expected:
                    self.answer(401, b"unauthorized", "text/plain")
                else:
                    self.pkcs7(responder.issue(base64.b64decode(body)))

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def responder(tmp_path: Path) -> Iterator[Responder]:
    found = Responder(tmp_path)
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def local(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


def enroll_in_memory(
    registry: capf.Registry,
    issuer: capf.EstIssuer,
    send_csr: bool,
) -> tuple[capf.ServerOutcome, capf.PhoneOutcome, Optional[bytes]]:
    """One install session between a phone and a server session in memory,
    the server's decisions made by `registry.host(issuer)`; returns both
    outcomes and the phone's public key (DER SPKI)."""
    host = registry.host(issuer)
    server = capf.ServerSession(0x2468, NOW)
    phone = capf.PhoneSession(DEVICE, NOW, send_certificate_request=send_csr)
    server_outcome: Optional[capf.ServerOutcome] = None
    phone_outcome: Optional[capf.PhoneOutcome] = None
    spki: Optional[bytes] = None
    key_pem: Optional[str] = None
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
                    spki, key_pem = capf.generate_key(d.key_request)
                    phone.answer_key(spki)
                elif d.kind == "sign_certificate_request":
                    assert key_pem is not None and d.message and d.algorithm
                    phone.answer_certificate_request(d, key_pem)
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
    return server_outcome, phone_outcome, spki


def status_of(registry: capf.Registry, device: str) -> str:
    """The device's status in Cisco's words, from the registry's CSV report."""
    rows = list(csv.DictReader(io.StringIO(registry.report_csv())))
    (row,) = [row for row in rows if DEVICE in row.values()]
    (status,) = [value for key, value in row.items() if key.lower() == "status"]
    return status


def check_signed_by(certificate_der: bytes, responder: Responder, spki: bytes) -> None:
    """Issued by the responder's CA (its signature verifies) for the
    phone's key, read with `cryptography`."""
    certificate = x509.load_der_x509_certificate(certificate_der)
    assert certificate.issuer == responder.certificate.subject
    certificate.verify_directly_issued_by(responder.certificate)
    assert (
        certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == spki
    )
    assert DEVICE in certificate.subject.rfc4514_string()


def test_the_est_ca_signs_the_lsc_of_a_phone_that_sends_a_request(
    tmp_path: Path, responder: Responder
) -> None:
    issuer = capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=PASSWORD)
    assert issuer.timeout_seconds == 30
    # /cacerts: the CA itself, trusted later as an LSC issuer.
    assert issuer.ca_certificates() == [
        responder.certificate.public_bytes(serialization.Encoding.DER)
    ]
    registry = capf.Registry(tmp_path / "capf.db")
    registry.add_device(DEVICE, key="ec:p256", now=NOW)
    server, phone, spki = enroll_in_memory(registry, issuer, send_csr=True)
    assert server.result == "installed" and phone.result == "installed", server
    assert phone.certificate is not None and spki is not None
    check_signed_by(phone.certificate, responder, spki)
    ledger = registry.certificates(DEVICE)
    assert [(entry.state, entry.certificate) for entry in ledger] == [
        ("installed", phone.certificate)
    ]
    assert ledger[0].serial_hex.lstrip("0") == "100"
    assert responder.statuses == [200, 200]


def test_a_refusing_ca_ends_with_7_and_ca_rejected_connection(
    tmp_path: Path, responder: Responder
) -> None:
    issuer = capf.EstIssuer(responder.url, responder.ca_file.read_bytes(),
                            user=USER, password="wrong", timeout_seconds=5)
    registry = capf.Registry(tmp_path / "capf.db")
    registry.add_device(DEVICE, key="ec:p256", now=NOW)
    server, phone, _ = enroll_in_memory(registry, issuer, send_csr=True)
    assert server.result == "issue_refused" and server.end_reason == 7, server
    assert not phone.is_success and phone.certificate is None
    assert responder.statuses == [401]
    assert registry.certificates(DEVICE) == []
    assert "CA Rejected Connection" in status_of(registry, DEVICE)
    # Still scheduled: a later session may succeed.
    assert registry.device(DEVICE).operation == "install"


def test_a_phone_without_a_request_is_refused_without_asking_the_ca(
    tmp_path: Path, responder: Responder
) -> None:
    issuer = capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=PASSWORD)
    registry = capf.Registry(tmp_path / "capf.db")
    registry.add_device(DEVICE, key="ec:p256", now=NOW)
    server, _, _ = enroll_in_memory(registry, issuer, send_csr=False)
    assert server.end_reason == 7
    assert responder.statuses == []
    assert "CA Rejected Connection" in status_of(registry, DEVICE)


def test_an_unreachable_ca_is_a_communication_failure(
    tmp_path: Path, responder: Responder
) -> None:
    responder.close()
    issuer = capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=PASSWORD,
                            timeout_seconds=2)
    with pytest.raises(capf.EstError):
        issuer.ca_certificates()
    registry = capf.Registry(tmp_path / "capf.db")
    registry.add_device(DEVICE, key="ec:p256", now=NOW)
    server, _, _ = enroll_in_memory(registry, issuer, send_csr=True)
    assert server.end_reason == 7
    assert "CA Communication Failure" in status_of(registry, DEVICE)


def test_est_issuer_misuse(responder: Responder) -> None:
    attempts: list[Callable[[], object]] = [
        lambda: capf.EstIssuer("http://127.0.0.1:1", responder.ca_pem),
        lambda: capf.EstIssuer(responder.url, b"not a certificate"),
        lambda: capf.EstIssuer(responder.url, responder.ca_pem, user=USER),
        lambda: capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=""),
        lambda: capf.EstIssuer(responder.url, responder.ca_pem, timeout_seconds=0),
        lambda: capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=PASSWORD,
                               client_certificate=responder.ca_pem,
                               client_key=capf.generate_key("ec:p256")[1]),
        lambda: capf.EstIssuer(responder.url, responder.ca_pem,
                               client_certificate=responder.ca_pem),
    ]
    for bad in attempts:
        with pytest.raises(capf.MisuseError):
            bad()
    issuer = capf.EstIssuer(responder.url, responder.ca_pem, user=USER, password=PASSWORD)
    # The password is in no representation of the issuer.
    assert PASSWORD not in repr(issuer)


# ---- the example server and the example phone -------------------------------


def start_example_server(
    tmp_path: Path, data: Path, responder: Responder, password: str
) -> tuple[subprocess.Popen[str], str, Path]:
    db = tmp_path / "capf.db"
    capf.Registry(db).add_device(DEVICE, key="ec:p256", now=NOW)
    password_file = tmp_path / "est-password"
    password_file.write_text(password + "\n")
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable, str(ROOT / "python/examples/capf_server.py"),
            "--listen", "127.0.0.1:0",
            "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready),
            "--est-url", responder.url, "--est-ca", str(responder.ca_file),
            "--est-user", USER, "--est-password-file", str(password_file),
            "--est-timeout-seconds", "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        if ready.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    assert ready.exists(), f"capf_server.py did not start: {process.stderr}"
    return process, str(json.loads(ready.read_text())["capf"]), db


def stop_example_server(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise
    errors = process.stderr.read() if process.stderr else ""
    assert status == 0, errors
    return errors


def run_enroll(address: str, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, str(ROOT / "python/examples/enroll.py"),
            "--server", address, "--ca", str(data / "issuer-ec-p256.cert.pem"),
            "--device", DEVICE, "--out", str(out), "--key", "ec", *extra,
        ],
        capture_output=True, text=True, check=False, timeout=120,
    )


def test_example_server_with_est_enrolls_the_example_phone(
    tmp_path: Path, data: Path, responder: Responder
) -> None:
    process, address, db = start_example_server(tmp_path, data, responder, PASSWORD)
    try:
        out = tmp_path / "lsc.pem"
        # Without --send-csr: refused (exit 1), nothing asked of the CA.
        refused = run_enroll(address, data, out)
        assert refused.returncode == 1, refused.stderr
        assert responder.statuses == [200]  # /cacerts at start
        enrolled = run_enroll(address, data, out, "--send-csr")
        assert enrolled.returncode == 0, enrolled.stderr
    finally:
        errors = stop_example_server(process)
    assert "trusted as LSC issuers" in errors
    text = out.read_text()
    certificate = x509.load_pem_x509_certificate(text.encode())
    key = serialization.load_pem_private_key(text.encode(), password=None)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    check_signed_by(certificate.public_bytes(serialization.Encoding.DER), responder, spki)
    registry = capf.Registry(db)
    assert [entry.state for entry in registry.certificates(DEVICE)] == ["installed"]
    assert registry.device(DEVICE).status == "successful"


def test_example_server_with_a_refusing_est_ca(
    tmp_path: Path, data: Path, responder: Responder
) -> None:
    process, address, db = start_example_server(tmp_path, data, responder, "wrong")
    try:
        refused = run_enroll(address, data, tmp_path / "lsc.pem", "--send-csr")
        assert refused.returncode == 1, refused.stderr
    finally:
        errors = stop_example_server(process)
    assert "END_SESSION 7" in errors
    assert responder.statuses == [200, 401]
    assert "CA Rejected Connection" in status_of(capf.Registry(db), DEVICE)


def test_example_server_est_usage(tmp_path: Path, data: Path, responder: Responder) -> None:
    common = [
        sys.executable, str(ROOT / "python/examples/capf_server.py"),
        "--listen", "127.0.0.1:0",
        "--cert", str(data / "issuer-ec-p256.cert.pem"),
        "--key", str(data / "issuer-ec-p256.key.pem"),
        "--db", str(tmp_path / "capf.db"),
    ]
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD)
    for extra, message in (
        (["--est-url", responder.url], "--est-url needs --est-ca"),
        (["--est-ca", str(responder.ca_file)], "needs --est-url"),
        (["--est-url", responder.url, "--est-ca", str(responder.ca_file), "--est-user", USER],
         "go together"),
        (["--est-url", responder.url, "--est-ca", str(responder.ca_file),
          "--est-user", USER, "--est-password-file", str(password_file),
          "--est-cert", str(responder.ca_file), "--est-key", str(responder.ca_file)],
         "cannot be used together"),
        # The CA's certificates cannot be read (no such server): no start.
        (["--est-url", "https://127.0.0.1:1", "--est-ca", str(responder.ca_file),
          "--est-timeout-seconds", "2"], "/cacerts"),
    ):
        run = subprocess.run([*common, *extra], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, (extra, run.stderr)
        assert message in run.stderr, (extra, run.stderr)
