"""The recorded TVS sessions (reference server and client, see
data/tvs/README.md) replayed through the Python sessions: the server,
fed the recorded request and answering from the recorded database, sends
the recorded response byte for byte (or nothing, where the reference sent
nothing); the client, asking the recorded question, sends the recorded
request byte for byte and reads the recorded verdict."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

import capf

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
DATA = Path(__file__).parent / "data" / "tvs"
VECTORS = sorted(path.stem for path in DATA.glob("*.json"))
ROLE_CODES = {"SAST": 0, "CCM": 1, "CCM+TFTP": 2, "TFTP": 3, "CAPF": 4, "SRST": 5,
              "APP-SERVER": 7, "TVS": 21}


def pem_der(vector: dict[str, Any], name: str) -> bytes:
    text: str = vector["pem"][name]
    body = text.split("-----BEGIN")[1].split("-----", 2)[1].split("-----END")[0]
    return base64.b64decode("".join(body.split()))


def load(name: str) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return vector


def registry(vector: dict[str, Any]) -> dict[bytes, tuple[list[int], int]]:
    known = {}
    entries = vector["server_config"].get("known_certificates", [])
    # verify-unknown says "certificate absent": nothing registered for it.
    for entry in entries if isinstance(entries, list) else []:
        digest = hashlib.sha256(pem_der(vector, entry["certificate"])).digest()
        known[digest] = ([ROLE_CODES[role] for role in entry["roles"]], entry["ttl"])
    return known


def test_every_vector_is_here() -> None:
    assert len(VECTORS) == 8


@pytest.mark.parametrize("chunk", [0, 1, 5])
@pytest.mark.parametrize("name", VECTORS)
def test_server_replay(name: str, chunk: int) -> None:
    vector = load(name)
    known = registry(vector)
    server = capf.TvsServerSession(NOW)
    sent: list[bytes] = []
    outcome: Optional[capf.TvsOutcome] = None

    def drain() -> None:
        nonlocal outcome
        while (item := server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                sent.append(item.data)
            elif isinstance(item, capf.Need):
                digest = item.decision.digest
                assert digest is not None and item.decision.certificate is not None
                assert digest == hashlib.sha256(item.decision.certificate).digest()
                assert digest.hex() == vector["expected"]["certificate_sha256"]
                entry = known.get(digest)
                server.answer_lookup(None if entry is None else entry[0],
                                     0 if entry is None else entry[1])
            else:
                assert isinstance(item.outcome, capf.TvsOutcome)
                outcome = item.outcome

    for frame in vector["frames"]:
        if frame["from"] == "client":
            data = bytes.fromhex(frame["hex"])
            step = chunk or len(data)
            for start in range(0, len(data), step):
                server.handle_input(data[start : start + step])
            drain()
    if outcome is None:
        server.handle_peer_closed()
        drain()
    recorded = [bytes.fromhex(f["hex"]) for f in vector["frames"] if f["from"] == "server"]
    assert [frame.hex() for frame in sent] == [frame.hex() for frame in recorded]
    assert outcome is not None
    expected = vector["expected"]
    if expected["result"] == "valid":
        assert outcome.result == "valid"
        assert [int(role) for role in outcome.roles] == expected["roles"]
        assert outcome.ttl == expected["ttl"]
    elif expected["result"] == "invalid":
        assert (outcome.result, outcome.reason) == ("invalid", "unknown")
    else:
        assert outcome.result == "silent_close"
    assert server.is_done()


@pytest.mark.parametrize("name", [n for n in VECTORS if not n.endswith("-synthetic")])
def test_client_replay(name: str) -> None:
    vector = load(name)
    request = vector["decoded"][0]
    certificate = next(
        bytes.fromhex(e["value_hex"]) for e in request["elements"] if e["name"] == "CERTIFICATE"
    )
    client = capf.TvsClientSession(vector["session_id"], vector["device_name"], certificate, NOW)
    first = client.poll_output()
    assert isinstance(first, capf.Transmit)
    assert first.data.hex() == vector["frames"][0]["hex"]
    for frame in vector["frames"][1:]:
        assert frame["from"] == "server"
        client.handle_input(bytes.fromhex(frame["hex"]))
    done = client.poll_output()
    assert isinstance(done, capf.Done) and isinstance(done.outcome, capf.TvsOutcome)
    expected = vector["expected"]
    assert done.outcome.result == expected["result"]
    if expected["result"] == "valid":
        assert [int(role) for role in done.outcome.roles] == expected["roles"]
        assert done.outcome.ttl == expected["ttl"]
