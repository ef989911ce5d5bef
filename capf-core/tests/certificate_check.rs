//! The CAPF server's certificate check on the trust evaluator: what the old
//! hand-written chain check could not judge (pathLenConstraint, a non-CA
//! intermediate, keyUsage, SHA-1 only on the MIC path, the chain length as
//! the path limit, revocation, enterprise LSC issuers), first through
//! `check_certificate`, then end to end through a server session driven
//! by the phone session in memory (END_SESSION 7 for every refusal).
//!
//! Certificates are real: generated keys (P-256, RSA-2048 where SHA-1 or
//! SUDI needs RSA), rcgen certificates, SHA-1 signatures made with the
//! `rsa` crate over the exact `tbsCertificate` (rcgen cannot sign SHA-1).

mod seeded;

use capf_core::capf::codec::Reason;
use capf_core::capf::phone::{
    CertificateCredentials, CertificatePrecedence, PhoneConfig, PhoneCredentials, PhoneDecision,
    PhoneOutcome, PhoneOutput, PhoneSession, ProofCredential, SoftwareSigner,
};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::capf::server::{
    AuthFailure, AuthMode, CertificateCheckError, CertificateKind, CertificatePolicy,
    CertificatePreference, CertificatePurpose, CertificateVerdict, DeviceRecord, Operation,
    ServerConfig, ServerDecision, ServerOutcome, ServerOutput, ServerSession, SessionResult,
    check_certificate,
};
use capf_core::time::Timestamp;
use capf_core::trust::Revocations;
use der::{Decode, Encode};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber, date_time_ymd,
};
use rsa::RsaPrivateKey;
use sha2::Digest;

const DEVICE: &str = "SEP001122334455";
/// 2025-01-01T00:00:00Z.
const NOW: Timestamp = Timestamp::from_unix_seconds(1_735_689_600);
const AUTH: CertificatePurpose = CertificatePurpose::Authentication;
const SUDI: CertificatePurpose = CertificatePurpose::Sudi;

/// A CA certificate with the key and parameters to issue from it.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

/// The next P-256 key of this test (seeded: the same on every run).
fn p256() -> KeyPair {
    seeded::p256_key()
}

/// An RSA-2048 key, as the `rsa` crate's key (to sign SHA-1) and as rcgen's.
fn rsa_2048() -> (RsaPrivateKey, KeyPair) {
    seeded::rsa_key_pair(2048)
}

fn ca_params(cn: &str, constraints: BasicConstraints) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    params
}

fn root_with_key(cn: &str, key: KeyPair) -> Ca {
    let params = ca_params(cn, BasicConstraints::Unconstrained);
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca {
        der,
        issuer: Issuer::new(params, key),
    }
}

fn root(cn: &str) -> Ca {
    root_with_key(cn, p256())
}

/// A sub-CA issued by `parent`, shaped by `edit`.
fn sub_ca(cn: &str, parent: &Ca, edit: impl FnOnce(&mut CertificateParams)) -> Ca {
    let key = p256();
    let mut params = ca_params(cn, BasicConstraints::Unconstrained);
    edit(&mut params);
    let der = params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec();
    Ca {
        der,
        issuer: Issuer::new(params, key),
    }
}

fn intermediate(cn: &str, parent: &Ca) -> Ca {
    sub_ca(cn, parent, |_| {})
}

/// The parameters of a phone certificate with CN `cn`: CA:FALSE,
/// digitalSignature + keyEncipherment, current at NOW.
fn device_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2034, 1, 1);
    params.serial_number = Some(SerialNumber::from(0x4d49_u64));
    params
}

/// A certificate for `key` from `params`, issued by `parent`.
fn issue(params: &CertificateParams, key: &KeyPair, parent: &Ca) -> Vec<u8> {
    params
        .signed_by(key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec()
}

/// A MIC for DEVICE (CN `CP-8845-SEP...`) with a fresh P-256 key.
fn mic(parent: &Ca) -> Vec<u8> {
    issue(
        &device_params(&format!("CP-8845-{DEVICE}")),
        &p256(),
        parent,
    )
}

/// An LSC for DEVICE (CN and SAN URI = device name) with a fresh key.
fn lsc_params() -> CertificateParams {
    let mut params = device_params(DEVICE);
    params.subject_alt_names = vec![SanType::URI(DEVICE.try_into().unwrap())];
    params
}

fn lsc(parent: &Ca) -> Vec<u8> {
    issue(&lsc_params(), &p256(), parent)
}

/// `der` signed again by `issuer_key` with sha1WithRSAEncryption (both
/// algorithm identifiers set, signature over the new tbsCertificate).
fn resign_sha1(der: &[u8], issuer_key: &RsaPrivateKey) -> Vec<u8> {
    let mut certificate = x509_cert::Certificate::from_der(der).unwrap();
    let sha1_rsa = spki::AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        parameters: Some(der::asn1::Null.into()),
    };
    certificate.tbs_certificate.signature = sha1_rsa.clone();
    certificate.signature_algorithm = sha1_rsa;
    let tbs = certificate.tbs_certificate.to_der().unwrap();
    let signature = issuer_key
        .sign(
            rsa::Pkcs1v15Sign::new::<sha1::Sha1>(),
            &sha1::Sha1::digest(&tbs),
        )
        .unwrap();
    certificate.signature = der::asn1::BitString::from_bytes(&signature).unwrap();
    certificate.to_der().unwrap()
}

fn mic_policy(root: &Ca, intermediates: &[&Ca]) -> CertificatePolicy {
    let mut policy = CertificatePolicy::default();
    policy.manufacturing_roots = vec![root.der.clone()];
    policy.intermediates = intermediates.iter().map(|ca| ca.der.clone()).collect();
    policy
}

fn lsc_policy(issuers: &[&Ca]) -> CertificatePolicy {
    let mut policy = CertificatePolicy::default();
    policy.lsc_issuers = issuers.iter().map(|ca| ca.der.clone()).collect();
    policy
}

fn check(
    policy: &CertificatePolicy,
    der: &[u8],
    purpose: CertificatePurpose,
) -> Result<CertificateVerdict, CertificateCheckError> {
    check_certificate(policy, der, DEVICE, NOW, purpose)
}

fn kind(result: Result<CertificateVerdict, CertificateCheckError>) -> CertificateKind {
    result.unwrap().kind
}

#[test]
fn path_len_zero_allows_no_second_intermediate() {
    let root = root("Maker Root");
    let constrained = sub_ca("Maker Policy CA", &root, |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let issuing = intermediate("Maker Manufacturing CA", &constrained);
    let device = mic(&issuing);
    let mut policy = mic_policy(&root, &[&constrained, &issuing]);
    policy.max_chain_depth = 5; // the length alone would be fine
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::ChainTooLong)
    );

    // The same shape with pathLen 1 is accepted: the constraint decided.
    let relaxed = sub_ca("Maker Policy CA", &root, |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    });
    let issuing = intermediate("Maker Manufacturing CA", &relaxed);
    let device = mic(&issuing);
    let mut policy = mic_policy(&root, &[&relaxed, &issuing]);
    policy.max_chain_depth = 5;
    assert_eq!(kind(check(&policy, &device, AUTH)), CertificateKind::Mic);
    // pathLen 0 on the issuing CA itself still allows it to issue the MIC.
    let issuing_zero = sub_ca("Maker Manufacturing CA", &root, |params| {
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let device = mic(&issuing_zero);
    let policy = mic_policy(&root, &[&issuing_zero]);
    assert_eq!(kind(check(&policy, &device, AUTH)), CertificateKind::Mic);
}

#[test]
fn an_intermediate_that_is_not_a_ca_cannot_issue() {
    let root = root("Maker Root");
    // CA:FALSE explicitly, and no basicConstraints at all: neither is a CA.
    for is_ca in [IsCa::ExplicitNoCa, IsCa::NoCa] {
        let not_ca = sub_ca("Maker Manufacturing CA", &root, |params| {
            params.is_ca = is_ca;
        });
        let device = mic(&not_ca);
        assert_eq!(
            check(&mic_policy(&root, &[&not_ca]), &device, AUTH),
            Err(CertificateCheckError::WrongKeyUsage),
            "{is_ca:?}"
        );
    }
    // The CAPF certificate itself (a CA) presented as a device's.
    let capf = self::root("CAPF-TEST");
    let mut policy = lsc_policy(&[&capf]);
    policy.skip_name_binding = true;
    assert_eq!(
        check(&policy, &capf.der, AUTH),
        Err(CertificateCheckError::IsCa)
    );
}

#[test]
fn key_usage_must_allow_digital_signature() {
    let root = root("Maker Root");
    let capf = self::root("CAPF-TEST");
    let mut policy = mic_policy(&root, &[]);
    policy.lsc_issuers = vec![capf.der.clone()];

    let mut encipher_only = device_params(&format!("CP-8845-{DEVICE}"));
    encipher_only.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let bad_mic = issue(&encipher_only, &p256(), &root);
    assert_eq!(
        check(&policy, &bad_mic, AUTH),
        Err(CertificateCheckError::WrongKeyUsage)
    );
    assert_eq!(
        check(&policy, &bad_mic, SUDI),
        Err(CertificateCheckError::WrongKeyUsage)
    );

    let mut bad_lsc_params = lsc_params();
    bad_lsc_params.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let bad_lsc = issue(&bad_lsc_params, &p256(), &capf);
    assert_eq!(
        check(&policy, &bad_lsc, AUTH),
        Err(CertificateCheckError::WrongKeyUsage)
    );

    // digitalSignature alone, or no keyUsage extension at all, is enough.
    let mut sign_only = lsc_params();
    sign_only.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let good = issue(&sign_only, &p256(), &capf);
    assert_eq!(kind(check(&policy, &good, AUTH)), CertificateKind::Lsc);
    let mut no_usage = device_params(&format!("CP-8845-{DEVICE}"));
    no_usage.key_usages = Vec::new();
    let good = issue(&no_usage, &p256(), &root);
    assert_eq!(kind(check(&policy, &good, AUTH)), CertificateKind::Mic);
}

/// Old Cisco manufacturing hierarchy: an RSA-2048 root signs the
/// manufacturing CA with SHA-1, which signs the MIC with SHA-1 too.
struct Sha1Hierarchy {
    root: Ca,
    manufacturing: Vec<u8>,
    mic: Vec<u8>,
    mic_key: KeyPair,
}

fn sha1_hierarchy() -> Sha1Hierarchy {
    let (root_rsa, root_key) = rsa_2048();
    let root = root_with_key("Cisco Root CA 2048", root_key);
    let (manufacturing_rsa, manufacturing_key) = rsa_2048();
    let params = ca_params("Cisco Manufacturing CA", BasicConstraints::Unconstrained);
    let manufacturing_sha256 = params
        .signed_by(&manufacturing_key, &root.issuer)
        .unwrap()
        .der()
        .to_vec();
    let manufacturing = resign_sha1(&manufacturing_sha256, &root_rsa);
    let manufacturing_ca = Ca {
        der: manufacturing.clone(),
        issuer: Issuer::new(params, manufacturing_key),
    };
    let (_, mic_key) = rsa_2048();
    let mic_sha256 = issue(
        &device_params(&format!("CP-7975-{DEVICE}")),
        &mic_key,
        &manufacturing_ca,
    );
    let mic = resign_sha1(&mic_sha256, &manufacturing_rsa);
    Sha1Hierarchy {
        root,
        manufacturing,
        mic,
        mic_key,
    }
}

#[test]
fn sha1_mic_chain_is_accepted_for_mic_authentication_and_sudi() {
    let hierarchy = sha1_hierarchy();
    let mut policy = CertificatePolicy::default();
    policy.manufacturing_roots = vec![hierarchy.root.der.clone()];
    policy.intermediates = vec![hierarchy.manufacturing.clone()];
    let verdict = check(&policy, &hierarchy.mic, AUTH).unwrap();
    assert_eq!(verdict.kind, CertificateKind::Mic);
    assert!(!verdict.expired_mic_accepted);
    assert_eq!(
        kind(check(&policy, &hierarchy.mic, SUDI)),
        CertificateKind::Mic
    );

    // A flipped bit in the SHA-1 signature of the MIC is no path.
    let mut tampered = hierarchy.mic.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let refusal = check(&policy, &tampered, AUTH).unwrap_err();
    assert!(
        matches!(refusal, CertificateCheckError::SignatureInvalid(_)),
        "{refusal:?}"
    );
    assert_eq!(
        refusal.to_string(),
        "a signature in the chain of CN=CP-7975-SEP001122334455 does not verify under its issuer (the leaf's issuer is CN=Cisco Manufacturing CA)"
    );
}

#[test]
fn sha1_signed_lsc_is_refused() {
    let (capf_rsa, capf_key) = rsa_2048();
    let capf = root_with_key("CAPF-TEST", capf_key);
    let sha256_lsc = lsc(&capf);
    let sha1_lsc = resign_sha1(&sha256_lsc, &capf_rsa);
    let mut policy = lsc_policy(&[&capf]);
    assert_eq!(
        kind(check(&policy, &sha256_lsc, AUTH)),
        CertificateKind::Lsc
    );
    assert_eq!(
        check(&policy, &sha1_lsc, AUTH),
        Err(CertificateCheckError::UnsupportedAlgorithm)
    );
    // No relaxation lets SHA-1 through on the LSC path.
    policy.skip_validity = true;
    policy.skip_name_binding = true;
    policy.max_chain_depth = 8;
    assert_eq!(
        check(&policy, &sha1_lsc, AUTH),
        Err(CertificateCheckError::UnsupportedAlgorithm)
    );
}

#[test]
fn chain_longer_than_max_chain_depth_is_refused() {
    let root = root("Maker Root");
    let first = intermediate("Maker Policy CA", &root);
    let second = intermediate("Maker Regional CA", &first);
    let third = intermediate("Maker Manufacturing CA", &second);

    // Four certificates (two intermediates): the default limit.
    let four = mic(&second);
    let policy = mic_policy(&root, &[&first, &second, &third]);
    assert_eq!(policy.max_chain_depth, 4);
    assert_eq!(kind(check(&policy, &four, AUTH)), CertificateKind::Mic);

    // Five certificates: refused by default, accepted at depth 5.
    let five = mic(&third);
    assert_eq!(
        check(&policy, &five, AUTH),
        Err(CertificateCheckError::ChainTooLong)
    );
    let mut deeper = policy.clone();
    deeper.max_chain_depth = 5;
    assert_eq!(kind(check(&deeper, &five, AUTH)), CertificateKind::Mic);

    // Depth 1 leaves no room even for an LSC signed by its issuer.
    let capf = self::root("CAPF-TEST");
    let mut tight = lsc_policy(&[&capf]);
    tight.max_chain_depth = 2;
    let device = lsc(&capf);
    assert_eq!(kind(check(&tight, &device, AUTH)), CertificateKind::Lsc);
    tight.max_chain_depth = 1;
    assert_eq!(
        check(&tight, &device, AUTH),
        Err(CertificateCheckError::ChainTooLong)
    );
}

#[test]
fn enterprise_lsc_needs_its_issuing_ca_configured() {
    let root = root("Example Enterprise Root");
    let issuing = intermediate("Example Issuing CA", &root);
    let device = lsc(&issuing);
    assert_eq!(
        check(&lsc_policy(&[&root]), &device, AUTH),
        Err(CertificateCheckError::Untrusted)
    );
    assert_eq!(
        kind(check(&lsc_policy(&[&issuing]), &device, AUTH)),
        CertificateKind::Lsc
    );
    assert_eq!(
        kind(check(&lsc_policy(&[&root, &issuing]), &device, AUTH)),
        CertificateKind::Lsc
    );
    // The enterprise chain is no MIC path either, even through
    // `intermediates` to a manufacturing root: the issuing CA is not one.
    let mut policy = lsc_policy(&[&root]);
    policy.intermediates = vec![issuing.der.clone()];
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::Untrusted)
    );
}

#[test]
fn revoked_device_certificate_or_intermediate_is_refused() {
    let capf = root("CAPF-TEST");
    let device = lsc(&capf);
    let mut policy = lsc_policy(&[&capf]);
    assert!(check(&policy, &device, AUTH).is_ok());
    let mut by_digest = Revocations::new();
    by_digest.revoke_sha256(sha2::Sha256::digest(&device).into());
    policy.revocations = by_digest;
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::Revoked)
    );

    // An intermediate revoked by issuer name and serial.
    let root = self::root("Maker Root");
    let manufacturing = sub_ca("Maker Manufacturing CA", &root, |params| {
        params.serial_number = Some(SerialNumber::from(0x0bad_u64));
    });
    let device = mic(&manufacturing);
    let mut policy = mic_policy(&root, &[&manufacturing]);
    assert!(check(&policy, &device, AUTH).is_ok());
    let root_subject = x509_cert::Certificate::from_der(&root.der)
        .unwrap()
        .tbs_certificate
        .subject
        .to_der()
        .unwrap();
    let mut by_serial = Revocations::new();
    by_serial.revoke_serial(&root_subject, &[0x0b, 0xad]);
    policy.revocations = by_serial;
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::Revoked)
    );
}

#[test]
fn date_allowances_need_a_path_valid_at_one_instant() {
    let root = root("Maker Root");
    let old_ca = sub_ca("Old Manufacturing CA", &root, |params| {
        params.not_before = date_time_ymd(2005, 1, 1);
        params.not_after = date_time_ymd(2015, 1, 1);
    });
    let mut expired_params = device_params(&format!("CP-7961G-{DEVICE}"));
    expired_params.not_before = date_time_ymd(2008, 1, 1);
    expired_params.not_after = date_time_ymd(2018, 1, 1);
    let expired_mic = issue(&expired_params, &p256(), &old_ca);
    let mut policy = mic_policy(&root, &[&old_ca]);
    assert_eq!(
        check(&policy, &expired_mic, AUTH),
        Err(CertificateCheckError::Expired)
    );
    policy.allow_expired_mic = true;
    let verdict = check(&policy, &expired_mic, AUTH).unwrap();
    assert!(verdict.expired_mic_accepted);
    // The allowance is for MICs: an SUDI is a MIC, so it holds there too.
    assert!(
        check(&policy, &expired_mic, SUDI)
            .unwrap()
            .expired_mic_accepted
    );

    // Issued after its CA had expired: that path never was valid.
    let mut late_params = device_params(&format!("CP-7961G-{DEVICE}"));
    late_params.not_before = date_time_ymd(2016, 1, 1);
    late_params.not_after = date_time_ymd(2026, 1, 1);
    let late_mic = issue(&late_params, &p256(), &old_ca);
    assert_eq!(
        check(&policy, &late_mic, AUTH),
        Err(CertificateCheckError::Expired)
    );
    policy.allow_expired_mic = false;
    policy.skip_validity = true;
    assert_eq!(
        check(&policy, &late_mic, AUTH),
        Err(CertificateCheckError::Expired)
    );
    // skip_validity: an expired chain that once was valid, and a leaf not
    // yet valid, pass; nothing is reported as an expired-MIC allowance.
    let verdict = check(&policy, &expired_mic, AUTH).unwrap();
    assert!(!verdict.expired_mic_accepted);
    let mut future_params = lsc_params();
    future_params.not_before = date_time_ymd(2030, 1, 1);
    future_params.not_after = date_time_ymd(2031, 1, 1);
    let capf = self::root("CAPF-TEST");
    let future_lsc = issue(&future_params, &p256(), &capf);
    policy.lsc_issuers = vec![capf.der.clone()];
    assert_eq!(
        kind(check(&policy, &future_lsc, AUTH)),
        CertificateKind::Lsc
    );
    policy.skip_validity = false;
    assert_eq!(
        check(&policy, &future_lsc, AUTH),
        Err(CertificateCheckError::NotYetValid)
    );
    // The expired-MIC allowance never covers "not yet valid".
    policy.allow_expired_mic = true;
    let future_mic = issue(
        &{
            let mut params = device_params(&format!("CP-8845-{DEVICE}"));
            params.not_before = date_time_ymd(2030, 1, 1);
            params.not_after = date_time_ymd(2031, 1, 1);
            params
        },
        &p256(),
        &root,
    );
    assert_eq!(
        check(&policy, &future_mic, AUTH),
        Err(CertificateCheckError::NotYetValid)
    );
}

#[test]
fn a_configured_certificate_does_not_authenticate() {
    // A self-signed end-entity certificate naming the device, configured
    // as an LSC issuer: it issues, it does not authenticate.
    let key = p256();
    let der = lsc_params().self_signed(&key).unwrap().der().to_vec();
    let mut policy = CertificatePolicy::default();
    policy.lsc_issuers = vec![der.clone()];
    assert_eq!(
        check(&policy, &der, AUTH),
        Err(CertificateCheckError::Untrusted)
    );
    let mut policy = CertificatePolicy::default();
    policy.manufacturing_roots = vec![der.clone()];
    assert_eq!(
        check(&policy, &der, SUDI),
        Err(CertificateCheckError::Untrusted)
    );
}

#[test]
fn an_empty_device_name_is_never_named() {
    let root = root("Maker Root");
    let mut no_cn = device_params("x");
    no_cn.distinguished_name = rcgen::DistinguishedName::new();
    no_cn
        .distinguished_name
        .push(DnType::OrganizationName, "Maker");
    let device = issue(&no_cn, &p256(), &root);
    let policy = mic_policy(&root, &[]);
    assert_eq!(
        check_certificate(&policy, &device, "", NOW, AUTH),
        Err(CertificateCheckError::NameMismatch)
    );
    assert_eq!(
        check_certificate(&policy, &device, DEVICE, NOW, AUTH),
        Err(CertificateCheckError::NameMismatch)
    );
}

#[test]
fn policy_certificates_that_do_not_parse_are_a_configuration_error() {
    let root = root("Maker Root");
    let device = mic(&root);
    let mut policy = mic_policy(&root, &[]);
    policy.intermediates = vec![b"junk".to_vec()];
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::BadPolicyCertificate)
    );
    let mut policy = mic_policy(&root, &[]);
    policy.lsc_issuers = vec![Vec::new()];
    assert_eq!(
        check(&policy, &device, AUTH),
        Err(CertificateCheckError::BadPolicyCertificate)
    );
}

// ---- End to end: a server session and a phone session in memory --------

const SESSION_ID: u32 = 0x0102_0304;

/// The phone host's signer holding `key` for each credential in `held`.
fn signer(held: &[ProofCredential], certificate_der: &[u8], key: &KeyPair) -> SoftwareSigner {
    let mut signer = SoftwareSigner::new(rng());
    for credential in held {
        let private = ProofPrivateKey::from_pkcs8_der(&key.serialize_der()).unwrap();
        signer = signer
            .with_key(*credential, certificate_der, Box::new(private))
            .unwrap();
    }
    signer
}

/// Certificate authentication of DEVICE (nothing scheduled) under
/// `policy`; returns the server's outcome.
fn authenticate(
    policy: CertificatePolicy,
    prefer: CertificatePreference,
    credentials: CertificateCredentials,
    mut signer: SoftwareSigner,
) -> ServerOutcome {
    let mut config = ServerConfig::new(SESSION_ID);
    config.certificate_policy = policy;
    let mut server = ServerSession::new(config, NOW);
    let phone_config =
        PhoneConfig::new(DEVICE, PhoneCredentials::Certificate(credentials)).unwrap();
    let mut phone = PhoneSession::new(phone_config, NOW);
    let mut outcome = None;
    let mut phone_outcome = None;
    loop {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit(bytes) => phone.handle_input(&bytes),
                ServerOutput::Need(ServerDecision::LookUpDevice { device_name }) => server
                    .answer_device(Some(DeviceRecord::new(
                        device_name,
                        Operation::None,
                        AuthMode::ExistingCertificate { prefer },
                    )))
                    .unwrap(),
                ServerOutput::Need(ServerDecision::RecordOutcome { .. }) => {
                    server.answer_outcome_recorded().unwrap()
                }
                ServerOutput::Done(done) => outcome = Some(done),
                other => panic!("unexpected server output {other:?}"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                PhoneOutput::Transmit(bytes) => server.handle_input(&bytes),
                PhoneOutput::Need(decision @ PhoneDecision::SignProof { .. }) => {
                    assert!(signer.answer(&mut phone, &decision).unwrap());
                }
                PhoneOutput::Done(done) => phone_outcome = Some(done),
                other => panic!("unexpected phone output {other:?}"),
            }
        }
        if !moved {
            break;
        }
    }
    let outcome = outcome.expect("the server session ended");
    // What the phone saw agrees with the END_SESSION reason.
    match (
        outcome.end_reason,
        phone_outcome.expect("the phone session ended"),
    ) {
        (Some(Reason::NoAction), PhoneOutcome::NothingToDo { .. }) => {}
        (Some(Reason::Failure), PhoneOutcome::Refused { reason }) => {
            assert_eq!(reason, Reason::Failure)
        }
        (reason, phone) => panic!("END_SESSION {reason:?} but the phone ended with {phone:?}"),
    }
    outcome
}

/// The phone's RNG (for its proofs), seeded.
fn rng() -> Box<rand::rngs::StdRng> {
    Box::new(seeded::rng(7))
}

#[test]
fn session_accepts_a_sha1_mic_with_its_sudi() {
    let hierarchy = sha1_hierarchy();
    let mut policy = CertificatePolicy::default();
    policy.manufacturing_roots = vec![hierarchy.root.der.clone()];
    policy.intermediates = vec![hierarchy.manufacturing.clone()];
    let credentials = CertificateCredentials::new(CertificatePrecedence::MicFirst)
        .with_mic(hierarchy.mic.clone())
        .and_then(|set| set.with_sudi(hierarchy.mic.clone()))
        .unwrap();
    let keys = signer(
        &[ProofCredential::Mic, ProofCredential::Sudi],
        &hierarchy.mic,
        &hierarchy.mic_key,
    );
    let outcome = authenticate(policy, CertificatePreference::Mic, credentials, keys);
    assert_eq!(outcome.result, SessionResult::NothingToDo);
    assert_eq!(outcome.end_reason, Some(Reason::NoAction));
    let auth = outcome.certificate_authentication.unwrap();
    assert_eq!(auth.kind, CertificateKind::Mic);
    assert!(auth.sudi_verified && !auth.expired_mic_accepted);
}

/// [`authenticate`] with the phone holding only `lsc` (and its key), the
/// device record preferring the LSC.
fn authenticate_lsc(policy: CertificatePolicy, lsc: &[u8], key: &KeyPair) -> ServerOutcome {
    let credentials = CertificateCredentials::new(CertificatePrecedence::LscFirst)
        .with_lsc(lsc.to_vec())
        .unwrap();
    let keys = signer(&[ProofCredential::Lsc], lsc, key);
    authenticate(policy, CertificatePreference::Lsc, credentials, keys)
}

/// The session ended in failure because the certificate check said `error`.
fn assert_certificate_refused(outcome: &ServerOutcome, error: CertificateCheckError) {
    assert_eq!(outcome.end_reason, Some(Reason::Failure));
    assert_eq!(
        outcome.result,
        SessionResult::AuthenticationFailed(AuthFailure::Certificate(error))
    );
}

#[test]
fn session_ends_with_failure_for_refusals_the_old_check_could_not_give() {
    // A SHA-1 LSC from an RSA CAPF certificate.
    let (capf_rsa, capf_key) = rsa_2048();
    let capf = root_with_key("CAPF-TEST", capf_key);
    let phone_key = p256();
    let sha1_lsc = resign_sha1(&issue(&lsc_params(), &phone_key, &capf), &capf_rsa);
    let outcome = authenticate_lsc(lsc_policy(&[&capf]), &sha1_lsc, &phone_key);
    assert_certificate_refused(&outcome, CertificateCheckError::UnsupportedAlgorithm);
    assert!(!outcome.authenticated);

    // An LSC without digitalSignature, then a revoked one.
    let mut encipher_only = lsc_params();
    encipher_only.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let bad_usage = issue(&encipher_only, &phone_key, &capf);
    let outcome = authenticate_lsc(lsc_policy(&[&capf]), &bad_usage, &phone_key);
    assert_certificate_refused(&outcome, CertificateCheckError::WrongKeyUsage);

    let good = issue(&lsc_params(), &phone_key, &capf);
    let mut policy = lsc_policy(&[&capf]);
    let accepted = authenticate_lsc(policy.clone(), &good, &phone_key);
    assert_eq!(accepted.result, SessionResult::NothingToDo);
    policy
        .revocations
        .revoke_sha256(sha2::Sha256::digest(&good).into());
    let outcome = authenticate_lsc(policy, &good, &phone_key);
    assert_certificate_refused(&outcome, CertificateCheckError::Revoked);
}

// ---- X.509 version 1 certificates ---------------------------------------
//
// Made with the openssl command line (tests/fixtures/v1/README.md says
// how): rcgen can make neither version 1 certificates nor SHA-1
// signatures. Leaves are valid 2024-2034, CAs 2020-2040; NOW is 2025.

fn v1_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/v1/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The DER of the PEM fixture `name`.
fn v1_fixture(name: &str) -> Vec<u8> {
    ctl_format::Certificate::from_pem(&v1_text(name))
        .unwrap()
        .der()
        .to_vec()
}

/// The DER of the PEM private key (PKCS#8) fixture `name`.
fn v1_key(name: &str) -> Vec<u8> {
    let blocks = ctl_format::pem::pem_blocks(&v1_text(name)).unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].label, "PRIVATE KEY");
    blocks[0].der.clone()
}

fn v1_policy(lsc_issuers: &[&str], roots: &[&str], intermediates: &[&str]) -> CertificatePolicy {
    let load = |names: &[&str]| names.iter().map(|name| v1_fixture(name)).collect();
    let mut policy = CertificatePolicy::default();
    policy.lsc_issuers = load(lsc_issuers);
    policy.manufacturing_roots = load(roots);
    policy.intermediates = load(intermediates);
    policy
}

/// 2035-01-01, after every leaf's notAfter (2034-01-01).
const AFTER_LEAVES: Timestamp = Timestamp::from_unix_seconds(2_051_222_400);
/// 2023-01-01, before every leaf's notBefore (2024-01-01).
const BEFORE_LEAVES: Timestamp = Timestamp::from_unix_seconds(1_672_531_200);

#[test]
fn v1_fixtures_have_the_versions_the_tests_rely_on() {
    // Read with x509-cert directly, not through the code under test.
    for (name, version) in [
        ("mic-v1-sha256.pem", x509_cert::Version::V1),
        ("mic-v1-sha1.pem", x509_cert::Version::V1),
        ("lsc-v1.pem", x509_cert::Version::V1),
        ("lsc-v1-sha1.pem", x509_cert::Version::V1),
        ("lsc-v1-ec-issuer.pem", x509_cert::Version::V1),
        ("v1-ca.pem", x509_cert::Version::V1),
        ("v1-leaf-under-v1-ca.pem", x509_cert::Version::V1),
        ("v1-intermediate.pem", x509_cert::Version::V1),
        ("rsa-ca.pem", x509_cert::Version::V3),
        ("ec-ca.pem", x509_cert::Version::V3),
        ("v3-leaf-under-v1-ca.pem", x509_cert::Version::V3),
        ("mic-under-v1-intermediate.pem", x509_cert::Version::V3),
    ] {
        let certificate = x509_cert::Certificate::from_der(&v1_fixture(name)).unwrap();
        assert_eq!(certificate.tbs_certificate.version, version, "{name}");
    }
}

#[test]
fn v1_mic_is_accepted_directly_under_its_root_sha256_and_sha1() {
    let policy = v1_policy(&[], &["rsa-ca.pem"], &[]);
    for name in ["mic-v1-sha256.pem", "mic-v1-sha1.pem"] {
        let mic = v1_fixture(name);
        let verdict = check(&policy, &mic, AUTH).unwrap();
        assert_eq!(verdict.kind, CertificateKind::Mic, "{name}");
        assert!(!verdict.expired_mic_accepted);
        assert_eq!(kind(check(&policy, &mic, SUDI)), CertificateKind::Mic);
        // Without its root it is nobody's.
        assert_eq!(
            check(&CertificatePolicy::default(), &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
    }
}

#[test]
fn v1_lsc_is_accepted_under_rsa_and_ec_issuers_sha1_only_as_a_mic() {
    let rsa = v1_policy(&["rsa-ca.pem"], &[], &[]);
    let lsc = v1_fixture("lsc-v1.pem");
    assert_eq!(kind(check(&rsa, &lsc, AUTH)), CertificateKind::Lsc);
    // An LSC never serves as a SUDI.
    assert_eq!(
        check(&rsa, &lsc, SUDI),
        Err(CertificateCheckError::Untrusted)
    );
    // ECDSA P-384 with SHA-384 from an EC issuer.
    let ec_lsc = v1_fixture("lsc-v1-ec-issuer.pem");
    let ec = v1_policy(&["ec-ca.pem"], &[], &[]);
    assert_eq!(kind(check(&ec, &ec_lsc, AUTH)), CertificateKind::Lsc);
    assert_eq!(
        check(&rsa, &ec_lsc, AUTH),
        Err(CertificateCheckError::Untrusted)
    );

    // SHA-1 is for the MIC path only: the same SHA-1 certificate (its CN
    // is the device name, which both rules accept) is refused as an LSC
    // and accepted as a MIC.
    let sha1 = v1_fixture("lsc-v1-sha1.pem");
    let refusal = check(&rsa, &sha1, AUTH).unwrap_err();
    assert_eq!(refusal, CertificateCheckError::UnsupportedAlgorithm);
    assert_eq!(
        refusal.to_string(),
        "signature algorithm or issuer key not accepted"
    );
    let as_mic = v1_policy(&[], &["rsa-ca.pem"], &[]);
    assert_eq!(kind(check(&as_mic, &sha1, AUTH)), CertificateKind::Mic);

    // The leaf and its issuer are a path of two: a depth of 1 refuses it.
    let mut tight = rsa.clone();
    tight.max_chain_depth = 2;
    assert_eq!(kind(check(&tight, &lsc, AUTH)), CertificateKind::Lsc);
    tight.max_chain_depth = 1;
    assert_eq!(
        check(&tight, &lsc, AUTH),
        Err(CertificateCheckError::ChainTooLong)
    );
}

#[test]
fn v1_leaf_keeps_the_name_and_date_checks() {
    let lsc_policy = v1_policy(&["rsa-ca.pem"], &[], &[]);
    let mic_policy = v1_policy(&[], &["rsa-ca.pem"], &[]);
    let lsc = v1_fixture("lsc-v1.pem");
    let mic = v1_fixture("mic-v1-sha256.pem");
    for (policy, der) in [(&lsc_policy, &lsc), (&mic_policy, &mic)] {
        let other_device = check_certificate(policy, der, "SEP0011223344FF", NOW, AUTH);
        assert_eq!(other_device, Err(CertificateCheckError::NameMismatch));
        assert_eq!(
            other_device.unwrap_err().to_string(),
            "certificate does not name the device"
        );
        let expired = check_certificate(policy, der, DEVICE, AFTER_LEAVES, AUTH);
        assert_eq!(expired, Err(CertificateCheckError::Expired));
        assert_eq!(expired.unwrap_err().to_string(), "certificate has expired");
        let early = check_certificate(policy, der, DEVICE, BEFORE_LEAVES, AUTH);
        assert_eq!(early, Err(CertificateCheckError::NotYetValid));
        assert_eq!(
            early.unwrap_err().to_string(),
            "certificate is not yet valid"
        );
    }
    // The expired-MIC allowance covers a version 1 MIC, reported; not an
    // LSC, and never "not yet valid".
    let mut lax = mic_policy.clone();
    lax.allow_expired_mic = true;
    let verdict = check_certificate(&lax, &mic, DEVICE, AFTER_LEAVES, AUTH).unwrap();
    assert!(verdict.expired_mic_accepted);
    assert_eq!(
        check_certificate(&lax, &mic, DEVICE, BEFORE_LEAVES, AUTH),
        Err(CertificateCheckError::NotYetValid)
    );
    let mut lax_lsc = lsc_policy.clone();
    lax_lsc.allow_expired_mic = true;
    assert_eq!(
        check_certificate(&lax_lsc, &lsc, DEVICE, AFTER_LEAVES, AUTH),
        Err(CertificateCheckError::Expired)
    );
    lax_lsc.skip_validity = true;
    assert!(check_certificate(&lax_lsc, &lsc, DEVICE, AFTER_LEAVES, AUTH).is_ok());
}

#[test]
fn v1_leaf_is_refused_when_revoked_by_digest_serial_crl_or_its_issuer() {
    let lsc = v1_fixture("lsc-v1.pem");
    let mic = v1_fixture("mic-v1-sha256.pem");
    let base = v1_policy(&["rsa-ca.pem"], &["rsa-ca.pem"], &[]);
    assert!(check(&base, &lsc, AUTH).is_ok());

    let refused = |revocations: Revocations, der: &[u8]| {
        let mut policy = base.clone();
        policy.revocations = revocations;
        check(&policy, der, AUTH)
    };
    let mut by_digest = Revocations::new();
    by_digest.revoke_sha256(sha2::Sha256::digest(&lsc).into());
    let refusal = refused(by_digest, &lsc).unwrap_err();
    assert_eq!(refusal, CertificateCheckError::Revoked);
    assert_eq!(refusal.to_string(), "certificate is revoked");

    // Serial 0x1005 from the issuer's name (the fixture's, per its README).
    let issuer_name = x509_cert::Certificate::from_der(&v1_fixture("rsa-ca.pem"))
        .unwrap()
        .tbs_certificate
        .subject
        .to_der()
        .unwrap();
    let mut by_serial = Revocations::new();
    by_serial.revoke_serial(&issuer_name, &[0x10, 0x05]);
    assert_eq!(
        refused(by_serial.clone(), &lsc),
        Err(CertificateCheckError::Revoked)
    );
    assert!(refused(by_serial, &mic).is_ok(), "another serial");

    // The CA's CRL (made by openssl) lists the LSC only.
    let crl_pem = v1_text("rsa-ca.crl.pem");
    let by_crl = Revocations::parse("rsa-ca.crl.pem", crl_pem.as_bytes()).unwrap();
    assert_eq!(
        refused(by_crl.clone(), &lsc),
        Err(CertificateCheckError::Revoked)
    );
    assert!(
        refused(by_crl, &mic).is_ok(),
        "the CRL does not list the MIC"
    );
    // A CRL whose signature does not verify under the issuer says nothing.
    let mut forged = ctl_format::pem::pem_blocks(&crl_pem).unwrap()[0]
        .der
        .clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let mut by_forged_crl = Revocations::new();
    by_forged_crl.add_crl_der(&forged).unwrap();
    assert!(refused(by_forged_crl, &lsc).is_ok());

    // The issuer revoked: nothing it signed is accepted.
    let mut issuer_revoked = Revocations::new();
    issuer_revoked
        .revoke_certificate(&v1_fixture("rsa-ca.pem"))
        .unwrap();
    assert_eq!(
        refused(issuer_revoked, &lsc),
        Err(CertificateCheckError::Revoked)
    );
}

#[test]
fn v1_leaf_with_a_bad_signature_names_its_issuer() {
    let policy = v1_policy(&["rsa-ca.pem"], &["rsa-ca.pem"], &[]);
    // A flipped bit in the signature, then one in the signed part (the
    // last digit of the serial number).
    let mut tampered_signature = v1_fixture("mic-v1-sha256.pem");
    let last = tampered_signature.len() - 1;
    tampered_signature[last] ^= 0x01;
    let mut tampered_serial = v1_fixture("lsc-v1.pem");
    let serial_at = tampered_serial
        .windows(4)
        .position(|window| window == [0x02, 0x02, 0x10, 0x05])
        .expect("the serial 0x1005 as a DER INTEGER")
        + 3;
    tampered_serial[serial_at] ^= 0x01;
    for (der, subject) in [
        (&tampered_signature, "CN=CP-8845-SEP001122334455"),
        (&tampered_serial, "CN=SEP001122334455"),
    ] {
        let refusal = check(&policy, der, AUTH).unwrap_err();
        assert!(
            matches!(refusal, CertificateCheckError::SignatureInvalid(_)),
            "{refusal:?}"
        );
        assert_eq!(
            refusal.to_string(),
            format!("signature of {subject} does not verify under issuer CN=Lab Phone CA")
        );
    }
}

/// The refusal of a version 1 certificate acting as an issuer, by its text.
fn assert_version1_issuer(result: Result<CertificateVerdict, CertificateCheckError>, text: &str) {
    let refusal = result.unwrap_err();
    assert!(
        matches!(refusal, CertificateCheckError::Version1(_)),
        "{refusal:?}"
    );
    assert_eq!(refusal.to_string(), text);
}

#[test]
fn v1_certificate_cannot_act_as_an_issuer() {
    // A version 1 CA configured as the LSC issuer: neither its version 1
    // nor its version 3 leaf is accepted, and the refusal says why.
    let v1_ca = v1_policy(&["v1-ca.pem"], &[], &[]);
    let v1_ca_refusal = "X.509 version 1 certificate CN=Lab v1 CA cannot act as an issuer (version 1 has no basicConstraints, so it is never a CA); it is the issuer named by CN=SEP001122334455";
    for leaf in ["v1-leaf-under-v1-ca.pem", "v3-leaf-under-v1-ca.pem"] {
        assert_version1_issuer(check(&v1_ca, &v1_fixture(leaf), AUTH), v1_ca_refusal);
    }
    // A version 1 intermediate, presented or configured as a root.
    let mic = v1_fixture("mic-under-v1-intermediate.pem");
    let v1_intermediate_refusal = "X.509 version 1 certificate CN=Lab v1 Manufacturing CA cannot act as an issuer (version 1 has no basicConstraints, so it is never a CA); it is the issuer named by CN=CP-8845-SEP001122334455";
    assert_version1_issuer(
        check(
            &v1_policy(&[], &["rsa-ca.pem"], &["v1-intermediate.pem"]),
            &mic,
            AUTH,
        ),
        v1_intermediate_refusal,
    );
    assert_version1_issuer(
        check(&v1_policy(&[], &["v1-intermediate.pem"], &[]), &mic, AUTH),
        v1_intermediate_refusal,
    );
    // A version 1 leaf is accepted only directly under a configured
    // issuer, not through an intermediate.
    assert_version1_issuer(
        check(
            &v1_policy(&[], &["ec-ca.pem"], &["rsa-ca.pem"]),
            &v1_fixture("mic-v1-sha256.pem"),
            AUTH,
        ),
        "CN=CP-8845-SEP001122334455 is an X.509 version 1 certificate, accepted only when signed directly by a certificate of the manufacturing roots; its issuer CN=Lab Phone CA is only an intermediate",
    );
}

/// A v1 certificate fixture and a signer holding its key as `credential`.
fn v1_credential(
    credential: ProofCredential,
    certificate: &str,
    key: &str,
) -> (Vec<u8>, SoftwareSigner) {
    let private = ProofPrivateKey::from_pkcs8_der(&v1_key(key)).unwrap();
    let certificate_der = v1_fixture(certificate);
    let signer = SoftwareSigner::new(rng())
        .with_key(credential, &certificate_der, Box::new(private))
        .unwrap();
    (certificate_der, signer)
}

#[test]
fn session_authenticates_a_v1_mic_and_a_v1_lsc() {
    let policy = v1_policy(&["rsa-ca.pem"], &["rsa-ca.pem"], &[]);
    let (mic, signer) = v1_credential(
        ProofCredential::Mic,
        "mic-v1-sha256.pem",
        "mic-v1-sha256.key",
    );
    let credentials = CertificateCredentials::new(CertificatePrecedence::MicFirst)
        .with_mic(mic)
        .unwrap();
    let outcome = authenticate(
        policy.clone(),
        CertificatePreference::Mic,
        credentials,
        signer,
    );
    assert_eq!(outcome.result, SessionResult::NothingToDo);
    assert_eq!(outcome.end_reason, Some(Reason::NoAction));
    assert_eq!(
        outcome.certificate_authentication.unwrap().kind,
        CertificateKind::Mic
    );

    let lsc_credentials = || {
        let (lsc, signer) = v1_credential(ProofCredential::Lsc, "lsc-v1.pem", "lsc-v1.key");
        let credentials = CertificateCredentials::new(CertificatePrecedence::LscFirst)
            .with_lsc(lsc)
            .unwrap();
        (credentials, signer)
    };
    let (credentials, signer) = lsc_credentials();
    let outcome = authenticate(
        policy.clone(),
        CertificatePreference::Lsc,
        credentials,
        signer,
    );
    assert_eq!(outcome.result, SessionResult::NothingToDo);
    assert_eq!(
        outcome.certificate_authentication.unwrap().kind,
        CertificateKind::Lsc
    );

    // Revoked by the CA's CRL: END_SESSION 7.
    let mut revoked = policy;
    revoked.revocations =
        Revocations::parse("rsa-ca.crl.pem", v1_text("rsa-ca.crl.pem").as_bytes()).unwrap();
    let (credentials, signer) = lsc_credentials();
    let outcome = authenticate(revoked, CertificatePreference::Lsc, credentials, signer);
    assert_certificate_refused(&outcome, CertificateCheckError::Revoked);
}

#[test]
fn an_unusable_certificate_is_refused_with_its_cause() {
    // An unknown extension marked critical: the certificate parses, but no
    // verifier may use it; the refusal says so instead of "does not parse".
    let capf = root("CAPF-TEST");
    let mut params = lsc_params();
    let mut extension =
        rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 99999, 1], vec![0x05, 0x00]);
    extension.set_criticality(true);
    params.custom_extensions = vec![extension];
    let certificate = issue(&params, &p256(), &capf);
    let refusal = check(&lsc_policy(&[&capf]), &certificate, AUTH).unwrap_err();
    assert!(
        matches!(refusal, CertificateCheckError::Unusable(_)),
        "{refusal:?}"
    );
    assert_eq!(
        refusal.to_string(),
        "certificate cannot be used: CN=SEP001122334455 or a certificate of its chain has a critical extension that is not supported"
    );
    // Bytes that are no certificate at all.
    let garbage = check(&lsc_policy(&[&capf]), b"not a certificate", AUTH).unwrap_err();
    assert_eq!(garbage, CertificateCheckError::Malformed);
    assert_eq!(
        garbage.to_string(),
        "certificate is not DER X.509, or its public key cannot be read"
    );
}
