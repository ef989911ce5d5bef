//! What `--db` names, for every command: a SQLite file or a PostgreSQL
//! URL, opened by the library's one rule ([`capf_registry::open`]). The
//! PostgreSQL password comes from the URL, `--db-password-file`,
//! `PGPASSWORD` or `PGPASSFILE`; never from the command line itself.
//! URLs are shown with their password redacted.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use capf_registry::{AnyRegistry, OpenOptions, db_url};

use crate::CliError;

/// The `--db-password-file` given on the command line (global option).
static PASSWORD_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Records `--db-password-file` for every later [`open`].
pub(crate) fn set_password_file(path: Option<PathBuf>) {
    if let Some(path) = path {
        let _first = PASSWORD_FILE.set(path);
    }
}

/// `--db` as shown in messages: a path as is, a URL without its password.
pub(crate) fn shown(db: &Path) -> String {
    db_url::redact(&db.to_string_lossy())
}

/// Whether `--db` is a PostgreSQL URL.
pub(crate) fn is_url(db: &Path) -> bool {
    db_url::is_postgres_url(&db.to_string_lossy())
}

/// The open options from `--db-password-file`.
pub(crate) fn options() -> Result<OpenOptions, CliError> {
    let mut options = OpenOptions::new();
    if let Some(path) = PASSWORD_FILE.get() {
        let text = std::fs::read_to_string(path).map_err(|error| {
            CliError::input(format!("--db-password-file {}: {error}", path.display()))
        })?;
        let password = text.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            return Err(CliError::input(format!(
                "--db-password-file {}: empty",
                path.display()
            )));
        }
        options = options.with_password(password);
    }
    Ok(options)
}

/// Opens (or creates) the registry `--db` names; a failure names it
/// (redacted).
pub(crate) fn open(db: &Path) -> Result<AnyRegistry, CliError> {
    open_as(db, None)
}

/// [`open`] for a node with a name (`capf serve --node-name`).
pub(crate) fn open_as(db: &Path, node_name: Option<&str>) -> Result<AnyRegistry, CliError> {
    let spec = db.to_string_lossy();
    let mut options = options()?;
    options.node_name = node_name.map(str::to_owned);
    capf_registry::open(&spec, &options)
        .map_err(|error| CliError::input(format!("--db {}: {error}", shown(db))))
}

/// Whether a `--db` that must already exist is missing: a SQLite path
/// that is not a file (a mistyped path must not become a new empty
/// database). A URL is never missing here: opening it says whether the
/// server is reachable.
pub(crate) fn missing(db: &Path) -> bool {
    !is_url(db) && !db.is_file()
}
