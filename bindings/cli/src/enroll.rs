//! `capf enroll`: the phone side of CAPF over real TLS.
//!
//! The host around the sans-IO [`PhoneSession`]: tokio moves TCP bytes,
//! a [`TlsConnection`] (pinned to the CAPF certificates given with
//! `--ca`) turns them into plaintext, and the host answers the session's
//! decisions: it generates the requested key in memory, writes the issued
//! LSC with its PKCS#8 key to `--out`, returns `--out` for a fetch and
//! removes it for a delete.
//!
//! `--retries N --retry-interval S`: after a communication failure (the
//! server unreachable, the connection lost or silent) another session
//! starts S seconds later, up to N times, by the library's retry policy
//! ([`EnrollmentAttempts`]); a refusal is never retried. The exit status
//! is that of the last session.

use crate::anchors::{describe_tls_failure, server_tls_config};
use crate::files::pem_blocks;
use crate::output::{errln, outln, read_text};
use crate::pump::{self, now, usable_server_name};
use crate::runtime::{init_logging, runtime};
use crate::{CliError, CliResult};
use capf_core::capf::certificate_request::sign_certificate_request_info;
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    AuthString, CertificateCredentials, CertificatePrecedence, CommunicationFailure,
    EnrollmentAttempts, PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneSession,
    ProofCredential, RetryDecision, RetryPolicy, SoftwareSigner,
};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::connection::{ConnectionOptions, TlsConnection};
use capf_core::tls::rustls;
use capf_core::trust::{DirectCertificates, ServerRole};
use clap::Args;
use der::pem::LineEnding;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// `capf enroll`.
#[derive(Debug, Args)]
pub(crate) struct EnrollArgs {
    /// The CAPF server, HOST:PORT (e.g. 192.0.2.10:3804 or [::1]:3804).
    #[allow(rustdoc::broken_intra_doc_links)] // --help text: brackets as written
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// What the CAPF server is trusted by: its certificate(s) to pin (PEM),
    /// or a CTL/ITL whose records with role CAPF are pinned, as a phone
    /// does (the list must verify).
    #[arg(long, value_name = "CAPF_CERT.pem|CTLFile.tlv")]
    ca: PathBuf,
    /// This phone's device name (SEP + MAC).
    #[arg(long, value_name = "SEP…")]
    device: String,
    /// Authenticate with this authentication string (default: null string).
    #[arg(long, value_name = "DIGITS", conflicts_with_all = ["lsc", "mic"])]
    auth_string: Option<String>,
    /// Authenticate with this LSC (PEM file: certificate + PKCS#8 key).
    #[arg(long, value_name = "LSC.pem")]
    lsc: Option<PathBuf>,
    /// Authenticate with this MIC (PEM file: certificate + PKCS#8 key).
    #[arg(long, value_name = "MIC.pem")]
    mic: Option<PathBuf>,
    /// Also send SUDI_DATA signed with this RSA certificate (certificate + key).
    #[arg(long, value_name = "MIC.pem")]
    sudi: Option<PathBuf>,
    /// Where the phone keeps its LSC (certificate + PKCS#8 key, PEM). A
    /// key whose certificate is pending at an offline CA is kept beside it
    /// in LSC.pem.pending-key.pem (owner-only) and used at the next
    /// session; exit status 3 says "certificate pending at the CA".
    #[arg(long, value_name = "LSC.pem")]
    out: PathBuf,
    /// Only accept this key family from the server (rsa or ec); default:
    /// generate whatever the server asks for.
    #[arg(long, value_name = "rsa|ec")]
    key: Option<String>,
    /// Seconds to wait for each server frame.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
    /// Also send a PKCS#10 certificate request signed by the new key
    /// (CN = device name) with the public key, in KEY_GEN_RESPONSE
    /// SIGNED_DATA (our reading of the spec; real phones are not known to
    /// send it). An offline or external CA can then be given it as is.
    #[arg(long)]
    send_csr: bool,
    /// Sessions to try again after a communication failure (the server
    /// unreachable, the connection lost or silent), by the phone's retry
    /// policy (Cisco's phones: 3). A refusal is never retried. Default 0:
    /// one session, so a script gets its answer at once.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Seconds between a failed session and the next (Cisco's phones: 30).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    retry_interval: u64,
}

/// Exit status of `capf enroll` when the certificate is pending at an
/// offline CA: neither success (0) nor a refusal (1) nor bad input (2).
pub(crate) const PENDING_EXIT_CODE: u8 = 3;

/// Which key family the user allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    /// RSA only.
    Rsa,
    /// EC only.
    Ec,
}

/// How the phone authenticates, as files (loaded when enrolling).
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// Null string.
    Null,
    /// An authentication string.
    String(String),
    /// Certificates: LSC and/or MIC files, optional SUDI file.
    Certificates {
        /// LSC file (certificate + key).
        lsc: Option<PathBuf>,
        /// MIC file (certificate + key).
        mic: Option<PathBuf>,
        /// SUDI file (RSA certificate + key).
        sudi: Option<PathBuf>,
    },
}

/// One enrollment, as `capf enroll` and `capf demo` run it.
#[derive(Debug, Clone)]
pub(crate) struct Enrollment {
    /// HOST:PORT.
    pub(crate) server: String,
    /// How the CAPF server's certificate is checked.
    pub(crate) server_trust: Arc<rustls::ClientConfig>,
    /// Device name.
    pub(crate) device: String,
    /// Credentials.
    pub(crate) auth: Auth,
    /// The phone's LSC file.
    pub(crate) out: PathBuf,
    /// Allowed key family (None: any).
    pub(crate) key: Option<KeyFamily>,
    /// Wait per server frame.
    pub(crate) timeout: Duration,
    /// Send a certificate request signed by the new key with it.
    pub(crate) send_csr: bool,
}

/// Runs `capf enroll`.
pub(crate) fn run(args: EnrollArgs) -> CliResult {
    init_logging("warn");
    let key = match args.key.as_deref() {
        None => None,
        Some("rsa") => Some(KeyFamily::Rsa),
        Some("ec") => Some(KeyFamily::Ec),
        Some(other) => {
            return Err(CliError::input(format!(
                "--key {other:?}: expected rsa or ec"
            )));
        }
    };
    let auth = match (&args.auth_string, &args.lsc, &args.mic, &args.sudi) {
        (Some(string), _, _, _) => Auth::String(string.clone()),
        (None, None, None, None) => Auth::Null,
        (None, lsc, mic, sudi) => Auth::Certificates {
            lsc: lsc.clone(),
            mic: mic.clone(),
            sudi: sudi.clone(),
        },
    };
    // Checked before asking the server: an LSC issued but not storable
    // would be lost.
    if args.out.is_dir() {
        return Err(CliError::input(format!(
            "--out {}: is a directory, not a file",
            args.out.display()
        )));
    }
    if let Some(folder) = args.out.parent().filter(|p| !p.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(CliError::input(format!(
            "--out {}: the folder {} does not exist",
            args.out.display(),
            folder.display()
        )));
    }
    let enrollment = Enrollment {
        server: args.server,
        server_trust: server_tls_config(&args.ca, ServerRole::Capf, DirectCertificates::Pinned)?,
        device: args.device,
        auth,
        out: args.out,
        key,
        timeout: Duration::from_secs(args.timeout.max(1)),
        send_csr: args.send_csr,
    };
    let policy = RetryPolicy {
        retries: args.retries,
        interval: Duration::from_secs(args.retry_interval),
    };
    let runtime = runtime()?;
    let mut attempts = EnrollmentAttempts::new(policy);
    loop {
        let tried = runtime.block_on(attempt(&enrollment))?;
        // Which outcomes are tried again is the library's rule.
        let RetryDecision::RetryAt(_) = attempts.record_outcome(&tried.outcome, now()) else {
            return match tried.error {
                Some(error) => Err(error),
                None => report(&enrollment, &tried.outcome),
            };
        };
        let why = match &tried.error {
            Some(error) => error.message.clone(),
            None => describe(&tried.outcome),
        };
        errln!(
            "capf: {}: attempt {} of {}: {why}; trying again in {} s",
            enrollment.device,
            attempts.attempts(),
            u64::from(policy.retries).saturating_add(1),
            policy.interval.as_secs()
        );
        // The host sleeps; the policy says when the next session is due.
        while let Some(due) = attempts.poll_timeout() {
            if attempts.handle_timeout(now()) {
                break;
            }
            let wait = due.unix_millis().saturating_sub(now().unix_millis());
            std::thread::sleep(Duration::from_millis(wait.max(1)));
        }
    }
}

/// Prints the outcome; exit 0 only for success or nothing to do.
fn report(enrollment: &Enrollment, outcome: &PhoneOutcome) -> CliResult {
    let text = describe(outcome);
    if matches!(outcome, PhoneOutcome::CertificatePending) {
        outln!(
            "{}: {text}; the new key is kept in {} until the certificate arrives (run capf enroll again once the CA has signed it)",
            enrollment.device,
            pending_key_path(&enrollment.out).display()
        );
        return Ok(ExitCode::from(PENDING_EXIT_CODE));
    }
    if outcome.is_success() {
        match outcome {
            PhoneOutcome::Installed { .. } => outln!(
                "{}: {text}; LSC written to {}",
                enrollment.device,
                enrollment.out.display()
            ),
            _ => outln!("{}: {text}", enrollment.device),
        }
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::rejected(format!("{}: {text}", enrollment.device)))
    }
}

/// A short readable outcome (no secrets, no certificate bytes).
pub(crate) fn describe(outcome: &PhoneOutcome) -> String {
    match outcome {
        PhoneOutcome::NothingToDo { .. } => "nothing to do".into(),
        PhoneOutcome::Installed { .. } => "LSC installed".into(),
        PhoneOutcome::FetchCompleted { certificate_sent } => {
            if *certificate_sent {
                "certificate fetched by the server".into()
            } else {
                "fetch completed (no certificate to send)".into()
            }
        }
        PhoneOutcome::Deleted {
            certificate_was_present,
        } => {
            if *certificate_was_present {
                "LSC deleted".into()
            } else {
                "delete completed (no LSC was present)".into()
            }
        }
        PhoneOutcome::UnknownDevice => "the server does not know this device".into(),
        PhoneOutcome::CertificatePending => "certificate pending at the CA".into(),
        PhoneOutcome::Refused { reason } => {
            format!("refused by the server (END_SESSION {reason:?})")
        }
        PhoneOutcome::KeyGenerationFailed { .. } => "key generation failed".into(),
        PhoneOutcome::StoreFailed { cause, .. } => format!("storing the LSC failed: {cause:?}"),
        PhoneOutcome::ProtocolError(violation) => format!("server protocol error: {violation:?}"),
        PhoneOutcome::CommunicationFailure(failure) => {
            format!("communication failure: {failure:?}")
        }
        PhoneOutcome::LocalFailure(failure) => format!("local failure: {failure:?}"),
        other => format!("{other:?}"),
    }
}

/// Loads a certificate + PKCS#8 key file: the certificate for the session,
/// the key for the host's signer.
fn credential(path: &Path) -> Result<(Vec<u8>, ProofPrivateKey), CliError> {
    let text = read_text(path)?;
    let certificate = pem_blocks(&text, "CERTIFICATE")
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::input(format!("{}: no CERTIFICATE", path.display())))?;
    let key = pem_blocks(&text, "PRIVATE KEY")
        .ok()
        .and_then(|keys| keys.into_iter().next())
        .and_then(|der| ProofPrivateKey::from_pkcs8_der(&der).ok())
        .ok_or_else(|| {
            CliError::input(format!("{}: no usable PKCS#8 private key", path.display()))
        })?;
    Ok((certificate, key))
}

/// The session's credentials and the host's in-memory signer of the proofs
/// (the session never holds the private keys).
fn credentials(auth: &Auth) -> Result<(PhoneCredentials, SoftwareSigner), CliError> {
    let mut signer = SoftwareSigner::new(Box::new(rand_core::OsRng));
    let credentials = match auth {
        Auth::Null => PhoneCredentials::NullString,
        Auth::String(digits) => PhoneCredentials::AuthString(
            AuthString::new(digits)
                .map_err(|_| CliError::input("--auth-string must be 4-10 digits"))?,
        ),
        Auth::Certificates { lsc, mic, sudi } => {
            let precedence = if lsc.is_some() {
                CertificatePrecedence::LscFirst
            } else {
                CertificatePrecedence::MicFirst
            };
            let mut set = CertificateCredentials::new(precedence);
            for (path, which) in [
                (lsc, ProofCredential::Lsc),
                (mic, ProofCredential::Mic),
                (sudi, ProofCredential::Sudi),
            ] {
                let Some(path) = path else { continue };
                let (certificate, key) = credential(path)?;
                let bad = |error: capf_core::capf::phone::CredentialError| {
                    CliError::input(format!("{}: {error}", path.display()))
                };
                signer = signer
                    .with_key(which, &certificate, Box::new(key))
                    .map_err(bad)?;
                set = match which {
                    ProofCredential::Lsc => set.with_lsc(certificate),
                    ProofCredential::Mic => set.with_mic(certificate),
                    _ => set.with_sudi(certificate),
                }
                .map_err(bad)?;
            }
            PhoneCredentials::Certificate(set)
        }
    };
    Ok((credentials, signer))
}

/// Runs one enrollment session and returns its outcome. Errors are for bad
/// input or an unreachable server (exit 2) and a server whose certificate
/// is not trusted (exit 1); everything else the server or network does is
/// an outcome.
pub(crate) async fn enroll(enrollment: &Enrollment) -> Result<PhoneOutcome, CliError> {
    let attempt = attempt(enrollment).await?;
    match attempt.error {
        Some(error) => Err(error),
        None => Ok(attempt.outcome),
    }
}

/// One session as the retry policy sees it.
pub(crate) struct Attempt {
    /// How it ended; a server that could not be reached is
    /// [`CommunicationFailure::ConnectFailed`], a failed TLS handshake a
    /// communication failure too (as a phone sees them).
    outcome: PhoneOutcome,
    /// What to report instead of the outcome if this is the last attempt:
    /// the server unreachable (exit 2), its certificate refused (exit 1).
    error: Option<CliError>,
}

/// Runs one enrollment session. Errors are for bad input only (exit 2,
/// never retried).
async fn attempt(enrollment: &Enrollment) -> Result<Attempt, CliError> {
    let (credentials, signer) = credentials(&enrollment.auth)?;
    let pending_key_path = pending_key_path(&enrollment.out);
    let pending = read_pending_key(&pending_key_path)?;
    let mut config = PhoneConfig::new(enrollment.device.clone(), credentials)
        .map_err(|error| CliError::input(format!("--device / credentials: {error}")))?
        .with_response_timeout(enrollment.timeout)
        .with_certificate_request(enrollment.send_csr);
    if let Some((_, spki)) = &pending {
        config = config.with_pending_key(spki.clone());
    }
    let tls_config = enrollment.server_trust.clone();
    let session = PhoneSession::new(config, now());
    let mut connection = TlsConnection::client(
        tls_config,
        &usable_server_name(&enrollment.server, "capf.invalid"),
        session,
        ConnectionOptions::default(),
        now(),
    )
    .map_err(|error| CliError::input(format!("TLS: {error}")))?;
    let connect = tokio::time::timeout(enrollment.timeout, TcpStream::connect(&enrollment.server));
    let mut stream = match connect.await {
        Ok(Ok(stream)) => stream,
        // No server to ask is no answer (exit 2, as for `capf tvs verify`),
        // not a refusal.
        Ok(Err(error)) => return Ok(unreachable(enrollment, &error.to_string())),
        Err(_) => return Ok(unreachable(enrollment, "timed out")),
    };
    let _ = stream.set_nodelay(true);
    let mut host = PhoneHost {
        out: enrollment.out.clone(),
        key: enrollment.key,
        private_key_pem: pending.map(|(pem, _)| pem),
        pending_key_path,
        tls_failure: None,
        signer,
    };
    let outcome = pump::run(&mut stream, &mut connection, &mut host).await?;
    // A TLS failure ends the session as a communication failure; say why.
    if let (Some(reason), None | Some(PhoneOutcome::CommunicationFailure(_))) =
        (host.tls_failure, &outcome)
    {
        return Ok(Attempt {
            outcome: outcome.unwrap_or(PhoneOutcome::CommunicationFailure(
                CommunicationFailure::Transport,
            )),
            error: Some(CliError::rejected(format!(
                "{}: {reason}",
                enrollment.server
            ))),
        });
    }
    // The phone session always ends with an outcome once the server left.
    Ok(Attempt {
        outcome: outcome.unwrap_or(PhoneOutcome::CommunicationFailure(
            CommunicationFailure::PeerClosed,
        )),
        error: None,
    })
}

/// No server to ask: a communication failure for the retry policy, and no
/// answer (exit 2, as for `capf tvs verify`), not a refusal, if it is the
/// last try.
fn unreachable(enrollment: &Enrollment, why: &str) -> Attempt {
    Attempt {
        outcome: PhoneOutcome::CommunicationFailure(CommunicationFailure::ConnectFailed),
        error: Some(CliError::input(format!(
            "cannot connect to {}: {why}",
            enrollment.server
        ))),
    }
}

/// The phone's "device": its LSC file and the key generated this session.
struct PhoneHost {
    out: PathBuf,
    key: Option<KeyFamily>,
    /// PKCS#8 PEM of the key generated in this session, or of the key kept
    /// pending from an earlier one (until the certificate is stored).
    private_key_pem: Option<String>,
    /// Where a generated key is kept until its certificate is stored
    /// ([`pending_key_path`]): an offline CA may sign it later.
    pending_key_path: PathBuf,
    /// Why TLS failed, if it did.
    tls_failure: Option<String>,
    /// Signs the certificate-authentication proofs with `--lsc`, `--mic`
    /// and `--sudi` keys.
    signer: SoftwareSigner,
}

impl pump::Host<PhoneSession> for PhoneHost {
    type Error = CliError;

    fn tls_failed(&mut self, error: &capf_core::tls::TlsError) {
        self.tls_failure = Some(describe_tls_failure(error));
    }

    async fn decide(
        &mut self,
        session: &mut PhoneSession,
        decision: PhoneDecision,
    ) -> Result<(), CliError> {
        let misuse = |error: capf_core::session::SessionMisuse| CliError::input(error.to_string());
        match decision {
            PhoneDecision::SignProof { .. } => self
                .signer
                .answer(session, &decision)
                .map(|_| ())
                .map_err(misuse),
            PhoneDecision::GenerateKey(request) => {
                let allowed = matches!(
                    (self.key, request),
                    (None, _)
                        | (Some(KeyFamily::Rsa), KeyRequest::Rsa { .. })
                        | (Some(KeyFamily::Ec), KeyRequest::Ec(_))
                );
                let generated = if allowed {
                    tokio::task::spawn_blocking(move || generate_key(request))
                        .await
                        .ok()
                        .flatten()
                } else {
                    tracing::warn!(%request, "the server asked for a key family --key excludes");
                    None
                };
                match generated {
                    Some((spki, pem)) => {
                        // Kept before the key goes out: an offline CA signs
                        // it later, and the next session needs the key.
                        let public = der::pem::encode_string("PUBLIC KEY", LineEnding::LF, &spki)
                            .map_err(|_| CliError::input("PEM encoding failed"))?;
                        write_owner_only(
                            &self.pending_key_path,
                            &[pem.as_bytes(), public.as_bytes()],
                        )
                        .map_err(|error| {
                            CliError::input(format!(
                                "cannot keep the new key in {}: {error}",
                                self.pending_key_path.display()
                            ))
                        })?;
                        self.private_key_pem = Some(pem);
                        session.answer_key(spki).map_err(misuse)
                    }
                    None => session.refuse_key().map_err(misuse),
                }
            }
            PhoneDecision::SignCertificateRequest {
                algorithm, message, ..
            } => {
                let signature = self
                    .private_key_pem
                    .as_deref()
                    .and_then(|pem| ProofPrivateKey::from_pkcs8_pem(pem).ok())
                    .and_then(|key| {
                        sign_certificate_request_info(
                            &key,
                            algorithm,
                            &message,
                            &mut rand_core::OsRng,
                        )
                        .ok()
                    });
                match signature {
                    Some(signature) => session.answer_certificate_request_signature(signature),
                    None => session.refuse_certificate_request_signature(),
                }
                .map_err(misuse)
            }
            PhoneDecision::StoreCertificate { certificate_der } => {
                let stored = match &self.private_key_pem {
                    Some(key) => store_lsc(&self.out, &certificate_der, key).is_ok(),
                    None => false,
                };
                if stored {
                    // The key is in the LSC file now.
                    let _ = std::fs::remove_file(&self.pending_key_path);
                }
                if stored {
                    session.answer_store()
                } else {
                    session.refuse_store()
                }
                .map_err(misuse)
            }
            PhoneDecision::FetchCertificate => {
                let certificate = std::fs::read_to_string(&self.out)
                    .ok()
                    .and_then(|text| pem_blocks(&text, "CERTIFICATE").ok())
                    .and_then(|blocks| blocks.into_iter().next());
                session.answer_fetch(certificate).map_err(misuse)
            }
            PhoneDecision::DeleteCertificate => {
                let deleted = std::fs::remove_file(&self.out).is_ok();
                session.answer_delete(deleted).map_err(misuse)
            }
            _ => Err(CliError::input("the session asked for an unknown decision")),
        }
    }
}

/// Generates a key of the requested kind: (DER SPKI, PKCS#8 PEM).
pub(crate) fn generate_key(request: KeyRequest) -> Option<(Vec<u8>, String)> {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let mut rng = rand_core::OsRng;
    let (spki, pem) = match request {
        KeyRequest::Rsa { bits } => {
            let key = rsa::RsaPrivateKey::new(&mut rng, usize::from(bits)).ok()?;
            let spki = key.to_public_key().to_public_key_der().ok()?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
            (spki.as_bytes().to_vec(), pem.to_string())
        }
        KeyRequest::Ec(Curve::P256) => {
            let key = p256::SecretKey::random(&mut rng);
            let spki = key.public_key().to_public_key_der().ok()?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
            (spki.as_bytes().to_vec(), pem.to_string())
        }
        KeyRequest::Ec(Curve::P384) => {
            let key = p384::SecretKey::random(&mut rng);
            let spki = key.public_key().to_public_key_der().ok()?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
            (spki.as_bytes().to_vec(), pem.to_string())
        }
        KeyRequest::Ec(Curve::P521) => {
            let key = p521::SecretKey::random(&mut rng);
            let spki = key.public_key().to_public_key_der().ok()?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).ok()?;
            (spki.as_bytes().to_vec(), pem.to_string())
        }
        _ => return None,
    };
    Some((spki, pem))
}

/// Writes certificate + key PEM to `path` (owner-only on Unix), replacing
/// it atomically.
pub(crate) fn store_lsc(path: &Path, certificate_der: &[u8], key_pem: &str) -> std::io::Result<()> {
    let certificate = der::pem::encode_string("CERTIFICATE", LineEnding::LF, certificate_der)
        .map_err(|_| std::io::Error::other("PEM encoding failed"))?;
    write_owner_only(path, &[certificate.as_bytes(), key_pem.as_bytes()])
}

/// Where `capf enroll --out OUT` keeps a key whose certificate is pending
/// at an offline CA: `OUT.pending-key.pem` (PKCS#8 key + its public key).
pub(crate) fn pending_key_path(out: &Path) -> PathBuf {
    let mut path = out.as_os_str().to_owned();
    path.push(".pending-key.pem");
    PathBuf::from(path)
}

/// The pending key kept beside `--out`, if any: (PKCS#8 PEM, DER SPKI).
fn read_pending_key(path: &Path) -> Result<Option<(String, Vec<u8>)>, CliError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let key = pem_blocks(&text, "PRIVATE KEY")
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .and_then(|der| der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der).ok())
        .filter(|pem| ProofPrivateKey::from_pkcs8_pem(pem).is_ok());
    let spki = pem_blocks(&text, "PUBLIC KEY")
        .ok()
        .and_then(|blocks| blocks.into_iter().next());
    match (key, spki) {
        (Some(key), Some(spki)) => Ok(Some((key, spki))),
        _ => Err(CliError::input(format!(
            "{}: not a pending key written by capf enroll (PRIVATE KEY and PUBLIC KEY)",
            path.display()
        ))),
    }
}

/// Writes `parts` to `path` (owner-only on Unix), replacing it atomically.
fn write_owner_only(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    use std::io::Write;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}
