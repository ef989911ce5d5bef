//! The OpenSSL engine under `capf_core::connection::TlsConnection`: a TVS
//! query over TLS 1.0 with `AES128-SHA` (both sides OpenSSL), a rustls
//! client against the legacy server (modern suites still win), exactly one
//! application-data record per frame on TLS 1.0 CBC (no empty fragment, no
//! 1/n-1 split), and a refused handshake reported with OpenSSL's reason and
//! an alert for the peer. All in memory: the engine is sans-IO.

use capf_core::connection::{ConnectionOptions, ConnectionOutput, TlsConnection, TlsEngine};
use capf_core::time::Timestamp;
use capf_core::tls::TlsError;
use capf_core::tls::rustls::ProtocolVersion;
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientResult, TvsClientSession, TvsServerConfig,
    TvsServerDecision, TvsServerSession,
};
use capf_legacy_tls::{LegacyClientConfig, LegacyServerConfig, LegacyVersion, OpensslEngine};

const CERT: &str = include_str!("fixtures/capf-rsa2048.cert.pem");
const KEY: &str = include_str!("fixtures/capf-rsa2048.key.pem");

fn certificate() -> Vec<u8> {
    openssl::x509::X509::from_pem(CERT.as_bytes())
        .unwrap()
        .to_der()
        .unwrap()
}

fn key() -> Vec<u8> {
    openssl::pkey::PKey::private_key_from_pem(KEY.as_bytes())
        .unwrap()
        .private_key_to_pkcs8()
        .unwrap()
}

fn legacy_server() -> LegacyServerConfig {
    LegacyServerConfig::new(&[certificate()], &key()).unwrap()
}

/// A phone of the 7940G kind: TLS 1.0 and AES128-SHA only.
fn tls10_phone() -> LegacyClientConfig {
    LegacyClientConfig::new(
        &[certificate()],
        LegacyVersion::Tls10,
        LegacyVersion::Tls10,
        "AES128-SHA",
    )
    .unwrap()
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000)
}

/// Moves bytes between two bare engines until neither has any.
fn pump(a: &mut OpensslEngine, b: &mut OpensslEngine) -> (Vec<u8>, Vec<u8>) {
    let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let bytes = a.take_tcp_output();
        let moved = !bytes.is_empty();
        to_b.extend(b.receive_tcp(&bytes).unwrap());
        let back = b.take_tcp_output();
        if !moved && back.is_empty() {
            break;
        }
        to_a.extend(a.receive_tcp(&back).unwrap());
    }
    (to_a, to_b)
}

/// (content type, body length) of each TLS record in `bytes`.
fn records(mut bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 5, "truncated record header");
        let length = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        assert!(bytes.len() >= 5 + length, "truncated record");
        out.push((bytes[0], length));
        bytes = &bytes[5 + length..];
    }
    out
}

/// A TVS client and server over two connections; returns the client's
/// result and the server connection's transmitted chunks.
fn tvs_run<A: TlsEngine, B: TlsEngine>(
    server: &mut TlsConnection<TvsServerSession, A>,
    client: &mut TlsConnection<TvsClientSession, B>,
) -> TvsClientResult {
    for _ in 0..100 {
        while let Some(output) = server.poll_output() {
            match output {
                ConnectionOutput::Transmit(bytes) => client.handle_tcp_input(&bytes),
                ConnectionOutput::Need(TvsServerDecision::LookUpCertificate { .. }) => server
                    .session_mut()
                    .answer_lookup(Some(KnownCertificate::new(Vec::new(), 60)))
                    .unwrap(),
                ConnectionOutput::TlsFailed(error) => panic!("server TLS failed: {error}"),
                ConnectionOutput::Done(_) => {}
                other => panic!("unexpected server output {other:?}"),
            }
        }
        while let Some(output) = client.poll_output() {
            match output {
                ConnectionOutput::Transmit(bytes) => server.handle_tcp_input(&bytes),
                ConnectionOutput::Done(outcome) => return outcome.result,
                ConnectionOutput::TlsFailed(error) => panic!("client TLS failed: {error}"),
                other => panic!("unexpected client output {other:?}"),
            }
        }
    }
    panic!("the TVS run does not end");
}

fn tvs_client() -> TvsClientSession {
    TvsClientSession::new(
        TvsClientConfig::new(1, "CP-7960G-SEP001122334455", certificate()),
        now(),
    )
    .unwrap()
}

#[test]
fn tvs_query_over_tls10_aes128_sha() {
    let options = ConnectionOptions::default();
    let mut server = TlsConnection::with_engine(
        legacy_server().engine().unwrap(),
        TvsServerSession::new(TvsServerConfig::default(), now()),
        options,
        now(),
    );
    let mut client = TlsConnection::with_engine(
        tls10_phone().engine().unwrap(),
        tvs_client(),
        options,
        now(),
    );
    let result = tvs_run(&mut server, &mut client);
    assert!(
        matches!(result, TvsClientResult::Valid { .. }),
        "{result:?}"
    );
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_0));
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_0));
    // The client saw the server's certificate, leaf first.
    assert_eq!(client.peer_certificates().unwrap()[0], certificate());
    assert!(server.is_done() && client.is_done());
}

#[test]
fn a_rustls_client_gets_a_modern_suite_from_the_legacy_server() {
    let options = ConnectionOptions::default();
    let engine = legacy_server().engine().unwrap();
    let mut server = TlsConnection::with_engine(
        engine,
        TvsServerSession::new(TvsServerConfig::default(), now()),
        options,
        now(),
    );
    let pinned = capf_core::tls::client_config_pinned(&[certificate()]).unwrap();
    let mut client =
        TlsConnection::client(pinned, "tvs.invalid", tvs_client(), options, now()).unwrap();
    let result = tvs_run(&mut server, &mut client);
    assert!(
        matches!(result, TvsClientResult::Valid { .. }),
        "{result:?}"
    );
    // rustls offers TLS 1.3: the legacy listener does not downgrade it.
    assert_eq!(client.protocol_version(), Some(ProtocolVersion::TLSv1_3));
}

#[test]
fn a_tls12_client_is_given_ecdhe_with_aes_gcm_before_the_old_suites() {
    let client = LegacyClientConfig::new(
        &[certificate()],
        LegacyVersion::Tls12,
        LegacyVersion::Tls12,
        "AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256",
    )
    .unwrap();
    let mut server = legacy_server().engine().unwrap();
    let mut phone = client.engine().unwrap();
    pump(&mut phone, &mut server);
    assert!(!server.is_handshaking());
    assert_eq!(server.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    // The server's order wins over the client's.
    assert_eq!(server.cipher_name(), Some("ECDHE-RSA-AES128-GCM-SHA256"));
}

#[test]
fn each_frame_is_exactly_one_record_on_tls10_cbc() {
    let mut server = legacy_server().engine().unwrap();
    let mut phone = tls10_phone().engine().unwrap();
    // Two frames given before the handshake completes are held, then
    // still sent as one record each.
    server.send_plaintext(&[1_u8; 12]).unwrap();
    server.send_plaintext(&[2_u8; 300]).unwrap();
    let mut received = Vec::new();
    let mut held_records = Vec::new();
    for _ in 0..10 {
        let bytes = phone.take_tcp_output();
        server.receive_tcp(&bytes).unwrap();
        let reply = server.take_tcp_output();
        if !server.is_handshaking() && held_records.is_empty() {
            held_records = records(&reply)
                .into_iter()
                .filter(|(kind, _)| *kind == 23)
                .collect();
        }
        received.extend(phone.receive_tcp(&reply).unwrap());
    }
    assert_eq!(server.cipher_name(), Some("AES128-SHA"));
    assert_eq!(held_records.len(), 2, "{held_records:?}");
    let mut expected = vec![1_u8; 12];
    expected.extend([2_u8; 300]);
    assert_eq!(received, expected);

    // After the handshake: each send is one application-data record whose
    // body is the frame CBC-padded to 16 bytes (at least one padding byte;
    // no explicit IV in TLS 1.0), then HMAC-SHA1 (20): both OpenSSL ends
    // negotiate encrypt-then-MAC (RFC 7366). A phone without it gets
    // MAC-then-encrypt, still one record.
    for size in [1_usize, 15, 16, 300, 4_000, 16_000] {
        let frame = vec![0x5A_u8; size];
        server.send_plaintext(&frame).unwrap();
        let bytes = server.take_tcp_output();
        let found = records(&bytes);
        let expected_length = (size / 16 + 1) * 16 + 20;
        assert_eq!(found, vec![(23, expected_length)], "frame of {size} bytes");
        assert_eq!(phone.receive_tcp(&bytes).unwrap(), frame);
    }
    // close_notify: one alert record (2 bytes, padded, MAC); the phone
    // sees the close.
    server.send_close_notify();
    let bytes = server.take_tcp_output();
    assert_eq!(records(&bytes), vec![(21, 36)]);
    assert!(phone.receive_tcp(&bytes).unwrap().is_empty());
    assert!(phone.peer_closed());
    assert!(phone.tcp_closed().is_ok());
    assert!(matches!(
        server.send_plaintext(b"late"),
        Err(TlsError::Closed)
    ));
}

#[test]
fn rsa_key_exchange_needs_an_rsa_certificate_and_the_refusal_is_readable() {
    // The capf-core fixture issuer is EC P-256: AES128-SHA is impossible.
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../capf-core/tests/fixtures"
    );
    let cert = std::fs::read(format!("{fixtures}/issuer-ec-p256.cert.pem")).unwrap();
    let key = std::fs::read(format!("{fixtures}/issuer-ec-p256.key.pem")).unwrap();
    let cert = openssl::x509::X509::from_pem(&cert)
        .unwrap()
        .to_der()
        .unwrap();
    let key = openssl::pkey::PKey::private_key_from_pem(&key)
        .unwrap()
        .private_key_to_pkcs8()
        .unwrap();
    let server = LegacyServerConfig::new(&[cert], &key).unwrap();
    let mut server = server.engine().unwrap();
    let mut phone = tls10_phone().engine().unwrap();
    let hello = phone.take_tcp_output();
    let error = server.receive_tcp(&hello).unwrap_err();
    assert!(error.to_string().contains("no shared cipher"), "{error}");
    // An alert record for the phone, then the engine stays failed.
    let alert = server.take_tcp_output();
    assert_eq!(records(&alert).first().map(|r| r.0), Some(21));
    assert!(matches!(server.receive_tcp(b"more"), Err(TlsError::Failed)));
    assert!(phone.receive_tcp(&alert).is_err());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(matches!(
        LegacyServerConfig::new(&[], &key()),
        Err(capf_legacy_tls::LegacyError::NoCertificates)
    ));
    assert!(matches!(
        LegacyServerConfig::new(&[b"not a certificate".to_vec()], &key()),
        Err(capf_legacy_tls::LegacyError::InvalidCertificate { index: 0, .. })
    ));
    assert!(matches!(
        LegacyServerConfig::new(&[certificate()], b"not a key"),
        Err(capf_legacy_tls::LegacyError::InvalidPrivateKey)
    ));
    // Garbage instead of a ClientHello: a TLS failure, then Failed.
    let mut server = legacy_server().engine().unwrap();
    let error = server
        .receive_tcp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_err();
    assert!(matches!(error, TlsError::Engine(_)), "{error:?}");
    // A truncated stream without close_notify is reported as such.
    let mut server = legacy_server().engine().unwrap();
    assert!(matches!(server.tcp_closed(), Err(TlsError::Truncated)));
}

#[test]
fn every_old_version_with_each_old_suite_handshakes() {
    let cases = [
        (LegacyVersion::Tls10, ProtocolVersion::TLSv1_0),
        (LegacyVersion::Tls11, ProtocolVersion::TLSv1_1),
        (LegacyVersion::Tls12, ProtocolVersion::TLSv1_2),
    ];
    for (version, expected) in cases {
        for suite in ["AES128-SHA", "AES256-SHA"] {
            let client =
                LegacyClientConfig::new(&[certificate()], version, version, suite).unwrap();
            let mut server = legacy_server().engine().unwrap();
            let mut phone = client.engine().unwrap();
            phone.send_plaintext(b"frame").unwrap();
            let (_, to_server) = pump(&mut phone, &mut server);
            assert_eq!(to_server, b"frame", "{version:?} {suite}");
            assert_eq!(server.protocol_version(), Some(expected), "{suite}");
            assert_eq!(server.cipher_name(), Some(suite), "{version:?}");
        }
    }
}
