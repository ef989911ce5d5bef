//! LSC issuance against the profile of spec section 12 and the recorded
//! sessions: the phone keys come from KEY_GEN_RESPONSE frames of the vectors,
//! the RSA-2048 issuer from `install-password-rsa2048`, and the reference
//! server's own LSC (`pem.issued_certificate`) is the yardstick for the
//! subject and the extensions.

mod seeded;

use capf_core::issuance::{
    CertificateAuthority, IssuanceError, IssuedCertificate, LscIssuer, LscRequest,
};
use capf_core::time::Timestamp;
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use rand::SeedableRng;
use serde_json::Value;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};

const DEVICE: &str = "SEP001122334455";
const NOW_SECONDS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const NOW: Timestamp = Timestamp::from_unix_seconds(NOW_SECONDS);

const OID_CN: Oid = Oid::new_unwrap("2.5.4.3");
const OID_C: Oid = Oid::new_unwrap("2.5.4.6");
const OID_L: Oid = Oid::new_unwrap("2.5.4.7");
const OID_ST: Oid = Oid::new_unwrap("2.5.4.8");
const OID_O: Oid = Oid::new_unwrap("2.5.4.10");
const OID_OU: Oid = Oid::new_unwrap("2.5.4.11");
const OID_SAN: Oid = Oid::new_unwrap("2.5.29.17");
const OID_KU: Oid = Oid::new_unwrap("2.5.29.15");
const OID_EKU: Oid = Oid::new_unwrap("2.5.29.37");
const OID_BC: Oid = Oid::new_unwrap("2.5.29.19");
const OID_SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
const OID_CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
const OID_IPSEC_END_SYSTEM: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.5");
const OID_SHA256_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const OID_ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");

fn vector(name: &str) -> Value {
    let path = format!(
        "{}/../tests/vectors/capf/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pem_der(v: &Value, key: &str) -> Vec<u8> {
    der::pem::decode_vec(v["pem"][key].as_str().unwrap().as_bytes())
        .unwrap()
        .1
}

/// The PUBLIC_KEY element of the vector's KEY_GEN_RESPONSE.
fn phone_spki(v: &Value) -> Vec<u8> {
    let frame = v["decoded"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["command_name"] == "KEY_GEN_RESPONSE")
        .unwrap();
    let el = frame["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PUBLIC_KEY")
        .unwrap();
    hex::decode(el["value_hex"].as_str().unwrap()).unwrap()
}

fn vector_issuer() -> (LscIssuer, Vec<u8>) {
    let v = vector("install-password-rsa2048");
    let issuer = LscIssuer::from_pem(
        v["pem"]["issuer_certificate"].as_str().unwrap(),
        v["pem"]["issuer_private_key"].as_str().unwrap(),
    )
    .unwrap();
    (issuer, pem_der(&v, "issuer_certificate"))
}

fn request<'a>(spki: &'a [u8], days: u32) -> LscRequest<'a> {
    LscRequest {
        device_name: DEVICE,
        subject_public_key_info_der: spki,
        validity_days: days,
    }
}

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(7)
}

/// Verify `cert`'s signature with the public key of `issuer_der`.
fn verify_signature(cert_der: &[u8], issuer_der: &[u8]) {
    use p256::ecdsa::signature::Verifier;
    use rsa::pkcs8::DecodePublicKey;
    let cert = Certificate::from_der(cert_der).unwrap();
    let issuer = Certificate::from_der(issuer_der).unwrap();
    let tbs = cert.tbs_certificate.to_der().unwrap();
    let sig = cert.signature.raw_bytes();
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let alg = cert.signature_algorithm.oid;
    assert_eq!(alg, cert.tbs_certificate.signature.oid);
    if alg == OID_SHA256_RSA {
        let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
        let hash = <sha2::Sha256 as sha2::Digest>::digest(&tbs);
        key.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hash, sig)
            .expect("RSA signature verifies");
    } else if alg == OID_ECDSA_SHA256 {
        // SHA-256 with a P-256 key, and (as the reference signs) with a P-384 key.
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
            let sig = p256::ecdsa::Signature::from_der(sig).unwrap();
            key.verify(&tbs, &sig).expect("P-256 signature verifies");
        } else {
            use p384::ecdsa::signature::hazmat::PrehashVerifier;
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
            let sig = p384::ecdsa::Signature::from_der(sig).unwrap();
            let digest = <sha2::Sha256 as sha2::Digest>::digest(&tbs);
            key.verify_prehash(&digest, &sig)
                .expect("P-384 ECDSA-SHA256 signature verifies");
        }
    } else if alg == OID_ECDSA_SHA384 {
        let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
        let sig = p384::ecdsa::Signature::from_der(sig).unwrap();
        key.verify(&tbs, &sig).expect("P-384 signature verifies");
    } else {
        panic!("unexpected signature algorithm {alg}");
    }
}

/// Every profile item of spec section 12 that does not depend on the issuer.
fn check_profile(issued: &IssuedCertificate, issuer_der: &[u8], spki: &[u8], days: u32) {
    let cert = Certificate::from_der(&issued.der).unwrap();
    let issuer = Certificate::from_der(issuer_der).unwrap();
    let tbs = &cert.tbs_certificate;

    assert_eq!(tbs.version, x509_cert::Version::V3);

    // Serial: positive, at least 64 bits, as reported.
    let serial = tbs.serial_number.as_bytes();
    assert_eq!(serial, issued.serial.as_slice());
    assert!(serial.len() * 8 >= 64);
    assert_eq!(serial[0] & 0x80, 0, "positive");
    assert!(serial.iter().any(|b| *b != 0));

    // Issuer = the issuing certificate's subject, byte for byte.
    assert_eq!(
        tbs.issuer.to_der().unwrap(),
        issuer.tbs_certificate.subject.to_der().unwrap()
    );

    // Validity.
    let not_after_seconds = NOW_SECONDS + u64::from(days) * 86_400;
    assert_eq!(
        tbs.validity.not_before.to_unix_duration().as_secs(),
        NOW_SECONDS
    );
    assert_eq!(
        tbs.validity.not_after.to_unix_duration().as_secs(),
        not_after_seconds
    );
    assert_eq!(issued.not_before, NOW);
    assert_eq!(
        issued.not_after,
        Timestamp::from_unix_seconds(not_after_seconds)
    );

    // The phone's SPKI, byte for byte.
    assert_eq!(tbs.subject_public_key_info.to_der().unwrap(), spki);

    // Subject: CN = device name first, then the issuer's O/OU/L/ST/C in order.
    let rdns: Vec<_> = tbs.subject.0.iter().collect();
    assert!(rdns.iter().all(|r| r.0.len() == 1));
    let first = rdns[0].0.get(0).unwrap();
    assert_eq!(first.oid, OID_CN);
    assert_eq!(first.value.value(), DEVICE.as_bytes());
    let expected_rest: Vec<_> = issuer
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|r| r.0.iter())
        .filter(|a| [OID_O, OID_OU, OID_L, OID_ST, OID_C].contains(&a.oid))
        .map(|a| a.to_der().unwrap())
        .collect();
    let rest: Vec<_> = rdns[1..]
        .iter()
        .map(|r| r.0.get(0).unwrap().to_der().unwrap())
        .collect();
    assert_eq!(rest, expected_rest);

    // Extensions: exactly these four.
    let exts = tbs.extensions.as_ref().unwrap();
    assert_eq!(exts.len(), 4);
    let ext = |oid: Oid| exts.iter().find(|e| e.extn_id == oid).expect("extension");

    let bc = ext(OID_BC);
    assert!(bc.critical);
    let bc = BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap();
    assert!(!bc.ca);
    assert_eq!(bc.path_len_constraint, None);

    let ku = ext(OID_KU);
    assert!(ku.critical);
    let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
    assert_eq!(
        ku.0,
        KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment
    );

    let eku = ext(OID_EKU);
    assert!(!eku.critical);
    let eku = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes()).unwrap();
    assert_eq!(
        eku.0,
        [OID_SERVER_AUTH, OID_CLIENT_AUTH, OID_IPSEC_END_SYSTEM]
    );

    let san = ext(OID_SAN);
    assert!(!san.critical);
    let san = SubjectAltName::from_der(san.extn_value.as_bytes()).unwrap();
    assert_eq!(san.0.len(), 1);
    match &san.0[0] {
        GeneralName::UniformResourceIdentifier(uri) => assert_eq!(uri.as_str(), DEVICE),
        other => panic!("SAN is not a URI: {other:?}"),
    }

    verify_signature(&issued.der, issuer_der);
}

#[test]
fn rsa_issuer_rsa_phone_key_from_the_vector() {
    let v = vector("install-password-rsa2048");
    let (issuer, issuer_der) = vector_issuer();
    let spki = phone_spki(&v);
    let issued = issuer.issue(&request(&spki, 365), NOW, &mut rng()).unwrap();
    check_profile(&issued, &issuer_der, &spki, 365);

    let ours = Certificate::from_der(&issued.der).unwrap();
    assert_eq!(ours.signature_algorithm.oid, OID_SHA256_RSA);

    // Against the reference server's LSC for the same device, issuer and key:
    // same issuer, same subject bytes (CN, C, ST, L, O, OU), same SPKI, and the
    // same set of extensions with the same criticality and values.
    let reference = Certificate::from_der(&pem_der(&v, "issued_certificate")).unwrap();
    let (a, b) = (&ours.tbs_certificate, &reference.tbs_certificate);
    assert_eq!(a.issuer.to_der().unwrap(), b.issuer.to_der().unwrap());
    assert_eq!(a.subject.to_der().unwrap(), b.subject.to_der().unwrap());
    let order: Vec<Oid> = a
        .subject
        .0
        .iter()
        .map(|r| r.0.get(0).unwrap().oid)
        .collect();
    assert_eq!(order, [OID_CN, OID_C, OID_ST, OID_L, OID_O, OID_OU]);
    assert_eq!(
        a.subject_public_key_info.to_der().unwrap(),
        b.subject_public_key_info.to_der().unwrap()
    );
    let set = |c: &Certificate| {
        let mut v: Vec<_> = c
            .tbs_certificate
            .extensions
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.to_der().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(set(&ours), set(&reference));
    // Serial of the same size class as the reference's (16 or 17 content bytes).
    assert!((16..=17).contains(&b.serial_number.as_bytes().len()));
}

#[test]
fn rsa_issuer_ec_p256_phone_key_from_the_vector() {
    let v = vector("install-nullstring-ec-p256");
    let spki = phone_spki(&v);
    assert_eq!(spki.len(), 91); // spec 7.5
    let (issuer, issuer_der) = vector_issuer();
    let issued = issuer.issue(&request(&spki, 30), NOW, &mut rng()).unwrap();
    check_profile(&issued, &issuer_der, &spki, 30);
}

#[test]
fn rsa1024_phone_key_from_the_vector() {
    let v = vector("install-mic-auth-rsa1024");
    let spki = phone_spki(&v);
    assert_eq!(spki.len(), 162); // spec 7.7
    let (issuer, issuer_der) = vector_issuer();
    let issued = issuer
        .issue(&request(&spki, 3650), NOW, &mut rng())
        .unwrap();
    check_profile(&issued, &issuer_der, &spki, 3650);
}

/// A CA made with rcgen; the subject lists attributes in an unusual order and
/// includes one (emailAddress-like custom, and CN) that must be dropped.
fn rcgen_ca(
    alg: &'static rcgen::SignatureAlgorithm,
    signer: Option<(&rcgen::Issuer<'_, &rcgen::KeyPair>,)>,
    cn: &str,
) -> (rcgen::KeyPair, rcgen::CertificateParams, Vec<u8>) {
    let key = seeded::ec_key_for(alg);
    let mut p = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationalUnitName, "Voice");
    dn.push(rcgen::DnType::CommonName, cn);
    dn.push(
        rcgen::DnType::CountryName,
        rcgen::DnValue::PrintableString("NZ".try_into().unwrap()),
    );
    dn.push(
        rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
        rcgen::DnValue::Ia5String("pki@example.test".try_into().unwrap()),
    );
    dn.push(rcgen::DnType::OrganizationName, "Example Corp");
    dn.push(rcgen::DnType::LocalityName, "Auckland");
    p.distinguished_name = dn;
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let der = match signer {
        None => p.self_signed(&key).unwrap().der().to_vec(),
        Some((issuer,)) => p.signed_by(&key, issuer).unwrap().der().to_vec(),
    };
    (key, p, der)
}

#[test]
fn ec_p256_root_issuer() {
    let (key, _, ca_der) = rcgen_ca(&rcgen::PKCS_ECDSA_P256_SHA256, None, "Root");
    let issuer = LscIssuer::new(&ca_der, &key.serialize_der()).unwrap();
    let spki = phone_spki(&vector("install-password-rsa2048"));
    let issued = issuer.issue(&request(&spki, 365), NOW, &mut rng()).unwrap();
    check_profile(&issued, &ca_der, &spki, 365);
    let cert = Certificate::from_der(&issued.der).unwrap();
    assert_eq!(cert.signature_algorithm.oid, OID_ECDSA_SHA256);
    // Subject order follows the issuer: OU, C, O, L (CN and emailAddress dropped).
    let order: Vec<Oid> = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .map(|r| r.0.get(0).unwrap().oid)
        .collect();
    assert_eq!(order, [OID_CN, OID_OU, OID_C, OID_O, OID_L]);
}

/// Issue 8, defect 3: the reference signs with ECDSA-SHA256 under a P-384
/// issuer, and phones accept that form; so do we, under both providers.
#[test]
fn ec_p384_issuer_signs_with_sha256_as_the_reference() {
    let (key, _, ca_der) = rcgen_ca(&rcgen::PKCS_ECDSA_P384_SHA384, None, "Root 384");
    let issuer = LscIssuer::new(&ca_der, &key.serialize_der()).unwrap();
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    let issued = issuer.issue(&request(&spki, 365), NOW, &mut rng()).unwrap();
    check_profile(&issued, &ca_der, &spki, 365);
    let cert = Certificate::from_der(&issued.der).unwrap();
    assert_eq!(cert.signature_algorithm.oid, OID_ECDSA_SHA256);
    assert_eq!(cert.tbs_certificate.signature.oid, OID_ECDSA_SHA256);
    // No parameters, as RFC 5758 requires for ecdsa-with-SHA256.
    assert!(cert.signature_algorithm.parameters.is_none());
}

/// The DER assembly keeps the form the earlier rcgen-based issuer produced,
/// byte for byte (TBSCertificates recorded from it before the switch:
/// `tests/fixtures/golden_tbs.json`), including the GeneralizedTime from 2050.
#[test]
fn same_form_as_the_recorded_rcgen_certificates() {
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/golden_tbs.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let (issuer, _) = vector_issuer();
    let tbs_of = |issued: &IssuedCertificate| {
        let cert = Certificate::from_der(&issued.der).unwrap();
        (
            hex::encode(cert.tbs_certificate.to_der().unwrap()),
            hex::encode(cert.signature_algorithm.to_der().unwrap()),
        )
    };
    for (label, vector_name) in [
        ("rsa2048_issuer_rsa2048_phone", "install-password-rsa2048"),
        ("rsa2048_issuer_p256_phone", "install-nullstring-ec-p256"),
    ] {
        let spki = phone_spki(&vector(vector_name));
        let issued = issuer.issue(&request(&spki, 365), NOW, &mut rng()).unwrap();
        let (tbs, alg) = tbs_of(&issued);
        assert_eq!(tbs, golden[label].as_str().unwrap(), "{label}");
        assert_eq!(alg, golden[format!("{label}_sigalg")].as_str().unwrap());
    }
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    let issued = issuer
        .issue(
            &request(&spki, 3650),
            Timestamp::from_unix_seconds(2_524_608_000 - 86_400 * 100),
            &mut rand::rngs::StdRng::seed_from_u64(8),
        )
        .unwrap();
    assert_eq!(
        tbs_of(&issued).0,
        golden["rsa2048_issuer_p256_phone_2049_to_2059"]
            .as_str()
            .unwrap()
    );
}

#[test]
fn intermediate_issuer_chain() {
    let (root_key, root_params, root_der) = rcgen_ca(&rcgen::PKCS_ECDSA_P256_SHA256, None, "Root");
    let root = rcgen::Issuer::from_params(&root_params, &root_key);
    let (int_key, _, int_der) = rcgen_ca(
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Some((&root,)),
        "Intermediate",
    );
    let issuer = LscIssuer::new(&int_der, &int_key.serialize_der()).unwrap();
    assert_eq!(issuer.certificate_der(), int_der.as_slice());
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    let issued = issuer.issue(&request(&spki, 365), NOW, &mut rng()).unwrap();
    check_profile(&issued, &int_der, &spki, 365);

    // Chain: LSC issuer = intermediate subject != root subject; each link verifies.
    let lsc = Certificate::from_der(&issued.der).unwrap();
    let int = Certificate::from_der(&int_der).unwrap();
    let root = Certificate::from_der(&root_der).unwrap();
    assert_eq!(lsc.tbs_certificate.issuer, int.tbs_certificate.subject);
    assert_eq!(int.tbs_certificate.issuer, root.tbs_certificate.subject);
    assert_ne!(lsc.tbs_certificate.issuer, root.tbs_certificate.subject);
    verify_signature(&int_der, &root_der);
    verify_signature(&issued.der, &int_der);
}

#[test]
fn trait_object_and_fresh_serials() {
    let (issuer, _) = vector_issuer();
    let ca: &dyn CertificateAuthority = &issuer;
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    let mut r = rng();
    let a = ca.issue(&request(&spki, 1), NOW, &mut r).unwrap();
    let b = ca.issue(&request(&spki, 1), NOW, &mut r).unwrap();
    assert_ne!(a.serial, b.serial);
    // Same RNG state, same serial: the serial comes from the injected RNG only.
    let c = ca.issue(&request(&spki, 1), NOW, &mut rng()).unwrap();
    assert_eq!(a.serial, c.serial);
}

#[test]
fn milliseconds_of_now_are_dropped_from_the_validity() {
    let (issuer, _) = vector_issuer();
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    let issued = issuer
        .issue(&request(&spki, 1), NOW.plus_millis(999), &mut rng())
        .unwrap();
    let tbs = Certificate::from_der(&issued.der).unwrap().tbs_certificate;
    assert_eq!(
        tbs.validity.not_before.to_unix_duration().as_secs(),
        NOW_SECONDS
    );
    assert_eq!(issued.not_before, NOW);
    assert_eq!(
        issued.not_after.unix_millis(),
        (NOW_SECONDS + 86_400) * 1000
    );
}

#[test]
fn validity_bounds() {
    let (issuer, _) = vector_issuer();
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    for days in [0, 3651, u32::MAX] {
        assert!(matches!(
            issuer.issue(&request(&spki, days), NOW, &mut rng()),
            Err(IssuanceError::ValidityOutOfRange { days: d }) if d == days
        ));
    }
    assert!(issuer.issue(&request(&spki, 1), NOW, &mut rng()).is_ok());
    assert!(issuer.issue(&request(&spki, 3650), NOW, &mut rng()).is_ok());
    // Past the year 9999, and an overflowing `now`.
    assert!(matches!(
        issuer.issue(
            &request(&spki, 10),
            Timestamp::from_unix_seconds(253_402_300_000),
            &mut rng()
        ),
        Err(IssuanceError::TimeOutOfRange)
    ));
    assert!(matches!(
        issuer.issue(
            &request(&spki, 10),
            Timestamp::from_unix_millis(u64::MAX),
            &mut rng()
        ),
        Err(IssuanceError::TimeOutOfRange)
    ));
}

#[test]
fn bad_requests_are_rejected() {
    let (issuer, _) = vector_issuer();
    let spki = phone_spki(&vector("install-nullstring-ec-p256"));
    for name in [
        "",
        "SEP 001122334455",
        "SEP0011-22",
        "SEP\u{e9}",
        &"S".repeat(65),
    ] {
        let r = LscRequest {
            device_name: name,
            ..request(&spki, 365)
        };
        assert!(
            matches!(
                issuer.issue(&r, NOW, &mut rng()),
                Err(IssuanceError::InvalidDeviceName)
            ),
            "{name:?}"
        );
    }
    let mut trailing = spki.clone();
    trailing.push(0);
    let mut bad_point = spki.clone();
    let last = bad_point.len() - 1;
    bad_point[last] ^= 1; // no longer on the curve
    for bad in [
        &[][..],
        &[0x30, 0x00],
        &spki[..spki.len() - 1],
        &trailing,
        &bad_point,
    ] {
        assert!(
            matches!(
                issuer.issue(&request(bad, 365), NOW, &mut rng()),
                Err(IssuanceError::InvalidPublicKey)
            ),
            "{}",
            hex::encode(bad)
        );
    }
}

#[test]
fn bad_issuers_are_rejected() {
    let v = vector("install-password-rsa2048");
    let issuer_der = pem_der(&v, "issuer_certificate");
    let issuer_key = pem_der(&v, "issuer_private_key");

    // The key of another certificate.
    let mic = vector("install-lsc-auth-rsa");
    let other_key = pem_der(&mic, "auth_private_key");
    assert!(matches!(
        LscIssuer::new(&issuer_der, &other_key),
        Err(IssuanceError::IssuerKeyMismatch)
    ));
    // An RSA-1024 key: both providers refuse it.
    let small = pem_der(
        &vector("install-mic-auth-rsa1024"),
        "client_generated_private_key",
    );
    assert!(matches!(
        LscIssuer::new(&issuer_der, &small),
        Err(IssuanceError::IssuerKey)
    ));
    // Not a CA: an LSC (CA:FALSE) with its own key.
    assert!(matches!(
        LscIssuer::new(&pem_der(&mic, "auth_certificate"), &other_key),
        Err(IssuanceError::IssuerNotCa)
    ));
    // Garbage certificate.
    assert!(matches!(
        LscIssuer::new(&issuer_key, &issuer_key),
        Err(IssuanceError::IssuerCertificate(_))
    ));
    // The right pair still loads.
    LscIssuer::new(&issuer_der, &issuer_key).unwrap();
}
