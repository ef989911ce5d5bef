//! `capf device`: the device registry a CAPF server works from — schedule
//! install/fetch/delete operations, set how each phone authenticates, and
//! look at the certificate ledger.
//!
//! Authentication strings are one-time 4-10 digit codes. Only their salted
//! hash is stored; a generated string is printed once, on stdout, and
//! nowhere else. A string given with `--auth-string` is visible to other
//! users of this machine in the process list: prefer `--generate-auth-string`.

use crate::output::{now_unix, outln, rfc3339_utc};
use crate::{CliError, CliResult};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::{AuthStringHash, generate_auth_string, validate_auth_string};
use capf_registry::{
    AuthMode, CertificateEntry, Device, Operation, Registry, RegistryError, Schedule,
    SqliteRegistry, Status, StoredAuthHash, hash_auth_string,
};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Add a device, or replace the whole schedule of an existing one.
    Add(AddArgs),
    /// Add or replace many devices from a file, all or none: one device per
    /// line with the arguments of `add` (NAME --operation … --auth …
    /// [--key …] [--auth-string … | --generate-auth-string]); blank lines
    /// and lines starting with # are skipped; `-` reads standard input.
    Import {
        #[command(flatten)]
        db: DbArg,
        /// The device file.
        file: PathBuf,
    },
    /// Change the scheduled operation (and key) of an existing device.
    Schedule(ScheduleArgs),
    /// List the devices.
    List {
        #[command(flatten)]
        db: DbArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one device: status, schedule, certificate ledger, events.
    Show {
        #[command(flatten)]
        db: DbArg,
        /// Device name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a device (its certificate ledger is kept).
    Remove {
        #[command(flatten)]
        db: DbArg,
        /// Device name.
        name: String,
    },
}

/// The registry file.
#[derive(Debug, Args)]
pub(crate) struct DbArg {
    /// Device database (SQLite), e.g. capf.db.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
}

/// How the authentication string is given.
#[derive(Debug, Args)]
pub(crate) struct AuthStringArgs {
    /// The one-time authentication string (4-10 digits). Visible in the
    /// process list: prefer --generate-auth-string.
    #[arg(long, value_name = "DIGITS", conflicts_with = "generate_auth_string")]
    auth_string: Option<String>,
    /// Generate a random authentication string and print it once.
    #[arg(long)]
    generate_auth_string: bool,
    /// Digits of a generated string (4-10).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 6,
        requires = "generate_auth_string"
    )]
    auth_string_digits: usize,
}

/// `capf device add`.
#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    device: DeviceSpec,
}

/// One device's schedule, as `add` and each line of `import` give it.
#[derive(Debug, Args)]
pub(crate) struct DeviceSpec {
    /// Device name: SEP + 12 upper-case hex digits of the MAC, or another
    /// name of 1-64 letters and digits (CSF…, BOT… softphones).
    name: String,
    /// Scheduled operation: install, fetch, delete or none.
    #[arg(long, value_name = "OPERATION")]
    operation: String,
    /// How the phone authenticates: auth-string, null, lsc or mic.
    #[arg(long, value_name = "MODE")]
    auth: String,
    #[command(flatten)]
    auth_string: AuthStringArgs,
    /// Key the phone generates: rsa:512|1024|2048|3072|4096 or ec:p256|p384|p521.
    #[arg(long, value_name = "KEY", default_value = "rsa:2048")]
    key: String,
}

/// `capf device schedule`.
#[derive(Debug, Args)]
pub(crate) struct ScheduleArgs {
    #[command(flatten)]
    db: DbArg,
    /// Device name.
    name: String,
    /// Scheduled operation: install, fetch, delete or none.
    #[arg(long, value_name = "OPERATION")]
    operation: String,
    /// Key the phone generates (unchanged if omitted).
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// A new one-time string (auth-string devices; needed again once the
    /// previous one was used).
    #[command(flatten)]
    auth_string: AuthStringArgs,
}

impl From<RegistryError> for CliError {
    fn from(error: RegistryError) -> Self {
        Self::input(error.to_string())
    }
}

/// Runs a subcommand.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Add(args) => add(args),
        Command::Import { db, file } => import(&db.db, &file),
        Command::Schedule(args) => schedule(args),
        Command::List { db, json } => list(&open_existing(&db.db)?, json),
        Command::Show { db, name, json } => show(&open_existing(&db.db)?, &name, json),
        Command::Remove { db, name } => {
            let name = validate_device_name(&name)?;
            let kept = open_existing(&db.db)?.remove(&name, now_unix())?;
            outln!("{name}: removed ({kept} certificate(s) kept in the ledger)");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Checks a device name with capf-core's one rule
/// ([`capf_core::device_name::DeviceName`]): `SEP` + 12 upper-case hex
/// digits, or (any other prefix) 1-64 ASCII letters and digits. The server
/// session and issuance apply the same rule.
pub(crate) fn validate_device_name(name: &str) -> Result<String, CliError> {
    use capf_core::device_name::{DeviceName, DeviceNameError};
    DeviceName::parse(name)
        .map(DeviceName::into_string)
        .map_err(|error| match error {
            DeviceNameError::BadSepName => CliError::input(format!(
                "invalid device name {name:?}: a SEP name is SEP followed by the 12 upper-case \
                 hex digits of the MAC, e.g. SEP001122334455"
            )),
            _ => CliError::input(format!(
                "invalid device name {name:?}: use SEP + 12 upper-case hex digits, or 1-64 \
                 letters and digits"
            )),
        })
}

fn parse_operation(text: &str) -> Result<Operation, CliError> {
    text.parse()
        .map_err(|error| CliError::input(format!("--operation: {error}")))
}

fn parse_auth_mode(text: &str) -> Result<AuthMode, CliError> {
    text.parse()
        .map_err(|error| CliError::input(format!("--auth: {error}")))
}

fn parse_key(text: &str) -> Result<KeyRequest, CliError> {
    text.parse()
        .map_err(|error| CliError::input(format!("--key: {error}")))
}

/// Opens a registry that must already exist (all commands but `add`).
pub(crate) fn open_existing(path: &Path) -> Result<SqliteRegistry, CliError> {
    if !path.is_file() {
        return Err(CliError::input(format!(
            "no device database at {} (create it with `capf device add`)",
            path.display()
        )));
    }
    open_store(path)
}

/// Opens (or creates) the registry; a failure names the file.
fn open_store(path: &Path) -> Result<SqliteRegistry, CliError> {
    SqliteRegistry::open(path)
        .map_err(|error| CliError::input(format!("--db {}: {error}", path.display())))
}

/// The string to hash, and whether it was generated (to print it once).
/// Never put the string in an error.
fn take_auth_string(args: &AuthStringArgs) -> Result<Option<(String, bool)>, CliError> {
    if args.generate_auth_string {
        let generated = generate_auth_string(&mut rand_core::OsRng, args.auth_string_digits)
            .map_err(|error| CliError::input(format!("--auth-string-digits: {error}")))?;
        return Ok(Some((generated.expose().to_owned(), true)));
    }
    match &args.auth_string {
        Some(given) => {
            validate_auth_string(given).map_err(|_| {
                CliError::input("--auth-string: an authentication string is 4 to 10 digits")
            })?;
            Ok(Some((given.clone(), false)))
        }
        None => Ok(None),
    }
}

fn hash(auth_string: &str) -> Result<StoredAuthHash, CliError> {
    Ok(hash_auth_string(
        auth_string,
        AuthStringHash::RECOMMENDED_ITERATIONS,
        &mut rand_core::OsRng,
    )?)
}

/// A checked device: name, schedule, and the authentication string (and
/// whether it was generated, to print it once).
type Prepared = (String, Schedule, Option<(String, bool)>);

/// Checks one device specification and hashes its authentication string.
fn prepare(spec: &DeviceSpec) -> Result<Prepared, CliError> {
    let name = validate_device_name(&spec.name)?;
    let operation = parse_operation(&spec.operation)?;
    let auth_mode = parse_auth_mode(&spec.auth)?;
    let key_request = parse_key(&spec.key)?;
    let auth_string = take_auth_string(&spec.auth_string)?;
    match (auth_mode, &auth_string) {
        (AuthMode::AuthString, None) => {
            return Err(CliError::input(
                "--auth auth-string needs --auth-string DIGITS or --generate-auth-string",
            ));
        }
        (AuthMode::AuthString, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(CliError::input(format!(
                "an authentication string only applies to --auth auth-string, not {auth_mode}"
            )));
        }
    }
    let auth_hash = auth_string
        .as_ref()
        .map(|(text, _)| hash(text))
        .transpose()?;
    let schedule = Schedule {
        operation,
        key_request,
        auth_mode,
        auth_hash,
    };
    Ok((name, schedule, auth_string))
}

fn add(args: AddArgs) -> CliResult {
    let (name, schedule, auth_string) = prepare(&args.device)?;
    let store = open_store(&args.db.db)?;
    let replaced = store.put_device(&name, &schedule, now_unix())?;
    outln!(
        "{name}: {} (operation {}, auth {}, key {})",
        if replaced {
            "schedule replaced"
        } else {
            "added"
        },
        schedule.operation,
        schedule.auth_mode,
        schedule.key_request
    );
    if let Some((text, true)) = &auth_string {
        outln!("authentication string: {text}");
        outln!("(shown once; it is stored only as a salted hash)");
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of an import file, parsed as `add` parses its arguments.
#[derive(Debug, clap::Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
struct ImportLine {
    #[command(flatten)]
    device: DeviceSpec,
}

/// `capf device import`: every line is checked before anything is written.
fn import(db: &Path, file: &Path) -> CliResult {
    use clap::Parser;
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|error| CliError::input(format!("standard input: {error}")))?
    } else {
        crate::output::read_text(file)?
    };
    let mut devices = Vec::new();
    let mut generated = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at =
            |message: String| CliError::input(format!("{}:{number}: {message}", file.display()));
        let parsed = ImportLine::try_parse_from(line.split_whitespace())
            .map_err(|error| at(error.render().to_string().trim().to_owned()))?;
        let (name, schedule, auth_string) =
            prepare(&parsed.device).map_err(|error| at(error.message))?;
        if !seen.insert(name.clone()) {
            return Err(at(format!("{name} is listed twice")));
        }
        if let Some((text, true)) = auth_string {
            generated.push((name.clone(), text));
        }
        devices.push((name, schedule));
    }
    let store = open_store(db)?;
    let replaced = store.put_devices(&devices, now_unix())?;
    outln!(
        "{} device(s) imported: {} added, {replaced} schedule(s) replaced",
        devices.len(),
        devices.len() - replaced
    );
    for (name, text) in &generated {
        outln!("{name}: authentication string: {text}");
    }
    if !generated.is_empty() {
        outln!("(shown once; they are stored only as salted hashes)");
    }
    Ok(ExitCode::SUCCESS)
}

fn schedule(args: ScheduleArgs) -> CliResult {
    let name = validate_device_name(&args.name)?;
    let operation = parse_operation(&args.operation)?;
    let key_request = args.key.as_deref().map(parse_key).transpose()?;
    let store = open_existing(&args.db.db)?;
    let device = store.device(&name)?;
    let auth_string = take_auth_string(&args.auth_string)?;
    if auth_string.is_some() && device.auth_mode != AuthMode::AuthString {
        return Err(CliError::input(format!(
            "{name} authenticates by {}; an authentication string does not apply (use `capf \
             device add` to change the mode)",
            device.auth_mode
        )));
    }
    if device.auth_mode == AuthMode::AuthString
        && operation != Operation::None
        && !device.has_auth_string
        && auth_string.is_none()
    {
        return Err(CliError::input(format!(
            "{name} needs a new one-time authentication string (the last one was used): pass \
             --auth-string DIGITS or --generate-auth-string"
        )));
    }
    let auth_hash = auth_string
        .as_ref()
        .map(|(text, _)| hash(text))
        .transpose()?;
    store.set_operation(
        &name,
        operation,
        key_request,
        auth_hash.as_ref(),
        now_unix(),
    )?;
    outln!("{name}: operation {operation} scheduled");
    if let Some((text, true)) = &auth_string {
        outln!("authentication string: {text}");
        outln!("(shown once; it is stored only as a salted hash)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `install pending`, `fetch failed (authentication failed)`, …
fn status_text(device: &Device) -> String {
    let operation = device
        .status_operation
        .map_or_else(|| device.operation.to_string(), |op| op.to_string());
    let mut text = match device.status {
        Status::None => "no pending operation".to_owned(),
        Status::Pending => format!("{operation} pending"),
        Status::Failed => match &device.status_detail {
            Some(detail) => format!("{operation} failed ({detail})"),
            None => format!("{operation} failed"),
        },
        Status::Successful => format!("{operation} successful"),
        other => format!("{operation} {other}"),
    };
    if device.locked {
        text.push_str(", locked");
    }
    text
}

fn device_json(device: &Device) -> serde_json::Value {
    serde_json::json!({
        "name": device.name,
        "operation": device.operation.as_str(),
        "status": device.status.as_str(),
        "status_operation": device.status_operation.map(Operation::as_str),
        "status_text": status_text(device),
        "auth_mode": device.auth_mode.as_str(),
        "auth_string_set": device.has_auth_string,
        "key": device.key_request.to_string(),
        "failed_attempts": device.failed_attempts,
        "locked": device.locked,
        "claimed_until": device.claimed_until.map(rfc3339_utc),
        "created_at": rfc3339_utc(device.created_at),
        "updated_at": rfc3339_utc(device.updated_at),
    })
}

pub(crate) fn certificate_json(entry: &CertificateEntry) -> serde_json::Value {
    serde_json::json!({
        "id": entry.id,
        "serial": entry.serial_hex,
        "state": entry.state.as_str(),
        "issued_at": rfc3339_utc(entry.issued_at),
        "not_after": rfc3339_utc(entry.not_after),
        "updated_at": rfc3339_utc(entry.updated_at),
        "der_length": entry.der.len(),
        "revoked": entry.revocation.is_some(),
        "revocation_reason": entry.revocation.map(|r| r.reason.as_str()),
        "revoked_at": entry.revocation.map(|r| rfc3339_utc(r.revoked_at)),
        "replaced_by": entry.replaced_by,
    })
}

pub(crate) fn print_json(value: &serde_json::Value) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| CliError::input(format!("JSON: {error}")))?;
    outln!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn list(store: &SqliteRegistry, json: bool) -> CliResult {
    let devices = store.list()?;
    if json {
        let mut values = Vec::with_capacity(devices.len());
        for device in &devices {
            let mut value = device_json(device);
            value["certificates"] = store.certificates(&device.name)?.len().into();
            values.push(value);
        }
        return print_json(&serde_json::Value::Array(values));
    }
    if devices.is_empty() {
        outln!("no devices");
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:<20} {:<9} {:<36} {:<12} {:<9} CERTS",
        "NAME",
        "OPERATION",
        "STATUS",
        "AUTH",
        "KEY"
    );
    for device in &devices {
        outln!(
            "{:<20} {:<9} {:<36} {:<12} {:<9} {}",
            device.name,
            device.operation.as_str(),
            status_text(device),
            device.auth_mode.as_str(),
            device.key_request.to_string(),
            store.certificates(&device.name)?.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(store: &SqliteRegistry, name: &str, json: bool) -> CliResult {
    let name = validate_device_name(name)?;
    let device = store.device(&name)?;
    let certificates = store.certificates(&name)?;
    let events = store.events(&name)?;
    if json {
        let mut value = device_json(&device);
        value["certificates"] = certificates.iter().map(certificate_json).collect();
        value["events"] = events
            .iter()
            .map(|event| serde_json::json!({"time": rfc3339_utc(event.time), "what": event.what}))
            .collect();
        return print_json(&value);
    }
    outln!("device:          {}", device.name);
    outln!("status:          {}", status_text(&device));
    outln!("operation:       {}", device.operation);
    let string_state = match (device.auth_mode, device.has_auth_string) {
        (AuthMode::AuthString, true) => " (string set)",
        (AuthMode::AuthString, false) => " (no string: schedule a new one)",
        _ => "",
    };
    outln!("authentication:  {}{string_state}", device.auth_mode);
    outln!("key:             {}", device.key_request);
    outln!(
        "failed attempts: {}{}",
        device.failed_attempts,
        if device.locked { " (locked)" } else { "" }
    );
    if let Some(until) = device.claimed_until {
        outln!("claimed until:   {} (by a session)", rfc3339_utc(until));
    }
    outln!("created:         {}", rfc3339_utc(device.created_at));
    outln!("updated:         {}", rfc3339_utc(device.updated_at));
    if certificates.is_empty() {
        outln!("certificates:    none");
    } else {
        outln!("certificates:");
        for entry in &certificates {
            let mut notes = String::new();
            if let Some(revocation) = entry.revocation {
                notes.push_str(&format!(
                    ", REVOKED {} ({})",
                    rfc3339_utc(revocation.revoked_at),
                    revocation.reason
                ));
            }
            if let Some(by) = entry.replaced_by {
                notes.push_str(&format!(", replaced by #{by}"));
            }
            outln!(
                "  #{} serial {} {} issued {} not after {}{notes}",
                entry.id,
                entry.serial_hex,
                entry.state,
                rfc3339_utc(entry.issued_at),
                rfc3339_utc(entry.not_after)
            );
        }
    }
    outln!("events:");
    for event in &events {
        outln!("  {} {}", rfc3339_utc(event.time), event.what);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::validate_device_name;

    #[test]
    fn device_names() {
        for good in [
            "SEP001122334455",
            "SEPABCDEF012345",
            "CSFALICE",
            "BOT1",
            "x",
        ] {
            assert!(validate_device_name(good).is_ok(), "{good}");
        }
        let long = "A".repeat(65);
        for bad in [
            "",
            "SEP00112233445",
            "SEP0011223344556",
            "SEP00112233445g",
            "SEPabcdef012345",
            "sep001122334455",
            "CSF-ALICE",
            "CSF ALICE",
            "ÄBC",
            long.as_str(),
        ] {
            assert!(validate_device_name(bad).is_err(), "{bad:?}");
        }
    }
}
