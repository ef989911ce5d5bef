"""Phone certificate authentication (LSC / MIC) from Python: the phone's
proofs are answered through ``sign_proof`` by the in-process
`capf.SoftwareSigner` or by a Python callable, against a
`capf.ServerSession` configured with its LSC issuers or manufacturing
roots, in memory."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import pytest

import capf

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DEVICE = "SEP001122334455"

Signer = Callable[[capf.PhoneSession, capf.Decision], None]


@pytest.fixture
def issuer(data: Path) -> capf.LscIssuer:
    return capf.LscIssuer(
        (data / "issuer-ec-p256.cert.pem").read_text(),
        (data / "issuer-ec-p256.key.pem").read_text(),
    )


def existing_certificate(issuer: capf.LscIssuer) -> tuple[bytes, str]:
    """A certificate the phone already holds (issued yesterday) and its key."""
    spki, key = capf.generate_key("ec:p256")
    return issuer.issue(DEVICE, spki, NOW - timedelta(days=1)), key


class Run:
    """One in-memory session: server and phone hosts, and what each saw."""

    def __init__(
        self,
        server: capf.ServerSession,
        record: capf.DeviceRecord,
        issuer: capf.LscIssuer,
        phone: capf.PhoneSession,
        sign: Signer,
    ) -> None:
        self.server, self.record, self.issuer = server, record, issuer
        self.phone, self.sign = phone, sign
        self.proofs: list[tuple[Optional[str], Optional[str]]] = []
        self.new_key: Optional[bytes] = None
        self.stored: list[bytes] = []
        self.server_outcome: Optional[capf.ServerOutcome] = None
        self.phone_outcome: Optional[capf.PhoneOutcome] = None

    def server_drain(self) -> list[bytes]:
        frames = []
        while (item := self.server.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                frames.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "look_up_device":
                    self.server.answer_device(self.record)
                elif d.kind == "issue_certificate":
                    assert d.device_name is not None and d.subject_public_key_info is not None
                    self.server.answer_certificate(
                        self.issuer.issue(d.device_name, d.subject_public_key_info, NOW)
                    )
                elif d.kind == "record_pending_certificate":
                    self.server.answer_pending_recorded()
                elif d.kind == "record_outcome":
                    self.server.answer_outcome_recorded()
                else:
                    raise AssertionError(f"unexpected decision {d.kind}")
            else:
                assert isinstance(item.outcome, capf.ServerOutcome)
                self.server_outcome = item.outcome
        return frames

    def phone_drain(self) -> list[bytes]:
        frames = []
        while (item := self.phone.poll_output()) is not None:
            if isinstance(item, capf.Transmit):
                frames.append(item.data)
            elif isinstance(item, capf.Need):
                d = item.decision
                if d.kind == "sign_proof":
                    self.proofs.append((d.credential, d.hash))
                    self.sign(self.phone, d)
                elif d.kind == "generate_key":
                    assert d.key_request is not None
                    self.new_key, _ = capf.generate_key(d.key_request)
                    self.phone.answer_key(self.new_key)
                elif d.kind == "store_certificate":
                    assert d.certificate is not None
                    self.stored.append(d.certificate)
                    self.phone.answer_store()
                else:
                    raise AssertionError(f"unexpected decision {d.kind}")
            else:
                assert isinstance(item.outcome, capf.PhoneOutcome)
                self.phone_outcome = item.outcome
        return frames

    def go(self) -> Run:
        to_phone, to_server = self.server_drain(), self.phone_drain()
        for _ in range(100):
            if not to_phone and not to_server:
                break
            for frame in to_phone:
                self.phone.handle_input(frame)
            to_server += self.phone_drain()
            for frame in to_server:
                self.server.handle_input(frame)
            to_phone, to_server = self.server_drain(), []
        if not self.phone.is_done():
            self.phone.handle_peer_closed()
            self.phone_drain()
        return self


def with_signer(signer: capf.SoftwareSigner) -> Signer:
    def sign(session: capf.PhoneSession, decision: capf.Decision) -> None:
        assert signer.answer(session, decision) is True

    return sign


def test_lsc_authentication_with_the_software_signer(issuer: capf.LscIssuer) -> None:
    lsc, key = existing_certificate(issuer)
    signer = capf.SoftwareSigner().add_key("lsc", lsc, key)
    run = Run(
        capf.ServerSession(0x2222, NOW, lsc_issuers=[issuer.certificate]),
        capf.DeviceRecord(DEVICE, auth="certificate-lsc", key="ec:p256"),
        issuer,
        capf.PhoneSession(DEVICE, NOW, lsc=lsc),
        with_signer(signer),
    ).go()
    assert run.server_outcome is not None and run.phone_outcome is not None
    assert run.server_outcome.authenticated is True
    assert run.server_outcome.result == "installed"
    assert run.phone_outcome.is_success is True
    # SIGNED_DATA (SHA-1) then SHA2_SIGNED_DATA (SHA-512), both by the LSC.
    assert run.proofs == [("lsc", "sha1"), ("lsc", "sha512")]
    assert len(run.stored) == 1 and run.new_key is not None
    assert capf.subject_public_key_info(run.stored[0]) == run.new_key
    assert run.stored[0] != lsc


def test_mic_authentication_with_a_python_callable(issuer: capf.LscIssuer) -> None:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
    except ImportError:
        pytest.skip("SKIPPED: the cryptography package is not installed")
    mic, key_pem = existing_certificate(issuer)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)

    def sign(session: capf.PhoneSession, decision: capf.Decision) -> None:
        # What a keystore-backed host does: sign the bare digest itself.
        assert decision.credential == "mic" and decision.digest is not None
        algorithm = hashes.SHA1() if decision.hash == "sha1" else hashes.SHA512()
        session.answer_signature(key.sign(decision.digest, ec.ECDSA(Prehashed(algorithm))))

    run = Run(
        capf.ServerSession(0x3333, NOW, manufacturing_roots=issuer.certificate),
        capf.DeviceRecord(DEVICE, auth="certificate-mic", key="ec:p256"),
        issuer,
        capf.PhoneSession(DEVICE, NOW, mic=mic, prefer="mic"),
        sign,
    ).go()
    assert run.server_outcome is not None and run.phone_outcome is not None
    assert run.server_outcome.authenticated is True
    assert run.server_outcome.result == "installed"
    assert run.phone_outcome.is_success is True
    assert run.proofs == [("mic", "sha1"), ("mic", "sha512")]


def test_a_proof_by_the_wrong_key_is_caught_before_it_is_sent(
    issuer: capf.LscIssuer,
) -> None:
    lsc, _ = existing_certificate(issuer)
    _, other_key = capf.generate_key("ec:p256")
    signer = capf.SoftwareSigner().add_key("lsc", lsc, other_key)
    refusals = []

    def sign(session: capf.PhoneSession, decision: capf.Decision) -> None:
        # The session checks every answered proof against the certificate.
        with pytest.raises(capf.MisuseError) as caught:
            signer.answer(session, decision)
        assert "does not verify" in str(caught.value)
        assert session.pending_decision() == "sign_proof"
        refusals.append(decision.hash)
        session.refuse_signature()

    run = Run(
        capf.ServerSession(0x4444, NOW, lsc_issuers=[issuer.certificate]),
        capf.DeviceRecord(DEVICE, auth="certificate-lsc"),
        issuer,
        capf.PhoneSession(DEVICE, NOW, lsc=lsc),
        sign,
    ).go()
    assert refusals == ["sha1"]
    assert run.phone_outcome is not None and run.phone_outcome.is_success is False
    assert run.server_outcome is None or run.server_outcome.authenticated is False
    assert run.stored == []


def test_an_lsc_from_an_unknown_issuer_is_refused(issuer: capf.LscIssuer) -> None:
    lsc, key = existing_certificate(issuer)
    signer = capf.SoftwareSigner().add_key("lsc", lsc, key)
    run = Run(
        capf.ServerSession(0x5555, NOW),  # no LSC issuer configured
        capf.DeviceRecord(DEVICE, auth="certificate-lsc"),
        issuer,
        capf.PhoneSession(DEVICE, NOW, lsc=lsc),
        with_signer(signer),
    ).go()
    assert run.server_outcome is not None and run.phone_outcome is not None
    assert run.server_outcome.authenticated is False
    assert run.phone_outcome.is_success is False


def test_a_signer_without_the_key_refuses_and_the_session_ends(
    issuer: capf.LscIssuer,
) -> None:
    lsc, _ = existing_certificate(issuer)
    run = Run(
        capf.ServerSession(0x6666, NOW, lsc_issuers=[issuer.certificate]),
        capf.DeviceRecord(DEVICE, auth="certificate-lsc"),
        issuer,
        capf.PhoneSession(DEVICE, NOW, lsc=lsc),
        with_signer(capf.SoftwareSigner()),
    ).go()
    assert run.proofs[:1] == [("lsc", "sha1")]
    assert run.phone_outcome is not None and run.phone_outcome.is_success is False
    assert run.phone.is_done()
    assert run.stored == []


def test_credential_misuse(issuer: capf.LscIssuer) -> None:
    lsc, key = existing_certificate(issuer)
    with pytest.raises(capf.MisuseError):
        capf.PhoneSession(DEVICE, NOW, auth_string="123456", lsc=lsc)
    with pytest.raises(capf.MisuseError):
        capf.PhoneSession(DEVICE, NOW, sudi=lsc)
    with pytest.raises(capf.MisuseError):
        capf.PhoneSession(DEVICE, NOW, lsc=lsc, prefer="sudi")
    with pytest.raises(capf.MalformedError):
        capf.PhoneSession(DEVICE, NOW, lsc=b"not a certificate")
    _, rsa_key = capf.generate_key("rsa:2048")
    with pytest.raises(capf.MisuseError) as caught:
        capf.SoftwareSigner().add_key("lsc", lsc, rsa_key)
    assert "PRIVATE KEY" not in str(caught.value)
    with pytest.raises(capf.MisuseError):
        capf.SoftwareSigner().add_key("tpm", lsc, key)
    signer = capf.SoftwareSigner().add_key("lsc", lsc, key)
    with pytest.raises(capf.MisuseError):
        signer.sign("lsc", "md5", b"\x00" * 16)
    # A signature made directly verifies as a proof would: DER ECDSA.
    assert signer.sign("lsc", "sha1", b"\x01" * 20)[0] == 0x30
