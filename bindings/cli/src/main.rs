//! `capf`: the reference command line of the capf project.
//!
//! Exit status: 0 success (or "valid"); 1 the answer is no (a signature or
//! trust check failed); 2 bad usage or unreadable input.

mod anchors;
mod ca;
mod cert;
mod db;
mod demo;
mod device;
mod encrypted_config;
mod engine;
mod enroll;
mod files;
mod health;
mod listener;
mod offline_ca;
mod output;
mod pump;
mod registry;
mod renew;
mod report;
mod runtime;
mod serve;
mod settings;
mod signed;
mod trust;
mod trustlist;
mod tvs;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Cisco IP-phone security PKI: trust lists, signed and encrypted files,
/// CAPF enrollment and TVS.
#[derive(Debug, Parser)]
#[command(name = "capf", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// The PostgreSQL password of a `--db postgres://` URL without one, in
    /// a file (else PGPASSWORD, then PGPASSFILE or ~/.pgpass).
    #[arg(long, global = true, value_name = "FILE")]
    db_password_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// CTL and ITL trust lists (CTLFile.tlv, ITLFile.tlv): show, build, verify.
    #[command(subcommand)]
    Trustlist(trustlist::Command),
    /// Signed files (.sgn, firmware .loads): show, sign, verify, strip.
    #[command(subcommand)]
    Signed(signed::Command),
    /// Encrypted configuration files (.enc.sgn): encrypt, decrypt, show.
    #[command(subcommand, name = "encrypted-config")]
    EncryptedConfig(encrypted_config::Command),
    /// CAPF device registry (SQLite): schedule operations, authentication, certificate ledger.
    #[command(subcommand)]
    Device(device::Command),
    /// The CAPF report: every device's schedule, status and LSC (table, --csv or --json).
    Report(report::ReportArgs),
    /// Certificates of the ledger: revoke an LSC.
    #[command(subcommand)]
    Cert(cert::Command),
    /// The issuing CA: a CRL of the ledger's revocations.
    #[command(subcommand)]
    Ca(ca::Command),
    /// Renewal: schedule every LSC that is due for renewal.
    #[command(subcommand)]
    Renew(renew::Command),
    /// Registry settings shared by every server on the registry: show, set.
    #[command(subcommand)]
    Settings(settings::Command),
    /// Run a CAPF server (TLS, TCP 3804) over the device registry.
    Serve(Box<serve::ServeArgs>),
    /// Whether a registry (--db FILE or postgres:// URL) is reachable and its schema current (exit 0 healthy, 1 unhealthy).
    Health(health::HealthArgs),
    /// Whole registries: copy one between SQLite and PostgreSQL.
    #[command(subcommand)]
    Registry(registry::Command),
    /// Enroll as a phone: get, fetch or delete an LSC from a CAPF server.
    Enroll(enroll::EnrollArgs),
    /// Show the whole PKI working on loopback: CAPF CA, server, phones, CTL.
    Demo(demo::DemoArgs),
    /// TVS: the certificate allow-list (add, remove, revoke, list) and a client (verify).
    #[command(subcommand)]
    Tvs(tvs::Command),
    /// Explain trust: is a certificate trusted for a purpose by given stores, and why not.
    #[command(subcommand)]
    Trust(trust::Command),
}

/// An error for the user: a message and the exit status it maps to.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    status: u8,
}

impl CliError {
    /// Bad usage or unreadable input (exit status 2).
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 2,
        }
    }

    /// A negative verdict (exit status 1).
    pub(crate) fn rejected(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: 1,
        }
    }
}

impl CliError {
    /// The message, without the `capf:` prefix.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<ctl_format::Error> for CliError {
    fn from(error: ctl_format::Error) -> Self {
        Self::input(error.to_string())
    }
}

/// What every command returns.
pub(crate) type CliResult = Result<ExitCode, CliError>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version (exit 0), and the help shown for a missing
        // subcommand (exit 2): as clap prints them.
        Err(error)
            if !error.use_stderr()
                || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            error.exit()
        }
        // A usage error is bad input like any other: exit 2 with a
        // `capf:` message (clap's own text, without its `error: ` prefix).
        Err(error) => {
            use std::io::Write as _;
            let rendered = error.render().to_string();
            let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            let _ = write!(std::io::stderr(), "capf: {message}");
            return ExitCode::from(2);
        }
    };
    db::set_password_file(cli.db_password_file);
    let result = match cli.command {
        Command::Trustlist(command) => trustlist::run(command),
        Command::Signed(command) => signed::run(command),
        Command::EncryptedConfig(command) => encrypted_config::run(command),
        Command::Device(command) => device::run(command),
        Command::Report(args) => report::run(args),
        Command::Cert(command) => cert::run(command),
        Command::Ca(command) => ca::run(command),
        Command::Renew(command) => renew::run(command),
        Command::Settings(command) => settings::run(command),
        Command::Serve(args) => serve::run(*args),
        Command::Health(args) => health::run(args),
        Command::Registry(command) => registry::run(command),
        Command::Enroll(args) => enroll::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Tvs(command) => tvs::run(command),
        Command::Trust(command) => trust::run(command),
    };
    // A reader closing the pipe early is fine; any other failure to write
    // the answer makes a success an input/output error.
    let result = match (result, output::stdout_failure()) {
        (Ok(_), Some(failure)) => Err(CliError::input(failure)),
        (result, _) => result,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "capf: {}", error.message);
            ExitCode::from(error.status)
        }
    }
}
