//! `capf device`: the device registry a CAPF server works from — schedule
//! install/fetch/delete operations, set how each phone authenticates, and
//! look at the certificate ledger.
//!
//! Authentication strings are one-time 4-10 digit codes. Only their keyed
//! hash (HMAC-SHA256) is stored; the key lives outside the database
//! (`--auth-key-file` / `CAPF_AUTH_KEY_FILE`, default: the database's path +
//! `.auth-key`, created owner-only on first use; see
//! [`capf_registry::auth_key`]). A generated string is unique among
//! scheduled devices and printed once, on stdout, and nowhere else. A string given with `--auth-string` is visible to other
//! users of this machine in the process list: prefer `--generate-auth-string`.

use crate::output::{now_unix, outln, rfc3339_utc};
use crate::{CliError, CliResult};
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::{KeyOrder, KeyRequest};
use capf_core::capf::server::{
    GeneratedAuthString, MAX_AUTH_STRING_DIGITS, MIN_AUTH_STRING_DIGITS, validate_auth_string,
};
use capf_registry::auth_string::generate_unique_auth_string;
use capf_registry::{
    AnyRegistry, AuthKey, AuthKeyUse, AuthMode, CertificateEntry, Device, DeviceFilter, Operation,
    Registry, RegistryError, Schedule, Status, StoredAuthHash, auth_key_path_from_env,
    open_auth_key, parse_date, require_auth_key,
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
        /// The file is CSV with a header row naming the options of `add`
        /// (name, operation, auth, auth-string, generate-auth-string,
        /// auth-string-digits, key, complete-by, description), as exported
        /// from an inventory.
        #[arg(long)]
        csv: bool,
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
        #[command(flatten)]
        filters: Filters,
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

/// Which devices (`capf device list`, `capf report`): every filter given
/// must match.
#[derive(Debug, Args)]
pub(crate) struct Filters {
    /// Operation status, by slug (e.g. operation-pending, upgrade-success,
    /// upgrade-failed-invalid-mic) or in Cisco's words.
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    /// Scheduled operation: install, fetch, delete or none.
    #[arg(long, value_name = "OPERATION")]
    operation: Option<String>,
    /// How the device authenticates: auth-string, null, lsc or mic.
    #[arg(long, value_name = "MODE")]
    auth_mode: Option<String>,
    /// Devices whose LSC expires before DATE (RFC 3339 or a plain date).
    #[arg(long, value_name = "DATE")]
    expiring_before: Option<String>,
    /// Devices whose LSC's issuer name contains NAME (case-insensitive).
    #[arg(long, value_name = "NAME")]
    issuer: Option<String>,
    /// Devices whose one-time string is DIGITS (every match; strings stored
    /// the old way, before keyed hashes, are not found).
    #[arg(long, value_name = "DIGITS")]
    auth_string: Option<String>,
}

impl Filters {
    /// The library's filter; the key (for --auth-string) is found the
    /// library's way.
    pub(crate) fn build(&self, db: &DbArg, store: &AnyRegistry) -> Result<DeviceFilter, CliError> {
        let mut filter = DeviceFilter::default();
        filter.status = self
            .status
            .as_deref()
            .map(|text| {
                text.parse()
                    .map_err(|error| CliError::input(format!("--status: {error}")))
            })
            .transpose()?;
        filter.operation = self.operation.as_deref().map(parse_operation).transpose()?;
        filter.auth_mode = self
            .auth_mode
            .as_deref()
            .map(|text| {
                text.parse()
                    .map_err(|error| CliError::input(format!("--auth-mode: {error}")))
            })
            .transpose()?;
        filter.expiring_before = self
            .expiring_before
            .as_deref()
            .map(|text| {
                parse_date(text)
                    .map_err(|error| CliError::input(format!("--expiring-before: {error}")))
            })
            .transpose()?;
        filter.issuer.clone_from(&self.issuer);
        if let Some(text) = &self.auth_string {
            validate_auth_string(text).map_err(|_| {
                CliError::input("--auth-string: an authentication string is 4 to 10 digits")
            })?;
            let path = db.key_path();
            filter.auth_hash = Some(
                match open_auth_key(&path, AuthKeyUse::MustExist, &mut rand_core::OsRng)? {
                    Some(key) => key.hash(text)?,
                    // No key and no keyed string: nothing can match; a
                    // hash under a throw-away key finds nothing.
                    None if store.keyed_auth_string_count()? == 0 => {
                        AuthKey::generate(&mut rand_core::OsRng).hash(text)?
                    }
                    None => return Err(capf_registry::auth_key::missing_key_error(&path).into()),
                },
            );
        }
        Ok(filter)
    }
}

/// The registry file.
#[derive(Debug, Args)]
pub(crate) struct DbArg {
    /// Device database: a SQLite file (e.g. capf.db) or a postgres:// URL.
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// Key of the authentication-string hashes, kept outside the database;
    /// default: $CAPF_AUTH_KEY_FILE, else the database's path + `.auth-key`.
    /// Created (owner-only) the first time a string is written.
    #[arg(long, value_name = "FILE")]
    auth_key_file: Option<PathBuf>,
}

impl DbArg {
    /// Where the key file is (the library's rule).
    fn key_path(&self) -> PathBuf {
        auth_key_path_from_env(self.auth_key_file.as_deref(), &self.db)
    }
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
    /// Key the phone generates: rsa:512|1024|2048|3072|4096, ec:p256|p384|p521,
    /// or ec:CURVE+rsa:BITS (EC preferred, RSA backup); default rsa:2048.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    #[command(flatten)]
    order: KeyOrderArg,
    #[command(flatten)]
    details: Details,
}

/// `--key-order`, Unified CM's key order.
#[derive(Debug, Args)]
pub(crate) struct KeyOrderArg {
    /// Key order as Unified CM offers it: rsa-only, ec-only or ec-preferred
    /// (EC preferred, RSA backup). --key then gives the size of each family
    /// (default RSA 2048, EC P-256; ec-preferred takes ec:CURVE, rsa:BITS
    /// or ec:CURVE+rsa:BITS). EC preferred: the server asks for EC first
    /// and, only when the phone answers that request without a key (it
    /// refused or failed EC), asks for RSA in the same session, once; a
    /// time-out is not a refusal and does not fall back. EC only: a CAPF
    /// version 3 phone that refuses EC fails with "Upgrade Failed: No
    /// Support for EC only in CAPF version 3".
    #[arg(long, value_name = "ORDER")]
    key_order: Option<String>,
}

impl KeyOrderArg {
    /// The key request of `--key` (`None`: not given) in this order.
    fn apply(&self, key: Option<KeyRequest>) -> Result<Option<KeyRequest>, CliError> {
        let Some(order) = &self.key_order else {
            return Ok(key);
        };
        let order: KeyOrder = order.parse().map_err(|_| {
            CliError::input(format!(
                "--key-order {order:?}: expected rsa-only, ec-only or ec-preferred"
            ))
        })?;
        let (mut rsa_bits, mut curve) = (2048, Curve::P256);
        match key {
            Some(KeyRequest::Rsa { bits }) if order != KeyOrder::EcOnly => rsa_bits = bits,
            Some(KeyRequest::Ec(ec)) if order != KeyOrder::RsaOnly => curve = ec,
            Some(KeyRequest::EcPreferred {
                curve: ec,
                rsa_bits: bits,
            }) if order == KeyOrder::EcPreferred => (rsa_bits, curve) = (bits, ec),
            None => {}
            Some(other) => {
                return Err(CliError::input(format!(
                    "--key {other} does not fit --key-order {}",
                    order.slug()
                )));
            }
        }
        Ok(Some(order.request(rsa_bits, curve)))
    }
}

/// A scheduled operation's deadline and the device's description.
#[derive(Debug, Args)]
pub(crate) struct Details {
    /// Deadline of the operation: RFC 3339 (2027-01-31T18:00:00Z) or a
    /// plain date (2027-01-31, midnight UTC). Past it the server refuses the
    /// operation ("User Initiated Request Late/Timedout") and its one-time
    /// string is void.
    #[arg(long, value_name = "DATE")]
    complete_by: Option<String>,
    /// Free text about the device (an empty text clears it).
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
}

impl Details {
    fn complete_by(&self) -> Result<Option<u64>, CliError> {
        self.complete_by
            .as_deref()
            .map(|text| {
                parse_date(text).map_err(|error| CliError::input(format!("--complete-by: {error}")))
            })
            .transpose()
    }
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
    /// Key the phone generates (unchanged if omitted; see `add`).
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    #[command(flatten)]
    order: KeyOrderArg,
    /// A new one-time string (auth-string devices; needed again once the
    /// previous one was used).
    #[command(flatten)]
    auth_string: AuthStringArgs,
    #[command(flatten)]
    details: Details,
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
        Command::Import { db, file, csv } => import(&db, &file, csv),
        Command::Schedule(args) => schedule(args),
        Command::List { db, json, filters } => list(&db, json, &filters),
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
pub(crate) fn open_existing(path: &Path) -> Result<AnyRegistry, CliError> {
    if crate::db::missing(path) {
        return Err(CliError::input(format!(
            "no device database at {} (create it with `capf device add`)",
            path.display()
        )));
    }
    open_store(path)
}

/// Opens (or creates) the registry; a failure names the file.
fn open_store(path: &Path) -> Result<AnyRegistry, CliError> {
    crate::db::open(path)
}

/// What to do about a device's one-time string. Never put the string in an
/// error.
#[derive(Clone)]
enum AuthPlan {
    /// No string given.
    None,
    /// A string given with --auth-string (checked).
    Given(String),
    /// Generate one of this many digits.
    Generate(usize),
}

fn take_auth_string(args: &AuthStringArgs) -> Result<AuthPlan, CliError> {
    if args.generate_auth_string {
        if !(MIN_AUTH_STRING_DIGITS..=MAX_AUTH_STRING_DIGITS).contains(&args.auth_string_digits) {
            return Err(CliError::input(format!(
                "--auth-string-digits: {} digits asked for; 4 to 10 are allowed",
                args.auth_string_digits
            )));
        }
        return Ok(AuthPlan::Generate(args.auth_string_digits));
    }
    match &args.auth_string {
        Some(given) => {
            validate_auth_string(given).map_err(|_| {
                CliError::input("--auth-string: an authentication string is 4 to 10 digits")
            })?;
            Ok(AuthPlan::Given(given.clone()))
        }
        None => Ok(AuthPlan::None),
    }
}

/// The key for a program that writes strings: created on first use, unless
/// the database already holds keyed strings without it.
fn writer_key(db: &DbArg, store: &AnyRegistry) -> Result<AuthKey, CliError> {
    Ok(require_auth_key(
        &db.key_path(),
        store.keyed_auth_string_count()?,
        &mut rand_core::OsRng,
    )?)
}

/// Turns a plan into the stored hash, and the generated string to show
/// once. Generated strings avoid every scheduled device's string and the
/// batch's own (`taken`).
fn resolve_auth(
    plan: &AuthPlan,
    store: &AnyRegistry,
    key: &AuthKey,
    taken: &mut std::collections::HashSet<[u8; 32]>,
) -> Result<(Option<StoredAuthHash>, Option<GeneratedAuthString>), CliError> {
    match plan {
        AuthPlan::None => Ok((None, None)),
        AuthPlan::Given(text) => Ok((Some(StoredAuthHash::keyed(key, text)?), None)),
        AuthPlan::Generate(digits) => {
            let (generated, hash) =
                generate_unique_auth_string(store, key, *digits, taken, &mut rand_core::OsRng)?;
            Ok((Some(hash), Some(generated)))
        }
    }
}

/// A checked device: name, schedule (without its string's hash yet), and
/// what to do about its string.
type Prepared = (String, Schedule, AuthPlan);

/// Checks one device specification.
fn prepare(spec: &DeviceSpec) -> Result<Prepared, CliError> {
    let name = validate_device_name(&spec.name)?;
    let operation = parse_operation(&spec.operation)?;
    let auth_mode = parse_auth_mode(&spec.auth)?;
    let key = spec.key.as_deref().map(parse_key).transpose()?;
    let key_request = spec
        .order
        .apply(key)?
        .unwrap_or(KeyRequest::Rsa { bits: 2048 });
    let auth_string = take_auth_string(&spec.auth_string)?;
    match (auth_mode, &auth_string) {
        (AuthMode::AuthString, AuthPlan::None) => {
            return Err(CliError::input(
                "--auth auth-string needs --auth-string DIGITS or --generate-auth-string",
            ));
        }
        (AuthMode::AuthString, _) | (_, AuthPlan::None) => {}
        (_, _) => {
            return Err(CliError::input(format!(
                "an authentication string only applies to --auth auth-string, not {auth_mode}"
            )));
        }
    }
    let schedule = Schedule {
        operation,
        key_request,
        auth_mode,
        auth_hash: None,
        complete_by: spec.details.complete_by()?,
        description: spec.details.description.clone(),
    };
    Ok((name, schedule, auth_string))
}

fn add(args: AddArgs) -> CliResult {
    let (name, mut schedule, plan) = prepare(&args.device)?;
    let store = open_store(&args.db.db)?;
    let mut generated = None;
    if !matches!(plan, AuthPlan::None) {
        let key = writer_key(&args.db, &store)?;
        let mut taken = std::collections::HashSet::new();
        (schedule.auth_hash, generated) = resolve_auth(&plan, &store, &key, &mut taken)?;
    }
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
    if let Some(text) = &generated {
        outln!("authentication string: {}", text.expose());
        outln!("(shown once; it is stored only as a keyed hash)");
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
/// The devices of a CSV file (RFC 4180, header row): columns named after
/// the options of `add` (`name`, `operation`, `auth`, `auth-string`,
/// `generate-auth-string` (yes/no), `auth-string-digits`, `key`,
/// `complete-by`, `description`); an empty cell is an option not given.
fn csv_entries(text: &str, file: &Path) -> Result<Vec<(String, Vec<String>)>, CliError> {
    let records = capf_registry::report::parse_csv(text)
        .map_err(|error| CliError::input(format!("{}: {error}", file.display())))?;
    let Some((header, rows)) = records.split_first() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header
        .iter()
        .map(|column| column.trim().trim_start_matches("--").to_ascii_lowercase())
        .collect();
    if !header.iter().any(|column| column == "name") {
        return Err(CliError::input(format!(
            "{}: the header has no `name` column",
            file.display()
        )));
    }
    let mut entries = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        // Record 1 is the header.
        let place = format!("{} record {}", file.display(), index + 2);
        if row.len() != header.len() {
            return Err(CliError::input(format!(
                "{place}: {} fields, the header has {}",
                row.len(),
                header.len()
            )));
        }
        let mut name = String::new();
        let mut args = Vec::new();
        for (column, value) in header.iter().zip(row) {
            let value = value.trim();
            match column.as_str() {
                "name" => name = value.to_owned(),
                _ if value.is_empty() => {}
                "generate-auth-string" => match value.to_ascii_lowercase().as_str() {
                    "yes" | "true" | "1" | "x" => args.push(format!("--{column}")),
                    "no" | "false" | "0" => {}
                    _ => {
                        return Err(CliError::input(format!(
                            "{place}: generate-auth-string is yes or no"
                        )));
                    }
                },
                _ => {
                    args.push(format!("--{column}"));
                    args.push(value.to_owned());
                }
            }
        }
        args.insert(0, name);
        entries.push((place, args));
    }
    Ok(entries)
}

/// Whether to show progress (only on a terminal).
fn progress_wanted() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

fn import(db: &DbArg, file: &Path, csv: bool) -> CliResult {
    use clap::Parser;
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|error| CliError::input(format!("standard input: {error}")))?
    } else {
        crate::output::read_text(file)?
    };
    // (where, the arguments of `add`) per device.
    let mut entries: Vec<(String, Vec<String>)> = Vec::new();
    if csv {
        entries = csv_entries(&text, file)?;
    } else {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            entries.push((
                format!("{}:{}", file.display(), index + 1),
                line.split_whitespace().map(str::to_owned).collect(),
            ));
        }
    }
    let mut prepared = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (place, args) in entries {
        let at = |message: String| CliError::input(format!("{place}: {message}"));
        let parsed = ImportLine::try_parse_from(&args)
            .map_err(|error| at(error.render().to_string().trim().to_owned()))?;
        let (name, schedule, plan) = prepare(&parsed.device).map_err(|error| at(error.message))?;
        if !seen.insert(name.clone()) {
            return Err(at(format!("{name} is listed twice")));
        }
        prepared.push((name, schedule, plan));
    }
    let store = open_store(&db.db)?;
    let (devices, generated) = hash_all(db, &store, prepared)?;
    let replaced = store.put_devices(&devices, now_unix())?;
    outln!(
        "{} device(s) imported: {} added, {replaced} schedule(s) replaced",
        devices.len(),
        devices.len() - replaced
    );
    for (name, text) in &generated {
        outln!("{name}: authentication string: {}", text.expose());
    }
    if !generated.is_empty() {
        outln!("(shown once; they are stored only as keyed hashes)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The devices' schedules with their strings hashed (generated ones unique
/// among scheduled devices and the batch), and the generated strings.
#[allow(clippy::type_complexity)]
fn hash_all(
    db: &DbArg,
    store: &AnyRegistry,
    prepared: Vec<Prepared>,
) -> Result<(Vec<(String, Schedule)>, Vec<(String, GeneratedAuthString)>), CliError> {
    let needs_key = prepared
        .iter()
        .any(|(_, _, plan)| !matches!(plan, AuthPlan::None));
    let key = needs_key.then(|| writer_key(db, store)).transpose()?;
    let mut taken = std::collections::HashSet::new();
    let mut devices = Vec::with_capacity(prepared.len());
    let mut generated = Vec::new();
    let (total, progress) = (prepared.len(), progress_wanted());
    for (index, (name, mut schedule, plan)) in prepared.into_iter().enumerate() {
        if progress && (index % 500 == 0 || index + 1 == total) {
            crate::output::print_stderr(format_args!("\rpreparing {}/{total}", index + 1));
            if index + 1 == total {
                crate::output::print_stderr(format_args!("\n"));
            }
        }
        if let Some(key) = &key {
            let (hash, text) = resolve_auth(&plan, store, key, &mut taken)?;
            schedule.auth_hash = hash;
            if let Some(text) = text {
                generated.push((name.clone(), text));
            }
        }
        devices.push((name, schedule));
    }
    Ok((devices, generated))
}

fn schedule(args: ScheduleArgs) -> CliResult {
    let name = validate_device_name(&args.name)?;
    let operation = parse_operation(&args.operation)?;
    let key_request = args
        .order
        .apply(args.key.as_deref().map(parse_key).transpose()?)?;
    let complete_by = args.details.complete_by()?;
    let store = open_existing(&args.db.db)?;
    let device = store.device(&name)?;
    let plan = take_auth_string(&args.auth_string)?;
    let has_plan = !matches!(plan, AuthPlan::None);
    if has_plan && device.auth_mode != AuthMode::AuthString {
        return Err(CliError::input(format!(
            "{name} authenticates by {}; an authentication string does not apply (use `capf \
             device add` to change the mode)",
            device.auth_mode
        )));
    }
    if device.auth_mode == AuthMode::AuthString
        && operation != Operation::None
        && !device.has_auth_string
        && !has_plan
    {
        return Err(CliError::input(format!(
            "{name} needs a new one-time authentication string (the last one was used): pass \
             --auth-string DIGITS or --generate-auth-string"
        )));
    }
    let (auth_hash, generated) = if has_plan {
        let key = writer_key(&args.db, &store)?;
        resolve_auth(&plan, &store, &key, &mut std::collections::HashSet::new())?
    } else {
        (None, None)
    };
    store.set_operation(
        &name,
        operation,
        key_request,
        auth_hash.as_ref(),
        now_unix(),
    )?;
    if complete_by.is_some() || args.details.description.is_some() {
        store.annotate(
            &name,
            complete_by,
            args.details.description.as_deref(),
            now_unix(),
        )?;
    }
    outln!("{name}: operation {operation} scheduled");
    if let Some(text) = &generated {
        outln!("authentication string: {}", text.expose());
        outln!("(shown once; it is stored only as a keyed hash)");
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
        "key_order": device.key_request.order().slug(),
        "failed_attempts": device.failed_attempts,
        "locked": device.locked,
        "claimed_until": device.claimed_until.map(rfc3339_utc),
        "operation_status": device.operation_status.slug(),
        "operation_status_text": device.operation_status.to_string(),
        "status_changed_at": rfc3339_utc(device.status_changed_at),
        "complete_by": device.complete_by.map(rfc3339_utc),
        "description": device.description,
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

fn list(db: &DbArg, json: bool, filters: &Filters) -> CliResult {
    let store = &open_existing(&db.db)?;
    let filter = filters.build(db, store)?;
    let devices: Vec<Device> = capf_registry::report::report(store, &filter)?
        .into_iter()
        .map(|row| row.device)
        .collect();
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
        "{:<20} {:<9} {:<44} {:<12} {:<9} CERTS",
        "NAME",
        "OPERATION",
        "STATUS",
        "AUTH",
        "KEY"
    );
    for device in &devices {
        outln!(
            "{:<20} {:<9} {:<44} {:<12} {:<9} {}",
            device.name,
            device.operation.as_str(),
            format!(
                "{}{}",
                device.operation_status,
                if device.locked { " (locked)" } else { "" }
            ),
            device.auth_mode.as_str(),
            device.key_request.to_string(),
            store.certificates(&device.name)?.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(store: &AnyRegistry, name: &str, json: bool) -> CliResult {
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
    outln!(
        "status:          {}{}",
        device.operation_status,
        if device.locked { " (locked)" } else { "" }
    );
    outln!("status since:    {}", rfc3339_utc(device.status_changed_at));
    if let Some(by) = device.complete_by {
        outln!("complete by:     {}", rfc3339_utc(by));
    }
    if let Some(text) = &device.description {
        outln!("description:     {text}");
    }
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
