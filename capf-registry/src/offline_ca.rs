//! The offline CA (`capf serve --offline-ca`): pending certificate
//! requests and the rules of importing the certificates signed elsewhere.
//!
//! At "certificate needed" the server does not issue: it keeps the phone's
//! request ([`Registry::record_certificate_request`](crate::Registry::record_certificate_request):
//! the phone's SubjectPublicKeyInfo, the phone-signed PKCS#10 request when
//! the phone sent one, the time) and ends the session with
//! [`IssueRefusal::Deferred`](capf_core::capf::server::IssueRefusal::Deferred)
//! (END_SESSION 0; status "Operation Pending"; no failure counted; the
//! one-time string is kept until the operation completes). Every host
//! does this through [`defer_to_offline_ca`] (or its two steps).
//!
//! A request is, as Unified CM words it:
//!
//! * **pending** until a certificate for it is imported;
//! * **imported** once one is ([`Registry::import_certificate`](crate::Registry::import_certificate)):
//!   the certificate is then in the ledger (state pending: a certificate
//!   is in the append-only ledger before it is sent) and reaches the phone
//!   at its next session;
//! * **stale** when the same device sent a newer key (a newer request), so
//!   no certificate for the older key can be installed. Stale requests are
//!   listed and deleted (`capf ca csr list --stale`, `capf ca csr delete
//!   --stale`).
//!
//! What an import accepts is [`check_import`]: exactly the key of a
//! pending (not stale, not yet imported) request, the device's name as
//! the subject CN, a certificate valid now.

use capf_core::capf::certificate_request::subject_common_name;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::{IssueRefusal, ServerSession};
use capf_core::session::SessionMisuse;

use crate::model::NewCertificate;

/// A request's state (see the [module docs](self)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateRequestState {
    /// Waiting for its certificate.
    Pending,
    /// Its certificate is imported (in the ledger), waiting for the phone.
    Imported,
    /// The device sent a newer key: no certificate for this one.
    Stale,
}

impl CertificateRequestState {
    /// `pending`, `imported` or `stale`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Imported => "imported",
            Self::Stale => "stale",
        }
    }
}

impl core::fmt::Display for CertificateRequestState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request kept for the offline CA, as the registry holds it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    /// Its id.
    pub id: i64,
    /// The device.
    pub device: String,
    /// The key the server asked for.
    pub key_request: KeyRequest,
    /// The phone's key, DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The phone-signed PKCS#10 request (DER, verified by the session),
    /// when the phone sent one.
    pub csr_der: Option<Vec<u8>>,
    /// When it was kept (Unix seconds).
    pub requested_at: u64,
    /// When a newer key made it stale.
    pub stale_at: Option<u64>,
    /// The ledger id of the imported certificate.
    pub certificate_id: Option<i64>,
    /// When the certificate was imported.
    pub imported_at: Option<u64>,
}

/// The certificate an offline CA has ready for a device just claimed (the
/// rule every backend applies in its claim's transaction): for an install
/// only, the one imported for the device's newest imported request, while
/// still pending in the ledger (not yet installed). `requests` reads the
/// device's requests on `connection`, oldest first; `certificate` one of
/// its ledger entries by id.
pub(crate) fn ready_certificate<C, E>(
    connection: &mut C,
    device: &crate::model::StoredDevice,
    requests: impl FnOnce(&mut C, &str) -> Result<Vec<CertificateRequest>, E>,
    certificate: impl FnOnce(&mut C, &str, i64) -> Result<Option<crate::model::CertificateEntry>, E>,
) -> Result<Option<Vec<u8>>, E> {
    let name = device.device.name.as_str();
    if device.device.operation != crate::model::Operation::Install {
        return Ok(None);
    }
    let Some(certificate_id) = requests(connection, name)?
        .iter()
        .rev()
        .find(|request| request.state() == CertificateRequestState::Imported)
        .and_then(|request| request.certificate_id)
    else {
        return Ok(None);
    };
    Ok(certificate(connection, name, certificate_id)?
        .filter(|entry| entry.state == crate::model::CertificateState::Pending)
        .map(|entry| entry.der))
}

impl CertificateRequest {
    /// Its state.
    pub const fn state(&self) -> CertificateRequestState {
        if self.stale_at.is_some() {
            CertificateRequestState::Stale
        } else if self.certificate_id.is_some() {
            CertificateRequestState::Imported
        } else {
            CertificateRequestState::Pending
        }
    }
}

/// A request to keep ([`Registry::record_certificate_request`](crate::Registry::record_certificate_request)).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificateRequest {
    /// The key the server asked for.
    pub key_request: KeyRequest,
    /// The phone's key, DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// The phone-signed PKCS#10 request, if the phone sent one.
    pub csr_der: Option<Vec<u8>>,
}

impl NewCertificateRequest {
    /// A request from what the session's IssueCertificate decision carries.
    pub fn new(key_request: KeyRequest, spki_der: Vec<u8>, csr_der: Option<Vec<u8>>) -> Self {
        Self {
            key_request,
            spki_der,
            csr_der,
        }
    }
}

/// The offline CA's answer to the session's `IssueCertificate` once the
/// host tried to keep the request (`kept`: the registry's answer to
/// [`Registry::record_certificate_request`](crate::Registry::record_certificate_request)):
/// [`IssueRefusal::Deferred`] when it was kept (END_SESSION 0, "Operation
/// Pending"), [`IssueRefusal::Unavailable`] with the registry's error when
/// it was not (END_SESSION 7: the phone asks again later).
pub fn refusal_after_keeping(kept: &crate::error::RegistryResult<i64>) -> IssueRefusal {
    match kept {
        Ok(_) => IssueRefusal::Deferred,
        Err(error) => IssueRefusal::Unavailable(error.to_string()),
    }
}

/// The offline CA for every host, at the session's `IssueCertificate`:
/// keeps the phone's request for `claim` at `now` (committed before the
/// session is answered) and answers the session with
/// [`refusal_after_keeping`]. Returns the registry's answer (the request's
/// id, or why it was not kept) for the host's log; the outer error is the
/// session's misuse (not at `IssueCertificate`).
///
/// A host that must not hold its session during the registry write calls
/// [`Registry::record_certificate_request`](crate::Registry::record_certificate_request)
/// itself, then answers with [`refusal_after_keeping`]: the two steps of
/// this function.
pub fn defer_to_offline_ca(
    registry: &(impl crate::Registry + ?Sized),
    claim: &crate::model::Claim,
    request: &NewCertificateRequest,
    now: u64,
    session: &mut ServerSession,
) -> Result<crate::error::RegistryResult<i64>, SessionMisuse> {
    let kept = registry.record_certificate_request(claim, request, now);
    session.refuse_certificate(refusal_after_keeping(&kept))?;
    Ok(kept)
}

/// Why a certificate was refused at import.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportRefusal {
    /// Not a DER (or PEM) X.509 certificate.
    #[error("not a certificate")]
    NotACertificate,
    /// No request of the device it names, and no request with its key.
    #[error("unknown device: no certificate request for {device:?}")]
    UnknownDevice {
        /// The subject CN (empty when there is none).
        device: String,
    },
    /// The device it names has pending requests, none for this key.
    #[error("wrong key: not the key of {device}'s pending certificate request")]
    WrongKey {
        /// The device.
        device: String,
    },
    /// Its key is that of a stale request (the phone has a newer key).
    #[error("stale: {device} generated a newer key since this request (request {request})")]
    Stale {
        /// The device.
        device: String,
        /// The request's id.
        request: i64,
    },
    /// A certificate for this request was imported already.
    #[error("already imported: request {request} of {device} has its certificate")]
    AlreadyImported {
        /// The device.
        device: String,
        /// The request's id.
        request: i64,
    },
    /// Its key is a request's, but its subject CN is not that device.
    #[error("wrong name: the certificate names {found:?}, the key is {device}'s")]
    WrongName {
        /// The device of the request with this key.
        device: String,
        /// The subject CN found (empty when there is none).
        found: String,
    },
    /// Not valid now (expired, or not yet valid).
    #[error("expired or not yet valid (valid {not_before} to {not_after}, Unix seconds)")]
    Expired {
        /// notBefore.
        not_before: u64,
        /// notAfter.
        not_after: u64,
    },
}

/// What [`check_import`] accepts: the request and the ledger row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedImport {
    /// The request's id.
    pub request_id: i64,
    /// The device.
    pub device: String,
    /// The certificate as the ledger records it.
    pub certificate: NewCertificate,
}

/// A certificate [`import_certificate`] put into the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedCertificate {
    /// Its ledger id (state pending until the phone stores it).
    pub ledger_id: i64,
    /// The device it is for.
    pub device: String,
    /// Its serial number, hex.
    pub serial_hex: String,
}

/// `capf ca import` for every host: checks `certificate_der` against the
/// registry's requests at `now` ([`check_import`]) and, when accepted,
/// records it ([`Registry::import_certificate`](crate::Registry::import_certificate)):
/// in the ledger at once, delivered at the phone's next session. The outer
/// error is the registry's; the inner one the refusal, with its reason.
pub fn import_certificate(
    registry: &(impl crate::Registry + ?Sized),
    certificate_der: &[u8],
    now: u64,
) -> crate::error::RegistryResult<Result<ImportedCertificate, ImportRefusal>> {
    let requests = registry.certificate_requests(None)?;
    let accepted = match check_import(&requests, certificate_der, now) {
        Ok(accepted) => accepted,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let ledger_id = registry.import_certificate(accepted.request_id, &accepted.certificate, now)?;
    Ok(Ok(ImportedCertificate {
        ledger_id,
        device: accepted.device,
        serial_hex: accepted.certificate.serial_hex,
    }))
}

/// Whether `certificate_der` may be imported for one of `requests`, at
/// `now`: its SubjectPublicKeyInfo must be exactly a request's key, that
/// request neither stale nor imported, its subject CN exactly the device
/// name, and `now` within its validity. Every refusal says why.
pub fn check_import(
    requests: &[CertificateRequest],
    certificate_der: &[u8],
    now: u64,
) -> Result<AcceptedImport, ImportRefusal> {
    use der::{Decode, Encode};
    let certificate = x509_cert::Certificate::from_der(certificate_der)
        .map_err(|_| ImportRefusal::NotACertificate)?;
    let tbs = &certificate.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|_| ImportRefusal::NotACertificate)?;
    let common_name = subject_common_name(&tbs.subject).unwrap_or_default();
    // The newest request with this key decides.
    let Some(request) = requests
        .iter()
        .filter(|request| request.spki_der == spki)
        .max_by_key(|request| request.id)
    else {
        let names_a_requester = requests.iter().any(|request| request.device == common_name);
        return Err(if names_a_requester {
            ImportRefusal::WrongKey {
                device: common_name,
            }
        } else {
            ImportRefusal::UnknownDevice {
                device: common_name,
            }
        });
    };
    match request.state() {
        CertificateRequestState::Stale => {
            return Err(ImportRefusal::Stale {
                device: request.device.clone(),
                request: request.id,
            });
        }
        CertificateRequestState::Imported => {
            return Err(ImportRefusal::AlreadyImported {
                device: request.device.clone(),
                request: request.id,
            });
        }
        _ => {}
    }
    if common_name != request.device {
        return Err(ImportRefusal::WrongName {
            device: request.device.clone(),
            found: common_name,
        });
    }
    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    if now < not_before || now > not_after {
        return Err(ImportRefusal::Expired {
            not_before,
            not_after,
        });
    }
    Ok(AcceptedImport {
        request_id: request.id,
        device: request.device.clone(),
        certificate: NewCertificate::from_der(certificate_der),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use capf_core::capf::codec::Curve;

    const DEVICE: &str = "SEP001122334455";
    /// 2027-01-01T00:00:00Z.
    const NOW: u64 = 1_798_761_600;

    /// A P-256 key pair for rcgen from a seeded generator.
    fn key(seed: u64) -> rcgen::KeyPair {
        use p256::pkcs8::EncodePrivateKey;
        use rand::SeedableRng;
        let secret = p256::SecretKey::random(&mut rand::rngs::StdRng::seed_from_u64(seed));
        rcgen::KeyPair::try_from(secret.to_pkcs8_der().unwrap().as_bytes()).unwrap()
    }

    /// A certificate for `key` named `cn`, valid in `year_from..year_to`
    /// (January 1st), signed by a throw-away CA.
    fn certificate(key: &rcgen::KeyPair, cn: &str, year_from: i32, year_to: i32) -> Vec<u8> {
        let ca_key = self::key(99);
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Offline CA");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_before = rcgen::date_time_ymd(year_from, 1, 1);
        params.not_after = rcgen::date_time_ymd(year_to, 1, 1);
        params.signed_by(key, &issuer).unwrap().der().to_vec()
    }

    fn request(id: i64, device: &str, key: &rcgen::KeyPair) -> CertificateRequest {
        CertificateRequest {
            id,
            device: device.to_owned(),
            key_request: KeyRequest::Ec(Curve::P256),
            spki_der: der::pem::decode_vec(key.public_key_pem().as_bytes())
                .unwrap()
                .1,
            csr_der: None,
            requested_at: NOW - 100,
            stale_at: None,
            certificate_id: None,
            imported_at: None,
        }
    }

    #[test]
    fn exactly_a_pending_key_and_name_valid_now_is_accepted() {
        let phone = key(1);
        let requests = [request(7, DEVICE, &phone)];
        let der = certificate(&phone, DEVICE, 2026, 2028);
        let accepted = check_import(&requests, &der, NOW).unwrap();
        assert_eq!(accepted.request_id, 7);
        assert_eq!(accepted.device, DEVICE);
        assert_eq!(accepted.certificate.der, der);
    }

    #[test]
    fn every_refusal_says_why() {
        let (phone, other, stale_key, imported_key) = (key(1), key(2), key(3), key(4));
        let mut stale = request(1, "SEP00112233AAAA", &stale_key);
        stale.stale_at = Some(NOW - 50);
        let mut imported = request(2, "SEP00112233BBBB", &imported_key);
        imported.certificate_id = Some(9);
        imported.imported_at = Some(NOW - 10);
        let requests = [request(3, DEVICE, &phone), stale, imported];
        let check = |der: &[u8], now| check_import(&requests, der, now).unwrap_err();
        assert_eq!(check(b"\x30\x00", NOW), ImportRefusal::NotACertificate);
        assert_eq!(
            check(&certificate(&other, DEVICE, 2026, 2028), NOW),
            ImportRefusal::WrongKey {
                device: DEVICE.into()
            }
        );
        assert_eq!(
            check(&certificate(&other, "SEP00000000FFFF", 2026, 2028), NOW),
            ImportRefusal::UnknownDevice {
                device: "SEP00000000FFFF".into()
            }
        );
        assert_eq!(
            check(&certificate(&phone, "SEP00000000FFFF", 2026, 2028), NOW),
            ImportRefusal::WrongName {
                device: DEVICE.into(),
                found: "SEP00000000FFFF".into()
            }
        );
        assert_eq!(
            check(&certificate(&stale_key, "SEP00112233AAAA", 2026, 2028), NOW),
            ImportRefusal::Stale {
                device: "SEP00112233AAAA".into(),
                request: 1
            }
        );
        assert_eq!(
            check(
                &certificate(&imported_key, "SEP00112233BBBB", 2026, 2028),
                NOW
            ),
            ImportRefusal::AlreadyImported {
                device: "SEP00112233BBBB".into(),
                request: 2
            }
        );
        // Time is passed in: the same certificate, before and after.
        let valid_2026 = certificate(&phone, DEVICE, 2026, 2027);
        assert!(check_import(&requests, &valid_2026, NOW - 1).is_ok());
        assert!(matches!(
            check(&valid_2026, NOW + 1),
            ImportRefusal::Expired { .. }
        ));
        let from_2028 = certificate(&phone, DEVICE, 2028, 2029);
        assert!(matches!(
            check(&from_2028, NOW),
            ImportRefusal::Expired { .. }
        ));
    }

    /// The offline CA between a real phone session and a real server
    /// session over a real SQLite file: the session ends deferred
    /// (END_SESSION 0, Deferred) with the phone's key kept, or, when the
    /// registry refuses the write (a lost claim), Unavailable with nothing
    /// kept.
    mod deferred_sessions {
        use super::super::*;
        use crate::model::{AuthMode, Claim, ClaimToken, Operation, Schedule};
        use crate::{Registry, SqliteRegistry};
        use capf_core::capf::codec::{Curve, Reason};
        use capf_core::capf::phone::{PhoneConfig, PhoneCredentials, PhoneDecision, PhoneSession};
        use capf_core::capf::server::{ServerConfig, ServerDecision, ServerOutcome, SessionResult};
        use capf_core::session::Output;
        use capf_core::time::Timestamp;

        const DEVICE: &str = "SEP001122334455";
        const NOW: u64 = 1_800_000_000;

        /// A fresh SQLite file holding DEVICE scheduled for an install
        /// (null string, P-256).
        fn registry(test: &str) -> (SqliteRegistry, std::path::PathBuf) {
            let dir =
                std::env::temp_dir().join(format!("capf-offline-ca-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let registry = SqliteRegistry::open(&dir.join("registry.db")).unwrap();
            let schedule = Schedule {
                operation: Operation::Install,
                key_request: KeyRequest::Ec(Curve::P256),
                auth_mode: AuthMode::Null,
                auth_hash: None,
                complete_by: None,
                description: None,
            };
            registry.put_device(DEVICE, &schedule, NOW - 10).unwrap();
            (registry, dir)
        }

        /// One install session; at IssueCertificate the host calls
        /// `defer_to_offline_ca` with the claim of the lookup, or with
        /// `claim_override`. Returns the server's outcome, the phone's key
        /// and the registry's answer the function returned.
        fn enroll(
            registry: &SqliteRegistry,
            claim_override: Option<Claim>,
        ) -> (ServerOutcome, Vec<u8>, crate::error::RegistryResult<i64>) {
            let key = super::key(5);
            let spki = der::pem::decode_vec(key.public_key_pem().as_bytes())
                .unwrap()
                .1;
            let at = Timestamp::from_unix_seconds(NOW);
            let mut server = ServerSession::new(ServerConfig::new(0x0101), at);
            let config = PhoneConfig::new(DEVICE, PhoneCredentials::NullString).unwrap();
            let mut phone = PhoneSession::new(config, at);
            let (mut claim, mut kept, mut outcome) = (None, None, None);
            for _ in 0..100 {
                let mut moved = false;
                while let Some(output) = server.poll_output() {
                    moved = true;
                    match output {
                        Output::Transmit(bytes) => phone.handle_input(&bytes),
                        Output::Need(ServerDecision::LookUpDevice { device_name, .. }) => {
                            let looked_up = crate::look_up_device(
                                registry,
                                &device_name,
                                ClaimToken([1; 16]),
                                NOW + 100,
                                NOW,
                                None,
                            );
                            let (claimed, answered) = crate::answer_lookup(&mut server, looked_up);
                            answered.unwrap();
                            claim = claimed;
                        }
                        Output::Need(ServerDecision::IssueCertificate {
                            subject_public_key_info_der,
                            key_request,
                            certificate_request_der,
                            ..
                        }) => {
                            let claim = claim_override
                                .clone()
                                .or_else(|| claim.clone())
                                .expect("a claim from the lookup");
                            let request = NewCertificateRequest::new(
                                key_request,
                                subject_public_key_info_der,
                                certificate_request_der,
                            );
                            kept = Some(
                                defer_to_offline_ca(registry, &claim, &request, NOW, &mut server)
                                    .unwrap(),
                            );
                        }
                        Output::Need(ServerDecision::RecordOutcome { .. }) => {
                            server.answer_outcome_recorded().unwrap()
                        }
                        Output::Need(other) => panic!("{other:?}"),
                        Output::Done(done) => outcome = Some(done),
                        _ => panic!("unknown output"),
                    }
                }
                while let Some(output) = phone.poll_output() {
                    moved = true;
                    match output {
                        Output::Transmit(bytes) => server.handle_input(&bytes),
                        Output::Need(PhoneDecision::GenerateKey(_)) => {
                            phone.answer_key(spki.clone()).unwrap();
                        }
                        Output::Need(other) => panic!("{other:?}"),
                        Output::Done(_) => {}
                        _ => panic!("unknown output"),
                    }
                }
                if !moved {
                    break;
                }
            }
            (
                outcome.expect("the server session ended"),
                spki,
                kept.expect("the session asked for a certificate"),
            )
        }

        #[test]
        fn kept_request_defers_the_session() {
            let (registry, dir) = registry("kept");
            let (outcome, spki, kept) = enroll(&registry, None);
            assert_eq!(
                outcome.result,
                SessionResult::IssueRefused(IssueRefusal::Deferred)
            );
            assert_eq!(outcome.end_reason, Some(Reason::NoAction));
            let requests = registry.certificate_requests(Some(DEVICE)).unwrap();
            assert_eq!(requests.len(), 1);
            assert_eq!(Some(requests[0].id), kept.ok());
            assert_eq!(requests[0].spki_der, spki);
            assert_eq!(requests[0].key_request, KeyRequest::Ec(Curve::P256));
            assert_eq!(requests[0].requested_at, NOW);
            assert_eq!(requests[0].state(), CertificateRequestState::Pending);
            let _ = std::fs::remove_dir_all(dir);
        }

        #[test]
        fn registry_error_is_unavailable_and_keeps_nothing() {
            let (registry, dir) = registry("lost");
            let stranger = Claim {
                device: DEVICE.to_owned(),
                token: ClaimToken([9; 16]),
                lease_until: NOW + 100,
            };
            let (outcome, _, kept) = enroll(&registry, Some(stranger));
            let Err(error) = kept else {
                panic!("a lost claim keeps nothing")
            };
            assert_eq!(
                outcome.result,
                SessionResult::IssueRefused(IssueRefusal::Unavailable(error.to_string()))
            );
            assert_eq!(outcome.end_reason, Some(Reason::Failure));
            assert!(registry.certificate_requests(None).unwrap().is_empty());
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
