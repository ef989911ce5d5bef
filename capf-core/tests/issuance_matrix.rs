//! Every phone key the CAPF scheduling accepts (`KeyRequest::is_valid`: RSA
//! 512, 1024, 2048, 3072, 4096 and EC P-256, P-384, P-521) certified by an
//! RSA-2048, an EC P-256 and an EC P-384 issuer, under the crypto provider
//! compiled in (`scripts/test-all.sh` runs this file with aws-lc-rs and again
//! with ring alone).
//!
//! Each certificate is read with x509-parser (not the code that assembled it)
//! and its signature checked with the RustCrypto `rsa`, `p256` and `p384`
//! crates (neither provider). Keys are fixtures made with OpenSSL
//! (`tests/fixtures/README.md`).

use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::issuance::{CertificateAuthority, IssuanceError, LscIssuer, LscRequest};
use capf_core::time::Timestamp;
use rand::SeedableRng;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

const DEVICE: &str = "SEP00AABBCCDDEE";
const NOW_SECONDS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAYS: u32 = 730;

const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// The phone keys, with the key request each answers.
fn phone_keys() -> Vec<(KeyRequest, Vec<u8>)> {
    let mut keys: Vec<(KeyRequest, Vec<u8>)> = [512, 1024, 2048, 3072, 4096]
        .into_iter()
        .map(|bits| {
            (
                KeyRequest::Rsa { bits },
                fixture(&format!("phone-rsa{bits}.spki.der")),
            )
        })
        .collect();
    for (curve, name) in [
        (Curve::P256, "p256"),
        (Curve::P384, "p384"),
        (Curve::P521, "p521"),
    ] {
        keys.push((
            KeyRequest::Ec(curve),
            fixture(&format!("phone-ec-{name}.spki.der")),
        ));
    }
    keys
}

#[derive(Clone, Copy, Debug)]
enum IssuerKind {
    Rsa2048,
    P256,
    P384,
}

/// (kind, issuer, issuing certificate DER).
fn issuers() -> Vec<(IssuerKind, LscIssuer, Vec<u8>)> {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../tests/vectors/capf/install-password-rsa2048.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let rsa_cert = v["pem"]["issuer_certificate"].as_str().unwrap();
    let rsa =
        LscIssuer::from_pem(rsa_cert, v["pem"]["issuer_private_key"].as_str().unwrap()).unwrap();
    let rsa_der = der::pem::decode_vec(rsa_cert.as_bytes()).unwrap().1;
    let mut out = vec![(IssuerKind::Rsa2048, rsa, rsa_der)];
    for (kind, name) in [(IssuerKind::P256, "p256"), (IssuerKind::P384, "p384")] {
        let cert = fixture_text(&format!("issuer-ec-{name}.cert.pem"));
        let key = fixture_text(&format!("issuer-ec-{name}.key.pem"));
        let issuer = LscIssuer::from_pem(&cert, &key).unwrap();
        out.push((
            kind,
            issuer,
            der::pem::decode_vec(cert.as_bytes()).unwrap().1,
        ));
    }
    out
}

/// Check `signature` over `tbs` with the issuer's SPKI, outside both
/// providers: RSA PKCS#1 v1.5 SHA-256, or ECDSA with **SHA-256** on P-256 and
/// P-384 alike.
fn verify_independently(kind: IssuerKind, issuer_spki: &[u8], tbs: &[u8], signature: &[u8]) {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use rsa::pkcs8::DecodePublicKey;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(tbs);
    match kind {
        IssuerKind::Rsa2048 => rsa::RsaPublicKey::from_public_key_der(issuer_spki)
            .unwrap()
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, signature)
            .expect("RSA-SHA256 signature verifies"),
        IssuerKind::P256 => p256::ecdsa::VerifyingKey::from_public_key_der(issuer_spki)
            .unwrap()
            .verify_prehash(
                &digest,
                &p256::ecdsa::Signature::from_der(signature).unwrap(),
            )
            .expect("P-256 ECDSA-SHA256 signature verifies"),
        IssuerKind::P384 => p384::ecdsa::VerifyingKey::from_public_key_der(issuer_spki)
            .unwrap()
            .verify_prehash(
                &digest,
                &p384::ecdsa::Signature::from_der(signature).unwrap(),
            )
            .expect("P-384 ECDSA-SHA256 signature verifies"),
    }
}

#[test]
fn every_phone_key_kind_with_every_issuer_kind() {
    let phone_keys = phone_keys();
    // Every kind the scheduling accepts is in the matrix.
    for request in [
        KeyRequest::Rsa { bits: 512 },
        KeyRequest::Rsa { bits: 1024 },
        KeyRequest::Rsa { bits: 2048 },
        KeyRequest::Rsa { bits: 3072 },
        KeyRequest::Rsa { bits: 4096 },
        KeyRequest::Ec(Curve::P256),
        KeyRequest::Ec(Curve::P384),
        KeyRequest::Ec(Curve::P521),
    ] {
        assert!(request.is_valid(), "{request}");
        assert!(phone_keys.iter().any(|(r, _)| *r == request), "{request}");
    }
    eprintln!("crypto provider: {}", capf_core::crypto_provider::NAME);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x813);
    let mut checked = 0;
    for (kind, issuer, issuer_der) in issuers() {
        let (_, issuer_cert) = X509Certificate::from_der(&issuer_der).unwrap();
        let issuer_spki = issuer_cert.tbs_certificate.subject_pki.raw;
        let expected_algorithm = match kind {
            IssuerKind::Rsa2048 => SHA256_WITH_RSA,
            IssuerKind::P256 | IssuerKind::P384 => ECDSA_WITH_SHA256,
        };
        for (request, spki) in &phone_keys {
            let what = format!(
                "{request} phone key, {kind:?} issuer, {}",
                capf_core::crypto_provider::NAME
            );
            let issued = issuer
                .issue(
                    &LscRequest {
                        device_name: DEVICE,
                        subject_public_key_info_der: spki,
                        validity_days: DAYS,
                    },
                    Timestamp::from_unix_seconds(NOW_SECONDS),
                    &mut rng,
                )
                .unwrap_or_else(|e| panic!("{what}: {e}"));

            let (rest, cert) = X509Certificate::from_der(&issued.der)
                .unwrap_or_else(|e| panic!("{what}: x509-parser: {e}"));
            assert!(rest.is_empty(), "{what}: trailing bytes");
            let tbs = &cert.tbs_certificate;
            assert_eq!(tbs.version.0, 2, "{what}: v3");
            // Exactly the phone's key.
            assert_eq!(tbs.subject_pki.raw, spki.as_slice(), "{what}: SPKI");
            // The issuer's signature algorithm, in both places.
            assert_eq!(
                cert.signature_algorithm.algorithm.to_id_string(),
                expected_algorithm,
                "{what}"
            );
            assert_eq!(
                tbs.signature.algorithm.to_id_string(),
                expected_algorithm,
                "{what}"
            );
            // Chain link: issuer name = issuing subject, byte for byte.
            assert_eq!(
                tbs.issuer.as_raw(),
                issuer_cert.subject().as_raw(),
                "{what}"
            );
            // Subject CN, serial and validity as reported.
            let cn: Vec<_> = tbs
                .subject
                .iter_common_name()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect();
            assert_eq!(cn, [DEVICE], "{what}");
            assert_eq!(tbs.raw_serial(), issued.serial.as_slice(), "{what}");
            assert_eq!(tbs.validity.not_before.timestamp(), NOW_SECONDS as i64);
            assert_eq!(
                tbs.validity.not_after.timestamp(),
                (NOW_SECONDS + u64::from(DAYS) * 86_400) as i64
            );
            let san: Vec<String> = tbs
                .extensions()
                .iter()
                .filter_map(|e| match e.parsed_extension() {
                    ParsedExtension::SubjectAlternativeName(san) => Some(san),
                    _ => None,
                })
                .flat_map(|san| san.general_names.iter())
                .map(|name| match name {
                    GeneralName::URI(uri) => uri.to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            assert_eq!(san, [DEVICE], "{what}");
            // The signature, checked outside the provider that made it.
            verify_independently(kind, issuer_spki, tbs.as_ref(), &cert.signature_value.data);
            checked += 1;
        }
    }
    assert_eq!(checked, 8 * 3);
}

#[test]
fn p521_issuer_is_refused_with_its_reason() {
    let error = LscIssuer::from_pem(
        &fixture_text("issuer-ec-p521.cert.pem"),
        &fixture_text("issuer-ec-p521.key.pem"),
    )
    .unwrap_err();
    assert!(
        matches!(&error, IssuanceError::UnsupportedIssuerKey { kind } if kind.contains("P521")),
        "{error:?}"
    );
}

#[test]
fn rsa_phone_key_over_4096_bits_is_refused() {
    // Built from the 4096-bit fixture's structure would need a new key; a
    // simpler bound check: an RSA SPKI whose modulus is 4097 bits.
    use rsa::pkcs8::EncodePublicKey;
    let n = rsa::BigUint::from_bytes_be(&{
        let mut m = vec![0xffu8; 513];
        m[0] = 0x01; // 4097 bits
        m
    });
    let key = rsa::RsaPublicKey::new_unchecked(n, rsa::BigUint::from(65_537u32));
    let spki = key.to_public_key_der().unwrap();
    let (_, issuer, _) = issuers().into_iter().next().unwrap();
    let result = issuer.issue(
        &LscRequest {
            device_name: DEVICE,
            subject_public_key_info_der: spki.as_bytes(),
            validity_days: DAYS,
        },
        Timestamp::from_unix_seconds(NOW_SECONDS),
        &mut rand::rngs::StdRng::seed_from_u64(1),
    );
    assert!(
        matches!(result, Err(IssuanceError::InvalidPublicKey)),
        "{result:?}"
    );
}

/// The issuer's O/OU/L/ST/C RDNs are copied byte for byte, repeated types
/// included (rcgen could not express two OUs); a multi-valued RDN is refused.
#[test]
fn issuer_subject_with_two_ous_and_a_multi_valued_rdn() {
    let key = fixture_text("issuer-ec-p256.key.pem");
    let cert = fixture_text("issuer-ec-p256-two-ou.cert.pem");
    let issuer = LscIssuer::from_pem(&cert, &key).unwrap();
    let spki = fixture("phone-ec-p521.spki.der");
    let issued = issuer
        .issue(
            &LscRequest {
                device_name: DEVICE,
                subject_public_key_info_der: &spki,
                validity_days: DAYS,
            },
            Timestamp::from_unix_seconds(NOW_SECONDS),
            &mut rand::rngs::StdRng::seed_from_u64(2),
        )
        .unwrap();
    let (_, lsc) = X509Certificate::from_der(&issued.der).unwrap();
    let attributes: Vec<(String, String)> = lsc
        .subject()
        .iter_attributes()
        .map(|a| (a.attr_type().to_id_string(), a.as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("2.5.4.3", DEVICE),
        ("2.5.4.6", "NZ"),
        ("2.5.4.10", "Example Voice Lab"),
        ("2.5.4.11", "Voice"),
        ("2.5.4.11", "CAPF"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(oid, value)| ((*oid).to_owned(), (*value).to_owned()))
        .collect();
    assert_eq!(attributes, expected);
    // The copied RDNs are the issuer's own bytes (string types kept).
    let issuer_der = der::pem::decode_vec(cert.as_bytes()).unwrap().1;
    let (_, issuer_cert) = X509Certificate::from_der(&issuer_der).unwrap();
    let issuer_rdns: Vec<&[u8]> = issuer_cert
        .subject()
        .iter()
        .filter(|rdn| {
            rdn.iter()
                .all(|a| a.attr_type().to_id_string() != "2.5.4.3")
        })
        .map(|rdn| {
            let first = rdn.iter().next().unwrap();
            first.attr_value().data
        })
        .collect();
    let lsc_rdns: Vec<&[u8]> = lsc
        .subject()
        .iter()
        .skip(1)
        .map(|rdn| rdn.iter().next().unwrap().attr_value().data)
        .collect();
    assert_eq!(lsc_rdns, issuer_rdns);

    let multi = fixture_text("issuer-ec-p256-multivalued-rdn.cert.pem");
    let error = LscIssuer::from_pem(&multi, &key).unwrap_err();
    assert!(
        matches!(error, IssuanceError::IssuerNameUnsupported),
        "{error:?}"
    );
}
