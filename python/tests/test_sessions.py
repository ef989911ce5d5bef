"""Sessions from Python: a phone enrolls against a server, both pure Python
hosts driving the sans-IO sessions in memory (plaintext), through the one
host contract (handle_input / poll_output / answer_* / refuse_*)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

import capf

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)


def pem_block(path: Path, label: str) -> bytes:
    text = path.read_text()
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.index(begin)
    return text[start : text.index(end, start) + len(end)].encode() + b"\n"


class ServerHost:
    """A server host as `capf serve` behaves, with a registry of one device."""

    def __init__(self, record: Optional[capf.DeviceRecord], issuer: capf.LscIssuer) -> None:
        self.session = capf.ServerSession(0x1234_5678, NOW)
        self.record = record
        self.issuer = issuer
        self.ledger: list[bytes] = []
        self.recorded: list[Any] = []
        self.outcome: Optional[capf.ServerOutcome] = None

    def drain(self) -> list[bytes]:
        frames = []
        while (item := self.session.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                frames.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "look_up_device":
                    assert self.record is None or d.device_name == self.record.device_name
                    self.session.answer_device(self.record)
                elif d.kind == "issue_certificate":
                    assert d.device_name is not None and d.subject_public_key_info is not None
                    assert d.key_request == "rsa:2048"
                    cert = self.issuer.issue(d.device_name, d.subject_public_key_info, NOW)
                    self.session.answer_certificate(cert)
                elif d.kind == "record_pending_certificate":
                    assert d.certificate is not None
                    self.ledger.append(d.certificate)
                    self.session.answer_pending_recorded()
                elif d.kind == "record_outcome":
                    self.recorded.append(d.outcome)
                    self.session.answer_outcome_recorded()
                else:
                    raise AssertionError(f"unexpected decision {d.kind}")
            else:
                assert isinstance(item, capf.Done)
                assert isinstance(item.outcome, capf.ServerOutcome)
                self.outcome = item.outcome
        return frames


class PhoneHost:
    def __init__(self, spki: bytes, auth_string: Optional[str] = None) -> None:
        self.session = capf.PhoneSession("SEP001122334455", NOW, auth_string=auth_string)
        self.spki = spki
        self.stored: list[bytes] = []
        self.outcome: Optional[capf.PhoneOutcome] = None

    def drain(self) -> list[bytes]:
        frames = []
        while (item := self.session.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                frames.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "generate_key":
                    assert d.key_request == "rsa:2048"
                    self.session.answer_key(self.spki)
                elif d.kind == "store_certificate":
                    assert d.certificate is not None
                    self.stored.append(d.certificate)
                    self.session.answer_store()
                else:
                    raise AssertionError(f"unexpected decision {d.kind}")
            else:
                assert isinstance(item, capf.Done)
                assert isinstance(item.outcome, capf.PhoneOutcome)
                self.outcome = item.outcome
        return frames


def run(server: ServerHost, phone: PhoneHost, chunk: int = 0) -> None:
    to_phone = server.drain()
    to_server = phone.drain()
    for _ in range(100):
        if not to_phone and not to_server:
            break
        for frame in to_phone:
            if chunk:
                for start in range(0, len(frame), chunk):
                    phone.session.handle_input(frame[start : start + chunk])
            else:
                phone.session.handle_input(frame)
        to_server = to_server + phone.drain()
        for frame in to_server:
            server.session.handle_input(frame)
        to_phone = server.drain()
        to_server = []
    if not phone.session.is_done():
        phone.session.handle_peer_closed()
        phone.drain()


@pytest.fixture
def issuer(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


@pytest.fixture
def phone_spki(data: Path) -> bytes:
    return capf.subject_public_key_info(pem_block(data / "phone-lsc.pem", "CERTIFICATE"))


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_phone_enrolls_by_null_string(
    issuer: capf.LscIssuer, phone_spki: bytes, chunk: int
) -> None:
    record = capf.DeviceRecord("SEP001122334455", operation="install", key="rsa:2048")
    server = ServerHost(record, issuer)
    phone = PhoneHost(phone_spki)
    run(server, phone, chunk)

    assert server.outcome is not None and phone.outcome is not None
    assert server.outcome.result == "installed"
    assert server.outcome.recorded is True
    assert server.outcome.authenticated is True
    assert server.outcome.operation_completed is True
    assert server.outcome.end_reason == 1
    assert phone.outcome.result == "installed"
    assert phone.outcome.is_success is True
    # One certificate: in the ledger before it was sent, stored by the
    # phone, installed, and carrying the phone's key.
    assert len(server.ledger) == 1
    assert phone.stored == server.ledger
    assert phone.outcome.certificate == server.ledger[0]
    assert server.outcome.certificate == server.ledger[0]
    assert capf.subject_public_key_info(server.ledger[0]) == phone_spki
    assert server.session.is_done() and phone.session.is_done()
    assert server.session.poll_timeout() is None


def test_auth_string_enrollment_and_wrong_string(
    issuer: capf.LscIssuer, phone_spki: bytes
) -> None:
    def record() -> capf.DeviceRecord:
        return capf.DeviceRecord(
            "SEP001122334455", auth="auth-string", auth_string="123456", auth_iterations=1000
        )

    server, phone = ServerHost(record(), issuer), PhoneHost(phone_spki, auth_string="123456")
    run(server, phone)
    assert server.outcome is not None and server.outcome.result == "installed"

    server, phone = ServerHost(record(), issuer), PhoneHost(phone_spki, auth_string="654321")
    run(server, phone)
    assert server.outcome is not None and phone.outcome is not None
    assert server.outcome.result == "authentication_failed"
    assert server.outcome.is_authentication_failure is True
    assert server.outcome.end_reason == 7
    assert phone.outcome.is_success is False
    assert server.ledger == [] and phone.stored == []


def test_unknown_device(issuer: capf.LscIssuer, phone_spki: bytes) -> None:
    server, phone = ServerHost(None, issuer), PhoneHost(phone_spki)
    run(server, phone)
    assert server.outcome is not None and phone.outcome is not None
    assert server.outcome.result == "unknown_device"
    assert server.outcome.end_reason == 9
    assert phone.outcome.result == "unknown_device"


def test_timeouts_are_datetimes_and_end_the_session() -> None:
    session = capf.ServerSession(1, NOW)
    first = session.poll_output()
    assert isinstance(first, capf.Transmit) and len(first.data) > 0
    deadline = session.poll_timeout()
    assert isinstance(deadline, datetime)
    assert deadline.tzinfo is not None
    assert deadline == NOW + timedelta(seconds=60)
    session.handle_timeout(NOW + timedelta(seconds=30))
    assert session.poll_output() is None
    session.handle_timeout(deadline)
    need = session.poll_output()
    assert isinstance(need, capf.Need)
    assert need.decision.kind == "record_outcome"
    assert need.decision.outcome is not None
    assert need.decision.outcome.result == "timed_out"
    assert session.pending_decision() == "record_outcome"
    session.refuse_outcome_record()
    last = None
    while (item := session.poll_output()) is not None:
        last = item
    assert isinstance(last, capf.Done)
    assert isinstance(last.outcome, capf.ServerOutcome)
    assert last.outcome.recorded is False
    assert last.outcome.end_reason == 7


def test_misuse_raises_and_changes_nothing() -> None:
    session = capf.ServerSession(1, NOW)
    session.poll_output()
    with pytest.raises(capf.MisuseError) as caught:
        session.answer_outcome_recorded()
    assert "record outcome" in str(caught.value)
    with pytest.raises(capf.MisuseError):
        session.answer_device(None)
    assert session.pending_decision() is None
    assert not session.is_done()
    with pytest.raises(capf.MisuseError):
        session.handle_timeout("soon")  # type: ignore[arg-type]
    with pytest.raises(capf.MisuseError):
        capf.ServerSession(1, datetime(1960, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(capf.MisuseError):
        capf.DeviceRecord("SEP001122334455", key="rsa:1000")
    with pytest.raises(capf.MisuseError):
        capf.DeviceRecord("SEP001122334455", operation="reboot")
    with pytest.raises(capf.MisuseError) as secret:
        capf.PhoneSession("SEP001122334455", NOW, auth_string="12ab")
    assert "12ab" not in str(secret.value)
    with pytest.raises(capf.MisuseError):
        capf.PhoneSession("", NOW)


def test_garbage_from_the_peer_ends_the_session_with_an_outcome() -> None:
    import random

    rng = random.Random(10)
    for _ in range(200):
        server = capf.ServerSession(7, NOW)
        phone = capf.PhoneSession("SEP001122334455", NOW)
        blob = rng.randbytes(rng.randrange(1, 200))
        server.handle_input(blob)
        phone.handle_input(blob)
        for session in (server, phone):
            for _ in range(10):
                item = session.poll_output()
                if isinstance(item, capf.Need) and item.decision.kind == "record_outcome":
                    session.answer_outcome_recorded()  # type: ignore[union-attr]
                elif isinstance(item, capf.Need) and item.decision.kind == "look_up_device":
                    session.answer_device(None)  # type: ignore[union-attr]
                elif item is None:
                    break
