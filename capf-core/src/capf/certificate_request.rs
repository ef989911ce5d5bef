//! The phone-signed certificate request: a PKCS#10 CSR a phone may send
//! with its new public key (our reading of the spec, below).
//!
//! **Our reading.** Spec section 8 and the recordings show KEY_GEN_RESPONSE
//! carrying only an unsigned SubjectPublicKeyInfo (PUBLIC_KEY, tag 9), while
//! the customer's description (section 15) says the phone sends its public
//! key "in a signed message". We read that as: KEY_GEN_RESPONSE MAY also
//! carry SIGNED_DATA (tag 6) whose value is a DER PKCS#10
//! `CertificationRequest` (RFC 2986) signed by the new key, with subject
//! `CN=<device name>` and exactly the SubjectPublicKeyInfo of PUBLIC_KEY.
//! Without it the exchange is byte for byte the recorded one.
//!
//! A request is accepted only when ([`verify_certificate_request`]):
//!
//! * it is DER (re-encoding gives the same bytes) and parses as PKCS#10
//!   version 1;
//! * its SubjectPublicKeyInfo is byte-identical to PUBLIC_KEY;
//! * its signature algorithm is RSA PKCS#1 v1.5 with SHA-256, SHA-384 or
//!   SHA-512 (an RSA key), or ECDSA with SHA-256, SHA-384 or SHA-512 (a
//!   P-256, P-384 or P-521 key), and the signature verifies under that key;
//! * its subject has exactly one CN, equal to the device name (other
//!   attributes are allowed).
//!
//! A server session refuses a request that breaks any of these, except
//! the first: SIGNED_DATA that is no DER PKCS#10 at all is some other
//! signature of a phone's, which spec section 8 says to accept and ignore
//! in this frame, so the session goes on as if no request had been sent.
//!
//! The phone side builds the `CertificationRequestInfo`
//! ([`certification_request_info`]) and asks its host to sign it with the
//! algorithm [`CertificateRequestAlgorithm::for_public_key`] chooses (a
//! standard `SHA256withRSA`, `SHA256withECDSA` … signature of the info
//! bytes); [`sign_certificate_request_info`] does that for keys held in
//! memory, and [`assemble_certificate_request`] puts the request together.
//!
//! ```
//! use capf_core::capf::certificate_request::{
//!     CertificateRequestAlgorithm, assemble_certificate_request, certification_request_info,
//!     sign_certificate_request_info, verify_certificate_request,
//! };
//! use capf_core::capf::proof::ProofPrivateKey;
//! use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
//!
//! let secret = p256::SecretKey::from_slice(&[7; 32])?;
//! let spki = secret.public_key().to_public_key_der()?.as_bytes().to_vec();
//! let key = ProofPrivateKey::from_pkcs8_der(secret.to_pkcs8_der()?.as_bytes())?;
//!
//! let info = certification_request_info("SEP001122334455", &spki)?;
//! let algorithm = CertificateRequestAlgorithm::for_public_key(&spki)?;
//! assert_eq!(algorithm, CertificateRequestAlgorithm::EcdsaSha256);
//! let signature = sign_certificate_request_info(&key, algorithm, &info, &mut rand_core::OsRng)?;
//! let request = assemble_certificate_request(&info, algorithm, &signature)?;
//! verify_certificate_request(&request, &spki, "SEP001122334455")?;
//! assert!(verify_certificate_request(&request, &spki, "SEP00112233445F").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::str::FromStr;

use der::asn1::{BitString, SetOfVec};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use rand_core::CryptoRngCore;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

use crate::capf::proof::{
    P256_FIELD_BYTES, P384_FIELD_BYTES, P521_FIELD_BYTES, ProofPrivateKey, ProofPublicKey,
    field_digest,
};

/// `sha256WithRSAEncryption`.
const OID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
/// `sha384WithRSAEncryption`.
const OID_SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
/// `sha512WithRSAEncryption`.
const OID_SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
/// `ecdsa-with-SHA256`.
const OID_ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// `ecdsa-with-SHA384`.
const OID_ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `ecdsa-with-SHA512`.
const OID_ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
/// `commonName`.
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Why a certificate request was refused (or could not be built).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateRequestError {
    /// The bytes are not a DER PKCS#10 CertificationRequest (version 1).
    #[error("the certificate request is not a DER PKCS#10 CertificationRequest")]
    Unparseable,
    /// The request's SubjectPublicKeyInfo differs from PUBLIC_KEY.
    #[error("the certificate request carries another public key than PUBLIC_KEY")]
    PublicKeyMismatch,
    /// The public key is not an RSA, P-256, P-384 or P-521 key.
    #[error("the public key is not an RSA, P-256, P-384 or P-521 key")]
    UnsupportedKey,
    /// The signature algorithm is not one of the six accepted (or its
    /// parameters are wrong).
    #[error("unsupported certificate request signature algorithm {algorithm}")]
    UnsupportedAlgorithm {
        /// The algorithm's object identifier, dotted.
        algorithm: String,
    },
    /// The signature algorithm does not go with the key (ECDSA for an RSA
    /// key, or the reverse).
    #[error("the signature algorithm does not suit the key")]
    AlgorithmMismatch,
    /// The signature does not verify under the request's public key.
    #[error("the certificate request's signature does not verify under its public key")]
    BadSignature,
    /// The subject has no CN, several, or one that is not the device name.
    #[error("the certificate request's subject CN is not the device name")]
    SubjectMismatch,
    /// The device name cannot be put in a subject.
    #[error("the device name cannot be a subject CN")]
    BadDeviceName,
    /// Signing failed (a keystore error, for instance).
    #[error("signing the certificate request failed")]
    Signing,
}

/// How a certificate request is signed: standard X.509 signatures of the
/// `CertificationRequestInfo` DER.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateRequestAlgorithm {
    /// `sha256WithRSAEncryption` (RSA PKCS#1 v1.5, SHA-256, with DigestInfo).
    RsaSha256,
    /// `sha384WithRSAEncryption`.
    RsaSha384,
    /// `sha512WithRSAEncryption`.
    RsaSha512,
    /// `ecdsa-with-SHA256` (DER `SEQUENCE { r, s }`).
    EcdsaSha256,
    /// `ecdsa-with-SHA384`.
    EcdsaSha384,
    /// `ecdsa-with-SHA512`.
    EcdsaSha512,
}

impl CertificateRequestAlgorithm {
    /// The algorithm a phone uses for its key: SHA-256 with RSA; for EC
    /// the curve's own hash (P-256: SHA-256, P-384: SHA-384, P-521:
    /// SHA-512).
    pub fn for_public_key(spki_der: &[u8]) -> Result<Self, CertificateRequestError> {
        match ProofPublicKey::from_spki_der(spki_der)
            .map_err(|_| CertificateRequestError::UnsupportedKey)?
        {
            ProofPublicKey::Rsa(_) => Ok(Self::RsaSha256),
            ProofPublicKey::P256(_) => Ok(Self::EcdsaSha256),
            ProofPublicKey::P384(_) => Ok(Self::EcdsaSha384),
            ProofPublicKey::P521(_) => Ok(Self::EcdsaSha512),
        }
    }

    /// The algorithm's object identifier.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            Self::RsaSha256 => OID_SHA256_WITH_RSA,
            Self::RsaSha384 => OID_SHA384_WITH_RSA,
            Self::RsaSha512 => OID_SHA512_WITH_RSA,
            Self::EcdsaSha256 => OID_ECDSA_WITH_SHA256,
            Self::EcdsaSha384 => OID_ECDSA_WITH_SHA384,
            Self::EcdsaSha512 => OID_ECDSA_WITH_SHA512,
        }
    }

    /// The name OpenSSL and Java give it (`SHA256withRSA` …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::RsaSha256 => "SHA256withRSA",
            Self::RsaSha384 => "SHA384withRSA",
            Self::RsaSha512 => "SHA512withRSA",
            Self::EcdsaSha256 => "SHA256withECDSA",
            Self::EcdsaSha384 => "SHA384withECDSA",
            Self::EcdsaSha512 => "SHA512withECDSA",
        }
    }

    /// The hash of `message` this algorithm signs.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::RsaSha256 | Self::EcdsaSha256 => Sha256::digest(message).to_vec(),
            Self::RsaSha384 | Self::EcdsaSha384 => Sha384::digest(message).to_vec(),
            Self::RsaSha512 | Self::EcdsaSha512 => Sha512::digest(message).to_vec(),
        }
    }

    const fn is_rsa(self) -> bool {
        matches!(self, Self::RsaSha256 | Self::RsaSha384 | Self::RsaSha512)
    }

    /// The algorithm identifier as it goes in the request: RSA with NULL
    /// parameters, ECDSA with none (RFC 4055, RFC 5758).
    fn identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: self.is_rsa().then_some(der::asn1::Any::null()),
        }
    }

    /// The algorithm of an identifier, with its parameters checked.
    fn from_identifier(
        identifier: &AlgorithmIdentifierOwned,
    ) -> Result<Self, CertificateRequestError> {
        let algorithm = [
            Self::RsaSha256,
            Self::RsaSha384,
            Self::RsaSha512,
            Self::EcdsaSha256,
            Self::EcdsaSha384,
            Self::EcdsaSha512,
        ]
        .into_iter()
        .find(|candidate| candidate.oid() == identifier.oid);
        let unsupported = || CertificateRequestError::UnsupportedAlgorithm {
            algorithm: identifier.oid.to_string(),
        };
        let algorithm = algorithm.ok_or_else(unsupported)?;
        let parameters_ok = match &identifier.parameters {
            None => true,
            // NULL is required for RSA by RFC 4055 (absent is tolerated);
            // ECDSA takes none (RFC 5758).
            Some(parameters) => algorithm.is_rsa() && parameters.tag() == Tag::Null,
        };
        if parameters_ok {
            Ok(algorithm)
        } else {
            Err(unsupported())
        }
    }
}

/// The DER `CertificationRequestInfo` a phone signs: version 1, subject
/// `CN=<device name>` (UTF8String), the new key's SubjectPublicKeyInfo
/// exactly as given, no attributes.
pub fn certification_request_info(
    device_name: &str,
    spki_der: &[u8],
) -> Result<Vec<u8>, CertificateRequestError> {
    if device_name.is_empty() || !device_name.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err(CertificateRequestError::BadDeviceName);
    }
    let subject = Name::from_str(&format!("CN={device_name}"))
        .map_err(|_| CertificateRequestError::BadDeviceName)?;
    let public_key = SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|_| CertificateRequestError::UnsupportedKey)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key,
        attributes: SetOfVec::new(),
    };
    let info_der = info
        .to_der()
        .map_err(|_| CertificateRequestError::Unparseable)?;
    // The key must travel unchanged: a non-DER SPKI would be re-encoded.
    if info.public_key.to_der().ok().as_deref() != Some(spki_der) {
        return Err(CertificateRequestError::UnsupportedKey);
    }
    Ok(info_der)
}

/// The DER `CertificationRequest`: `info_der` (from
/// [`certification_request_info`]), the algorithm and the signature of the
/// info bytes.
pub fn assemble_certificate_request(
    info_der: &[u8],
    algorithm: CertificateRequestAlgorithm,
    signature: &[u8],
) -> Result<Vec<u8>, CertificateRequestError> {
    let info = CertReqInfo::from_der(info_der).map_err(|_| CertificateRequestError::Unparseable)?;
    let request = CertReq {
        info,
        algorithm: algorithm.identifier(),
        signature: BitString::from_bytes(signature)
            .map_err(|_| CertificateRequestError::Unparseable)?,
    };
    let request_der = request
        .to_der()
        .map_err(|_| CertificateRequestError::Unparseable)?;
    // The signature covers `info_der`: it must be in the request unchanged.
    if request.info.to_der().ok().as_deref() != Some(info_der) {
        return Err(CertificateRequestError::Unparseable);
    }
    Ok(request_der)
}

/// Signs `info_der` with a key held in memory, as `algorithm` says (a
/// standard X.509 signature: RSA PKCS#1 v1.5 with DigestInfo, or DER
/// ECDSA). `rng` is used for RSA blinding only.
pub fn sign_certificate_request_info(
    key: &ProofPrivateKey,
    algorithm: CertificateRequestAlgorithm,
    info_der: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<u8>, CertificateRequestError> {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    let digest = algorithm.digest(info_der);
    let signing = |_| CertificateRequestError::Signing;
    match (key, algorithm.is_rsa()) {
        (ProofPrivateKey::Rsa(key), true) => {
            let mut rng = rng;
            key.sign_with_rng(&mut rng, rsa_scheme(algorithm), &digest)
                .map_err(|_| CertificateRequestError::Signing)
        }
        (ProofPrivateKey::P256(key), false) => {
            let signature: p256::ecdsa::Signature = key
                .sign_prehash(&field_digest(P256_FIELD_BYTES, &digest))
                .map_err(signing)?;
            Ok(signature.to_der().as_bytes().to_vec())
        }
        (ProofPrivateKey::P384(key), false) => {
            let signature: p384::ecdsa::Signature = key
                .sign_prehash(&field_digest(P384_FIELD_BYTES, &digest))
                .map_err(signing)?;
            Ok(signature.to_der().as_bytes().to_vec())
        }
        (ProofPrivateKey::P521(key), false) => {
            let signature: p521::ecdsa::Signature = key
                .sign_prehash(&field_digest(P521_FIELD_BYTES, &digest))
                .map_err(signing)?;
            Ok(signature.to_der().as_bytes().to_vec())
        }
        _ => Err(CertificateRequestError::AlgorithmMismatch),
    }
}

/// Checks a signature of `message` by the key `spki_der` under
/// `algorithm`.
pub fn verify_certificate_request_signature(
    spki_der: &[u8],
    algorithm: CertificateRequestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CertificateRequestError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let key = ProofPublicKey::from_spki_der(spki_der)
        .map_err(|_| CertificateRequestError::UnsupportedKey)?;
    let digest = algorithm.digest(message);
    let bad = |_| CertificateRequestError::BadSignature;
    match (&key, algorithm.is_rsa()) {
        (ProofPublicKey::Rsa(key), true) => key
            .verify(rsa_scheme(algorithm), &digest, signature)
            .map_err(|_| CertificateRequestError::BadSignature),
        (ProofPublicKey::P256(key), false) => {
            let signature = p256::ecdsa::Signature::from_der(signature).map_err(bad)?;
            key.verify_prehash(&field_digest(P256_FIELD_BYTES, &digest), &signature)
                .map_err(bad)
        }
        (ProofPublicKey::P384(key), false) => {
            let signature = p384::ecdsa::Signature::from_der(signature).map_err(bad)?;
            key.verify_prehash(&field_digest(P384_FIELD_BYTES, &digest), &signature)
                .map_err(bad)
        }
        (ProofPublicKey::P521(key), false) => {
            let signature = p521::ecdsa::Signature::from_der(signature).map_err(bad)?;
            key.verify_prehash(&field_digest(P521_FIELD_BYTES, &digest), &signature)
                .map_err(bad)
        }
        _ => Err(CertificateRequestError::AlgorithmMismatch),
    }
}

/// Verifies a phone-signed certificate request strictly (the rules in the
/// module documentation): DER PKCS#10, SubjectPublicKeyInfo byte-identical
/// to `expected_spki_der`, an accepted algorithm whose signature verifies
/// under that key, subject CN = `device_name`.
pub fn verify_certificate_request(
    request_der: &[u8],
    expected_spki_der: &[u8],
    device_name: &str,
) -> Result<(), CertificateRequestError> {
    let request =
        CertReq::from_der(request_der).map_err(|_| CertificateRequestError::Unparseable)?;
    // DER only: the signed bytes are then exactly the info re-encoded.
    if request.to_der().ok().as_deref() != Some(request_der) {
        return Err(CertificateRequestError::Unparseable);
    }
    let info_der = request
        .info
        .to_der()
        .map_err(|_| CertificateRequestError::Unparseable)?;
    let spki_der = request
        .info
        .public_key
        .to_der()
        .map_err(|_| CertificateRequestError::Unparseable)?;
    if spki_der != expected_spki_der {
        return Err(CertificateRequestError::PublicKeyMismatch);
    }
    let algorithm = CertificateRequestAlgorithm::from_identifier(&request.algorithm)?;
    let signature = request
        .signature
        .as_bytes()
        .ok_or(CertificateRequestError::BadSignature)?;
    verify_certificate_request_signature(&spki_der, algorithm, &info_der, signature)?;
    if subject_common_name(&request.info.subject).as_deref() != Some(device_name) {
        return Err(CertificateRequestError::SubjectMismatch);
    }
    Ok(())
}

/// The one CN of `name` (UTF8String, PrintableString or IA5String); `None`
/// when there is none, several, or one of another string type.
pub fn subject_common_name(name: &Name) -> Option<String> {
    let mut common_names = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == OID_COMMON_NAME);
    let first = common_names.next()?;
    if common_names.next().is_some() {
        return None;
    }
    match first.value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String => {
            core::str::from_utf8(first.value.value())
                .ok()
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// The PKCS#1 v1.5 scheme (with DigestInfo) of an RSA algorithm.
fn rsa_scheme(algorithm: CertificateRequestAlgorithm) -> Pkcs1v15Sign {
    match algorithm {
        CertificateRequestAlgorithm::RsaSha384 => Pkcs1v15Sign::new::<Sha384>(),
        CertificateRequestAlgorithm::RsaSha512 => Pkcs1v15Sign::new::<Sha512>(),
        _ => Pkcs1v15Sign::new::<Sha256>(),
    }
}
