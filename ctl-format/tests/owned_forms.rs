//! The owned forms give the same answers as the zero-copy ones on every
//! vector (parse, round trip, every record field, verify, rollover, strip,
//! decrypt), and the answers themselves are checked against the sidecars
//! and the files, not against the code under test. Then the error split:
//! each fault is produced, with its offset where it has one, and none
//! echoes a secret.

use ctl_format::{
    Certificate, EncryptedConfig, Error, Fault, HashPolicy, MalformedFile, OwnedEncryptedConfig,
    OwnedSignedFile, OwnedSignedHeader, OwnedTrustList, Refusal, SignedFile, SignedHeader,
    TrustList, UsageError,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

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

/// Every file in `folders` whose name ends with one of `suffixes` and has a
/// sidecar.
fn files(folders: &[&str], suffixes: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in folders {
        for entry in std::fs::read_dir(vectors().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if suffixes.iter().any(|suffix| name.ends_with(suffix))
                && path
                    .with_extension(format!("{}.json", extension(&path)))
                    .exists()
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn extension(path: &Path) -> String {
    path.extension().unwrap().to_string_lossy().into_owned()
}

fn trust_lists() -> Vec<PathBuf> {
    let found = files(
        &[
            "tlv",
            "real/cucm",
            "real/third-party/buba0",
            "real/third-party/csptechnologies",
        ],
        &[".tlv"],
    );
    assert_eq!(found.len(), 10, "the vector set changed: {found:?}");
    found
}

fn signed_files() -> Vec<PathBuf> {
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

fn sgn_key(name: &str) -> String {
    std::fs::read_to_string(vectors().join("sgn/keys").join(name)).unwrap()
}

/// The owned header against the zero-copy one, field by field, and a few
/// fields against the file itself.
fn assert_same_header(
    owned: &OwnedSignedHeader,
    header: &SignedHeader<'_>,
    bytes: &[u8],
    at: &str,
) {
    assert_eq!(owned.version, header.version, "{at}");
    assert_eq!(owned.header_length, header.header_length, "{at}");
    // The header length is the big-endian u16 at offset 8 of every file.
    assert_eq!(
        owned.header_length,
        u16::from_be_bytes([bytes[8], bytes[9]]),
        "{at}"
    );
    assert_eq!(owned.signer_version, header.signer_version, "{at}");
    let text = |value: Option<ctl_format::TlvString<'_>>| value.map(|t| t.to_string_lossy());
    assert_eq!(owned.signer_name, text(header.signer_name), "{at}");
    assert_eq!(owned.issuer_name, text(header.issuer_name), "{at}");
    assert_eq!(owned.filename, text(header.filename), "{at}");
    assert_eq!(owned.serial_number, header.serial_number, "{at}");
    assert_eq!(owned.hash_algorithm, header.hash_algorithm, "{at}");
    assert_eq!(
        owned.signature_algorithm, header.signature_algorithm,
        "{at}"
    );
    assert_eq!(owned.modulus_code, header.modulus_code, "{at}");
    assert_eq!(owned.signature, header.signature, "{at}");
    // The signature sits in the file at its offset, after its 3-byte head.
    let start = owned.signature_offset + 3;
    assert_eq!(
        &bytes[start..start + owned.signature.len()],
        owned.signature.as_slice(),
        "{at}"
    );
    assert_eq!(owned.signature_offset, header.signature_offset, "{at}");
    assert_eq!(owned.timestamp, header.timestamp, "{at}");
    assert_eq!(owned.padding_count, header.padding_count, "{at}");
    assert_eq!(owned.element_order, header.element_order(), "{at}");
    assert_eq!(owned.encrypted, header.encryption.is_present(), "{at}");
    assert_eq!(owned.warnings, header.warnings, "{at}");
}

#[test]
fn owned_trust_lists_answer_as_the_borrowed_ones() {
    let paths = trust_lists();
    let mut parsed = Vec::new();
    for path in &paths {
        let name = path.display().to_string();
        let bytes = read(path);
        let expected = sidecar(path);
        let borrowed = TrustList::parse(&bytes);
        let owned = OwnedTrustList::parse(bytes.clone());
        if expected["expected"]["parse_ok"] == false {
            let error = owned.expect_err(&name);
            assert_eq!(Err(error.clone()), borrowed.map(|_| ()), "{name}");
            assert_eq!(error.fault(), Fault::Malformed, "{name}");
            assert!(error.offset().is_some(), "{name}: {error}");
            continue;
        }
        let owned = owned.unwrap_or_else(|e| panic!("{name}: {e}"));
        let list = borrowed.unwrap();
        assert_eq!(list.clone().into_owned(), owned, "{name}: into_owned");

        // Round trip: the file's own bytes, both ways.
        assert_eq!(owned.bytes(), bytes.as_slice(), "{name}");
        assert_eq!(owned.encode().unwrap(), bytes, "{name}: round trip");

        assert_same_header(owned.header(), list.header(), &bytes, &name);
        assert_eq!(owned.warnings(), list.warnings(), "{name}");

        // Records: against the sidecar, and every getter against the borrowed record.
        let want = expected["records"].as_array().unwrap();
        assert_eq!(owned.records().len(), want.len(), "{name}");
        assert_eq!(owned.records().len(), list.records().len(), "{name}");
        for ((record, borrowed), want) in owned.records().iter().zip(list.records()).zip(want) {
            let at = format!("{name} record {}", want["index"]);
            assert_eq!(
                record.offset() as u64,
                want["offset"].as_u64().unwrap(),
                "{at}"
            );
            assert_eq!(
                u64::from(record.length()),
                want["length"].as_u64().unwrap(),
                "{at}"
            );
            assert_eq!(record.view(), *borrowed, "{at}");
            assert_eq!(record.role(), borrowed.role(), "{at}");
            let text =
                |value: Option<ctl_format::TlvString<'_>>| value.map(|t| t.to_string_lossy());
            assert_eq!(record.subject_name(), text(borrowed.subject_name()), "{at}");
            assert_eq!(record.issuer_name(), text(borrowed.issuer_name()), "{at}");
            assert_eq!(record.dns_name(), text(borrowed.dns_name()), "{at}");
            assert_eq!(record.serial_number(), borrowed.serial_number(), "{at}");
            assert_eq!(record.public_key(), borrowed.public_key(), "{at}");
            assert_eq!(record.signature(), borrowed.signature(), "{at}");
            assert_eq!(record.certificate_der(), borrowed.certificate_der(), "{at}");
            assert_eq!(record.certificate(), borrowed.certificate(), "{at}");
            assert_eq!(
                record.certificate_sha1(),
                borrowed.certificate_sha1(),
                "{at}"
            );
            assert_eq!(record.ip_address(), borrowed.ip_address(), "{at}");
            assert_eq!(record.consistency(), borrowed.consistency(), "{at}");
            assert_eq!(record.element_order(), borrowed.element_order(), "{at}");
            // Every element, value for value, where the file holds it.
            assert_eq!(record.elements().len(), borrowed.elements().len(), "{at}");
            for (element, raw) in record.elements().iter().zip(borrowed.elements()) {
                assert_eq!((element.offset, element.tag), (raw.offset, raw.tag), "{at}");
                let start = element.offset + 3;
                assert_eq!(
                    &bytes[start..start + element.value.len()],
                    element.value.as_slice(),
                    "{at}"
                );
            }
            let unknown: Vec<u8> = borrowed
                .elements()
                .iter()
                .map(|element| element.tag)
                .filter(|tag| !(1..=12).contains(tag))
                .collect();
            let owned_unknown: Vec<u8> = record
                .unknown_elements()
                .iter()
                .map(|element| element.tag)
                .collect();
            assert_eq!(owned_unknown, unknown, "{at}");
        }
        assert_eq!(owned.inconsistencies(), list.inconsistencies(), "{name}");
        assert_eq!(owned.find_signer(), list.find_signer(), "{name}");

        // Verify: the sidecar's verdict, the same from both forms.
        for policy in [HashPolicy::ANY, HashPolicy::CISCO] {
            let answer = owned.verify(policy);
            assert_eq!(answer, list.verify(&bytes, policy), "{name}");
            if policy == HashPolicy::ANY {
                let valid = expected["expected"]["signature_valid"].as_bool().unwrap();
                assert_eq!(answer.is_ok(), valid, "{name}: {answer:?}");
                if let Ok(signer) = &answer {
                    assert_eq!(
                        signer.record_index as u64,
                        expected["signature"]["signer_record_index"]
                            .as_u64()
                            .unwrap(),
                        "{name}"
                    );
                } else {
                    assert_eq!(answer, Err(Error::Refused(Refusal::SignatureInvalid)));
                }
            }
        }
        parsed.push((name, bytes, owned));
    }

    // Rollover, every ordered pair: the same answer from both forms.
    let mut accepted = 0;
    for (name, bytes, owned) in &parsed {
        let list = TrustList::parse(bytes).unwrap();
        for (previous_name, previous_bytes, previous) in &parsed {
            let previous_list = TrustList::parse(previous_bytes).unwrap();
            let answer = owned.verify_against(previous, HashPolicy::ANY);
            assert_eq!(
                answer,
                list.verify_against(bytes, &previous_list, HashPolicy::ANY),
                "{name} after {previous_name}"
            );
            accepted += usize::from(answer.is_ok());
        }
    }
    // A valid list is always a rollover from itself; not every pair is.
    let valid = parsed
        .iter()
        .filter(|(_, _, owned)| owned.verify(HashPolicy::ANY).is_ok())
        .count();
    assert!(valid > 0 && accepted >= valid, "{accepted} of {valid}");
    assert!(accepted < parsed.len() * parsed.len(), "{accepted}");
}

#[test]
fn owned_signed_files_answer_as_the_borrowed_ones() {
    for path in signed_files() {
        let name = path.display().to_string();
        let bytes = read(&path);
        let expected = sidecar(&path);
        let borrowed = SignedFile::parse(&bytes);
        let owned = OwnedSignedFile::parse(bytes.as_slice());
        if expected["expected"]["parse_ok"] == false {
            assert_eq!(
                owned.unwrap_err(),
                Error::Malformed(MalformedFile::NewerFirmwareContainer),
                "{name}"
            );
            assert!(borrowed.is_err(), "{name}");
            continue;
        }
        let owned = owned.unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = borrowed.unwrap();
        assert_eq!(file.clone().into_owned(), owned, "{name}: into_owned");
        assert_same_header(owned.header(), file.header(), &bytes, &name);

        let payload = &expected["payload"];
        assert_eq!(
            owned.payload_offset() as u64,
            payload["offset"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            owned.payload(),
            &bytes[owned.payload_offset()..],
            "{name}: payload"
        );
        assert_eq!(owned.payload(), file.payload(), "{name}");
        assert_eq!(owned.strip(), file.strip(), "{name}");
        assert_eq!(
            owned.is_encrypted(),
            expected["kind"] == "enc-sgn",
            "{name}: encryption elements"
        );
        assert_eq!(
            owned.is_cisco_firmware(),
            file.is_cisco_firmware(),
            "{name}"
        );
        assert_eq!(owned.signature_status(), file.signature_status(), "{name}");

        // Verify with the sidecar's signer (or any certificate for Cisco
        // firmware): the sidecar's verdict, the same from both forms.
        let signer = match expected["signature"]["signer_certificate"].as_str() {
            Some(pem) => Certificate::from_pem(
                &std::fs::read_to_string(vectors().join("sgn").join(pem)).unwrap(),
            )
            .unwrap(),
            None => Certificate::from_pem(&sgn_key("ccm-tftp.pem")).unwrap(),
        };
        let answer = owned.verify(&signer, HashPolicy::CISCO);
        assert_eq!(answer, file.verify(&signer, HashPolicy::CISCO), "{name}");
        match &expected["expected"]["signature_valid"] {
            Value::Bool(true) => assert!(answer.is_ok(), "{name}: {answer:?}"),
            Value::Bool(false) => assert_eq!(
                answer,
                Err(Error::Refused(Refusal::SignatureInvalid)),
                "{name}"
            ),
            _ => assert_eq!(
                answer,
                Err(Error::Refused(Refusal::UnverifiableCiscoFirmware)),
                "{name}"
            ),
        }
    }
}

#[test]
fn owned_encrypted_configs_decrypt_as_the_borrowed_ones() {
    let signer = Certificate::from_pem(&sgn_key("ccm-tftp.pem")).unwrap();
    let phone_key = ctl_format::pem::rsa_private_key(&sgn_key("phone-lsc.pem")).unwrap();
    let paths = files(&["sgn"], &[".enc.sgn"]);
    assert_eq!(paths.len(), 4, "the vector set changed: {paths:?}");
    for path in paths {
        let name = path.display().to_string();
        let bytes = read(&path);
        let expected = sidecar(&path);
        let enc = &expected["encryption"];
        let owned = OwnedEncryptedConfig::parse(bytes.clone()).unwrap();
        let config = EncryptedConfig::parse(&bytes).unwrap();
        assert_eq!(config.clone().into_owned(), owned, "{name}: into_owned");
        assert_same_header(owned.header(), config.header(), &bytes, &name);

        assert_eq!(
            hex::encode(owned.iv()),
            enc["iv"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(owned.pad_count()),
            enc["pad_count"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(owned.key_size_bits()),
            enc["key_size_field"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            owned.wrapped_key().len() as u64,
            enc["wrapped_key_length"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(owned.plaintext_digest()),
            enc["plaintext_hash"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            owned.ciphertext().len() as u64,
            enc["ciphertext_length"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(owned.iv_unknown(), config.iv_unknown(), "{name}");
        assert_eq!(owned.key_unknown(), config.key_unknown(), "{name}");
        assert_eq!(owned.key_algorithm(), config.key_algorithm(), "{name}");
        assert_eq!(
            owned.plaintext_hash_algorithm(),
            config.plaintext_hash_algorithm(),
            "{name}"
        );

        let answer = owned.decrypt(&signer, &phone_key, HashPolicy::CISCO);
        assert_eq!(
            answer,
            config.decrypt(&signer, &phone_key, HashPolicy::CISCO),
            "{name}"
        );
        assert_eq!(
            owned.decrypt_unverified(&phone_key),
            config.decrypt_unverified(&phone_key),
            "{name}"
        );
        if expected["expected"]["signature_valid"] == true {
            let wanted = read(
                &vectors()
                    .join("sgn")
                    .join(enc["expected_plaintext_file"].as_str().unwrap()),
            );
            assert_eq!(answer.unwrap(), wanted, "{name}");
        } else {
            assert_eq!(
                answer,
                Err(Error::Refused(Refusal::SignatureInvalid)),
                "{name}"
            );
        }
    }
}

/// One error of each fault, from real calls: the variant, the fault, the
/// offset where there is one, and the message unchanged by the wrapping.
#[test]
fn each_fault_is_reported_as_such() {
    // Malformed: a trust list cut inside its header: an element overrun at
    // a known offset.
    let ctl = read(&vectors().join("tlv/ctl-sha1.tlv"));
    let error = TrustList::parse(&ctl[..12]).unwrap_err();
    assert_eq!(error.fault(), Fault::Malformed);
    assert!(
        matches!(
            error,
            Error::Malformed(MalformedFile::BadHeaderLength { file_size: 12, .. })
        ),
        "{error:?}"
    );
    assert_eq!(error.offset(), Some(5));
    let mut bad_tag = ctl.clone();
    bad_tag[10] = 99; // the first element after the header length
    let error = TrustList::parse(&bad_tag).unwrap_err();
    assert_eq!(
        error,
        Error::Malformed(MalformedFile::UnknownHeaderTag {
            offset: 10,
            tag: 99
        })
    );
    assert_eq!(error.offset(), Some(10));
    assert_eq!(error.to_string(), "unknown header tag 99 at offset 10");

    // Refused: a flipped signature byte.
    let list = TrustList::parse(&ctl).unwrap();
    let mut flipped = ctl.clone();
    let at = list.header().signature_offset + 3;
    flipped[at] ^= 1;
    let error = OwnedTrustList::parse(flipped)
        .unwrap()
        .verify(HashPolicy::ANY)
        .unwrap_err();
    assert_eq!(error, Error::Refused(Refusal::SignatureInvalid));
    assert_eq!(error.fault(), Fault::Refused);
    assert_eq!(error.offset(), None);
    assert_eq!(error.to_string(), "signature invalid");

    // Misuse: a private key that is not one; its text is never echoed.
    let secret =
        "-----BEGIN RSA PRIVATE KEY-----\nTOPSECRETTOPSECRET\n-----END RSA PRIVATE KEY-----\n";
    let error = ctl_format::pem::rsa_private_key(secret).unwrap_err();
    assert_eq!(error.fault(), Fault::Misuse);
    assert!(
        matches!(error, Error::Misuse(UsageError::BadPrivateKey { .. })),
        "{error:?}"
    );
    assert!(!error.to_string().contains("TOPSECRET"), "{error}");
    assert!(!format!("{error:?}").contains("TOPSECRET"), "{error:?}");
    assert_eq!(error.offset(), None);
}
