//! The trust evaluator on generated hierarchies and the real Cisco CTL: one
//! test per purpose and per failure reason, asserting the reason and the
//! key words of the fix.

mod trust_support;

use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
use capf_core::time::Timestamp;
use capf_core::trust::{
    CapfCredential, EvaluationOptions, Purpose, Revocations, ServerRole, SignedFileKind, StoreKind,
    TrustFailureReason, TrustStore, Verdict, evaluate, evaluate_with,
};
use ctl_format::TrustList;
use ctl_format::trust_list::Role;
use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose, PublicKeyData};
use sha2::Digest;
use trust_support::*;

const DEVICE: &str = "SEP001122334455";

fn store(kind: StoreKind, name: &str, certificates: &[&[u8]]) -> TrustStore {
    TrustStore::from_der_certificates(kind, name, certificates.iter().copied()).unwrap()
}

fn capf_auth(credential: CapfCredential, device: Option<&str>) -> Purpose {
    Purpose::CapfAuthentication {
        credential,
        device: device.map(str::to_owned),
    }
}

/// CAPF authentication of DEVICE with its LSC.
fn lsc_auth() -> Purpose {
    capf_auth(CapfCredential::Lsc, Some(DEVICE))
}

/// CAPF authentication of DEVICE with its MIC.
fn mic_auth() -> Purpose {
    capf_auth(CapfCredential::Mic, Some(DEVICE))
}

/// The CAPF-trust store (named so) holding `certificates`.
fn capf_trust(certificates: &[&[u8]]) -> [TrustStore; 1] {
    [store(StoreKind::CapfTrust, "CAPF-trust", certificates)]
}

fn tls_client(device: Option<&str>) -> Purpose {
    Purpose::TlsClient {
        device: device.map(str::to_owned),
    }
}

fn server(role: ServerRole) -> Purpose {
    Purpose::TlsServer { role, host: None }
}

fn failure_words(verdict: &Verdict) -> (TrustFailureReason, String) {
    assert!(!verdict.trusted, "expected a refusal, got {verdict}");
    let failure = verdict.failure.as_ref().expect("a failure");
    (failure.reason, failure.fix.clone())
}

fn sha256(der: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(der).into()
}

/// A CAPF certificate (self-signed CA) and an LSC it issued for DEVICE
/// through the real LscIssuer.
struct CapfSetup {
    capf: Ca,
    lsc: Vec<u8>,
}

fn capf_setup(device: &str, now_seconds: u64) -> CapfSetup {
    let capf = root("CAPF-2076a1a2");
    let issuer = LscIssuer::new(&capf.der, &capf.key_der).unwrap();
    let phone_key = p256();
    let spki = phone_key.subject_public_key_info();
    let issued = issuer
        .issue(
            &LscRequest {
                device_name: device,
                subject_public_key_info_der: &spki,
                validity_days: 365,
            },
            Timestamp::from_unix_seconds(now_seconds),
            &mut seeded::rng(1),
        )
        .unwrap();
    CapfSetup {
        capf,
        lsc: issued.der,
    }
}

#[test]
fn capf_signed_lsc_is_trusted_for_capf_authentication_through_capf_trust() {
    let setup = capf_setup(DEVICE, NOW.unix_seconds() - 86_400);
    let stores = capf_trust(&[&setup.capf.der]);
    let verdict = evaluate(&[&setup.lsc], &lsc_auth(), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    let anchor = verdict.anchor.as_ref().unwrap();
    assert_eq!(anchor.sha256, sha256(&setup.capf.der));
    assert_eq!(anchor.store.kind, StoreKind::CapfTrust);
    assert!(anchor.subject.contains("CN=CAPF-2076a1a2"));
    assert!(!anchor.pinned);
    assert_eq!(verdict.roles, [Role::Capf]);
    assert_eq!(verdict.chain.len(), 2);
    assert_eq!(verdict.chain[0].sha256, sha256(&setup.lsc));
}

#[test]
fn lsc_of_another_device_is_a_name_mismatch() {
    let setup = capf_setup("SEP00AABBCCDDEE", NOW.unix_seconds() - 86_400);
    let stores = capf_trust(&[&setup.capf.der]);
    let verdict = evaluate(&[&setup.lsc], &lsc_auth(), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NameMismatch);
    assert!(fix.contains(DEVICE), "{fix}");
    // The path was found: the verdict still says through what.
    assert!(verdict.anchor.is_some());
}

#[test]
fn lsc_signed_by_an_unknown_capf_names_its_issuer_in_the_fix() {
    let setup = capf_setup(DEVICE, NOW.unix_seconds() - 86_400);
    let other = root("CAPF-other");
    let stores = capf_trust(&[&other.der]);
    let verdict = evaluate(&[&setup.lsc], &lsc_auth(), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnknownIssuer);
    assert!(fix.contains("CN=CAPF-2076a1a2"), "{fix}");
    assert!(fix.contains("CAPF-trust"), "{fix}");
}

#[test]
fn mic_through_an_intermediate_is_trusted_for_capf_authentication() {
    let chain = mic_chain(DEVICE);
    let stores = [store(
        StoreKind::ManufacturingRoots,
        "cisco-roots.pem",
        &[&chain.root.der],
    )];
    let verdict = evaluate(
        &[&chain.mic.der, &chain.manufacturing.der],
        &mic_auth(),
        &stores,
        NOW,
    );
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.chain.len(), 3);
    assert_eq!(verdict.chain[1].sha256, sha256(&chain.manufacturing.der));
    assert_eq!(verdict.anchor.unwrap().sha256, sha256(&chain.root.der));

    // Without the intermediate the root alone does not reach the MIC.
    let verdict = evaluate(&[&chain.mic.der], &mic_auth(), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnknownIssuer);
    assert!(fix.contains("Cisco Manufacturing CA SHA2"), "{fix}");
}

#[test]
fn mic_name_binding_takes_the_model_prefix_but_not_another_device() {
    let chain = mic_chain(DEVICE);
    let stores = capf_trust(&[&chain.manufacturing.der]);
    let purpose = capf_auth(CapfCredential::Mic, Some("SEP001122334466"));
    let verdict = evaluate(&[&chain.mic.der], &purpose, &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::NameMismatch));
    assert!(
        verdict
            .failure
            .unwrap()
            .detail
            .contains("end with -<device name>")
    );
}

#[test]
fn mic_for_the_phone_web_page_says_cisco_advises_against_the_manufacturing_ca() {
    let chain = mic_chain(DEVICE);
    let enterprise = root("Example Enterprise Root");
    let stores = [store(
        StoreKind::PemBundle,
        "browser.pem",
        &[&enterprise.der],
    )];
    let verdict = evaluate(
        &[&chain.mic.der],
        &Purpose::PhoneWebServer { host: None },
        &stores,
        NOW,
    );
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnknownIssuer);
    assert!(fix.starts_with("this is a MIC"), "{fix}");
    assert!(fix.contains("Cisco advises against"), "{fix}");
    assert!(fix.contains("issue an LSC instead"), "{fix}");
}

#[test]
fn phone_web_page_with_an_enterprise_lsc_checks_the_host_name() {
    let root = root("Example Enterprise Root");
    let issuing = intermediate("Example Issuing CA", &root);
    let mut spec = LeafSpec::new(DEVICE);
    spec.dns = vec!["sep001122334455.voice.example.net".to_owned()];
    let lsc = leaf(&spec, &issuing);
    let stores = [store(StoreKind::PemBundle, "browser.pem", &[&root.der])];
    let good = Purpose::PhoneWebServer {
        host: Some("sep001122334455.voice.example.net".to_owned()),
    };
    let verdict = evaluate(&[&lsc.der, &issuing.der], &good, &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.chain.len(), 3);

    let bad = Purpose::PhoneWebServer {
        host: Some("10.1.2.3".to_owned()),
    };
    let verdict = evaluate(&[&lsc.der, &issuing.der], &bad, &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NameMismatch);
    assert!(fix.contains("subjectAltName DNS:10.1.2.3"), "{fix}");
}

#[test]
fn enterprise_lsc_as_a_tls_client_with_root_and_issuing_ca() {
    let root = root("Example Enterprise Root");
    let issuing = intermediate("Example Issuing CA", &root);
    let mut spec = LeafSpec::new(DEVICE);
    spec.uris = vec![DEVICE.to_owned()];
    let lsc = leaf(&spec, &issuing);
    // Root and issuing CA both in the store: the phone sends only its LSC.
    let both = [store(
        StoreKind::EnterpriseRoots,
        "nac-cas.pem",
        &[&root.der, &issuing.der],
    )];
    let verdict = evaluate(&[&lsc.der], &tls_client(Some(DEVICE)), &both, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.anchor.unwrap().sha256, sha256(&issuing.der));

    // Root only and no chain sent: the issuing CA is missing.
    let root_only = [store(
        StoreKind::EnterpriseRoots,
        "nac-cas.pem",
        &[&root.der],
    )];
    let verdict = evaluate(&[&lsc.der], &tls_client(Some(DEVICE)), &root_only, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnknownIssuer);
    assert!(fix.contains("CN=Example Issuing CA"), "{fix}");
    assert!(fix.contains("CallManager-trust"), "{fix}");
}

#[test]
fn tls_client_needs_client_auth_in_the_extended_key_usage() {
    let root = root("Example Enterprise Root");
    let mut spec = LeafSpec::new(DEVICE);
    spec.eku = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let lsc = leaf(&spec, &root);
    let stores = [store(
        StoreKind::CallManagerTrust,
        "CallManager-trust",
        &[&root.der],
    )];
    let verdict = evaluate(&[&lsc.der], &tls_client(None), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongKeyUsage);
    assert!(fix.contains("clientAuth"), "{fix}");

    // The same certificate is fine as a TLS server.
    let verdict = evaluate(&[&lsc.der], &server(ServerRole::CallManager), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
}

#[test]
fn key_usage_without_digital_signature_is_refused() {
    let root = root("Example Enterprise Root");
    let mut spec = LeafSpec::new(DEVICE);
    spec.key_usages = vec![KeyUsagePurpose::DataEncipherment];
    let lsc = leaf(&spec, &root);
    let stores = capf_trust(&[&root.der]);
    let verdict = evaluate(
        &[&lsc.der],
        &capf_auth(CapfCredential::Lsc, None),
        &stores,
        NOW,
    );
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongKeyUsage);
    assert!(fix.contains("digitalSignature"), "{fix}");
}

#[test]
fn a_ca_certificate_presented_as_the_leaf_is_wrong_key_usage() {
    let root = root("Example Enterprise Root");
    let issuing = intermediate("Example Issuing CA", &root);
    let stores = [store(StoreKind::EnterpriseRoots, "roots.pem", &[&root.der])];
    let verdict = evaluate(&[&issuing.der], &server(ServerRole::Tftp), &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongKeyUsage));
    assert!(verdict.failure.unwrap().detail.contains("CA:TRUE"));
}

#[test]
fn the_capf_certificate_itself_in_a_ca_store_is_its_own_anchor() {
    let setup = capf_setup(DEVICE, NOW.unix_seconds());
    let stores = [store(StoreKind::PemBundle, "capf.pem", &[&setup.capf.der])];
    let verdict = evaluate(&[&setup.capf.der], &server(ServerRole::Capf), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert!(verdict.anchor.unwrap().pinned);
}

#[test]
fn expired_lsc_fix_says_renew_through_capf() {
    let root = root("Example Enterprise Root");
    let mut spec = LeafSpec::new(DEVICE);
    spec.not_before = (2020, 1, 1);
    spec.not_after = (2021, 1, 1);
    let lsc = leaf(&spec, &root);
    let stores = capf_trust(&[&root.der]);
    let verdict = evaluate(&[&lsc.der], &lsc_auth(), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::Expired);
    assert!(fix.contains("CAPF install"), "{fix}");
    assert!(
        verdict
            .failure
            .unwrap()
            .detail
            .contains("expired on 2021-01-01T00:00:00Z")
    );
}

#[test]
fn expired_mic_is_refused_unless_the_policy_allows_it() {
    let root = root("Cisco Root CA M2");
    let manufacturing = intermediate("Cisco Manufacturing CA", &root);
    let mut spec = LeafSpec::new(&format!("CP-7961G-{DEVICE}"));
    spec.not_before = (2010, 1, 1);
    spec.not_after = (2020, 1, 1);
    let mic = leaf(&spec, &manufacturing);
    let stores = [store(
        StoreKind::ManufacturingRoots,
        "cisco.pem",
        &[&root.der],
    )];
    let chain = [&mic.der, &manufacturing.der];
    let purpose = mic_auth();
    let verdict = evaluate(&chain, &purpose, &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::Expired);
    assert!(fix.contains("MICs cannot be renewed"), "{fix}");

    let mut options = EvaluationOptions::default();
    options.allow_expired_mic = true;
    let verdict = evaluate_with(&chain, &purpose, &stores, NOW, &options);
    assert!(verdict.trusted, "{verdict}");
    assert!(
        verdict
            .notes
            .iter()
            .any(|note| note.contains("allow_expired_mic"))
    );

    // The allowance is for CAPF authentication only.
    let verdict = evaluate_with(&chain, &tls_client(None), &stores, NOW, &options);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Expired));
}

#[test]
fn not_yet_valid_certificate() {
    let root = root("Example Enterprise Root");
    let mut spec = LeafSpec::new(DEVICE);
    spec.not_before = (2029, 1, 1);
    spec.not_after = (2030, 1, 1);
    let lsc = leaf(&spec, &root);
    let stores = [store(StoreKind::EnterpriseRoots, "roots.pem", &[&root.der])];
    let verdict = evaluate(&[&lsc.der], &tls_client(None), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NotYetValid);
    assert!(fix.contains("clock"), "{fix}");
}

#[test]
fn revoked_by_digest_by_serial_and_by_crl() {
    let root = root("Example Enterprise Root");
    let mut spec = LeafSpec::new(DEVICE);
    spec.serial = 0x1234;
    let lsc = leaf(&spec, &root);
    let purpose = tls_client(Some(DEVICE));
    let base = store(StoreKind::EnterpriseRoots, "roots.pem", &[&root.der]);
    assert!(evaluate(&[&lsc.der], &purpose, std::slice::from_ref(&base), NOW).trusted);

    let mut by_digest = Revocations::new();
    by_digest.revoke_sha256(sha256(&lsc.der));
    let verdict = evaluate(
        &[&lsc.der],
        &purpose,
        &[base.clone().with_revocations(&by_digest)],
        NOW,
    );
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::Revoked);
    assert!(fix.contains("issue a new one"), "{fix}");

    // Issuer name DER of the leaf = subject name DER of the root.
    let root_parsed = ctl_format::Certificate::from_der(&root.der).unwrap();
    let issuer_der = der::Encode::to_der(&root_parsed.x509().tbs_certificate.subject).unwrap();
    let mut by_serial = Revocations::new();
    by_serial.revoke_serial(&issuer_der, &[0x00, 0x12, 0x34]);
    // Revocation data in another store applies as well.
    let other = TrustStore::new(StoreKind::PemBundle, "revoked.txt").with_revocations(&by_serial);
    let verdict = evaluate(&[&lsc.der], &purpose, &[base.clone(), other], NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Revoked));

    let crl = rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2024, 12, 1),
        next_update: rcgen::date_time_ymd(2025, 12, 1),
        crl_number: rcgen::SerialNumber::from(1_u64),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from(0x1234_u64),
            revocation_time: rcgen::date_time_ymd(2024, 12, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&root.issuer)
    .unwrap();
    let by_crl = Revocations::parse("root.crl", crl.der()).unwrap();
    let verdict = evaluate(
        &[&lsc.der],
        &purpose,
        &[base.with_revocations(&by_crl)],
        NOW,
    );
    assert_eq!(
        verdict.reason(),
        Some(TrustFailureReason::Revoked),
        "{verdict}"
    );
}

#[test]
fn tampered_signature_is_signature_invalid() {
    let root = root("Example Enterprise Root");
    let lsc = leaf(&LeafSpec::new(DEVICE), &root);
    let mut tampered = lsc.der.clone();
    // The signature BIT STRING is the certificate's last element: flip a
    // byte inside the ECDSA signature value.
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01;
    let stores = [store(StoreKind::EnterpriseRoots, "roots.pem", &[&root.der])];
    let verdict = evaluate(&[&tampered], &tls_client(None), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::SignatureInvalid);
    assert!(fix.contains("genuine"), "{fix}");
}

#[test]
fn chain_longer_than_the_limit_is_chain_too_long() {
    let root = root("Example Enterprise Root");
    let first = intermediate("Example Policy CA", &root);
    let second = intermediate("Example Regional CA", &first);
    let third = intermediate("Example Issuing CA", &second);
    let lsc = leaf(&LeafSpec::new(DEVICE), &third);
    let stores = [store(StoreKind::EnterpriseRoots, "roots.pem", &[&root.der])];
    let chain = [&lsc.der, &third.der, &second.der, &first.der];
    let verdict = evaluate(&chain, &tls_client(None), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::ChainTooLong);
    assert!(fix.contains("trust the issuing CA directly"), "{fix}");

    let mut options = EvaluationOptions::default();
    options.max_chain_length = 5;
    let verdict = evaluate_with(&chain, &tls_client(None), &stores, NOW, &options);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.chain.len(), 5);
}

#[test]
fn pinned_server_roles_ccm_tftp_grants_both_and_nothing_else() {
    let ca = root("unused");
    let ccm = leaf(&LeafSpec::new("cucm-pub.example.net"), &ca);
    let mut ctl = TrustStore::new(StoreKind::Ctl, "CTLFile.tlv");
    ctl.add_certificate(&ccm.der, &[Role::CallManagerTftp])
        .unwrap();
    let stores = [ctl];
    for role in [ServerRole::CallManager, ServerRole::Tftp] {
        let verdict = evaluate(&[&ccm.der], &server(role), &stores, NOW);
        assert!(verdict.trusted, "{verdict}");
        assert!(verdict.anchor.as_ref().unwrap().pinned);
        assert_eq!(verdict.roles, [Role::CallManagerTftp]);
    }
    let verdict = evaluate(&[&ccm.der], &server(ServerRole::Capf), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongRole);
    assert!(
        fix.contains("in the CTL but with role CCM+TFTP, not CAPF"),
        "{fix}"
    );

    // A CAPF certificate that is not listed at all.
    let capf = root("CAPF-5b8e7c01");
    let verdict = evaluate(&[&capf.der], &server(ServerRole::Capf), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NotListed);
    assert!(
        fix.contains("add the CAPF certificate (CN=CAPF-5b8e7c01"),
        "{fix}"
    );
    assert!(
        fix.contains("to the phone's CTL/ITL with role CAPF"),
        "{fix}"
    );
}

#[test]
fn pinned_tvs_in_an_itl_and_dates_are_notes_unless_asked() {
    let ca = root("unused");
    let mut spec = LeafSpec::new("tvs.example.net");
    spec.not_after = (2021, 1, 1);
    let tvs = leaf(&spec, &ca);
    let mut itl = TrustStore::new(StoreKind::Itl, "ITLFile.tlv");
    itl.add_certificate(&tvs.der, &[Role::Tvs]).unwrap();
    let stores = [itl];
    let verdict = evaluate(&[&tvs.der], &server(ServerRole::Tvs), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert!(
        verdict
            .notes
            .iter()
            .any(|note| note.contains("expired on 2021-01-01"))
    );

    let mut options = EvaluationOptions::default();
    options.check_pinned_validity = true;
    let verdict = evaluate_with(
        &[&tvs.der],
        &server(ServerRole::Tvs),
        &stores,
        NOW,
        &options,
    );
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Expired));
}

#[test]
fn file_signers_config_needs_tftp_and_trust_lists_need_sast() {
    let ca = root("unused");
    let tftp = leaf(&LeafSpec::new("tftp.example.net"), &ca);
    let sast = leaf(&LeafSpec::new("SAST-1"), &ca);
    let mut itl = TrustStore::new(StoreKind::Itl, "ITLFile.tlv");
    itl.add_certificate(&tftp.der, &[Role::Tftp]).unwrap();
    itl.add_certificate(&sast.der, &[Role::Sast]).unwrap();
    let stores = [itl];
    let config = Purpose::FileSigner {
        file: SignedFileKind::ConfigFile,
    };
    let list = Purpose::FileSigner {
        file: SignedFileKind::TrustList,
    };
    assert!(evaluate(&[&tftp.der], &config, &stores, NOW).trusted);
    assert!(evaluate(&[&sast.der], &list, &stores, NOW).trusted);
    let verdict = evaluate(&[&sast.der], &config, &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongRole);
    assert!(fix.contains("role SAST, not TFTP"), "{fix}");
    let verdict = evaluate(&[&tftp.der], &list, &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongRole));

    // Phone-SAST-trust implies role SAST.
    let sast_trust = store(StoreKind::PhoneSastTrust, "Phone-SAST-trust", &[&sast.der]);
    let verdict = evaluate(&[&sast.der], &list, &[sast_trust], NOW);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.roles, [Role::Sast]);
}

#[test]
fn a_store_that_does_not_answer_the_purpose_is_reported() {
    let root = root("Example Enterprise Root");
    let stores = [store(StoreKind::PemBundle, "roots.pem", &[&root.der])];
    let purpose = Purpose::FileSigner {
        file: SignedFileKind::ConfigFile,
    };
    let verdict = evaluate(&[&root.der], &purpose, &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NoApplicableStore);
    assert!(fix.contains("ctl or itl"), "{fix}");
}

#[test]
fn malformed_and_empty_chains() {
    let root = root("Example Enterprise Root");
    let stores = [store(StoreKind::PemBundle, "roots.pem", &[&root.der])];
    let verdict = evaluate(
        &[b"not a certificate".as_slice()],
        &tls_client(None),
        &stores,
        NOW,
    );
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Malformed));
    let empty: [&[u8]; 0] = [];
    let verdict = evaluate(&empty, &tls_client(None), &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Malformed));
    // A truncated certificate must not panic either.
    let verdict = evaluate(
        &[&root.der[..root.der.len() / 2]],
        &tls_client(None),
        &stores,
        NOW,
    );
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Malformed));
}

/// SHA-1 MIC hierarchy: an RSA-2048 root signs the manufacturing CA with
/// sha1WithRSAEncryption (re-signed here with the `rsa` crate, as rcgen
/// cannot sign with SHA-1), which issues the MIC.
#[test]
fn sha1_mic_chain_is_accepted_only_for_capf_authentication_with_a_mic() {
    use der::{Decode, Encode};
    use rsa::pkcs8::EncodePrivateKey;
    use sha1::Sha1;

    let rsa_key = seeded::rsa_key(2048);
    let pkcs8 = rsa_key.to_pkcs8_der().unwrap();
    let key = rcgen::KeyPair::try_from(pkcs8.as_bytes()).unwrap();
    let root = root_with_key("Cisco Root CA 2048", key);
    let manufacturing = intermediate("Cisco Manufacturing CA", &root);
    let mut cert = x509_cert::Certificate::from_der(&manufacturing.der).unwrap();
    let sha1_rsa = spki::AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        parameters: Some(der::asn1::Null.into()),
    };
    cert.tbs_certificate.signature = sha1_rsa.clone();
    cert.signature_algorithm = sha1_rsa;
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let signature = rsa_key
        .sign(rsa::Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(&tbs))
        .unwrap();
    cert.signature = der::asn1::BitString::from_bytes(&signature).unwrap();
    let manufacturing_sha1 = cert.to_der().unwrap();
    let mic = leaf(&LeafSpec::new(&format!("CP-7975-{DEVICE}")), &manufacturing);

    let chain = [&mic.der, &manufacturing_sha1];
    let manufacturing_roots = store(StoreKind::ManufacturingRoots, "cisco.pem", &[&root.der]);
    let stores = [manufacturing_roots];
    let verdict = evaluate(&chain, &mic_auth(), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.chain.len(), 3);

    // The same chain for TLS client authentication: SHA-1 is not accepted.
    let verdict = evaluate(&chain, &tls_client(Some(DEVICE)), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnsupportedAlgorithm);
    assert!(fix.contains("SHA-1"), "{fix}");

    // Nor as an LSC, nor with a tampered SHA-1 signature.
    let verdict = evaluate(&chain, &capf_auth(CapfCredential::Lsc, None), &stores, NOW);
    assert_eq!(
        verdict.reason(),
        Some(TrustFailureReason::UnsupportedAlgorithm)
    );
    let mut tampered = manufacturing_sha1.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let verdict = evaluate(
        &[&mic.der, &tampered],
        &capf_auth(CapfCredential::Mic, None),
        &stores,
        NOW,
    );
    assert_eq!(
        verdict.reason(),
        Some(TrustFailureReason::SignatureInvalid),
        "{verdict}"
    );
}

/// The real Unified CM CTL: records 0 and 1 hold the publisher's
/// certificate (SAST and CCM+TFTP), record 3 the CAPF certificate
/// (tests/vectors/real/cucm/CTLFile.tlv.json).
#[test]
fn real_cisco_ctl_grants_its_roles_and_refuses_others() {
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/real/cucm/CTLFile.tlv"
    ))
    .unwrap();
    let list = TrustList::parse(&file).unwrap();
    let roles: Vec<Option<Role>> = list.records().iter().map(|record| record.role()).collect();
    assert_eq!(roles[0], Some(Role::Sast));
    assert_eq!(roles[1], Some(Role::CallManagerTftp));
    assert_eq!(roles[3], Some(Role::Capf));
    let ctl = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list).unwrap();
    let stores = [ctl];
    let capf = list.records()[3].certificate_der().unwrap();
    let ccm = list.records()[1].certificate_der().unwrap();
    // The header timestamp: when the list was made.
    let then = Timestamp::from_unix_seconds(1_430_968_247);

    let verdict = evaluate(&[capf], &server(ServerRole::Capf), &stores, then);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.roles, [Role::Capf]);
    for role in [ServerRole::CallManager, ServerRole::Tftp] {
        let verdict = evaluate(&[ccm], &server(role), &stores, then);
        assert!(verdict.trusted, "{verdict}");
        assert_eq!(verdict.roles, [Role::Sast, Role::CallManagerTftp]);
    }
    let config = Purpose::FileSigner {
        file: SignedFileKind::ConfigFile,
    };
    assert!(evaluate(&[ccm], &config, &stores, then).trusted);

    let verdict = evaluate(&[capf], &server(ServerRole::CallManager), &stores, then);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongRole);
    assert!(fix.contains("role CAPF, not CCM"), "{fix}");
    let verdict = evaluate(&[ccm], &server(ServerRole::Capf), &stores, then);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongRole));
    let verdict = evaluate(&[capf], &config, &stores, then);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongRole));
}

#[test]
fn revocation_list_text_and_pem_forms() {
    let root = root("Example Enterprise Root");
    let lsc = leaf(&LeafSpec::new(DEVICE), &root);
    let digest: String = sha256(&lsc.der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = format!("# revoked phones\nsha256:{digest}\n\n");
    let revocations = Revocations::parse("revoked.txt", text.as_bytes()).unwrap();
    let parsed = ctl_format::Certificate::from_der(&lsc.der).unwrap();
    assert!(revocations.revokes(&parsed));
    assert!(Revocations::parse("bad.txt", b"sha256:1234\n").is_err());
    let other = leaf(&LeafSpec::new("SEP00AABBCCDDEE"), &root);
    let other_parsed = ctl_format::Certificate::from_der(&other.der).unwrap();
    assert!(!revocations.revokes(&other_parsed));
}

/// A self-signed end-entity certificate shaped by `spec` (a server or a
/// phone whose own certificate an administrator put in a CA store).
fn self_signed_leaf(spec: &LeafSpec) -> Vec<u8> {
    let key = p256();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, &spec.cn);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = spec.eku.clone();
    params.key_usages = spec.key_usages.clone();
    params.not_before =
        rcgen::date_time_ymd(spec.not_before.0, spec.not_before.1, spec.not_before.2);
    params.not_after = rcgen::date_time_ymd(spec.not_after.0, spec.not_after.1, spec.not_after.2);
    for name in &spec.dns {
        params
            .subject_alt_names
            .push(rcgen::SanType::DnsName(name.as_str().try_into().unwrap()));
    }
    for uri in &spec.uris {
        params
            .subject_alt_names
            .push(rcgen::SanType::URI(uri.as_str().try_into().unwrap()));
    }
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn store_held_self_signed_server_certificate_still_needs_the_host_name() {
    let mut spec = LeafSpec::new("cucm.example.net");
    spec.dns = vec!["cucm.example.net".to_owned()];
    let der = self_signed_leaf(&spec);
    let stores = [store(StoreKind::PemBundle, "browser.pem", &[&der])];
    let purpose = |host: &str| Purpose::TlsServer {
        role: ServerRole::CallManager,
        host: Some(host.to_owned()),
    };

    let verdict = evaluate(&[&der], &purpose("cucm.example.net"), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert!(verdict.anchor.unwrap().pinned);

    let verdict = evaluate(&[&der], &purpose("other.example.net"), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NameMismatch);
    assert!(
        fix.contains("subjectAltName DNS:other.example.net"),
        "{fix}"
    );
    // The refusal still names the store that holds the certificate.
    assert_eq!(
        verdict.failure.unwrap().store.unwrap().kind,
        StoreKind::PemBundle
    );

    // The phone's own web page, same rule.
    let web = Purpose::PhoneWebServer {
        host: Some("10.9.9.9".to_owned()),
    };
    assert_eq!(
        evaluate(&[&der], &web, &stores, NOW).reason(),
        Some(TrustFailureReason::NameMismatch)
    );
}

#[test]
fn store_held_phone_certificate_must_name_the_device() {
    let root = root("Example Enterprise Root");
    let lsc = leaf(&LeafSpec::new(DEVICE), &root);
    // The LSC itself (not its issuer) is what the administrator trusted.
    let stores = [store(
        StoreKind::CallManagerTrust,
        "CallManager-trust",
        &[&lsc.der],
    )];
    let verdict = evaluate(&[&lsc.der], &tls_client(Some(DEVICE)), &stores, NOW);
    assert!(verdict.trusted, "{verdict}");
    assert_eq!(verdict.anchor.unwrap().sha256, sha256(&lsc.der));

    let verdict = evaluate(
        &[&lsc.der],
        &tls_client(Some("SEP00AABBCCDDEE")),
        &stores,
        NOW,
    );
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::NameMismatch);
    assert!(fix.contains("SEP00AABBCCDDEE"), "{fix}");

    // CAPF re-enrolment with a store-held LSC: the same name binding.
    let capf_trust = capf_trust(&[&lsc.der]);
    let other = capf_auth(CapfCredential::Lsc, Some("SEP00AABBCCDDEE"));
    assert_eq!(
        evaluate(&[&lsc.der], &other, &capf_trust, NOW).reason(),
        Some(TrustFailureReason::NameMismatch)
    );
    let own = lsc_auth();
    assert!(evaluate(&[&lsc.der], &own, &capf_trust, NOW).trusted);
}

#[test]
fn store_held_certificate_needs_the_purpose_extended_key_usage() {
    let mut spec = LeafSpec::new(DEVICE);
    spec.eku = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let der = self_signed_leaf(&spec);
    let stores = [store(StoreKind::EnterpriseRoots, "nac-cas.pem", &[&der])];
    let verdict = evaluate(&[&der], &tls_client(Some(DEVICE)), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::WrongKeyUsage);
    assert!(fix.contains("clientAuth"), "{fix}");
    // Fine as a server: serverAuth is there.
    assert!(evaluate(&[&der], &server(ServerRole::CallManager), &stores, NOW).trusted);

    // keyUsage without digitalSignature: refused for any purpose.
    let mut spec = LeafSpec::new(DEVICE);
    spec.key_usages = vec![KeyUsagePurpose::DataEncipherment];
    let der = self_signed_leaf(&spec);
    let stores = [store(StoreKind::EnterpriseRoots, "nac-cas.pem", &[&der])];
    let verdict = evaluate(&[&der], &tls_client(Some(DEVICE)), &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongKeyUsage));
}

#[test]
fn store_held_leaf_dates_are_judged_but_pinned_records_are_not() {
    let mut spec = LeafSpec::new("cucm.example.net");
    spec.not_after = (2024, 6, 1);
    let der = self_signed_leaf(&spec);
    let stores = [store(StoreKind::PemBundle, "browser.pem", &[&der])];
    let verdict = evaluate(&[&der], &server(ServerRole::CallManager), &stores, NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::Expired));

    let mut ctl = TrustStore::new(StoreKind::Ctl, "CTLFile.tlv");
    ctl.add_certificate(&der, &[Role::CallManager]).unwrap();
    let verdict = evaluate(&[&der], &server(ServerRole::CallManager), &[ctl], NOW);
    assert!(verdict.trusted, "{verdict}");
    assert!(verdict.notes.iter().any(|note| note.contains("expired")));
}

#[test]
fn store_held_ca_certificate_is_no_phone_certificate() {
    let setup = capf_setup(DEVICE, NOW.unix_seconds());
    let capf_trust = capf_trust(&[&setup.capf.der]);
    // The CAPF certificate (self-signed, CA:TRUE) presented as if it were
    // the phone's LSC: refused, although it is in the store.
    let verdict = evaluate(
        &[&setup.capf.der],
        &capf_auth(CapfCredential::Lsc, None),
        &capf_trust,
        NOW,
    );
    assert_eq!(verdict.reason(), Some(TrustFailureReason::WrongKeyUsage));
    assert!(verdict.failure.unwrap().detail.contains("CA:TRUE"));
    let bundle = [store(StoreKind::PemBundle, "nac.pem", &[&setup.capf.der])];
    assert_eq!(
        evaluate(&[&setup.capf.der], &tls_client(None), &bundle, NOW).reason(),
        Some(TrustFailureReason::WrongKeyUsage)
    );
    // As a server it is still its own anchor, and its LSC is trusted.
    assert!(evaluate(&[&setup.capf.der], &server(ServerRole::Capf), &bundle, NOW).trusted);
    let lsc = lsc_auth();
    assert!(evaluate(&[&setup.lsc], &lsc, &capf_trust, NOW).trusted);
}

/// Every error of `Revocations::parse` names the source it was given and
/// where in it the fault is; the public single-item adders name the kind
/// of item instead (they are given no source).
#[test]
fn revocation_parse_errors_name_the_source() {
    const SOURCE: &str = "revoked-phones.pem";
    let message = |bytes: &[u8]| {
        let error = Revocations::parse(SOURCE, bytes).expect_err("an error");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("revocation data \"{SOURCE}\": ")),
            "{text}"
        );
        text
    };
    let root = root("Example Enterprise Root");
    let certificate =
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &root.der).unwrap();
    // "hello" in base64: neither a certificate nor a CRL.
    let block = |label: &str| format!("-----BEGIN {label}-----\naGVsbG8=\n-----END {label}-----\n");

    // A SEQUENCE with a long-form length that is no CRL (starts like a DER
    // CRL, so read as one).
    assert!(message(&[0x30, 0x81, 0x03, 0x02, 0x01, 0x01]).contains("not a DER CRL"));
    assert!(message(&[0xff, 0xfe, 0x00]).contains("neither a DER CRL nor text"));
    assert!(message(b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n").contains("no END line"));
    let text = message(block("CERTIFICATE").as_bytes());
    assert!(text.contains("PEM block 1 (CERTIFICATE): "), "{text}");
    let text = message(format!("{certificate}{}", block("X509 CRL")).as_bytes());
    assert!(text.contains("PEM block 2 (X509 CRL): "), "{text}");
    let text = message(block("PRIVATE KEY").as_bytes());
    assert!(
        text.contains("PEM block 1 (PRIVATE KEY): unexpected PEM block"),
        "{text}"
    );
    let text = message(format!("# revoked\n\n{}\nsha256:12\n", "ab".repeat(32)).as_bytes());
    assert!(
        text.contains("line 4: not a SHA-256 digest in hex"),
        "{text}"
    );

    let mut revocations = Revocations::new();
    let error = revocations.revoke_certificate(b"hello").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("revocation data \"certificate\": ")
    );
    let error = revocations.add_crl_der(b"hello").unwrap_err();
    assert!(error.to_string().starts_with("revocation data \"CRL\": "));
    assert!(revocations.is_empty());
}

/// A list of digests whose first digest starts with '0' (byte 0x30, the
/// first byte of a DER SEQUENCE) is still read as text: one digest in 16
/// starts so, and was taken for a DER CRL.
#[test]
fn a_digest_list_starting_with_zero_is_text_not_der() {
    let digest = format!("0{}", "a".repeat(63));
    let revocations =
        Revocations::parse("revoked.txt", format!("{digest}\n").as_bytes()).expect("a digest list");
    let mut expected = Revocations::new();
    let mut bytes = [0xaa_u8; 32];
    bytes[0] = 0x0a;
    expected.revoke_sha256(bytes);
    assert_eq!(revocations, expected);
}

// ---- X.509 version 1 (fixtures made with openssl: tests/fixtures/v1) -----
// Leaves valid 2024-2034, CAs 2020-2040; NOW is 2025-01-01.

fn v1_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/v1/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    ctl_format::Certificate::from_pem(&text)
        .unwrap()
        .der()
        .to_vec()
}

#[test]
fn v1_leaf_is_trusted_for_capf_authentication_directly_under_a_store_ca() {
    let ca = v1_fixture("rsa-ca.pem");
    let roots = [store(
        StoreKind::ManufacturingRoots,
        "lab-roots.pem",
        &[&ca],
    )];
    for name in ["mic-v1-sha256.pem", "mic-v1-sha1.pem"] {
        let mic = v1_fixture(name);
        let verdict = evaluate(&[&mic], &mic_auth(), &roots, NOW);
        assert!(verdict.trusted, "{name}: {verdict}");
        let anchor = verdict.anchor.as_ref().unwrap();
        assert_eq!(anchor.subject, "CN=Lab Phone CA");
        assert_eq!(anchor.sha256, sha256(&ca));
        assert!(!anchor.pinned);
        assert_eq!(verdict.chain.len(), 2);
        assert_eq!(verdict.chain[0].subject, "CN=CP-8845-SEP001122334455");
        // `capf trust explain` says how it was judged.
        let text = verdict.to_string();
        assert!(
            text.contains("is an X.509 version 1 certificate: its signature was verified directly under CN=Lab Phone CA"),
            "{text}"
        );
    }
    let lsc = v1_fixture("lsc-v1.pem");
    let verdict = evaluate(&[&lsc], &lsc_auth(), &capf_trust(&[&ca]), NOW);
    assert!(verdict.trusted, "{verdict}");

    // SHA-1 only on the MIC path.
    let sha1 = v1_fixture("lsc-v1-sha1.pem");
    assert!(evaluate(&[&sha1], &mic_auth(), &roots, NOW).trusted);
    let verdict = evaluate(&[&sha1], &lsc_auth(), &capf_trust(&[&ca]), NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::UnsupportedAlgorithm);
    assert!(fix.contains("SHA-1"), "{fix}");
    assert_eq!(
        verdict.failure.as_ref().unwrap().detail,
        "CN=SEP001122334455 is signed by CN=Lab Phone CA with SHA-1"
    );

    // A wrong device, and a bad signature, named as such.
    let verdict = evaluate(
        &[&lsc],
        &capf_auth(CapfCredential::Lsc, Some("SEP0011223344FF")),
        &capf_trust(&[&ca]),
        NOW,
    );
    assert_eq!(
        verdict.reason(),
        Some(TrustFailureReason::NameMismatch),
        "{verdict}"
    );
    let mut tampered = lsc.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let verdict = evaluate(&[&tampered], &lsc_auth(), &capf_trust(&[&ca]), NOW);
    assert_eq!(verdict.reason(), Some(TrustFailureReason::SignatureInvalid));
    assert_eq!(
        verdict.failure.as_ref().unwrap().detail,
        "signature of CN=SEP001122334455 does not verify under issuer CN=Lab Phone CA"
    );
}

#[test]
fn v1_leaf_is_refused_for_other_purposes_by_its_version() {
    let ca = v1_fixture("rsa-ca.pem");
    let lsc = v1_fixture("lsc-v1.pem");
    let stores = [store(StoreKind::CallManagerTrust, "cm-trust.pem", &[&ca])];
    let verdict = evaluate(&[&lsc], &tls_client(Some(DEVICE)), &stores, NOW);
    let (reason, fix) = failure_words(&verdict);
    assert_eq!(reason, TrustFailureReason::Version1);
    assert!(fix.contains("version 3"), "{fix}");
    assert_eq!(
        verdict.failure.as_ref().unwrap().detail,
        "CN=SEP001122334455 is an X.509 version 1 certificate; a version 1 leaf is accepted only for CAPF authentication, not for TLS client certificate"
    );
    assert!(verdict.to_string().contains("reason: x509-version-1"));
}

#[test]
fn v1_certificate_is_no_issuer_for_any_purpose() {
    let v1_ca = v1_fixture("v1-ca.pem");
    let refusal = "X.509 version 1 certificate CN=Lab v1 CA cannot act as an issuer (version 1 has no basicConstraints, so it is never a CA); it is the issuer named by CN=SEP001122334455";
    for (leaf, purpose, kind) in [
        ("v1-leaf-under-v1-ca.pem", lsc_auth(), StoreKind::CapfTrust),
        ("v3-leaf-under-v1-ca.pem", lsc_auth(), StoreKind::CapfTrust),
        (
            "v3-leaf-under-v1-ca.pem",
            tls_client(Some(DEVICE)),
            StoreKind::EnterpriseRoots,
        ),
    ] {
        let stores = [store(kind, "lab.pem", &[&v1_ca])];
        let verdict = evaluate(&[v1_fixture(leaf)], &purpose, &stores, NOW);
        let (reason, fix) = failure_words(&verdict);
        assert_eq!(reason, TrustFailureReason::Version1, "{leaf}: {verdict}");
        assert!(fix.contains("as a version 3 CA certificate"), "{fix}");
        assert_eq!(verdict.failure.as_ref().unwrap().detail, refusal);
    }
    // A version 1 intermediate presented after the leaf.
    let roots = [store(
        StoreKind::ManufacturingRoots,
        "lab-roots.pem",
        &[&v1_fixture("rsa-ca.pem")],
    )];
    let chain = [
        v1_fixture("mic-under-v1-intermediate.pem"),
        v1_fixture("v1-intermediate.pem"),
    ];
    let verdict = evaluate(&chain, &mic_auth(), &roots, NOW);
    assert_eq!(
        verdict.reason(),
        Some(TrustFailureReason::Version1),
        "{verdict}"
    );
    assert!(verdict.failure.as_ref().unwrap().detail.starts_with(
        "X.509 version 1 certificate CN=Lab v1 Manufacturing CA cannot act as an issuer"
    ));
}
