//! `capf report`: the CAPF report of Unified CM, per device: name,
//! description, scheduled operation, deadline, status (Cisco's words),
//! authentication mode, key order and size, LSC serial, issuer,
//! not-before/not-after, last contact. A table by default, `--csv` (RFC
//! 4180, opens in a spreadsheet) or `--json` (slugs for statuses). The
//! rows and the CSV are the library's ([`capf_registry::report`]).

use crate::device::{DbArg, Filters, open_existing};
use crate::output::{outln, rfc3339_utc};
use crate::{CliError, CliResult};
use capf_registry::report::{COLUMNS, ReportRow, cells, report, to_csv};
use clap::Args;
use std::process::ExitCode;

/// `capf report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    db: DbArg,
    /// CSV (header row, RFC 4180 quoting) instead of a table.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    /// JSON (statuses by slug) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    filters: Filters,
}

/// Runs `capf report`.
pub(crate) fn run(args: ReportArgs) -> CliResult {
    let store = open_existing(&args.db.db)?;
    let filter = args.filters.build(&args.db, &store)?;
    let rows = report(&store, &filter)?;
    if args.csv {
        crate::output::write_stdout(to_csv(&rows, rfc3339_utc).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        let values: Vec<serde_json::Value> = rows.iter().map(row_json).collect();
        let text = serde_json::to_string_pretty(&values)
            .map_err(|error| CliError::input(format!("JSON: {error}")))?;
        outln!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        outln!("no devices");
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<[String; 13]> = rows.iter().map(|row| cells(row, rfc3339_utc)).collect();
    let mut widths = COLUMNS.map(str::len);
    for row in &table {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    outln!(
        "{}",
        line(COLUMNS.iter().map(|c| c.to_ascii_uppercase()).collect())
    );
    for row in table {
        outln!("{}", line(row.to_vec()));
    }
    Ok(ExitCode::SUCCESS)
}

fn row_json(row: &ReportRow) -> serde_json::Value {
    let device = &row.device;
    let lsc = row.lsc.as_ref();
    serde_json::json!({
        "name": device.name,
        "description": device.description,
        "operation": device.operation.as_str(),
        "complete_by": device.complete_by.map(rfc3339_utc),
        "status": device.operation_status.slug(),
        "status_text": device.operation_status.to_string(),
        "auth_mode": device.auth_mode.as_str(),
        "key": device.key_request.to_string(),
        "lsc_serial": lsc.map(|l| l.serial_hex.clone()),
        "issuer": lsc.map(|l| l.issuer.clone()),
        "not_before": lsc.map(|l| rfc3339_utc(l.not_before)),
        "not_after": lsc.map(|l| rfc3339_utc(l.not_after)),
        "last_contact": row.last_contact.map(rfc3339_utc),
    })
}
