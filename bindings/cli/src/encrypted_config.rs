//! `capf encrypted-config`: encrypted configuration files (`.enc.sgn`,
//! "symmetric key encryption with the phone public key"): encrypt, decrypt,
//! show.

use crate::output::{errln, read_file, read_text, write_file};
use crate::signed::{
    Hash, header_fields, hex, load_certificate, print_fields, timestamp_or_now, verdict,
    write_output,
};
use crate::{CliError, CliResult};
use clap::Subcommand;
use ctl_format::encrypted_config::{self, EncryptOptions, EncryptedConfig};
use ctl_format::signed_file::{self, SignOptions};
use ctl_format::{Certificate, Error, HashAlgorithm, HashPolicy, RsaFileSigner, UsageError};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Encrypt a phone configuration for one phone, as certutils `enccnf`.
    ///
    /// Writes NAME.enc.sgn (the encrypted, signed configuration) and
    /// NAME.sgn (the signed reduced configuration: load, CAPF settings and
    /// the hash of the phone certificate) for CONFIG named NAME. The
    /// plaintext is left in place (enccnf deletes it): remove it from the
    /// TFTP folder yourself.
    Encrypt {
        /// PEM file holding the TFTP signer's RSA private key and certificate.
        #[arg(long, value_name = "KEY_AND_CERT.pem")]
        signer: PathBuf,
        /// PEM file holding the phone's certificate (LSC or MIC, RSA).
        #[arg(long, value_name = "CERT.pem")]
        phone_certificate: PathBuf,
        /// Digest of the signatures and of the plaintext.
        #[arg(long, value_enum, default_value_t = Hash::Sha1)]
        hash: Hash,
        /// Folder for the two output files [default: CONFIG's folder].
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Timestamp to store, in Unix seconds [default: now].
        #[arg(long, value_name = "SECONDS")]
        timestamp: Option<u32>,
        /// The configuration, e.g. SEP001122334455.cnf.xml.
        config: PathBuf,
    },
    /// Verify and decrypt an encrypted configuration with the phone's key.
    ///
    /// Nothing is decrypted unless the signature verifies. Exit status 1 if
    /// the signature or the decryption fails, 2 if a file cannot be read.
    Decrypt {
        /// PEM file holding the TFTP signer's certificate.
        #[arg(long, value_name = "CERT.pem")]
        signer_certificate: PathBuf,
        /// PEM file holding the phone's RSA private key.
        #[arg(long, value_name = "KEY.pem")]
        phone_key: PathBuf,
        /// Output file for the plaintext [default: standard output].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The encrypted file, e.g. SEP001122334455.cnf.xml.enc.sgn.
        file: PathBuf,
    },
    /// Show the header and encryption elements of an encrypted configuration.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The encrypted file.
        file: PathBuf,
    },
}

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Encrypt {
            signer,
            phone_certificate,
            hash,
            out_dir,
            timestamp,
            config,
        } => encrypt(
            &signer,
            &phone_certificate,
            hash.into(),
            out_dir,
            timestamp,
            &config,
        ),
        Command::Decrypt {
            signer_certificate,
            phone_key,
            out,
            file,
        } => decrypt(&signer_certificate, &phone_key, out.as_deref(), &file),
        Command::Show { json, file } => show(&file, json),
    }
}

fn encrypt(
    signer_path: &Path,
    phone_certificate_path: &Path,
    hash: HashAlgorithm,
    out_dir: Option<PathBuf>,
    timestamp: Option<u32>,
    config: &Path,
) -> CliResult {
    let plaintext = read_file(config)?;
    let pem = read_text(signer_path)?;
    let name_error = |error: Error| CliError::input(format!("{}: {error}", signer_path.display()));
    let signer = RsaFileSigner::from_pem(&pem).map_err(name_error)?;
    let signer_certificate = Certificate::from_pem(&pem).map_err(name_error)?;
    let phone_certificate = load_certificate(phone_certificate_path)?;
    let name = config
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::input(format!("{}: not a file name", config.display())))?;
    let out_dir = out_dir.unwrap_or_else(|| {
        config
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    let timestamp = timestamp_or_now(timestamp)?;
    let phone_error =
        |error: Error| CliError::input(format!("{}: {error}", phone_certificate_path.display()));

    let encrypted_name = format!("{name}.enc.sgn");
    let options = EncryptOptions {
        hash_algorithm: hash,
        filename: Some(encrypted_name.clone()),
        timestamp: Some(timestamp),
    };
    let encrypted = encrypted_config::encrypt(
        &plaintext,
        &phone_certificate,
        &signer_certificate,
        &signer,
        &options,
        &mut rand_core::OsRng,
    )
    .map_err(|error| match error {
        Error::Misuse(UsageError::EcKeyNotSupported) => CliError::input(format!(
            "{}: the phone certificate holds an EC key, which cannot wrap the AES key; \
             encrypted configs need the phone's RSA certificate (LSC or MIC)",
            phone_certificate_path.display()
        )),
        other => phone_error(other),
    })?;

    let reduced = ctl_format::reduced_config(&plaintext, &phone_certificate)
        .map_err(|error| CliError::input(format!("{}: {error}", config.display())))?;
    let reduced_name = format!("{name}.sgn");
    let reduced_signed = signed_file::sign(
        &reduced,
        &signer_certificate,
        &signer,
        &SignOptions::certutils(hash, &reduced_name, timestamp),
    )?;

    let encrypted_path = out_dir.join(&encrypted_name);
    let reduced_path = out_dir.join(&reduced_name);
    write_file(&encrypted_path, &encrypted)?;
    write_file(&reduced_path, &reduced_signed)?;
    errln!(
        "wrote {} (encrypted for certificate serial {}) and {} (reduced configuration)",
        encrypted_path.display(),
        hex(&phone_certificate.serial_number()),
        reduced_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<EncryptedConfig<'a>, CliError> {
    EncryptedConfig::parse(bytes)
        .map_err(|error| CliError::input(format!("{}: {error}", path.display())))
}

fn decrypt(
    signer_certificate_path: &Path,
    phone_key_path: &Path,
    out: Option<&Path>,
    path: &Path,
) -> CliResult {
    let signer_certificate = load_certificate(signer_certificate_path)?;
    let phone_key = ctl_format::pem::rsa_private_key(&read_text(phone_key_path)?)
        .map_err(|error| CliError::input(format!("{}: {error}", phone_key_path.display())))?;
    let bytes = read_file(path)?;
    let config = parse(path, &bytes)?;
    let plaintext = config
        .decrypt(&signer_certificate, &phone_key, HashPolicy::CISCO)
        .map_err(|error| verdict(path, error))?;
    write_output(out, &plaintext)?;
    if let Some(out) = out {
        errln!(
            "signature valid; decrypted {} bytes to {}",
            plaintext.len(),
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(path: &Path, as_json: bool) -> CliResult {
    let bytes = read_file(path)?;
    let config = parse(path, &bytes)?;
    let mut fields = header_fields(config.signed_file());
    let optional = |value: Option<u8>| value.map_or(Value::Null, |v| json!(v));
    fields.extend([
        ("iv", "IV", json!(hex(&config.iv()))),
        ("pad_count", "pad count", json!(config.pad_count())),
        (
            "key_size_bits",
            "wrapped key (bits)",
            json!(config.key_size_bits()),
        ),
        (
            "key_algorithm",
            "key algorithm field",
            optional(config.key_algorithm()),
        ),
        (
            "iv_unknown",
            "tag 18 (unknown)",
            optional(config.iv_unknown()),
        ),
        (
            "key_unknown",
            "tag 22 (unknown)",
            optional(config.key_unknown()),
        ),
        (
            "plaintext_hash_algorithm",
            "plaintext digest alg",
            json!(config.plaintext_hash_algorithm().name()),
        ),
        (
            "plaintext_digest",
            "plaintext digest",
            json!(hex(config.plaintext_digest())),
        ),
        (
            "ciphertext_length",
            "ciphertext length",
            json!(config.ciphertext().len()),
        ),
    ]);
    print_fields(path, fields, as_json);
    Ok(ExitCode::SUCCESS)
}
