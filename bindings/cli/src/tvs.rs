//! `capf tvs`: the TVS allow-list (add, remove, revoke, list), the TVS
//! client (`verify`), and the TVS server that `capf serve --tvs-listen` runs
//! (spec `tvs-protocol.md`).
//!
//! Server: one task and one [`TvsServerSession`] per connection, driven by
//! the shared [`pump`]: one request, at most one response, then close. The
//! lookup is answered from the registry's TVS allow-list
//! ([`capf_registry::TvsAllowList`], the `tvs_certificates` table of the
//! registry file), on the blocking pool. A bad request is closed without an answer, as the
//! reference does, and logged with its reason.

use crate::anchors::{describe_tls_failure, server_tls_config};
use crate::engine::ServerTls;
use crate::files::{read_certificates, read_private_key};
use crate::listener;
use crate::output::{errln, now_unix, outln, rfc3339_utc};
use crate::pump::{self, Host, now, usable_server_name};
use crate::{CliError, CliResult};
use capf_core::connection::{ConnectionOptions, TlsConnection};
use capf_core::tls::rustls;
use capf_core::trust::{DirectCertificates, ServerRole};
use capf_core::tvs::{
    DEFAULT_DEVICE_NAME, KnownCertificate, TVS_PORT, TvsClientConfig, TvsClientDecision,
    TvsClientResult, TvsClientSession, TvsServerConfig, TvsServerDecision, TvsServerOutcome,
    TvsServerResult, TvsServerSession,
};
use capf_registry::{
    AnyRegistry, DEFAULT_TTL, MAX_TTL, Registry, RegistryError, TvsAllowList, TvsEntry,
    certificate_sha256,
};
use clap::{Args, Subcommand};
use ctl_format::trust_list::Role;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

/// `capf tvs …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register certificates (or replace their roles and TTL).
    Add(AddArgs),
    /// Unregister certificates: TVS then answers "unknown".
    Remove(TargetArgs),
    /// Keep allow-list entries registered but answer them INVALID. (An LSC
    /// revoked in the certificate ledger with `capf cert revoke` is
    /// answered INVALID without this.)
    Revoke(TargetArgs),
    /// Show the registered certificates.
    List(ListArgs),
    /// Ask a TVS server about a certificate (exit 0 valid, 1 invalid, 2 no answer).
    Verify(VerifyArgs),
}

/// `capf tvs add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// Registry file (SQLite), shared with `capf device` and `capf serve`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Certificate file (PEM, every CERTIFICATE block; or one DER certificate).
    #[arg(value_name = "CERT.pem")]
    certificate: PathBuf,
    /// Role to grant: ccm, tftp, ccm+tftp, capf, sast, app-server, tvs;
    /// repeat the option for several.
    #[arg(long = "role", value_name = "ROLE", required = true)]
    roles: Vec<String>,
    /// Seconds a phone may cache the answer (1-2592000).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_TTL)]
    ttl: u32,
}

/// `capf tvs remove` and `capf tvs revoke`.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// Registry file (SQLite).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// A certificate file, or the SHA-256 of a certificate (64 hex digits).
    #[arg(value_name = "CERT.pem|SHA256")]
    target: String,
}

/// `capf tvs list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Registry file (SQLite).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// `capf tvs verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The TVS server, HOST:PORT (port 2445 when left out).
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// What the server's TLS certificate is checked against: certificates
    /// (its own certificate, or a CA above it; PEM or DER), or an ITL/CTL
    /// whose records with role TVS are trusted, as a phone does. No host-name
    /// check, like a phone.
    #[arg(long, value_name = "TVS_CERT.pem|ITL.tlv")]
    ca: PathBuf,
    /// Device name to send.
    #[arg(long, value_name = "CP-MODEL-SEPMAC", default_value = DEFAULT_DEVICE_NAME)]
    device: String,
    /// Seconds to wait for the connection and the answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// JSON output.
    #[arg(long)]
    json: bool,
    /// The certificate to ask about (PEM or DER; the first certificate).
    #[arg(value_name = "CERT.pem")]
    certificate: PathBuf,
}

/// Runs `capf tvs …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Add(args) => add(&args),
        Command::Remove(args) => remove_or_revoke(&args, false),
        Command::Revoke(args) => remove_or_revoke(&args, true),
        Command::List(args) => list(&args),
        Command::Verify(args) => verify(args),
    }
}

fn store_error(error: RegistryError) -> CliError {
    CliError::input(error.to_string())
}

/// Opens (or creates) the registry; a failure names the file.
fn open(db: &Path) -> Result<AnyRegistry, CliError> {
    crate::db::open(db)
}

/// Opens a registry that must already exist (`list`, `remove`, `revoke`):
/// a mistyped path is an error, not a new empty database.
fn open_existing(db: &Path) -> Result<AnyRegistry, CliError> {
    if crate::db::missing(db) {
        return Err(CliError::input(format!(
            "no database at {} (register a certificate with `capf tvs add` first)",
            db.display()
        )));
    }
    open(db)
}

/// A role TVS can grant (spec 6.1: the seven known codes).
fn parse_role(text: &str) -> Result<Role, CliError> {
    let role: Role = text
        .parse()
        .map_err(|error: ctl_format::trust_list::UnknownRoleName| {
            CliError::input(error.to_string())
        })?;
    match role {
        Role::Sast
        | Role::CallManager
        | Role::CallManagerTftp
        | Role::Tftp
        | Role::Capf
        | Role::ApplicationServer
        | Role::Tvs => Ok(role),
        other => Err(CliError::input(format!(
            "role {other} is not one TVS grants (ccm, tftp, ccm+tftp, capf, sast, app-server, tvs)"
        ))),
    }
}

/// Roles as words, comma-separated (`CCM+TFTP` stays one role).
pub(crate) fn role_names(roles: &[Role]) -> String {
    roles
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn add(args: &AddArgs) -> CliResult {
    let roles = args
        .roles
        .iter()
        .flat_map(|text| text.split(','))
        .map(parse_role)
        .collect::<Result<Vec<_>, _>>()?;
    if !(1..=MAX_TTL).contains(&args.ttl) {
        return Err(CliError::input(format!(
            "--ttl must be 1-{MAX_TTL} seconds"
        )));
    }
    let certificates = read_certificates(&args.certificate)?;
    let store = open(&args.db)?;
    for der in certificates {
        let entry =
            store
                .tvs_add(&der, &roles, args.ttl, now_unix())
                .map_err(|error| match error {
                    // The certificate is what is wrong: say which file.
                    RegistryError::NotACertificate(_) => {
                        CliError::input(format!("{}: {error}", args.certificate.display()))
                    }
                    other => store_error(other),
                })?;
        outln!(
            "registered {} {} roles {} ttl {}{}",
            hex::encode(entry.sha256),
            entry.subject,
            role_names(&entry.roles),
            entry.ttl,
            if entry.revoked { " (revoked)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The digests a remove/revoke target names.
fn target_digests(target: &str) -> Result<Vec<[u8; 32]>, CliError> {
    let path = Path::new(target);
    if !path.exists()
        && target.len() == 64
        && let Ok(bytes) = hex::decode(target)
        && let Ok(digest) = <[u8; 32]>::try_from(bytes)
    {
        return Ok(vec![digest]);
    }
    // A file that is not a certificate is bad input (as for `tvs add`),
    // not a certificate TVS happens not to know.
    read_certificates(path)?
        .iter()
        .map(|der| {
            ctl_format::Certificate::from_der(der).map_err(|error| {
                CliError::input(format!("{target}: not a DER X.509 certificate: {error}"))
            })?;
            Ok(certificate_sha256(der))
        })
        .collect()
}

fn remove_or_revoke(args: &TargetArgs, revoke: bool) -> CliResult {
    let digests = target_digests(&args.target)?;
    let store = open_existing(&args.db)?;
    let mut missing = 0;
    for digest in digests {
        let done = if revoke {
            store.tvs_revoke(&digest)
        } else {
            store.tvs_remove(&digest)
        }
        .map_err(store_error)?;
        let verb = if revoke { "revoked" } else { "removed" };
        if done {
            outln!("{verb} {}", hex::encode(digest));
        } else {
            errln!("capf: {} is not registered", hex::encode(digest));
            missing += 1;
        }
    }
    if missing > 0 {
        return Err(CliError::rejected(format!(
            "{missing} certificate(s) not registered"
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn entry_json(entry: &TvsEntry) -> serde_json::Value {
    serde_json::json!({
        "sha256": hex::encode(entry.sha256),
        "subject": entry.subject,
        "roles": entry.roles.iter().map(|role| role.name()).collect::<Vec<_>>(),
        "role_codes": entry.roles.iter().map(|role| role.code()).collect::<Vec<_>>(),
        "ttl": entry.ttl,
        "revoked": entry.revoked,
        "added_at": rfc3339_utc(entry.added_at),
    })
}

fn list(args: &ListArgs) -> CliResult {
    let entries = open_existing(&args.db)?.tvs_list().map_err(store_error)?;
    if args.json {
        let json: Vec<_> = entries.iter().map(entry_json).collect();
        outln!("{}", serde_json::Value::Array(json));
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        outln!("no certificates registered for TVS");
    }
    for entry in &entries {
        outln!(
            "{}  {}  roles {}  ttl {}{}",
            hex::encode(entry.sha256),
            entry.subject,
            role_names(&entry.roles),
            entry.ttl,
            if entry.revoked { "  REVOKED" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------
// The TVS client's host (both TVS sessions keep capf-core's one `Session`
// contract, so the pump drives them as they are).

/// The client asks nothing of its host; it keeps why TLS failed, if it did.
#[derive(Default)]
struct ClientHost {
    tls_failure: Option<String>,
}

impl Host<TvsClientSession> for ClientHost {
    type Error = Infallible;

    fn tls_failed(&mut self, error: &capf_core::tls::TlsError) {
        self.tls_failure = Some(describe_tls_failure(error));
    }

    /// Never called: the TVS client asks its host nothing
    /// ([`TvsClientDecision`] has no value).
    async fn decide(
        &mut self,
        _session: &mut TvsClientSession,
        _decision: TvsClientDecision,
    ) -> Result<(), Infallible> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// `capf tvs verify`.

fn verify(args: VerifyArgs) -> CliResult {
    let certificate = read_certificates(&args.certificate)?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::input("no certificate"))?;
    let tls_config = server_tls_config(&args.ca, ServerRole::Tvs, DirectCertificates::Anchors)?;
    let server = with_default_port(&args.server);
    let limit = Duration::from_secs(args.timeout);
    let result = crate::runtime::runtime()?.block_on(ask(
        &server,
        tls_config,
        &args.device,
        certificate,
        limit,
    ))?;
    report(&result, args.json)
}

/// Asks the TVS server at `server` (HOST:PORT) about `certificate` over TLS
/// (`tls_config` trusts the server's certificate), as device `device`, with
/// `limit` for the connection and for the answer.
pub(crate) async fn ask(
    server: &str,
    tls_config: Arc<rustls::ClientConfig>,
    device: &str,
    certificate: Vec<u8>,
    limit: Duration,
) -> Result<TvsClientResult, CliError> {
    let mut session_id = [0_u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut session_id);
    let mut config = TvsClientConfig::new(
        u32::from_be_bytes(session_id),
        device.to_owned(),
        certificate,
    );
    config.response_timeout = limit;
    let session = TvsClientSession::new(config, now())
        .map_err(|error| CliError::input(format!("--device: {error}")))?;
    let mut stream = tokio::time::timeout(limit, TcpStream::connect(server))
        .await
        .map_err(|_| CliError::input(format!("{server}: connection timed out")))?
        .map_err(|error| CliError::input(format!("cannot connect to {server}: {error}")))?;
    let _ = stream.set_nodelay(true);
    let mut connection = TlsConnection::client(
        tls_config,
        &usable_server_name(server, "tvs.invalid"),
        session,
        ConnectionOptions::with_handshake_timeout(Some(limit)),
        now(),
    )
    .map_err(|error| CliError::input(format!("TLS: {error}")))?;
    let mut host = ClientHost::default();
    let outcome = pump::run(&mut stream, &mut connection, &mut host)
        .await
        .unwrap_or_else(|never| match never {});
    if let Some(reason) = host.tls_failure {
        return Err(CliError::input(format!("{server}: {reason}")));
    }
    match outcome {
        Some(outcome) => Ok(outcome.result),
        None => Err(CliError::input(format!(
            "{server}: TLS handshake not completed"
        ))),
    }
}

/// Prints the verdict; exit 0 valid, 1 invalid, 2 anything else.
fn report(result: &TvsClientResult, json: bool) -> CliResult {
    let (status, roles, ttl, detail) = match result {
        TvsClientResult::Valid { roles, ttl } => ("valid", Some(roles.clone()), *ttl, None),
        TvsClientResult::Invalid => ("invalid", None, None, None),
        TvsClientResult::NoAnswer => (
            "no-answer",
            None,
            None,
            Some("the server closed the connection without answering".to_owned()),
        ),
        TvsClientResult::TransportFailed => (
            "no-answer",
            None,
            None,
            Some(
                "the connection failed (is --ca the server's TVS certificate or its CA?)"
                    .to_owned(),
            ),
        ),
        TvsClientResult::TimedOut => (
            "timed-out",
            None,
            None,
            Some("no answer in time".to_owned()),
        ),
        TvsClientResult::ProtocolError(error) => {
            ("error", None, None, Some(format!("bad response: {error}")))
        }
        other => ("error", None, None, Some(format!("{other:?}"))),
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "status": status,
                "roles": roles.as_ref().map(|roles| roles.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
                "role_codes": roles.as_ref().map(|roles| roles.iter().map(|r| r.code()).collect::<Vec<_>>()),
                "ttl": ttl,
                "detail": detail,
            })
        );
    } else {
        outln!("status: {status}");
        if let Some(roles) = &roles {
            outln!("roles: {}", role_names(roles));
        }
        if let Some(ttl) = ttl {
            outln!("ttl: {ttl}");
        }
    }
    match (status, detail) {
        ("valid", _) => Ok(ExitCode::SUCCESS),
        ("invalid", _) => Ok(ExitCode::from(1)),
        (_, detail) => Err(CliError::input(detail.unwrap_or_else(|| status.to_owned()))),
    }
}

/// HOST:PORT, with port 2445 added when there is none.
fn with_default_port(server: &str) -> String {
    if server.parse::<SocketAddr>().is_ok() {
        return server.to_owned();
    }
    let bracketed_v6 = server.starts_with('[') && server.ends_with(']');
    let bare_v6 = server.parse::<std::net::Ipv6Addr>().is_ok();
    if bare_v6 {
        return format!("[{server}]:{TVS_PORT}");
    }
    if bracketed_v6 || !server.contains(':') {
        return format!("{server}:{TVS_PORT}");
    }
    server.to_owned()
}

// ---------------------------------------------------------------------------
// The TVS server of `capf serve --tvs-listen`.

/// The TVS options of `capf serve`.
#[derive(Debug, Args)]
pub(crate) struct TvsServeArgs {
    /// Also serve TVS (TLS) on this address, e.g. 0.0.0.0:2445 or [::]:2445,
    /// from the `capf tvs` table of the same --db.
    #[allow(rustdoc::broken_intra_doc_links)] // --help text: brackets as written
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) tvs_listen: Option<SocketAddr>,
    /// The TVS certificate (PEM, chain allowed); default: --cert.
    #[arg(long, value_name = "TVS.pem", requires = "tvs_key")]
    pub(crate) tvs_cert: Option<PathBuf>,
    /// The TVS private key (PKCS#8 PEM); default: --key.
    #[arg(long, value_name = "TVS.key", requires = "tvs_cert")]
    pub(crate) tvs_key: Option<PathBuf>,
    /// Answer INVALID for a registered certificate outside its validity
    /// dates (the reference does not look at dates).
    #[arg(long)]
    pub(crate) tvs_refuse_expired: bool,
}

/// A TVS server ready to accept connections (cheap to clone into tasks).
#[derive(Clone)]
pub(crate) struct TvsServer {
    shared: Arc<TvsShared>,
}

struct TvsShared {
    tls: ServerTls,
    store: Arc<dyn TvsAllowList>,
    /// The certificate ledger of the same file: a revoked LSC is INVALID.
    ledger: Arc<dyn Registry>,
    config: TvsServerConfig,
    handshake_timeout: Duration,
}

impl TvsServer {
    /// Loads the TVS certificate and key (`--tvs-cert/--tvs-key`, else the
    /// CAPF `cert`/`key`) and opens the table in `db`. `None` when
    /// `--tvs-listen` is not given.
    pub(crate) fn load(
        args: &TvsServeArgs,
        cert: Option<&Path>,
        key: Option<&Path>,
        db: &Path,
        handshake_timeout: Duration,
        legacy_tls: bool,
    ) -> Result<Option<(Self, SocketAddr)>, CliError> {
        let Some(listen) = args.tvs_listen else {
            return Ok(None);
        };
        let (cert, key) = match (&args.tvs_cert, &args.tvs_key, cert, key) {
            (Some(cert), Some(key), _, _) => (cert.as_path(), key.as_path()),
            (None, None, Some(cert), Some(key)) => (cert, key),
            _ => {
                return Err(CliError::input(
                    "--tvs-listen needs --tvs-cert and --tvs-key, or --cert and --key",
                ));
            }
        };
        let chain = read_certificates(cert)?;
        let key = read_private_key(key)?;
        let tls = ServerTls::load(&chain, &key, legacy_tls, "TVS")?;
        let mut config = TvsServerConfig::default();
        config.refuse_expired = args.tvs_refuse_expired;
        Ok(Some((
            Self::new(tls, db, config, handshake_timeout)?,
            listen,
        )))
    }

    /// A TVS server with its TLS configuration, answering from the TVS
    /// table of the registry file `db`.
    pub(crate) fn new(
        tls: ServerTls,
        db: &Path,
        config: TvsServerConfig,
        handshake_timeout: Duration,
    ) -> Result<Self, CliError> {
        let registry = Arc::new(open(db)?);
        Ok(Self {
            shared: Arc::new(TvsShared {
                tls,
                store: registry.clone(),
                ledger: registry,
                config,
                handshake_timeout,
            }),
        })
    }

    /// Accepts connections until `shutdown` resolves, then gives running
    /// ones up to `grace` and aborts the rest.
    pub(crate) async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) {
        listener::serve("TVS server", listener, shutdown, grace, |stream, peer| {
            let server = self.clone();
            async move { server.connection(stream, peer).await }
        })
        .await;
    }

    async fn connection(&self, mut stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let span = tracing::info_span!("tvs", %peer);
        async {
            let session = TvsServerSession::new(self.shared.config.clone(), now());
            let options =
                ConnectionOptions::with_handshake_timeout(Some(self.shared.handshake_timeout));
            let mut connection = match self.shared.tls.connection(session, options, now()) {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::error!(%error, "TLS setup failed");
                    return;
                }
            };
            let mut host = TvsHost {
                store: self.shared.store.clone(),
                ledger: self.shared.ledger.clone(),
            };
            match pump::run(&mut stream, &mut connection, &mut host).await {
                Ok(Some(outcome)) => log_outcome(&outcome),
                Ok(None) => tracing::info!("TVS connection ended before a request"),
                Err(error) => tracing::error!(%error, "TVS lookup failed: connection closed"),
            }
        }
        .instrument(span)
        .await;
    }
}

/// Answers the lookup from the table, and INVALID for a certificate the
/// ledger revokes ([`capf_registry::ledger_revocation`]).
struct TvsHost {
    store: Arc<dyn TvsAllowList>,
    ledger: Arc<dyn Registry>,
}

impl Host<TvsServerSession> for TvsHost {
    type Error = String;
    async fn decide(
        &mut self,
        session: &mut TvsServerSession,
        decision: TvsServerDecision,
    ) -> Result<(), String> {
        let TvsServerDecision::LookUpCertificate {
            certificate_sha256,
            certificate_der,
            ..
        } = decision
        else {
            return Err("unknown TVS decision".to_owned());
        };
        let (store, ledger) = (self.store.clone(), self.ledger.clone());
        let (entry, ledger_revoked) = tokio::task::spawn_blocking(move || {
            let entry = store
                .tvs_look_up(&certificate_sha256)
                .map_err(|e| e.to_string())?;
            // Only a registered certificate needs the ledger's word.
            let revoked = match &entry {
                Some(_) => capf_registry::ledger_revocation(&*ledger, &certificate_der)
                    .map_err(|e| e.to_string())?
                    .is_some(),
                None => false,
            };
            Ok::<_, String>((entry, revoked))
        })
        .await
        .map_err(|_| "TVS store task failed".to_owned())??;
        if ledger_revoked {
            tracing::info!("certificate revoked in the ledger: INVALID");
        }
        // The lookup may have taken a while: the session judges expiry at
        // the time of the answer.
        session.handle_timeout(now());
        let known = entry.map(|entry| {
            let mut known = KnownCertificate::new(entry.roles, entry.ttl);
            known.revoked = entry.revoked || ledger_revoked;
            known
        });
        session.answer_lookup(known).map_err(|e| e.to_string())
    }
}

/// One log line per connection: device, digest, answer or close reason.
fn log_outcome(outcome: &TvsServerOutcome) {
    let device = outcome.device_name.as_deref().unwrap_or("-");
    let digest = outcome
        .certificate_sha256
        .map_or_else(|| "-".to_owned(), hex::encode);
    let session_id = outcome
        .session_id
        .map_or_else(|| "-".to_owned(), |id| format!("{id:08x}"));
    match &outcome.result {
        TvsServerResult::Valid { roles, ttl } => tracing::info!(
            device,
            session_id,
            sha256 = %digest,
            roles = %role_names(roles),
            ttl,
            "TVS answered VALID"
        ),
        TvsServerResult::Invalid(reason) => tracing::info!(
            device,
            session_id,
            sha256 = %digest,
            reason = ?reason,
            "TVS answered INVALID"
        ),
        TvsServerResult::SilentClose(reason) => tracing::warn!(
            device,
            session_id,
            sha256 = %digest,
            %reason,
            "TVS closed without answering"
        ),
        other => tracing::warn!(device, session_id, result = ?other, "TVS session ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_get_the_tvs_port() {
        assert_eq!(with_default_port("10.0.0.1:2446"), "10.0.0.1:2446");
        assert_eq!(with_default_port("10.0.0.1"), "10.0.0.1:2445");
        assert_eq!(
            with_default_port("tvs.example.test"),
            "tvs.example.test:2445"
        );
        assert_eq!(
            with_default_port("tvs.example.test:9"),
            "tvs.example.test:9"
        );
        assert_eq!(with_default_port("::1"), "[::1]:2445");
        assert_eq!(with_default_port("[::1]"), "[::1]:2445");
        assert_eq!(with_default_port("[::1]:2446"), "[::1]:2446");
        assert_eq!(usable_server_name("[::1]:2446", "x.invalid"), "::1");
        assert_eq!(
            usable_server_name("tvs.example.test:2445", "x.invalid"),
            "tvs.example.test"
        );
        assert_eq!(
            usable_server_name("bad name!:2445", "x.invalid"),
            "x.invalid"
        );
    }

    #[test]
    fn only_the_roles_of_spec_6_1() {
        assert_eq!(parse_role("ccm+tftp").unwrap(), Role::CallManagerTftp);
        assert_eq!(parse_role("app-server").unwrap(), Role::ApplicationServer);
        assert_eq!(parse_role("TVS").unwrap(), Role::Tvs);
        assert!(parse_role("srst").is_err());
        assert!(parse_role("6").is_err());
        assert!(parse_role("root").is_err());
    }
}
