//! A phone enrolling end to end, every piece from its own crate and
//! nothing mocked: capf-core's phone session against its server session
//! over its in-memory TLS transports; the phone trusts the CAPF server
//! through a CTL built and signed by ctl-format (its CAPF record), as a
//! phone does; the server checks an authentication string against the
//! production hash and issues a real LSC with the recorded CAPF key; the
//! LSC is then judged by the trust evaluator and used to authenticate a
//! re-enrolment, and refused once revoked.

mod common;

use capf_core::capf::codec::{Curve, Reason};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, CertificateCredentials, CertificatePrecedence, PhoneConfig, PhoneCredentials,
    PhoneDecision, PhoneOutcome, PhoneSession, ProofCredential, SoftwareSigner,
};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::capf::server::{
    AuthFailure, AuthMode, AuthStringHash, CertificatePreference, DeviceRecord, Operation,
    ServerConfig, ServerSession, SessionResult,
};
use capf_core::issuance::LscIssuer;
use capf_core::tls::{
    TlsClientTransport, TlsServerTransport, TlsVersions, client_config, server_config,
};
use capf_core::trust::verifiers::TrustListServerVerifier;
use capf_core::trust::{
    CapfCredential, Purpose, Revocations, ServerRole, StoreKind, TrustStore, evaluate,
};
use common::{NOW, ServerHost, certificate_der, key_pem, private_key_der};
use ctl_format::trust_list::{RecordEntry, Role, TrustList, TrustListBuilder, TrustListKind};
use ctl_format::{Certificate, HashPolicy, RsaFileSigner};
use der::{Decode, Encode};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
use rand::SeedableRng;
use std::sync::Arc;

const DEVICE: &str = "SEP001122334455";

/// A phone that makes EC P-256 keys from a seeded generator and keeps
/// the LSC it is given, with its key.
struct Phone {
    rng: rand::rngs::StdRng,
    key: Option<p256::SecretKey>,
    lsc: Option<Vec<u8>>,
    /// Signs the proofs of certificate authentication (the LSC's key).
    signer: Option<SoftwareSigner>,
}

impl Phone {
    fn new(seed: u64) -> Self {
        Self {
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            key: None,
            lsc: None,
            signer: None,
        }
    }

    /// The key's SubjectPublicKeyInfo, DER.
    fn spki(&self) -> Vec<u8> {
        let key = self.key.as_ref().expect("no key generated");
        key.public_key().to_public_key_der().unwrap().into_vec()
    }

    /// The LSC as a credential for certificate authentication; its key
    /// goes to the phone's signer, which answers the proof decisions.
    fn lsc_credential(&mut self) -> Vec<u8> {
        let pkcs8 = self.key.as_ref().unwrap().to_pkcs8_der().unwrap();
        let key = ProofPrivateKey::from_pkcs8_der(pkcs8.as_bytes()).unwrap();
        let lsc = self.lsc.clone().unwrap();
        let signer = SoftwareSigner::new(Box::new(rand::rngs::StdRng::seed_from_u64(11)))
            .with_key(ProofCredential::Lsc, &lsc, Box::new(key))
            .unwrap();
        self.signer = Some(signer);
        lsc
    }
}

impl common::PhoneHost for Phone {
    fn decide(&mut self, phone: &mut PhoneSession, decision: PhoneDecision) {
        match decision {
            PhoneDecision::GenerateKey(KeyRequest::Ec(Curve::P256)) => {
                self.key = Some(p256::SecretKey::random(&mut self.rng));
                phone.answer_key(self.spki()).unwrap();
            }
            PhoneDecision::StoreCertificate { certificate_der } => {
                self.lsc = Some(certificate_der);
                phone.answer_store().unwrap();
            }
            decision @ PhoneDecision::SignProof { .. } => {
                let signer = self
                    .signer
                    .as_mut()
                    .expect("a proof asked of a phone without a signer");
                assert!(signer.answer(phone, &decision).unwrap());
            }
            other => panic!("the phone was not asked for {other:?}"),
        }
    }
}

/// A CTL signed by the SAST vector key listing it as SAST and `capf` (a
/// vector key name) with role CAPF, built by ctl-format, parsed back and
/// turned into the phone's trust for the CAPF server.
fn phone_trust_from_ctl(capf: &str) -> Arc<capf_core::tls::rustls::ClientConfig> {
    let sast_pem = key_pem("sast.pem");
    let sast = Certificate::from_pem(&sast_pem).unwrap();
    let signer = RsaFileSigner::from_pem(&sast_pem).unwrap();
    let listed = Certificate::from_pem(&key_pem(capf)).unwrap();
    let bytes = TrustListBuilder::new(TrustListKind::Ctl, sast.clone(), &signer, 1_798_000_000)
        .records([
            RecordEntry::new(sast, Role::Sast),
            RecordEntry::new(listed, Role::Capf),
        ])
        .build()
        .unwrap();
    let list = TrustList::parse(&bytes).unwrap();
    list.verify(&bytes, HashPolicy::CISCO).unwrap();
    let store = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list).unwrap();
    let verifier = TrustListServerVerifier::new(vec![store], ServerRole::Capf, Arc::new(|| NOW));
    client_config(verifier, TlsVersions::default()).unwrap()
}

/// TLS for the CAPF server, presenting the vector key `name`.
fn tls_server(name: &str) -> TlsServerTransport {
    let config = server_config(&[certificate_der(name)], &private_key_der(name)).unwrap();
    TlsServerTransport::new(config).unwrap()
}

/// What one session left: both outcomes, and what the server host issued
/// and recorded as pending.
struct Session {
    ended: common::Ended,
    issued: Vec<Vec<u8>>,
    recorded: Vec<Vec<u8>>,
}

/// One session: `phone_credentials` against a server whose registry holds
/// `record`, the CAPF server presenting `capf.pem`, the phone trusting the
/// CAPF record `trusted` of a CTL.
fn session(
    phone: &mut Phone,
    phone_credentials: PhoneCredentials,
    record: DeviceRecord,
    config: ServerConfig,
    issuer: &LscIssuer,
    trusted: &str,
) -> Result<Session, capf_core::tls::TlsError> {
    let mut host = ServerHost {
        record: Some(record),
        issuer,
        rng: rand::rngs::StdRng::seed_from_u64(7),
        issued: Vec::new(),
        recorded: Vec::new(),
    };
    let mut server = ServerSession::new(config, NOW);
    let mut tls = tls_server("capf.pem");
    let mut client =
        TlsClientTransport::new(phone_trust_from_ctl(trusted), "capf.invalid").unwrap();
    let mut session = PhoneSession::new(PhoneConfig::new(DEVICE, phone_credentials).unwrap(), NOW);
    let ended = common::run(
        &mut session,
        phone,
        &mut client,
        &mut server,
        &mut host,
        &mut tls,
    )?;
    Ok(Session {
        ended,
        issued: host.issued,
        recorded: host.recorded,
    })
}

fn capf_issuer() -> LscIssuer {
    LscIssuer::new(&certificate_der("capf.pem"), &private_key_der("capf.pem")).unwrap()
}

/// The device scheduled for an EC P-256 install, authenticated by the
/// string `digits` hashed the production way.
fn install_with_auth_string(digits: &str) -> DeviceRecord {
    let hash = AuthStringHash::new(
        digits,
        b"a salt of 16 byt",
        AuthStringHash::RECOMMENDED_ITERATIONS,
    )
    .unwrap();
    DeviceRecord::new(
        DEVICE,
        Operation::Install(KeyRequest::Ec(Curve::P256)),
        AuthMode::AuthString(hash),
    )
}

fn auth_string(digits: &str) -> PhoneCredentials {
    PhoneCredentials::AuthString(AuthString::new(digits).unwrap())
}

/// The subject common name and the SubjectPublicKeyInfo of a certificate,
/// read with x509-cert (not the issuer's code).
fn subject_and_key(der: &[u8]) -> (String, Vec<u8>, Vec<u8>) {
    let certificate = x509_cert::Certificate::from_der(der).unwrap();
    let tbs = &certificate.tbs_certificate;
    (
        tbs.subject.to_string(),
        tbs.subject_public_key_info.to_der().unwrap(),
        tbs.issuer.to_der().unwrap(),
    )
}

fn capf_subject_der() -> Vec<u8> {
    let capf = x509_cert::Certificate::from_der(&certificate_der("capf.pem")).unwrap();
    capf.tbs_certificate.subject.to_der().unwrap()
}

/// A CAPF-trust store holding the CAPF certificate (Unified CM's store of
/// issuers accepted for LSC authentication).
fn capf_trust(name: &str) -> TrustStore {
    let mut store = TrustStore::new(StoreKind::CapfTrust, "capf-trust");
    store.add_certificate(&certificate_der(name), &[]).unwrap();
    store
}

fn lsc_purpose() -> Purpose {
    Purpose::CapfAuthentication {
        credential: CapfCredential::Lsc,
        device: Some(DEVICE.to_owned()),
    }
}

#[test]
fn auth_string_install_over_tls_then_lsc_re_enrolment_until_revoked() {
    let issuer = capf_issuer();
    let mut phone = Phone::new(0x5eed);

    // A wrong string: END_SESSION 7, no key asked for, nothing issued.
    let refused = session(
        &mut phone,
        auth_string("246801"),
        install_with_auth_string("135790"),
        ServerConfig::new(0x0102_0304),
        &issuer,
        "capf.pem",
    )
    .unwrap();
    assert_eq!(
        refused.ended.server.result,
        SessionResult::AuthenticationFailed(AuthFailure::WrongAuthString)
    );
    assert_eq!(refused.ended.server.end_reason, Some(Reason::Failure));
    assert!(
        matches!(
            refused.ended.phone,
            PhoneOutcome::Refused {
                reason: Reason::Failure
            }
        ),
        "{:?}",
        refused.ended.phone
    );
    assert!(phone.key.is_none() && refused.issued.is_empty());

    // The right string: the LSC is recorded before it is sent, and the
    // phone stores exactly what was issued.
    let installed = session(
        &mut phone,
        auth_string("135790"),
        install_with_auth_string("135790"),
        ServerConfig::new(0x0102_0305),
        &issuer,
        "capf.pem",
    )
    .unwrap();
    assert_eq!(installed.ended.server.end_reason, Some(Reason::Success));
    let lsc = phone.lsc.clone().expect("the phone stored an LSC");
    assert_eq!(installed.issued, std::slice::from_ref(&lsc));
    assert_eq!(installed.recorded, std::slice::from_ref(&lsc));
    assert!(matches!(
        &installed.ended.server.result,
        SessionResult::Installed { certificate_der } if *certificate_der == lsc
    ));
    assert!(matches!(
        &installed.ended.phone,
        PhoneOutcome::Installed { certificate_der } if *certificate_der == lsc
    ));
    // Read independently: the phone's own key, its name, the CAPF issuer.
    let (subject, spki, issuer_name) = subject_and_key(&lsc);
    assert_eq!(spki, phone.spki());
    assert!(subject.contains(DEVICE), "{subject}");
    assert_eq!(issuer_name, capf_subject_der());

    // The trust evaluator: trusted for LSC authentication under the CAPF
    // certificate, through it as the anchor; not under another CA.
    let verdict = evaluate(&[&lsc], &lsc_purpose(), &[capf_trust("capf.pem")], NOW);
    assert!(verdict.trusted, "{verdict:?}");
    let stranger = evaluate(&[&lsc], &lsc_purpose(), &[capf_trust("tvs.pem")], NOW);
    assert!(
        !stranger.trusted && stranger.failure.is_some(),
        "{stranger:?}"
    );
    // Nor for another device.
    let other_device = Purpose::CapfAuthentication {
        credential: CapfCredential::Lsc,
        device: Some("SEP00000000BEEF".to_owned()),
    };
    let verdict = evaluate(&[&lsc], &other_device, &[capf_trust("capf.pem")], NOW);
    assert!(!verdict.trusted, "{verdict:?}");

    // Re-enrolment authenticated by that LSC: a new key, a new LSC.
    let by_lsc = DeviceRecord::new(
        DEVICE,
        Operation::Install(KeyRequest::Ec(Curve::P256)),
        AuthMode::ExistingCertificate {
            prefer: CertificatePreference::Lsc,
        },
    );
    let mut config = ServerConfig::new(0x0102_0306);
    config.certificate_policy.lsc_issuers = vec![certificate_der("capf.pem")];
    let credentials = |phone: &mut Phone| {
        PhoneCredentials::Certificate(
            CertificateCredentials::new(CertificatePrecedence::LscFirst)
                .with_lsc(phone.lsc_credential())
                .unwrap(),
        )
    };
    let first_credentials = credentials(&mut phone);
    let renewed = session(
        &mut phone,
        first_credentials,
        by_lsc.clone(),
        config.clone(),
        &issuer,
        "capf.pem",
    )
    .unwrap();
    assert_eq!(renewed.ended.server.end_reason, Some(Reason::Success));
    let second = phone.lsc.clone().unwrap();
    assert_ne!(second, lsc);
    assert_eq!(subject_and_key(&second).1, phone.spki());
    assert!(
        renewed
            .ended
            .server
            .certificate_authentication
            .as_ref()
            .is_some_and(|auth| auth.kind == capf_core::capf::server::CertificateKind::Lsc),
        "{:?}",
        renewed.ended.server
    );

    // The same re-enrolment once the second LSC is revoked: refused, no
    // key asked for, nothing issued.
    let mut revoked = config.clone();
    let mut revocations = Revocations::new();
    revocations.revoke_certificate(&second).unwrap();
    revoked.certificate_policy.revocations = revocations;
    let before = phone.key.clone();
    let third_credentials = credentials(&mut phone);
    let refused = session(
        &mut phone,
        third_credentials,
        by_lsc,
        revoked,
        &issuer,
        "capf.pem",
    )
    .unwrap();
    assert_eq!(refused.ended.server.end_reason, Some(Reason::Failure));
    assert!(
        matches!(
            &refused.ended.server.result,
            SessionResult::AuthenticationFailed(AuthFailure::Certificate(_))
        ),
        "{:?}",
        refused.ended.server.result
    );
    assert!(refused.issued.is_empty());
    assert_eq!(phone.key, before);
}

#[test]
fn a_phone_trusting_another_capf_record_refuses_the_server_and_sends_nothing() {
    let issuer = capf_issuer();
    let mut phone = Phone::new(1);
    // The CTL's CAPF record is the TVS vector certificate, not the one the
    // server presents: the TLS handshake fails before any CAPF frame.
    let failed = session(
        &mut phone,
        auth_string("135790"),
        install_with_auth_string("135790"),
        ServerConfig::new(9),
        &issuer,
        "tvs.pem",
    );
    let error = failed.err().expect("the handshake must fail");
    let reason = match &error {
        capf_core::tls::TlsError::Protocol(inner) => {
            capf_core::trust::verifiers::failure_of(inner).map(|failure| failure.to_string())
        }
        _ => None,
    };
    let reason = reason.unwrap_or_else(|| panic!("not the evaluator's refusal: {error}"));
    assert!(reason.contains("not in the CTL"), "{reason}");
    assert!(phone.key.is_none() && phone.lsc.is_none());
}
