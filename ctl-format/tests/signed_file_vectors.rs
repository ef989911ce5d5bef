//! Signed files (`.sgn`, firmware `.loads`) against their sidecars, a
//! byte-for-byte rebuild of the certutils vectors, and tamper resistance.

use ctl_format::signed_file::{self, SignOptions, SignatureStatus, SignedFile};
use ctl_format::{
    Certificate, Error, HashAlgorithm, HashPolicy, IssuerMatch, MalformedFile, NameStyle, Refusal,
    RsaFileSigner, UsageError,
};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod property_support;
use property_support::run_reaching;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sidecar(path: &Path) -> Value {
    let mut name = path.as_os_str().to_owned();
    name.push(".json");
    serde_json::from_slice(&read(Path::new(&name))).unwrap()
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(vectors().join("sgn/keys").join(name)).unwrap()
}

fn certificate(name: &str) -> Certificate {
    Certificate::from_pem(&key_text(name)).unwrap()
}

fn tftp_signer() -> RsaFileSigner {
    RsaFileSigner::from_pem(&key_text("ccm-tftp.pem")).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(HashAlgorithm::Sha256.digest_parts(&[bytes]))
}

fn as_usize(value: &Value) -> usize {
    usize::try_from(value.as_u64().unwrap()).unwrap()
}

/// Every signed-file vector (not encrypted) and every firmware sample.
fn signed_vectors() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in ["sgn", "real/firmware/sccp", "real/firmware/sip"] {
        for entry in std::fs::read_dir(vectors().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                found.push(path.with_extension(""));
            }
        }
    }
    found.sort();
    assert_eq!(found.len(), 18, "the vector set changed: {found:?}");
    found
}

#[test]
fn every_signed_file_matches_its_sidecar() {
    for path in signed_vectors() {
        let name = path.display().to_string();
        let bytes = read(&path);
        let expected = sidecar(&path);
        assert_eq!(
            sha256_hex(&bytes),
            expected["sha256"].as_str().unwrap(),
            "{name}"
        );

        if expected["expected"]["parse_ok"] == false {
            // The only one: the later firmware container.
            assert_eq!(expected["expected"]["error"], "not_tlv_format", "{name}");
            assert!(bytes.starts_with(&[0xCD, 0x34, 0x12, 0xAB]), "{name}");
            assert_eq!(
                SignedFile::parse(&bytes).unwrap_err(),
                Error::Malformed(MalformedFile::NewerFirmwareContainer),
                "{name}"
            );
            continue;
        }

        let file = SignedFile::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let payload = &expected["payload"];
        assert_eq!(
            file.payload_offset(),
            as_usize(&payload["offset"]),
            "{name}"
        );
        assert_eq!(file.payload().len(), as_usize(&payload["length"]), "{name}");
        assert_eq!(
            sha256_hex(file.payload()),
            payload["sha256"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(file.strip(), file.payload(), "{name}");
        assert_eq!(
            file.is_encrypted(),
            expected["kind"] == "enc-sgn",
            "{name}: encryption elements"
        );
        // Round trip: header re-encoded plus payload is the input.
        let mut rebuilt = file.header().encode();
        rebuilt.extend_from_slice(file.payload());
        assert_eq!(rebuilt, bytes, "{name}: round trip");

        let verdict = &expected["expected"]["signature_valid"];
        match verdict {
            Value::Bool(valid) => {
                assert_eq!(
                    file.signature_status(),
                    SignatureStatus::NeedsSignerCertificate
                );
                let signer_pem = expected["signature"]["signer_certificate"]
                    .as_str()
                    .unwrap();
                let signer = Certificate::from_pem(
                    &std::fs::read_to_string(vectors().join("sgn").join(signer_pem)).unwrap(),
                )
                .unwrap();
                let result = file.verify(&signer, HashPolicy::CISCO);
                if *valid {
                    let verified = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(verified.issuer, IssuerMatch::Matches, "{name}");
                    assert_eq!(
                        verified.hash_algorithm.name().to_uppercase(),
                        expected["signature"]["hash"].as_str().unwrap(),
                        "{name}"
                    );
                } else {
                    assert_eq!(expected["expected"]["error"], "signature_invalid", "{name}");
                    assert_eq!(
                        result.unwrap_err(),
                        Error::Refused(Refusal::SignatureInvalid),
                        "{name}"
                    );
                }
            }
            Value::String(text) => {
                assert!(text.starts_with("not checkable"), "{name}: {text}");
                assert!(file.is_cisco_firmware(), "{name}");
                assert_eq!(
                    file.signature_status(),
                    SignatureStatus::UnverifiableCiscoFirmware,
                    "{name}"
                );
                // Whatever certificate is offered, the answer is "cannot check".
                assert_eq!(
                    file.verify(&certificate("ccm-tftp.pem"), HashPolicy::ANY)
                        .unwrap_err(),
                    Error::Refused(Refusal::UnverifiableCiscoFirmware),
                    "{name}"
                );
            }
            other => panic!("{name}: unexpected verdict {other}"),
        }
    }
}

/// certutils `sgnfile --build --tftp keys/ccm-tftp.pem SEP001122334455.cnf.xml`
/// rebuilt with the same key, input, filename and timestamp: RSA PKCS #1 v1.5
/// is deterministic, so the files must be identical.
#[test]
fn certutils_sgnfile_output_is_reproduced_byte_for_byte() {
    let input = read(&vectors().join("sgn/SEP001122334455.cnf.xml"));
    let cert = certificate("ccm-tftp.pem");
    for (vector, hash) in [
        ("SEP001122334455.cnf.xml.sgn", HashAlgorithm::Sha1),
        ("SEP001122334455-sha512.cnf.xml.sgn", HashAlgorithm::Sha512),
    ] {
        let path = vectors().join("sgn").join(vector);
        let expected = sidecar(&path);
        let timestamp = u32::try_from(expected["header"]["timestamp"].as_u64().unwrap()).unwrap();
        // The filename element is what certutils wrote (the -sha512 vector was renamed afterwards).
        let filename = expected["header"]["filename"].as_str().unwrap();
        let options = SignOptions::certutils(hash, filename, timestamp);
        let built = signed_file::sign(&input, &cert, &tftp_signer(), &options).unwrap();
        assert_eq!(built, read(&path), "{vector}");
    }
}

#[test]
fn cisco_style_uses_unified_cm_names_and_order() {
    let cert = certificate("ccm-tftp.pem");
    let options = SignOptions::cisco(
        HashAlgorithm::Sha1,
        "SEP001122334455.cnf.xml.sgn",
        1_700_000_000,
    );
    let built = signed_file::sign(b"<device/>\n", &cert, &tftp_signer(), &options).unwrap();
    let file = SignedFile::parse(&built).unwrap();
    let header = file.header();
    assert_eq!(&header.element_order()[..6], &[1, 2, 3, 4, 5, 6]);
    assert_eq!(
        header.signer_name.unwrap().as_str().unwrap(),
        cert.subject_name(NameStyle::Cisco)
    );
    assert!(header.signer_name.unwrap().as_str().unwrap().contains(';'));
    assert_eq!(header.timestamp, Some(1_700_000_000));
    assert_eq!(file.payload(), b"<device/>\n");
    let verified = file.verify(&cert, HashPolicy::CISCO).unwrap();
    assert_eq!(verified.issuer, IssuerMatch::Matches);
}

#[test]
fn empty_payload_is_legal() {
    let cert = certificate("ccm-tftp.pem");
    let options = SignOptions::certutils(HashAlgorithm::Sha512, "empty.sgn", 0);
    let built = signed_file::sign(b"", &cert, &tftp_signer(), &options).unwrap();
    let file = SignedFile::parse(&built).unwrap();
    assert!(file.payload().is_empty());
    assert_eq!(file.payload_offset(), built.len());
    file.verify(&cert, HashPolicy::CISCO).unwrap();
}

#[test]
fn wrong_certificate_is_named_not_verified_blindly() {
    let bytes = read(&vectors().join("sgn/SEP001122334455.cnf.xml.sgn"));
    let file = SignedFile::parse(&bytes).unwrap();
    let error = file
        .verify(&certificate("phone-lsc.pem"), HashPolicy::CISCO)
        .unwrap_err();
    let Error::Refused(Refusal::SignerMismatch { header_serial, .. }) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(header_serial, "d43fecc03da547ad4fdee8a263a55c");
}

#[test]
fn policy_refuses_disallowed_digests() {
    let bytes = read(&vectors().join("sgn/SEP001122334455.cnf.xml.sgn"));
    let file = SignedFile::parse(&bytes).unwrap();
    assert_eq!(
        file.verify(&certificate("ccm-tftp.pem"), HashPolicy::SHA512_ONLY)
            .unwrap_err(),
        Error::Refused(Refusal::HashNotAllowed {
            algorithm: HashAlgorithm::Sha1
        })
    );
}

#[test]
fn signing_key_must_match_the_certificate() {
    let phone_key = RsaFileSigner::from_pem(&key_text("phone-lsc.pem")).unwrap();
    let options = SignOptions::certutils(HashAlgorithm::Sha1, "x.sgn", 0);
    assert_eq!(
        signed_file::sign(b"x", &certificate("ccm-tftp.pem"), &phone_key, &options).unwrap_err(),
        Error::Misuse(UsageError::KeyCertificateMismatch)
    );
    // An EC signer certificate cannot sign these files.
    assert_eq!(
        signed_file::sign(b"x", &certificate("tftp-ec.pem"), &tftp_signer(), &options).unwrap_err(),
        Error::Misuse(UsageError::EcKeyNotSupported)
    );
}

/// Flipping any single bit of a small signed file is caught, by the parser
/// or by the signature check.
#[test]
fn every_single_bit_flip_is_rejected() {
    let cert = certificate("ccm-tftp.pem");
    let options = SignOptions::certutils(HashAlgorithm::Sha1, "a.sgn", 1_795_323_869);
    let original = signed_file::sign(b"<a>1</a>\n", &cert, &tftp_signer(), &options).unwrap();
    SignedFile::parse(&original)
        .unwrap()
        .verify(&cert, HashPolicy::CISCO)
        .unwrap();
    let mut flipped = original.clone();
    for index in 0..original.len() {
        for bit in 0..8 {
            let mask = 1u8 << bit;
            flipped[index] ^= mask;
            let accepted = SignedFile::parse(&flipped)
                .and_then(|file| file.verify(&cert, HashPolicy::ANY))
                .is_ok();
            assert!(
                !accepted,
                "byte {index} bit {bit} flipped and still accepted"
            );
            flipped[index] ^= mask;
        }
    }
}

/// A signed file to parse: arbitrary bytes, or the TFTP-signed vector with
/// one byte replaced (files that parse, so that verify runs).
fn signed_like(real: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let (length, real) = (real.len(), real.to_vec());
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..65_536),
        (0..length, any::<u8>()).prop_map(move |(index, value)| {
            let mut bytes = real.clone();
            bytes[index] = value;
            bytes
        }),
    ]
}

#[test]
fn arbitrary_and_mutated_files_never_panic() {
    let path = vectors().join("sgn/SEP001122334455.cnf.xml.sgn");
    let real = read(&path);
    let signer = certificate("ccm-tftp.pem");
    SignedFile::parse(&real)
        .unwrap()
        .verify(&signer, HashPolicy::ANY)
        .unwrap();
    run_reaching("signed file parse", 256, 60, signed_like(&real), |bytes| {
        let Ok(file) = SignedFile::parse(&bytes) else {
            return Ok(false);
        };
        // What parses is its header and payload, byte for byte.
        let mut rebuilt = file.header().encode();
        rebuilt.extend_from_slice(file.payload());
        prop_assert_eq!(&rebuilt, &bytes);
        // Only the unchanged file verifies (a byte set to its own value).
        let verified = file.verify(&signer, HashPolicy::ANY).is_ok();
        prop_assert!(!verified || bytes == real, "a changed file verified");
        Ok(true)
    });
}
