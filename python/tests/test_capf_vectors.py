"""The recorded CAPF sessions (reference server and client, see
data/capf/README.md) replayed through the Python PhoneSession: fed the
recorded server frames, answering as the recorded phone did, it must send
the recorded client frames byte for byte and end as the recording did.
(Not replayed here yet: the certificate-authentication recordings, which
need the phone's certificate credentials and proof signing, and the
hand-made VERSION 2 and wrong-session-id clients, which need the phone's
version and element-layout options; the Python PhoneSession does not
offer those yet.)"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

import capf

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
DATA = Path(__file__).parent / "data" / "capf"

EXPECTED = {
    "install-password-rsa2048": ("installed", ["generate_key", "store_certificate"]),
    "install-nullstring-ec-p256": ("installed", ["generate_key", "store_certificate"]),
    "fetch-present": ("fetch_completed", ["fetch_certificate"]),
    "fetch-absent": ("fetch_completed", ["fetch_certificate"]),
    "delete-present": ("deleted", ["delete_certificate"]),
    "delete-absent": ("deleted", ["delete_certificate"]),
    "no-operation": ("nothing_to_do", []),
    "unknown-device": ("unknown_device", []),
    "wrong-password": ("refused", []),
    "password-required-null-sent": ("refused", []),
    "keygen-failure-synthetic": ("key_generation_failed", ["generate_key"]),
    "double-in-progress-synthetic": ("refused", ["generate_key"]),
}


def pem_der(vector: dict[str, Any], name: str) -> bytes:
    text: str = vector["pem"][name]
    body = text.split("-----BEGIN")[1].split("-----", 2)[1].split("-----END")[0]
    return base64.b64decode("".join(body.split()))


def recorded_public_key(vector: dict[str, Any]) -> bytes:
    for frame in vector["decoded"]:
        if frame["command_name"] == "KEY_GEN_RESPONSE":
            for element in frame["elements"]:
                if element["name"] == "PUBLIC_KEY":
                    return bytes.fromhex(element["value_hex"])
    raise AssertionError("no recorded PUBLIC_KEY")


def answer(phone: capf.PhoneSession, vector: dict[str, Any], decision: capf.Decision) -> None:
    name = vector["name"]
    holds = vector["client_inputs"].get("phone_holds_certificate") is True
    if decision.kind == "generate_key":
        if name == "keygen-failure-synthetic":
            phone.refuse_key()
        elif name == "double-in-progress-synthetic":
            phone.repeat_in_progress()
        else:
            phone.answer_key(recorded_public_key(vector))
    elif decision.kind == "store_certificate":
        assert decision.certificate == pem_der(vector, "issued_certificate")
        phone.answer_store()
    elif decision.kind == "fetch_certificate":
        phone.answer_fetch(pem_der(vector, "phone_certificate") if holds else None)
    elif decision.kind == "delete_certificate":
        phone.answer_delete(holds)
    else:
        raise AssertionError(f"{name}: unexpected decision {decision.kind}")


@pytest.mark.parametrize("chunk", [0, 1, 7])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_session_replays_through_python_phone(name: str, chunk: int) -> None:
    vector = json.loads((DATA / f"{name}.json").read_text())
    password = vector["client_inputs"].get("password") or None
    phone = capf.PhoneSession(vector["device_name"], NOW, auth_string=password)
    sent: list[bytes] = []
    asked: list[str] = []
    outcome: Optional[capf.PhoneOutcome] = None

    def drain() -> None:
        nonlocal outcome
        while (item := phone.poll_output()) is not None:
            assert outcome is None, "output after Done"
            if isinstance(item, capf.Transmit):
                sent.append(item.data)
            elif isinstance(item, capf.Need):
                asked.append(item.decision.kind)
                answer(phone, vector, item.decision)
            else:
                assert isinstance(item.outcome, capf.PhoneOutcome)
                outcome = item.outcome

    recorded_client = [bytes.fromhex(f["hex"]) for f in vector["frames"] if f["from"] == "client"]
    client_so_far = 0
    for frame in vector["frames"]:
        if frame["from"] == "client":
            client_so_far += 1
            continue
        drain()
        assert len(sent) == client_so_far, "the phone sent what the recording shows so far"
        data = bytes.fromhex(frame["hex"])
        if chunk == 0:
            phone.handle_input(data)
        else:
            for start in range(0, len(data), chunk):
                phone.handle_input(data[start : start + chunk])
    drain()

    assert [frame.hex() for frame in sent] == [frame.hex() for frame in recorded_client]
    result, decisions = EXPECTED[name]
    assert outcome is not None
    assert outcome.result == result
    assert asked == decisions
    if result == "installed":
        assert outcome.certificate == pem_der(vector, "issued_certificate")
    assert phone.is_done()
    assert phone.poll_timeout() is None
