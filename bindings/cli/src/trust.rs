//! `capf trust explain`: is this certificate trusted for this purpose by
//! these stores, through what, and if not, why not and what to do.

use crate::files::read_certificates;
use crate::output::{now_unix, out, outln, read_file, rfc3339_utc};
use crate::{CliError, CliResult};
use capf_core::time::Timestamp;
use capf_core::trust::{
    CapfCredential, EvaluationOptions, Purpose, Revocations, ServerRole, SignedFileKind, StoreKind,
    TrustStore, Verdict, evaluate_with,
};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Explain whether a certificate (or chain) is trusted for a purpose by
    /// the given trust stores: anchor, store, roles, chain, and when not,
    /// the reason and the fix. Exit 0 trusted, 1 not trusted, 2 bad input.
    Explain(ExplainArgs),
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The certificate to check, PEM (leaf first, then any intermediates the
    /// peer sends) or one DER certificate.
    certificate: PathBuf,
    /// What it is checked for: tls-server:ccm|tftp|capf|tvs|app-server,
    /// phone-web, tls-client, file-signer:tftp|sast, capf-auth:mic|lsc.
    #[arg(long)]
    purpose: String,
    /// A trust store as KIND:PATH, KIND one of ctl, itl (PATH a .tlv),
    /// capf-trust, callmanager-trust, phone-sast-trust, manufacturing,
    /// enterprise, pem (PATH a PEM bundle). `revoked:PATH` adds revocation
    /// data (revoked certificates as PEM, a CRL, or SHA-256 digests one per
    /// line) to the store before it. Repeatable.
    #[arg(long = "store", required = true, value_name = "KIND:PATH")]
    stores: Vec<String>,
    /// The device the certificate must name (SEP001122334455), for
    /// tls-client and capf-auth.
    #[arg(long, conflicts_with = "host")]
    device: Option<String>,
    /// The host name or address the certificate must carry, for tls-server
    /// and phone-web (CA stores; phones do not check names of pinned
    /// servers).
    #[arg(long)]
    host: Option<String>,
    /// Evaluate at this time (RFC 3339 UTC like 2025-01-01T00:00:00Z, or
    /// Unix seconds) instead of now.
    #[arg(long)]
    at: Option<String>,
    /// Accept an expired MIC for capf-auth:mic (an explicit policy choice).
    #[arg(long)]
    allow_expired_mic: bool,
    /// Judge the dates of CTL/ITL-pinned certificates (phones do not).
    #[arg(long)]
    check_pinned_dates: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a `trust` subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Explain(args) => explain(args),
    }
}

fn explain(args: ExplainArgs) -> CliResult {
    let purpose = parse_purpose(&args.purpose, args.device.clone(), args.host.clone())?;
    let chain = read_certificates(&args.certificate)?;
    let mut stores: Vec<TrustStore> = Vec::new();
    for spec in &args.stores {
        let (kind, path) = spec
            .split_once(':')
            .ok_or_else(|| CliError::input(format!("--store {spec:?}: expected KIND:PATH")))?;
        let path = Path::new(path);
        if kind.eq_ignore_ascii_case("revoked") {
            let bytes = read_file(path)?;
            let revocations = Revocations::parse(&path.display().to_string(), &bytes)
                .map_err(|error| CliError::input(error.to_string()))?;
            let last = stores.last_mut().ok_or_else(|| {
                CliError::input("--store revoked:PATH must follow the store it belongs to")
            })?;
            last.revocations_mut().extend(&revocations);
            continue;
        }
        let kind: StoreKind =
            kind.parse()
                .map_err(|error: capf_core::trust::UnknownStoreKind| {
                    CliError::input(error.to_string())
                })?;
        stores.push(read_store(kind, path)?);
    }
    let now = match &args.at {
        Some(text) => parse_time(text)?,
        None => now_unix(),
    };
    let mut options = EvaluationOptions::default();
    options.allow_expired_mic = args.allow_expired_mic;
    options.check_pinned_validity = args.check_pinned_dates;
    let verdict = evaluate_with(
        &chain,
        &purpose,
        &stores,
        Timestamp::from_unix_seconds(now),
        &options,
    );
    if args.json {
        outln!("{}", verdict_json(&verdict, now));
    } else {
        out!("{verdict}");
    }
    match &verdict.failure {
        None if verdict.trusted => Ok(ExitCode::SUCCESS),
        failure => Err(CliError::rejected(format!(
            "not trusted: {}",
            failure
                .as_ref()
                .map_or("no reason".to_owned(), |failure| failure.reason.to_string())
        ))),
    }
}

fn parse_purpose(
    text: &str,
    device: Option<String>,
    host: Option<String>,
) -> Result<Purpose, CliError> {
    let (has_host, has_device) = (host.is_some(), device.is_some());
    let lowered = text.trim().to_ascii_lowercase();
    let (name, argument) = match lowered.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (lowered.as_str(), None),
    };
    let wrong = || {
        CliError::input(format!(
            "unknown purpose {text:?} (expected tls-server:ccm|tftp|capf|tvs|app-server, phone-web, tls-client, file-signer:tftp|sast or capf-auth:mic|lsc)"
        ))
    };
    let purpose = match (name, argument) {
        ("tls-server", Some(role)) => {
            let role = match role {
                "ccm" | "callmanager" => ServerRole::CallManager,
                "tftp" => ServerRole::Tftp,
                "capf" => ServerRole::Capf,
                "tvs" => ServerRole::Tvs,
                "app-server" | "appserver" => ServerRole::ApplicationServer,
                _ => return Err(wrong()),
            };
            Purpose::TlsServer { role, host }
        }
        ("phone-web", None) => Purpose::PhoneWebServer { host },
        ("tls-client", None) => Purpose::TlsClient { device },
        ("file-signer", Some("tftp" | "config")) => Purpose::FileSigner {
            file: SignedFileKind::ConfigFile,
        },
        ("file-signer", Some("sast" | "trust-list" | "trustlist")) => Purpose::FileSigner {
            file: SignedFileKind::TrustList,
        },
        ("capf-auth", Some(credential)) => {
            let credential = match credential {
                "mic" => CapfCredential::Mic,
                "lsc" => CapfCredential::Lsc,
                _ => return Err(wrong()),
            };
            Purpose::CapfAuthentication { credential, device }
        }
        _ => return Err(wrong()),
    };
    let takes_host = matches!(
        purpose,
        Purpose::TlsServer { .. } | Purpose::PhoneWebServer { .. }
    );
    let takes_device = matches!(
        purpose,
        Purpose::TlsClient { .. } | Purpose::CapfAuthentication { .. }
    );
    if (!takes_host && has_host) || (!takes_device && has_device) {
        return Err(CliError::input(format!(
            "--host applies to tls-server and phone-web, --device to tls-client and capf-auth (purpose {text:?})"
        )));
    }
    Ok(purpose)
}

fn read_store(kind: StoreKind, path: &Path) -> Result<TrustStore, CliError> {
    let bytes = read_file(path)?;
    TrustStore::from_file_bytes(kind, path.display().to_string(), &bytes)
        .map_err(|error| CliError::input(error.to_string()))
}

/// Unix seconds, or RFC 3339 in UTC (`Z` or `+00:00`, fractions ignored).
fn parse_time(text: &str) -> Result<u64, CliError> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    let wrong = || {
        CliError::input(format!(
            "--at {text:?}: expected Unix seconds or RFC 3339 UTC (2025-01-01T00:00:00Z)"
        ))
    };
    let body = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
        .ok_or_else(wrong)?;
    let (date, time) = body.split_once(['T', 't', ' ']).ok_or_else(wrong)?;
    let time = time.split('.').next().unwrap_or_default();
    let numbers = |part: &str, sep: char| -> Option<Vec<u64>> {
        part.split(sep).map(|n| n.parse::<u64>().ok()).collect()
    };
    let date = numbers(date, '-').ok_or_else(wrong)?;
    let time = numbers(time, ':').ok_or_else(wrong)?;
    let (&[year, month, day], &[hour, minute, second]) = (date.as_slice(), time.as_slice()) else {
        return Err(wrong());
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(wrong());
    }
    // Howard Hinnant's days_from_civil, years from 1970 on.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe)
        .checked_sub(719_468)
        .ok_or_else(wrong)?;
    Ok(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn verdict_json(verdict: &Verdict, now: u64) -> Value {
    let chain: Vec<Value> = verdict
        .chain
        .iter()
        .map(|link| {
            json!({
                "subject": link.subject,
                "issuer": link.issuer,
                "serial": link.serial,
                "sha256": hex(&link.sha256),
                "not_before": rfc3339_utc(link.not_before),
                "not_after": rfc3339_utc(link.not_after),
            })
        })
        .collect();
    let anchor = verdict.anchor.as_ref().map(|anchor| {
        json!({
            "subject": anchor.subject,
            "sha256": hex(&anchor.sha256),
            "store": {"kind": anchor.store.kind.cli_name(), "name": anchor.store.name},
            "pinned": anchor.pinned,
        })
    });
    let failure = verdict.failure.as_ref().map(|failure| {
        json!({
            "reason": failure.reason.name(),
            "detail": failure.detail,
            "fix": failure.fix,
            "store": failure.store.as_ref().map(|store| json!({"kind": store.kind.cli_name(), "name": store.name})),
        })
    });
    let roles: Vec<String> = verdict.roles.iter().map(ToString::to_string).collect();
    json!({
        "trusted": verdict.trusted,
        "purpose": verdict.purpose.to_string(),
        "evaluated_at": rfc3339_utc(now),
        "anchor": anchor,
        "roles": roles,
        "chain": chain,
        "failure": failure,
        "notes": verdict.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("0").unwrap(), 0);
        assert_eq!(parse_time("2015-05-07T03:10:47Z").unwrap(), 1_430_968_247);
        assert_eq!(
            parse_time("2000-02-29T00:00:00+00:00").unwrap(),
            951_782_400
        );
        assert!(parse_time("2015-05-07").is_err());
        assert!(parse_time("2015-13-07T00:00:00Z").is_err());
        assert!(parse_time("1969-12-31T23:59:59Z").is_err());
    }
}
