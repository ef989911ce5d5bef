"""Bad input on every entry point raises the documented exception: a
`capf.CapfError` subclass (or TypeError/OverflowError for a value of the
wrong Python type), never a crash or a PanicException."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

import capf

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
GARBAGE = [b"", b"\x00", b"\x30\x82\xff\xff", b"-----BEGIN CERTIFICATE-----\n!!\n", bytes(range(256))]


def raises_only(allowed: tuple[type[BaseException], ...], call: Callable[[], Any]) -> None:
    try:
        call()
    except allowed:
        pass


def test_certificate_and_key_inputs(data: Path) -> None:
    for blob in GARBAGE:
        with pytest.raises(capf.MalformedError):
            capf.subject_public_key_info(blob)
        with pytest.raises(capf.MisuseError):
            capf.LscIssuer(blob.decode("latin-1"), blob.decode("latin-1"))
    cert = (data / "issuer-ec-p256.cert.pem").read_text()
    key = (data / "issuer-ec-p256.key.pem").read_text()
    issuer = capf.LscIssuer(cert, key)
    with pytest.raises(capf.MisuseError) as caught:
        # A key that does not belong to the certificate.
        capf.LscIssuer(cert, (data / "ccm-tftp.pem").read_text())
    assert "PRIVATE KEY" not in str(caught.value)
    for blob in GARBAGE:
        with pytest.raises(capf.MisuseError):
            issuer.issue("SEP001122334455", blob, NOW)
    with pytest.raises(capf.MisuseError):
        issuer.issue("SEP001122334455", capf.subject_public_key_info(cert.encode()), NOW,
                     validity_days=0)


def test_generate_key_requests() -> None:
    spki, pem = capf.generate_key("ec:p256")
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert bytes.fromhex("2a8648ce3d030107") in spki
    for bad in ["", "rsa", "rsa:1000", "ec:p999", "dsa:1024", "rsa:99999999999"]:
        with pytest.raises(capf.MisuseError):
            capf.generate_key(bad)


def test_session_answers_with_bad_values(data: Path) -> None:
    # A phone asked for a key answers garbage: a misuse, the decision stays.
    server = capf.ServerSession(5, NOW)
    phone = capf.PhoneSession("SEP001122334455", NOW)
    record = capf.DeviceRecord("SEP001122334455", key="ec:p256")
    pending: dict[str, capf.Decision] = {}
    for _ in range(6):
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                phone.handle_input(item.data)
            elif isinstance(item, capf.Need) and item.decision.kind == "look_up_device":
                server.answer_device(record)
        while (item := phone.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                server.handle_input(item.data)
            elif isinstance(item, capf.Need):
                pending[item.decision.kind] = item.decision
        if "generate_key" in pending:
            break
    assert phone.pending_decision() == "generate_key"
    for blob in GARBAGE:
        with pytest.raises(capf.MisuseError):
            phone.answer_key(blob)
    rsa_spki = capf.subject_public_key_info((data / "phone-lsc.pem").read_bytes())
    with pytest.raises(capf.MisuseError):
        phone.answer_key(rsa_spki)  # not the EC key asked for
    assert phone.pending_decision() == "generate_key"
    spki, _ = capf.generate_key("ec:p256")
    phone.answer_key(spki)
    while (item := phone.poll_output()) is not None:
        if isinstance(item, capf.Transmit):
            server.handle_input(item.data)
    item = server.poll_output()
    assert isinstance(item, capf.Need) and item.decision.kind == "issue_certificate"
    for blob in GARBAGE:
        with pytest.raises(capf.MisuseError):
            server.answer_certificate(blob)
    with pytest.raises(capf.MisuseError):
        server.refuse_device("bogus")
    assert server.pending_decision() == "issue_certificate"
    server.refuse_certificate("policy says no")
    while (item := server.poll_output()) is not None:
        if isinstance(item, capf.Need):
            assert item.decision.kind == "record_outcome"
            assert item.decision.outcome is not None
            assert item.decision.outcome.result == "issue_refused"
            server.answer_outcome_recorded()


def test_device_record_and_phone_inputs() -> None:
    with pytest.raises(capf.MisuseError) as caught:
        capf.DeviceRecord("SEP001122334455", auth="auth-string", auth_string="12x45",
                          auth_iterations=1000)
    assert "12x45" not in str(caught.value)
    with pytest.raises(capf.MisuseError):
        capf.DeviceRecord("SEP001122334455", auth="auth-string")
    with pytest.raises(capf.MisuseError):
        capf.DeviceRecord("SEP001122334455", auth="password")
    with pytest.raises((OverflowError, TypeError)):
        capf.DeviceRecord("SEP001122334455", failed_attempts=-1)
    for name in ["", "SEP", "x" * 100, "SEP0011223344\u00e9\u00e9", "\x00"]:
        with pytest.raises(capf.MisuseError):
            capf.PhoneSession(name, NOW)
    for junk in [*GARBAGE, "not a key", 7]:
        with pytest.raises(capf.MisuseError, match="public key"):
            capf.PhoneSession("SEP001122334455", NOW, pending_key=junk)  # type: ignore[arg-type]
    spki, _ = capf.generate_key("ec:p256")
    assert capf.PhoneSession("SEP001122334455", NOW, pending_key=spki).pending_decision() is None


def test_tvs_inputs(data: Path) -> None:
    for blob in GARBAGE:
        # A client sends what it is given; a bad device name is a misuse.
        raises_only((capf.MisuseError,), lambda: capf.TvsClientSession(1, "CP-8865-SEP001122334455", blob, NOW))
    server = capf.TvsServerSession(NOW)
    with pytest.raises(capf.MisuseError):
        server.answer_lookup([1])
    with pytest.raises((OverflowError, TypeError)):
        server.answer_lookup([70000])


def test_random_bytes_into_every_session_never_crash() -> None:
    rng = random.Random(20261205)
    for _ in range(150):
        blob = rng.randbytes(rng.randrange(1, 300))
        sessions: list[Any] = [
            capf.ServerSession(1, NOW),
            capf.PhoneSession("SEP001122334455", NOW),
            capf.TvsServerSession(NOW),
            capf.TvsClientSession(1, "CP-8865-SEP001122334455", b"\x30\x00", NOW),
        ]
        for session in sessions:
            session.handle_input(blob)
            session.handle_input(blob[: rng.randrange(len(blob))])
            session.handle_peer_closed()
            for _ in range(20):
                item = session.poll_output()
                if item is None:
                    break
                if isinstance(item, capf.Need):
                    kind = item.decision.kind
                    if kind == "record_outcome":
                        session.answer_outcome_recorded()
                    elif kind == "look_up_device":
                        session.answer_device(None)
                    elif kind == "look_up_certificate":
                        session.answer_lookup(None)
            session.handle_transport_error()
