//! Trust lists across the crates: CTLs built and signed by ctl-format, read
//! back by capf-core's rollover predictor, trust stores and TLS verifier,
//! and a TLS handshake over capf-core's transports deciding what a phone
//! holding each list would connect to. The recorded certutils vectors
//! (`tests/vectors/tlv/`) go through the same path.

mod common;

use capf_core::rollover::{
    Acceptance, Authority, CandidateList, InstalledLists, RejectionReason, RolloverVerdict, predict,
};
use capf_core::tls::{
    TlsClientTransport, TlsError, TlsServerTransport, TlsVersions, client_config, server_config,
};
use capf_core::trust::verifiers::{TrustListServerVerifier, failure_of};
use capf_core::trust::{ServerRole, StoreKind, TrustStore};
use common::{NOW, certificate_der, key_pem, private_key_der, vectors};
use ctl_format::trust_list::{RecordEntry, Role, TrustList, TrustListBuilder, TrustListKind};
use ctl_format::{Certificate, HashAlgorithm, HashPolicy, RsaFileSigner};
use std::sync::Arc;

fn certificate(name: &str) -> Certificate {
    Certificate::from_pem(&key_pem(name)).unwrap()
}

/// A CTL signed by vector key `signer`, listing `records` (vector key
/// names and roles), SHA-512 signature, built by ctl-format.
fn ctl(signer: &str, records: &[(&str, Role)]) -> Vec<u8> {
    let signing = RsaFileSigner::from_pem(&key_pem(signer)).unwrap();
    TrustListBuilder::new(
        TrustListKind::Ctl,
        certificate(signer),
        &signing,
        1_798_000_000,
    )
    .hash_algorithm(HashAlgorithm::Sha512)
    .records(
        records
            .iter()
            .map(|(name, role)| RecordEntry::new(certificate(name), *role)),
    )
    .build()
    .unwrap()
}

/// Whether a phone that installed `list` completes a TLS handshake with a
/// CAPF server presenting vector key `server`; the evaluator's reason
/// when it does not.
fn phone_connects(list: &[u8], server: &str) -> Result<(), String> {
    let parsed = TrustList::parse(list).unwrap();
    parsed.verify(list, HashPolicy::CISCO).unwrap();
    let store = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &parsed).unwrap();
    let verifier = TrustListServerVerifier::new(vec![store], ServerRole::Capf, Arc::new(|| NOW));
    let client_trust = client_config(verifier, TlsVersions::default()).unwrap();
    let mut client = TlsClientTransport::new(client_trust, "capf.invalid").unwrap();
    let config = server_config(&[certificate_der(server)], &private_key_der(server)).unwrap();
    let mut tls_server = TlsServerTransport::new(config).unwrap();
    let outcome = (|| -> Result<(), TlsError> {
        for _ in 0..16 {
            let to_server = client.take_tcp_output();
            let to_client = tls_server.take_tcp_output();
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
            tls_server.receive_tcp(&to_server)?;
            client.receive_tcp(&to_client)?;
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            assert!(
                !client.is_handshaking() && !tls_server.is_handshaking(),
                "the handshake neither finished nor failed"
            );
            // What the phone was shown is the server's certificate.
            assert_eq!(
                client.peer_certificates().unwrap().first(),
                Some(&certificate_der(server))
            );
            Ok(())
        }
        Err(TlsError::Protocol(error)) => match failure_of(&error) {
            Some(failure) => Err(failure.to_string()),
            None => Err(format!("TLS failed, not by the evaluator: {error}")),
        },
        Err(other) => Err(format!("TLS failed: {other}")),
    }
}

/// A cluster replaces its CAPF certificate (here the TVS vector key plays
/// the renewed one). The phones' CTL must change first: a new CTL signed
/// by the second SAST token of the installed one lists the new CAPF
/// certificate. The predictor says the phone takes it and how; the phone
/// holding the old list refuses the new server, and holding the new list,
/// connects to it and refuses the old one.
#[test]
fn capf_certificate_renewal_through_a_ctl_rollover() {
    let v1 = ctl(
        "sast.pem",
        &[
            ("sast.pem", Role::Sast),
            ("sast2.pem", Role::Sast),
            ("capf.pem", Role::Capf),
        ],
    );
    let v2 = ctl(
        "sast2.pem",
        &[
            ("sast.pem", Role::Sast),
            ("sast2.pem", Role::Sast),
            ("tvs.pem", Role::Capf),
        ],
    );
    let candidate = |bytes| CandidateList {
        kind: TrustListKind::Ctl,
        bytes,
    };

    // A factory-fresh phone takes v1 on first use.
    let fresh = predict(
        InstalledLists::NOTHING,
        candidate(&v1),
        None,
        HashPolicy::CISCO,
    )
    .unwrap();
    assert_eq!(
        fresh.verdict,
        RolloverVerdict::Accepted(Acceptance::FirstUse),
        "{fresh:?}"
    );
    assert_eq!(fresh.authority, Authority::Nothing);

    // A phone holding v1 takes v2: its signer is v1's second SAST record.
    let with_v1 = InstalledLists {
        ctl: Some(&v1),
        itl: None,
    };
    let rolled = predict(with_v1, candidate(&v2), None, HashPolicy::CISCO).unwrap();
    assert_eq!(rolled.authority, Authority::Ctl, "{rolled:?}");
    match &rolled.verdict {
        RolloverVerdict::Accepted(Acceptance::SignedBySameCertificate { installed }) => {
            // v1's record 1: the second SAST token.
            assert_eq!(
                (installed.list, installed.index, installed.role),
                (TrustListKind::Ctl, 1, Role::Sast),
                "{installed:?}"
            );
        }
        other => panic!("v2 not accepted by its SAST certificate: {other:?}"),
    }

    // A list signed by a certificate v1 does not list as SAST (its CAPF):
    // refused, and nothing would change on the phone.
    let rogue = ctl(
        "capf.pem",
        &[("capf.pem", Role::Sast), ("tvs.pem", Role::Capf)],
    );
    let refused = predict(with_v1, candidate(&rogue), None, HashPolicy::CISCO).unwrap();
    assert!(
        matches!(
            refused.verdict,
            RolloverVerdict::Rejected {
                reason: RejectionReason::SignerNotSast,
                ..
            }
        ),
        "{refused:?}"
    );
    // One bit of v2's signature changed: refused as a bad signature.
    let mut tampered = v2.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let broken = predict(with_v1, candidate(&tampered), None, HashPolicy::CISCO).unwrap();
    assert!(
        matches!(
            broken.verdict,
            RolloverVerdict::Rejected {
                reason: RejectionReason::SignatureInvalid,
                ..
            }
        ),
        "{broken:?}"
    );

    // TLS as each phone would see it.
    assert_eq!(phone_connects(&v1, "capf.pem"), Ok(()));
    let old_phone = phone_connects(&v1, "tvs.pem").unwrap_err();
    assert!(old_phone.contains("not in the CTL"), "{old_phone}");
    assert_eq!(phone_connects(&v2, "tvs.pem"), Ok(()));
    let new_phone = phone_connects(&v2, "capf.pem").unwrap_err();
    assert!(new_phone.contains("not in the CTL"), "{new_phone}");
}

/// The recorded certutils CTL (`ctl-sha1.tlv`, SHA-1, signed by the SAST
/// vector key): ctl-format verifies it, capf-core trusts its CAPF record
/// for TLS, and a CTL ctl-format builds with the same signer is a rollover
/// the predictor accepts from it; the vector with a damaged signature is
/// refused by both crates.
#[test]
fn the_recorded_certutils_ctl_through_both_crates() {
    let recorded = std::fs::read(vectors().join("tlv/ctl-sha1.tlv")).unwrap();
    let sidecar: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(vectors().join("tlv/ctl-sha1.tlv.json")).unwrap(),
    )
    .unwrap();
    let roles: Vec<&str> = sidecar["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["role_name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["SAST", "SAST", "CCM+TFTP", "CAPF"]);

    assert_eq!(phone_connects(&recorded, "capf.pem"), Ok(()));
    assert!(phone_connects(&recorded, "tvs.pem").is_err());

    let next = ctl(
        "sast.pem",
        &[("sast.pem", Role::Sast), ("capf.pem", Role::Capf)],
    );
    let installed = InstalledLists {
        ctl: Some(&recorded),
        itl: None,
    };
    let candidate = CandidateList {
        kind: TrustListKind::Ctl,
        bytes: &next,
    };
    let prediction = predict(installed, candidate, None, HashPolicy::CISCO).unwrap();
    assert!(
        matches!(
            prediction.verdict,
            RolloverVerdict::Accepted(Acceptance::SignedBySameCertificate { .. })
        ),
        "{prediction:?}"
    );

    let damaged = std::fs::read(vectors().join("tlv/ctl-sha1-badsig.tlv")).unwrap();
    let parsed = TrustList::parse(&damaged).unwrap();
    assert!(parsed.verify(&damaged, HashPolicy::CISCO).is_err());
    let candidate = CandidateList {
        kind: TrustListKind::Ctl,
        bytes: &damaged,
    };
    let prediction = predict(installed, candidate, None, HashPolicy::CISCO).unwrap();
    assert!(
        matches!(
            prediction.verdict,
            RolloverVerdict::Rejected {
                reason: RejectionReason::SignatureInvalid,
                ..
            }
        ),
        "{prediction:?}"
    );
}
