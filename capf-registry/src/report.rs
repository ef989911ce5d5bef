//! Finding devices and reporting on them, for every host: one filter
//! ([`DeviceFilter`]), one report row per device ([`ReportRow`]) with the
//! columns of Unified CM's CAPF report, and CSV per RFC 4180
//! ([`to_csv`]).
//!
//! The device's LSC in a report is its newest certificate of the ledger in
//! state installed (or, when none is, the newest fetched one). "Last
//! contact" is when a session last changed the device's status (a success
//! or a failure); `None` while the operation is pending or nothing was
//! ever done.

use crate::Registry;
use crate::error::RegistryResult;
use crate::model::{
    AuthMode, CertificateEntry, CertificateState, Device, Operation, OperationStatus,
};

/// Which devices to list or report. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceFilter {
    /// The operation status.
    pub status: Option<OperationStatus>,
    /// The scheduled operation.
    pub operation: Option<Operation>,
    /// How the device authenticates.
    pub auth_mode: Option<AuthMode>,
    /// Only devices whose LSC's notAfter is before this (Unix seconds).
    pub expiring_before: Option<u64>,
    /// Only devices whose LSC was issued by this name: a case-insensitive
    /// substring of the issuer's distinguished name (e.g. its CN).
    pub issuer: Option<String>,
    /// Only devices whose one-time string has this keyed hash
    /// ([`crate::AuthKey::hash`]).
    pub auth_hash: Option<[u8; 32]>,
}

/// One device of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReportRow {
    /// The device.
    pub device: Device,
    /// Its LSC, if it has one (see the module docs).
    pub lsc: Option<LscFacts>,
    /// Last session contact, Unix seconds (see the module docs).
    pub last_contact: Option<u64>,
}

/// What a report says about a device's LSC.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LscFacts {
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// The issuer's distinguished name (RFC 4514 text), empty when the
    /// certificate does not parse.
    pub issuer: String,
    /// notBefore, Unix seconds.
    pub not_before: u64,
    /// notAfter, Unix seconds.
    pub not_after: u64,
}

impl LscFacts {
    fn of(entry: &CertificateEntry) -> Self {
        use der::Decode as _;
        let issuer = x509_cert::Certificate::from_der(&entry.der)
            .map(|certificate| certificate.tbs_certificate.issuer.to_string())
            .unwrap_or_default();
        Self {
            serial_hex: entry.serial_hex.clone(),
            issuer,
            not_before: entry.issued_at,
            not_after: entry.not_after,
        }
    }
}

/// The device's current LSC in the ledger (see the module docs).
pub fn current_lsc(certificates: &[CertificateEntry]) -> Option<&CertificateEntry> {
    let newest = |state| certificates.iter().rev().find(|entry| entry.state == state);
    newest(CertificateState::Installed).or_else(|| newest(CertificateState::Fetched))
}

/// Whether `row` passes `filter` (the auth-hash part is applied by the
/// query, [`report`]).
pub fn matches(filter: &DeviceFilter, row: &ReportRow) -> bool {
    let device = &row.device;
    filter
        .status
        .is_none_or(|status| device.operation_status == status)
        && filter.operation.is_none_or(|op| device.operation == op)
        && filter.auth_mode.is_none_or(|mode| device.auth_mode == mode)
        && filter
            .expiring_before
            .is_none_or(|before| row.lsc.as_ref().is_some_and(|lsc| lsc.not_after < before))
        && filter.issuer.as_deref().is_none_or(|name| {
            row.lsc.as_ref().is_some_and(|lsc| {
                lsc.issuer
                    .to_ascii_lowercase()
                    .contains(&name.to_ascii_lowercase())
            })
        })
}

/// The report rows of every device passing `filter`, by name.
pub fn report<R: Registry + ?Sized>(
    registry: &R,
    filter: &DeviceFilter,
) -> RegistryResult<Vec<ReportRow>> {
    let devices = match &filter.auth_hash {
        Some(hash) => registry.devices_by_auth_hash(hash)?,
        None => registry.list()?,
    };
    let mut rows = Vec::new();
    for device in devices {
        let certificates = registry.certificates(&device.name)?;
        let lsc = current_lsc(&certificates).map(LscFacts::of);
        let last_contact = match device.operation_status {
            OperationStatus::Success(_)
            | OperationStatus::Failed(..)
            | OperationStatus::NoEcOnlySupport => Some(device.status_changed_at),
            _ => None,
        };
        let row = ReportRow {
            device,
            lsc,
            last_contact,
        };
        if matches(filter, &row) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The report's columns, in order (the CSV header).
pub const COLUMNS: [&str; 13] = [
    "name",
    "description",
    "operation",
    "complete_by",
    "status",
    "auth_mode",
    "key_order",
    "key_size",
    "lsc_serial",
    "issuer",
    "not_before",
    "not_after",
    "last_contact",
];

/// A row's cells in [`COLUMNS`] order; times through `time` (e.g. RFC 3339).
pub fn cells(row: &ReportRow, time: impl Fn(u64) -> String) -> [String; 13] {
    let device = &row.device;
    // The key order in Unified CM's words; the size: "2048", "p256", or
    // "p256+rsa:2048" for EC preferred with its RSA backup.
    let key = device.key_request.to_string();
    let size = key.split_once(':').map_or("", |(_, size)| size).to_owned();
    let lsc = row.lsc.as_ref();
    [
        device.name.clone(),
        device.description.clone().unwrap_or_default(),
        device.operation.to_string(),
        device.complete_by.map(&time).unwrap_or_default(),
        device.operation_status.to_string(),
        device.auth_mode.to_string(),
        device.key_request.order().words().to_owned(),
        size,
        lsc.map(|lsc| lsc.serial_hex.clone()).unwrap_or_default(),
        lsc.map(|lsc| lsc.issuer.clone()).unwrap_or_default(),
        lsc.map(|lsc| time(lsc.not_before)).unwrap_or_default(),
        lsc.map(|lsc| time(lsc.not_after)).unwrap_or_default(),
        row.last_contact.map(&time).unwrap_or_default(),
    ]
}

/// One CSV field per RFC 4180: quoted when it holds a comma, a quote, CR
/// or LF (quotes doubled); as is otherwise.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The report as CSV (RFC 4180: header row, CRLF line ends, quoting).
pub fn to_csv(rows: &[ReportRow], time: impl Fn(u64) -> String) -> String {
    let mut out = String::new();
    let line = |out: &mut String, fields: &[String]| {
        let quoted: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    let header: Vec<String> = COLUMNS.iter().map(|&column| column.to_owned()).collect();
    line(&mut out, &header);
    for row in rows {
        line(&mut out, &cells(row, &time));
    }
    out
}

/// Reads CSV per RFC 4180 (quoted fields with doubled quotes, CRLF or LF
/// line ends, a final line end optional) into records of fields. Blank
/// lines are skipped. The error names the line.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1_usize;
    let mut in_quotes = false;
    let mut quoted = false;
    let mut started = false;
    let end_record = |records: &mut Vec<Vec<String>>, record: &mut Vec<String>| {
        let done = core::mem::take(record);
        if !(done.len() == 1 && done[0].is_empty()) {
            records.push(done);
        }
    };
    while let Some(character) = chars.next() {
        if in_quotes {
            match character {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                other => {
                    if other == '\n' {
                        line += 1;
                    }
                    field.push(other);
                }
            }
            continue;
        }
        match character {
            '"' if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
                started = true;
            }
            '"' => return Err(format!("line {line}: a quote inside an unquoted field")),
            ',' => {
                record.push(core::mem::take(&mut field));
                quoted = false;
                started = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(core::mem::take(&mut field));
                end_record(&mut records, &mut record);
                quoted = false;
                started = false;
                line += 1;
            }
            other => {
                if quoted {
                    return Err(format!("line {line}: text after a closing quote"));
                }
                field.push(other);
                started = true;
            }
        }
    }
    if in_quotes {
        return Err(format!("line {line}: a quoted field is not closed"));
    }
    if started || !field.is_empty() {
        record.push(field);
        end_record(&mut records, &mut record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::{csv_field, parse_csv};

    #[test]
    fn csv_reads_back_what_it_writes_and_refuses_broken_quotes() {
        let text = "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\r\n\n\"two\nlines\",2,3";
        assert_eq!(
            parse_csv(text).unwrap(),
            vec![
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", ""],
                vec!["two\nlines", "2", "3"],
            ]
        );
        let written: Vec<String> = ["plain", "a,b", "q\"q", ""]
            .iter()
            .map(|f| csv_field(f))
            .collect();
        assert_eq!(
            parse_csv(&written.join(",")).unwrap(),
            vec![vec!["plain", "a,b", "q\"q", ""]]
        );
        assert!(parse_csv("\"open").is_err());
        assert!(parse_csv("a\"b").is_err());
        assert!(parse_csv("\"a\"b").is_err());
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(""), "");
    }
}
