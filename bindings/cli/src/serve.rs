//! `capf serve`: the CAPF server host (spec section 2, 10, 11).
//!
//! The host around the sans-IO [`ServerSession`]: tokio moves TCP bytes,
//! a [`TlsConnection`](capf_core::connection::TlsConnection) runs TLS and the session's rules, the session decides.
//! One task and one session per connection; session ids come from one
//! [`SessionIdAllocator`] seeded from the OS RNG. Decisions are answered
//! from the registry ([`capf_registry`], SQLite, group commit) and the local
//! [`LscIssuer`]; the host rules (lockout, the one-time string, what each
//! outcome writes, one operation per session) are the library's
//! ([`capf_registry::rules`]), not this file's. The session's registry
//! writes (claim, pending certificate, outcome) are awaited through the
//! registry's `*_async` methods: the writer thread wakes the task, no
//! thread blocks on them (a blocking-pool hop per write cost two thread
//! switches, the largest cost after the signatures in a profile under
//! load). The session's answer to the lookup runs on tokio's blocking pool
//! when it runs authentication checks (PBKDF2 of the one-time string,
//! certificate chains), and at once for null-string and unknown devices.
//! A pending certificate is committed to the registry before its frame is
//! written.
//!
//! Logs (`tracing`) carry the device, the session id and the outcome, never
//! an authentication string or key material.

use crate::engine::{self, ServerTls};
use crate::files::{read_certificates, read_private_key};
use crate::listener::{self, Stop, stop_on_signal};
use crate::output::now_unix;
use crate::pump::{self, now};
use crate::runtime::{init_logging, runtime};
use crate::{CliError, CliResult};
use capf_core::capf::server::{
    CertificatePolicy, DeviceRefusal, IssueRefusal, ServerConfig, ServerDecision, ServerOutcome,
    ServerSession, SessionIdAllocator, SessionResult,
};
use capf_core::connection::ConnectionOptions;
use capf_core::issuance::LscIssuer;
use capf_core::trust::Revocations;
use capf_registry::est::{EstAuthentication, EstClient, EstConfig, EstUrl};
use capf_registry::issuance::{CertificateNeeded, Issuer};
use capf_registry::{
    AnyRegistry, AuthKey, AuthKeyUse, Claim, ClaimToken, LookUp, NewCertificate, Registry,
    SessionWritesAsync, Settings, auth_key_path_from_env, open_auth_key, rules,
};
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
    #[allow(rustdoc::broken_intra_doc_links)] // --help text: brackets as written
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,
    /// The CAPF certificate (PEM; further certificates form the chain sent to phones).
    #[arg(long, value_name = "CAPF.pem")]
    cert: Option<PathBuf>,
    /// The CAPF private key (PKCS#8 PEM).
    #[arg(long, value_name = "CAPF.key")]
    key: Option<PathBuf>,
    /// Device database, as managed by `capf device`: a SQLite file, or a
    /// postgres:// URL shared by several nodes.
    #[arg(long, value_name = "FILE|URL")]
    db: PathBuf,
    /// This node's name, in its log lines and in the registry events it
    /// writes (several nodes on one PostgreSQL registry).
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,
    /// Key of the authentication-string hashes (kept outside the database),
    /// as `capf device` created it; default: CAPF_AUTH_KEY_FILE, else the
    /// database's path + `.auth-key`. The server never creates it.
    #[arg(long, value_name = "FILE")]
    auth_key_file: Option<PathBuf>,
    /// Offline CA: issue nothing; keep each phone's certificate request
    /// (its public key, and its signed CSR when it sent one) for
    /// `capf ca csr export`, and tell the phone END_SESSION 0 ("no
    /// action"; status "Operation Pending", no failure counted, the
    /// one-time string kept). Certificates signed elsewhere come back with
    /// `capf ca import` and reach the phone at its next session. Not with
    /// --est-url (one issuer per server).
    #[arg(long, conflicts_with = "est_url")]
    offline_ca: bool,
    /// Certificate that issues LSCs (PEM); default: the CAPF certificate.
    /// With --offline-ca: the offline CA's certificate (phones authenticate
    /// later with the LSCs it signed).
    #[arg(long, value_name = "ISSUER.pem", requires = "issuer_key")]
    issuer: Option<PathBuf>,
    /// Private key of --issuer (PKCS#8 PEM).
    #[arg(long, value_name = "ISSUER.key", requires = "issuer")]
    issuer_key: Option<PathBuf>,
    /// Manufacturing CA certificates (PEM) trusted for MIC authentication;
    /// repeat the option for several files.
    #[arg(long, value_name = "MIC_CA.pem")]
    verify: Vec<PathBuf>,
    /// Outside revocation data for certificate (LSC/MIC) authentication,
    /// such as a MIC maker's CRL: PEM certificates (each revoked), a DER or
    /// PEM CRL, or SHA-256 digests in hex, one per line (`#` starts a
    /// comment); repeat the option for several files. A revoked LSC or MIC
    /// is refused. LSCs revoked with `capf cert revoke` need no file: the
    /// server reads the ledger's revocations by itself.
    #[arg(long, value_name = "PATH")]
    revoked: Vec<PathBuf>,
    /// Validity of issued LSCs, in days (1-3650); default: the registry
    /// setting `validity-days` (`capf settings`, 1825 unless set).
    #[arg(long, value_name = "N")]
    validity_days: Option<u32>,
    /// Lock a device after this many failed authentications (0: never);
    /// default: the registry setting `max-failed-attempts` (5 unless set).
    #[arg(long, value_name = "N")]
    max_failed_attempts: Option<u32>,
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
    /// Times the server asks again, in one session, when the phone answers
    /// KEY_GEN_REQUEST without a key (0-10); default: the registry setting
    /// `key-generation-retries` (0 unless set).
    #[arg(long, value_name = "N")]
    key_generation_retries: Option<u32>,
    /// Seconds a phone gets to generate its key (KEY_GEN_RESPONSE);
    /// default: the registry setting `key-generation-timeout` (3600 unless
    /// set).
    #[arg(long, value_name = "SECONDS")]
    key_generation_timeout: Option<u64>,
    /// Once every listener is bound, write this file (atomically: a
    /// temporary file renamed into place) with the bound addresses as JSON,
    /// `{"capf":"127.0.0.1:40123","tvs":null}` (`null` for a service not
    /// served), so a script or test can use `--listen 127.0.0.1:0`.
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Run the renewal planner (`capf renew plan --used-share SHARE`) by
    /// itself: once at start-up, before listening is announced, then every
    /// --renew-interval seconds, so every installed LSC past this share of
    /// its lifetime gets a renewal scheduled (an install authenticated by
    /// that LSC). Default: the registry setting `renew-used-share` (off
    /// unless set); `off` turns it off for this server.
    #[arg(long, value_name = "SHARE")]
    renew_used_share: Option<String>,
    /// Seconds between two runs of the renewal planner.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    renew_interval: u64,
    /// Also accept phones that speak only TLS 1.0-1.2 with CBC and RSA
    /// key-exchange suites (AES128-SHA, ...), on the CAPF and TVS
    /// listeners, through OpenSSL at security level 0. Weaker; off by
    /// default; a warning at start says what it enables.
    #[arg(long)]
    legacy_tls: bool,
    #[command(flatten)]
    est: EstArgs,
    #[command(flatten)]
    tvs: crate::tvs::TvsServeArgs,
}

/// `capf serve --est-url …`: LSCs signed by an online CA through EST.
#[derive(Debug, Args)]
pub(crate) struct EstArgs {
    /// Have LSCs signed by an online CA through EST (RFC 7030
    /// /simpleenroll) instead of --issuer: https://HOST[:PORT][/LABEL].
    /// The phone must send a PKCS#10 request signed by its new key (EST
    /// needs proof of possession; `capf enroll --send-csr` does); a phone
    /// that sends only its public key is refused (END_SESSION 7, status
    /// "CA Rejected Connection"). The phone stays connected while the CA
    /// works, up to --est-timeout-seconds; no answer or a failed connection
    /// gives "CA Communication Failure", an HTTP 4xx/5xx refusal "CA
    /// Rejected Connection". The CA's certificates (/cacerts), read at
    /// start, are trusted as LSC issuers (phones authenticating with an LSC
    /// it signed). Needs --est-ca.
    #[allow(rustdoc::broken_intra_doc_links)] // --help text: brackets as written
    #[arg(long, value_name = "URL", requires = "est_ca")]
    est_url: Option<String>,
    /// CA certificates (PEM) trusted to issue the EST server's TLS
    /// certificate (there are no built-in roots).
    #[arg(long, value_name = "CA.pem", requires = "est_url")]
    est_ca: Option<PathBuf>,
    /// User name for HTTP basic authentication to the EST server.
    #[arg(long, value_name = "USER", requires_all = ["est_url", "est_password_file"], conflicts_with = "est_cert")]
    est_user: Option<String>,
    /// File holding the --est-user password (one line; never on the
    /// command line, never logged).
    #[arg(long, value_name = "FILE", requires = "est_user")]
    est_password_file: Option<PathBuf>,
    /// TLS client certificate (PEM, with its chain) for the EST server.
    #[arg(long, value_name = "CERT.pem", requires_all = ["est_url", "est_key"])]
    est_cert: Option<PathBuf>,
    /// Private key of --est-cert (PKCS#8 PEM).
    #[arg(long, value_name = "KEY.pem", requires = "est_cert")]
    est_key: Option<PathBuf>,
    /// Seconds one EST enrollment may take (connection to answer) while
    /// the phone waits (keep it below how long the phones wait for the
    /// server's next frame); the claim on the device's operation outlives
    /// it.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    est_timeout_seconds: u64,
}

impl EstArgs {
    /// The EST client, if --est-url was given; files read and checked now.
    fn load(&self) -> Result<Option<Arc<EstClient>>, CliError> {
        let Some(url) = &self.est_url else {
            return Ok(None);
        };
        let url = EstUrl::parse(url).map_err(|error| CliError::input(error.to_string()))?;
        let trust_anchors = match &self.est_ca {
            Some(path) => read_certificates(path)?,
            None => return Err(CliError::input("--est-url needs --est-ca")),
        };
        // The password file's one line, without its line end.
        let password = match &self.est_password_file {
            Some(file) => {
                let text = crate::output::read_text(file)?;
                let line = text.strip_suffix('\n').unwrap_or(&text);
                Some(line.strip_suffix('\r').unwrap_or(line).to_owned())
            }
            None => None,
        };
        let chain = self
            .est_cert
            .as_deref()
            .map(read_certificates)
            .transpose()?;
        let key = self.est_key.as_deref().map(read_private_key).transpose()?;
        // Which combinations authenticate is the library's rule.
        let authentication =
            EstAuthentication::from_options(self.est_user.clone(), password, chain, key)
                .map_err(|error| CliError::input(error.to_string()))?;
        let client = EstClient::new(EstConfig {
            url,
            trust_anchors,
            authentication,
            timeout: Duration::from_secs(self.est_timeout_seconds.max(1)),
        })
        .map_err(|error| CliError::input(error.to_string()))?;
        Ok(Some(Arc::new(client)))
    }
}

/// The settings this server runs with: the registry's, each overridden by
/// its flag when given, validated by the one parser ([`Settings::set`]).
fn effective_settings(args: &ServeArgs, registry: &Settings) -> Result<Settings, CliError> {
    let mut settings = *registry;
    let overrides = [
        ("validity-days", args.validity_days.map(|v| v.to_string())),
        (
            "key-generation-timeout",
            args.key_generation_timeout.map(|v| v.to_string()),
        ),
        (
            "key-generation-retries",
            args.key_generation_retries.map(|v| v.to_string()),
        ),
        (
            "max-failed-attempts",
            args.max_failed_attempts.map(|v| v.to_string()),
        ),
        ("renew-used-share", args.renew_used_share.clone()),
    ];
    for (name, value) in overrides {
        if let Some(value) = value {
            settings
                .set(name, &value)
                .map_err(|error| CliError::input(format!("--{name}: {error}")))?;
        }
    }
    Ok(settings)
}

/// One pass of the renewal planner over `registry`, logged.
async fn renew_pass(registry: Arc<dyn Registry>, policy: capf_registry::RenewalPolicy) {
    let planned = tokio::task::spawn_blocking(move || {
        capf_registry::plan_renewals(&*registry, policy, now_unix(), false)
            .map_err(|error| error.to_string())
    })
    .await
    .unwrap_or_else(|_| Err("renewal task failed".to_owned()));
    match planned {
        Ok(renewals) => {
            for renewal in &renewals {
                tracing::info!(
                    device = %renewal.device,
                    certificate = renewal.certificate_id,
                    "LSC renewal scheduled"
                );
            }
            tracing::info!(scheduled = renewals.len(), "renewal planner ran");
        }
        Err(error) => tracing::error!(%error, "renewal planner failed"),
    }
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
    /// Key-generation requests repeated after a refusal.
    pub(crate) key_generation_retries: u32,
}

impl Timeouts {
    /// The longest a session may wait for keys: one key-generation wait
    /// per request (the first, the RSA backup of an EC-preferred order, and
    /// each retry), which a claim's lease must outlive.
    pub(crate) fn key_generation_total(&self) -> Duration {
        self.key_generation
            .saturating_mul(self.key_generation_retries.saturating_add(2))
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            response: Duration::from_secs(60),
            key_generation: Duration::from_secs(3600),
            key_generation_retries: 0,
        }
    }
}

/// Everything the server needs, loaded and checked once.
pub(crate) struct ServerSetup {
    /// TLS configuration presenting the CAPF certificate.
    pub(crate) tls: ServerTls,
    /// The local CA for LSCs.
    pub(crate) issuer: LscIssuer,
    /// Trust for certificate (LSC/MIC) authentication.
    pub(crate) policy: CertificatePolicy,
    /// LSC validity.
    pub(crate) validity_days: u32,
    /// Lock-out threshold (0: never).
    pub(crate) max_failed_attempts: u32,
    /// Waits for the phone.
    pub(crate) timeouts: Timeouts,
    /// The key of keyed authentication strings, if there is one.
    pub(crate) auth_key: Option<AuthKey>,
    /// Where it was looked for (for the error when it is needed).
    pub(crate) auth_key_path: PathBuf,
    /// This node's name (`--node-name`), if any.
    pub(crate) node_name: Option<String>,
    /// The online CA (`--est-url`), which then signs LSCs instead of
    /// `issuer`.
    pub(crate) est: Option<Arc<EstClient>>,
    /// `--offline-ca`: keep requests instead of issuing.
    pub(crate) offline_ca: bool,
}

/// State shared by every connection task.
struct Shared {
    tls: ServerTls,
    /// Who signs LSCs: the local CA or the EST CA (the library's rule).
    issuer: Issuer,
    /// The registry (its writer thread does the group commit; the session
    /// path awaits its writes instead of blocking a thread on them).
    registry: Arc<AnyRegistry>,
    /// `--node-name`, in every session's log lines.
    node_name: Option<String>,
    ids: Mutex<SessionIdAllocator>,
    policy: CertificatePolicy,
    max_failed_attempts: u32,
    timeouts: Timeouts,
    /// The key, once found (a server started before the first string was
    /// written looks again when a lookup finds a keyed string it cannot
    /// check: `capf device add` creates the file with the first one).
    auth_key: Mutex<Option<AuthKey>>,
    auth_key_path: PathBuf,
    /// `--offline-ca`.
    offline_ca: bool,
}

impl Shared {
    /// The key as last read: none while the file did not exist.
    fn auth_key(&self) -> Option<AuthKey> {
        self.auth_key.lock().ok()?.clone()
    }

    /// The key for a lookup that found a string hashed with a key it was
    /// not given (the file was created after this server started, or
    /// another session has read it since this one asked): read now if no
    /// session has. None while there still is none.
    fn auth_key_read_again(&self) -> Option<AuthKey> {
        let mut key = self.auth_key.lock().ok()?;
        if key.is_none() {
            match open_auth_key(
                &self.auth_key_path,
                AuthKeyUse::MustExist,
                &mut rand_core::OsRng,
            ) {
                Ok(found) => *key = found,
                Err(error) => tracing::error!(%error, "authentication key unreadable"),
            }
        }
        key.clone()
    }
}

impl ServerSetup {
    /// Loads the files named by `capf serve`; `settings` are the
    /// registry's, which the flags override.
    fn load(args: &ServeArgs, settings: &Settings) -> Result<Self, CliError> {
        let (Some(cert), Some(key)) = (&args.cert, &args.key) else {
            return Err(CliError::input("CAPF needs --cert and --key"));
        };
        let chain = read_certificates(cert)?;
        let key = read_private_key(key)?;
        let tls = ServerTls::load(&chain, &key, args.legacy_tls, "CAPF")?;
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
        let effective = effective_settings(args, settings)?;
        // The server checks strings, it never creates the key.
        let auth_key_path = auth_key_path_from_env(args.auth_key_file.as_deref(), &args.db);
        let auth_key = open_auth_key(&auth_key_path, AuthKeyUse::MustExist, &mut rand_core::OsRng)
            .map_err(|error| CliError::input(error.to_string()))?;
        let est = args.est.load()?;
        Ok(Self {
            auth_key,
            auth_key_path,
            tls,
            issuer,
            est,
            node_name: args.node_name.clone(),
            offline_ca: args.offline_ca,
            policy,
            validity_days: effective.validity_days,
            max_failed_attempts: effective.max_failed_attempts,
            timeouts: Timeouts {
                handshake: Duration::from_secs(args.handshake_timeout.max(1)),
                response: Duration::from_secs(args.response_timeout.max(1)),
                key_generation: Duration::from_secs(effective.key_generation_timeout.max(1)),
                key_generation_retries: effective.key_generation_retries,
            },
        })
    }
}

impl ServerSetup {
    /// With `--est-url`: the CA's certificates (`/cacerts`) join the LSC
    /// issuers, so phones may authenticate with the LSCs it signs (an
    /// upgrade or renewal by LSC); the server does not start without them.
    async fn trust_est_issuers(&mut self) -> Result<(), CliError> {
        let Some(est) = self.est.clone() else {
            return Ok(());
        };
        let certificates = est.ca_certificates().await.map_err(|error| {
            CliError::input(format!(
                "--est-url: reading the CA's certificates (/cacerts): {error}"
            ))
        })?;
        tracing::info!(
            certificates = certificates.len(),
            "EST CA certificates trusted as LSC issuers"
        );
        self.policy.lsc_issuers.extend(certificates);
        Ok(())
    }
}

/// Runs `capf serve`.
pub(crate) fn run(args: ServeArgs) -> CliResult {
    init_logging("info");
    engine::check_available(args.legacy_tls)?;
    if args.legacy_tls {
        tracing::warn!("{}", engine::LEGACY_WARNING);
    }
    if let Some(path) = &args.ready_file {
        // Written once listening: a folder that is not there is found now.
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !folder.is_dir()
        {
            return Err(CliError::input(format!(
                "--ready-file {}: the folder {} does not exist",
                path.display(),
                folder.display()
            )));
        }
        // A file left by an earlier run must not announce this one.
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(CliError::input(format!(
                    "--ready-file {}: {error}",
                    path.display()
                )));
            }
        }
    }
    let tvs = crate::tvs::TvsServer::load(
        &args.tvs,
        args.cert.as_deref(),
        args.key.as_deref(),
        &args.db,
        Duration::from_secs(args.handshake_timeout.max(1)),
        args.legacy_tls,
    )?;
    // CAPF unless only --tvs-listen was asked for.
    let capf_listen = match (args.listen, &tvs) {
        (Some(listen), _) => Some(listen),
        (None, None) => Some(SocketAddr::from(([0, 0, 0, 0], 3804))),
        (None, Some(_)) => None,
    };
    // The registry is opened once, before anything listens (a bad --db
    // must not leave a "listening" line behind it); its settings are read
    // from it at start-up.
    let registry = capf_listen
        .map(|_| crate::db::open_as(&args.db, args.node_name.as_deref()))
        .transpose()?;
    let settings = match &registry {
        Some(registry) => registry.settings().map_err(|error| {
            CliError::input(format!("--db {}: {error}", crate::db::shown(&args.db)))
        })?,
        None => Settings::default(),
    };
    let setup = capf_listen
        .zip(registry)
        .map(|(listen, registry)| {
            ServerSetup::load(&args, &settings).map(|setup| (setup, registry, listen))
        })
        .transpose()?;
    let renew_policy = effective_settings(&args, &settings)?.renew_used_share;
    let renew_interval = Duration::from_secs(args.renew_interval.max(1));
    let grace = Duration::from_secs(args.grace_seconds);
    // The whole server runs as a task on the runtime's workers rather than
    // in `block_on` on the main thread: each accepted connection is then
    // spawned from a worker onto its own queue, instead of being handed
    // across threads (a wake of the main thread per accept, then a wake of
    // a worker per spawn).
    let serving = async move {
        let mut bound = ReadyAddresses::default();
        let capf = match setup {
            Some((mut setup, registry, listen)) => {
                setup.trust_est_issuers().await?;
                let server = Server::new(setup, registry)?;
                let listener = bind(listen).await?;
                let address = local(&listener)?;
                match &server.shared.node_name {
                    Some(node) => tracing::info!(%address, %node, "CAPF server listening"),
                    None => tracing::info!(%address, "CAPF server listening"),
                }
                bound.capf = Some(address);
                Some((server, listener))
            }
            None => None,
        };
        let tvs = match tvs {
            Some((server, listen)) => {
                let listener = bind(listen).await?;
                let address = local(&listener)?;
                tracing::info!(%address, "TVS server listening");
                bound.tvs = Some(address);
                Some((server, listener))
            }
            None => None,
        };
        // The renewal planner: a first pass before listening is announced,
        // then one per interval until the server stops.
        let planner = match (&capf, renew_policy) {
            (Some((server, _)), Some(policy)) => {
                let registry = server.registry();
                renew_pass(registry.clone(), policy).await;
                Some(tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(renew_interval);
                    ticks.tick().await; // the first tick is immediate
                    loop {
                        ticks.tick().await;
                        renew_pass(registry.clone(), policy).await;
                    }
                }))
            }
            _ => None,
        };
        // One signal stops both listeners.
        let stop = Stop::new();
        let (capf_stopped, tvs_stopped) = (stop.stopped(), stop.stopped());
        stop_on_signal(stop);
        if let Some(path) = &args.ready_file {
            // Give the signal task a turn to install its handlers first.
            tokio::task::yield_now().await;
            write_ready_file(path, &bound)?;
        }
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
        if let Some(planner) = planner {
            planner.abort();
        }
        Ok(ExitCode::SUCCESS)
    };
    runtime()?.block_on(async move {
        tokio::spawn(serving)
            .await
            .unwrap_or_else(|error| Err(CliError::input(format!("the server task ended: {error}"))))
    })
}

/// The addresses `--ready-file` reports.
#[derive(Debug, Default, serde::Serialize)]
struct ReadyAddresses {
    capf: Option<SocketAddr>,
    tvs: Option<SocketAddr>,
}

/// Writes `--ready-file`: the JSON goes to a temporary file beside `path`
/// that is then renamed over it, so a reader never sees half a file.
fn write_ready_file(path: &Path, bound: &ReadyAddresses) -> Result<(), CliError> {
    let failed = |error: &dyn std::fmt::Display| {
        CliError::input(format!("--ready-file {}: {error}", path.display()))
    };
    let json = serde_json::to_string(bound).map_err(|error| failed(&error))?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, format!("{json}\n")).map_err(|error| failed(&error))?;
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        failed(&error)
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
    /// Serves from `registry` (opened once by the caller, which also read
    /// its settings) and seeds the session-id allocator; refuses a registry
    /// with keyed strings when the key is missing.
    pub(crate) fn new(setup: ServerSetup, registry: AnyRegistry) -> Result<Self, CliError> {
        if setup.auth_key.is_none() && registry.keyed_auth_string_count()? > 0 {
            return Err(CliError::input(
                capf_registry::auth_key::missing_key_error(&setup.auth_key_path).to_string(),
            ));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                tls: setup.tls,
                issuer: match setup.est {
                    Some(client) => Issuer::Est(client),
                    None => Issuer::Local {
                        authority: Arc::new(setup.issuer),
                        validity_days: setup.validity_days,
                    },
                },
                registry: Arc::new(registry),
                ids: Mutex::new(SessionIdAllocator::new(&mut rand_core::OsRng)),
                policy: setup.policy,
                max_failed_attempts: setup.max_failed_attempts,
                timeouts: setup.timeouts,
                auth_key: Mutex::new(setup.auth_key),
                auth_key_path: setup.auth_key_path,
                node_name: setup.node_name,
                offline_ca: setup.offline_ca,
            }),
        })
    }

    /// The registry the server uses (the demo schedules through it, so
    /// its writes share the server's writer).
    pub(crate) fn registry(&self) -> Arc<dyn Registry> {
        self.shared.registry.clone()
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
        let span = tracing::info_span!(
            "session",
            id = %format_args!("{session_id:08x}"),
            %peer,
            node = tracing::field::Empty
        );
        if let Some(node) = &self.shared.node_name {
            span.record("node", tracing::field::display(node));
        }
        async {
            match self.drive(&mut stream, session_id).await {
                Ok(Some((outcome, ledger_id))) => log_outcome(&outcome, ledger_id),
                Ok(None) => tracing::info!("connection ended before the session finished"),
                Err(error) => {
                    tracing::warn!(%error, "connection failed");
                    // The pump shuts the stream down whenever it returns an
                    // outcome or none; only a failed host left it open (a
                    // second shutdown was one wasted syscall per session).
                    let _ = stream.shutdown().await;
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Runs one session over one TLS transport through the pump; the
    /// outcome comes with the ledger id of the LSC the session recorded.
    async fn drive(
        &self,
        stream: &mut TcpStream,
        session_id: u32,
    ) -> Result<Option<(ServerOutcome, Option<i64>)>, String> {
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
        config.key_generation_retries = shared.timeouts.key_generation_retries;
        let session = ServerSession::new(config, now());
        let options = ConnectionOptions::with_handshake_timeout(Some(shared.timeouts.handshake));
        let mut connection = shared
            .tls
            .connection(session, options, now())
            .map_err(|e| e.to_string())?;
        let mut host = ServerHost {
            server: self,
            token: ClaimToken::random(&mut rand_core::OsRng),
            claim: None,
            pending: None,
            ledger_id: None,
        };
        let result = pump::run(stream, &mut connection, &mut host).await;
        // A connection that failed without an outcome still holds its
        // claim: free it now rather than at the end of the lease.
        if let Some(claim) = host.claim.take() {
            self.release(claim).await;
        }
        Ok(result?.map(|outcome| (outcome, host.ledger_id)))
    }

    /// Makes the outcome's registry write and releases the session's claim
    /// (the library's rules decide the write; errors are logged).
    async fn record_outcome(
        &self,
        outcome: &ServerOutcome,
        claim: Option<Claim>,
        ledger_id: Option<i64>,
    ) -> Result<(), String> {
        let recorded = capf_registry::finish_session_async(
            &*self.shared.registry,
            outcome,
            claim.as_ref(),
            ledger_id,
            self.shared.max_failed_attempts,
            now_unix(),
        )
        .await
        .map_err(|error| error.to_string())?;
        if let Some(count) = recorded.failure {
            tracing::warn!(
                device = outcome.device_name.as_deref().unwrap_or("-"),
                failed = count.failed_attempts,
                locked = count.locked,
                "authentication failure counted"
            );
        }
        Ok(())
    }

    /// Releases a claim whose session ended without an outcome.
    async fn release(&self, claim: Claim) {
        let released = self
            .shared
            .registry
            .release_claim_async(&claim, now_unix())
            .await;
        if let Err(error) = released {
            tracing::error!(%error, "releasing the operation failed (its lease will expire)");
        }
    }
}

/// One connection's side of the decisions: the server's registry and
/// issuer, plus what this session has issued and recorded so far.
struct ServerHost<'a> {
    server: &'a Server,
    /// This session's identity for claims (unique across processes).
    token: ClaimToken,
    /// The device's operation, once this session holds it.
    claim: Option<Claim>,
    /// The issued certificate, until the session asks it recorded.
    pending: Option<NewCertificate>,
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
                // The lease outlives the external CA's wait too.
                let lease_until = rules::lease_until_with_issuance(
                    now_unix(),
                    shared.timeouts.key_generation_total(),
                    shared.timeouts.response,
                    shared.issuer.issuance_timeout(),
                );
                // The claim is a registry write: awaited, no thread blocks.
                let look_up = |auth_key: Option<AuthKey>| {
                    let (registry, name, token) = (&*shared.registry, &device_name, self.token);
                    async move {
                        capf_registry::look_up_device_async(
                            registry,
                            name,
                            token,
                            lease_until,
                            now_unix(),
                            auth_key.as_ref(),
                        )
                        .await
                    }
                };
                let mut looked_up = look_up(shared.auth_key()).await;
                if matches!(looked_up, Err(capf_registry::RegistryError::AuthKey(_)))
                    && let Some(key) = shared.auth_key_read_again()
                {
                    // The lookup gave its claim back: this one claims again.
                    looked_up = look_up(Some(key)).await;
                }
                // The session's answer runs the authentication checks:
                // PBKDF2 of the one-time string and certificate chains go
                // to the blocking pool (and the session with them) so they
                // never stall this worker's other sessions; a null-string
                // or unknown device has no such work and is answered here.
                let answer = describe_lookup(&device_name, &looked_up);
                let (claim, answered) = if capf_registry::lookup_runs_checks(&looked_up) {
                    let placeholder = ServerSession::new(ServerConfig::new(0), now());
                    let mut moved = std::mem::replace(session, placeholder);
                    let (moved, claim, answered) = tokio::task::spawn_blocking(move || {
                        let (claim, answered) = capf_registry::answer_lookup(&mut moved, looked_up);
                        (moved, claim, answered)
                    })
                    .await
                    .map_err(|_| "authentication task failed".to_owned())?;
                    *session = moved;
                    (claim, answered)
                } else {
                    capf_registry::answer_lookup(session, looked_up)
                };
                self.claim = claim;
                answered.map_err(|e| e.to_string())?;
                tracing::debug!(device = %device_name, answer, "device looked up");
                Ok(())
            }
            ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der,
                key_request,
                certificate_request_der,
                ..
            } if shared.offline_ca => {
                let claim = self
                    .claim
                    .clone()
                    .ok_or_else(|| "certificate request without a claim".to_owned())?;
                let request = capf_registry::NewCertificateRequest::new(
                    key_request,
                    subject_public_key_info_der,
                    certificate_request_der,
                );
                let registry = Arc::clone(&shared.registry);
                let kept = tokio::task::spawn_blocking(move || {
                    registry.record_certificate_request(&claim, &request, now_unix())
                })
                .await
                .map_err(|_| "registry task failed".to_owned())?;
                match &kept {
                    Ok(id) => {
                        tracing::info!(device = %device_name, request = id, "certificate request kept for the offline CA");
                    }
                    Err(error) => {
                        tracing::error!(device = %device_name, %error, "keeping the certificate request failed");
                    }
                }
                session
                    .refuse_certificate(capf_registry::offline_ca::refusal_after_keeping(&kept))
                    .map_err(|e| e.to_string())
            }
            ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der,
                certificate_request_der,
                ..
            } => {
                if matches!(shared.issuer, Issuer::Est(_)) {
                    tracing::info!(device = %device_name, "asking the EST CA for the LSC");
                }
                let needed = CertificateNeeded {
                    device_name: &device_name,
                    subject_public_key_info_der: &subject_public_key_info_der,
                    certificate_request_der: certificate_request_der.as_deref(),
                };
                let issued = capf_registry::issuance::answer_issue_certificate(
                    session,
                    &shared.issuer,
                    needed,
                    crate::pump::now(),
                    &mut rand_core::OsRng,
                )
                .await
                .map_err(|e| e.to_string())?;
                let answered = match issued {
                    Ok(certificate) => Some(certificate),
                    Err(refusal) => {
                        tracing::error!(device = %device_name, %refusal, "issuing the LSC failed");
                        None
                    }
                };
                self.pending = answered;
                Ok(())
            }
            ServerDecision::RecordPendingCertificate {
                device_name,
                certificate_der,
            } => {
                let mut certificate = self
                    .pending
                    .take()
                    .ok_or_else(|| "pending certificate without issuance".to_owned())?;
                let claim = self
                    .claim
                    .clone()
                    .ok_or_else(|| "pending certificate without a claim".to_owned())?;
                // The bytes the session sends, as it asks them recorded.
                certificate.der = certificate_der;
                let id = shared
                    .registry
                    .record_pending_certificate_async(&claim, &certificate, now_unix())
                    .await
                    .map_err(|e| e.to_string())?;
                self.ledger_id = Some(id);
                // The session's one line ("session finished") names the id.
                tracing::debug!(device = %device_name, ledger_id = id, "LSC recorded as pending");
                session.answer_pending_recorded().map_err(|e| e.to_string())
            }
            // The outcome goes to the registry before END_SESSION is
            // transmitted; a failed write tells the phone END_SESSION 7.
            ServerDecision::RecordOutcome { outcome } => {
                let claim = self.claim.take();
                match self
                    .server
                    .record_outcome(&outcome, claim, self.ledger_id)
                    .await
                {
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

/// What a lookup answers, for the log (the registry's error is logged
/// here too: the session is refused with END_SESSION 7 by the library).
fn describe_lookup(
    name: &str,
    looked_up: &Result<LookUp, capf_registry::RegistryError>,
) -> &'static str {
    match looked_up {
        Ok(LookUp::Answer {
            record: Some(_), ..
        }) => "record",
        Ok(LookUp::Answer { record: None, .. }) => "unknown",
        Ok(LookUp::Refuse(DeviceRefusal::DeadlinePassed)) => {
            "refused: the operation's deadline passed"
        }
        Ok(LookUp::Refuse(_)) => "refused: operation held by another session",
        Ok(_) => "refused",
        Err(error) => {
            tracing::error!(device = %name, %error, "device lookup failed: refused");
            "refused: registry unavailable"
        }
    }
}

/// One log line per finished session: device, result, END_SESSION reason,
/// and the ledger id of the LSC it recorded, if any.
fn log_outcome(outcome: &ServerOutcome, ledger_id: Option<i64>) {
    let device = outcome.device_name.as_deref().unwrap_or("-");
    let reason = outcome.end_reason.map(|reason| format!("{reason:?}"));
    let reason = reason.as_deref().unwrap_or("none");
    let result = describe(&outcome.result);
    // A deferral to the offline CA is not a failure.
    let deferred = matches!(
        outcome.result,
        SessionResult::IssueRefused(IssueRefusal::Deferred)
    );
    if outcome.operation_completed()
        || deferred
        || matches!(outcome.result, SessionResult::NothingToDo)
    {
        tracing::info!(
            device,
            result,
            end_reason = reason,
            ledger_id,
            "session finished"
        );
    } else {
        tracing::warn!(
            device,
            result,
            end_reason = reason,
            ledger_id,
            "session failed"
        );
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
        SessionResult::IssueRefused(IssueRefusal::Deferred) => {
            "certificate pending at the offline CA".into()
        }
        SessionResult::IssueRefused(refusal) => format!("issue refused: {refusal}"),
        SessionResult::Fetched { .. } => "fetched".into(),
        SessionResult::FetchFailed { .. } => "fetch failed".into(),
        SessionResult::Deleted => "deleted".into(),
        SessionResult::DeleteRefused { .. } => "delete refused".into(),
        SessionResult::NothingToDo => "nothing to do".into(),
        SessionResult::UnknownDevice => "unknown device".into(),
        SessionResult::DeviceRefused(refusal) => format!("refused: {refusal}"),
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
