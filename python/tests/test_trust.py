"""Trust from Python: trust lists built and signed, chains evaluated with
an explained verdict, rollovers predicted, and certificates and keys taken
as PEM, DER or `cryptography` objects."""

from __future__ import annotations

import base64
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import capf

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
STAMP = 1_796_000_000  # 2026-11-30, after the test keys' notBefore


def key_file(data: Path, name: str) -> bytes:
    return (data / "keys" / f"{name}.pem").read_bytes()


def pem_der(pem: bytes, label: str) -> bytes:
    """The DER of a PEM block, decoded here (not by the code under test)."""
    text = pem.decode()
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.index(begin) + len(begin)
    return base64.b64decode("".join(text[start : text.index(end, start)].split()))


def build_ctl(data: Path, signer: str, sast: list[str], **kwargs: Any) -> bytes:
    signer_pem = key_file(data, signer)
    builder = capf.TrustListBuilder("ctl", signer_pem, signer_pem, timestamp=STAMP, **kwargs)
    for name in sast:
        builder.record(key_file(data, name), capf.Role.SAST)
    builder.record(key_file(data, "capf"), capf.Role.CAPF, dns_name="capf.example")
    builder.record(key_file(data, "ccm-tftp"), capf.Role.CCM_TFTP, ip_address="192.0.2.10")
    return builder.build()


def test_builder_signs_a_list_that_verifies(data: Path) -> None:
    file = build_ctl(data, "sast", ["sast"], hash="sha512")
    listed = capf.TrustList.parse(file)
    listed.verify()
    assert listed.header.filename == "CTLFile.tlv"
    assert listed.header.hash_algorithm == "sha512"
    assert listed.header.timestamp == STAMP
    roles = [record.role for record in listed.records]
    assert roles == [capf.Role.SAST, capf.Role.CAPF, capf.Role.CCM_TFTP]
    assert listed.records[0].certificate == pem_der(key_file(data, "sast"), "CERTIFICATE")
    assert listed.records[1].dns_name == "capf.example"
    assert listed.records[2].ip_address == "192.0.2.10"
    # A single flipped signature bit no longer verifies.
    damaged = bytearray(file)
    damaged[listed.header.signature_offset + 10] ^= 0x01
    with pytest.raises(capf.VerificationError):
        capf.TrustList.parse(bytes(damaged)).verify()


def test_builder_refuses_a_signer_not_listed_as_sast(data: Path) -> None:
    with pytest.raises(capf.CapfError):
        build_ctl(data, "sast", ["sast2"])
    with pytest.raises(capf.MisuseError):
        capf.TrustListBuilder("xtl", b"", b"", timestamp=STAMP)
    with pytest.raises(capf.MisuseError) as caught:
        capf.TrustListBuilder("ctl", key_file(data, "sast"), b"not a key", timestamp=STAMP)
    assert "not a key" not in str(caught.value)


def test_key_and_certificate_as_der_bytes(data: Path) -> None:
    pem = key_file(data, "sast")
    certificate, key = pem_der(pem, "CERTIFICATE"), pem_der(pem, "PRIVATE KEY")
    signed = capf.SignedFile.sign(
        b"<config/>", certificate, key, filename="SEP1.cnf.xml.sgn", timestamp=STAMP
    )
    parsed = capf.SignedFile.parse(signed)
    parsed.verify(certificate)
    parsed.verify(pem)
    assert parsed.payload == b"<config/>"
    with pytest.raises(capf.VerificationError):
        parsed.verify(key_file(data, "sast2"))


def test_evaluate_explains_pins_and_roles(data: Path) -> None:
    ctl = capf.TrustStore.from_trust_list(capf.TrustList.parse(build_ctl(data, "sast", ["sast"])))
    assert ctl.kind == "ctl" and ctl.name == "CTLFile.tlv" and len(ctl) == 3
    capf_cert = key_file(data, "capf")

    verdict = capf.evaluate(capf_cert, capf.Purpose.tls_server("capf"), [ctl], NOW)
    assert verdict.trusted is True
    assert verdict.reason is None and verdict.failure is None
    assert verdict.anchor is not None
    assert verdict.anchor.pinned is True
    assert verdict.anchor.store_kind == "ctl"
    assert verdict.anchor.sha256 == capf.TrustStore.from_bytes("pem", "x", capf_cert).entries[0].sha256
    assert verdict.roles == [capf.Role.CAPF]
    assert "TRUSTED" in str(verdict)

    wrong = capf.evaluate([capf_cert], capf.Purpose.tls_server("ccm"), [ctl], NOW)
    assert wrong.trusted is False
    assert wrong.reason == "wrong-role"
    assert wrong.failure is not None and wrong.failure.fix != ""
    assert wrong.fix == wrong.failure.fix
    assert wrong.failure.store_kind == "ctl"
    assert "NOT TRUSTED" in str(wrong)

    stranger = capf.evaluate(key_file(data, "tvs"), capf.Purpose.tls_server("tvs"), [ctl], NOW)
    assert stranger.reason == "not-listed"

    none_apply = capf.evaluate(capf_cert, capf.Purpose.tls_client(), [ctl], NOW)
    assert none_apply.reason == "no-applicable-store"

    garbage = capf.evaluate(b"\x30\x03\x02\x01\x00", capf.Purpose.tls_server("capf"), [ctl], NOW)
    assert garbage.trusted is False and garbage.reason == "malformed"


def test_evaluate_the_recorded_cucm_ctl(data: Path) -> None:
    # The Rust documentation's example, from Python: record 4 of the real
    # CTL is the CAPF certificate.
    listed = capf.TrustList.from_file(data / "cucm-CTLFile.tlv")
    store = capf.TrustStore.from_file("ctl", data / "cucm-CTLFile.tlv")
    capf_cert = listed.records[3].certificate
    assert capf_cert is not None
    at = datetime.fromtimestamp(1_430_968_247, tz=timezone.utc)
    assert capf.evaluate(capf_cert, capf.Purpose.tls_server("capf"), [store], at).trusted
    as_ccm = capf.evaluate(capf_cert, capf.Purpose.tls_server("ccm"), [store], at)
    assert as_ccm.reason == "wrong-role"
    chain = as_ccm.chain
    assert len(chain) == 1 and chain[0].not_before < at < chain[0].not_after


def test_evaluate_a_ca_store_and_revocation(data: Path) -> None:
    store = capf.TrustStore("capf-trust", "capf-trust.pem")
    store.add_certificate(key_file(data, "sast"))
    purpose = capf.Purpose.capf_authentication("lsc", "SEP001122334455")
    assert "capf-trust" in purpose.store_kinds()
    # A CA held in CAPF-trust is no phone's LSC.
    verdict = capf.evaluate(key_file(data, "sast"), purpose, [store], NOW)
    assert verdict.trusted is False
    assert verdict.reason == "wrong-key-usage"
    with pytest.raises(capf.MisuseError):
        capf.TrustStore("browser", "x")
    with pytest.raises(capf.MisuseError):
        capf.Purpose.tls_server("printer")
    with pytest.raises(capf.MalformedError):
        capf.TrustStore.from_bytes("pem", "empty.pem", b"")


def test_rollover_predictions(data: Path) -> None:
    old = build_ctl(data, "sast", ["sast", "sast2"])
    new = build_ctl(data, "sast2", ["sast2"])
    alone = build_ctl(data, "sast", ["sast"])

    first = capf.predict_rollover(new)
    assert first.accepted is True and first.acceptance == "first-use"
    assert first.authority == "none" and first.candidate_kind == "CTL"

    same = capf.predict_rollover(new, installed_ctl=old)
    assert same.accepted is True
    assert same.acceptance == "same-certificate"
    assert same.authority == "CTL"
    record = same.installed_record
    assert record is not None
    assert record.list == "CTL" and record.index == 1 and record.role == capf.Role.SAST

    stranded = capf.predict_rollover(new, installed_ctl=alone)
    assert stranded.accepted is False
    assert stranded.rejection_reason == "signer-unknown"
    assert stranded.fix is not None and stranded.fix != ""
    assert stranded.rejection_detail
    assert stranded.signer_sha256 is not None
    assert "Fix:" in str(stranded)

    damaged = bytearray(new)
    damaged[-2] ^= 0x01  # inside the last record's IP address
    broken = capf.predict_rollover(bytes(damaged), kind="ctl", installed_ctl=old)
    assert broken.accepted is False
    assert broken.rejection_reason == "signature-invalid"

    with pytest.raises(capf.MalformedError):
        capf.predict_rollover(new, installed_ctl=b"garbage")
    with pytest.raises(capf.MisuseError):
        capf.predict_rollover(b"garbage")


def test_rollover_vouched_by_tvs(data: Path) -> None:
    signer = key_file(data, "itlrecovery")
    itl = (
        capf.TrustListBuilder("itl", signer, signer, timestamp=STAMP)
        .record(signer, capf.Role.SAST)
        .record(key_file(data, "tvs"), capf.Role.TVS)
        .build()
    )
    new_signer = key_file(data, "sast2")
    candidate = (
        capf.TrustListBuilder("itl", new_signer, new_signer, timestamp=STAMP)
        .record(new_signer, capf.Role.SAST)
        .build()
    )
    unknown = capf.predict_rollover(candidate, installed_itl=itl)
    assert unknown.accepted is False and unknown.rejection_reason == "signer-unknown"

    tvs = capf.TvsKnowledge()
    tvs.insert(new_signer, [capf.Role.SAST])
    assert len(tvs) == 1
    vouched = capf.predict_rollover(candidate, installed_itl=itl, tvs=tvs)
    assert vouched.accepted is True
    assert vouched.acceptance == "vouched-by-tvs"
    assert vouched.authority == "ITL"
    assert vouched.tvs_roles == [capf.Role.SAST]

    revoked = capf.TvsKnowledge()
    revoked.insert(new_signer, [capf.Role.SAST], revoked=True)
    refused = capf.predict_rollover(candidate, installed_itl=itl, tvs=revoked)
    assert refused.rejection_reason == "tvs-revoked"


def test_cryptography_objects_are_accepted(data: Path) -> None:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        pytest.skip("SKIPPED: the cryptography package is not installed")
    pem = key_file(data, "sast")
    certificate = x509.load_pem_x509_certificate(pem)
    key = serialization.load_pem_private_key(pem, password=None)
    file = (
        capf.TrustListBuilder("ctl", certificate, key, timestamp=STAMP)
        .record(certificate, capf.Role.SAST)
        .build()
    )
    listed = capf.TrustList.parse(file)
    listed.verify()
    assert listed.records[0].certificate == pem_der(pem, "CERTIFICATE")
    signed = capf.SignedFile.sign(b"x", certificate, key, filename="a.sgn", timestamp=STAMP)
    capf.SignedFile.parse(signed).verify(certificate)
    assert capf.subject_public_key_info(certificate) == capf.subject_public_key_info(pem)
    verdict = capf.evaluate(
        [certificate], capf.Purpose.file_signer("trust-list"),
        [capf.TrustStore.from_trust_list(listed)], NOW,
    )
    assert verdict.trusted is True


def test_the_package_imports_and_works_without_cryptography(data: Path) -> None:
    script = f"""
import sys
sys.modules["cryptography"] = None  # import cryptography now fails
import capf
pem = open({str(data / "keys" / "sast.pem")!r}, "rb").read()
signed = capf.SignedFile.sign(b"x", pem, pem, filename="a.sgn", timestamp={STAMP})
capf.SignedFile.parse(signed).verify(pem)
try:
    capf.subject_public_key_info(object())
except capf.MisuseError:
    print("ok")
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
