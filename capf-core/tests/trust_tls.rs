//! The rustls adapters over real TLS (the sans-IO transports, in memory):
//! a phone's CTL-based server check and a server's LSC/MIC client check,
//! accepted and refused, the refusal carrying the evaluator's reason.

mod trust_support;

use capf_core::time::Timestamp;
use capf_core::tls::rustls;
use capf_core::tls::{
    RootsVerifier, TimeSource, TlsClientTransport, TlsError, TlsServerTransport, TlsVersions,
    client_config, client_config_with_certificate, client_config_with_roots_at, server_config,
    server_config_with_client_verifier,
};
use capf_core::trust::verifiers::{DeviceClientVerifier, TrustListServerVerifier, failure_of};
use capf_core::trust::{ServerRole, StoreKind, TrustFailureReason, TrustStore};
use ctl_format::trust_list::Role;
use std::sync::Arc;
use trust_support::*;

/// Moves bytes both ways until nothing moves or one side fails.
fn handshake(
    server: &mut TlsServerTransport,
    client: &mut TlsClientTransport,
) -> Result<(), TlsError> {
    for _ in 0..32 {
        let from_client = client.take_tcp_output();
        let from_server = server.take_tcp_output();
        if from_client.is_empty() && from_server.is_empty() {
            return Ok(());
        }
        if !from_client.is_empty() {
            server.receive_tcp(&from_client)?;
        }
        if !from_server.is_empty() {
            client.receive_tcp(&from_server)?;
        }
    }
    panic!("the handshake does not settle");
}

fn reason_of(error: &TlsError) -> TrustFailureReason {
    match error {
        TlsError::Protocol(inner) => failure_of(inner).expect("an evaluator failure").reason,
        other => panic!("unexpected error {other:?}"),
    }
}

fn ctl_with(der: &[u8], role: Role) -> TrustStore {
    let mut ctl = TrustStore::new(StoreKind::Ctl, "CTLFile.tlv");
    ctl.add_certificate(der, &[role]).unwrap();
    ctl
}

#[test]
fn phone_view_accepts_a_server_listed_with_the_role_and_refuses_another_role() {
    let ca = root("Example CA");
    let ccm = leaf(&LeafSpec::new("cucm.example.net"), &ca);
    let server_tls = server_config(std::slice::from_ref(&ccm.der), &ccm.key_der).unwrap();
    let ctl = ctl_with(&ccm.der, Role::CallManagerTftp);

    let verifier =
        TrustListServerVerifier::new(vec![ctl.clone()], ServerRole::CallManager, clock());
    let config = client_config(verifier, TlsVersions::default()).unwrap();
    let mut server = TlsServerTransport::new(server_tls.clone()).unwrap();
    let mut client = TlsClientTransport::new(config, "10.0.0.1").unwrap();
    handshake(&mut server, &mut client).unwrap();
    assert!(!client.is_handshaking());

    let verifier = TrustListServerVerifier::new(vec![ctl], ServerRole::Capf, clock());
    let config = client_config(verifier, TlsVersions::default()).unwrap();
    let mut server = TlsServerTransport::new(server_tls).unwrap();
    let mut client = TlsClientTransport::new(config, "10.0.0.1").unwrap();
    let error = handshake(&mut server, &mut client).unwrap_err();
    assert_eq!(reason_of(&error), TrustFailureReason::WrongRole);
}

#[test]
fn phone_view_refuses_a_server_not_in_the_ctl() {
    let ca = root("Example CA");
    let listed = leaf(&LeafSpec::new("cucm.example.net"), &ca);
    let impostor = leaf(&LeafSpec::new("cucm.example.net"), &ca);
    let ctl = ctl_with(&listed.der, Role::CallManager);
    let server_tls = server_config(std::slice::from_ref(&impostor.der), &impostor.key_der).unwrap();
    let verifier = TrustListServerVerifier::new(vec![ctl], ServerRole::CallManager, clock());
    let config = client_config(verifier, TlsVersions::Tls12Only).unwrap();
    let mut server = TlsServerTransport::new(server_tls).unwrap();
    let mut client = TlsClientTransport::new(config, "cucm.example.net").unwrap();
    let error = handshake(&mut server, &mut client).unwrap_err();
    assert_eq!(reason_of(&error), TrustFailureReason::NotListed);
}

fn serve_with_client_check(
    stores: Vec<TrustStore>,
    mandatory: bool,
    client_credential: Option<&Leaf>,
) -> Result<(TlsServerTransport, TlsClientTransport), TlsError> {
    let ca = root("Provisioning CA");
    let server_leaf = leaf(&LeafSpec::new("provisioning.example.net"), &ca);
    let verifier = DeviceClientVerifier::new(stores, mandatory, clock());
    let server_tls = server_config_with_client_verifier(
        std::slice::from_ref(&server_leaf.der),
        &server_leaf.key_der,
        verifier,
        TlsVersions::default(),
    )
    .unwrap();
    let server_store =
        TrustStore::from_der_certificates(StoreKind::PemBundle, "provisioning-root.pem", [&ca.der])
            .unwrap();
    let server_check = TrustListServerVerifier::new(vec![server_store], ServerRole::Tftp, clock());
    let config = match client_credential {
        Some(credential) => client_config_with_certificate(
            server_check,
            std::slice::from_ref(&credential.der),
            &credential.key_der,
            TlsVersions::default(),
        )
        .unwrap(),
        None => client_config(server_check, TlsVersions::default()).unwrap(),
    };
    let mut server = TlsServerTransport::new(server_tls).unwrap();
    let mut client = TlsClientTransport::new(config, "provisioning.example.net").unwrap();
    // TLS 1.3: the client finishes before the server has judged its
    // certificate; the server's verdict arrives with its next flight.
    handshake(&mut server, &mut client)?;
    server.send_plaintext(b"hello phone")?;
    let bytes = server.take_tcp_output();
    client.receive_tcp(&bytes)?;
    Ok((server, client))
}

#[test]
fn server_accepts_an_lsc_issued_by_a_trusted_ca() {
    let capf = root("CAPF-2076a1a2");
    let lsc = leaf(&LeafSpec::new("SEP001122334455"), &capf);
    let stores = vec![
        TrustStore::from_der_certificates(
            StoreKind::CallManagerTrust,
            "CallManager-trust",
            [&capf.der],
        )
        .unwrap(),
    ];
    let (server, _client) = serve_with_client_check(stores, true, Some(&lsc)).unwrap();
    assert_eq!(server.peer_certificates().unwrap(), vec![lsc.der.clone()]);
}

#[test]
fn server_refuses_a_mic_when_only_lsc_issuers_are_trusted() {
    let capf = root("CAPF-2076a1a2");
    let chain = mic_chain("SEP001122334455");
    let stores = vec![
        TrustStore::from_der_certificates(
            StoreKind::CallManagerTrust,
            "CallManager-trust",
            [&capf.der],
        )
        .unwrap(),
    ];
    let error = serve_with_client_check(stores, true, Some(&chain.mic)).unwrap_err();
    assert_eq!(reason_of(&error), TrustFailureReason::UnknownIssuer);
}

#[test]
fn client_certificate_optional_or_mandatory() {
    let capf = root("CAPF-2076a1a2");
    let stores = vec![
        TrustStore::from_der_certificates(
            StoreKind::CallManagerTrust,
            "CallManager-trust",
            [&capf.der],
        )
        .unwrap(),
    ];
    let (server, _client) = serve_with_client_check(stores.clone(), false, None).unwrap();
    assert!(server.peer_certificates().is_none());
    let error = serve_with_client_check(stores, true, None).unwrap_err();
    assert!(
        matches!(
            error,
            TlsError::Protocol(rustls::Error::NoCertificatesPresented)
        ),
        "{error:?}"
    );
}

#[test]
fn verifiers_are_shareable() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let verifier = DeviceClientVerifier::new(Vec::new(), false, clock());
    assert_send_sync(&verifier);
    let _: Arc<dyn rustls::server::danger::ClientCertVerifier> = verifier;
}

/// 2030-01-01T00:00:00Z, the notAfter of the generated leaves.
const LEAF_NOT_AFTER: u64 = 1_893_456_000;

fn fixed(at: Timestamp) -> Arc<dyn TimeSource> {
    Arc::new(move || at)
}

fn rustls_time(at: Timestamp) -> rustls::pki_types::UnixTime {
    rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(at.unix_seconds()))
}

#[test]
fn roots_verifier_judges_dates_at_the_host_time_not_the_handshake_time() {
    use rustls::client::danger::ServerCertVerifier;
    let ca = root("Example CA");
    let server = leaf(&LeafSpec::new("capf.example.net"), &ca);
    let end_entity = rustls::pki_types::CertificateDer::from(server.der.as_slice());
    let name = rustls::pki_types::ServerName::try_from("capf.example.net").unwrap();
    let after = Timestamp::from_unix_seconds(LEAF_NOT_AFTER + 86_400);
    let inside = Timestamp::from_unix_seconds(LEAF_NOT_AFTER - 86_400);

    // rustls says "inside", the host says "after notAfter": Expired.
    let verifier = RootsVerifier::with_time_source(
        std::slice::from_ref(&ca.der),
        ServerRole::Capf,
        fixed(after),
    )
    .unwrap();
    let error = verifier
        .verify_server_cert(&end_entity, &[], &name, &[], rustls_time(inside))
        .unwrap_err();
    let failure = failure_of(&error).expect("an evaluator failure");
    assert_eq!(failure.reason, TrustFailureReason::Expired);
    assert!(failure.detail.contains("2030-01-01"), "{}", failure.detail);

    // And the other way round: the host's time inside, rustls' after.
    let verifier = RootsVerifier::with_time_source(
        std::slice::from_ref(&ca.der),
        ServerRole::Capf,
        fixed(inside),
    )
    .unwrap();
    assert!(
        verifier
            .verify_server_cert(&end_entity, &[], &name, &[], rustls_time(after))
            .is_ok()
    );
}

#[test]
fn client_verifier_judges_an_lsc_at_the_host_time_not_the_handshake_time() {
    use rustls::server::danger::ClientCertVerifier;
    let capf = root("CAPF-2076a1a2");
    let lsc = leaf(&LeafSpec::new("SEP001122334455"), &capf);
    let end_entity = rustls::pki_types::CertificateDer::from(lsc.der.as_slice());
    let store = || {
        vec![
            TrustStore::from_der_certificates(
                StoreKind::CallManagerTrust,
                "CallManager-trust",
                [&capf.der],
            )
            .unwrap(),
        ]
    };
    let after = Timestamp::from_unix_seconds(LEAF_NOT_AFTER + 86_400);
    let inside = Timestamp::from_unix_seconds(LEAF_NOT_AFTER - 86_400);

    let verifier = DeviceClientVerifier::new(store(), true, fixed(after));
    let error = verifier
        .verify_client_cert(&end_entity, &[], rustls_time(inside))
        .unwrap_err();
    assert_eq!(
        failure_of(&error).expect("an evaluator failure").reason,
        TrustFailureReason::Expired
    );

    let verifier = DeviceClientVerifier::new(store(), true, fixed(inside));
    assert!(
        verifier
            .verify_client_cert(&end_entity, &[], rustls_time(after))
            .is_ok()
    );
}

#[test]
fn roots_config_over_tls_accepts_inside_validity_and_refuses_after_with_the_reason() {
    let ca = root("Example CA");
    let server_leaf = leaf(&LeafSpec::new("tvs.example.net"), &ca);
    let server_tls =
        server_config(std::slice::from_ref(&server_leaf.der), &server_leaf.key_der).unwrap();
    let connect = |at: Timestamp, roots: &[Vec<u8>]| {
        let config = client_config_with_roots_at(roots, ServerRole::Tvs, fixed(at)).unwrap();
        let mut server = TlsServerTransport::new(server_tls.clone()).unwrap();
        let mut client = TlsClientTransport::new(config, "127.0.0.1").unwrap();
        handshake(&mut server, &mut client)
    };
    let roots = [ca.der.clone()];
    connect(NOW, &roots).unwrap();
    let error = connect(Timestamp::from_unix_seconds(LEAF_NOT_AFTER + 1), &roots).unwrap_err();
    assert_eq!(reason_of(&error), TrustFailureReason::Expired);
    let other = root("Another CA");
    let error = connect(NOW, &[other.der]).unwrap_err();
    assert_eq!(reason_of(&error), TrustFailureReason::UnknownIssuer);
}

#[test]
fn roots_config_accepts_the_self_signed_capf_certificate_as_its_own_anchor() {
    let capf = root("CAPF-2076a1a2");
    let server_tls = server_config(std::slice::from_ref(&capf.der), &capf.key_der).unwrap();
    let config = client_config_with_roots_at(
        std::slice::from_ref(&capf.der),
        ServerRole::Capf,
        fixed(NOW),
    )
    .unwrap();
    let mut server = TlsServerTransport::new(server_tls).unwrap();
    let mut client = TlsClientTransport::new(config, "127.0.0.1").unwrap();
    handshake(&mut server, &mut client).unwrap();
    assert_eq!(client.peer_certificates().unwrap(), vec![capf.der.clone()]);
}

/// The host clock of these tests: the fixed instant the test PKI is built
/// around.
fn clock() -> Arc<dyn capf_core::tls::TimeSource> {
    Arc::new(|| NOW)
}
