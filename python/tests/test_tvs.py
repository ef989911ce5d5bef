"""A TVS query from Python: a client session asks a server session about a
certificate, both driven by pure Python hosts in memory."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import pytest

import capf

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DEVICE = "CP-8865-SEP001122334455"


def der_certificate(path: Path) -> bytes:
    text = path.read_text()
    body = text.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


def query(
    certificate: bytes, registry: dict[bytes, tuple[list[capf.Role], int, bool]]
) -> tuple[capf.TvsOutcome, capf.TvsOutcome]:
    server = capf.TvsServerSession(NOW)
    client = capf.TvsClientSession(0xCAFE, DEVICE, certificate, NOW)
    server_outcome: Optional[capf.TvsOutcome] = None
    client_outcome: Optional[capf.TvsOutcome] = None
    for _ in range(10):
        while (item := client.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                server.handle_input(item.data)
            else:
                assert isinstance(item, capf.Done)
                assert isinstance(item.outcome, capf.TvsOutcome)
                client_outcome = item.outcome
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                client.handle_input(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                assert d.kind == "look_up_certificate"
                assert d.device_name == DEVICE
                assert d.certificate == certificate
                assert d.digest is not None
                entry = registry.get(d.digest)
                if entry is None:
                    server.answer_lookup(None)
                else:
                    roles, ttl, revoked = entry
                    server.answer_lookup(roles, ttl, revoked=revoked)
            else:
                assert isinstance(item.outcome, capf.TvsOutcome)
                server_outcome = item.outcome
        if client_outcome is not None and server_outcome is not None:
            break
    assert client_outcome is not None and server_outcome is not None
    return server_outcome, client_outcome


def test_registered_certificate_is_valid_with_its_roles(data: Path) -> None:
    cert = der_certificate(data / "ccm-tftp.pem")
    digest = hashlib.sha256(cert).digest()
    server, client = query(cert, {digest: ([capf.Role.TFTP, capf.Role.CCM], 600, False)})
    assert server.result == "valid" and client.result == "valid"
    assert client.roles == [capf.Role.CCM, capf.Role.TFTP]
    assert all(isinstance(role, capf.Role) for role in client.roles)
    assert client.ttl == 600
    assert client.session_id == 0xCAFE == server.session_id
    assert server.device_name == DEVICE


def test_unknown_and_revoked_certificates_are_invalid(data: Path) -> None:
    cert = der_certificate(data / "phone-lsc.pem")
    server, client = query(cert, {})
    assert (server.result, server.reason, client.result) == ("invalid", "unknown", "invalid")
    digest = hashlib.sha256(cert).digest()
    server, client = query(cert, {digest: ([capf.Role.TFTP], 600, True)})
    assert (server.result, server.reason, client.result) == ("invalid", "revoked", "invalid")
    assert client.roles == []


def test_client_times_out_and_bad_setup_is_misuse(data: Path) -> None:
    cert = der_certificate(data / "phone-lsc.pem")
    client = capf.TvsClientSession(1, DEVICE, cert, NOW)
    assert isinstance(client.poll_output(), capf.Transmit)
    deadline = client.poll_timeout()
    assert deadline == NOW + timedelta(seconds=30)
    client.handle_timeout(deadline)
    done = client.poll_output()
    assert isinstance(done, capf.Done)
    assert isinstance(done.outcome, capf.TvsOutcome)
    assert done.outcome.result == "timed_out"
    assert client.is_done()
    with pytest.raises(capf.MisuseError):
        capf.TvsClientSession(1, "not-a-device", cert, NOW)


def test_server_closes_silently_on_garbage() -> None:
    server = capf.TvsServerSession(NOW)
    server.handle_input(b"\x00" * 64)
    server.handle_peer_closed()
    outputs = []
    while (item := server.poll_output()) is not None:
        outputs.append(item)
    assert len(outputs) == 1 and isinstance(outputs[0], capf.Done)
    outcome = outputs[0].outcome
    assert isinstance(outcome, capf.TvsOutcome)
    assert outcome.result == "silent_close"
    assert outcome.reason is not None
    with pytest.raises(capf.MisuseError):
        server.answer_lookup(None)
