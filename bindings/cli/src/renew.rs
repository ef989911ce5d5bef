//! `capf renew`: renewal without re-scheduling each phone by hand. The
//! planner ([`capf_registry::plan_renewals`]) schedules, for every
//! installed LSC that is due, an install authenticated by that LSC; the
//! phone renews at its next CAPF contact and the old LSC stays in the
//! ledger as replaced. `capf serve --renew-used-share` runs it by itself.

use crate::device::open_existing;
use crate::output::{now_unix, outln, rfc3339_utc};
use crate::{CliError, CliResult};
use capf_registry::{Renewal, RenewalPolicy};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// `capf renew …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Schedule the renewal of every installed LSC expiring before DATE or
    /// past a share of its lifetime (default: --used-share 0.66), and show
    /// what was scheduled. Devices with an operation already scheduled are
    /// left alone; an expired LSC is not renewed (it can no longer
    /// authenticate: schedule that phone by hand).
    Plan(PlanArgs),
}

/// `capf renew plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Registry file (SQLite), as managed by `capf device`.
    #[arg(long, value_name = "FILE")]
    db: PathBuf,
    /// Renew LSCs whose notAfter is before this date: RFC 3339
    /// (2027-01-31T18:00:00Z) or a plain date (2027-01-31, midnight UTC).
    #[arg(long, value_name = "DATE", conflicts_with = "used_share")]
    expiring_before: Option<String>,
    /// Renew LSCs past this share of their lifetime, in (0, 1].
    #[arg(long, value_name = "SHARE")]
    used_share: Option<String>,
    /// Only show what would be scheduled.
    #[arg(long)]
    dry_run: bool,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// The default share of an LSC's lifetime after which it is renewed.
pub(crate) const DEFAULT_USED_SHARE: &str = "0.66";

/// Runs `capf renew …`.
pub(crate) fn run(command: Command) -> CliResult {
    match command {
        Command::Plan(args) => plan(&args),
    }
}

/// `--used-share` as a policy, or a clear error.
pub(crate) fn parse_used_share(option: &str, text: &str) -> Result<RenewalPolicy, CliError> {
    RenewalPolicy::used_share(text).ok_or_else(|| {
        CliError::input(format!(
            "{option} {text:?}: expected a share of the lifetime in (0, 1], e.g. 0.66"
        ))
    })
}

fn plan(args: &PlanArgs) -> CliResult {
    let policy = match (&args.expiring_before, &args.used_share) {
        (Some(date), _) => RenewalPolicy::ExpiringBefore(parse_date("--expiring-before", date)?),
        (None, Some(share)) => parse_used_share("--used-share", share)?,
        (None, None) => parse_used_share("--used-share", DEFAULT_USED_SHARE)?,
    };
    let registry = open_existing(&args.db)?;
    let renewals = capf_registry::plan_renewals(&registry, policy, now_unix(), args.dry_run)?;
    if args.json {
        let value = serde_json::json!({
            "dry_run": args.dry_run,
            "scheduled": renewals.iter().map(renewal_json).collect::<Vec<_>>(),
        });
        return crate::device::print_json(&value);
    }
    let verb = if args.dry_run {
        "would schedule"
    } else {
        "scheduled"
    };
    for renewal in &renewals {
        outln!(
            "{}: renewal {verb} (LSC #{} serial {}, not after {})",
            renewal.device,
            renewal.certificate_id,
            renewal.serial_hex,
            rfc3339_utc(renewal.not_after)
        );
    }
    outln!("{} renewal(s) {verb}", renewals.len());
    Ok(ExitCode::SUCCESS)
}

fn renewal_json(renewal: &Renewal) -> serde_json::Value {
    serde_json::json!({
        "device": renewal.device,
        "certificate_id": renewal.certificate_id,
        "serial": renewal.serial_hex,
        "not_after": rfc3339_utc(renewal.not_after),
    })
}

/// A date of the command line ([`capf_registry::parse_date`]: RFC 3339 or
/// a plain date, midnight UTC), as Unix seconds; the error names `option`.
pub(crate) fn parse_date(option: &str, text: &str) -> Result<u64, CliError> {
    capf_registry::parse_date(text).map_err(|error| CliError::input(format!("{option}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_are_rfc_3339_or_plain_midnight_utc() {
        // Expected values: `date -u -d 2027-01-31T18:00:00Z +%s` and friends.
        assert_eq!(parse_date("--x", "2027-01-31").unwrap(), 1_801_353_600);
        assert_eq!(
            parse_date("--x", "2027-01-31T18:00:00Z").unwrap(),
            1_801_353_600 + 18 * 3600
        );
        assert_eq!(
            parse_date("--x", "2027-01-31T19:00:00.5+01:00").unwrap(),
            1_801_353_600 + 18 * 3600
        );
        assert_eq!(parse_date("--x", "2024-02-29").unwrap(), 1_709_164_800);
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-1-1x",
            "27-01-01",
            "2027-01-31T25:00:00Z",
            "2027-01-31T18:00:00",
            "",
            "1969-12-31",
        ] {
            assert!(parse_date("--x", bad).is_err(), "{bad:?}");
        }
    }
}
