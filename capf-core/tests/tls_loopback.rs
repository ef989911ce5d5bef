//! In-memory TLS between the two sans-IO transports: handshakes over TLS 1.2
//! and 1.3, the pinned and roots verifiers, and one record per frame.

mod seeded;

use capf_core::time::Timestamp;
use capf_core::tls::{
    PinnedVerifier, RootsVerifier, TlsClientTransport, TlsError, TlsServerTransport, TlsVersions,
    client_config, client_config_pinned, client_config_with_roots_at, server_config,
};
use capf_core::trust::verifiers::failure_of;
use capf_core::trust::{ServerRole, TrustFailureReason};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::{CertificateError, ProtocolVersion};

/// DER certificate and PKCS#8 key.
struct Credential {
    certificate: Vec<u8>,
    key: Vec<u8>,
}

fn key() -> KeyPair {
    seeded::p256_key()
}

/// A self-signed certificate in the CAPF profile: CA:TRUE pathlen 0,
/// digitalSignature + keyCertSign.
fn capf_certificate(name: &str) -> (Credential, CertificateParams, KeyPair) {
    let key = key();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let certificate = params.self_signed(&key).expect("self-signed");
    let credential = Credential {
        certificate: certificate.der().to_vec(),
        key: key.serialize_der(),
    };
    (credential, params, key)
}

/// An end-entity (CA:FALSE) certificate for `dns_name`, issued by `issuer`.
fn leaf_certificate(dns_name: &str, issuer: &Issuer<'_, KeyPair>) -> Credential {
    let key = key();
    let params = CertificateParams::new(vec![dns_name.to_owned()]).expect("params");
    let certificate = params.signed_by(&key, issuer).expect("signed");
    Credential {
        certificate: certificate.der().to_vec(),
        key: key.serialize_der(),
    }
}

/// Splits TCP bytes into whole TLS records (5-byte header + body).
fn records(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 5, "truncated record header");
        let length = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        let (record, rest) = bytes.split_at(5 + length);
        out.push(record);
        bytes = rest;
    }
    out
}

/// Plaintext pieces received by (server, client).
type Received = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Moves bytes both ways, one TLS record per `receive_tcp` call, until
/// nothing moves. Returns the plaintext pieces each side received, one entry
/// per record that produced plaintext.
fn pump(
    server: &mut TlsServerTransport,
    client: &mut TlsClientTransport,
) -> Result<Received, TlsError> {
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    for _ in 0..32 {
        let from_client = client.take_tcp_output();
        let from_server = server.take_tcp_output();
        if from_client.is_empty() && from_server.is_empty() {
            return Ok((to_server, to_client));
        }
        for record in records(&from_client) {
            let plaintext = server.receive_tcp(record)?;
            if !plaintext.is_empty() {
                to_server.push(plaintext);
            }
        }
        for record in records(&from_server) {
            let plaintext = client.receive_tcp(record)?;
            if !plaintext.is_empty() {
                to_client.push(plaintext);
            }
        }
    }
    panic!("the handshake does not settle");
}

fn connect(
    server_credential: &Credential,
    client: std::sync::Arc<rustls::ClientConfig>,
    server_name: &str,
) -> (TlsServerTransport, TlsClientTransport) {
    let config = server_config(
        std::slice::from_ref(&server_credential.certificate),
        &server_credential.key,
    )
    .unwrap();
    (
        TlsServerTransport::new(config).unwrap(),
        TlsClientTransport::new(client, server_name).unwrap(),
    )
}

fn version(versions: TlsVersions) -> ProtocolVersion {
    match versions {
        TlsVersions::Tls12Only => ProtocolVersion::TLSv1_2,
        _ => ProtocolVersion::TLSv1_3,
    }
}

#[test]
fn pinned_capf_certificate_both_versions_plaintext_both_ways() {
    let (capf, _, _) = capf_certificate("CAPF-test");
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let verifier = PinnedVerifier::new(std::slice::from_ref(&capf.certificate)).unwrap();
        let config = client_config(verifier, versions).unwrap();
        let (mut server, mut client) = connect(&capf, config, "192.0.2.10");
        assert!(server.is_handshaking() && client.is_handshaking());

        // The CAPF server speaks first, possibly before the handshake ends.
        server.send_plaintext(b"\x55\x01first-frame").unwrap();
        let (to_server, to_client) = pump(&mut server, &mut client).unwrap();
        assert!(!server.is_handshaking() && !client.is_handshaking());
        assert_eq!(client.protocol_version(), Some(version(versions)));
        assert_eq!(server.protocol_version(), Some(version(versions)));
        assert!(to_server.is_empty());
        assert_eq!(to_client, vec![b"\x55\x01first-frame".to_vec()]);
        assert_eq!(
            client.peer_certificates(),
            Some(vec![capf.certificate.clone()])
        );
        assert_eq!(
            server.peer_certificates(),
            None,
            "no client certificate asked"
        );

        client.send_plaintext(b"phone answer").unwrap();
        server.send_plaintext(b"server request").unwrap();
        let (to_server, to_client) = pump(&mut server, &mut client).unwrap();
        assert_eq!(to_server, vec![b"phone answer".to_vec()]);
        assert_eq!(to_client, vec![b"server request".to_vec()]);

        // Orderly close from the server after END_SESSION.
        server.send_close_notify();
        assert!(matches!(
            server.send_plaintext(b"late"),
            Err(TlsError::Closed)
        ));
        pump(&mut server, &mut client).unwrap();
        assert!(client.peer_closed() && client.wants_close());
        client.tcp_closed().unwrap();
    }
}

#[test]
fn handshake_survives_one_byte_chunks() {
    let (capf, _, _) = capf_certificate("CAPF-test");
    let config = client_config_pinned(std::slice::from_ref(&capf.certificate)).unwrap();
    let (mut server, mut client) = connect(&capf, config, "capf.example");
    server.send_plaintext(b"hello phone").unwrap();
    let mut received = Vec::new();
    for _ in 0..16 {
        for byte in client.take_tcp_output() {
            assert!(server.receive_tcp(&[byte]).unwrap().is_empty());
        }
        for byte in server.take_tcp_output() {
            received.extend(client.receive_tcp(&[byte]).unwrap());
        }
    }
    assert!(!client.is_handshaking());
    assert_eq!(received, b"hello phone");
}

#[test]
fn pinned_verifier_refuses_another_certificate() {
    let (capf, _, _) = capf_certificate("CAPF-real");
    let (impostor, _, _) = capf_certificate("CAPF-real");
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let verifier = PinnedVerifier::new(std::slice::from_ref(&capf.certificate)).unwrap();
        let config = client_config(verifier, versions).unwrap();
        let (mut server, mut client) = connect(&impostor, config, "capf.example");
        let error = pump(&mut server, &mut client).unwrap_err();
        assert!(
            matches!(
                error,
                TlsError::Protocol(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{error:?}"
        );
        assert!(client.wants_close());
        assert!(matches!(client.receive_tcp(b"x"), Err(TlsError::Failed)));
    }
}

#[test]
fn pinned_verifier_checks_the_handshake_signature() {
    // A server presenting the pinned certificate without its key: the pin
    // matches (same bytes) but the handshake signature must not verify.
    let (capf, _, _) = capf_certificate("CAPF-real");
    let (other, _, _) = capf_certificate("CAPF-other");
    let provider = capf_core::crypto_provider::rustls_provider();
    let wrong_key = provider
        .key_provider
        .load_private_key(rustls::pki_types::PrivateKeyDer::try_from(other.key).unwrap())
        .unwrap();
    // CertifiedKey::new does not check that key and certificate match.
    let certified = rustls::sign::CertifiedKey::new(
        vec![rustls::pki_types::CertificateDer::from(
            capf.certificate.clone(),
        )],
        wrong_key,
    );
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let server_config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            capf_core::crypto_provider::rustls_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(std::sync::Arc::new(rustls::sign::SingleCertAndKey::from(
            certified.clone(),
        )));
        let mut server = TlsServerTransport::new(std::sync::Arc::new(server_config)).unwrap();
        let config = client_config(
            PinnedVerifier::new(std::slice::from_ref(&capf.certificate)).unwrap(),
            versions,
        )
        .unwrap();
        let mut client = TlsClientTransport::new(config, "capf.example").unwrap();
        let error = pump(&mut server, &mut client).unwrap_err();
        assert!(
            matches!(
                error,
                TlsError::Protocol(rustls::Error::InvalidCertificate(
                    CertificateError::BadSignature
                ))
            ),
            "{versions:?}: {error:?}"
        );
        assert!(client.is_handshaking());
    }
}

#[test]
fn roots_verifier_ignores_the_host_name_both_versions() {
    let (_, ca_params, ca_key) = capf_certificate("Test root");
    let ca_der = ca_params.self_signed(&ca_key).unwrap().der().to_vec();
    let issuer = Issuer::new(ca_params, ca_key);
    let tvs = leaf_certificate("tvs.example", &issuer);
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let verifier = RootsVerifier::with_time_source(
            std::slice::from_ref(&ca_der),
            ServerRole::Capf,
            clock(),
        )
        .unwrap();
        let config = client_config(verifier, versions).unwrap();
        // Connect by an address that is not in the certificate.
        let (mut server, mut client) = connect(&tvs, config, "198.51.100.7");
        server.send_plaintext(b"tvs").unwrap();
        let (_, to_client) = pump(&mut server, &mut client).unwrap();
        assert_eq!(to_client, vec![b"tvs".to_vec()]);
        assert_eq!(client.protocol_version(), Some(version(versions)));
    }
}

#[test]
fn roots_verifier_refuses_an_unknown_ca() {
    let (_, ca_params, ca_key) = capf_certificate("Test root");
    let issuer = Issuer::new(ca_params, ca_key);
    let tvs = leaf_certificate("tvs.example", &issuer);
    let (other_root, _, _) = capf_certificate("Other root");
    let config = roots_config(&[other_root.certificate]).unwrap();
    let (mut server, mut client) = connect(&tvs, config, "tvs.example");
    let error = pump(&mut server, &mut client).unwrap_err();
    assert_eq!(
        evaluator_reason(&error),
        Some(TrustFailureReason::UnknownIssuer),
        "{error:?}"
    );
}

/// The trust evaluator's reason inside a refusal of the roots verifier.
fn evaluator_reason(error: &TlsError) -> Option<TrustFailureReason> {
    match error {
        TlsError::Protocol(inner) => failure_of(inner).map(|failure| failure.reason),
        _ => None,
    }
}

#[test]
fn ca_true_capf_certificate_needs_pinning_or_to_be_an_anchor_itself() {
    // A CAPF certificate (CA:TRUE pathlen 0) issued by a root: webpki refuses
    // a CA certificate as end entity, so trusting its issuer is not enough.
    let (_, root_params, root_key) = capf_certificate("Enterprise root");
    let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
    let root = Issuer::new(root_params, root_key);
    let capf_key = key();
    let mut capf_params = CertificateParams::default();
    capf_params
        .distinguished_name
        .push(DnType::CommonName, "CAPF-issued");
    capf_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let capf = Credential {
        certificate: capf_params
            .signed_by(&capf_key, &root)
            .unwrap()
            .der()
            .to_vec(),
        key: capf_key.serialize_der(),
    };

    let config = roots_config(&[root_der]).unwrap();
    let (mut server, mut client) = connect(&capf, config, "capf.example");
    let error = pump(&mut server, &mut client).unwrap_err();
    // The evaluator's words for webpki's CaUsedAsEndEntity.
    assert_eq!(
        evaluator_reason(&error),
        Some(TrustFailureReason::WrongKeyUsage),
        "{error:?}"
    );
    assert!(error.to_string().contains("CA:TRUE"), "{error}");

    // The same certificate given as an anchor itself, or pinned, is accepted.
    for config in [
        roots_config(std::slice::from_ref(&capf.certificate)).unwrap(),
        client_config_pinned(std::slice::from_ref(&capf.certificate)).unwrap(),
    ] {
        let (mut server, mut client) = connect(&capf, config, "capf.example");
        pump(&mut server, &mut client).unwrap();
        assert!(!client.is_handshaking());
    }
}

#[test]
fn each_frame_is_exactly_one_application_data_record() {
    let (capf, _, _) = capf_certificate("CAPF-test");
    let frames: Vec<Vec<u8>> = [8_usize, 9, 300, 5000, 16_384]
        .iter()
        .map(|&size| (0..size).map(|i| (i % 251) as u8).collect())
        .collect();
    for versions in [TlsVersions::Tls12Only, TlsVersions::Tls13Only] {
        let config = client_config(
            PinnedVerifier::new(std::slice::from_ref(&capf.certificate)).unwrap(),
            versions,
        )
        .unwrap();
        let (mut server, mut client) = connect(&capf, config, "capf.example");

        // Queued during the handshake: still one record per frame.
        server.send_plaintext(&frames[0]).unwrap();
        server.send_plaintext(&frames[1]).unwrap();
        let (_, to_client) = pump(&mut server, &mut client).unwrap();
        assert_eq!(to_client, frames[..2].to_vec());

        // After the handshake: each write's TCP output is one record.
        for frame in &frames {
            for (sender_is_server, bytes) in [(true, frame), (false, frame)] {
                let tcp = if sender_is_server {
                    server.send_plaintext(bytes).unwrap();
                    server.take_tcp_output()
                } else {
                    client.send_plaintext(bytes).unwrap();
                    client.take_tcp_output()
                };
                let records = records(&tcp);
                assert_eq!(records.len(), 1, "{versions:?} frame of {}", frame.len());
                let record = records[0];
                assert_eq!(record[0], 0x17, "application_data");
                assert_eq!(&record[1..3], &[0x03, 0x03]);
                let overhead = record.len() - 5 - frame.len();
                assert!((1..=64).contains(&overhead), "overhead {overhead}");
                let plaintext = if sender_is_server {
                    client.receive_tcp(record).unwrap()
                } else {
                    server.receive_tcp(record).unwrap()
                };
                assert_eq!(&plaintext, frame);
            }
        }
    }
}

#[test]
fn tcp_end_without_close_notify_is_truncation() {
    let (capf, _, _) = capf_certificate("CAPF-test");
    let config = client_config_pinned(std::slice::from_ref(&capf.certificate)).unwrap();
    let (mut server, mut client) = connect(&capf, config, "capf.example");
    pump(&mut server, &mut client).unwrap();
    assert!(!client.peer_closed());
    assert!(matches!(client.tcp_closed(), Err(TlsError::Truncated)));
}

#[test]
fn configuration_errors_are_reported() {
    assert!(matches!(
        server_config(&[], b"key"),
        Err(TlsError::NoCertificates)
    ));
    let (capf, _, _) = capf_certificate("CAPF-test");
    assert!(matches!(
        server_config(std::slice::from_ref(&capf.certificate), b"not a key"),
        Err(TlsError::InvalidPrivateKey)
    ));
    assert!(matches!(
        client_config_pinned(&[]),
        Err(TlsError::NoCertificates)
    ));
    assert!(matches!(
        roots_config(&[b"garbage".to_vec()]),
        Err(TlsError::InvalidTrustAnchor { index: 0, .. })
    ));
    let config = client_config_pinned(&[capf.certificate]).unwrap();
    assert!(matches!(
        TlsClientTransport::new(config, "not a name!"),
        Err(TlsError::InvalidServerName(_))
    ));
}

/// The host clock of these tests: a fixed instant inside rcgen's default
/// validity (1975 to 4096).
fn clock() -> std::sync::Arc<dyn capf_core::tls::TimeSource> {
    std::sync::Arc::new(|| Timestamp::from_unix_seconds(1_795_000_000))
}

/// A client configuration trusting `roots` for a CAPF server at [`clock`].
fn roots_config(roots: &[Vec<u8>]) -> Result<std::sync::Arc<rustls::ClientConfig>, TlsError> {
    client_config_with_roots_at(roots, ServerRole::Capf, clock())
}
