//! A whole registry copied from one database to another (`capf registry
//! copy`): devices (with their stored hashes, statuses and claims), the
//! ledger (ids, states, revocations, replacements), events and the TVS
//! allow-list, from SQLite to PostgreSQL or back, in one transaction on
//! the target. Both schemas name their columns alike; values travel as
//! `Value`s.

use crate::error::{RegistryError, RegistryResult};

/// A column's type in both schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Text,
    Blob,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// A table as copied: its columns and the order its rows are read in.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Kind)],
    pub(crate) order: &'static str,
}

use Kind::{Blob, Int, Text};

/// Every table, in the order they are written (devices before what refers
/// to them). `certificates.replaced_by` is written in a second pass (it
/// refers to later rows).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "devices",
        columns: &[
            ("name", Text),
            ("operation", Text),
            ("key_request", Text),
            ("auth_mode", Text),
            ("auth_salt", Blob),
            ("auth_hash", Blob),
            ("auth_iterations", Int),
            ("failed_attempts", Int),
            ("locked", Int),
            ("status", Text),
            ("status_operation", Text),
            ("status_detail", Text),
            ("removed", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("claim_token", Blob),
            ("claim_expires", Int),
            ("auth_hmac", Blob),
            ("complete_by", Int),
            ("description", Text),
            ("op_status", Text),
            ("op_status_at", Int),
        ],
        order: "name",
    },
    Table {
        name: "certificates",
        columns: &[
            ("id", Int),
            ("device", Text),
            ("serial_hex", Text),
            ("der", Blob),
            ("state", Text),
            ("issued_at", Int),
            ("not_after", Int),
            ("updated_at", Int),
            ("revoked_at", Int),
            ("revocation_reason", Text),
            ("replaced_by", Int),
        ],
        order: "id",
    },
    Table {
        name: "events",
        columns: &[
            ("id", Int),
            ("\"time\"", Int),
            ("device", Text),
            ("what", Text),
        ],
        order: "id",
    },
    Table {
        name: "tvs_certificates",
        columns: &[
            ("sha256", Blob),
            ("der", Blob),
            ("subject", Text),
            ("roles", Text),
            ("ttl", Int),
            ("revoked", Int),
            ("added_at", Int),
        ],
        order: "sha256",
    },
    Table {
        name: "settings",
        columns: &[("name", Text), ("value", Text), ("updated_at", Int)],
        order: "name",
    },
];

/// The index of `certificates.replaced_by` (written in a second pass).
pub(crate) const REPLACED_BY: usize = 10;

/// A whole registry's rows, table by table (in the order of the private `TABLES` list).
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub(crate) tables: Vec<Vec<Vec<Value>>>,
}

/// What a copy wrote.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyReport {
    /// Devices (removed ones too).
    pub devices: usize,
    /// Ledger certificates.
    pub certificates: usize,
    /// Events.
    pub events: usize,
    /// TVS allow-list entries.
    pub tvs: usize,
    /// Registry settings that differ from their defaults.
    pub settings: usize,
}

impl Dump {
    fn count(&self, index: usize) -> usize {
        self.tables.get(index).map_or(0, Vec::len)
    }

    /// How many rows of each kind.
    pub fn report(&self) -> CopyReport {
        CopyReport {
            devices: self.count(0),
            certificates: self.count(1),
            events: self.count(2),
            tvs: self.count(3),
            settings: self.count(4),
        }
    }
}

/// The column list of a table, comma-separated.
pub(crate) fn column_list(table: &Table) -> String {
    table
        .columns
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a target that already holds rows: `counts` are its row counts
/// in [`TABLES`] order.
pub(crate) fn refuse_unless_empty(counts: &[usize]) -> RegistryResult<()> {
    if counts.iter().all(|count| *count == 0) {
        return Ok(());
    }
    let count = |index: usize| counts.get(index).copied().unwrap_or(0);
    Err(RegistryError::Database(format!(
        "the target registry is not empty ({} devices, {} certificates, {} events, {} TVS \
         entries, {} settings): copying into it needs --force",
        count(0),
        count(1),
        count(2),
        count(3),
        count(4)
    )))
}

// ---- SQLite ----

fn sqlite_value(value: rusqlite::types::Value) -> RegistryResult<Value> {
    use rusqlite::types::Value as V;
    Ok(match value {
        V::Null => Value::Null,
        V::Integer(number) => Value::Int(number),
        V::Text(text) => Value::Text(text),
        V::Blob(bytes) => Value::Blob(bytes),
        V::Real(_) => {
            return Err(RegistryError::Corrupt(
                "a real number in the registry".into(),
            ));
        }
    })
}

fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Int(number) => V::Integer(*number),
        Value::Text(text) => V::Text(text.clone()),
        Value::Blob(bytes) => V::Blob(bytes.clone()),
    }
}

/// Reads every table of the SQLite registry file.
pub(crate) fn dump_sqlite(path: &std::path::Path) -> RegistryResult<Dump> {
    let connection = rusqlite::Connection::open(path)?;
    let transaction = connection.unchecked_transaction()?;
    let mut dump = Dump::default();
    for table in TABLES {
        let mut statement = transaction.prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            column_list(table),
            table.name,
            table.order
        ))?;
        let mut rows = statement.query([])?;
        let mut read = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(table.columns.len());
            for index in 0..table.columns.len() {
                values.push(sqlite_value(row.get(index)?)?);
            }
            read.push(values);
        }
        dump.tables.push(read);
    }
    Ok(dump)
}

/// Writes `dump` into the SQLite registry file (already migrated), in one
/// transaction; refuses a non-empty file unless `force`.
pub(crate) fn load_sqlite(path: &std::path::Path, dump: &Dump, force: bool) -> RegistryResult<()> {
    let mut connection = rusqlite::Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(30))?;
    connection.execute_batch("PRAGMA foreign_keys = ON")?;
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if !force {
        let mut counts = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let count: i64 = transaction.query_row(
                &format!("SELECT COUNT(*) FROM {}", table.name),
                [],
                |row| row.get(0),
            )?;
            counts.push(usize::try_from(count).unwrap_or(usize::MAX));
        }
        refuse_unless_empty(&counts)?;
    }
    for (index, table) in TABLES.iter().enumerate() {
        let placeholders = (1..=table.columns.len())
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut statement = transaction.prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            column_list(table)
        ))?;
        for row in dump.tables.get(index).map_or(&[][..], Vec::as_slice) {
            let mut values: Vec<rusqlite::types::Value> = row.iter().map(to_sqlite).collect();
            if table.name == "certificates"
                && let Some(value) = values.get_mut(REPLACED_BY)
            {
                *value = rusqlite::types::Value::Null;
            }
            statement.execute(rusqlite::params_from_iter(values))?;
        }
    }
    for row in dump.tables.get(1).map_or(&[][..], Vec::as_slice) {
        if let (Some(Value::Int(id)), Some(Value::Int(by))) = (row.first(), row.get(REPLACED_BY)) {
            transaction.execute(
                "UPDATE certificates SET replaced_by = ?2 WHERE id = ?1",
                [id, by],
            )?;
        }
    }
    transaction.commit()?;
    Ok(())
}
