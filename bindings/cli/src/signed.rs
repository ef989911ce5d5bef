//! `capf signed`: signed files (`.sgn` configuration files, Cisco firmware
//! `.loads`): show, sign, verify, strip.

use crate::output::{
    errln, now_unix, out, outln, read_file, read_text, rfc3339_utc, write_file, write_stdout,
};
use crate::{CliError, CliResult};
use clap::{Subcommand, ValueEnum};
use ctl_format::signed_file::{self, SignOptions, SignatureStatus, SignedFile};
use ctl_format::{
    Certificate, Error, Fault, HashAlgorithm, HashPolicy, IssuerMatch, RsaFileSigner,
};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the header of a signed file and a summary of its payload.
    ///
    /// Works on .sgn, .enc.sgn and Cisco firmware files (.loads, .sbn…).
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The signed file.
        file: PathBuf,
    },
    /// Sign a file: writes the original bytes behind a signed header.
    ///
    /// The layout is that of certutils `sgnfile` unless --style cisco is
    /// given.
    Sign {
        /// PEM file holding the signer's RSA private key and certificate
        /// (the TFTP or CallManager+TFTP certificate).
        #[arg(long, value_name = "KEY_AND_CERT.pem")]
        signer: PathBuf,
        /// Digest of the signature.
        #[arg(long, value_enum, default_value_t = Hash::Sha1)]
        hash: Hash,
        /// Name stored in the filename element [default: the output file's name].
        #[arg(long, value_name = "NAME")]
        filename: Option<String>,
        /// Output file [default: INPUT.sgn].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Header conventions: certutils (names `CN=…,O=…` in certificate
        /// order) or cisco (Unified CM's `CN=…;OU=…;O=…`).
        #[arg(long, value_enum, default_value_t = Style::Certutils)]
        style: Style,
        /// Timestamp to store, in Unix seconds [default: now].
        #[arg(long, value_name = "SECONDS")]
        timestamp: Option<u32>,
        /// The file to sign.
        input: PathBuf,
    },
    /// Verify a signed file's signature with the signer's certificate.
    ///
    /// Exit status 0 if the signature is valid, 1 if it is not (or cannot
    /// be checked), 2 if a file cannot be read or parsed.
    Verify {
        /// PEM file holding the signer's certificate (a private key in the
        /// same file is ignored).
        #[arg(long, value_name = "CERT.pem")]
        certificate: PathBuf,
        /// The signed file.
        file: PathBuf,
    },
    /// Remove the signed header, giving back the original file.
    ///
    /// The signature is not checked: run `capf signed verify` first.
    Strip {
        /// The signed file.
        file: PathBuf,
        /// Output file [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Digest choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Hash {
    /// SHA-1 (every phone accepts it).
    Sha1,
    /// SHA-512 (newer firmware).
    Sha512,
}

impl From<Hash> for HashAlgorithm {
    fn from(hash: Hash) -> Self {
        match hash {
            Hash::Sha1 => HashAlgorithm::Sha1,
            Hash::Sha512 => HashAlgorithm::Sha512,
        }
    }
}

/// Header conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Style {
    /// certutils `sgnfile`.
    Certutils,
    /// Cisco Unified CM.
    Cisco,
}

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Show { json, file } => show(&file, json),
        Command::Sign {
            signer,
            hash,
            filename,
            out,
            style,
            timestamp,
            input,
        } => sign(&signer, hash, filename, out, style, timestamp, &input),
        Command::Verify { certificate, file } => verify(&certificate, &file),
        Command::Strip { file, out } => strip(&file, out.as_deref()),
    }
}

/// Maps a library error about `path` to the exit status a shell user
/// expects, by who is at fault: a "no" about the file's authenticity or
/// content ([`Fault::Refused`]) is 1, anything else (unreadable,
/// unparsable, unusable key or certificate) 2.
pub(crate) fn verdict(path: &Path, error: Error) -> CliError {
    let message = format!("{}: {error}", path.display());
    match error.fault() {
        Fault::Refused => CliError::rejected(message),
        _ => CliError::input(message),
    }
}

/// Parses a signed file, naming the file in the error.
pub(crate) fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SignedFile<'a>, CliError> {
    SignedFile::parse(bytes)
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))
}

/// Reads the first certificate of a PEM file.
pub(crate) fn load_certificate(path: &Path) -> Result<Certificate, CliError> {
    Certificate::from_pem(&read_text(path)?)
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The current time as the u32 the timestamp element holds.
pub(crate) fn timestamp_or_now(timestamp: Option<u32>) -> Result<u32, CliError> {
    match timestamp {
        Some(seconds) => Ok(seconds),
        None => u32::try_from(now_unix())
            .map_err(|_| CliError::input("the clock is past 2106; pass --timestamp")),
    }
}

/// One line of `show` output: JSON key, text label, value.
pub(crate) type Field = (&'static str, &'static str, Value);

/// The header and payload facts shown for any signed file.
pub(crate) fn header_fields(file: &SignedFile<'_>) -> Vec<Field> {
    let header = file.header();
    let text = |value: Option<ctl_format::TlvString<'_>>| {
        value.map_or(Value::Null, |s| Value::String(s.to_string_lossy()))
    };
    let payload = file.payload();
    let payload_sha256 = hex(&HashAlgorithm::Sha256.digest_parts(&[payload]));
    let signature_bits = header.signature.len().saturating_mul(8);
    let status = match file.signature_status() {
        SignatureStatus::UnverifiableCiscoFirmware => {
            "signature cannot be checked: Cisco's signing key is not public (Cisco firmware)"
        }
        _ => "not checked here; run `capf signed verify --certificate CERT.pem FILE`",
    };
    vec![
        (
            "version",
            "header version",
            json!(header.version.to_string()),
        ),
        (
            "header_length",
            "header length",
            json!(header.header_length),
        ),
        (
            "signer_version",
            "signer version",
            header
                .signer_version
                .map_or(Value::Null, |v| json!(v.to_string())),
        ),
        ("signer_name", "signer", text(header.signer_name)),
        ("issuer_name", "issuer", text(header.issuer_name)),
        (
            "serial_number",
            "serial number",
            json!(hex(header.serial_number)),
        ),
        (
            "hash_algorithm",
            "hash algorithm",
            json!(header.hash_algorithm.name()),
        ),
        (
            "signature_bits",
            "signature (RSA bits)",
            json!(signature_bits),
        ),
        (
            "signature_offset",
            "signature offset",
            json!(header.signature_offset),
        ),
        ("filename", "filename element", text(header.filename)),
        (
            "timestamp",
            "timestamp",
            header.timestamp.map_or(Value::Null, |t| json!(t)),
        ),
        (
            "timestamp_utc",
            "timestamp (UTC)",
            header
                .timestamp
                .map_or(Value::Null, |t| json!(rfc3339_utc(u64::from(t)))),
        ),
        (
            "padding_count",
            "padding bytes",
            json!(header.padding_count),
        ),
        ("encrypted", "encrypted config", json!(file.is_encrypted())),
        (
            "payload_offset",
            "payload offset",
            json!(file.payload_offset()),
        ),
        ("payload_length", "payload length", json!(payload.len())),
        ("payload_sha256", "payload sha256", json!(payload_sha256)),
        ("signature_status", "signature", json!(status)),
        (
            "warnings",
            "warnings",
            if header.warnings.is_empty() {
                Value::Null
            } else {
                json!(
                    header
                        .warnings
                        .iter()
                        .map(|w| format!("{w:?}"))
                        .collect::<Vec<_>>()
                )
            },
        ),
    ]
}

/// Prints fields as text (`label: value`) or as one JSON object. A closed
/// pipe (`capf signed show FILE | head`) is not an error.
pub(crate) fn print_fields(path: &Path, fields: Vec<Field>, as_json: bool) {
    let mut out = String::new();
    if as_json {
        let mut object = Map::new();
        object.insert("file".into(), json!(path.display().to_string()));
        for (key, _, value) in fields {
            object.insert(key.into(), value);
        }
        out = format!("{}\n", Value::Object(object));
    } else {
        out.push_str(&format!("{}\n", path.display()));
        for (_, label, value) in fields {
            let shown = match value {
                Value::Null => "(none)".to_owned(),
                Value::String(text) => text,
                Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_owned)
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            out.push_str(&format!("  {label:<22} {shown}\n"));
        }
    }
    out!("{out}");
}

fn show(path: &Path, as_json: bool) -> CliResult {
    let bytes = read_file(path)?;
    let file = parse(path, &bytes)?;
    print_fields(path, header_fields(&file), as_json);
    Ok(ExitCode::SUCCESS)
}

fn sign(
    signer_path: &Path,
    hash: Hash,
    filename: Option<String>,
    out: Option<PathBuf>,
    style: Style,
    timestamp: Option<u32>,
    input: &Path,
) -> CliResult {
    let payload = read_file(input)?;
    let pem = read_text(signer_path)?;
    let name_error = |error: Error| CliError::input(format!("{}: {error}", signer_path.display()));
    let signer = RsaFileSigner::from_pem(&pem).map_err(name_error)?;
    let certificate = Certificate::from_pem(&pem).map_err(name_error)?;
    let out = out.unwrap_or_else(|| {
        let mut name = input.as_os_str().to_owned();
        name.push(".sgn");
        PathBuf::from(name)
    });
    let filename = match filename {
        Some(name) => name,
        None => out
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| CliError::input("the output path has no file name; pass --filename"))?,
    };
    let timestamp = timestamp_or_now(timestamp)?;
    let options = match style {
        Style::Certutils => SignOptions::certutils(hash.into(), &filename, timestamp),
        Style::Cisco => SignOptions::cisco(hash.into(), &filename, timestamp),
    };
    let signed = signed_file::sign(&payload, &certificate, &signer, &options)?;
    write_file(&out, &signed)?;
    errln!(
        "signed {} ({} bytes) as {} with {}",
        input.display(),
        payload.len(),
        out.display(),
        HashAlgorithm::from(hash)
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(certificate_path: &Path, path: &Path) -> CliResult {
    let certificate = load_certificate(certificate_path)?;
    let bytes = read_file(path)?;
    let file = parse(path, &bytes)?;
    let verified = file
        .verify(&certificate, HashPolicy::CISCO)
        .map_err(|error| verdict(path, error))?;
    outln!(
        "{}: signature valid ({}, signer serial {})",
        path.display(),
        verified.hash_algorithm,
        hex(&certificate.serial_number())
    );
    if verified.issuer == IssuerMatch::Differs {
        outln!("  note: the header's issuer name text differs from the certificate's issuer");
    }
    Ok(ExitCode::SUCCESS)
}

fn strip(path: &Path, out: Option<&Path>) -> CliResult {
    let bytes = read_file(path)?;
    let file = parse(path, &bytes)?;
    write_output(out, file.strip())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes to `out`, or to standard output.
pub(crate) fn write_output(out: Option<&Path>, bytes: &[u8]) -> Result<(), CliError> {
    match out {
        Some(path) => write_file(path, bytes),
        None => write_stdout(bytes),
    }
}
