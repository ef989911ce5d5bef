"""The core's TLS connection (rustls) from Python: a PhoneSession over a
client TlsConnection against `capf serve` on loopback (plain blocking
sockets), and against a Python ServerSession over a server TlsConnection
in memory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator, Optional, Union

import pytest

import capf

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DEVICE = "SEP00112233CCDD"
LSC_DEVICE = "SEP00112233CCDE"
MIC_DEVICE = "SEP00112233CCDF"

Item = Union[capf.Transmit, capf.Need, capf.Done, capf.TlsFailed, capf.Abandoned]


class PhoneHost:
    """Answers a phone session's decisions; remembers what it saw."""

    def __init__(
        self, session: capf.PhoneSession, signer: Optional[capf.SoftwareSigner] = None
    ) -> None:
        self.session = session
        self.signer = signer
        self.key: Optional[bytes] = None
        self.stored: list[bytes] = []
        self.proofs = 0

    def answer(self, decision: capf.Decision) -> None:
        if decision.kind == "sign_proof" and self.signer is not None:
            assert self.signer.answer(self.session, decision)
            self.proofs += 1
        elif decision.kind == "generate_key":
            assert decision.key_request is not None
            self.key, _ = capf.generate_key(decision.key_request)
            self.session.answer_key(self.key)
        elif decision.kind == "store_certificate":
            assert decision.certificate is not None
            self.stored.append(decision.certificate)
            self.session.answer_store()
        else:
            raise AssertionError(f"unexpected decision {decision.kind}")


class ServerHost:
    def __init__(self, session: capf.ServerSession, issuer: capf.LscIssuer) -> None:
        self.session, self.issuer = session, issuer
        self.ledger: list[bytes] = []

    def answer(self, decision: capf.Decision) -> None:
        if decision.kind == "look_up_device":
            self.session.answer_device(capf.DeviceRecord(DEVICE, key="ec:p256"))
        elif decision.kind == "issue_certificate":
            assert decision.subject_public_key_info is not None
            self.session.answer_certificate(
                self.issuer.issue(DEVICE, decision.subject_public_key_info, NOW)
            )
        elif decision.kind == "record_pending_certificate":
            assert decision.certificate is not None
            self.ledger.append(decision.certificate)
            self.session.answer_pending_recorded()
        elif decision.kind == "record_outcome":
            self.session.answer_outcome_recorded()
        else:
            raise AssertionError(f"unexpected decision {decision.kind}")


def pump(
    connection: capf.TlsConnection, host: Union[PhoneHost, ServerHost], seen: list[Item]
) -> bytes:
    """Drains the connection: answers its decisions, returns its TCP bytes."""
    out = b""
    while (item := connection.poll_output()) is not None:
        seen.append(item)
        if isinstance(item, capf.Transmit):
            out += item.data
        elif isinstance(item, capf.Need):
            host.answer(item.decision)
    return out


@pytest.fixture
def issuer(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


def test_phone_and_server_over_rustls_in_memory(data: Path, issuer: capf.LscIssuer) -> None:
    server_cert = (data / "issuer-ec-p256.cert.pem").read_bytes()
    server_key = (data / "issuer-ec-p256.key.pem").read_bytes()
    server_session = capf.ServerSession(0x7777, NOW)
    phone_session = capf.PhoneSession(DEVICE, NOW)
    server = capf.TlsConnection.server(
        server_session, server_cert, server_key, NOW, handshake_timeout=30.0
    )
    phone = capf.TlsConnection.client(phone_session, "capf.example", server_cert, NOW)
    assert server.session is server_session and phone.session is phone_session
    assert phone.is_handshaking()
    server_host, phone_host = ServerHost(server_session, issuer), PhoneHost(phone_session)
    server_seen: list[Item] = []
    phone_seen: list[Item] = []
    for _ in range(200):
        to_server = pump(phone, phone_host, phone_seen)
        if to_server:
            server.handle_tcp_input(to_server)
        to_phone = pump(server, server_host, server_seen)
        if to_phone:
            phone.handle_tcp_input(to_phone)
        if not to_server and not to_phone:
            break
    assert phone.is_done() and server.is_done()
    phone_done, server_done = phone_seen[-1], server_seen[-1]
    assert isinstance(phone_done, capf.Done) and isinstance(server_done, capf.Done)
    assert isinstance(phone_done.outcome, capf.PhoneOutcome)
    assert isinstance(server_done.outcome, capf.ServerOutcome)
    assert phone_done.outcome.result == "installed"
    assert server_done.outcome.result == "installed" and server_done.outcome.recorded
    assert phone_host.stored == server_host.ledger and len(phone_host.stored) == 1
    assert phone_host.key == capf.subject_public_key_info(phone_host.stored[0])
    # The phone saw the pinned certificate; TLS 1.2 or 1.3 was negotiated.
    peer = phone.peer_certificates()
    assert peer is not None and peer[0] == issuer.certificate
    assert phone.protocol_version() in ("TLSv1_2", "TLSv1_3")
    # The session object was driven by the connection.
    assert phone_session.is_done() and server_session.is_done()
    # The recorded outcome was answered before the final frame left: the
    # record_outcome Need precedes the last Transmit of the server.
    kinds = [
        item.decision.kind if isinstance(item, capf.Need) else type(item).__name__
        for item in server_seen
    ]
    assert kinds.index("record_outcome") < len(kinds) - 2
    assert kinds[-2:] == ["Transmit", "Done"]


def test_the_connection_waits_while_another_thread_answers(
    data: Path, issuer: capf.LscIssuer
) -> None:
    """The session answers a PBKDF2-checked lookup in a worker thread (GIL
    released, session held) while this thread keeps asking the connection
    about it: neither deadlocks, and the enrollment completes."""
    import threading

    server_cert = (data / "issuer-ec-p256.cert.pem").read_bytes()
    server_session = capf.ServerSession(0x8888, NOW)
    phone_session = capf.PhoneSession(DEVICE, NOW, auth_string="4812")
    server = capf.TlsConnection.server(
        server_session, server_cert, (data / "issuer-ec-p256.key.pem").read_bytes(), NOW
    )
    phone = capf.TlsConnection.client(phone_session, "capf.example", server_cert, NOW)
    record = capf.DeviceRecord(
        DEVICE, key="ec:p256", auth="auth-string", auth_string="4812", auth_iterations=300_000
    )
    host = ServerHost(server_session, issuer)
    phone_host = PhoneHost(phone_session)
    outcome: Optional[capf.ServerOutcome] = None
    for _ in range(200):
        to_server = pump(phone, phone_host, [])
        if to_server:
            server.handle_tcp_input(to_server)
        to_phone = b""
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_phone += item.data
            elif isinstance(item, capf.Need) and item.decision.kind == "look_up_device":
                worker = threading.Thread(target=server_session.answer_device, args=(record,))
                worker.start()
                while worker.is_alive():
                    server.poll_timeout()
                    server.is_done()
                worker.join(timeout=300)
                assert not worker.is_alive()
            elif isinstance(item, capf.Need):
                host.answer(item.decision)
            elif isinstance(item, capf.Done):
                assert isinstance(item.outcome, capf.ServerOutcome)
                outcome = item.outcome
        if to_phone:
            phone.handle_tcp_input(to_phone)
        if not to_server and not to_phone:
            break
    # (How often this thread got in depends on timing: not asserted.)
    assert outcome is not None and outcome.result == "installed"
    assert outcome.authenticated is True


def test_a_server_not_pinned_fails_tls_and_ends_the_session(data: Path) -> None:
    server_cert = (data / "issuer-ec-p256.cert.pem").read_bytes()
    server_key = (data / "issuer-ec-p256.key.pem").read_bytes()
    other = (data / "keys" / "sast.pem").read_bytes()
    server = capf.TlsConnection.server(capf.ServerSession(1, NOW), server_cert, server_key, NOW)
    phone_session = capf.PhoneSession(DEVICE, NOW)
    phone = capf.TlsConnection.client(phone_session, "capf.example", other, NOW)
    phone_seen: list[Item] = []
    for _ in range(20):
        to_server = pump(phone, PhoneHost(phone_session), phone_seen)
        if to_server:
            server.handle_tcp_input(to_server)
        to_phone = b""
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                to_phone += item.data
        if to_phone:
            phone.handle_tcp_input(to_phone)
        if phone.is_done() or (not to_server and not to_phone):
            break
    failures = [item for item in phone_seen if isinstance(item, capf.TlsFailed)]
    assert len(failures) == 1 and failures[0].message != ""
    last = phone_seen[-1]
    assert isinstance(last, capf.Done)
    assert isinstance(last.outcome, capf.PhoneOutcome)
    assert last.outcome.is_success is False


def handshake(
    server: capf.TlsConnection, phone: capf.TlsConnection
) -> tuple[list[Item], list[Item]]:
    """Moves TCP bytes until neither side has any; no decision is answered."""
    server_seen: list[Item] = []
    phone_seen: list[Item] = []
    for _ in range(20):
        to_server = b""
        while (item := phone.poll_output()) is not None:
            phone_seen.append(item)
            if isinstance(item, capf.Transmit):
                to_server += item.data
        if to_server:
            server.handle_tcp_input(to_server)
        to_phone = b""
        while (item := server.poll_output()) is not None:
            server_seen.append(item)
            if isinstance(item, capf.Transmit):
                to_phone += item.data
        if to_phone:
            phone.handle_tcp_input(to_phone)
        if not to_server and not to_phone:
            break
    return server_seen, phone_seen


@pytest.mark.parametrize("role,trusted", [(capf.Role.CAPF, True), (capf.Role.CCM, False)])
def test_the_phone_trusts_the_server_through_a_ctl(
    data: Path, role: capf.Role, trusted: bool
) -> None:
    server_cert = (data / "issuer-ec-p256.cert.pem").read_bytes()
    sast = (data / "keys" / "sast.pem").read_bytes()
    ctl = (
        capf.TrustListBuilder("ctl", sast, sast, timestamp=1_796_000_000)
        .record(sast, capf.Role.SAST)
        .record(server_cert, role)
        .record((data / "keys" / "capf.pem").read_bytes(), capf.Role.CAPF)  # another CAPF
        .build()
    )
    server = capf.TlsConnection.server(
        capf.ServerSession(1, NOW), server_cert, (data / "issuer-ec-p256.key.pem").read_bytes(), NOW
    )
    phone = capf.TlsConnection.client(capf.PhoneSession(DEVICE, NOW), "192.0.2.1", ctl, NOW)
    _, phone_seen = handshake(server, phone)
    failed = [item for item in phone_seen if isinstance(item, capf.TlsFailed)]
    if trusted:
        assert failed == [] and not phone.is_handshaking()
        assert phone.protocol_version() is not None
    else:
        assert len(failed) == 1
    # A list without any CAPF record, or damaged, is refused before any
    # byte is sent.
    no_capf = (
        capf.TrustListBuilder("ctl", sast, sast, timestamp=1_796_000_000)
        .record(sast, capf.Role.SAST)
        .build()
    )
    with pytest.raises(capf.MisuseError) as caught:
        capf.TlsConnection.client(capf.PhoneSession(DEVICE, NOW), "192.0.2.1", no_capf, NOW)
    assert "CAPF" in str(caught.value)
    damaged = bytearray(ctl)
    damaged[-2] ^= 0x01
    with pytest.raises(capf.MisuseError):
        capf.TlsConnection.client(
            capf.PhoneSession(DEVICE, NOW), "192.0.2.1", bytes(damaged), NOW
        )


def test_handshake_deadline_abandons(data: Path) -> None:
    server = capf.TlsConnection.server(
        capf.ServerSession(1, NOW),
        (data / "issuer-ec-p256.cert.pem").read_bytes(),
        (data / "issuer-ec-p256.key.pem").read_bytes(),
        NOW,
        handshake_timeout=5.0,
    )
    assert server.poll_output() is None
    deadline = server.poll_timeout()
    assert deadline is not None and deadline <= NOW + timedelta(seconds=5)
    server.handle_timeout(NOW + timedelta(seconds=6))
    items = []
    while (item := server.poll_output()) is not None:
        items.append(item)
    assert isinstance(items[-1], capf.Abandoned)
    assert items[-1].reason == "handshake_timeout"
    assert server.is_done()


def test_connection_misuse(data: Path) -> None:
    cert = (data / "issuer-ec-p256.cert.pem").read_bytes()
    key = (data / "issuer-ec-p256.key.pem").read_bytes()
    session = capf.ServerSession(1, NOW)
    first = capf.TlsConnection.server(session, cert, key, NOW)
    with pytest.raises(capf.MisuseError):
        capf.TlsConnection.server(session, cert, key, NOW)  # already carried
    assert first.session is session
    with pytest.raises(capf.MisuseError):
        capf.TlsConnection.server(capf.PhoneSession(DEVICE, NOW), cert, key, NOW)  # type: ignore[arg-type]
    with pytest.raises(capf.MisuseError):
        capf.TlsConnection.client(capf.ServerSession(1, NOW), "x", cert, NOW)  # type: ignore[arg-type]
    with pytest.raises(capf.CapfError):
        capf.TlsConnection.server(capf.ServerSession(1, NOW), cert, b"\x00\x01", NOW)
    with pytest.raises(capf.MisuseError):
        capf.TlsConnection.server(
            capf.ServerSession(1, NOW), cert, key, NOW, handshake_timeout=-1.0
        )


# ---- against `capf serve` on loopback ---------------------------------------


def capf_binary() -> Path:
    found = Path(os.environ.get("CAPF_BIN", ROOT / "target" / "debug" / "capf"))
    if not found.is_file():
        print(f"SKIPPED: the capf binary is not built ({found})", file=sys.stderr)
        pytest.skip(f"SKIPPED: the capf binary is not built ({found}); cargo build -p capf-cli")
    return found


@pytest.fixture
def capf_serve(tmp_path: Path, data: Path) -> Iterator[str]:
    binary = capf_binary()
    db = tmp_path / "capf.db"
    for auth, device in (("null", DEVICE), ("lsc", LSC_DEVICE), ("mic", MIC_DEVICE)):
        added = subprocess.run(
            [str(binary), "device", "add", "--db", str(db), "--operation", "install",
             "--auth", auth, "--key", "ec:p256", device],
            capture_output=True, text=True, check=False,
        )
        assert added.returncode == 0, added.stderr
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            str(binary), "serve", "--listen", "127.0.0.1:0",
            "--cert", str(data / "issuer-ec-p256.cert.pem"),
            "--key", str(data / "issuer-ec-p256.key.pem"),
            "--db", str(db), "--ready-file", str(ready),
            # The test's manufacturer: the SAST test key acts as MIC root.
            "--verify", str(data / "keys" / "sast.pem"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert ready.exists(), "capf serve did not start"
        yield str(json.loads(ready.read_text())["capf"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def enroll_over_socket(
    address: str, data: Path, phone: PhoneHost, now: datetime
) -> capf.PhoneOutcome:
    """Plain blocking sockets around a client TlsConnection."""
    host, port = address.rsplit(":", 1)
    connection = capf.TlsConnection.client(
        phone.session, host, (data / "issuer-ec-p256.cert.pem").read_bytes(), now
    )
    outcome: Optional[capf.PhoneOutcome] = None
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        while outcome is None:
            while (item := connection.poll_output()) is not None:
                if isinstance(item, capf.Transmit):
                    sock.sendall(item.data)
                elif isinstance(item, capf.Need):
                    phone.answer(item.decision)
                elif isinstance(item, capf.Done):
                    assert isinstance(item.outcome, capf.PhoneOutcome)
                    outcome = item.outcome
                elif isinstance(item, capf.Abandoned):
                    raise AssertionError(f"abandoned: {item.reason}")
            if outcome is not None:
                break
            deadline = connection.poll_timeout()
            wait = 60.0
            if deadline is not None:
                wait = max(0.0, (deadline - datetime.now(timezone.utc)).total_seconds())
            sock.settimeout(wait)
            try:
                data_in = sock.recv(65536)
            except socket.timeout:
                connection.handle_timeout(datetime.now(timezone.utc))
                continue
            if data_in:
                connection.handle_tcp_input(data_in)
            else:
                connection.handle_tcp_closed()
    assert connection.is_done()
    return outcome


def test_phone_over_rustls_against_capf_serve(capf_serve: str, data: Path) -> None:
    now = datetime.now(timezone.utc)
    phone = PhoneHost(capf.PhoneSession(DEVICE, now))
    outcome = enroll_over_socket(capf_serve, data, phone, now)
    assert outcome.result == "installed", outcome
    assert len(phone.stored) == 1 and phone.key is not None
    assert capf.subject_public_key_info(phone.stored[0]) == phone.key


def pem_block(text: str, label: str) -> str:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.index(begin)
    return text[start : text.index(end, start) + len(end)] + "\n"


def test_lsc_and_mic_phones_over_rustls_against_capf_serve(
    capf_serve: str, data: Path, issuer: capf.LscIssuer
) -> None:
    now = datetime.now(timezone.utc)
    # An LSC from capf serve's own issuer, proved by the software signer.
    spki, key = capf.generate_key("ec:p256")
    lsc = issuer.issue(LSC_DEVICE, spki, now - timedelta(days=1))
    phone = PhoneHost(
        capf.PhoneSession(LSC_DEVICE, now, lsc=lsc),
        capf.SoftwareSigner().add_key("lsc", lsc, key),
    )
    outcome = enroll_over_socket(capf_serve, data, phone, now)
    assert outcome.result == "installed", outcome
    assert phone.proofs == 2 and len(phone.stored) == 1

    # A MIC from the manufacturer capf serve trusts (--verify).
    sast = (data / "keys" / "sast.pem").read_text()
    maker = capf.LscIssuer(pem_block(sast, "CERTIFICATE"), pem_block(sast, "PRIVATE KEY"))
    spki, key = capf.generate_key("ec:p256")
    mic = maker.issue(MIC_DEVICE, spki, now - timedelta(days=1))
    phone = PhoneHost(
        capf.PhoneSession(MIC_DEVICE, now, mic=mic, prefer="mic"),
        capf.SoftwareSigner().add_key("mic", mic, key),
    )
    outcome = enroll_over_socket(capf_serve, data, phone, now)
    assert outcome.result == "installed", outcome
    assert phone.proofs == 2 and len(phone.stored) == 1
