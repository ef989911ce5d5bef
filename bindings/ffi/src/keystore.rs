//! Keys stay in the platform keystore: the [`PhoneKeystore`] trait the app
//! implements (Android Keystore, iOS Secure Enclave / Keychain, a smart
//! card …) and the in-memory [`SoftwareKeystore`] for tests and desktops.
//!
//! The phone session asks for a new key (`GenerateKey`), for each proof
//! of certificate authentication (`SignProof`) and, when it sends one, for
//! the signature of its certificate request (`SignCertificateRequest`); the
//! app answers through its keystore, and only public keys and signatures
//! cross into Rust.

use std::sync::{Arc, Mutex};

use capf_core::capf::certificate_request::sign_certificate_request_info;
use capf_core::capf::proof::{ProofKey, ProofPrivateKey, ProofPublicKey};
use der::Encode;
use rand_core::OsRng;

use crate::types::{CertificateRequestAlgorithm, EcCurve, KeySpec, ProofCredential, ProofHash};

/// Why a keystore could not do what it was asked (raised by the app's
/// implementation; never carries key material).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeystoreError {
    /// The keystore cannot make or use a key of this kind (e.g. RSA or
    /// P-384 in the Secure Enclave).
    #[error("unsupported key: {detail}")]
    Unsupported {
        /// What was asked for.
        detail: String,
    },
    /// No key matches the certificate the proof is for.
    #[error("no such key: {detail}")]
    NoSuchKey {
        /// Which key was looked for.
        detail: String,
    },
    /// The keystore failed (locked, user cancelled, hardware error …), or
    /// the app's code threw something else.
    #[error("keystore failure: {detail}")]
    Failed {
        /// What went wrong.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeystoreError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: error.reason,
        }
    }
}

/// One proof to sign: what the phone session's `SignProof` decision asks.
///
/// Sign `digest` (already `hash(message)`) with the private key of the
/// certificate `certificate_der`; see [`PhoneKeystore::sign_proof`] for the
/// exact format.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProofRequest {
    /// Whose key signs (LSC, MIC or SUDI).
    pub credential: ProofCredential,
    /// The digest algorithm of `digest`.
    pub hash: ProofHash,
    /// The certificate (DER) whose key must sign: find the key by its
    /// public key.
    pub certificate_der: Vec<u8>,
    /// The message the digest is taken over (for keystores that hash
    /// themselves: `SHA1withECDSA` / `SHA512withECDSA` over `message`).
    pub message: Vec<u8>,
    /// `hash(message)`: what is signed.
    pub digest: Vec<u8>,
}

/// One certificate request to sign: what the phone session's
/// `SignCertificateRequest` decision asks (only for a session made with
/// `PhoneOptions.send_certificate_request`, right after `generate_key`).
///
/// Sign `message` with the private key whose public key is
/// `public_key_der` (the key `generate_key` just returned), as `algorithm`
/// says; see [`PhoneKeystore::sign_certificate_request`] for the exact
/// format.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CertificateRequestToSign {
    /// The new key's public key, DER SubjectPublicKeyInfo: find the key by
    /// it.
    pub public_key_der: Vec<u8>,
    /// The signature algorithm.
    pub algorithm: CertificateRequestAlgorithm,
    /// The algorithm's Java name (`SHA256withRSA`, `SHA256withECDSA`,
    /// `SHA384withECDSA` …): `Signature.getInstance(algorithmName)` over
    /// `message` is exactly what is asked.
    pub algorithm_name: String,
    /// The DER PKCS#10 `CertificationRequestInfo` (version 1, subject
    /// `CN=<device name>`, the new key, no attributes): what is signed.
    pub message: Vec<u8>,
    /// `algorithm`'s hash of `message` (SHA-256, SHA-384 or SHA-512), for
    /// keystores that sign digests.
    pub digest: Vec<u8>,
}

/// The phone's keys, held by the app's platform keystore. The private keys
/// never enter Rust: the session asks for a public key and for signatures.
///
/// # Requirements
///
/// **`generate_key`** makes a new key pair of the kind asked
/// (`KeySpec::Rsa { bits }` with bits 512 … 4096, or `KeySpec::Ec` on
/// P-256/P-384/P-521) and returns its public key as a DER
/// `SubjectPublicKeyInfo` (Java `PublicKey.getEncoded()`; iOS
/// `SecKeyCopyExternalRepresentation` gives the raw point, which the app
/// must wrap in the P-256 SPKI header). The session checks the key is of
/// the requested kind. The key is the phone's next LSC key: the app keeps
/// it (under an alias of its choice) and links it to the certificate the
/// session later asks it to store. It may take as long as it needs (the
/// session sets no deadline while it waits). Throw
/// `KeystoreException.Unsupported` for a kind it cannot make: the phone
/// then answers KEY_GEN_RESPONSE with a failure.
///
/// **`sign_proof`** signs `request.digest` with the private key of
/// `request.certificate_der` (look the key up by that certificate's public
/// key):
///
/// * **RSA** (LSC, MIC and always for SUDI): the raw PKCS#1 v1.5 type-1
///   block `00 01 FF…FF 00 ‖ digest` raised to the private exponent,
///   **without** a DigestInfo prefix, exactly as long as the modulus. On
///   Android this is `Signature.getInstance("NONEwithRSA")` with a Keystore
///   key created with `DIGEST_NONE` and `SIGNATURE_PADDING_RSA_PKCS1`; in
///   plain Java, `Cipher.getInstance("RSA/ECB/PKCS1Padding")` in
///   `ENCRYPT_MODE` with the private key. `SHA1withRSA` / `SHA512withRSA`
///   are **wrong** (they add the DigestInfo); so is PSS. The proof is
///   deterministic.
/// * **EC** (LSC/MIC only): ECDSA over `digest` (ECDSA truncates it to the
///   curve's size), the signature DER `SEQUENCE { r, s }`: Android
///   `NONEwithECDSA` over `digest`, or equivalently `SHA1withECDSA` /
///   `SHA512withECDSA` over `request.message`; iOS
///   `SecKeyCreateSignature` with `.ecdsaSignatureDigestX962SHA1` /
///   `…SHA512` over `digest` (or `.ecdsaSignatureMessageX962…` over
///   `message`).
///
/// The session verifies every signature with the certificate's public key
/// before using it: a wrong format is reported to the app as
/// `PhoneException.Misuse` ("does not verify") and the proof stays pending.
///
/// **`sign_certificate_request`** (asked only when the session sends a
/// certificate request: `PhoneOptions.send_certificate_request`) signs
/// `request.message`, a DER PKCS#10 `CertificationRequestInfo`, with the
/// private key of `request.public_key_der` (the key `generate_key` just
/// made) — a **standard** X.509 signature, unlike the proofs:
///
/// * **RSA** (`RsaSha256`): RSA PKCS#1 v1.5 over SHA-256 **with** the
///   DigestInfo, as long as the modulus: Java/Android
///   `Signature.getInstance("SHA256withRSA")` over `message` (Android
///   Keystore: a key allowing `DIGEST_SHA256` and
///   `SIGNATURE_PADDING_RSA_PKCS1`); iOS
///   `.rsaSignatureMessagePKCS1v15SHA256` over `message`. `NONEwithRSA`
///   over the bare digest is **wrong** here (no DigestInfo).
/// * **EC** (`EcdsaSha256` for P-256, `EcdsaSha384` for P-384,
///   `EcdsaSha512` for P-521): ECDSA with the curve's hash, the signature
///   DER `SEQUENCE { r, s }`: Java `SHA256withECDSA` / `SHA384withECDSA` /
///   `SHA512withECDSA` over `message` (or `NONEwithECDSA` over
///   `request.digest`); iOS `.ecdsaSignatureMessageX962SHA256` over
///   `message` (the Secure Enclave's P-256 keys can).
///
/// `request.algorithm_name` is the Java name. The session checks the
/// signature under the new key as the server will (capf-core's
/// `certificate_request::verify_certificate_request_signature`): one that
/// does not verify is `PhoneException.Misuse` and the decision stays
/// pending. Throw `KeystoreException.Unsupported` (or any keystore
/// exception) when the key cannot make such a signature: the key then goes
/// out without a request, as without the option (a server whose CA needs
/// one, EST, then refuses; an offline CA takes the bare key).
///
/// # Pending keys (an offline CA)
///
/// When the session ends `PhoneOutcome.CertificatePending`, the server
/// kept the request for an offline CA: **keep the key `generate_key` made**
/// (do not delete it with the failed enrollment) and remember its public
/// key (what `generate_key` returned). At the next session, pass that
/// public key as `PhoneOptions.pending_key_spki_der`: the certificate then
/// comes without a new key, is stored only if it carries exactly that key
/// (else the phone answers the server with a failure and keeps the key),
/// and the keystore is not asked to generate anything.
///
/// # iOS: what the Secure Enclave can offer
///
/// The Secure Enclave holds only **P-256** keys and cannot import keys. An
/// iOS app can therefore keep in the Secure Enclave an **EC P-256 LSC**
/// (the CAPF server must schedule `ec:p256`), and sign that LSC's proofs
/// there. RSA LSCs (Cisco's default, `rsa:2048`), P-384/P-521 keys and any
/// MIC or SUDI (always RSA, made at the factory) cannot live in the Secure
/// Enclave: such a key, if the app needs one, lives in the Keychain
/// (`kSecAttrKeyTypeRSA`, software-protected) or the app throws
/// `KeystoreException.Unsupported`.
#[uniffi::export(with_foreign)]
pub trait PhoneKeystore: Send + Sync {
    /// Generates a new key pair for `device_name`'s next LSC and returns
    /// its public key, DER SubjectPublicKeyInfo.
    fn generate_key(&self, device_name: String, key: KeySpec) -> Result<Vec<u8>, KeystoreError>;

    /// Signs one proof (see the trait's requirements) and returns the
    /// signature.
    fn sign_proof(&self, request: ProofRequest) -> Result<Vec<u8>, KeystoreError>;

    /// Signs the certificate request of the key just generated (see the
    /// trait's requirements: a standard `SHA256withRSA` /
    /// `SHA…withECDSA` signature of `request.message`) and returns the
    /// signature.
    fn sign_certificate_request(
        &self,
        request: CertificateRequestToSign,
    ) -> Result<Vec<u8>, KeystoreError>;
}

/// Where the phone keeps its LSC, for the blocking [`crate::enroll::enroll`]
/// (an app driving a [`crate::phone::PhoneSession`] itself answers these
/// decisions itself). On Android the LSC goes next to its key
/// (`KeyStore.setKeyEntry` / `setCertificateEntry`), on iOS in the
/// Keychain. A thrown exception is a failure: storing then answers the
/// server with a failure, fetching sends no certificate, deleting reports
/// that nothing was deleted.
#[uniffi::export(with_foreign)]
pub trait CertificateStore: Send + Sync {
    /// Keeps `certificate_der`, the LSC just issued to `device_name`, as
    /// that device's LSC (its key is the one `generate_key` made last for
    /// it).
    fn store_certificate(
        &self,
        device_name: String,
        certificate_der: Vec<u8>,
    ) -> Result<(), KeystoreError>;

    /// The device's current LSC (DER), or `None`.
    fn fetch_certificate(&self, device_name: String) -> Result<Option<Vec<u8>>, KeystoreError>;

    /// Deletes the device's LSC; returns whether there was one.
    fn delete_certificate(&self, device_name: String) -> Result<bool, KeystoreError>;
}

/// One key held by the software keystore.
struct HeldKey {
    /// The device it was generated for (`None`: imported).
    device_name: Option<String>,
    spki_der: Vec<u8>,
    pkcs8_der: Vec<u8>,
    key: ProofPrivateKey,
}

/// An in-memory [`PhoneKeystore`] for tests, desktops and the CLI: private
/// keys live in this process (made from the OS random generator), found by
/// their public key. Pass [`as_keystore`](Self::as_keystore) where a
/// `PhoneKeystore` is wanted.
#[derive(uniffi::Object)]
pub struct SoftwareKeystore {
    keys: Mutex<Vec<HeldKey>>,
    /// Stored LSCs: (device name, certificate DER).
    certificates: Mutex<Vec<(String, Vec<u8>)>>,
}

impl std::fmt::Debug for SoftwareKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SoftwareKeystore")
            .field("keys", &crate::lock(&self.keys).len())
            .finish()
    }
}

impl Default for SoftwareKeystore {
    fn default() -> Self {
        Self {
            keys: Mutex::new(Vec::new()),
            certificates: Mutex::new(Vec::new()),
        }
    }
}

#[uniffi::export]
impl SoftwareKeystore {
    /// An empty keystore.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// This keystore as the [`PhoneKeystore`] a phone session uses.
    pub fn as_keystore(self: Arc<Self>) -> Arc<dyn PhoneKeystore> {
        self
    }

    /// Adds an existing private key (unencrypted PKCS#8, PEM or DER), e.g.
    /// the key of an LSC or MIC the phone already has. Returns its public
    /// key (DER SubjectPublicKeyInfo).
    pub fn import_pkcs8(&self, key: Vec<u8>) -> Result<Vec<u8>, KeystoreError> {
        let pkcs8_der = pkcs8_der_from_pem_or_der(&key)?;
        self.hold(pkcs8_der, None)
    }

    /// The private key whose public key is `spki_der`, as unencrypted
    /// PKCS#8 PEM, to write it next to the LSC on a desktop. Errors when
    /// no such key is held.
    pub fn export_pkcs8_pem(&self, spki_der: Vec<u8>) -> Result<String, KeystoreError> {
        let keys = crate::lock(&self.keys);
        let held = keys
            .iter()
            .find(|held| held.spki_der == spki_der)
            .ok_or_else(|| no_such_key("no key with this public key"))?;
        der::pem::encode_string("PRIVATE KEY", der::pem::LineEnding::LF, &held.pkcs8_der)
            .map_err(|_| failed("cannot encode the key as PEM"))
    }

    /// This keystore as the [`CertificateStore`] the blocking `enroll`
    /// uses (LSCs kept in memory, per device name).
    pub fn as_certificate_store(self: Arc<Self>) -> Arc<dyn CertificateStore> {
        self
    }

    /// The LSC (DER) stored for `device_name`, if any.
    pub fn certificate(&self, device_name: String) -> Option<Vec<u8>> {
        crate::lock(&self.certificates)
            .iter()
            .find(|(name, _)| *name == device_name)
            .map(|(_, der)| der.clone())
    }

    /// The public key (DER SubjectPublicKeyInfo) of the key generated last
    /// for `device_name`, if this keystore holds one: after
    /// `PhoneOutcome.CertificatePending`, the pending key to pass as
    /// `PhoneOptions.pending_key_spki_der` at the next session.
    pub fn generated_key(&self, device_name: String) -> Option<Vec<u8>> {
        crate::lock(&self.keys)
            .iter()
            .rev()
            .find(|held| held.device_name.as_deref() == Some(device_name.as_str()))
            .map(|held| held.spki_der.clone())
    }

    /// How many keys are held.
    pub fn key_count(&self) -> u32 {
        u32::try_from(crate::lock(&self.keys).len()).unwrap_or(u32::MAX)
    }
}

impl PhoneKeystore for SoftwareKeystore {
    fn generate_key(&self, device_name: String, key: KeySpec) -> Result<Vec<u8>, KeystoreError> {
        let pkcs8_der = generate_pkcs8(key)?;
        self.hold(pkcs8_der, Some(device_name))
    }

    fn sign_proof(&self, request: ProofRequest) -> Result<Vec<u8>, KeystoreError> {
        let spki_der = certificate_spki(&request.certificate_der)?;
        let keys = crate::lock(&self.keys);
        let held = keys
            .iter()
            .find(|held| held.spki_der == spki_der)
            .ok_or_else(|| no_such_key("no key for the certificate's public key"))?;
        let mut rng = OsRng;
        held.key
            .sign_digest(request.hash.to_core(), &request.digest, &mut rng)
            .map_err(|error| failed(&error.to_string()))
    }

    fn sign_certificate_request(
        &self,
        request: CertificateRequestToSign,
    ) -> Result<Vec<u8>, KeystoreError> {
        let keys = crate::lock(&self.keys);
        let held = keys
            .iter()
            .find(|held| held.spki_der == request.public_key_der)
            .ok_or_else(|| no_such_key("no key with this public key"))?;
        sign_certificate_request_info(
            &held.key,
            request.algorithm.to_core(),
            &request.message,
            &mut OsRng,
        )
        .map_err(|error| failed(&error.to_string()))
    }
}

impl CertificateStore for SoftwareKeystore {
    fn store_certificate(
        &self,
        device_name: String,
        certificate_der: Vec<u8>,
    ) -> Result<(), KeystoreError> {
        // Only a certificate whose key this keystore holds is an LSC it can use.
        let spki_der = certificate_spki(&certificate_der)?;
        if !crate::lock(&self.keys)
            .iter()
            .any(|held| held.spki_der == spki_der)
        {
            return Err(no_such_key("no key for the certificate's public key"));
        }
        let mut certificates = crate::lock(&self.certificates);
        certificates.retain(|(name, _)| *name != device_name);
        certificates.push((device_name, certificate_der));
        Ok(())
    }

    fn fetch_certificate(&self, device_name: String) -> Result<Option<Vec<u8>>, KeystoreError> {
        Ok(self.certificate(device_name))
    }

    fn delete_certificate(&self, device_name: String) -> Result<bool, KeystoreError> {
        let mut certificates = crate::lock(&self.certificates);
        let before = certificates.len();
        certificates.retain(|(name, _)| *name != device_name);
        Ok(certificates.len() != before)
    }
}

impl SoftwareKeystore {
    fn hold(
        &self,
        pkcs8_der: Vec<u8>,
        device_name: Option<String>,
    ) -> Result<Vec<u8>, KeystoreError> {
        let key = ProofPrivateKey::from_pkcs8_der(&pkcs8_der)
            .map_err(|error| unsupported(&error.to_string()))?;
        let spki_der = public_spki(&key.public_key())?;
        let mut keys = crate::lock(&self.keys);
        keys.retain(|held| held.spki_der != spki_der);
        keys.push(HeldKey {
            device_name,
            spki_der: spki_der.clone(),
            pkcs8_der,
            key,
        });
        Ok(spki_der)
    }
}

fn unsupported(message: &str) -> KeystoreError {
    KeystoreError::Unsupported {
        detail: message.to_owned(),
    }
}

fn no_such_key(message: &str) -> KeystoreError {
    KeystoreError::NoSuchKey {
        detail: message.to_owned(),
    }
}

fn failed(message: &str) -> KeystoreError {
    KeystoreError::Failed {
        detail: message.to_owned(),
    }
}

/// A new key pair of kind `key`, as unencrypted PKCS#8 DER.
fn generate_pkcs8(key: KeySpec) -> Result<Vec<u8>, KeystoreError> {
    use p256::pkcs8::EncodePrivateKey;
    if key.to_core().is_none() {
        return Err(unsupported("CAPF cannot ask for this key"));
    }
    let mut rng = OsRng;
    let document = match key {
        KeySpec::Rsa { bits } => rsa::RsaPrivateKey::new(&mut rng, usize::from(bits))
            .map_err(|_| failed("RSA key generation failed"))?
            .to_pkcs8_der(),
        KeySpec::Ec {
            curve: EcCurve::P256,
        } => p256::SecretKey::random(&mut rng).to_pkcs8_der(),
        KeySpec::Ec {
            curve: EcCurve::P384,
        } => p384::SecretKey::random(&mut rng).to_pkcs8_der(),
        KeySpec::Ec {
            curve: EcCurve::P521,
        } => p521::SecretKey::random(&mut rng).to_pkcs8_der(),
    };
    document
        .map(|document| document.as_bytes().to_vec())
        .map_err(|_| failed("cannot encode the new key"))
}

/// PKCS#8 DER from PEM (`PRIVATE KEY`) or DER bytes.
pub(crate) fn pkcs8_der_from_pem_or_der(key: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    if key.starts_with(b"-----BEGIN") {
        let (label, der_bytes) =
            der::pem::decode_vec(key).map_err(|_| unsupported("the PEM does not decode"))?;
        if label != "PRIVATE KEY" {
            return Err(unsupported("expected a PKCS#8 \"PRIVATE KEY\" PEM block"));
        }
        Ok(der_bytes)
    } else {
        Ok(key.to_vec())
    }
}

/// The DER SubjectPublicKeyInfo of a certificate.
fn certificate_spki(certificate_der: &[u8]) -> Result<Vec<u8>, KeystoreError> {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|_| no_such_key("the certificate does not parse"))?;
    certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| no_such_key("the certificate's key does not encode"))
}

/// The DER SubjectPublicKeyInfo of a public key.
fn public_spki(key: &ProofPublicKey) -> Result<Vec<u8>, KeystoreError> {
    use p256::pkcs8::EncodePublicKey;
    let document = match key {
        ProofPublicKey::Rsa(key) => key.to_public_key_der(),
        ProofPublicKey::P256(key) => key.to_public_key_der(),
        ProofPublicKey::P384(key) => key.to_public_key_der(),
        ProofPublicKey::P521(key) => {
            p521::PublicKey::from_sec1_bytes(key.to_encoded_point(false).as_bytes())
                .map_err(|_| failed("cannot encode the public key"))?
                .to_public_key_der()
        }
        _ => return Err(unsupported("unknown key kind")),
    };
    document
        .map(|document| document.as_bytes().to_vec())
        .map_err(|_| failed("cannot encode the public key"))
}
