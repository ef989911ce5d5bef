//! Is a certificate a phone presents for authentication (spec 9.3-9.6)
//! trusted, current and this device's?
//!
//! The CAPF server's rules on top of the trust evaluator
//! ([`crate::trust::evaluate_with`], which builds paths and checks
//! signatures with rustls-webpki, within its work budgets):
//!
//! * **Which kind.** A certificate is an LSC if it is signed directly by one
//!   of [`CertificatePolicy::lsc_issuers`]; otherwise it is a MIC if it
//!   chains to one of [`CertificatePolicy::manufacturing_roots`], possibly
//!   through [`CertificatePolicy::intermediates`]. The kind comes from the
//!   roots it chains to, never from the wrapper's type byte. A SUDI
//!   certificate must be a MIC.
//! * **Enterprise LSCs.** Phones send no chain (Appendix C), so the LSC's
//!   *issuing* CA must be among the LSC issuers: for root -> issuing CA ->
//!   LSC, configure the issuing CA (the root may be configured as well, but
//!   alone it is not enough: no path is built through other certificates
//!   for an LSC). Configured issuers and roots are trust anchors: their own
//!   dates and constraints are not judged.
//! * **Signatures.** Every link is verified by rustls-webpki (but for a
//!   version 1 leaf, below): ECDSA P-256
//!   or P-384 with SHA-256 or SHA-384, Ed25519, RSA PKCS#1 v1.5 or PSS with
//!   SHA-256/384/512 (RSA issuer keys of at least
//!   [`MIN_RSA_ISSUER_BITS`]). SHA-1 RSA signatures are accepted on the MIC
//!   path only (old Cisco manufacturing hierarchies sign with SHA-1,
//!   Appendix C), never for an LSC.
//! * **The path.** Intermediates must be CA certificates (basicConstraints
//!   CA:TRUE) within every pathLenConstraint and name constraint above
//!   them, and the path holds at most [`CertificatePolicy::max_chain_depth`]
//!   certificates (leaf and root included). Revocation data of
//!   [`CertificatePolicy::revocations`] applies to every certificate of it.
//! * **The presented certificate** must not be a CA nor itself one of the
//!   configured certificates (a configured certificate issues, it does not
//!   authenticate), must allow digitalSignature if it has a keyUsage (the
//!   proofs are signatures), must be current at `now` together with its
//!   intermediates (a MIC path may be expired if
//!   [`CertificatePolicy::allow_expired_mic`] says so; the verdict then says
//!   so, for the host to log), and must name the device: an LSC's CN or a
//!   SAN URI equals the device name; a MIC's CN is the device name or ends
//!   with `-` + the device name (`CP-8845-SEP001122334455`), ASCII case
//!   ignored.
//!
//! * **X.509 version 1.** A version 1 leaf (what `openssl x509 -req`
//!   without extensions makes, common in lab PKIs) is accepted as an LSC
//!   or a MIC when its signature verifies *directly* under a configured
//!   LSC issuer or manufacturing root (not through intermediates), with
//!   every other rule above (dates, name, revocation, SHA-1 on the MIC
//!   path only). That one signature check is made outside rustls-webpki
//!   (the trust module's `v1_leaf`, the one exception to "chain building
//!   uses a well-tested verifier"). A version 1 certificate never acts as
//!   an issuer: configured or presented, it is refused
//!   ([`CertificateCheckError::Version1`], naming it).
//!
//! When neither hierarchy accepts the certificate, the refusal of the one
//! that got further is reported (an LSC that chains to its issuer but has
//! expired is [`CertificateCheckError::Expired`], not
//! [`CertificateCheckError::Untrusted`]).

use der::Decode;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

use crate::time::Timestamp;
use crate::trust::{
    CapfCredential, EvaluationOptions, Failure, Purpose, Revocations, StoreKind,
    TrustFailureReason, TrustStore, Verdict, evaluate_with,
};

/// Smallest RSA issuer key accepted in a chain, in bits (what the
/// evaluator's RSA signature algorithms require, SHA-1 included).
pub const MIN_RSA_ISSUER_BITS: usize = 2048;

/// What the server trusts for certificate authentication, strict by default.
///
/// ```
/// use capf_core::capf::server::CertificatePolicy;
/// let policy = CertificatePolicy::default();
/// assert!(!policy.allow_expired_mic && !policy.skip_name_binding && !policy.skip_validity);
/// assert_eq!(policy.max_chain_depth, 4);
/// assert!(policy.revocations.is_empty());
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
    /// Accept a MIC (and its intermediates) past notAfter, if the path was
    /// valid at some earlier instant. Off by default; the verdict reports
    /// when it was used.
    pub allow_expired_mic: bool,
    /// Do not require the certificate to name the device. Off by default.
    pub skip_name_binding: bool,
    /// Do not check validity dates against `now` (the path's certificates
    /// must still have been valid at one common instant). Off by default.
    pub skip_validity: bool,
    /// Most certificates in a path, presented certificate and root included
    /// (4: up to two intermediates).
    pub max_chain_depth: usize,
    /// Revoked certificates (serials per issuer, SHA-256 digests, CRLs),
    /// applied to the presented certificate and its intermediates. Empty
    /// by default.
    pub revocations: Revocations,
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
            revocations: Revocations::new(),
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

/// Why a presented certificate is refused. Every variant ends the session
/// with END_SESSION 7 (failure) as an authentication failure.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateCheckError {
    /// The presented certificate does not parse as DER X.509 (or, for a
    /// SUDI certificate, its public key cannot be read).
    #[error("certificate is not DER X.509, or its public key cannot be read")]
    Malformed,
    /// A certificate of the path parses but cannot be used (an unknown
    /// critical extension, an encoding rustls-webpki refuses); the text
    /// names the certificate and the cause.
    #[error("certificate cannot be used: {0}")]
    Unusable(String),
    /// A certificate of the policy does not parse (a configuration error).
    #[error("a configured trust certificate does not parse")]
    BadPolicyCertificate,
    /// No path to a configured root (or LSC issuer); also a configured
    /// certificate presented as the device's.
    #[error("certificate does not chain to a trusted root")]
    Untrusted,
    /// A signature of the path does not verify under its issuer's key; the
    /// text names the certificate and the issuer.
    #[error("{0}")]
    SignatureInvalid(String),
    /// An X.509 version 1 certificate where it cannot serve: as an issuer
    /// (configured or presented; version 1 has no basicConstraints, so it
    /// is never a CA), or a version 1 leaf whose issuer is not itself
    /// configured. The text names the certificate.
    #[error("{0}")]
    Version1(String),
    /// The presented certificate is a CA certificate.
    #[error("a CA certificate cannot authenticate a device")]
    IsCa,
    /// The presented certificate or an intermediate is before notBefore.
    #[error("certificate is not yet valid")]
    NotYetValid,
    /// The presented certificate or an intermediate is after notAfter.
    #[error("certificate has expired")]
    Expired,
    /// The certificate does not name the device.
    #[error("certificate does not name the device")]
    NameMismatch,
    /// The presented certificate's keyUsage lacks digitalSignature, or a
    /// certificate that is not a CA (basicConstraints) issued one of the
    /// path.
    #[error("key usage or basic constraints do not allow this use")]
    WrongKeyUsage,
    /// The path is longer than [`CertificatePolicy::max_chain_depth`] or a
    /// CA's pathLenConstraint allows (or path building ran out of budget).
    #[error("certificate chain too long")]
    ChainTooLong,
    /// A signature algorithm or issuer key is not accepted: SHA-1 outside
    /// the MIC path, RSA issuer keys under 2048 bits.
    #[error("signature algorithm or issuer key not accepted")]
    UnsupportedAlgorithm,
    /// The presented certificate or one of its path is revoked by
    /// [`CertificatePolicy::revocations`].
    #[error("certificate is revoked")]
    Revoked,
}

impl CertificateCheckError {
    /// The refusal for the evaluator's failure: the fixed words of the
    /// reason, or the evaluator's own detail where the reason alone does
    /// not name the cause (which signature, which version 1 certificate,
    /// what cannot be used).
    fn from_failure(failure: &Failure) -> Self {
        match failure.reason {
            TrustFailureReason::Expired => Self::Expired,
            TrustFailureReason::NotYetValid => Self::NotYetValid,
            TrustFailureReason::NameMismatch => Self::NameMismatch,
            TrustFailureReason::WrongKeyUsage => Self::WrongKeyUsage,
            TrustFailureReason::ChainTooLong => Self::ChainTooLong,
            TrustFailureReason::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            TrustFailureReason::Revoked => Self::Revoked,
            TrustFailureReason::Malformed => Self::Unusable(failure.detail.clone()),
            TrustFailureReason::SignatureInvalid => Self::SignatureInvalid(failure.detail.clone()),
            TrustFailureReason::Version1 => Self::Version1(failure.detail.clone()),
            // Pins and store selection do not occur with the stores built
            // here.
            TrustFailureReason::UnknownIssuer
            | TrustFailureReason::NotListed
            | TrustFailureReason::WrongRole
            | TrustFailureReason::NoApplicableStore => Self::Untrusted,
        }
    }
}

fn trust_store(
    kind: StoreKind,
    name: &str,
    certificates: &[Vec<u8>],
    revocations: &Revocations,
) -> Result<TrustStore, CertificateCheckError> {
    TrustStore::from_der_certificates(kind, name, certificates.iter().map(Vec::as_slice))
        .map(|store| store.with_revocations(revocations))
        .map_err(|_| CertificateCheckError::BadPolicyCertificate)
}

/// Checks a presented certificate against `policy` for `device_name` at
/// `now`; see the module documentation for every rule.
///
/// The refusal says why (see [`CertificateCheckError`]); the trust
/// evaluator's full explanation is available from
/// [`crate::trust::evaluate_with`] with [`Purpose::CapfAuthentication`].
pub fn check_certificate(
    policy: &CertificatePolicy,
    certificate_der: &[u8],
    device_name: &str,
    now: Timestamp,
    purpose: CertificatePurpose,
) -> Result<CertificateVerdict, CertificateCheckError> {
    let leaf =
        Certificate::from_der(certificate_der).map_err(|_| CertificateCheckError::Malformed)?;
    if is_ca(&leaf) {
        return Err(CertificateCheckError::IsCa);
    }
    let lsc_issuers = trust_store(
        StoreKind::CapfTrust,
        "LSC issuers",
        &policy.lsc_issuers,
        &policy.revocations,
    )?;
    let manufacturing_roots = trust_store(
        StoreKind::ManufacturingRoots,
        "manufacturing roots",
        &policy.manufacturing_roots,
        &policy.revocations,
    )?;
    if policy
        .intermediates
        .iter()
        .any(|der| Certificate::from_der(der).is_err())
    {
        return Err(CertificateCheckError::BadPolicyCertificate);
    }
    // The evaluator treats a certificate found in a store as its own
    // anchor; for authentication a configured certificate is an issuer.
    let mut configured = policy
        .lsc_issuers
        .iter()
        .chain(&policy.manufacturing_roots)
        .chain(&policy.intermediates);
    if configured.any(|der| der == certificate_der) {
        return Err(CertificateCheckError::Untrusted);
    }

    let options = EvaluationOptions {
        max_chain_length: policy.max_chain_depth,
        allow_expired_mic: policy.allow_expired_mic,
        skip_validity: policy.skip_validity,
        ..EvaluationOptions::default()
    };
    let device = (!policy.skip_name_binding).then(|| device_name.to_owned());
    let capf_authentication = |credential| Purpose::CapfAuthentication {
        credential,
        device: device.clone(),
    };

    let mut lsc_refusal = None;
    if purpose == CertificatePurpose::Authentication {
        // Phones send no chain: the LSC alone, against its issuers.
        let verdict = evaluate_with(
            &[certificate_der],
            &capf_authentication(CapfCredential::Lsc),
            &[lsc_issuers],
            now,
            &options,
        );
        if verdict.trusted {
            return Ok(CertificateVerdict {
                kind: CertificateKind::Lsc,
                expired_mic_accepted: false,
            });
        }
        lsc_refusal = verdict.failure;
    }

    let chain: Vec<&[u8]> = core::iter::once(certificate_der)
        .chain(policy.intermediates.iter().map(Vec::as_slice))
        .collect();
    let verdict = evaluate_with(
        &chain,
        &capf_authentication(CapfCredential::Mic),
        &[manufacturing_roots],
        now,
        &options,
    );
    if verdict.trusted {
        return Ok(CertificateVerdict {
            kind: CertificateKind::Mic,
            expired_mic_accepted: policy.allow_expired_mic
                && !policy.skip_validity
                && path_expired(&verdict, now),
        });
    }
    let failure = match (lsc_refusal, verdict.failure) {
        (Some(lsc), Some(mic)) if lsc.reason.rank() >= mic.reason.rank() => lsc,
        (_, Some(mic)) => mic,
        (Some(lsc), None) => lsc,
        (None, None) => return Err(CertificateCheckError::Untrusted),
    };
    Err(CertificateCheckError::from_failure(&failure))
}

/// Whether a certificate of a trusted path, other than its anchor (whose
/// dates are not judged), is past notAfter at `now`.
fn path_expired(verdict: &Verdict, now: Timestamp) -> bool {
    let judged = verdict.chain.len().saturating_sub(1);
    verdict
        .chain
        .iter()
        .take(judged)
        .any(|certificate| certificate.not_after < now.unix_seconds())
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate.get::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
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

    std::thread_local! {
        /// This test's key generator: seeded, so keys are the same on
        /// every run (each test runs on a thread of its own). rcgen's
        /// ECDSA signatures still take ring's own random nonces.
        static KEYS: core::cell::RefCell<rand::rngs::StdRng> =
            core::cell::RefCell::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x4343));
    }

    fn p256_key() -> KeyPair {
        use p256::pkcs8::EncodePrivateKey;
        let secret = KEYS.with(|rng| p256::SecretKey::random(&mut *rng.borrow_mut()));
        let der = secret.to_pkcs8_der().unwrap();
        KeyPair::from_pkcs8_der_and_sign_algo(
            &der.as_bytes().into(),
            &rcgen::PKCS_ECDSA_P256_SHA256,
        )
        .unwrap()
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
        let key = p256_key();
        let params = params(cn, true);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    fn intermediate(cn: &str, parent: &Ca, ca: bool) -> Ca {
        let key = p256_key();
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
        let key = p256_key();
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
            Err(CertificateCheckError::ChainTooLong)
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
        // The path exists by names and signatures, but an end entity cannot
        // issue: refused for its basic constraints.
        assert_eq!(
            check(&mic_policy(&root, &[&not_ca]), &mic, AUTH),
            Err(CertificateCheckError::WrongKeyUsage)
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
        // Found by name, refused by its signature, and said so.
        let refusal = check(&mic_policy(&root, &[]), &mic, AUTH).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "signature of CN=CP-8845-SEP001122334455 does not verify under issuer CN=Maker Root"
        );
        assert!(matches!(
            refusal,
            CertificateCheckError::SignatureInvalid(_)
        ));
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
        let key = p256_key();
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
            Err(CertificateCheckError::Expired)
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
    fn garbage_is_malformed() {
        assert_eq!(
            check(&CertificatePolicy::default(), b"not a certificate", AUTH),
            Err(CertificateCheckError::Malformed)
        );
    }
}
