//! `capf trustlist`: show, build and verify CTL and ITL files, and predict
//! whether phones accept a new one (`rollover`).

use crate::output::{now_unix, out, outln, read_file, read_text, rfc3339_utc, write_file};
use crate::{CliError, CliResult};
use clap::{Args, Subcommand, ValueEnum};
use ctl_format::trust_list::{Record, RecordEntry, RecordLayout, Role, TrustListKind};
use ctl_format::{
    Certificate, FileVersion, HashAlgorithm, HashPolicy, NameStyle, RsaFileSigner, TrustList,
    TrustListBuilder,
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
    /// Predict, as each kind of phone would decide, whether a new CTL or
    /// ITL will be accepted or leave the phone stranded on its old list.
    /// Exit 0 when every phone group accepts it, 1 when any would be
    /// stranded, 2 on unreadable input.
    Rollover(RolloverArgs),
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
    #[allow(rustdoc::broken_intra_doc_links)] // --help text: brackets as written
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

/// Arguments of `rollover`.
///
/// Rules (see `capf_core::rollover`): a phone with nothing installed takes
/// the list on first use; otherwise the installed CTL decides if there is
/// one, else the installed ITL. The new list must be signed by a SAST
/// (role 0) of that list — the same certificate or the same key — or, when
/// the ITL decides, be vouched for by TVS, which the phone can only reach
/// when its ITL lists a TVS certificate.
#[derive(Debug, Args)]
pub(crate) struct RolloverArgs {
    /// The new CTL or ITL the cluster is about to publish.
    #[arg(long, value_name = "NEW.tlv")]
    candidate: PathBuf,
    /// Whether the candidate is a CTL or an ITL, when its header filename
    /// element (CTLFile.tlv, ITLSEP….tlv, …) does not say.
    #[arg(long, value_enum, value_name = "KIND")]
    candidate_kind: Option<Kind>,
    /// What one group of phones holds now: `none` (new or reset phones),
    /// a trust-list file, or a CTL and an ITL joined by a comma. Each
    /// file's kind comes from its filename element; force it with a `ctl:`
    /// or `itl:` prefix. Prefix `LABEL=` to name the group in the report.
    /// Repeat for each group, e.g. `--installed old=ITLFile-2023.tlv
    /// --installed new=none`.
    #[arg(
        long = "installed",
        value_name = "[LABEL=]none|[ctl:|itl:]FILE[,FILE]",
        required = true
    )]
    installed: Vec<String>,
    /// A CTL that every group holding an ITL but no CTL also holds (the
    /// cluster is in mixed mode); groups given as `none` stay empty.
    #[arg(long, value_name = "CTL.tlv")]
    installed_ctl: Option<PathBuf>,
    /// The capf SQLite database whose TVS certificates (`capf tvs add`)
    /// TVS answers from; revoked ones do not vouch.
    #[arg(long, value_name = "capf.db")]
    tvs_store: Option<PathBuf>,
    /// A certificate TVS knows, with its roles: CERT.pem:ROLE[+ROLE…], e.g.
    /// `new-cm.pem:ccm+tftp` or `token.pem:sast+tftp` (`ccm+tftp` alone is
    /// the CCM+TFTP role; inside a list write it `ccm-tftp`). Repeatable.
    /// TVS vouches for a trust-list signer with role SAST, CCM+TFTP or TFTP.
    #[arg(long = "tvs-cert", value_name = "CERT.pem:ROLE[+ROLE]")]
    tvs_certs: Vec<String>,
    /// Digests the phones accept in the candidate's signature.
    #[arg(long, value_enum, default_value = "cisco")]
    hash_policy: Policy,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn hash_policy(policy: Policy) -> HashPolicy {
    match policy {
        Policy::Cisco => HashPolicy::CISCO,
        Policy::Sha512Only => HashPolicy::SHA512_ONLY,
        Policy::Any => HashPolicy::ANY,
    }
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

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Show(args) => show(&args),
        Command::Build(args) => build(&args),
        Command::Verify(args) => verify(&args),
        Command::Rollover(args) => rollover(&args),
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
        outln!("{object:#}");
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
    out!("{out}");
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
            SignerVersion::V1_0 => FileVersion::V1_0,
            SignerVersion::V1_1 => FileVersion::V1_1,
        }))
        .layout(layout)
        .name_style(style)
        .records(entries);
    if let Some(filename) = &args.filename {
        builder = builder.filename(filename.clone());
    }
    let file = builder.build()?;
    write_file(&args.out, &file)?;
    outln!(
        "wrote {} ({} bytes, {} records)",
        args.out.display(),
        file.len(),
        args.records.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> CliResult {
    let policy = hash_policy(args.hash_policy);
    let bytes = read_file(&args.file)?;
    let list = parse(&args.file, &bytes)?;
    // The file parsed, so whatever verification says is the verdict on it
    // (exit 1), whatever its fault: a refusal, or a signer record whose
    // certificate cannot be read (`Fault::Malformed`), which a phone
    // rejects just the same.
    let rejected = |error: ctl_format::Error| {
        CliError::rejected(format!("{}: NOT VALID: {error}", args.file.display()))
    };
    match &args.previous {
        None => {
            let signer = list.verify(&bytes, policy).map_err(rejected)?;
            outln!(
                "{}: valid ({}, signed by record {}{})",
                args.file.display(),
                signer.hash_algorithm,
                signer.record_index + 1,
                signer
                    .certificate
                    .and_then(|c| c.common_name())
                    .map(|cn| format!(", CN={cn}"))
                    .unwrap_or_default()
            );
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
            outln!(
                "{}: valid and trusted: signed by record {}, SAST record {} of {} ({how})",
                args.file.display(),
                rollover.signer.record_index + 1,
                rollover.previous_record_index + 1,
                previous_path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One group of phones from `--installed`: its label and the indexes of
/// its files in the list of files read.
struct InstalledGroup {
    label: String,
    ctl: Option<(usize, PathBuf)>,
    itl: Option<(usize, PathBuf)>,
}

/// A file of `--installed`: its kind, forced by a `ctl:` or `itl:` prefix
/// or read from its filename element.
fn installed_file(
    spec: &str,
    files: &mut Vec<Vec<u8>>,
) -> Result<(TrustListKind, usize, PathBuf), CliError> {
    let prefix = spec.get(..4).map(str::to_ascii_lowercase);
    let rest = || PathBuf::from(spec.get(4..).unwrap_or_default());
    match prefix.as_deref() {
        Some("ctl:") => read_installed(Some(TrustListKind::Ctl), rest(), files),
        Some("itl:") => read_installed(Some(TrustListKind::Itl), rest(), files),
        _ => read_installed(None, PathBuf::from(spec), files),
    }
}

/// Reads an installed trust list into `files`; returns its kind, its
/// index in `files` and its path.
fn read_installed(
    forced: Option<TrustListKind>,
    path: PathBuf,
    files: &mut Vec<Vec<u8>>,
) -> Result<(TrustListKind, usize, PathBuf), CliError> {
    let bytes = read_file(&path)?;
    let named = capf_core::rollover::kind_from_filename(&parse(&path, &bytes)?);
    let kind = forced.or(named).ok_or_else(|| {
        CliError::input(format!(
            "--installed {}: its filename element names neither a CTL nor an ITL; \
             write ctl:{0} or itl:{0}",
            path.display()
        ))
    })?;
    files.push(bytes);
    Ok((kind, files.len() - 1, path))
}

/// Parses one `--installed [LABEL=]none|[ctl:|itl:]FILE[,FILE]`.
fn installed_group(spec: &str, files: &mut Vec<Vec<u8>>) -> Result<InstalledGroup, CliError> {
    // `LABEL=` unless the whole value names an existing file.
    let (label, body) = match spec.split_once('=') {
        Some((label, body)) if !std::path::Path::new(spec).exists() && !label.is_empty() => {
            (label.to_owned(), body)
        }
        _ => (spec.to_owned(), spec),
    };
    let mut group = InstalledGroup {
        label,
        ctl: None,
        itl: None,
    };
    if body.trim().eq_ignore_ascii_case("none") {
        return Ok(group);
    }
    for part in body.split(',') {
        let (kind, index, path) = installed_file(part, files)?;
        let slot = match kind {
            TrustListKind::Ctl => &mut group.ctl,
            _ => &mut group.itl,
        };
        if slot.is_some() {
            return Err(CliError::input(format!(
                "--installed {spec:?}: a phone holds one CTL and one ITL, not two of a kind"
            )));
        }
        *slot = Some((index, path));
    }
    Ok(group)
}

/// Parses one `--tvs-cert CERT.pem:ROLE[+ROLE]` into the TVS knowledge.
fn tvs_cert(spec: &str, tvs: &mut capf_core::rollover::TvsKnowledge) -> Result<(), CliError> {
    let bad = |why: String| CliError::input(format!("--tvs-cert {spec:?}: {why}"));
    let (path, roles) = spec
        .rsplit_once(':')
        .ok_or_else(|| bad("expected CERT.pem:ROLE[+ROLE]".into()))?;
    let roles: Vec<Role> = match roles.parse::<Role>() {
        Ok(role) => vec![role],
        Err(_) => roles
            .split(['+', ','])
            .map(|role| role.parse::<Role>().map_err(|error| bad(error.to_string())))
            .collect::<Result<_, _>>()?,
    };
    let path = PathBuf::from(path);
    let certificate = Certificate::from_pem(&read_text(&path)?)
        .map_err(|error| bad(format!("{}: {error}", path.display())))?;
    tvs.insert(certificate.der(), roles, false);
    Ok(())
}

fn rollover(args: &RolloverArgs) -> CliResult {
    use capf_core::rollover::{
        Acceptance, CandidateList, InstalledLists, PhoneState, RolloverVerdict, TvsKnowledge,
        predict_fleet,
    };
    let policy = hash_policy(args.hash_policy);
    let candidate_bytes = read_file(&args.candidate)?;
    let candidate_kind = {
        let list = parse(&args.candidate, &candidate_bytes)?;
        match args.candidate_kind {
            Some(Kind::Ctl) => TrustListKind::Ctl,
            Some(Kind::Itl) => TrustListKind::Itl,
            None => capf_core::rollover::kind_from_filename(&list).ok_or_else(|| {
                CliError::input(format!(
                    "{}: its filename element names neither a CTL nor an ITL; \
                     say which with --candidate-kind",
                    args.candidate.display()
                ))
            })?,
        }
    };
    let mut files = Vec::new();
    let mut groups = args
        .installed
        .iter()
        .map(|spec| installed_group(spec, &mut files))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(path) = &args.installed_ctl {
        let (_, index, path) = read_installed(Some(TrustListKind::Ctl), path.clone(), &mut files)?;
        for group in &mut groups {
            if group.ctl.is_none() && group.itl.is_some() {
                group.ctl = Some((index, path.clone()));
            }
        }
    }
    let mut tvs = TvsKnowledge::new();
    for spec in &args.tvs_certs {
        tvs_cert(spec, &mut tvs)?;
    }
    if let Some(path) = &args.tvs_store {
        tvs_store_knowledge(path, &mut tvs)?;
    }
    let tvs = (!args.tvs_certs.is_empty() || args.tvs_store.is_some()).then_some(&tvs);
    let file = |slot: &Option<(usize, PathBuf)>| {
        slot.as_ref()
            .and_then(|(index, _)| files.get(*index))
            .map(Vec::as_slice)
    };
    let phones: Vec<PhoneState<'_>> = groups
        .iter()
        .map(|group| PhoneState {
            label: group.label.clone(),
            installed: InstalledLists {
                ctl: file(&group.ctl),
                itl: file(&group.itl),
            },
        })
        .collect();
    let candidate = CandidateList {
        kind: candidate_kind,
        bytes: &candidate_bytes,
    };
    let fleet = predict_fleet(&phones, candidate, tvs, policy)
        .map_err(|error| CliError::input(format!("--installed: {error}")))?;

    let kind_text = |kind: TrustListKind| match kind {
        TrustListKind::Ctl => "CTL",
        _ => "ITL",
    };
    let signer = fleet
        .phones
        .first()
        .and_then(|(_, prediction)| prediction.signer.clone());
    let mut out = String::new();
    if args.json {
        let phones: Vec<Value> = fleet
            .phones
            .iter()
            .zip(&groups)
            .map(|((label, prediction), group)| {
                let path = |slot: &Option<(usize, PathBuf)>| {
                    slot.as_ref().map(|(_, path)| path.display().to_string())
                };
                let (how, reason, detail, via, tvs_roles) = match &prediction.verdict {
                    RolloverVerdict::Accepted(how) => {
                        let via = how.installed_record().map(|record| {
                            json!({
                                "list": kind_text(record.list),
                                "record": record.index + 1,
                                "role": record.role.name(),
                                "role_code": record.role.code(),
                                "subject": record.subject,
                            })
                        });
                        let roles = match how {
                            Acceptance::VouchedByTvs { roles, .. } => {
                                Some(roles.iter().map(|role| role.name()).collect::<Vec<_>>())
                            }
                            _ => None,
                        };
                        (Some(how.code()), None, None, via, roles)
                    }
                    RolloverVerdict::Rejected { reason, detail } => {
                        (None, Some(reason.code()), Some(detail.clone()), None, None)
                    }
                    _ => (None, None, None, None, None),
                };
                json!({
                    "label": label,
                    "installed": {"ctl": path(&group.ctl), "itl": path(&group.itl)},
                    "authority": prediction.authority.name(),
                    "accepted": prediction.is_accepted(),
                    "how": how,
                    "via": via,
                    "tvs_roles": tvs_roles,
                    "reason": reason,
                    "detail": detail,
                    "explanation": prediction.explanation,
                    "outcome": prediction.outcome,
                    "fix": prediction.fix,
                    "warnings": prediction.warnings,
                })
            })
            .collect();
        let object = json!({
            "candidate": {
                "file": args.candidate.display().to_string(),
                "kind": kind_text(candidate_kind),
                "signer": signer.as_ref().and_then(|signer| signer.subject.clone()),
                "signer_serial": signer.as_ref().map(|signer| hex::encode(&signer.serial_number)),
                "signer_sha256": signer.as_ref().and_then(|signer| signer.certificate_sha256.map(hex::encode)),
                "hash_algorithm": signer.as_ref().map(|signer| signer.hash_algorithm.name()),
            },
            "all_accept": fleet.all_accept(),
            "stranded": fleet.stranded(),
            "phones": phones,
        });
        say!(out, "{object:#}");
    } else {
        say!(
            out,
            "Candidate: {} ({}{})",
            args.candidate.display(),
            kind_text(candidate_kind),
            signer
                .as_ref()
                .and_then(|signer| signer
                    .subject
                    .as_ref()
                    .map(|subject| format!(", signed by {subject} with {}", signer.hash_algorithm)))
                .unwrap_or_default()
        );
        for (label, prediction) in &fleet.phones {
            say!(out);
            let verdict = match &prediction.verdict {
                RolloverVerdict::Accepted(how) => format!("ACCEPTED ({})", how.code()),
                RolloverVerdict::Rejected { reason, .. } => format!("STRANDED ({reason})"),
                _ => "UNKNOWN".to_owned(),
            };
            say!(out, "[{label}] {verdict}");
            say!(out, "  {}", prediction.explanation);
            say!(out, "  Phone: {}", prediction.outcome);
            if let Some(fix) = &prediction.fix {
                say!(out, "  Fix: {fix}");
            }
            for warning in &prediction.warnings {
                say!(out, "  Warning: {warning}");
            }
        }
        say!(out);
        let stranded = fleet.stranded();
        say!(
            out,
            "Summary: {} of {} phone group(s) accept the new {}{}",
            fleet.phones.len() - stranded.len(),
            fleet.phones.len(),
            kind_text(candidate_kind),
            if stranded.is_empty() {
                String::new()
            } else {
                format!("; stranded: {}", stranded.join(", "))
            }
        );
    }
    out!("{out}");
    let stranded = fleet.stranded();
    if stranded.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::rejected(format!(
            "rollover would strand {} of {} phone group(s): {}",
            stranded.len(),
            fleet.phones.len(),
            stranded.join(", ")
        )))
    }
}

/// What TVS answers from the capf database (`capf tvs add`): every
/// certificate of its TVS table with its roles and revocation.
fn tvs_store_knowledge(
    path: &std::path::Path,
    tvs: &mut capf_core::rollover::TvsKnowledge,
) -> Result<(), CliError> {
    let bad = |error: &dyn std::fmt::Display| {
        CliError::input(format!("--tvs-store {}: {error}", crate::db::shown(path)))
    };
    // Opening creates a missing database; a prediction must not.
    if crate::db::missing(path) {
        return Err(bad(&"no such database file"));
    }
    use capf_registry::TvsAllowList as _;
    let store = capf_registry::open(&path.to_string_lossy(), &crate::db::options()?)
        .map_err(|error| bad(&error))?;
    for entry in store.tvs_list().map_err(|error| bad(&error))? {
        tvs.insert(&entry.der, entry.roles, entry.revoked);
    }
    Ok(())
}
