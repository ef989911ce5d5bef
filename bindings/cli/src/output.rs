//! Small helpers shared by the commands: standard output, reading files,
//! time formatting.
//!
//! Every command prints through [`outln!`]/[`out!`] (or [`write_stdout`] for
//! bytes): `println!` panics when the reader of a pipe goes away
//! (`capf device list | head -1`). Here a closed pipe ends the output
//! quietly and the command finishes with its normal status; any other write
//! failure (a full disk) is remembered and turns a success into exit 2 (see
//! [`stdout_failure`]). Warnings go to standard error through [`errln!`],
//! which ignores a closed standard error instead of panicking.

use crate::CliError;
use std::fmt;
use std::io::{ErrorKind, Write as _};
use std::path::Path;
use std::sync::Mutex;

/// What happened to standard output so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StdoutState {
    Open,
    /// The reader closed the pipe: nothing more is written, and that is fine.
    ReaderGone,
    /// Writing failed otherwise; the first error, for the final message.
    Failed(String),
}

static STDOUT: Mutex<StdoutState> = Mutex::new(StdoutState::Open);

/// Records a write result; later writes are skipped once one failed.
fn note_stdout_result(result: std::io::Result<()>) {
    if let Err(error) = result
        && let Ok(mut state) = STDOUT.lock()
        && *state == StdoutState::Open
    {
        *state = if error.kind() == ErrorKind::BrokenPipe {
            StdoutState::ReaderGone
        } else {
            StdoutState::Failed(error.to_string())
        };
    }
}

fn stdout_open() -> bool {
    STDOUT
        .lock()
        .map(|state| *state == StdoutState::Open)
        .unwrap_or(false)
}

/// Writes formatted text to standard output; what [`out!`] and [`outln!`]
/// expand to.
pub(crate) fn print_stdout(args: fmt::Arguments<'_>) {
    if stdout_open() {
        let mut stdout = std::io::stdout().lock();
        note_stdout_result(stdout.write_fmt(args).and_then(|()| stdout.flush()));
    }
}

/// Writes bytes to standard output (a file's contents). A closed pipe is
/// not an error; another failure is bad output for the user (exit 2).
pub(crate) fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    if stdout_open() {
        let mut stdout = std::io::stdout().lock();
        note_stdout_result(stdout.write_all(bytes).and_then(|()| stdout.flush()));
    }
    match stdout_failure() {
        Some(error) => Err(CliError::input(error)),
        None => Ok(()),
    }
}

/// Why standard output could not be written, if it failed for any reason
/// other than the reader closing the pipe.
pub(crate) fn stdout_failure() -> Option<String> {
    match STDOUT.lock().as_deref() {
        Ok(StdoutState::Failed(error)) => Some(format!("cannot write to standard output: {error}")),
        _ => None,
    }
}

/// `print!` that does not panic when standard output is closed.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::print_stdout(format_args!($($arg)*))
    };
}

/// `println!` that does not panic when standard output is closed.
macro_rules! outln {
    () => {
        $crate::output::print_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes formatted text to standard error, ignoring failure: `eprintln!`
/// panics when standard error is closed, and a warning that cannot be shown
/// must not end the command. What [`errln!`] expands to.
pub(crate) fn print_stderr(args: fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_fmt(args).and_then(|()| stderr.flush());
}

/// `eprintln!` that does not panic when standard error is closed.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::print_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};

/// Reads a whole file, with the path in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|error| CliError::input(format!("cannot read {}: {error}", path.display())))
}

/// Reads a whole text file (PEM), with the path in the error.
pub(crate) fn read_text(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|error| CliError::input(format!("cannot read {}: {error}", path.display())))
}

/// Writes a file, with the path in the error.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|error| CliError::input(format!("cannot write {}: {error}", path.display())))
}

/// Formats Unix seconds as RFC 3339 UTC (`2015-05-07T03:10:47Z`).
pub(crate) fn rfc3339_utc(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds_of_day / 3600,
        (seconds_of_day % 3600) / 60,
        seconds_of_day % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Current Unix time in seconds (the CLI is the host: it owns the clock).
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_430_968_247), "2015-05-07T03:10:47Z");
        assert_eq!(rfc3339_utc(1_795_323_855), "2026-11-22T05:04:15Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }
}
