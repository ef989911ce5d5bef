//! Rollover predictions on lists built from the vector keys, the certutils
//! vectors, the real Unified CM CTL and a freshly generated "renewed
//! CallManager" key. Expected verdicts follow the rules of spec
//! `tlv-files.md` sections 9 and 10 and the record layout each test builds.

mod seeded;

use capf_core::rollover::{
    Acceptance, Authority, CandidateList, InstalledLists, PhoneState, RejectionReason,
    RolloverError, RolloverVerdict, TvsKnowledge, kind_from_filename, predict, predict_fleet,
};
use ctl_format::trust_list::{RecordEntry, Role, TrustList, TrustListBuilder, TrustListKind, tag};
use ctl_format::{Certificate, HashAlgorithm, HashPolicy, RsaFileSigner};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(vectors().join(relative)).unwrap()
}

fn key_pem(name: &str) -> String {
    std::fs::read_to_string(vectors().join("tlv/keys").join(name)).unwrap()
}

fn certificate(name: &str) -> Certificate {
    Certificate::from_pem(&key_pem(name)).unwrap()
}

fn signer(name: &str) -> RsaFileSigner {
    RsaFileSigner::from_pem(&key_pem(name)).unwrap()
}

/// A certificate and the key that signs with it.
struct Identity {
    certificate: Certificate,
    signer: RsaFileSigner,
}

fn vector_identity(name: &str) -> Identity {
    Identity {
        certificate: certificate(name),
        signer: signer(name),
    }
}

/// The CallManager certificate after a renewal that made a new key: a fresh
/// RSA-2048 key (generated once per test binary) in a self-signed rcgen
/// certificate with the old certificate's host name.
fn renewed_callmanager() -> &'static Identity {
    static RENEWED: OnceLock<Identity> = OnceLock::new();
    RENEWED.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        let key = seeded::rsa_key(2048);
        let der = key.to_pkcs8_der().unwrap();
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &der.as_bytes().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .unwrap();
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cucm-pub.example.test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example Telecom");
        let issued = params.self_signed(&pair).unwrap();
        Identity {
            certificate: Certificate::from_der(issued.der()).unwrap(),
            signer: RsaFileSigner::new(key),
        }
    })
}

/// A new certificate for the key of vector `name` (a re-issued signer):
/// made by rcgen, with its own serial number.
fn reissued(name: &str, serial: u8) -> Certificate {
    let pair =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem(name), &rcgen::PKCS_RSA_SHA256)
            .unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "SAST Example Token 1 (re-issued)",
    );
    params.serial_number = Some(rcgen::SerialNumber::from(vec![0x3c, serial]));
    let issued = params.self_signed(&pair).unwrap();
    Certificate::from_der(issued.der()).unwrap()
}

fn build_with(
    kind: TrustListKind,
    identity: &Identity,
    hash: HashAlgorithm,
    records: &[(&Certificate, Role)],
) -> Vec<u8> {
    TrustListBuilder::new(
        kind,
        identity.certificate.clone(),
        &identity.signer,
        1_750_000_000,
    )
    .hash_algorithm(hash)
    .records(
        records
            .iter()
            .map(|(certificate, role)| RecordEntry::new((*certificate).clone(), *role)),
    )
    .build()
    .unwrap()
}

fn build(kind: TrustListKind, identity: &Identity, records: &[(&Certificate, Role)]) -> Vec<u8> {
    build_with(kind, identity, HashAlgorithm::Sha1, records)
}

/// A pre-12.0 ITL: signed by the TFTP server's CallManager certificate
/// (SAST and CCM+TFTP), listing ITLRecovery as SAST, CAPF and, when asked,
/// the TVS certificate. Records: 0 CCM (SAST), 1 CCM (CCM+TFTP),
/// 2 ITLRecovery (SAST), 3 CAPF, 4 TVS.
fn pre12_itl(with_tvs: bool) -> Vec<u8> {
    let ccm = certificate("ccm-tftp.pem");
    let recovery = certificate("itlrecovery.pem");
    let capf = certificate("capf.pem");
    let tvs = certificate("tvs.pem");
    let mut records = vec![
        (&ccm, Role::Sast),
        (&ccm, Role::CallManagerTftp),
        (&recovery, Role::Sast),
        (&capf, Role::Capf),
    ];
    if with_tvs {
        records.push((&tvs, Role::Tvs));
    }
    build(
        TrustListKind::Itl,
        &vector_identity("ccm-tftp.pem"),
        &records,
    )
}

/// The ITL a cluster publishes after renewing its CallManager certificate
/// with a new key, still signed (pre-12.0 style) by the CallManager key.
fn itl_signed_by_renewed_callmanager() -> Vec<u8> {
    let renewed = renewed_callmanager();
    let recovery = certificate("itlrecovery.pem");
    let tvs = certificate("tvs.pem");
    build(
        TrustListKind::Itl,
        renewed,
        &[
            (&renewed.certificate, Role::Sast),
            (&renewed.certificate, Role::CallManagerTftp),
            (&recovery, Role::Sast),
            (&tvs, Role::Tvs),
        ],
    )
}

fn itl(bytes: &[u8]) -> CandidateList<'_> {
    CandidateList {
        kind: TrustListKind::Itl,
        bytes,
    }
}

fn ctl(bytes: &[u8]) -> CandidateList<'_> {
    CandidateList {
        kind: TrustListKind::Ctl,
        bytes,
    }
}

fn cisco(
    installed: InstalledLists<'_>,
    candidate: CandidateList<'_>,
) -> capf_core::rollover::Prediction {
    predict(installed, candidate, None, HashPolicy::CISCO).unwrap()
}

fn rejected(prediction: &capf_core::rollover::Prediction) -> (RejectionReason, &str) {
    match &prediction.verdict {
        RolloverVerdict::Rejected { reason, detail } => (*reason, detail.as_str()),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn accepted(prediction: &capf_core::rollover::Prediction) -> &Acceptance {
    match &prediction.verdict {
        RolloverVerdict::Accepted(how) => how,
        other => panic!(
            "expected an acceptance, got {other:?}: {}",
            prediction.explanation
        ),
    }
}

#[test]
fn a_phone_with_nothing_takes_the_first_list_it_gets() {
    let candidate = read("tlv/itl-sha1.tlv");
    let prediction = cisco(InstalledLists::NOTHING, itl(&candidate));
    assert_eq!(accepted(&prediction), &Acceptance::FirstUse);
    assert_eq!(prediction.authority, Authority::Nothing);
    assert_eq!(prediction.outcome, "installs the new ITL");
    assert_eq!(prediction.fix, None);
    let signer = prediction.signer.unwrap();
    // itl-sha1.tlv is signed by the ITLRecovery key, record 0 (sidecar).
    assert_eq!(signer.record_index, Some(0));
    assert!(
        signer
            .subject
            .unwrap()
            .starts_with("CN=ITLRECOVERY_cucm-pub")
    );
    assert_eq!(signer.hash_algorithm, HashAlgorithm::Sha1);
}

#[test]
fn first_use_still_refuses_a_damaged_list() {
    for damaged in ["tlv/ctl-sha1-badsig.tlv", "tlv/ctl-sha1-tampered.tlv"] {
        let candidate = read(damaged);
        let prediction = cisco(InstalledLists::NOTHING, ctl(&candidate));
        assert_eq!(
            rejected(&prediction).0,
            RejectionReason::SignatureInvalid,
            "{damaged}"
        );
        assert_eq!(
            prediction.outcome,
            "stays without any trust list: the CTL is refused"
        );
    }
}

#[test]
fn same_signer_is_accepted_by_certificate() {
    let installed = read("tlv/ctl-sha1.tlv");
    let sast = vector_identity("sast.pem");
    let candidate = build(
        TrustListKind::Ctl,
        &sast,
        &[
            (&sast.certificate, Role::Sast),
            (&certificate("ccm-tftp.pem"), Role::CallManagerTftp),
        ],
    );
    let prediction = cisco(InstalledLists::ctl(&installed), ctl(&candidate));
    let Acceptance::SignedBySameCertificate { installed: record } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(record.list, TrustListKind::Ctl);
    assert_eq!(record.index, 0);
    assert_eq!(record.role, Role::Sast);
    assert!(
        record
            .subject
            .as_deref()
            .unwrap()
            .starts_with("CN=SAST Example Token 1")
    );
    assert_eq!(prediction.authority, Authority::Ctl);
    assert_eq!(
        prediction.outcome,
        "installs the new CTL in place of its old one"
    );
}

#[test]
fn a_new_signer_listed_as_sast_by_the_old_list_is_accepted() {
    // ctl-sha1.tlv is signed by token 1 and lists token 2 as SAST (record 1).
    let installed = read("tlv/ctl-sha1.tlv");
    let token2 = vector_identity("sast2.pem");
    let candidate = build(
        TrustListKind::Ctl,
        &token2,
        &[(&token2.certificate, Role::Sast)],
    );
    let prediction = cisco(InstalledLists::ctl(&installed), ctl(&candidate));
    let Acceptance::SignedBySameCertificate { installed: record } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(record.index, 1);
    assert!(
        record
            .subject
            .as_deref()
            .unwrap()
            .starts_with("CN=SAST Example Token 2")
    );
}

#[test]
fn a_reissued_signer_with_the_same_key_is_accepted_by_key() {
    let installed = read("tlv/ctl-sha1.tlv");
    let reissued = Identity {
        certificate: reissued("sast.pem", 7),
        signer: signer("sast.pem"),
    };
    assert_ne!(reissued.certificate.der(), certificate("sast.pem").der());
    let candidate = build(
        TrustListKind::Ctl,
        &reissued,
        &[(&reissued.certificate, Role::Sast)],
    );
    let prediction = cisco(InstalledLists::ctl(&installed), ctl(&candidate));
    let Acceptance::SignedBySameKey { installed: record } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(record.index, 0);
    assert!(prediction.explanation.contains("re-issued"));
    assert!(
        prediction
            .signer
            .unwrap()
            .subject
            .unwrap()
            .contains("re-issued")
    );
}

#[test]
fn a_renewed_callmanager_key_with_nothing_vouching_strands_the_phone() {
    let installed = pre12_itl(true);
    let candidate = itl_signed_by_renewed_callmanager();
    let prediction = cisco(InstalledLists::itl(&installed), itl(&candidate));
    let (reason, detail) = rejected(&prediction);
    assert_eq!(reason, RejectionReason::SignerUnknown);
    assert!(detail.contains("does not hold"), "{detail}");
    assert_eq!(
        prediction.outcome,
        "keeps its old ITL: Trust List Update Failed"
    );
    let fix = prediction.fix.unwrap();
    // The fix names the installed SASTs (old signer and ITLRecovery), TVS
    // (the installed ITL lists a TVS certificate) and the last resort.
    assert!(fix.contains("CN=cucm-pub.example.test"), "{fix}");
    assert!(fix.contains("CN=ITLRECOVERY_cucm-pub"), "{fix}");
    assert!(fix.contains("TVS"), "{fix}");
    assert!(fix.contains("deleted on each phone"), "{fix}");
}

#[test]
fn itlrecovery_continuity_carries_a_pre12_phone_to_a_12x_itl() {
    // The 12.0-style vector ITL is signed by ITLRecovery, which the
    // pre-12.0 ITL lists as SAST (record 2).
    let installed = pre12_itl(true);
    let candidate = read("tlv/itl-sha1.tlv");
    let prediction = cisco(InstalledLists::itl(&installed), itl(&candidate));
    let Acceptance::SignedBySameCertificate { installed: record } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(record.list, TrustListKind::Itl);
    assert_eq!(record.index, 2);
    assert!(
        record
            .subject
            .as_deref()
            .unwrap()
            .starts_with("CN=ITLRECOVERY_")
    );
    // And the renewed CallManager's ITL, had it been signed by ITLRecovery.
    let renewed = renewed_callmanager();
    let recovery = vector_identity("itlrecovery.pem");
    let candidate = build(
        TrustListKind::Itl,
        &recovery,
        &[
            (&recovery.certificate, Role::Sast),
            (&renewed.certificate, Role::CallManagerTftp),
            (&certificate("tvs.pem"), Role::Tvs),
        ],
    );
    let prediction = cisco(InstalledLists::itl(&installed), itl(&candidate));
    assert!(prediction.is_accepted(), "{}", prediction.explanation);
}

#[test]
fn a_signer_held_only_as_callmanager_tftp_is_not_enough() {
    // itl-sha1.tlv holds the CallManager certificate as CCM+TFTP only.
    let installed = read("tlv/itl-sha1.tlv");
    let ccm = vector_identity("ccm-tftp.pem");
    let candidate = build(TrustListKind::Itl, &ccm, &[(&ccm.certificate, Role::Sast)]);
    let prediction = cisco(InstalledLists::itl(&installed), itl(&candidate));
    let (reason, detail) = rejected(&prediction);
    assert_eq!(reason, RejectionReason::SignerNotSast);
    assert!(detail.contains("only as CCM+TFTP"), "{detail}");
}

fn tvs_knowing_renewed(roles: Vec<Role>, revoked: bool) -> TvsKnowledge {
    let mut tvs = TvsKnowledge::new();
    tvs.insert(renewed_callmanager().certificate.der(), roles, revoked);
    // Something unrelated, to show the lookup is by certificate.
    tvs.insert(certificate("app-server.pem").der(), vec![Role::Sast], false);
    tvs
}

#[test]
fn tvs_vouches_for_a_renewed_signer_when_the_itl_lists_tvs() {
    let installed = pre12_itl(true);
    let candidate = itl_signed_by_renewed_callmanager();
    let tvs = tvs_knowing_renewed(vec![Role::CallManagerTftp], false);
    let prediction = predict(
        InstalledLists::itl(&installed),
        itl(&candidate),
        Some(&tvs),
        HashPolicy::CISCO,
    )
    .unwrap();
    let Acceptance::VouchedByTvs { roles, tvs_record } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(roles, &[Role::CallManagerTftp]);
    assert_eq!(tvs_record.index, 4);
    assert_eq!(tvs_record.role, Role::Tvs);
    assert!(
        tvs_record
            .subject
            .as_deref()
            .unwrap()
            .starts_with("CN=tvs.example.test")
    );
    assert_eq!(prediction.authority, Authority::Itl);
}

#[test]
fn tvs_cannot_help_a_phone_whose_itl_lists_no_tvs() {
    let installed = pre12_itl(false);
    let candidate = itl_signed_by_renewed_callmanager();
    let tvs = tvs_knowing_renewed(vec![Role::Sast, Role::CallManagerTftp], false);
    let prediction = predict(
        InstalledLists::itl(&installed),
        itl(&candidate),
        Some(&tvs),
        HashPolicy::CISCO,
    )
    .unwrap();
    let (reason, detail) = rejected(&prediction);
    assert_eq!(reason, RejectionReason::TvsUnreachable);
    assert!(detail.contains("no TVS certificate"), "{detail}");
    assert_eq!(
        prediction.outcome,
        "keeps its old ITL: Trust List Update Failed"
    );
}

#[test]
fn tvs_answers_that_do_not_vouch() {
    let installed = pre12_itl(true);
    let candidate = itl_signed_by_renewed_callmanager();
    let cases = [
        (
            tvs_knowing_renewed(vec![Role::CallManagerTftp], true),
            RejectionReason::TvsRevoked,
        ),
        // Known, but only with roles that do not sign trust lists.
        (
            tvs_knowing_renewed(vec![Role::Capf, Role::ApplicationServer], false),
            RejectionReason::SignerUnknown,
        ),
        (TvsKnowledge::new(), RejectionReason::SignerUnknown),
    ];
    for (tvs, expected) in cases {
        let prediction = predict(
            InstalledLists::itl(&installed),
            itl(&candidate),
            Some(&tvs),
            HashPolicy::CISCO,
        )
        .unwrap();
        assert_eq!(rejected(&prediction).0, expected, "{tvs:?}");
    }
}

#[test]
fn the_ctl_decides_when_a_phone_holds_both_and_tvs_is_not_asked() {
    // ctl-sha1.tlv does not hold ITLRecovery; the pre-12.0 ITL does.
    let installed_ctl = read("tlv/ctl-sha1.tlv");
    let installed_itl = pre12_itl(true);
    let candidate = read("tlv/itl-sha1.tlv");
    let both = InstalledLists::itl(&installed_itl).with_ctl(&installed_ctl);
    let mut tvs = TvsKnowledge::new();
    tvs.insert(
        certificate("itlrecovery.pem").der(),
        vec![Role::Sast],
        false,
    );
    let prediction = predict(both, itl(&candidate), Some(&tvs), HashPolicy::CISCO).unwrap();
    assert_eq!(prediction.authority, Authority::Ctl);
    let (reason, detail) = rejected(&prediction);
    assert_eq!(reason, RejectionReason::SignerUnknown);
    assert!(detail.contains("does not ask TVS"), "{detail}");
    assert!(detail.contains("CTL takes precedence"), "{detail}");
    assert_eq!(
        prediction.outcome,
        "keeps its old ITL: Trust List Update Failed"
    );
    // The same phone without its CTL accepts it.
    let itl_only = cisco(InstalledLists::itl(&installed_itl), itl(&candidate));
    assert!(itl_only.is_accepted());
    // A new ITL signed by a SAST of the CTL is accepted through the CTL.
    let sast = vector_identity("sast.pem");
    let candidate = build(
        TrustListKind::Itl,
        &sast,
        &[(&sast.certificate, Role::Sast)],
    );
    let prediction = cisco(both, itl(&candidate));
    let Acceptance::SignedBySameCertificate { installed } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(installed.list, TrustListKind::Ctl);
}

#[test]
fn an_itl_only_phone_checks_its_first_ctl_against_the_itl() {
    let installed = read("tlv/itl-sha1.tlv");
    // ctl-sha1.tlv is signed by SAST token 1, which the ITL does not hold.
    let candidate = read("tlv/ctl-sha1.tlv");
    let prediction = cisco(InstalledLists::itl(&installed), ctl(&candidate));
    assert_eq!(prediction.authority, Authority::Itl);
    assert_eq!(rejected(&prediction).0, RejectionReason::SignerUnknown);
    assert_eq!(
        prediction.outcome,
        "stays without a CTL and keeps its ITL: Trust List Update Failed"
    );
    // TVS, reached through the ITL's TVS record, may vouch for a CTL signer.
    let mut tvs = TvsKnowledge::new();
    tvs.insert(certificate("sast.pem").der(), vec![Role::Sast], false);
    let prediction = predict(
        InstalledLists::itl(&installed),
        ctl(&candidate),
        Some(&tvs),
        HashPolicy::CISCO,
    )
    .unwrap();
    assert!(matches!(
        accepted(&prediction),
        Acceptance::VouchedByTvs { tvs_record, .. } if tvs_record.index == 3
    ));
}

#[test]
fn a_ctl_only_phone_never_asks_tvs() {
    let installed = read("tlv/ctl-sha1.tlv");
    let candidate = read("tlv/itl-sha1.tlv");
    let mut tvs = TvsKnowledge::new();
    tvs.insert(
        certificate("itlrecovery.pem").der(),
        vec![Role::Sast],
        false,
    );
    let prediction = predict(
        InstalledLists::ctl(&installed),
        itl(&candidate),
        Some(&tvs),
        HashPolicy::CISCO,
    )
    .unwrap();
    assert_eq!(rejected(&prediction).0, RejectionReason::SignerUnknown);
    assert_eq!(
        prediction.outcome,
        "stays without an ITL and keeps its CTL: Trust List Update Failed"
    );
}

#[test]
fn damaged_candidates_are_refused_whatever_the_phone_holds() {
    let installed = read("tlv/ctl-sha1.tlv");
    for (file, expected) in [
        ("tlv/ctl-sha1-badsig.tlv", RejectionReason::SignatureInvalid),
        (
            "tlv/ctl-sha1-tampered.tlv",
            RejectionReason::SignatureInvalid,
        ),
        (
            "tlv/itl-sha1-truncated.tlv",
            RejectionReason::CandidateMalformed,
        ),
        ("tlv/README.md", RejectionReason::CandidateMalformed),
    ] {
        let candidate = read(file);
        let prediction = cisco(InstalledLists::ctl(&installed), ctl(&candidate));
        assert_eq!(rejected(&prediction).0, expected, "{file}");
        assert_eq!(
            prediction.outcome,
            "keeps its old CTL: Trust List Update Failed"
        );
        assert!(prediction.fix.is_some());
    }
    // The truncated vector is cut inside a record: the detail carries the offset.
    let candidate = read("tlv/itl-sha1-truncated.tlv");
    let prediction = cisco(InstalledLists::NOTHING, itl(&candidate));
    assert!(rejected(&prediction).1.contains("offset"));
}

#[test]
fn a_candidate_that_does_not_list_its_signer_as_sast_is_refused() {
    let sast = vector_identity("sast.pem");
    let mut candidate = build(
        TrustListKind::Ctl,
        &sast,
        &[(&sast.certificate, Role::Sast)],
    );
    // Turn the signer's record into a CCM record (role 0 -> 1).
    let role_offset = {
        let list = TrustList::parse(&candidate).unwrap();
        list.records()[0].element(tag::ROLE).unwrap().offset + 3
    };
    candidate[role_offset + 1] = 1;
    let prediction = cisco(InstalledLists::NOTHING, ctl(&candidate));
    assert_eq!(rejected(&prediction).0, RejectionReason::SignerNotListed);
}

#[test]
fn digest_policy_of_the_phone() {
    let installed = read("tlv/ctl-sha1.tlv");
    let sha512 = read("tlv/ctl-sha512.tlv");
    let sha1 = read("tlv/ctl-sha1.tlv");
    let strict = |candidate: &[u8]| {
        predict(
            InstalledLists::ctl(&installed),
            ctl(candidate),
            None,
            HashPolicy::SHA512_ONLY,
        )
        .unwrap()
    };
    assert!(strict(&sha512).is_accepted());
    assert_eq!(
        strict(&sha1).rejection_reason(),
        Some(RejectionReason::HashNotSupported)
    );
    // Both Cisco digests pass the Cisco policy; SHA-256 (code 2) does not.
    assert!(cisco(InstalledLists::ctl(&installed), ctl(&sha1)).is_accepted());
    let sast = vector_identity("sast.pem");
    let sha256 = build_with(
        TrustListKind::Ctl,
        &sast,
        HashAlgorithm::Sha256,
        &[(&sast.certificate, Role::Sast)],
    );
    let prediction = cisco(InstalledLists::ctl(&installed), ctl(&sha256));
    assert_eq!(
        prediction.rejection_reason(),
        Some(RejectionReason::HashNotSupported)
    );
    assert!(prediction.explanation.contains("sha256"));
}

#[test]
fn the_real_cisco_ctl_as_candidate_and_as_installed_list() {
    let real = read("real/cucm/CTLFile.tlv");
    let real_list = TrustList::parse(&real).unwrap();
    // Its signer, gigantic-6, is record 0 (SAST).
    let gigantic = real_list.records()[0].certificate().unwrap().unwrap();
    // A phone whose CTL (signed by our token) lists gigantic-6 as SAST
    // accepts the Cisco CTL.
    let sast = vector_identity("sast.pem");
    let ours = build(
        TrustListKind::Ctl,
        &sast,
        &[(&sast.certificate, Role::Sast), (&gigantic, Role::Sast)],
    );
    let prediction = cisco(InstalledLists::ctl(&ours), ctl(&real));
    let Acceptance::SignedBySameCertificate { installed } = accepted(&prediction) else {
        panic!("{prediction:?}");
    };
    assert_eq!(installed.index, 1);
    assert_eq!(
        installed.subject.as_deref(),
        Some("CN=gigantic-6.cisco.com;OU=VTG;O=Alpha;L=SJ;ST=CA;C=US")
    );
    // A phone holding the Cisco CTL refuses our ITL, even with TVS
    // vouching: the CTL decides. The fix names both of its SASTs.
    let candidate = build(
        TrustListKind::Itl,
        &sast,
        &[(&sast.certificate, Role::Sast)],
    );
    let mut tvs = TvsKnowledge::new();
    tvs.insert(sast.certificate.der(), vec![Role::Sast], false);
    let prediction = predict(
        InstalledLists::ctl(&real),
        itl(&candidate),
        Some(&tvs),
        HashPolicy::CISCO,
    )
    .unwrap();
    assert_eq!(rejected(&prediction).0, RejectionReason::SignerUnknown);
    let fix = prediction.fix.unwrap();
    assert!(fix.contains("CN=gigantic-6.cisco.com"), "{fix}");
    assert!(fix.contains("CN=ITLRECOVERY_gigantic-6.cisco.com"), "{fix}");
}

#[test]
fn a_fleet_shows_which_phones_would_be_stranded() {
    let with_tvs = pre12_itl(true);
    let without_tvs = pre12_itl(false);
    let candidate = itl_signed_by_renewed_callmanager();
    let tvs = tvs_knowing_renewed(vec![Role::CallManagerTftp], false);
    let phones = [
        PhoneState {
            label: "new phones".into(),
            installed: InstalledLists::NOTHING,
        },
        PhoneState {
            label: "itl-with-tvs".into(),
            installed: InstalledLists::itl(&with_tvs),
        },
        PhoneState {
            label: "itl-without-tvs".into(),
            installed: InstalledLists::itl(&without_tvs),
        },
    ];
    let fleet = predict_fleet(&phones, itl(&candidate), Some(&tvs), HashPolicy::CISCO).unwrap();
    assert!(!fleet.all_accept());
    assert_eq!(fleet.stranded(), ["itl-without-tvs"]);
    let codes: Vec<&str> = fleet
        .phones
        .iter()
        .map(|(_, prediction)| match &prediction.verdict {
            RolloverVerdict::Accepted(how) => how.code(),
            RolloverVerdict::Rejected { reason, .. } => reason.code(),
            _ => "other",
        })
        .collect();
    assert_eq!(codes, ["first-use", "vouched-by-tvs", "tvs-unreachable"]);
}

#[test]
fn an_unreadable_installed_list_is_an_error_not_a_verdict() {
    let truncated = read("tlv/itl-sha1-truncated.tlv");
    let candidate = read("tlv/itl-sha1.tlv");
    let error = predict(
        InstalledLists::itl(&truncated),
        itl(&candidate),
        None,
        HashPolicy::CISCO,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        RolloverError::InstalledMalformed {
            kind: TrustListKind::Itl,
            ..
        }
    ));
    assert!(error.to_string().contains("installed ITL"));
}

#[test]
fn warnings_for_what_phones_are_reported_to_refuse_later() {
    let sast = vector_identity("sast.pem");
    let token2 = certificate("sast2.pem");
    let recovery = certificate("itlrecovery.pem");
    let candidate = build(
        TrustListKind::Itl,
        &sast,
        &[
            (&sast.certificate, Role::Sast),
            (&token2, Role::Sast),
            (&recovery, Role::Sast),
        ],
    );
    let prediction = cisco(InstalledLists::NOTHING, itl(&candidate));
    assert!(prediction.is_accepted());
    assert_eq!(prediction.warnings.len(), 2, "{:?}", prediction.warnings);
    assert!(prediction.warnings[0].contains("3 SAST records"));
    assert!(prediction.warnings[1].contains("no TVS certificate"));
    // The vectors themselves draw no warning.
    let vector = read("tlv/itl-sha1.tlv");
    assert_eq!(
        cisco(InstalledLists::NOTHING, itl(&vector)).warnings,
        Vec::<String>::new()
    );
}

#[test]
fn kinds_come_from_the_filename_element() {
    for (file, kind) in [
        ("tlv/ctl-sha1.tlv", Some(TrustListKind::Ctl)),
        ("tlv/itl-sha1.tlv", Some(TrustListKind::Itl)),
        ("real/cucm/CTLFile.tlv", Some(TrustListKind::Ctl)),
    ] {
        let bytes = read(file);
        assert_eq!(kind_from_filename(&TrustList::parse(&bytes).unwrap()), kind);
    }
    let sast = vector_identity("sast.pem");
    let odd = TrustListBuilder::new(
        TrustListKind::Ctl,
        sast.certificate.clone(),
        &sast.signer,
        1,
    )
    .filename("trust.bin")
    .record(RecordEntry::new(sast.certificate.clone(), Role::Sast))
    .build()
    .unwrap();
    assert_eq!(kind_from_filename(&TrustList::parse(&odd).unwrap()), None);
    let per_device = TrustListBuilder::new(
        TrustListKind::Itl,
        sast.certificate.clone(),
        &sast.signer,
        1,
    )
    .filename("ITLSEP0011223344AA.tlv")
    .record(RecordEntry::new(sast.certificate.clone(), Role::Sast))
    .build()
    .unwrap();
    assert_eq!(
        kind_from_filename(&TrustList::parse(&per_device).unwrap()),
        Some(TrustListKind::Itl)
    );
}
