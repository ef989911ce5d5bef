//! `capf trustlist`: show, build and verify CTL and ITL files.

use crate::output::{now_unix, read_file, read_text, rfc3339_utc, write_file};
use crate::{CliError, CliResult};
use clap::{Args, Subcommand, ValueEnum};
use ctl_format::trust_list::{Record, RecordEntry, RecordLayout, Role, TrustListKind};
use ctl_format::{
    Certificate, HashAlgorithm, HashPolicy, NameStyle, RsaFileSigner, TrustList, TrustListBuilder,
    Version,
};
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a trust list like Cisco's `show ctl`: header, records and the
    /// signature verdict. Exits 0 even when the signature is invalid (use
    /// `verify` to check); 2 when the file does not parse.
    Show(ShowArgs),
    /// Build and sign a CTL or ITL.
    Build(BuildArgs),
    /// Verify a trust list's signature (and, with --previous, that a phone
    /// holding the previous list would accept it). Exit 0 valid, 1 not
    /// valid, 2 unreadable input.
    Verify(VerifyArgs),
}

/// Arguments of `show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// The trust-list file (CTLFile.tlv, ITLFile.tlv, …).
    file: PathBuf,
}

/// Trust-list kind.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// Certificate Trust List (default filename CTLFile.tlv).
    Ctl,
    /// Identity Trust List (default filename ITLFile.tlv).
    Itl,
}

/// Signature digest.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Hash {
    /// SHA-1 (code 1): every Cisco-made trust list seen; all phones.
    Sha1,
    /// SHA-512 (code 3): current phones and Unified CM releases.
    Sha512,
    /// SHA-256 (code 2): not used by any Cisco product; for tests only.
    Sha256,
}

/// Element order and name rendering.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Layout {
    /// Unified CM: records 1..10, names `CN=…;OU=…;O=…;L=…;ST=…;C=…`.
    Cisco,
    /// certutils tlvfile: records 1,3,5,6,4,7,8,9, RFC 4514 names.
    Certutils,
}

/// Signer-version element (tag 28).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum SignerVersion {
    /// 1.0 (certutils default).
    #[value(name = "1.0")]
    V1_0,
    /// 1.1 (phones then fetch their config over HTTPS on port 6971).
    #[value(name = "1.1")]
    V1_1,
}

/// Arguments of `build`.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// PEM file holding the signer's RSA private key and its certificate.
    /// The signer must also be listed with --record sast=….
    #[arg(long, value_name = "KEY_AND_CERT.pem")]
    signer: PathBuf,
    /// Where to write the file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// CTL or ITL (only the default filename differs).
    #[arg(long, value_enum, default_value = "ctl")]
    kind: Kind,
    /// Signature digest.
    #[arg(long, value_enum, default_value = "sha1")]
    hash: Hash,
    /// Write a signer-version element (tag 28); left out by default, as
    /// Unified CM does.
    #[arg(long, value_enum)]
    signer_version: Option<SignerVersion>,
    /// Header filename (default CTLFile.tlv or ITLFile.tlv).
    #[arg(long, value_name = "NAME")]
    filename: Option<String>,
    /// Element order and name style.
    #[arg(long, value_enum, default_value = "cisco")]
    layout: Layout,
    /// A record: ROLE=CERT.pem[,ip=A.B.C.D][,dns=NAME]. ROLE is one of sast,
    /// ccm, ccm+tftp (or ccm-tftp), tftp, capf, srst, app-server, tvs or a
    /// number. Repeat for each record; records are written in this order.
    #[arg(
        long = "record",
        value_name = "ROLE=CERT.pem[,ip=A.B.C.D][,dns=NAME]",
        required = true
    )]
    records: Vec<String>,
}

/// Which digests `verify` accepts.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Policy {
    /// SHA-1 and SHA-512, as phones do.
    Cisco,
    /// SHA-512 only.
    Sha512Only,
    /// SHA-1, SHA-256 and SHA-512.
    Any,
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The trust list to verify.
    file: PathBuf,
    /// The list the phone holds now: the new list must be signed by one of
    /// its SAST (role 0) certificates.
    #[arg(long, value_name = "OLD.tlv")]
    previous: Option<PathBuf>,
    /// Digests accepted in the signature.
    #[arg(long, value_enum, default_value = "cisco")]
    hash_policy: Policy,
}

/// Appends a line to a `String` (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr) => {
        $out.push('\n')
    };
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Writes to stdout, ignoring a closed pipe (`capf … | head`).
fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Show(args) => show(&args),
        Command::Build(args) => build(&args),
        Command::Verify(args) => verify(&args),
    }
}

fn parse<'a>(path: &std::path::Path, bytes: &'a [u8]) -> Result<TrustList<'a>, CliError> {
    TrustList::parse(bytes).map_err(|error| {
        CliError::input(format!(
            "{}: not a valid trust list: {error}",
            path.display()
        ))
    })
}

fn text(value: Option<ctl_format::TlvString<'_>>) -> Option<String> {
    value.map(|value| value.to_string())
}

fn show(args: &ShowArgs) -> CliResult {
    let bytes = read_file(&args.file)?;
    let list = parse(&args.file, &bytes)?;
    // `show` reports integrity with every digest this tool knows.
    let verdict = list.verify(&bytes, HashPolicy::ANY);
    let header = list.header();
    let mut out = String::new();
    if args.json {
        let records: Vec<Value> = list.records().iter().map(record_json).collect();
        let object = json!({
            "version": header.version.to_string(),
            "header_length": header.header_length,
            "signer_name": text(header.signer_name),
            "signer_serial": hex::encode(header.serial_number),
            "issuer_name": text(header.issuer_name),
            "hash_algorithm": header.hash_algorithm.name(),
            "signature_valid": verdict.is_ok(),
            "filename": text(header.filename),
            "timestamp": header.timestamp.map(|t| rfc3339_utc(u64::from(t))),
            "records": records,
        });
        emit(&format!("{object:#}\n"));
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        out,
        "File:               {} ({} bytes)",
        args.file.display(),
        bytes.len()
    );
    say!(out, "Version:            {}", header.version);
    say!(out, "Header length:      {}", header.header_length);
    say!(
        out,
        "Signer version:     {}",
        header
            .signer_version
            .map_or_else(|| "not present".to_owned(), |v| v.to_string())
    );
    say!(
        out,
        "Signer name:        {}",
        text(header.signer_name).unwrap_or_default()
    );
    say!(
        out,
        "Serial number:      {}",
        hex::encode(header.serial_number)
    );
    say!(
        out,
        "Issuer name:        {}",
        text(header.issuer_name).unwrap_or_default()
    );
    say!(out, "Hash algorithm:     {}", header.hash_algorithm);
    say!(out, "Signature length:   {} bytes", header.signature.len());
    say!(
        out,
        "Filename:           {}",
        text(header.filename).unwrap_or_default()
    );
    say!(
        out,
        "Timestamp:          {}",
        header
            .timestamp
            .map_or_else(|| "not present".to_owned(), |t| rfc3339_utc(u64::from(t)))
    );
    for warning in header.warnings.iter().chain(list.warnings()) {
        say!(out, "Warning:            {warning:?}");
    }
    for (index, record) in list.records().iter().enumerate() {
        say!(out);
        say!(
            out,
            "Record {} (offset {}, {} bytes)",
            index + 1,
            record.offset(),
            record.length()
        );
        print_record(&mut out, record);
    }
    say!(out);
    match &verdict {
        Ok(signer) => say!(
            out,
            "Signature:          valid ({}, signed by record {})",
            signer.hash_algorithm,
            signer.record_index + 1
        ),
        Err(error) => say!(out, "Signature:          NOT VALID: {error}"),
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

fn record_json(record: &Record<'_>) -> Value {
    json!({
        "role": record.role().map(|role| role.name()),
        "role_code": record.role().map(Role::code),
        "dns_name": text(record.dns_name()),
        "subject": text(record.subject_name()),
        "issuer": text(record.issuer_name()),
        "serial": record.serial_number().map(hex::encode),
        "ip": record.ip_address().map(|ip| ip.to_string()),
        "certificate_sha1": record.certificate_sha1().map(hex::encode),
    })
}

fn print_record(out: &mut String, record: &Record<'_>) {
    let mut line = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            say!(out, "  {label:<18}{value}");
        }
    };
    line(
        "Role:",
        record
            .role()
            .map(|role| format!("{role} ({})", role.code())),
    );
    line("DNS name:", text(record.dns_name()));
    line("Subject name:", text(record.subject_name()));
    line("Issuer name:", text(record.issuer_name()));
    line("Serial number:", record.serial_number().map(hex::encode));
    line(
        "Public key:",
        record
            .public_key()
            .map(|key| format!("{} bytes", key.len())),
    );
    line(
        "Signature:",
        record.signature().map(|sig| format!("{} bytes", sig.len())),
    );
    line(
        "Certificate:",
        record.certificate_der().map(|der| {
            format!(
                "{} bytes, SHA-1 {}",
                der.len(),
                record
                    .certificate_sha1()
                    .map(hex::encode)
                    .unwrap_or_default()
            )
        }),
    );
    line("IP address:", record.ip_address().map(|ip| ip.to_string()));
    let unknown: Vec<String> = record
        .elements()
        .iter()
        .filter(|element| !ctl_format::trust_list::tag::is_known(element.tag))
        .map(|element| format!("tag {} ({} bytes)", element.tag, element.value.len()))
        .collect();
    if !unknown.is_empty() {
        line("Unknown elements:", Some(unknown.join(", ")));
    }
    let mismatches = record.consistency().mismatches();
    if !mismatches.is_empty() {
        line(
            "Warning:",
            Some(format!(
                "differs from its certificate: {}",
                mismatches.join(", ")
            )),
        );
    }
}

/// Parses `ROLE=CERT.pem[,ip=A.B.C.D][,dns=NAME]`.
fn record_entry(spec: &str) -> Result<RecordEntry, CliError> {
    let bad = |why: String| CliError::input(format!("--record {spec:?}: {why}"));
    let (role, rest) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected ROLE=CERT.pem".into()))?;
    let role: Role = role.parse().map_err(|error| bad(format!("{error}")))?;
    let mut parts = rest.split(',');
    let path = PathBuf::from(parts.next().unwrap_or_default());
    let certificate = Certificate::from_pem(&read_text(&path)?)
        .map_err(|error| bad(format!("{}: {error}", path.display())))?;
    let mut entry = RecordEntry::new(certificate, role);
    for option in parts {
        match option.split_once('=') {
            Some(("ip", address)) => {
                let address: Ipv4Addr = address
                    .parse()
                    .map_err(|_| bad(format!("{address:?} is not an IPv4 address")))?;
                entry = entry.with_ip_address(address);
            }
            Some(("dns", name)) => entry = entry.with_dns_name(name),
            _ => {
                return Err(bad(format!(
                    "unknown option {option:?} (expected ip=… or dns=…)"
                )));
            }
        }
    }
    Ok(entry)
}

fn build(args: &BuildArgs) -> CliResult {
    let pem = read_text(&args.signer)?;
    let signer_certificate = Certificate::from_pem(&pem)
        .map_err(|error| CliError::input(format!("{}: {error}", args.signer.display())))?;
    let signer = RsaFileSigner::from_pem(&pem)
        .map_err(|error| CliError::input(format!("{}: {error}", args.signer.display())))?;
    let entries = args
        .records
        .iter()
        .map(|spec| record_entry(spec))
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp = u32::try_from(now_unix())
        .map_err(|_| CliError::input("the clock is past 2106: the format's timestamp is 32-bit"))?;
    let kind = match args.kind {
        Kind::Ctl => TrustListKind::Ctl,
        Kind::Itl => TrustListKind::Itl,
    };
    let (layout, style) = match args.layout {
        Layout::Cisco => (RecordLayout::Cisco, NameStyle::Cisco),
        Layout::Certutils => (RecordLayout::Certutils, NameStyle::Certutils),
    };
    let mut builder = TrustListBuilder::new(kind, signer_certificate, &signer, timestamp)
        .hash_algorithm(match args.hash {
            Hash::Sha1 => HashAlgorithm::Sha1,
            Hash::Sha512 => HashAlgorithm::Sha512,
            Hash::Sha256 => HashAlgorithm::Sha256,
        })
        .signer_version(args.signer_version.map(|version| match version {
            SignerVersion::V1_0 => Version::V1_0,
            SignerVersion::V1_1 => Version::V1_1,
        }))
        .layout(layout)
        .name_style(style)
        .records(entries);
    if let Some(filename) = &args.filename {
        builder = builder.filename(filename.clone());
    }
    let file = builder.build()?;
    write_file(&args.out, &file)?;
    emit(&format!(
        "wrote {} ({} bytes, {} records)\n",
        args.out.display(),
        file.len(),
        args.records.len()
    ));
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> CliResult {
    let policy = match args.hash_policy {
        Policy::Cisco => HashPolicy::CISCO,
        Policy::Sha512Only => HashPolicy::SHA512_ONLY,
        Policy::Any => HashPolicy::ANY,
    };
    let bytes = read_file(&args.file)?;
    let list = parse(&args.file, &bytes)?;
    let rejected = |error: ctl_format::Error| {
        CliError::rejected(format!("{}: NOT VALID: {error}", args.file.display()))
    };
    match &args.previous {
        None => {
            let signer = list.verify(&bytes, policy).map_err(rejected)?;
            emit(&format!(
                "{}: valid ({}, signed by record {}{})\n",
                args.file.display(),
                signer.hash_algorithm,
                signer.record_index + 1,
                signer
                    .certificate
                    .and_then(|c| c.common_name())
                    .map(|cn| format!(", CN={cn}"))
                    .unwrap_or_default()
            ));
        }
        Some(previous_path) => {
            let previous_bytes = read_file(previous_path)?;
            let previous = parse(previous_path, &previous_bytes)?;
            let rollover = list
                .verify_against(&bytes, &previous, policy)
                .map_err(rejected)?;
            let how = match rollover.matched_by {
                ctl_format::trust_list::RolloverMatch::SameCertificate => "same certificate",
                _ => "same key, different certificate",
            };
            emit(&format!(
                "{}: valid and trusted: signed by record {}, SAST record {} of {} ({how})\n",
                args.file.display(),
                rollover.signer.record_index + 1,
                rollover.previous_record_index + 1,
                previous_path.display()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
