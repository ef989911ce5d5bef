"""Files from Python: trust lists, signed files and encrypted configs,
checked against the vectors' JSON descriptions (written by the tools that
built them, not by this package)."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import capf


def pem_block(path: Path, label: str) -> bytes:
    text = path.read_text()
    begin = f"-----BEGIN {label}-----"
    end = f"-----END {label}-----"
    start = text.index(begin)
    return text[start : text.index(end, start) + len(end)].encode() + b"\n"


# --- trust lists -----------------------------------------------------------


def test_real_cucm_ctl_header_and_records_match_the_vector_description(data: Path) -> None:
    expected = json.loads((data / "cucm-CTLFile.tlv.json").read_text())
    ctl = capf.TrustList.from_file(data / "cucm-CTLFile.tlv")
    header = expected["header"]
    assert ctl.header.version == header["version"]
    assert ctl.header.header_length == header["header_length"]
    assert ctl.header.signer_name == header["signer_name"]
    assert ctl.header.issuer_name == header["issuer_name"]
    assert ctl.header.serial_number.hex() == header["serial_number"]
    assert ctl.header.hash_algorithm == header["hash_algorithm_name"].lower()
    assert ctl.header.signature_offset == header["signature_offset"]
    assert len(ctl.header.signature) == header["signature_length"]
    assert ctl.header.filename == header["filename"]
    assert ctl.header.timestamp == header["timestamp"]
    assert ctl.header.padding_count == header["padding_count"]
    assert ctl.header.element_order == header["element_order"]
    assert ctl.header.encrypted is False

    assert len(ctl) == expected["record_count"] == len(ctl.records)
    for record, want in zip(ctl.records, expected["records"]):
        assert record.offset == want["offset"]
        assert record.role is not None
        assert int(record.role) == want["role"]
        assert record.role.name == want["role_name"].replace("+", "_").replace("-", "_")
        assert record.subject_name == want.get("subject_name")
        assert record.issuer_name == want.get("issuer_name")
        assert record.dns_name == want.get("dns_name")
        assert record.ip_address == want.get("ip_address")
        serial = record.serial_number
        assert (serial.hex() if serial is not None else None) == want.get("serial_number")
        cert = record.certificate
        if "certificate_sha256" in want:
            import hashlib

            assert cert is not None
            assert len(cert) == want["certificate_length"]
            assert hashlib.sha256(cert).hexdigest() == want["certificate_sha256"]
        else:
            assert cert is None

    assert ctl.records[0].role is capf.Role.SAST
    assert ctl.data == (data / "cucm-CTLFile.tlv").read_bytes()


def test_real_cucm_ctl_verifies_from_bytes_and_from_file(data: Path) -> None:
    raw = (data / "cucm-CTLFile.tlv").read_bytes()
    # verify() returns nothing and raises on failure (as pyca's verify).
    capf.TrustList.parse(raw).verify()
    capf.TrustList.parse(bytearray(raw)).verify()
    capf.TrustList.from_file(str(data / "cucm-CTLFile.tlv")).verify()


def test_tampered_and_badsig_ctls_raise_verification_error(data: Path) -> None:
    for name in ("ctl-sha1-tampered.tlv", "ctl-sha1-badsig.tlv"):
        ctl = capf.TrustList.from_file(data / name)
        with pytest.raises(capf.VerificationError) as caught:
            ctl.verify()
        assert isinstance(caught.value, capf.CapfError)
        assert "signature" in str(caught.value)
    capf.TrustList.from_file(data / "ctl-sha1.tlv").verify()


def test_sha512_list_is_refused_by_sha512_only_policy_only_when_sha1(data: Path) -> None:
    capf.TrustList.from_file(data / "ctl-sha512.tlv").verify(hash_policy="sha512-only")
    with pytest.raises(capf.VerificationError):
        capf.TrustList.from_file(data / "ctl-sha1.tlv").verify(hash_policy="sha512-only")
    with pytest.raises(capf.MisuseError):
        capf.TrustList.from_file(data / "ctl-sha1.tlv").verify(hash_policy="md5")


def test_rollover_against_previous_list(data: Path) -> None:
    sha1 = capf.TrustList.from_file(data / "ctl-sha1.tlv")
    sha512 = capf.TrustList.from_file(data / "ctl-sha512.tlv")
    # Both signed by the same SAST token (vector README): a phone accepts it.
    sha512.verify(sha1)
    sha1.verify(previous=sha512)
    # The Unified CM list's signer is not in the example lists.
    real = capf.TrustList.from_file(data / "cucm-CTLFile.tlv")
    with pytest.raises(capf.VerificationError):
        real.verify(previous=sha1)


def test_truncated_itl_is_malformed_with_the_offset_of_the_record(data: Path) -> None:
    with pytest.raises(capf.MalformedError) as caught:
        capf.TrustList.from_file(data / "itl-sha1-truncated.tlv")
    # The vector's description: "record at offset 5922 declares length 1764".
    assert caught.value.offset == 5922
    assert isinstance(caught.value, ValueError)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        capf.TrustList.from_file(tmp_path / "absent.tlv")
    assert caught.value.filename == str(tmp_path / "absent.tlv")


def test_wrong_argument_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        capf.TrustList.parse("not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        capf.TrustList.parse(None)  # type: ignore[arg-type]


# --- bad input of every kind on every file entry point -----------------------


def mutations(original: bytes, seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = [b"", b"\x00", original[:1], original[:9], original[:-1]]
    for _ in range(count):
        data = bytearray(original)
        kind = rng.randrange(3)
        if kind == 0:
            for _ in range(rng.randrange(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            del data[rng.randrange(len(data)) :]
        else:
            data = bytearray(rng.randbytes(rng.randrange(1, 64)))
        out.append(bytes(data))
    return out


@pytest.mark.parametrize(
    ("parser", "vector"),
    [
        (capf.TrustList, "cucm-CTLFile.tlv"),
        (capf.SignedFile, "SEP001122334455.cnf.xml.sgn"),
        (capf.EncryptedConfig, "SEPAABBCCDDEEFF.cnf.xml.enc.sgn"),
    ],
)
def test_mangled_bytes_raise_only_capf_errors(data: Path, parser: Any, vector: str) -> None:
    original = (data / vector).read_bytes()
    outcomes = {"parsed": 0, "malformed": 0}
    for sample in mutations(original, seed=10, count=300):
        try:
            parsed = parser.parse(sample)
        except capf.MalformedError as error:
            outcomes["malformed"] += 1
            assert error.offset is None or 0 <= error.offset <= len(sample)
            continue
        outcomes["parsed"] += 1
        # Whatever parsed must verify or refuse, never crash.
        try:
            if isinstance(parsed, capf.TrustList):
                parsed.verify()
                for record in parsed.records:
                    (record.role, record.subject_name, record.certificate, record.ip_address)
            elif isinstance(parsed, capf.SignedFile):
                parsed.verify(pem_block(data / "ccm-tftp.pem", "CERTIFICATE"))
        except capf.CapfError:
            pass
    assert outcomes["malformed"] > 0
    assert outcomes["parsed"] + outcomes["malformed"] == 305


# --- signed files ------------------------------------------------------------


def test_signed_file_verifies_and_tampered_copy_does_not(data: Path) -> None:
    cert = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    signed = capf.SignedFile.from_file(data / "SEP001122334455.cnf.xml.sgn")
    signed.verify(cert)
    assert signed.payload == (data / "SEP001122334455.cnf.xml").read_bytes()
    assert signed.is_cisco_firmware is False
    assert signed.is_encrypted is False
    with pytest.raises(capf.VerificationError):
        capf.SignedFile.from_file(data / "SEP001122334455-tampered.cnf.xml.sgn").verify(cert)
    # The wrong certificate: another serial than the header names.
    with pytest.raises(capf.VerificationError):
        signed.verify(pem_block(data / "phone-lsc.pem", "CERTIFICATE"))


def test_sign_then_verify_round_trip(data: Path) -> None:
    cert = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    key = pem_block(data / "ccm-tftp.pem", "PRIVATE KEY")
    payload = b"<device><x/></device>\n"
    file = capf.SignedFile.sign(
        payload, cert, key, hash="sha512", filename="SEPX.cnf.xml.sgn", timestamp=1_700_000_000
    )
    parsed = capf.SignedFile.parse(file)
    assert parsed.payload == payload
    assert parsed.header.filename == "SEPX.cnf.xml.sgn"
    assert parsed.header.timestamp == 1_700_000_000
    assert parsed.header.hash_algorithm == "sha512"
    parsed.verify(cert)
    # A key that does not belong to the certificate is a misuse.
    other_key = pem_block(data / "phone-lsc.pem", "PRIVATE KEY")
    with pytest.raises(capf.MisuseError):
        capf.SignedFile.sign(payload, cert, other_key, filename="x", timestamp=0)


def test_bad_certificate_and_key_inputs(data: Path) -> None:
    signed = capf.SignedFile.from_file(data / "SEP001122334455.cnf.xml.sgn")
    with pytest.raises(capf.MalformedError):
        signed.verify(b"not a certificate")
    with pytest.raises(capf.MalformedError):
        signed.verify(b"")
    cert = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    secret = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(capf.CapfError) as caught:
        capf.SignedFile.sign(b"x", cert, secret, filename="x", timestamp=0)
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(capf.MisuseError):
        capf.SignedFile.sign(b"x", cert, b"\xff\xfe", filename="x", timestamp=0)
    with pytest.raises(capf.MisuseError):
        capf.SignedFile.sign(b"x", cert, secret, hash="md5", filename="x", timestamp=0)


# --- encrypted configs ---------------------------------------------------------


def test_encrypted_config_decrypts_to_the_vector_plaintext(data: Path) -> None:
    config = capf.EncryptedConfig.from_file(data / "SEPAABBCCDDEEFF.cnf.xml.enc.sgn")
    assert config.header.encrypted is True
    tftp = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    phone_key = pem_block(data / "phone-lsc.pem", "PRIVATE KEY")
    plain = config.decrypt(tftp, phone_key)
    assert plain == (data / "SEPAABBCCDDEEFF.cnf.xml.plaintext").read_bytes()


def test_flipped_encrypted_config_is_refused(data: Path) -> None:
    config = capf.EncryptedConfig.from_file(data / "SEPAABBCCDDEEFF-flipped.cnf.xml.enc.sgn")
    tftp = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    phone_key = pem_block(data / "phone-lsc.pem", "PRIVATE KEY")
    with pytest.raises(capf.VerificationError):
        config.decrypt(tftp, phone_key)
    # The vector: "if decrypted anyway: plaintext hash mismatch".
    with pytest.raises(capf.VerificationError):
        config.decrypt_unverified(phone_key)


def test_encrypt_then_decrypt_round_trip(data: Path) -> None:
    tftp = pem_block(data / "ccm-tftp.pem", "CERTIFICATE")
    tftp_key = pem_block(data / "ccm-tftp.pem", "PRIVATE KEY")
    phone = pem_block(data / "phone-lsc.pem", "CERTIFICATE")
    phone_key = pem_block(data / "phone-lsc.pem", "PRIVATE KEY")
    plaintext = b"<device><sshUserId>admin</sshUserId></device>\n"
    file = capf.EncryptedConfig.encrypt(
        plaintext, phone, tftp, tftp_key, filename="SEPX.cnf.xml.enc.sgn", timestamp=1
    )
    config = capf.EncryptedConfig.parse(file)
    assert plaintext not in file
    assert config.decrypt(tftp, phone_key) == plaintext
    # The TFTP key cannot unwrap what was encrypted for the phone.
    with pytest.raises(capf.VerificationError):
        config.decrypt(tftp, tftp_key)
    # A plain signed file is not an encrypted config.
    with pytest.raises(capf.MalformedError):
        capf.EncryptedConfig.from_file(data / "SEP001122334455.cnf.xml.sgn")


# --- the GIL is released: many threads verify at once, with the same answers ---


def test_threads_parse_and_verify_concurrently(data: Path) -> None:
    raw = (data / "ctl-sha512.tlv").read_bytes()
    bad = (data / "ctl-sha1-tampered.tlv").read_bytes()

    def check(index: int) -> bool:
        try:
            capf.TrustList.parse(raw if index % 2 == 0 else bad).verify()
            return True
        except capf.VerificationError:
            return False

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, range(40)))
    assert results == [index % 2 == 0 for index in range(40)]
