"""Issuance (`capf.LscIssuer`) and authentication strings
(`capf.generate_auth_string`) from Python. The issued certificates are
read back with `cryptography` (a parser that is not this package's)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import capf

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=timezone.utc)
DEVICE = "SEP0011223344CD"


def spki_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def phone_key(seed: int = 0x1234_5678_9ABC) -> ec.EllipticCurvePrivateKey:
    """A fixed phone key (seeded, so every run issues for the same key)."""
    return ec.derive_private_key(seed, ec.SECP256R1())


def issuer_forms(data: Path) -> dict[str, capf.LscIssuer]:
    """The same issuer loaded from PEM text, DER bytes and cryptography
    objects."""
    cert_pem = (data / "issuer-ec-p256.cert.pem").read_text()
    key_pem = (data / "issuer-ec-p256.key.pem").read_text()
    certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {
        "pem": capf.LscIssuer(cert_pem, key_pem),
        "pem-bytes": capf.LscIssuer(cert_pem.encode(), key_pem.encode()),
        "der": capf.LscIssuer(cert_der, key_der),
        "cryptography": capf.LscIssuer(certificate, key),
    }


@pytest.mark.parametrize("form", ["pem", "pem-bytes", "der", "cryptography"])
def test_issued_lsc_carries_exactly_the_key_and_the_name(data: Path, form: str) -> None:
    issuer_certificate = x509.load_pem_x509_certificate(
        (data / "issuer-ec-p256.cert.pem").read_bytes()
    )
    issuer = issuer_forms(data)[form]
    assert issuer.certificate == issuer_certificate.public_bytes(serialization.Encoding.DER)
    key = phone_key()
    issued = x509.load_der_x509_certificate(issuer.issue(DEVICE, spki_of(key), NOW))
    # Exactly the phone's key.
    assert issued.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == spki_of(key)
    # Exactly the device name as common name (one CN).
    names = issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [n.value for n in names] == [DEVICE]
    # Issued and signed by the issuer, from `now`.
    assert issued.issuer == issuer_certificate.subject
    issued.verify_directly_issued_by(issuer_certificate)
    assert issued.not_valid_before_utc <= NOW
    assert issued.not_valid_after_utc > NOW + timedelta(days=3000)


def test_issue_accepts_the_public_key_as_pem_or_cryptography_object(data: Path) -> None:
    issuer = issuer_forms(data)["pem"]
    key = phone_key(0xBEEF)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for given in (pem, pem.decode(), key.public_key()):
        issued = x509.load_der_x509_certificate(
            issuer.issue(DEVICE, given, NOW, validity_days=30)
        )
        assert issued.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == spki_of(key)
        assert issued.not_valid_after_utc - issued.not_valid_before_utc <= timedelta(days=31)


def test_issue_for_a_generated_rsa_key(data: Path) -> None:
    spki, _ = capf.generate_key("rsa:2048")
    issued = x509.load_der_x509_certificate(issuer_forms(data)["pem"].issue(DEVICE, spki, NOW))
    assert issued.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == spki


def test_bad_issuer_and_bad_public_key_raise(data: Path) -> None:
    cert_pem = (data / "issuer-ec-p256.cert.pem").read_text()
    key_pem = (data / "issuer-ec-p256.key.pem").read_text()
    other = phone_key(0x77).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(capf.CapfError):
        capf.LscIssuer(cert_pem, other)  # the key is not the certificate's
    with pytest.raises(capf.CapfError):
        capf.LscIssuer(b"\x30\x03\x02\x01\x01", key_pem)
    with pytest.raises(capf.CapfError) as raised:
        capf.LscIssuer(cert_pem, b"not a key at all")
    assert "not a key" not in str(raised.value)  # the key is never quoted
    issuer = capf.LscIssuer(cert_pem, key_pem)
    for bad in (b"", b"\x30\x00", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"):
        with pytest.raises(capf.CapfError):
            issuer.issue(DEVICE, bad, NOW)
    with pytest.raises(capf.CapfError):
        issuer.issue(DEVICE, 42, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("digits", [4, 6, 10])
def test_generated_auth_strings(digits: int) -> None:
    drawn = {capf.generate_auth_string(digits) for _ in range(20)}
    assert all(len(s) == digits and s.isascii() and s.isdigit() for s in drawn)
    # Random: 20 draws of at least 10^4 values are not all the same.
    assert len(drawn) > 1


def test_generated_auth_string_default_and_range() -> None:
    assert len(capf.generate_auth_string()) == 6
    for bad in (0, 3, 11):
        with pytest.raises(capf.CapfError):
            capf.generate_auth_string(bad)


def test_generated_auth_string_authenticates_a_phone(tmp_path: Path) -> None:
    """A generated string is one the registry and the sessions accept."""
    digits = capf.generate_auth_string(8)
    registry = capf.Registry(tmp_path / "capf.db")
    assert registry.add_device(DEVICE, auth="auth-string", auth_string=digits)
    assert registry.device(DEVICE).has_auth_string
    capf.PhoneSession(DEVICE, NOW, auth_string=digits)
