//! The binding API from Rust: what the Kotlin tests check, here without a
//! JVM, plus the no-panic rule on bad input (every bad value is an `Err`).

use std::path::PathBuf;
use std::sync::Arc;

use capf_ffi::files::{EncryptedConfig, FileError, HashPolicy, SignedFile, TrustList, TrustRole};
use capf_ffi::keystore::{KeystoreError, PhoneKeystore, ProofRequest, SoftwareKeystore};
use capf_ffi::phone::{PhoneDecision, PhoneError, PhoneOutcome, PhoneOutput, PhoneSession};
use capf_ffi::server::{
    DeviceRecord, LscIssuer, Operation, ServerAuthMode, ServerDecision, ServerError, ServerOutcome,
    ServerOutput, ServerResult, ServerSession, default_server_options,
};
use capf_ffi::{EcCurve, KeySpec};

/// 2027-01-01T00:00:00Z, inside every vector certificate's validity.
const NOW: u64 = 1_798_761_600_000;
const DEVICE: &str = "SEP001122334455";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(vectors().join(path)).unwrap()
}

fn pem_block(pem: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).unwrap();
    let stop = pem.find(&end).unwrap() + end.len();
    format!("{}\n", &pem[start..stop])
}

fn capf_issuer() -> Arc<LscIssuer> {
    let pem = String::from_utf8(read("tlv/keys/capf.pem")).unwrap();
    LscIssuer::from_pem(
        pem_block(&pem, "CERTIFICATE"),
        pem_block(&pem, "PRIVATE KEY"),
    )
    .unwrap()
}

/// Runs both sessions in memory until both are done.
fn pump(
    phone: &PhoneSession,
    server: &ServerSession,
    keystore: &Arc<dyn PhoneKeystore>,
    record: &DeviceRecord,
    issuer: &LscIssuer,
) -> (PhoneOutcome, ServerOutcome) {
    let (mut phone_done, mut server_done) = (None, None);
    for _ in 0..1000 {
        while let Some(output) = server.poll_output() {
            match output {
                ServerOutput::Transmit { bytes } => phone.handle_input(bytes),
                ServerOutput::Need { decision } => match decision {
                    ServerDecision::LookUpDevice { .. } => {
                        server.answer_device(Some(record.clone())).unwrap()
                    }
                    ServerDecision::IssueCertificate {
                        device_name,
                        subject_public_key_info_der,
                        ..
                    } => {
                        let issued = issuer
                            .issue(device_name, subject_public_key_info_der, NOW, 365)
                            .unwrap();
                        server.answer_certificate(issued.der).unwrap();
                    }
                    ServerDecision::RecordPendingCertificate { .. } => {
                        server.answer_pending_recorded().unwrap()
                    }
                    ServerDecision::RecordOutcome { .. } => {
                        server.answer_outcome_recorded().unwrap()
                    }
                },
                ServerOutput::Done { outcome } => server_done = Some(outcome),
            }
        }
        while let Some(output) = phone.poll_output() {
            match output {
                PhoneOutput::Transmit { bytes } => server.handle_input(bytes),
                PhoneOutput::Need { decision } => {
                    let answered = phone
                        .answer_with_keystore(decision.clone(), keystore.clone())
                        .unwrap();
                    if !answered {
                        assert!(matches!(decision, PhoneDecision::StoreCertificate { .. }));
                        phone.answer_store().unwrap();
                    }
                }
                PhoneOutput::Done { outcome } => phone_done = Some(outcome),
            }
        }
        if let (Some(phone), Some(server)) = (&phone_done, &server_done) {
            return (phone.clone(), server.clone());
        }
    }
    panic!("the sessions did not finish");
}

#[test]
fn real_ctl_parses_and_verifies() {
    let list = TrustList::parse(read("real/cucm/CTLFile.tlv")).unwrap();
    assert_eq!(list.header().version, "1.2");
    let records = list.records();
    assert_eq!(records.len(), 6);
    assert_eq!(records[3].role, Some(TrustRole::Capf));
    assert_eq!(list.verify(HashPolicy::Cisco).unwrap().record_index, 0);
    assert!(matches!(
        list.verify(HashPolicy::Sha512Only),
        Err(FileError::Refused(_))
    ));
}

#[test]
fn bad_files_are_errors_not_panics() {
    let bytes = read("real/cucm/CTLFile.tlv");
    // Prefixes shorter than the 312-byte header are no file of any kind.
    for length in [0, 1, 5, 100, 157, 158, 300, 311] {
        let prefix = bytes[..length].to_vec();
        assert!(
            matches!(
                TrustList::parse(prefix.clone()),
                Err(FileError::Malformed(_))
            ),
            "{length}"
        );
        assert!(
            matches!(
                SignedFile::parse(prefix.clone()),
                Err(FileError::Malformed(_))
            ),
            "{length}"
        );
        assert!(
            matches!(EncryptedConfig::parse(prefix), Err(FileError::Malformed(_))),
            "{length}"
        );
    }
    assert!(TrustList::parse(bytes[..bytes.len() - 1].to_vec()).is_err());
    let sgn = SignedFile::parse(read("sgn/SEP001122334455.cnf.xml.sgn")).unwrap();
    assert!(matches!(
        sgn.verify(b"junk".to_vec(), HashPolicy::Cisco),
        Err(FileError::InvalidArgument(_))
    ));
}

#[test]
fn software_keystore_enrolls_in_memory() {
    let soft = SoftwareKeystore::new();
    let keystore = soft.clone().as_keystore();
    let record = DeviceRecord {
        device_name: DEVICE.to_owned(),
        operation: Operation::Install {
            key: KeySpec::Ec {
                curve: EcCurve::P256,
            },
        },
        authentication: ServerAuthMode::NullString,
        failed_attempts: 0,
    };
    let issuer = capf_issuer();
    let server = ServerSession::new(default_server_options(0x42), NOW);
    let phone = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
    let (phone_outcome, server_outcome) = pump(&phone, &server, &keystore, &record, &issuer);
    let PhoneOutcome::Installed { certificate_der } = phone_outcome else {
        panic!("phone: {phone_outcome:?}");
    };
    assert_eq!(
        server_outcome.result,
        ServerResult::Installed {
            certificate_der: certificate_der.clone()
        }
    );
    assert_eq!(server_outcome.end_reason, Some(1));
    assert_eq!(soft.key_count(), 1);
}

#[test]
fn misuse_and_bad_values_are_errors() {
    assert!(matches!(
        PhoneSession::with_auth_string("bad name!".to_owned(), "123456".to_owned(), NOW, None),
        Err(PhoneError::InvalidConfig(_))
    ));
    assert!(matches!(
        PhoneSession::with_auth_string(DEVICE.to_owned(), "12".to_owned(), NOW, None),
        Err(PhoneError::InvalidConfig(_))
    ));
    let phone = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
    assert!(matches!(phone.answer_store(), Err(PhoneError::Misuse(_))));
    assert!(matches!(
        phone.answer_key(vec![0x30, 0x00]),
        Err(PhoneError::Misuse(_))
    ));
    assert_eq!(phone.pending_decision(), None);
    // Errors carry no secret: the auth string never appears.
    let error =
        PhoneSession::with_auth_string("bad name!".to_owned(), "987654".to_owned(), NOW, None)
            .unwrap_err()
            .to_string();
    assert!(!error.contains("987654"), "{error}");

    let server = ServerSession::new(default_server_options(1), NOW);
    assert!(matches!(
        server.answer_outcome_recorded(),
        Err(ServerError::Misuse(_))
    ));
    assert!(matches!(
        LscIssuer::from_pem("junk".to_owned(), "junk".to_owned()),
        Err(ServerError::InvalidInput(_))
    ));
    // An install record with a key CAPF cannot ask for is refused at the boundary.
    let bad = DeviceRecord {
        device_name: DEVICE.to_owned(),
        operation: Operation::Install {
            key: KeySpec::Rsa { bits: 1000 },
        },
        authentication: ServerAuthMode::NullString,
        failed_attempts: 0,
    };
    assert!(matches!(
        server.answer_device(Some(bad)),
        Err(ServerError::InvalidInput(_))
    ));

    let soft = SoftwareKeystore::new();
    assert!(matches!(
        soft.generate_key(DEVICE.to_owned(), KeySpec::Rsa { bits: 1000 }),
        Err(KeystoreError::Unsupported { .. })
    ));
    assert!(matches!(
        soft.sign_proof(ProofRequest {
            credential: capf_ffi::ProofCredential::Lsc,
            hash: capf_ffi::ProofHash::Sha1,
            certificate_der: vec![1, 2, 3],
            message: vec![],
            digest: vec![0; 20],
        }),
        Err(KeystoreError::NoSuchKey { .. })
    ));
}

#[test]
fn trust_evaluation_explains_both_ways() {
    use capf_ffi::trust::{
        ServerRole, StoreKind, TrustError, TrustPurpose, TrustStore, evaluate_trust,
    };
    let list = TrustList::parse(read("real/cucm/CTLFile.tlv")).unwrap();
    let records = list.records();
    let store =
        TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv".to_owned(), list).unwrap();
    let purpose = TrustPurpose::TlsServer {
        role: ServerRole::Capf,
        host: None,
    };
    let capf = evaluate_trust(
        vec![records[3].certificate_der.clone().unwrap()],
        purpose.clone(),
        vec![store.clone()],
        NOW,
    );
    assert!(capf.trusted, "{}", capf.explanation);
    assert!(capf.pinned);
    assert!(capf.roles.contains(&TrustRole::Capf));
    let sast = evaluate_trust(
        vec![records[0].certificate_der.clone().unwrap()],
        purpose,
        vec![store],
        NOW,
    );
    assert!(!sast.trusted);
    assert!(sast.failure.is_some_and(|failure| !failure.fix.is_empty()));
    assert!(matches!(
        TrustStore::from_file_bytes(StoreKind::Ctl, "x".to_owned(), b"junk".to_vec()),
        Err(TrustError::InvalidStore(_))
    ));
}

/// The same flow as the Kotlin `measure_in_memory_enrollment`, from Rust:
/// the difference is the cost of the boundary. Reported, not asserted.
#[test]
fn measure_in_memory_enrollment() {
    let issuer = capf_issuer();
    let record = DeviceRecord {
        device_name: DEVICE.to_owned(),
        operation: Operation::Install {
            key: KeySpec::Ec {
                curve: EcCurve::P256,
            },
        },
        authentication: ServerAuthMode::NullString,
        failed_attempts: 0,
    };
    let enroll = |id: u32| {
        let keystore = SoftwareKeystore::new().as_keystore();
        let server = ServerSession::new(default_server_options(id), NOW);
        let phone = PhoneSession::with_null_string(DEVICE.to_owned(), NOW, None).unwrap();
        let (phone_outcome, server_outcome) = pump(&phone, &server, &keystore, &record, &issuer);
        assert!(matches!(phone_outcome, PhoneOutcome::Installed { .. }));
        assert!(matches!(
            server_outcome.result,
            ServerResult::Installed { .. }
        ));
    };
    for id in 0..3 {
        enroll(100 + id);
    }
    let rounds: u32 = 20;
    let start = std::time::Instant::now();
    for id in 0..rounds {
        enroll(200 + id);
    }
    let micros = start.elapsed().as_micros() / u128::from(rounds);
    eprintln!(
        "measure: one in-memory enrollment from Rust: {micros} µs (mean of {rounds}, debug capf-ffi)"
    );
}

#[test]
fn the_software_keystore_signs_certificate_requests_for_every_key_kind() {
    use capf_core::capf::certificate_request::{
        CertificateRequestAlgorithm as Core, assemble_certificate_request,
        certification_request_info, verify_certificate_request,
    };
    use capf_ffi::CertificateRequestAlgorithm;
    use capf_ffi::keystore::CertificateRequestToSign;

    let software = SoftwareKeystore::new();
    let keystore = software.clone().as_keystore();
    for (key, algorithm, core, name) in [
        (
            KeySpec::Rsa { bits: 1024 },
            CertificateRequestAlgorithm::RsaSha256,
            Core::RsaSha256,
            "SHA256withRSA",
        ),
        (
            KeySpec::Ec {
                curve: EcCurve::P256,
            },
            CertificateRequestAlgorithm::EcdsaSha256,
            Core::EcdsaSha256,
            "SHA256withECDSA",
        ),
        (
            KeySpec::Ec {
                curve: EcCurve::P384,
            },
            CertificateRequestAlgorithm::EcdsaSha384,
            Core::EcdsaSha384,
            "SHA384withECDSA",
        ),
        (
            KeySpec::Ec {
                curve: EcCurve::P521,
            },
            CertificateRequestAlgorithm::EcdsaSha512,
            Core::EcdsaSha512,
            "SHA512withECDSA",
        ),
    ] {
        let spki = keystore.generate_key(DEVICE.to_owned(), key).unwrap();
        assert_eq!(
            software.generated_key(DEVICE.to_owned()),
            Some(spki.clone())
        );
        // The session's choice for this key, and the info it asks to sign.
        assert_eq!(Core::for_public_key(&spki).unwrap(), core);
        assert_eq!(core.name(), name);
        let info = certification_request_info(DEVICE, &spki).unwrap();
        let signature = keystore
            .sign_certificate_request(CertificateRequestToSign {
                public_key_der: spki.clone(),
                algorithm,
                algorithm_name: name.to_owned(),
                message: info.clone(),
                digest: core.digest(&info),
            })
            .unwrap();
        // A standard signature of the info: the assembled PKCS#10 request
        // verifies as the server checks it.
        let request = assemble_certificate_request(&info, core, &signature).unwrap();
        verify_certificate_request(&request, &spki, DEVICE).unwrap();
        // Another key's request is not this keystore's to sign.
        let other = certification_request_info(
            DEVICE,
            &read_spki_of_vector_certificate("tlv/keys/capf.pem"),
        )
        .unwrap();
        assert!(matches!(
            keystore.sign_certificate_request(CertificateRequestToSign {
                public_key_der: read_spki_of_vector_certificate("tlv/keys/capf.pem"),
                algorithm,
                algorithm_name: name.to_owned(),
                message: other.clone(),
                digest: core.digest(&other),
            }),
            Err(KeystoreError::NoSuchKey { .. })
        ));
    }
    // Keys generated for another device are not this device's.
    assert_eq!(software.generated_key("SEP00000000FFFF".to_owned()), None);
}

/// The SubjectPublicKeyInfo of a vector file's certificate.
fn read_spki_of_vector_certificate(path: &str) -> Vec<u8> {
    use der::{Decode, Encode};
    let pem = String::from_utf8(read(path)).unwrap();
    let (_, der_bytes) = der::pem::decode_vec(pem_block(&pem, "CERTIFICATE").as_bytes()).unwrap();
    x509_cert::Certificate::from_der(&der_bytes)
        .unwrap()
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap()
}
