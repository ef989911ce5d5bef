//! `capf serve`: the CAPF server host (spec section 2, 10, 11).
//!
//! The host around the sans-IO [`ServerSession`]: tokio moves TCP bytes,
//! [`TlsServerTransport`] turns them into plaintext, the session decides.
//! One task and one session per connection; session ids come from one
//! [`SessionIdAllocator`] seeded from the OS RNG. Decisions are answered
//! from the SQLite registry ([`Store`], one mutex-guarded connection used
//! on the blocking pool) and the local [`LscIssuer`]. A pending certificate
//! is committed to the registry before its frame is written.
//!
//! Logs (`tracing`) carry the device, the session id and the outcome, never
//! an authentication string or key material.

use crate::listener::{self, Stop, stop_on_signal};
use crate::output::{now_unix, read_text};
use crate::pump::{self, PumpOptions, now};
use crate::store::{NewCertificate, Operation as StoreOperation, Store, StoreError};
use crate::{CliError, CliResult};
use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
use capf_core::server::{
    AuthFailure, AuthMode, CertificatePolicy, DeviceRecord, IssueRefusal, Operation, ServerConfig,
    ServerDecision, ServerOutcome, ServerSession, SessionIdAllocator, SessionResult,
};
use capf_core::tls::{TlsServerTransport, rustls};
use capf_core::trust::Revocations;
use clap::Args;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

/// `capf serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:3804 or [::]:3804 (default
    /// 0.0.0.0:3804; leave it out with --tvs-listen to serve TVS alone).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The CAPF certificate (PEM; further certificates form the chain sent to phones).
    #[arg(long, value_name = "CAPF.pem")]
    cert: Option<PathBuf>,
    /// The CAPF private key (PKCS#8 PEM).
    #[arg(long, value_name = "CAPF.key")]
    key: Option<PathBuf>,
    /// Device database (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Certificate that issues LSCs (PEM); default: the CAPF certificate.
    #[arg(long, value_name = "ISSUER.pem", requires = "issuer_key")]
    issuer: Option<PathBuf>,
    /// Private key of --issuer (PKCS#8 PEM).
    #[arg(long, value_name = "ISSUER.key", requires = "issuer")]
    issuer_key: Option<PathBuf>,
    /// Manufacturing CA certificates (PEM) trusted for MIC authentication;
    /// repeat the option for several files.
    #[arg(long, value_name = "MIC_CA.pem")]
    verify: Vec<PathBuf>,
    /// Revocation data for certificate (LSC/MIC) authentication: PEM
    /// certificates (each revoked), a DER or PEM CRL, or SHA-256 digests in
    /// hex, one per line (`#` starts a comment); repeat the option for
    /// several files. A revoked LSC or MIC is refused.
    #[arg(long, value_name = "PATH")]
    revoked: Vec<PathBuf>,
    /// Validity of issued LSCs, in days (1-3650).
    #[arg(long, value_name = "N", default_value_t = 1825)]
    validity_days: u32,
    /// Lock a device after this many failed authentications (0: never).
    #[arg(long, value_name = "N", default_value_t = 5)]
    max_failed_attempts: u32,
    /// Seconds running sessions get to finish after Ctrl-C / SIGTERM.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    grace_seconds: u64,
    /// Seconds a client gets to complete the TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    handshake_timeout: u64,
    /// Seconds to wait for each phone frame (except KEY_GEN_RESPONSE);
    /// also bounds a connection that never says anything.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    response_timeout: u64,
    /// Seconds a phone gets to generate its key (KEY_GEN_RESPONSE).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    key_generation_timeout: u64,
    #[command(flatten)]
    tvs: crate::tvs::TvsServeArgs,
}

/// How long the server waits for a connecting or silent phone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// TLS handshake.
    pub(crate) handshake: Duration,
    /// Each phone frame but KEY_GEN_RESPONSE.
    pub(crate) response: Duration,
    /// KEY_GEN_RESPONSE.
    pub(crate) key_generation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            response: Duration::from_secs(60),
            key_generation: Duration::from_secs(3600),
        }
    }
}

/// Everything the server needs, loaded and checked once.
pub(crate) struct ServerSetup {
    /// TLS configuration presenting the CAPF certificate.
    pub(crate) tls: Arc<rustls::ServerConfig>,
    /// The local CA for LSCs.
    pub(crate) issuer: LscIssuer,
    /// The registry path.
    pub(crate) db: PathBuf,
    /// Trust for certificate (LSC/MIC) authentication.
    pub(crate) policy: CertificatePolicy,
    /// LSC validity.
    pub(crate) validity_days: u32,
    /// Lock-out threshold (0: never).
    pub(crate) max_failed_attempts: u32,
    /// Waits for the phone.
    pub(crate) timeouts: Timeouts,
}

/// State shared by every connection task.
struct Shared {
    tls: Arc<rustls::ServerConfig>,
    /// Queue of the registry writer thread (group commit).
    writer: std::sync::mpsc::Sender<WriteJob>,
    issuer: LscIssuer,
    store: Arc<Mutex<Store>>,
    ids: Mutex<SessionIdAllocator>,
    policy: CertificatePolicy,
    validity_days: u32,
    max_failed_attempts: u32,
    timeouts: Timeouts,
}

/// Every `-----BEGIN label-----` block of a PEM text, decoded.
pub(crate) fn pem_blocks(text: &str, wanted: &str) -> Result<Vec<Vec<u8>>, String> {
    let begin = format!("-----BEGIN {wanted}-----");
    let end = format!("-----END {wanted}-----");
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        let after = &rest[start..];
        let Some(stop) = after.find(&end) else {
            return Err(format!("unterminated {wanted} PEM block"));
        };
        let block = &after[..stop + end.len()];
        let (_, der) = der::pem::decode_vec(block.as_bytes())
            .map_err(|error| format!("bad {wanted} PEM block: {error}"))?;
        blocks.push(der);
        rest = &after[stop + end.len()..];
    }
    Ok(blocks)
}

/// Reads the certificates of a PEM file (at least one).
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    let text = read_text(path)?;
    let certificates = pem_blocks(&text, "CERTIFICATE")
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))?;
    if certificates.is_empty() {
        return Err(CliError::input(format!(
            "{}: no CERTIFICATE in the file",
            path.display()
        )));
    }
    Ok(certificates)
}

/// Reads the PKCS#8 private key of a PEM file (never printed).
pub(crate) fn read_private_key(path: &Path) -> Result<Vec<u8>, CliError> {
    let text = read_text(path)?;
    let keys = pem_blocks(&text, "PRIVATE KEY")
        .map_err(|_| CliError::input(format!("{}: unreadable private key", path.display())))?;
    keys.into_iter().next().ok_or_else(|| {
        CliError::input(format!(
            "{}: no PKCS#8 PRIVATE KEY in the file",
            path.display()
        ))
    })
}

impl ServerSetup {
    /// Loads the files named by `capf serve`.
    fn load(args: &ServeArgs) -> Result<Self, CliError> {
        let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
            return Err(CliError::input("CAPF needs --cert and --key"));
        };
        let chain = read_certificates(cert)?;
        let key = read_private_key(key)?;
        let tls = capf_core::tls::server_config(&chain, &key)
            .map_err(|error| CliError::input(format!("CAPF certificate/key: {error}")))?;
        let issuer = match (&args.issuer, &args.issuer_key) {
            (Some(cert), Some(key)) => {
                let certificate = read_certificates(cert)?;
                let key = read_private_key(key)?;
                // read_certificates refuses a file without certificates.
                LscIssuer::new(&certificate[0], &key)
                    .map_err(|error| CliError::input(format!("issuer: {error}")))?
            }
            // As above: `chain` holds at least one certificate.
            _ => LscIssuer::new(&chain[0], &key)
                .map_err(|error| CliError::input(format!("CAPF certificate as issuer: {error}")))?,
        };
        let mut manufacturing_roots = Vec::new();
        for path in &args.verify {
            manufacturing_roots.extend(read_certificates(path)?);
        }
        let mut policy = CertificatePolicy::default();
        policy.lsc_issuers = vec![issuer.certificate_der().to_vec()];
        policy.manufacturing_roots = manufacturing_roots;
        for path in &args.revoked {
            let bytes = crate::output::read_file(path)?;
            let revocations = Revocations::parse(&path.display().to_string(), &bytes)
                .map_err(|error| CliError::input(format!("--revoked: {error}")))?;
            policy.revocations.extend(&revocations);
        }
        if !(1..=3650).contains(&args.validity_days) {
            return Err(CliError::input("--validity-days must be 1-3650"));
        }
        Ok(Self {
            tls,
            issuer,
            db: args.db.clone(),
            policy,
            validity_days: args.validity_days,
            max_failed_attempts: args.max_failed_attempts,
            timeouts: Timeouts {
                handshake: Duration::from_secs(args.handshake_timeout.max(1)),
                response: Duration::from_secs(args.response_timeout.max(1)),
                key_generation: Duration::from_secs(args.key_generation_timeout.max(1)),
            },
        })
    }
}

/// Installs the `tracing` subscriber (stderr; `RUST_LOG` overrides
/// `default`). Colours only when stderr is a terminal and `NO_COLOR` is not
/// set, so a log redirected to a file holds plain text.
pub(crate) fn init_logging(default: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = log_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

/// Whether log lines get ANSI colours: only on a terminal, and not when
/// `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
fn log_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// A multi-threaded tokio runtime for the CLI.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::input(format!("cannot start the async runtime: {error}")))
}

/// Runs `capf serve`.
pub(crate) fn run(args: ServeArgs) -> CliResult {
    init_logging("info");
    let tvs = crate::tvs::TvsServer::load(
        &args.tvs,
        args.cert.as_deref(),
        args.key.as_deref(),
        &args.db,
        Duration::from_secs(args.handshake_timeout.max(1)),
    )?;
    // CAPF unless only --tvs-listen was asked for.
    let capf_listen = match (args.listen, &tvs) {
        (Some(listen), _) => Some(listen),
        (None, None) => Some(SocketAddr::from(([0, 0, 0, 0], 3804))),
        (None, Some(_)) => None,
    };
    let setup = capf_listen
        .map(|listen| ServerSetup::load(&args).map(|setup| (setup, listen)))
        .transpose()?;
    let grace = Duration::from_secs(args.grace_seconds);
    runtime()?.block_on(async move {
        let capf = match setup {
            Some((setup, listen)) => {
                // Open the registry first: a bad --db must not leave a
                // "listening" line behind it.
                let server = Server::new(setup)?;
                let listener = bind(listen).await?;
                tracing::info!(address = %local(&listener)?, "CAPF server listening");
                Some((server, listener))
            }
            None => None,
        };
        let tvs = match tvs {
            Some((server, listen)) => {
                let listener = bind(listen).await?;
                tracing::info!(address = %local(&listener)?, "TVS server listening");
                Some((server, listener))
            }
            None => None,
        };
        // One signal stops both listeners.
        let stop = Stop::new();
        let (capf_stopped, tvs_stopped) = (stop.stopped(), stop.stopped());
        stop_on_signal(stop);
        tokio::join!(
            async {
                if let Some((server, listener)) = capf {
                    server.serve(listener, capf_stopped, grace).await;
                }
            },
            async {
                if let Some((server, listener)) = tvs {
                    server.serve(listener, tvs_stopped, grace).await;
                }
            },
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Binds a listener, with the address in the error.
async fn bind(address: SocketAddr) -> Result<TcpListener, CliError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| CliError::input(format!("cannot listen on {address}: {error}")))
}

/// The address a listener is bound to (the port chosen for port 0).
fn local(listener: &TcpListener) -> Result<SocketAddr, CliError> {
    listener
        .local_addr()
        .map_err(|error| CliError::input(format!("cannot read the listening address: {error}")))
}

/// A running CAPF server (cheap to clone into tasks).
#[derive(Clone)]
pub(crate) struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// Opens the registry and seeds the session-id allocator.
    pub(crate) fn new(setup: ServerSetup) -> Result<Self, CliError> {
        let store = Store::open(&setup.db).map_err(|error| CliError::input(error.to_string()))?;
        let writer = spawn_writer(
            Store::open(&setup.db).map_err(|error| CliError::input(error.to_string()))?,
        )?;
        Ok(Self {
            shared: Arc::new(Shared {
                tls: setup.tls,
                writer,
                issuer: setup.issuer,
                store: Arc::new(Mutex::new(store)),
                ids: Mutex::new(SessionIdAllocator::new(&mut rand_core::OsRng)),
                policy: setup.policy,
                validity_days: setup.validity_days,
                max_failed_attempts: setup.max_failed_attempts,
                timeouts: setup.timeouts,
            }),
        })
    }

    /// The registry connection the server uses (the demo schedules through
    /// it, so nothing competes for SQLite's write lock).
    pub(crate) fn store(&self) -> Arc<Mutex<Store>> {
        self.shared.store.clone()
    }

    /// Accepts connections until `shutdown` resolves, then waits up to
    /// `grace` for running sessions and aborts the rest.
    pub(crate) async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) {
        listener::serve("CAPF server", listener, shutdown, grace, |stream, peer| {
            let server = self.clone();
            async move { server.connection(stream, peer).await }
        })
        .await;
    }

    /// One connection: one TLS transport, one session.
    async fn connection(&self, mut stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let session_id = match self
            .shared
            .ids
            .lock()
            .ok()
            .and_then(|mut ids| ids.next_id())
        {
            Some(id) => id,
            None => {
                tracing::error!(%peer, "no session id left: connection closed");
                return;
            }
        };
        let span = tracing::info_span!("session", id = %format_args!("{session_id:08x}"), %peer);
        async {
            match self.drive(&mut stream, session_id).await {
                Ok(Some(outcome)) => log_outcome(&outcome),
                Ok(None) => tracing::info!("connection ended before the session finished"),
                Err(error) => tracing::warn!(%error, "connection failed"),
            }
            let _ = stream.shutdown().await;
        }
        .instrument(span)
        .await;
    }

    /// Runs one session over one TLS transport through the pump.
    async fn drive(
        &self,
        stream: &mut TcpStream,
        session_id: u32,
    ) -> Result<Option<ServerOutcome>, String> {
        let shared = &self.shared;
        let mut config = ServerConfig::new(session_id);
        config.max_failed_attempts = if shared.max_failed_attempts == 0 {
            u32::MAX
        } else {
            shared.max_failed_attempts
        };
        config.certificate_policy = shared.policy.clone();
        config.response_timeout = shared.timeouts.response;
        config.key_generation_timeout = shared.timeouts.key_generation;
        let mut tls = TlsServerTransport::new(shared.tls.clone()).map_err(|e| e.to_string())?;
        let mut session = ServerSession::new(config, now());
        let mut host = ServerHost {
            server: self,
            pending: None,
            ledger_id: None,
        };
        let options = PumpOptions {
            handshake_timeout: Some(shared.timeouts.handshake),
        };
        pump::run(stream, &mut tls, &mut session, &mut host, options).await
    }

    /// Runs `work` on the registry writer thread and returns once the batch
    /// it joined is committed, so its result is on disk (group commit: one
    /// fsync for every write queued meanwhile).
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |store| {
            let result = work(store);
            Box::new(move |committed: Result<(), String>| {
                let _ = reply.send(committed.and(result));
            })
        });
        self.shared
            .writer
            .send(job)
            .map_err(|_| "registry writer stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "registry writer stopped".to_owned())?
    }

    /// Writes the outcome to the registry; returns once it is committed.
    async fn record_outcome(
        &self,
        outcome: &ServerOutcome,
        ledger_id: Option<i64>,
    ) -> Result<(), String> {
        let Some(name) = outcome.device_name.clone() else {
            return Ok(());
        };
        let lock_after = self.shared.max_failed_attempts;
        let result = outcome.result.clone();
        self.write(move |store| {
            let now = now_unix();
            let done = match result {
                SessionResult::Installed { .. } => match ledger_id {
                    Some(id) => store.mark_installed(&name, id, now),
                    None => store.reset_after_success(&name, StoreOperation::Install, now),
                },
                SessionResult::Fetched { certificate_der } => {
                    let facts = certificate_facts(&certificate_der);
                    store
                        .record_fetched(&name, facts.with_der(&certificate_der), now)
                        .map(|_| ())
                }
                SessionResult::Deleted => store.mark_deleted(&name, now),
                SessionResult::AuthenticationFailed(AuthFailure::LockedOut { .. }) => Ok(()),
                SessionResult::AuthenticationFailed(_) => store
                    .record_auth_failure(&name, lock_after, now)
                    .map(|(failed, locked)| {
                        tracing::warn!(device = %name, failed, locked, "authentication failure counted");
                    }),
                _ => Ok(()),
            };
            done.map_err(|e| e.to_string())
        })
        .await
    }
}

/// One connection's side of the decisions: the server's registry and
/// issuer, plus what this session has issued and recorded so far.
struct ServerHost<'a> {
    server: &'a Server,
    pending: Option<PendingCertificate>,
    ledger_id: Option<i64>,
}

impl pump::Host<ServerSession> for ServerHost<'_> {
    type Error = String;

    /// Answers one decision of the session.
    async fn decide(
        &mut self,
        session: &mut ServerSession,
        decision: ServerDecision,
    ) -> Result<(), String> {
        let shared = &self.server.shared;
        match decision {
            ServerDecision::LookUpDevice { device_name } => {
                let store = shared.store.clone();
                let name = device_name.clone();
                let record = blocking(move || {
                    let store = store
                        .lock()
                        .map_err(|_| "registry lock poisoned".to_owned())?;
                    look_up(&store, &name)
                })
                .await?;
                tracing::debug!(device = %device_name, known = record.is_some(), "device looked up");
                // answer_device checks the credentials at once (600,000
                // PBKDF2 rounds for an authentication string, chain and
                // proof checks): off the event loop, so the other sessions
                // on this worker thread keep moving.
                let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
                    == tokio::runtime::RuntimeFlavor::MultiThread;
                if multi_thread {
                    tokio::task::block_in_place(|| session.answer_device(record))
                } else {
                    session.answer_device(record)
                }
                .map_err(|e| e.to_string())
            }
            ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der,
                ..
            } => {
                let request = LscRequest {
                    device_name: &device_name,
                    subject_public_key_info_der: &subject_public_key_info_der,
                    validity_days: shared.validity_days,
                };
                match shared
                    .issuer
                    .issue(&request, crate::pump::now(), &mut rand_core::OsRng)
                {
                    Ok(issued) => {
                        let der = issued.der.clone();
                        self.pending = Some(PendingCertificate {
                            serial_hex: hex::encode(&issued.serial),
                            issued_at: issued.not_before.unix_seconds(),
                            not_after: issued.not_after.unix_seconds(),
                        });
                        session.answer_certificate(der)
                    }
                    Err(error) => {
                        tracing::error!(device = %device_name, %error, "issuing the LSC failed");
                        session.refuse_certificate(IssueRefusal::Unavailable(error.to_string()))
                    }
                }
                .map_err(|e| e.to_string())
            }
            ServerDecision::RecordPendingCertificate {
                device_name,
                certificate_der,
            } => {
                let facts = self
                    .pending
                    .take()
                    .ok_or_else(|| "pending certificate without issuance".to_owned())?;
                let name = device_name.clone();
                let id = self
                    .server
                    .write(move |store| {
                        store
                            .record_pending_certificate(
                                &name,
                                facts.with_der(&certificate_der),
                                now_unix(),
                            )
                            .map_err(|e| e.to_string())
                    })
                    .await?;
                self.ledger_id = Some(id);
                tracing::info!(device = %device_name, ledger_id = id, "LSC recorded as pending");
                session.answer_pending_recorded().map_err(|e| e.to_string())
            }
            // The outcome goes to the registry before END_SESSION is
            // transmitted; a failed write tells the phone END_SESSION 7.
            ServerDecision::RecordOutcome { outcome } => {
                match self.server.record_outcome(&outcome, self.ledger_id).await {
                    Ok(()) => session.answer_outcome_recorded(),
                    Err(error) => {
                        tracing::error!(%error, "recording the outcome failed");
                        session.refuse_outcome_record()
                    }
                }
                .map_err(|e| e.to_string())
            }
            _ => Err("unknown decision".to_owned()),
        }
    }
}

/// Facts of an issued certificate kept until it is recorded.
struct PendingCertificate {
    serial_hex: String,
    issued_at: u64,
    not_after: u64,
}

impl PendingCertificate {
    /// The ledger row for these facts and the certificate itself.
    fn with_der<'a>(&'a self, der: &'a [u8]) -> NewCertificate<'a> {
        NewCertificate {
            serial_hex: &self.serial_hex,
            der,
            issued_at: self.issued_at,
            not_after: self.not_after,
        }
    }
}

/// Serial and validity of a certificate the phone returned (best effort).
fn certificate_facts(der: &[u8]) -> PendingCertificate {
    use der::Decode;
    match x509_cert::Certificate::from_der(der) {
        Ok(certificate) => {
            let tbs = &certificate.tbs_certificate;
            PendingCertificate {
                serial_hex: hex::encode(tbs.serial_number.as_bytes()),
                issued_at: tbs.validity.not_before.to_unix_duration().as_secs(),
                not_after: tbs.validity.not_after.to_unix_duration().as_secs(),
            }
        }
        Err(_) => PendingCertificate {
            serial_hex: String::new(),
            issued_at: 0,
            not_after: 0,
        },
    }
}

/// The session's record for `name`, `None` when unknown. A device whose
/// one-time string is used up and that has nothing scheduled gets "nothing
/// to do" rather than "unknown".
fn look_up(store: &Store, name: &str) -> Result<Option<DeviceRecord>, String> {
    match store.device_record(name) {
        Ok(record) => Ok(Some(record)),
        Err(StoreError::UnknownDevice(_)) => Ok(None),
        Err(StoreError::NoAuthString(_)) => {
            let device = store.device(name).map_err(|e| e.to_string())?;
            if device.operation == StoreOperation::None {
                Ok(Some(DeviceRecord::new(
                    name,
                    Operation::None,
                    AuthMode::NullString,
                )))
            } else {
                tracing::warn!(device = %name, "auth-string device without a string: refused as unknown");
                Ok(None)
            }
        }
        Err(error) => Err(error.to_string()),
    }
}

/// One registry write for the writer thread: runs inside a batch and
/// returns what to do once the batch's commit succeeded or failed.
type WriteJob = Box<dyn FnOnce(&mut Store) -> Box<dyn FnOnce(Result<(), String>) + Send> + Send>;

/// Most writes committed together.
const MAX_BATCH: usize = 256;

/// Starts the thread that owns the registry's write connection. It takes
/// every queued job, runs them in one transaction (each in its own
/// savepoint), commits once, and only then answers each job: a pending
/// certificate is never reported written before it is on disk. The thread
/// ends when the server (every sender) is gone.
fn spawn_writer(mut store: Store) -> Result<std::sync::mpsc::Sender<WriteJob>, CliError> {
    let (sender, jobs) = std::sync::mpsc::channel::<WriteJob>();
    std::thread::Builder::new()
        .name("capf-registry-writer".into())
        .spawn(move || {
            while let Ok(first) = jobs.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let mut answers = Vec::with_capacity(batch.len());
                let committed = store
                    .batch(|store| answers.extend(batch.drain(..).map(|job| job(store))))
                    .map_err(|error| format!("registry commit failed: {error}"));
                if let Err(error) = &committed {
                    tracing::error!(%error, writes = answers.len(), "registry batch lost");
                }
                for answer in answers {
                    answer(committed.clone());
                }
            }
        })
        .map_err(|error| CliError::input(format!("cannot start the registry writer: {error}")))?;
    Ok(sender)
}

/// Runs registry work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| "registry task failed".to_owned())?
}

/// One log line per finished session: device, result, END_SESSION reason.
fn log_outcome(outcome: &ServerOutcome) {
    let device = outcome.device_name.as_deref().unwrap_or("-");
    let reason = outcome.end_reason.map(|reason| format!("{reason:?}"));
    let reason = reason.as_deref().unwrap_or("none");
    let result = describe(&outcome.result);
    if outcome.operation_completed() || matches!(outcome.result, SessionResult::NothingToDo) {
        tracing::info!(device, result, end_reason = reason, "session finished");
    } else {
        tracing::warn!(device, result, end_reason = reason, "session failed");
    }
}

/// A short description of a result, without certificate bytes or secrets.
pub(crate) fn describe(result: &SessionResult) -> String {
    match result {
        SessionResult::Installed { .. } => "installed".into(),
        SessionResult::StoreFailed { phone_reason, .. } => {
            format!("store failed (phone reason {phone_reason:?})")
        }
        SessionResult::KeyGenerationFailed { phone_reason } => {
            format!("key generation failed (phone reason {phone_reason:?})")
        }
        SessionResult::IssueRefused(refusal) => format!("issue refused: {refusal}"),
        SessionResult::Fetched { .. } => "fetched".into(),
        SessionResult::FetchFailed { .. } => "fetch failed".into(),
        SessionResult::Deleted => "deleted".into(),
        SessionResult::DeleteRefused { .. } => "delete refused".into(),
        SessionResult::NothingToDo => "nothing to do".into(),
        SessionResult::UnknownDevice => "unknown device".into(),
        SessionResult::AuthenticationFailed(failure) => {
            format!("authentication failed: {failure}")
        }
        SessionResult::ProtocolError(violation) => format!("protocol error: {violation:?}"),
        SessionResult::TimedOut { state } => format!("timed out ({state:?})"),
        SessionResult::PeerClosed { state } => format!("peer closed ({state:?})"),
        SessionResult::TransportFailed { state } => format!("transport failed ({state:?})"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::log_colour;
    use std::ffi::OsStr;

    #[test]
    fn log_colour_only_on_a_terminal_without_no_color() {
        assert!(log_colour(true, None));
        // NO_COLOR set but empty does not count (no-color.org).
        assert!(log_colour(true, Some(OsStr::new(""))));
        assert!(!log_colour(true, Some(OsStr::new("1"))));
        assert!(!log_colour(false, None));
        assert!(!log_colour(false, Some(OsStr::new("1"))));
    }
}
