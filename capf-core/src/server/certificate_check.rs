//! Is a certificate a phone presents for authentication (spec 9.3-9.6)
//! trusted, current and this device's?
//!
//! A small, strict, hand-written chain check, kept on purpose to what CAPF
//! authentication needs:
//!
//! * **Which kind.** A certificate is an LSC if it is signed directly by one
//!   of [`CertificatePolicy::lsc_issuers`] (phones do not send chains, so the
//!   server holds the LSC's issuing CA itself, Appendix C); otherwise it is a
//!   MIC if it chains to one of [`CertificatePolicy::manufacturing_roots`],
//!   possibly through [`CertificatePolicy::intermediates`]. The kind comes
//!   from the roots it chains to, never from the wrapper's type byte.
//! * **Signatures.** Every link is verified: RSA PKCS#1 v1.5 with SHA-256,
//!   SHA-384 or SHA-512 (issuer keys of at least 2048 bits), ECDSA P-256 or
//!   P-384 with SHA-256 or SHA-384. SHA-1 RSA signatures are accepted on the
//!   MIC path only (old Cisco manufacturing hierarchies sign with SHA-1,
//!   Appendix C), never for an LSC. The outer and inner signature algorithm
//!   identifiers must be equal, and the signature is checked over the
//!   exact `tbsCertificate` bytes received.
//! * **Intermediates** must be CA certificates (basicConstraints CA:TRUE),
//!   current, and the path holds at most [`CertificatePolicy::max_chain_depth`]
//!   certificates (leaf and root included); the search is also bounded in
//!   signature verifications. Trust anchors are trusted by configuration:
//!   their own dates and constraints are not judged.
//! * **The presented certificate** must not be a CA, must be current at
//!   `now` (a MIC may be expired if [`CertificatePolicy::allow_expired_mic`]
//!   says so; the verdict then says so, for the host to log), and must name
//!   the device: an LSC's CN or a SAN URI equals the device name; a MIC's CN
//!   is the device name or ends with `-` + the device name
//!   (`CP-8845-SEP001122334455`).
//!
//! Not done here (the trust-evaluation issue will replace this with
//! rustls-webpki plus a SHA-1 allowance for the MIC path, and revisit):
//! pathLenConstraint, name constraints, key usage of the chain, unknown
//! critical extensions, revocation.

use der::{Decode, Encode, Reader, SliceReader, Tagged};
use rsa::Pkcs1v15Sign;
use rsa::traits::PublicKeyParts;
use sha2::Digest;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};

use crate::proof::ProofPublicKey;
use crate::time::Timestamp;

/// Smallest RSA issuer key accepted in a chain, in bits.
pub const MIN_RSA_ISSUER_BITS: usize = 2048;

/// Most signature verifications one check may spend searching for a path.
const SIGNATURE_BUDGET: usize = 32;

const OID_COMMON_NAME: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_SHA1_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const OID_SHA256_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_SHA384_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_SHA512_RSA: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ECDSA_SHA256: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// What the server trusts for certificate authentication, strict by default.
///
/// ```
/// use capf_core::server::CertificatePolicy;
/// let policy = CertificatePolicy::default();
/// assert!(!policy.allow_expired_mic && !policy.skip_name_binding && !policy.skip_validity);
/// assert_eq!(policy.max_chain_depth, 4);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePolicy {
    /// DER certificates that issue LSCs (the CAPF certificate, an enterprise
    /// issuing CA). An LSC must be signed directly by one of them.
    pub lsc_issuers: Vec<Vec<u8>>,
    /// DER roots of manufacturing hierarchies (Cisco's MIC and SUDI roots).
    pub manufacturing_roots: Vec<Vec<u8>>,
    /// DER intermediate CAs between a MIC and a manufacturing root.
    pub intermediates: Vec<Vec<u8>>,
    /// Accept a MIC (and its intermediates) past notAfter. Off by default;
    /// the verdict reports when it was used.
    pub allow_expired_mic: bool,
    /// Do not require the certificate to name the device. Off by default.
    pub skip_name_binding: bool,
    /// Do not check validity dates at all. Off by default.
    pub skip_validity: bool,
    /// Most certificates in a path, presented certificate and root included
    /// (4: up to two intermediates).
    pub max_chain_depth: usize,
}

impl Default for CertificatePolicy {
    fn default() -> Self {
        Self {
            lsc_issuers: Vec::new(),
            manufacturing_roots: Vec::new(),
            intermediates: Vec::new(),
            allow_expired_mic: false,
            skip_name_binding: false,
            skip_validity: false,
            max_chain_depth: 4,
        }
    }
}

/// Which kind of certificate a phone presented, told by the roots it chains
/// to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateKind {
    /// Signed by one of the LSC issuers.
    Lsc,
    /// Chains to a manufacturing root.
    Mic,
}

/// What a certificate is used for in AUTH_RESPONSE.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificatePurpose {
    /// The CERTIFICATE element: an LSC or a MIC.
    Authentication,
    /// The SUDI_DATA certificate: a MIC only.
    Sudi,
}

/// A certificate that passed [`check_certificate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificateVerdict {
    /// LSC or MIC.
    pub kind: CertificateKind,
    /// True when an expired MIC (or MIC intermediate) was accepted because
    /// [`CertificatePolicy::allow_expired_mic`] is set: log it.
    pub expired_mic_accepted: bool,
}

/// Why a presented certificate is refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateCheckError {
    /// The presented certificate is not DER X.509.
    #[error("certificate does not parse")]
    Malformed,
    /// A certificate of the policy does not parse (a configuration error).
    #[error("a configured trust certificate does not parse")]
    BadPolicyCertificate,
    /// No path to a configured root whose every signature verifies.
    #[error("certificate does not chain to a trusted root")]
    Untrusted,
    /// The presented certificate is a CA certificate.
    #[error("a CA certificate cannot authenticate a device")]
    IsCa,
    /// Before notBefore.
    #[error("certificate is not yet valid")]
    NotYetValid,
    /// After notAfter.
    #[error("certificate has expired")]
    Expired,
    /// The certificate does not name the device.
    #[error("certificate does not name the device")]
    NameMismatch,
}

struct Parsed<'a> {
    der: &'a [u8],
    cert: Certificate,
}

impl<'a> Parsed<'a> {
    fn new(der: &'a [u8]) -> Option<Self> {
        Certificate::from_der(der)
            .ok()
            .map(|cert| Self { der, cert })
    }
}

fn parse_all(list: &[Vec<u8>]) -> Result<Vec<Parsed<'_>>, CertificateCheckError> {
    list.iter()
        .map(|der| Parsed::new(der).ok_or(CertificateCheckError::BadPolicyCertificate))
        .collect()
}

/// Checks a presented certificate against `policy` for `device_name` at
/// `now`; see the module documentation for every rule.
pub fn check_certificate(
    policy: &CertificatePolicy,
    certificate_der: &[u8],
    device_name: &str,
    now: Timestamp,
    purpose: CertificatePurpose,
) -> Result<CertificateVerdict, CertificateCheckError> {
    let leaf = Parsed::new(certificate_der).ok_or(CertificateCheckError::Malformed)?;
    let lsc_issuers = parse_all(&policy.lsc_issuers)?;
    let roots = parse_all(&policy.manufacturing_roots)?;
    let intermediates = parse_all(&policy.intermediates)?;

    if is_ca(&leaf.cert) {
        return Err(CertificateCheckError::IsCa);
    }
    let mut budget = SIGNATURE_BUDGET;
    let is_lsc = purpose == CertificatePurpose::Authentication
        && lsc_issuers
            .iter()
            .any(|issuer| links(&leaf, issuer, false, &mut budget));
    let kind = if is_lsc {
        CertificateKind::Lsc
    } else {
        let search = MicSearch {
            roots: &roots,
            intermediates: &intermediates,
            now,
            check_validity: !policy.skip_validity,
            allow_expired: policy.allow_expired_mic,
        };
        let max_intermediates = policy.max_chain_depth.saturating_sub(2);
        if policy.max_chain_depth < 2 || !search.find(&leaf, max_intermediates, &mut budget) {
            return Err(CertificateCheckError::Untrusted);
        }
        CertificateKind::Mic
    };

    let mut expired_mic_accepted = false;
    if !policy.skip_validity {
        match validity(&leaf.cert, now) {
            Validity::Current => {}
            Validity::NotYetValid => return Err(CertificateCheckError::NotYetValid),
            Validity::Expired if kind == CertificateKind::Mic && policy.allow_expired_mic => {
                expired_mic_accepted = true;
            }
            Validity::Expired => return Err(CertificateCheckError::Expired),
        }
        if kind == CertificateKind::Mic && policy.allow_expired_mic && !expired_mic_accepted {
            // The search let expired intermediates pass: report it when no
            // path without one exists.
            expired_mic_accepted = chain_uses_expired(&leaf, &roots, &intermediates, now, policy);
        }
    }

    if !policy.skip_name_binding && !names_device(&leaf.cert, device_name, kind) {
        return Err(CertificateCheckError::NameMismatch);
    }
    Ok(CertificateVerdict {
        kind,
        expired_mic_accepted,
    })
}

/// Whether every path found needs an expired intermediate: search again
/// without the allowance.
fn chain_uses_expired(
    leaf: &Parsed<'_>,
    roots: &[Parsed<'_>],
    intermediates: &[Parsed<'_>],
    now: Timestamp,
    policy: &CertificatePolicy,
) -> bool {
    let strict = MicSearch {
        roots,
        intermediates,
        now,
        check_validity: true,
        allow_expired: false,
    };
    let mut budget = SIGNATURE_BUDGET;
    !strict.find(leaf, policy.max_chain_depth.saturating_sub(2), &mut budget)
}

struct MicSearch<'p, 'a> {
    roots: &'p [Parsed<'a>],
    intermediates: &'p [Parsed<'a>],
    now: Timestamp,
    check_validity: bool,
    allow_expired: bool,
}

impl MicSearch<'_, '_> {
    /// Depth-first search for a path from `cert` to a root through at most
    /// `intermediates_left` intermediates.
    fn find(&self, cert: &Parsed<'_>, intermediates_left: usize, budget: &mut usize) -> bool {
        if self
            .roots
            .iter()
            .any(|root| links(cert, root, true, budget))
        {
            return true;
        }
        let Some(left) = intermediates_left.checked_sub(1) else {
            return false;
        };
        self.intermediates.iter().any(|inter| {
            is_ca(&inter.cert)
                && self.acceptable_time(&inter.cert)
                && links(cert, inter, true, budget)
                && self.find(inter, left, budget)
        })
    }

    fn acceptable_time(&self, cert: &Certificate) -> bool {
        if !self.check_validity {
            return true;
        }
        match validity(cert, self.now) {
            Validity::Current => true,
            Validity::Expired => self.allow_expired,
            Validity::NotYetValid => false,
        }
    }
}

/// Whether `issuer` issued `child`: names match and the signature verifies.
/// Spends one unit of `budget` per signature verification.
fn links(child: &Parsed<'_>, issuer: &Parsed<'_>, allow_sha1: bool, budget: &mut usize) -> bool {
    if child.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
        return false;
    }
    let Some(left) = budget.checked_sub(1) else {
        return false;
    };
    *budget = left;
    verify_signature(child, &issuer.cert, allow_sha1)
}

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => sha1::Sha1::digest(message).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(message).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(message).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(message).to_vec(),
        }
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            Hash::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
            Hash::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
            Hash::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
            Hash::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
        }
    }
}

enum SignatureAlgorithm {
    Rsa(Hash),
    Ecdsa(Hash),
}

fn signature_algorithm(
    algorithm: &spki::AlgorithmIdentifierOwned,
    allow_sha1: bool,
) -> Option<SignatureAlgorithm> {
    let oid = algorithm.oid;
    let rsa = |hash| {
        // RFC 4055: parameters NULL (or, tolerated by many, absent).
        let params_ok = algorithm
            .parameters
            .as_ref()
            .is_none_or(|any| any.tag() == der::Tag::Null && any.value().is_empty());
        params_ok.then_some(SignatureAlgorithm::Rsa(hash))
    };
    let ecdsa = |hash| {
        // RFC 5758: parameters absent.
        algorithm
            .parameters
            .is_none()
            .then_some(SignatureAlgorithm::Ecdsa(hash))
    };
    if oid == OID_SHA1_RSA && allow_sha1 {
        rsa(Hash::Sha1)
    } else if oid == OID_SHA256_RSA {
        rsa(Hash::Sha256)
    } else if oid == OID_SHA384_RSA {
        rsa(Hash::Sha384)
    } else if oid == OID_SHA512_RSA {
        rsa(Hash::Sha512)
    } else if oid == OID_ECDSA_SHA256 {
        ecdsa(Hash::Sha256)
    } else if oid == OID_ECDSA_SHA384 {
        ecdsa(Hash::Sha384)
    } else {
        None
    }
}

fn verify_signature(child: &Parsed<'_>, issuer: &Certificate, allow_sha1: bool) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;

    let cert = &child.cert;
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return false;
    }
    let Some(algorithm) = signature_algorithm(&cert.signature_algorithm, allow_sha1) else {
        return false;
    };
    let (Some(tbs), Some(signature)) = (tbs_bytes(child.der), cert.signature.as_bytes()) else {
        return false;
    };
    let Ok(spki_der) = issuer.tbs_certificate.subject_public_key_info.to_der() else {
        return false;
    };
    let Ok(key) = ProofPublicKey::from_spki_der(&spki_der) else {
        return false;
    };
    match (algorithm, key) {
        (SignatureAlgorithm::Rsa(hash), ProofPublicKey::Rsa(key)) => {
            key.n().bits() >= MIN_RSA_ISSUER_BITS
                && key
                    .verify(hash.pkcs1v15(), &hash.digest(tbs), signature)
                    .is_ok()
        }
        (SignatureAlgorithm::Ecdsa(hash), ProofPublicKey::P256(key)) => {
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verify_prehash(&hash.digest(tbs), &sig).is_ok())
        }
        (SignatureAlgorithm::Ecdsa(hash), ProofPublicKey::P384(key)) => {
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verify_prehash(&hash.digest(tbs), &sig).is_ok())
        }
        _ => false,
    }
}

/// The exact bytes of `tbsCertificate` inside a certificate's DER (the
/// signed bytes; never a re-encoding).
fn tbs_bytes(certificate_der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(certificate_der).ok()?;
    let _outer = der::Header::decode(&mut reader).ok()?;
    let start = usize::try_from(reader.position()).ok()?;
    let inner = der::Header::decode(&mut reader).ok()?;
    let header_end = usize::try_from(reader.position()).ok()?;
    let end = header_end.checked_add(usize::try_from(inner.length).ok()?)?;
    certificate_der.get(start..end)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Validity {
    Current,
    NotYetValid,
    Expired,
}

fn validity(cert: &Certificate, now: Timestamp) -> Validity {
    let dates = &cert.tbs_certificate.validity;
    let now = now.unix_seconds();
    if now < dates.not_before.to_unix_duration().as_secs() {
        Validity::NotYetValid
    } else if now > dates.not_after.to_unix_duration().as_secs() {
        Validity::Expired
    } else {
        Validity::Current
    }
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate.get::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
}

fn common_names(cert: &Certificate) -> impl Iterator<Item = &str> {
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == OID_COMMON_NAME)
        .filter_map(|atv| match atv.value.tag() {
            der::Tag::Utf8String | der::Tag::PrintableString | der::Tag::Ia5String => {
                core::str::from_utf8(atv.value.value()).ok()
            }
            _ => None,
        })
}

fn names_device(cert: &Certificate, device_name: &str, kind: CertificateKind) -> bool {
    if device_name.is_empty() {
        return false;
    }
    match kind {
        CertificateKind::Lsc => {
            common_names(cert).any(|cn| cn == device_name)
                || match cert.tbs_certificate.get::<SubjectAltName>() {
                    Ok(Some((_, SubjectAltName(names)))) => names.iter().any(|name| {
                        matches!(name, GeneralName::UniformResourceIdentifier(uri)
                            if uri.as_str() == device_name)
                    }),
                    _ => false,
                }
        }
        CertificateKind::Mic => common_names(cert).any(|cn| {
            cn.strip_suffix(device_name)
                .is_some_and(|prefix| prefix.is_empty() || prefix.ends_with('-'))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints as RcBasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa,
        Issuer, KeyPair, SanType, date_time_ymd,
    };

    const DEVICE: &str = "SEP001122334455";
    /// 2030-01-01, inside the default rcgen validity (1975-4096).
    const NOW: Timestamp = Timestamp::from_unix_seconds(1_893_456_000);

    struct Ca {
        der: Vec<u8>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn params(cn: &str, ca: bool) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, cn);
        params.distinguished_name = name;
        params.is_ca = if ca {
            IsCa::Ca(RcBasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        params
    }

    fn root(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = params(cn, true);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    fn intermediate(cn: &str, parent: &Ca, ca: bool) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = params(cn, ca);
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

    fn leaf(parent: &Ca, edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params = params(&format!("CP-8845-{DEVICE}"), false);
        edit(&mut params);
        params
            .signed_by(&key, &parent.issuer)
            .unwrap()
            .der()
            .to_vec()
    }

    fn check(
        policy: &CertificatePolicy,
        der: &[u8],
        purpose: CertificatePurpose,
    ) -> Result<CertificateVerdict, CertificateCheckError> {
        check_certificate(policy, der, DEVICE, NOW, purpose)
    }

    const AUTH: CertificatePurpose = CertificatePurpose::Authentication;

    fn mic_policy(root: &Ca, intermediates: &[&Ca]) -> CertificatePolicy {
        CertificatePolicy {
            manufacturing_roots: vec![root.der.clone()],
            intermediates: intermediates.iter().map(|ca| ca.der.clone()).collect(),
            ..CertificatePolicy::default()
        }
    }

    #[test]
    fn mic_through_an_intermediate() {
        let root = root("Maker Root");
        let inter = intermediate("Maker Manufacturing CA", &root, true);
        let mic = leaf(&inter, |_| {});
        let verdict = check(&mic_policy(&root, &[&inter]), &mic, AUTH).unwrap();
        assert_eq!(verdict.kind, CertificateKind::Mic);
        assert!(!verdict.expired_mic_accepted);
        // SUDI purpose: a MIC is fine.
        assert!(
            check(
                &mic_policy(&root, &[&inter]),
                &mic,
                CertificatePurpose::Sudi
            )
            .is_ok()
        );
        // Without the intermediate there is no path.
        assert_eq!(
            check(&mic_policy(&root, &[]), &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
        // The path has three certificates: depth 2 is too short, 3 enough.
        let mut policy = mic_policy(&root, &[&inter]);
        policy.max_chain_depth = 2;
        assert_eq!(
            check(&policy, &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
        policy.max_chain_depth = 3;
        assert!(check(&policy, &mic, AUTH).is_ok());
        // The intermediate alone as a "root" of a different hierarchy does not
        // make an LSC of it.
        let lsc_policy = CertificatePolicy {
            lsc_issuers: vec![root.der.clone()],
            ..CertificatePolicy::default()
        };
        assert_eq!(
            check(&lsc_policy, &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
    }

    #[test]
    fn intermediate_must_be_a_ca() {
        let root = root("Maker Root");
        let not_ca = intermediate("Not a CA", &root, false);
        let mic = leaf(&not_ca, |_| {});
        assert_eq!(
            check(&mic_policy(&root, &[&not_ca]), &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
    }

    #[test]
    fn a_ca_cannot_authenticate() {
        let root = root("Maker Root");
        let inter = intermediate(&format!("CP-8845-{DEVICE}"), &root, true);
        assert_eq!(
            check(&mic_policy(&root, &[]), &inter.der, AUTH),
            Err(CertificateCheckError::IsCa)
        );
    }

    #[test]
    fn wrong_root_is_untrusted() {
        let root = root("Maker Root");
        let rogue = self::root("Maker Root"); // same name, other key
        let mic = leaf(&rogue, |_| {});
        assert_eq!(
            check(&mic_policy(&root, &[]), &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
    }

    #[test]
    fn lsc_by_cn_or_san_uri() {
        let capf = root("CAPF-TEST");
        let policy = CertificatePolicy {
            lsc_issuers: vec![capf.der.clone()],
            ..CertificatePolicy::default()
        };
        let by_cn = leaf(&capf, |p| {
            p.distinguished_name = DistinguishedName::new();
            p.distinguished_name.push(DnType::CommonName, DEVICE);
        });
        assert_eq!(
            check(&policy, &by_cn, AUTH).unwrap().kind,
            CertificateKind::Lsc
        );
        let by_san = leaf(&capf, |p| {
            p.distinguished_name = DistinguishedName::new();
            p.distinguished_name
                .push(DnType::CommonName, "something else");
            p.subject_alt_names = vec![SanType::URI(DEVICE.try_into().unwrap())];
        });
        assert_eq!(
            check(&policy, &by_san, AUTH).unwrap().kind,
            CertificateKind::Lsc
        );
        // The MIC rule (CN ends with the name) is not enough for an LSC.
        let mic_style = leaf(&capf, |_| {});
        assert_eq!(
            check(&policy, &mic_style, AUTH),
            Err(CertificateCheckError::NameMismatch)
        );
        let mut lax = policy.clone();
        lax.skip_name_binding = true;
        assert!(check(&lax, &mic_style, AUTH).is_ok());
        // An LSC never serves as a SUDI.
        assert_eq!(
            check(&policy, &by_cn, CertificatePurpose::Sudi),
            Err(CertificateCheckError::Untrusted)
        );
    }

    #[test]
    fn mic_name_binding() {
        let root = root("Maker Root");
        let policy = mic_policy(&root, &[]);
        for (cn, ok) in [
            (format!("CP-8845-{DEVICE}"), true),
            (DEVICE.to_owned(), true),
            (format!("CP-8845-X{DEVICE}"), false),
            ("CP-8845-SEP001122334466".to_owned(), false),
            (format!("{DEVICE}-CP-8845"), false),
        ] {
            let mic = leaf(&root, |p| {
                p.distinguished_name = DistinguishedName::new();
                p.distinguished_name.push(DnType::CommonName, cn.as_str());
            });
            assert_eq!(check(&policy, &mic, AUTH).is_ok(), ok, "{cn}");
            if !ok {
                assert_eq!(
                    check(&policy, &mic, AUTH),
                    Err(CertificateCheckError::NameMismatch)
                );
            }
        }
    }

    #[test]
    fn validity_dates() {
        let root = root("Maker Root");
        let capf = self::root("CAPF-TEST");
        let expired = |parent: &Ca| {
            leaf(parent, |p| {
                p.not_before = date_time_ymd(2015, 1, 1);
                p.not_after = date_time_ymd(2025, 1, 1);
                p.subject_alt_names = vec![SanType::URI(DEVICE.try_into().unwrap())];
            })
        };
        let future = leaf(&root, |p| p.not_before = date_time_ymd(2031, 1, 1));
        let mut policy = mic_policy(&root, &[]);
        policy.lsc_issuers = vec![capf.der.clone()];
        assert_eq!(
            check(&policy, &expired(&root), AUTH),
            Err(CertificateCheckError::Expired)
        );
        assert_eq!(
            check(&policy, &future, AUTH),
            Err(CertificateCheckError::NotYetValid)
        );
        assert_eq!(
            check(&policy, &expired(&capf), AUTH),
            Err(CertificateCheckError::Expired)
        );

        // The expired-MIC allowance: MICs only, reported, never for "not yet".
        policy.allow_expired_mic = true;
        let verdict = check(&policy, &expired(&root), AUTH).unwrap();
        assert!(verdict.expired_mic_accepted);
        assert_eq!(
            check(&policy, &future, AUTH),
            Err(CertificateCheckError::NotYetValid)
        );
        assert_eq!(
            check(&policy, &expired(&capf), AUTH),
            Err(CertificateCheckError::Expired)
        );

        policy.allow_expired_mic = false;
        policy.skip_validity = true;
        assert!(check(&policy, &expired(&capf), AUTH).is_ok());
        assert!(check(&policy, &future, AUTH).is_ok());
    }

    #[test]
    fn expired_intermediate_is_reported_under_the_allowance() {
        let root = root("Maker Root");
        let key = KeyPair::generate().unwrap();
        let mut inter_params = params("Old Manufacturing CA", true);
        inter_params.not_after = date_time_ymd(2025, 1, 1);
        let inter = Ca {
            der: inter_params
                .signed_by(&key, &root.issuer)
                .unwrap()
                .der()
                .to_vec(),
            issuer: Issuer::new(inter_params, key),
        };
        let mic = leaf(&inter, |_| {});
        let mut policy = mic_policy(&root, &[&inter]);
        assert_eq!(
            check(&policy, &mic, AUTH),
            Err(CertificateCheckError::Untrusted)
        );
        policy.allow_expired_mic = true;
        assert!(check(&policy, &mic, AUTH).unwrap().expired_mic_accepted);
    }

    #[test]
    fn bad_policy_certificate_is_reported() {
        let policy = CertificatePolicy {
            manufacturing_roots: vec![b"junk".to_vec()],
            ..CertificatePolicy::default()
        };
        let root = root("Maker Root");
        let mic = leaf(&root, |_| {});
        assert_eq!(
            check(&policy, &mic, AUTH),
            Err(CertificateCheckError::BadPolicyCertificate)
        );
    }

    #[test]
    fn tbs_bytes_rejects_garbage() {
        assert_eq!(tbs_bytes(&[]), None);
        assert_eq!(tbs_bytes(&[0x30, 0x03, 0x30, 0x05, 0x00]), None);
        assert_eq!(
            tbs_bytes(&[0x30, 0x04, 0x30, 0x02, 0x01, 0x00]),
            Some(&[0x30, 0x02, 0x01, 0x00][..])
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            check(&CertificatePolicy::default(), b"not a certificate", AUTH),
            Err(CertificateCheckError::Malformed)
        );
    }
}
