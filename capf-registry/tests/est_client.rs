//! The EST client against the test responder on loopback (real HTTPS with
//! rustls, real certs-only PKCS#7): basic and client-certificate
//! authentication, an optional label, chunked answers, refusals, a held
//! request past the limit, a certificate for another key, an untrusted CA.
//! The certificate returned is checked with x509-cert against the CA's key
//! (its issuer name and SPKI), independent of the client's own selection.
#![cfg(feature = "est-responder")]

use capf_registry::est::responder::TestCa as Ca;
use capf_registry::est::responder::{Behaviour, Responder, ResponderConfig};
use capf_registry::est::{EstAuthentication, EstClient, EstConfig, EstError, EstUrl};
use der::{Decode, Encode};
use std::time::Duration;

fn new_ca(name: &str) -> Ca {
    Ca::new(name).unwrap()
}

fn responder(ca: &Ca, behaviour: Behaviour, client_ca: Vec<Vec<u8>>) -> Responder {
    let basic = client_ca
        .is_empty()
        .then(|| ("capf".to_owned(), "right".to_owned()));
    Responder::start(
        ResponderConfig {
            ca_certificate_pem: ca.certificate_pem.clone(),
            ca_key_pem: ca.key_pem.clone(),
            tls_chain: ca.tls_chain.clone(),
            tls_key_pkcs8_der: ca.tls_key.clone(),
            client_ca,
            basic,
            first_serial: 7,
        },
        behaviour,
    )
    .unwrap()
}

fn client(url: &str, anchor: &[u8], authentication: EstAuthentication, timeout: u64) -> EstClient {
    EstClient::new(EstConfig {
        url: EstUrl::parse(url).unwrap(),
        trust_anchors: vec![anchor.to_vec()],
        authentication,
        timeout: Duration::from_secs(timeout),
    })
    .unwrap()
}

fn basic(password: &str) -> EstAuthentication {
    EstAuthentication::Basic {
        user: "capf".into(),
        password: password.into(),
    }
}

/// A phone's key and its signed request (CN = the device name).
fn request(algorithm: &'static rcgen::SignatureAlgorithm) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "SEP001122334455");
    let csr = params.serialize_request(&key).unwrap();
    (
        csr.der().to_vec(),
        rcgen::PublicKeyData::subject_public_key_info(&key),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The certificate's SPKI and whether the CA named it (issuer = CA subject).
fn check_issued(certificate: &[u8], ca: &Ca, spki: &[u8]) {
    let certificate = x509_cert::Certificate::from_der(certificate).unwrap();
    let ca_certificate = x509_cert::Certificate::from_der(&ca.certificate_der).unwrap();
    assert_eq!(
        certificate
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap(),
        spki
    );
    assert_eq!(
        certificate.tbs_certificate.issuer,
        ca_certificate.tbs_certificate.subject
    );
}

#[test]
fn basic_authentication_gets_the_certificate_for_the_phones_key() {
    let ca = new_ca("EST CA basic");
    let responder = responder(&ca, Behaviour::Issue, Vec::new());
    let client = client(&responder.url(), &ca.certificate_der, basic("right"), 10);
    let runtime = runtime();
    for algorithm in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
    ] {
        let (csr, spki) = request(algorithm);
        let certificate = runtime.block_on(client.simple_enroll(&csr, &spki)).unwrap();
        check_issued(&certificate, &ca, &spki);
    }
    // /cacerts: the CA certificate (not counted as an enrollment).
    let published = runtime.block_on(client.ca_certificates()).unwrap();
    assert_eq!(published, vec![ca.certificate_der.clone()]);
    let seen = responder.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.basic_ok && s.path == "/.well-known/est/simpleenroll")
    );

    // A wrong password: 401, a refusal.
    let wrong = client_with_password(&responder, &ca, "wrong");
    let (csr, spki) = request(&rcgen::PKCS_ECDSA_P256_SHA256);
    let error = runtime
        .block_on(wrong.simple_enroll(&csr, &spki))
        .unwrap_err();
    assert!(
        matches!(error, EstError::Refused { status: 401, .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong"), "{error}");
}

fn client_with_password(responder: &Responder, ca: &Ca, password: &str) -> EstClient {
    client(&responder.url(), &ca.certificate_der, basic(password), 10)
}

#[test]
fn a_client_certificate_a_label_and_a_chunked_answer() {
    let ca = new_ca("EST CA client");
    let client_ca = ca_for_clients();
    let responder = responder(&ca, Behaviour::IssueChunked, vec![client_ca.0.clone()]);
    let client = client(
        &format!("{}/phones", responder.url()),
        &ca.certificate_der,
        EstAuthentication::ClientCertificate {
            chain: vec![client_ca.1.clone()],
            key_pkcs8_der: client_ca.2.clone(),
        },
        10,
    );
    let (csr, spki) = request(&rcgen::PKCS_ECDSA_P256_SHA256);
    let certificate = runtime()
        .block_on(client.simple_enroll(&csr, &spki))
        .unwrap();
    check_issued(&certificate, &ca, &spki);
    let seen = responder.seen();
    assert_eq!(seen[0].path, "/.well-known/est/phones/simpleenroll");
    assert!(seen[0].client_certificate);
}

/// (client CA DER, client certificate DER, client key PKCS#8 DER).
fn ca_for_clients() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "client CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let certificate = params.self_signed(&key).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_der(certificate.der(), &key).unwrap();
    let client_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut client = rcgen::CertificateParams::new(vec!["capf.test".to_owned()]).unwrap();
    client.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client.signed_by(&client_key, &issuer).unwrap();
    (
        certificate.der().to_vec(),
        client.der().to_vec(),
        client_key.serialize_der(),
    )
}

#[test]
fn failures_are_errors_with_the_right_refusal() {
    let ca = new_ca("EST CA failures");
    let runtime = runtime();
    let (csr, spki) = request(&rcgen::PKCS_ECDSA_P256_SHA256);

    let held = responder(&ca, Behaviour::Hold, Vec::new());
    let error = runtime
        .block_on(
            client(&held.url(), &ca.certificate_der, basic("right"), 1).simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(matches!(error, EstError::Timeout(_)), "{error}");
    assert!(matches!(
        error.refusal(),
        capf_core::capf::server::IssueRefusal::Unavailable(_)
    ));

    for status in [400, 403, 500] {
        let refusing = responder(&ca, Behaviour::Status(status), Vec::new());
        let error = runtime
            .block_on(
                client(&refusing.url(), &ca.certificate_der, basic("right"), 10)
                    .simple_enroll(&csr, &spki),
            )
            .unwrap_err();
        assert!(
            matches!(&error, EstError::Refused { status: s, .. } if *s == status),
            "{error}"
        );
        assert!(matches!(
            error.refusal(),
            capf_core::capf::server::IssueRefusal::Declined(_)
        ));
    }

    let accepted = responder(&ca, Behaviour::Status(202), Vec::new());
    let error = runtime
        .block_on(
            client(&accepted.url(), &ca.certificate_der, basic("right"), 10)
                .simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(
        matches!(error, EstError::NoCertificate { status: 202, .. }),
        "{error}"
    );

    let wrong_key = responder(&ca, Behaviour::WrongKey, Vec::new());
    let error = runtime
        .block_on(
            client(&wrong_key.url(), &ca.certificate_der, basic("right"), 10)
                .simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(
        matches!(
            error,
            EstError::Pkcs7(capf_registry::est::pkcs7::Pkcs7Error::KeyMismatch)
        ),
        "{error}"
    );

    // A CA whose TLS certificate the anchors do not vouch for.
    let stranger = new_ca("another CA");
    let issuing = responder(&ca, Behaviour::Issue, Vec::new());
    let error = runtime
        .block_on(
            client(
                &issuing.url(),
                &stranger.certificate_der,
                basic("right"),
                10,
            )
            .simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(matches!(error, EstError::Tls(_)), "{error}");
    assert!(issuing.seen().is_empty());

    // Nobody listening.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = runtime
        .block_on(
            client(
                &format!("https://127.0.0.1:{port}"),
                &ca.certificate_der,
                basic("right"),
                10,
            )
            .simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(matches!(error, EstError::Connection(_)), "{error}");
}

#[test]
fn a_configuration_without_anchors_or_with_a_bad_client_key_is_refused() {
    let refused = |trust_anchors: Vec<Vec<u8>>, authentication| {
        EstClient::new(EstConfig {
            url: EstUrl::parse("https://127.0.0.1:1").unwrap(),
            trust_anchors,
            authentication,
            timeout: Duration::from_secs(1),
        })
        .unwrap_err()
    };
    assert!(matches!(
        refused(Vec::new(), EstAuthentication::None),
        EstError::Configuration(_)
    ));
    let ca = new_ca("EST CA config");
    assert!(matches!(
        refused(
            vec![ca.certificate_der.clone()],
            EstAuthentication::ClientCertificate {
                chain: vec![ca.certificate_der.clone()],
                key_pkcs8_der: vec![1, 2, 3],
            }
        ),
        EstError::Configuration(_)
    ));
    assert!(matches!(
        refused(
            vec![ca.certificate_der],
            EstAuthentication::Basic {
                user: "a:b".into(),
                password: "x".into()
            }
        ),
        EstError::Configuration(_)
    ));
}

#[test]
fn a_request_held_for_approval_is_asked_again_within_the_limit_only() {
    let ca = new_ca("EST CA approval");
    let runtime = runtime();
    let (csr, spki) = request(&rcgen::PKCS_ECDSA_P256_SHA256);
    // 202, Retry-After 1 s, within a 10 s limit: asked again, signed.
    let approving = responder(&ca, Behaviour::AcceptFirst(1), Vec::new());
    let certificate = runtime
        .block_on(
            client(&approving.url(), &ca.certificate_der, basic("right"), 10)
                .simple_enroll(&csr, &spki),
        )
        .unwrap();
    check_issued(&certificate, &ca, &spki);
    let statuses: Vec<Option<u16>> = approving.seen().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [Some(202), Some(200)]);
    // Retry-After 60 s past a 5 s limit: no certificate, at once.
    let slow = responder(&ca, Behaviour::AcceptFirst(60), Vec::new());
    let started = std::time::Instant::now();
    let error = runtime
        .block_on(
            client(&slow.url(), &ca.certificate_der, basic("right"), 5).simple_enroll(&csr, &spki),
        )
        .unwrap_err();
    assert!(
        matches!(error, EstError::NoCertificate { status: 202, .. }),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(slow.seen().len(), 1);
}
