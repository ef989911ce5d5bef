//! A phone-side host's trust of a server, read from one file as a phone
//! holds it (`ServerTrust::from_file`): a verifying CTL/ITL listing the
//! role, PEM or DER certificates, and each refusal with its reason; and
//! over TLS (feature `tls`), that the configuration it gives accepts the
//! listed server and refuses another, with the evaluator's reason.

use capf_core::trust::{ServerAnchors, ServerRole, ServerTrust, ServerTrustError, StoreKind};
use ctl_format::trust_list::Role;
use std::path::PathBuf;

fn vector(path: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|error| panic!("{}: {error}", file.display()))
}

/// The DER of the CERTIFICATE block of a key file, decoded here (not by the
/// code under test).
fn certificate_der(key_file: &str) -> Vec<u8> {
    let text = String::from_utf8(vector(key_file)).unwrap();
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap();
    der::pem::decode_vec(&text.as_bytes()[begin..]).unwrap().1
}

fn certificates_of(trust: &ServerTrust) -> &[Vec<u8>] {
    match trust.anchors() {
        ServerAnchors::Certificates(certificates) => certificates,
        other => panic!("expected certificates, got {other:?}"),
    }
}

/// The certificates a trust list's store holds with a role granting `role`.
fn listed_with(trust: &ServerTrust, role: Role) -> Vec<Vec<u8>> {
    match trust.anchors() {
        ServerAnchors::TrustList(store) => store
            .entries()
            .iter()
            .filter(|entry| entry.roles().contains(&role))
            .map(|entry| entry.der().to_vec())
            .collect(),
        other => panic!("expected a trust list, got {other:?}"),
    }
}

#[test]
fn a_ctl_listing_the_role_is_trusted_through_that_record() {
    // ctl-sha1.tlv: two SAST, CCM+TFTP and CAPF (keys/capf.pem).
    let ctl = vector("tlv/ctl-sha1.tlv");
    let trust = ServerTrust::from_file(&ctl, "CTLFile.tlv", ServerRole::Capf).unwrap();
    assert_eq!(trust.role(), ServerRole::Capf);
    assert_eq!(
        listed_with(&trust, Role::Capf),
        vec![certificate_der("tlv/keys/capf.pem")]
    );
    let ServerAnchors::TrustList(store) = trust.anchors() else {
        unreachable!()
    };
    assert_eq!(store.kind(), StoreKind::Ctl);
    assert_eq!(store.name(), "CTLFile.tlv");
}

#[test]
fn an_itl_is_told_from_a_ctl_and_its_tvs_record_is_used() {
    // itl-sha1.tlv lists TVS (keys/tvs.pem) and CAPF.
    let itl = vector("tlv/itl-sha1.tlv");
    let trust = ServerTrust::from_file(&itl, "ITLFile.tlv", ServerRole::Tvs).unwrap();
    assert_eq!(
        listed_with(&trust, Role::Tvs),
        vec![certificate_der("tlv/keys/tvs.pem")]
    );
    let ServerAnchors::TrustList(store) = trust.anchors() else {
        unreachable!()
    };
    assert_eq!(store.kind(), StoreKind::Itl);
}

#[test]
fn a_trust_list_without_the_role_is_refused_saying_so() {
    let ctl = vector("tlv/ctl-sha1.tlv");
    let error = ServerTrust::from_file(&ctl, "CTLFile.tlv", ServerRole::Tvs).unwrap_err();
    assert!(
        matches!(
            error,
            ServerTrustError::RoleNotListed {
                kind: StoreKind::Ctl,
                role: Role::Tvs
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "the CTL lists no TVS certificate");
}

#[test]
fn a_trust_list_that_does_not_verify_is_refused_saying_so() {
    // The same CTL with one bit of its signature inverted, and one whose
    // records were changed after signing.
    for damaged in ["tlv/ctl-sha1-badsig.tlv", "tlv/ctl-sha1-tampered.tlv"] {
        let bytes = vector(damaged);
        let error = ServerTrust::from_file(&bytes, "CTLFile.tlv", ServerRole::Capf).unwrap_err();
        assert!(
            matches!(
                error,
                ServerTrustError::TrustListDoesNotVerify {
                    kind: StoreKind::Ctl,
                    ..
                }
            ),
            "{damaged}: {error:?}"
        );
        assert!(
            error.to_string().starts_with("the CTL does not verify: "),
            "{error}"
        );
    }
}

#[test]
fn a_truncated_trust_list_is_unreadable() {
    let bytes = vector("tlv/itl-sha1-truncated.tlv");
    let error = ServerTrust::from_file(&bytes, "ITLFile.tlv", ServerRole::Tvs).unwrap_err();
    assert!(
        matches!(error, ServerTrustError::TrustListUnreadable(_)),
        "{error:?}"
    );
}

#[test]
fn pem_and_der_certificates_are_named_directly() {
    let capf = certificate_der("tlv/keys/capf.pem");
    let tvs = certificate_der("tlv/keys/tvs.pem");
    // PEM: every certificate in order, the private keys beside them skipped.
    let mut bundle = vector("tlv/keys/capf.pem");
    bundle.extend(vector("tlv/keys/tvs.pem"));
    let trust = ServerTrust::from_file(&bundle, "bundle.pem", ServerRole::Capf).unwrap();
    assert_eq!(certificates_of(&trust), [capf.clone(), tvs]);
    // One DER certificate, byte for byte.
    let trust = ServerTrust::from_file(&capf, "capf.der", ServerRole::Capf).unwrap();
    assert_eq!(certificates_of(&trust), [capf]);
}

#[test]
fn anything_else_is_refused_as_neither() {
    let key_only = {
        let text = String::from_utf8(vector("tlv/keys/capf.pem")).unwrap();
        text[..text.find("-----BEGIN CERTIFICATE-----").unwrap()].to_owned()
    };
    let mut truncated = certificate_der("tlv/keys/capf.pem");
    truncated.truncate(100);
    let garbage: Vec<u8> = (0u8..=255).rev().cycle().take(300).collect();
    let cases: [(&str, &[u8]); 5] = [
        ("empty", b""),
        ("text", b"hello"),
        ("a private key alone", key_only.as_bytes()),
        ("a truncated DER certificate", &truncated),
        ("bytes", &garbage),
    ];
    for (what, bytes) in cases {
        let error = ServerTrust::from_file(bytes, what, ServerRole::Capf).unwrap_err();
        assert!(
            matches!(error, ServerTrustError::NotCertificates(_)),
            "{what}: {error:?}"
        );
    }
}

#[cfg(feature = "tls")]
mod over_tls {
    use super::*;
    use capf_core::time::Timestamp;
    use capf_core::tls::{
        TimeSource, TlsClientTransport, TlsError, TlsServerTransport, server_config,
    };
    use capf_core::trust::verifiers::failure_of;
    use capf_core::trust::{DirectCertificates, TrustFailureReason};
    use std::sync::Arc;

    /// The certificate and PKCS#8 key of a key file, decoded here.
    fn credential(key_file: &str) -> (Vec<u8>, Vec<u8>) {
        let text = String::from_utf8(vector(key_file)).unwrap();
        let key_begin = text.find("-----BEGIN PRIVATE KEY-----").unwrap();
        let key_end = text.find("-----BEGIN CERTIFICATE-----").unwrap();
        let (label, key) = der::pem::decode_vec(&text.as_bytes()[key_begin..key_end]).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        (certificate_der(key_file), key)
    }

    /// A TLS handshake in memory between a server presenting `key_file`'s
    /// certificate and a phone trusting `trust`.
    fn handshake(
        key_file: &str,
        trust: &ServerTrust,
        direct: DirectCertificates,
    ) -> Result<(), TlsError> {
        // The vectors' certificates were made in 2026; judge inside them.
        let clock: Arc<dyn TimeSource> = Arc::new(|| Timestamp::from_unix_seconds(1_800_000_000));
        let (certificate, key) = credential(key_file);
        let mut server =
            TlsServerTransport::new(server_config(&[certificate], &key).unwrap()).unwrap();
        let config = trust.client_config(direct, clock).unwrap();
        let mut client = TlsClientTransport::new(config, "capf.invalid").unwrap();
        for _ in 0..32 {
            let from_client = client.take_tcp_output();
            let from_server = server.take_tcp_output();
            if from_client.is_empty() && from_server.is_empty() {
                break;
            }
            if !from_client.is_empty() {
                server.receive_tcp(&from_client)?;
            }
            if !from_server.is_empty() {
                client.receive_tcp(&from_server)?;
            }
        }
        assert!(!client.is_handshaking(), "the handshake did not finish");
        Ok(())
    }

    fn reason_of(error: &TlsError) -> TrustFailureReason {
        match error {
            TlsError::Protocol(inner) => failure_of(inner).expect("an evaluator failure").reason,
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn a_ctl_trusts_its_capf_record_and_refuses_another_listed_certificate() {
        let ctl = vector("tlv/ctl-sha1.tlv");
        let trust = ServerTrust::from_file(&ctl, "CTLFile.tlv", ServerRole::Capf).unwrap();
        handshake("tlv/keys/capf.pem", &trust, DirectCertificates::Pinned).unwrap();
        // The CCM+TFTP server is in the CTL, but not as CAPF.
        let error =
            handshake("tlv/keys/ccm-tftp.pem", &trust, DirectCertificates::Pinned).unwrap_err();
        assert_eq!(reason_of(&error), TrustFailureReason::WrongRole, "{error}");
        // A certificate the CTL does not list at all.
        let error = handshake("tlv/keys/tvs.pem", &trust, DirectCertificates::Pinned).unwrap_err();
        assert_eq!(reason_of(&error), TrustFailureReason::NotListed, "{error}");
    }

    #[test]
    fn named_certificates_are_pins_or_anchors_as_the_host_says() {
        let capf = vector("tlv/keys/capf.pem");
        let trust = ServerTrust::from_file(&capf, "capf.pem", ServerRole::Capf).unwrap();
        for direct in [DirectCertificates::Pinned, DirectCertificates::Anchors] {
            handshake("tlv/keys/capf.pem", &trust, direct).unwrap();
            assert!(
                handshake("tlv/keys/tvs.pem", &trust, direct).is_err(),
                "{direct:?}: another server's certificate was accepted"
            );
        }
    }
}
