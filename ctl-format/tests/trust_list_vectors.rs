//! Trust lists against the vectors: every record field for field against
//! its sidecar, signature verdicts, round trips, files we build compared
//! with certutils' output, rollover, and strictness on damaged input.

use ctl_format::trust_list::{Agreement, RolloverMatch};
use ctl_format::{
    Certificate, Error, FileVersion, HashAlgorithm, HashPolicy, MalformedFile, NameStyle,
    RecordEntry, RecordLayout, Refusal, Role, RsaFileSigner, TrustList, TrustListBuilder,
    TrustListKind, UsageError,
};
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(vectors().join(relative)).unwrap()
}

fn sidecar(relative: &str) -> Value {
    let text = std::fs::read_to_string(vectors().join(format!("{relative}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every trust-list vector (relative path), damaged ones included.
fn trust_list_vectors() -> Vec<String> {
    let mut found = Vec::new();
    for folder in [
        "tlv",
        "real/cucm",
        "real/third-party/buba0",
        "real/third-party/csptechnologies",
    ] {
        for entry in std::fs::read_dir(vectors().join(folder)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".tlv") {
                found.push(format!("{folder}/{name}"));
            }
        }
    }
    found.sort();
    assert_eq!(found.len(), 10, "{found:?}");
    found
}

fn key_path(name: &str) -> String {
    format!("tlv/keys/{name}")
}

fn pem(relative: &str) -> String {
    String::from_utf8(read(relative)).unwrap()
}

fn certificate(name: &str) -> Certificate {
    Certificate::from_pem(&pem(&key_path(name))).unwrap()
}

fn signer(name: &str) -> RsaFileSigner {
    RsaFileSigner::from_pem(&pem(&key_path(name))).unwrap()
}

fn expected_agreement(flag: &Value) -> Agreement {
    match flag.as_bool() {
        Some(true) => Agreement::Matches,
        Some(false) => Agreement::Differs,
        None => Agreement::NotChecked,
    }
}

fn numbers(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

#[test]
fn every_vector_matches_its_sidecar() {
    for name in trust_list_vectors() {
        let bytes = read(&name);
        let sidecar = sidecar(&name);
        let expected = &sidecar["expected"];
        let parsed = TrustList::parse(&bytes);
        if !expected["parse_ok"].as_bool().unwrap() {
            let error = parsed.expect_err(&name);
            match expected["error"].as_str().unwrap() {
                "truncated_record" => {
                    // "record at offset 5922 declares length …"
                    let text = sidecar["parse_error"].as_str().unwrap();
                    let offset: usize = text
                        .split_whitespace()
                        .nth(3)
                        .and_then(|word| word.parse().ok())
                        .unwrap();
                    assert_eq!(
                        error,
                        Error::Malformed(MalformedFile::TruncatedRecord { offset }),
                        "{name}"
                    );
                }
                other => panic!("{name}: unmapped expected error {other}"),
            }
            continue;
        }
        let list = parsed.unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(
            list.records().len() as u64,
            sidecar["record_count"].as_u64().unwrap(),
            "{name}"
        );
        assert!(list.warnings().is_empty(), "{name}: {:?}", list.warnings());
        for (record, want) in list
            .records()
            .iter()
            .zip(sidecar["records"].as_array().unwrap())
        {
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
            let order: Vec<u64> = record.element_order().into_iter().map(u64::from).collect();
            assert_eq!(order, numbers(&want["element_order"]), "{at}");
            let role = record.role().unwrap();
            assert_eq!(
                u64::from(role.code()),
                want["role"].as_u64().unwrap(),
                "{at}"
            );
            assert_eq!(role.name(), want["role_name"].as_str().unwrap(), "{at}");
            let text = |value: Option<ctl_format::TlvString<'_>>| value.map(|s| s.to_string());
            assert_eq!(
                text(record.subject_name()).as_deref(),
                want["subject_name"].as_str(),
                "{at}"
            );
            assert_eq!(
                text(record.issuer_name()).as_deref(),
                want["issuer_name"].as_str(),
                "{at}"
            );
            assert_eq!(
                text(record.dns_name()).as_deref(),
                want["dns_name"].as_str(),
                "{at}"
            );
            assert_eq!(
                record.ip_address().map(|ip| ip.to_string()).as_deref(),
                want["ip_address"].as_str(),
                "{at}"
            );
            assert_eq!(
                record.serial_number().map(hex::encode).as_deref(),
                want["serial_number"].as_str(),
                "{at}"
            );
            let length = |value: Option<&[u8]>| value.map(|v| v.len() as u64);
            assert_eq!(
                length(record.public_key()),
                want["public_key_length"].as_u64(),
                "{at}"
            );
            assert_eq!(
                length(record.signature()),
                want["signature_length"].as_u64(),
                "{at}"
            );
            assert_eq!(
                length(record.certificate_der()),
                want["certificate_length"].as_u64(),
                "{at}"
            );
            assert_eq!(
                record.certificate_sha1().map(hex::encode).as_deref(),
                want["certificate_sha1"].as_str(),
                "{at}"
            );
            let certificate = record.certificate().unwrap().unwrap();
            assert_eq!(
                hex::encode(certificate.sha256_fingerprint()),
                want["certificate_sha256"].as_str().unwrap(),
                "{at}"
            );
            let consistency = record.consistency();
            assert_eq!(
                consistency.serial_number,
                expected_agreement(&want["serial_matches_certificate"]),
                "{at}"
            );
            assert_eq!(
                consistency.public_key,
                expected_agreement(&want["public_key_matches_certificate"]),
                "{at}"
            );
            assert_eq!(
                consistency.signature,
                expected_agreement(&want["certificate_signature_matches_element_8"]),
                "{at}"
            );
            // Spec 6: within a file the names are the writer's rendering of
            // the certificate's names (Cisco or certutils style).
            assert_eq!(consistency.subject_name, Agreement::Matches, "{at}");
            assert_eq!(consistency.issuer_name, Agreement::Matches, "{at}");
        }

        // Exact round trip from the parsed items.
        assert_eq!(list.encode().unwrap(), bytes, "{name}: round trip");

        // Signature verdict.
        let verdict = list.verify(&bytes, HashPolicy::ANY);
        let signature = &sidecar["signature"];
        if expected["signature_valid"].as_bool().unwrap() {
            let signer = verdict.unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(
                signer.record_index as u64,
                signature["signer_record_index"].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                signer.hash_algorithm.code() as u64,
                sidecar["header"]["hash_algorithm"].as_u64().unwrap()
            );
        } else {
            assert_eq!(
                expected["error"].as_str(),
                Some("signature_invalid"),
                "{name}"
            );
            assert_eq!(
                verdict,
                Err(Error::Refused(Refusal::SignatureInvalid)),
                "{name}"
            );
        }
        let found = list.find_signer().unwrap();
        assert!(found.is_full(), "{name}");
        assert_eq!(
            Some(found.record_index as u64),
            signature["signer_record_index"].as_u64(),
            "{name}"
        );
        // Which records' keys verify the file, as the sidecar lists them.
        let verifying: Vec<u64> = list
            .records()
            .iter()
            .enumerate()
            .filter(|(_, record)| {
                let Ok(key) = record.certificate().unwrap().unwrap().rsa_public_key() else {
                    return false;
                };
                list.header().verify(&bytes, &key, HashPolicy::ANY).is_ok()
            })
            .map(|(index, _)| index as u64)
            .collect();
        assert_eq!(
            verifying,
            numbers(&signature["records_whose_certificate_verifies"]),
            "{name}"
        );
    }
}

#[test]
fn the_real_cisco_ctl_verifies_under_the_cisco_policy() {
    let bytes = read("real/cucm/CTLFile.tlv");
    let list = TrustList::parse(&bytes).unwrap();
    let signer = list.verify(&bytes, HashPolicy::CISCO).unwrap();
    assert_eq!(signer.record_index, 0);
    assert_eq!(signer.hash_algorithm, HashAlgorithm::Sha1);
    assert_eq!(
        list.verify(&bytes, HashPolicy::SHA512_ONLY),
        Err(Error::Refused(Refusal::HashNotAllowed {
            algorithm: HashAlgorithm::Sha1
        }))
    );
    // README: records 0 and 4 are SAST, 3 is CAPF.
    let roles: Vec<Role> = list.records().iter().map(|r| r.role().unwrap()).collect();
    assert_eq!(
        roles,
        [
            Role::Sast,
            Role::CallManagerTftp,
            Role::CallManagerTftp,
            Role::Capf,
            Role::Sast,
            Role::CallManagerTftp
        ]
    );
    assert_eq!(
        list.records()[5].ip_address(),
        Some(Ipv4Addr::new(10, 32, 134, 77))
    );
    assert!(list.inconsistencies().is_empty());
}

#[test]
fn third_party_itls_verify() {
    for name in [
        "real/third-party/buba0/ITLFile.tlv",
        "real/third-party/csptechnologies/ITLFile.tlv",
    ] {
        let bytes = read(name);
        let list = TrustList::parse(&bytes).unwrap();
        list.verify(&bytes, HashPolicy::CISCO)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn the_tampered_vector_reports_its_damaged_certificate() {
    let bytes = read("tlv/ctl-sha1-tampered.tlv");
    let list = TrustList::parse(&bytes).unwrap();
    let inconsistencies = list.inconsistencies();
    assert_eq!(inconsistencies.len(), 1);
    assert_eq!(inconsistencies[0].0, 3);
    assert_eq!(inconsistencies[0].1.mismatches(), ["signature"]);
}

/// The role of each certutils `tlvfile` option.
fn certutils_role(option: &str) -> Role {
    match option {
        "--sast" => Role::Sast,
        "--ccm" => Role::CallManager,
        "--ccm-tftp" => Role::CallManagerTftp,
        "--tftp" => Role::Tftp,
        "--capf" => Role::Capf,
        "--tvs" => Role::Tvs,
        "--app-server" => Role::ApplicationServer,
        other => panic!("unknown tlvfile option {other}"),
    }
}

/// Rebuilds a certutils vector from its sidecar's `built_with` command.
fn rebuild_from_command(name: &str) -> Vec<u8> {
    let sidecar = sidecar(name);
    let command = sidecar["built_with"].as_str().unwrap();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(&words[..2], ["tlvfile", "--build"]);
    let mut filename = None;
    let mut version = FileVersion::V1_0; // certutils' default signer version
    let mut digest = HashAlgorithm::Sha1;
    let mut entries = Vec::new();
    let mut options = words[2..words.len() - 1].chunks(2);
    for pair in options.by_ref() {
        let [option, value] = pair else { panic!() };
        match *option {
            "--filename" => filename = Some(value.to_string()),
            "--version" => {
                let (major, minor) = value.split_once('.').unwrap();
                version = FileVersion::new(major.parse().unwrap(), minor.parse().unwrap());
            }
            "--digest" => {
                digest = match *value {
                    "sha1" => HashAlgorithm::Sha1,
                    "sha512" => HashAlgorithm::Sha512,
                    other => panic!("{other}"),
                }
            }
            role => {
                let key = value.strip_prefix("keys/").unwrap();
                entries.push((certutils_role(role), key.to_string()));
            }
        }
    }
    let signer_key = entries
        .iter()
        .find(|(role, _)| *role == Role::Sast)
        .unwrap();
    let signer_certificate = certificate(&signer_key.1);
    let signer = signer(&signer_key.1);
    let kind = match sidecar["kind"].as_str().unwrap() {
        "ctl" => TrustListKind::Ctl,
        _ => TrustListKind::Itl,
    };
    let timestamp = u32::try_from(sidecar["header"]["timestamp"].as_u64().unwrap()).unwrap();
    let mut builder = TrustListBuilder::new(kind, signer_certificate, &signer, timestamp)
        .hash_algorithm(digest)
        .signer_version(Some(version))
        .name_style(NameStyle::Certutils)
        .layout(RecordLayout::Certutils);
    if let Some(filename) = filename {
        builder = builder.filename(filename);
    }
    for (role, key) in entries {
        builder = builder.record(RecordEntry::new(certificate(&key), role));
    }
    builder.build().unwrap()
}

#[test]
fn building_like_certutils_gives_the_vectors_byte_for_byte() {
    for name in [
        "tlv/ctl-sha1.tlv",
        "tlv/ctl-sha512.tlv",
        "tlv/itl-sha1.tlv",
        "tlv/itl-v1.1-sha512.tlv",
    ] {
        let built = rebuild_from_command(name);
        let vector = read(name);
        assert_eq!(built.len(), vector.len(), "{name}");
        assert!(
            built == vector,
            "{name}: built file differs from the vector"
        );
    }
}

fn cisco_ctl(signer_name: &str, hash: HashAlgorithm, records: Vec<RecordEntry>) -> Vec<u8> {
    let key = signer(signer_name);
    TrustListBuilder::new(
        TrustListKind::Ctl,
        certificate(signer_name),
        &key,
        1_430_968_247,
    )
    .hash_algorithm(hash)
    .records(records)
    .build()
    .unwrap()
}

#[test]
fn cisco_layout_builds_verify_and_look_like_unified_cm() {
    for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha512] {
        let file = cisco_ctl(
            "sast.pem",
            hash,
            vec![
                RecordEntry::new(certificate("sast.pem"), Role::Sast)
                    .with_dns_name("")
                    .with_ip_address(Ipv4Addr::new(10, 35, 48, 106)),
                RecordEntry::new(certificate("ccm-tftp.pem"), Role::CallManagerTftp)
                    .with_dns_name("cucm-pub")
                    .with_ip_address(Ipv4Addr::new(10, 35, 48, 107)),
                RecordEntry::new(certificate("tftp-ec.pem"), Role::Tftp),
            ],
        );
        let list = TrustList::parse(&file).unwrap();
        let signer = list.verify(&file, HashPolicy::CISCO).unwrap();
        assert_eq!(signer.record_index, 0);
        assert_eq!(signer.hash_algorithm, hash);
        let header = list.header();
        // Spec 3.2 (Unified CM header order), 3.4 (version 1.2), 3.3 (H mod 4).
        assert_eq!(header.version, FileVersion::V1_2);
        assert_eq!(header.signer_version, None);
        assert_eq!(
            &header.element_order()[..10],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
        assert_eq!(header.header_length % 4, 0);
        assert_eq!(header.filename.unwrap().as_str(), Some("CTLFile.tlv"));
        assert_eq!(header.timestamp, Some(1_430_968_247));
        // Spec 6: fixed CN;OU;O;L;ST;C order (the keys store CN, O, OU, L, ST, C).
        assert_eq!(
            header.signer_name.unwrap().as_str(),
            Some(
                "CN=SAST Example Token 1;OU=Security;O=Example Telecom;L=Wellington;ST=Wellington;C=NZ"
            )
        );
        let records = list.records();
        assert_eq!(records[0].element_order(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(records[2].element_order(), [1, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(records[0].dns_name().unwrap().as_bytes(), b"");
        assert_eq!(records[1].dns_name().unwrap().as_str(), Some("cucm-pub"));
        assert_eq!(
            records[1].ip_address(),
            Some(Ipv4Addr::new(10, 35, 48, 107))
        );
        // EC record (spec 4.2): a 65-byte uncompressed point.
        assert_eq!(records[2].public_key().unwrap().len(), 65);
        assert!(list.inconsistencies().is_empty());
        assert_eq!(list.encode().unwrap(), file);
    }
}

#[test]
fn itl_kind_only_changes_the_filename() {
    let key = signer("itlrecovery.pem");
    let file = TrustListBuilder::new(TrustListKind::Itl, certificate("itlrecovery.pem"), &key, 1)
        .signer_version(Some(FileVersion::V1_1))
        .record(RecordEntry::new(certificate("itlrecovery.pem"), Role::Sast))
        .record(RecordEntry::new(certificate("tvs.pem"), Role::Tvs))
        .build()
        .unwrap();
    let list = TrustList::parse(&file).unwrap();
    assert_eq!(
        list.header().filename.unwrap().as_str(),
        Some("ITLFile.tlv")
    );
    assert_eq!(list.header().signer_version, Some(FileVersion::V1_1));
    assert_eq!(list.records()[1].role(), Some(Role::Tvs));
}

#[test]
fn builder_refuses_a_key_that_is_not_the_certificates() {
    let wrong_key = signer("sast2.pem");
    let result = TrustListBuilder::new(TrustListKind::Ctl, certificate("sast.pem"), &wrong_key, 1)
        .record(RecordEntry::new(certificate("sast.pem"), Role::Sast))
        .build();
    assert_eq!(
        result,
        Err(Error::Misuse(UsageError::KeyCertificateMismatch))
    );
}

#[test]
fn builder_refuses_a_signer_not_listed_as_sast() {
    let key = signer("sast.pem");
    let result = TrustListBuilder::new(TrustListKind::Ctl, certificate("sast.pem"), &key, 1)
        .record(RecordEntry::new(
            certificate("sast.pem"),
            Role::CallManagerTftp,
        ))
        .build();
    assert_eq!(result, Err(Error::Refused(Refusal::SignerNotFound)));
}

#[test]
fn builder_refuses_an_ec_signer_certificate() {
    let key = signer("sast.pem");
    let result = TrustListBuilder::new(TrustListKind::Ctl, certificate("tftp-ec.pem"), &key, 1)
        .record(RecordEntry::new(certificate("tftp-ec.pem"), Role::Sast))
        .build();
    assert_eq!(result, Err(Error::Misuse(UsageError::EcKeyNotSupported)));
}

#[test]
fn rollover_to_a_list_signed_by_a_held_sast_is_accepted() {
    let previous_bytes = read("tlv/ctl-sha1.tlv");
    let previous = TrustList::parse(&previous_bytes).unwrap();
    // Signed by SAST token 2, which the previous list holds as record 1.
    let file = cisco_ctl(
        "sast2.pem",
        HashAlgorithm::Sha512,
        vec![
            RecordEntry::new(certificate("sast2.pem"), Role::Sast),
            RecordEntry::new(certificate("capf.pem"), Role::Capf),
        ],
    );
    let list = TrustList::parse(&file).unwrap();
    let rollover = list
        .verify_against(&file, &previous, HashPolicy::CISCO)
        .unwrap();
    assert_eq!(rollover.previous_record_index, 1);
    assert_eq!(rollover.matched_by, RolloverMatch::SameCertificate);
    assert_eq!(rollover.signer.record_index, 0);
}

#[test]
fn rollover_to_an_unknown_signer_is_refused() {
    let previous_bytes = read("tlv/ctl-sha1.tlv");
    let previous = TrustList::parse(&previous_bytes).unwrap();
    let file = cisco_ctl(
        "itlrecovery.pem",
        HashAlgorithm::Sha1,
        vec![RecordEntry::new(certificate("itlrecovery.pem"), Role::Sast)],
    );
    let list = TrustList::parse(&file).unwrap();
    assert!(list.verify(&file, HashPolicy::CISCO).is_ok());
    assert_eq!(
        list.verify_against(&file, &previous, HashPolicy::CISCO),
        Err(Error::Refused(Refusal::SignerNotInPreviousList))
    );
}

#[test]
fn rollover_to_a_signer_held_only_as_ccm_tftp_is_refused() {
    let previous_bytes = read("tlv/ctl-sha1.tlv");
    let previous = TrustList::parse(&previous_bytes).unwrap();
    let file = cisco_ctl(
        "ccm-tftp.pem",
        HashAlgorithm::Sha1,
        vec![RecordEntry::new(certificate("ccm-tftp.pem"), Role::Sast)],
    );
    let list = TrustList::parse(&file).unwrap();
    assert_eq!(
        list.verify_against(&file, &previous, HashPolicy::CISCO),
        Err(Error::Refused(Refusal::SignerNotSastInPreviousList {
            role_codes: vec![2]
        }))
    );
}

#[test]
fn rollover_refuses_a_new_list_that_does_not_verify() {
    let previous_bytes = read("tlv/ctl-sha1.tlv");
    let previous = TrustList::parse(&previous_bytes).unwrap();
    let bad = read("tlv/ctl-sha1-badsig.tlv");
    let list = TrustList::parse(&bad).unwrap();
    assert_eq!(
        list.verify_against(&bad, &previous, HashPolicy::CISCO),
        Err(Error::Refused(Refusal::SignatureInvalid))
    );
}

#[test]
fn a_serial_only_signer_match_is_reported_not_accepted() {
    let mut bytes = read("tlv/ctl-sha1.tlv");
    // Sidecar: header issuer-name element (tag 6) at offset 107; change its
    // first text byte ("C" of "CN=").
    assert_eq!(bytes[107], 6);
    bytes[110] = b'X';
    let list = TrustList::parse(&bytes).unwrap();
    let found = list.find_signer().unwrap();
    assert_eq!(found.record_index, 0);
    assert!(!found.issuer_matches);
    assert_eq!(
        list.verify(&bytes, HashPolicy::ANY),
        Err(Error::Refused(Refusal::SignerIssuerMismatch {
            record_index: 0
        }))
    );
}

#[test]
fn a_list_without_the_header_serial_has_no_signer() {
    let mut bytes = read("tlv/ctl-sha1.tlv");
    // Header serial (tag 5) value at 196 + 3.
    assert_eq!(bytes[196], 5);
    bytes[199] ^= 0xFF;
    let list = TrustList::parse(&bytes).unwrap();
    assert_eq!(list.find_signer(), None);
    assert_eq!(
        list.verify(&bytes, HashPolicy::ANY),
        Err(Error::Refused(Refusal::SignerNotFound))
    );
}

/// The real CTL with `extra` appended after its last record.
fn real_ctl_with(extra: &[u8]) -> Vec<u8> {
    let mut bytes = read("real/cucm/CTLFile.tlv");
    bytes.extend_from_slice(extra);
    bytes
}

#[test]
fn strict_framing_of_records() {
    let end = read("real/cucm/CTLFile.tlv").len();
    let parse = |extra: &[u8]| TrustList::parse(&real_ctl_with(extra)).map(|l| l.records().len());
    assert_eq!(
        parse(&[0xFF]),
        Err(Error::Malformed(MalformedFile::TrailingData {
            offset: end
        }))
    );
    assert_eq!(
        parse(&[0]),
        Err(Error::Malformed(MalformedFile::TrailingData {
            offset: end
        }))
    );
    for cut in [&[1u8][..], &[1, 0], &[1, 0, 2], &[1, 0, 2, 0]] {
        assert_eq!(
            parse(cut),
            Err(Error::Malformed(MalformedFile::TruncatedRecord {
                offset: end
            })),
            "{cut:?}"
        );
    }
    // Record length under 5, over the remaining bytes, head with length 3.
    assert_eq!(
        parse(&[1, 0, 2, 0, 4]),
        Err(Error::Malformed(MalformedFile::TruncatedRecord {
            offset: end
        }))
    );
    assert_eq!(
        parse(&[1, 0, 2, 0, 6]),
        Err(Error::Malformed(MalformedFile::TruncatedRecord {
            offset: end
        }))
    );
    assert_eq!(
        parse(&[1, 0, 3, 0, 5, 0]),
        Err(Error::Malformed(MalformedFile::TruncatedRecord {
            offset: end
        }))
    );
    // A 5-byte record holding nothing but its length is a record.
    assert_eq!(parse(&[1, 0, 2, 0, 5]), Ok(7));
    // An element running past the record end.
    assert_eq!(
        parse(&[1, 0, 2, 0, 8, 4, 0, 2, 0]),
        Err(Error::Malformed(MalformedFile::ElementOverrun {
            offset: end + 5,
            tag: 4,
            limit: end + 8
        }))
    );
    // A known element twice.
    assert_eq!(
        parse(&[1, 0, 2, 0, 15, 4, 0, 2, 0, 0, 4, 0, 2, 0, 1]),
        Err(Error::Malformed(MalformedFile::DuplicateRecordElement {
            offset: end + 10,
            tag: 4
        }))
    );
    // IPv4 of 3 bytes, role of 1 byte.
    assert!(matches!(
        parse(&[1, 0, 2, 0, 11, 10, 0, 3, 1, 2, 3]),
        Err(Error::Malformed(MalformedFile::BadValue { offset, .. })) if offset == end + 5
    ));
    assert!(matches!(
        parse(&[1, 0, 2, 0, 9, 4, 0, 1, 0]),
        Err(Error::Malformed(MalformedFile::BadValue { offset, .. })) if offset == end + 5
    ));
}

#[test]
fn unknown_record_tags_and_roles_are_kept() {
    // A placeholder record (spec 4.1: 1, 2, 4, 10) with role 6 and two
    // elements of unknown tag 99.
    let extra = [
        1, 0, 2, 0, 33, // record length 33
        2, 0, 4, b'a', b'b', b'c', 0, // DNS name "abc"
        99, 0, 1, 7, // unknown
        4, 0, 2, 0, 6, // role 6
        99, 0, 2, 8, 9, // unknown again
        10, 0, 4, 192, 0, 2, 1, // 192.0.2.1
    ];
    assert_eq!(extra.len(), 33);
    let bytes = real_ctl_with(&extra);
    let list = TrustList::parse(&bytes).unwrap();
    let record = list.records().last().unwrap();
    assert_eq!(record.element_order(), [1, 2, 99, 4, 99, 10]);
    assert_eq!(record.role(), Some(Role::Unknown(6)));
    assert_eq!(record.ip_address(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(record.dns_name().unwrap().as_str(), Some("abc"));
    assert_eq!(record.certificate().unwrap(), None);
    assert_eq!(record.consistency().mismatches(), Vec::<&str>::new());
    assert_eq!(list.encode().unwrap(), bytes);
    // The appended record is signed over too: the signature now fails.
    assert_eq!(
        list.verify(&bytes, HashPolicy::ANY),
        Err(Error::Refused(Refusal::SignatureInvalid))
    );
}

#[test]
fn rollover_to_a_reissued_certificate_with_the_same_key_is_accepted_by_key() {
    // A different certificate DER for the same key: the last byte of the
    // certificate's signature value changed (the TBS, and so the key, kept).
    let original = certificate("sast.pem");
    let mut der = original.der().to_vec();
    *der.last_mut().unwrap() ^= 1;
    let reissued = Certificate::from_der(&der).unwrap();
    assert_eq!(reissued.record_public_key(), original.record_public_key());
    let key = signer("sast2.pem");
    let previous_bytes =
        TrustListBuilder::new(TrustListKind::Ctl, certificate("sast2.pem"), &key, 1)
            .record(RecordEntry::new(certificate("sast2.pem"), Role::Sast))
            .record(RecordEntry::new(reissued, Role::Sast))
            .build()
            .unwrap();
    let previous = TrustList::parse(&previous_bytes).unwrap();
    let file = cisco_ctl(
        "sast.pem",
        HashAlgorithm::Sha1,
        vec![RecordEntry::new(original, Role::Sast)],
    );
    let list = TrustList::parse(&file).unwrap();
    let rollover = list
        .verify_against(&file, &previous, HashPolicy::CISCO)
        .unwrap();
    assert_eq!(rollover.matched_by, RolloverMatch::SameKey);
    assert_eq!(rollover.previous_record_index, 1);
}
