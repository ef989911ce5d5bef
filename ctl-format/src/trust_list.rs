//! CTL and ITL trust lists (`CTLFile.tlv`, `ITLFile.tlv`; spec
//! `tlv-files.md`): one format for both. A signed header
//! ([`SignedHeader`]) followed by records ([`Record`]), each describing one
//! certificate and the [`Role`] it is trusted for.
//!
//! * [`TrustList::parse`] reads a file strictly and without copying;
//!   [`TrustList::encode`] writes it back byte for byte.
//! * [`TrustList::verify`] finds the signer (spec 8.4) and checks the
//!   signature; [`TrustList::verify_against`] asks the phone's question on
//!   a rollover: is the new list signed by a SAST of the list held now?
//! * [`TrustListBuilder`] builds and signs a new list.
//!
//! ```
//! use ctl_format::{HashPolicy, trust_list::{Role, TrustList}};
//! let file = include_bytes!("../../tests/vectors/real/cucm/CTLFile.tlv");
//! let list = TrustList::parse(file)?;
//! assert_eq!(list.records().len(), 6);
//! assert_eq!(list.records()[2].role(), Some(Role::CallManagerTftp));
//! let signer = list.verify(file, HashPolicy::CISCO)?;
//! assert_eq!(signer.record_index, 0);
//! assert_eq!(list.encode()?, file);
//! # Ok::<(), ctl_format::Error>(())
//! ```
//!
//! ## Strictness
//!
//! On top of the header checks of [`SignedHeader::parse`]:
//!
//! * records start at the header length and follow each other to the end
//!   of the file; each starts with `01 0002` and its length (which counts
//!   its own 5 bytes). A record head that is cut short, declares fewer than
//!   5 bytes or more than remain is [`MalformedFile::TruncatedRecord`]; bytes after
//!   the last record that cannot start a record (first byte not 1) are
//!   [`MalformedFile::TrailingData`];
//! * the elements of a record may come in any order and any subset, and
//!   must end exactly at the record's end ([`MalformedFile::ElementOverrun`]);
//! * **duplicates:** the tags this crate knows (1 to 12) may occur once per
//!   record, a repeat is [`MalformedFile::DuplicateRecordElement`] — no writer
//!   repeats them, and a second role or certificate would make the record
//!   ambiguous. Unknown tags are kept, in order, and may repeat;
//! * fixed-size values are checked: role 2 bytes, IPv4 address 4 bytes,
//!   record hash algorithm 1 byte ([`MalformedFile::BadValue`]); strings without a
//!   terminating NUL are a [`Warning`].
//!
//! Role codes that are not known stay numbers ([`Role::Unknown`]).
//! Disagreement between a record's elements and its own certificate is
//! reported by [`Record::consistency`], not treated as an error.

mod build;
mod record;
mod role;
mod verify;

pub use build::{RecordEntry, RecordLayout, TrustListBuilder, TrustListKind};
pub use record::{Agreement, Consistency, Record, tag};
pub use role::{Role, UnknownRoleName};
pub use verify::{Rollover, RolloverMatch, SignerMatch, VerifiedSigner};

use crate::error::{MalformedFile, Result};
use crate::header::{SignedHeader, Warning};
use crate::tlv::read_u16;

/// A parsed CTL or ITL, borrowing from the file's bytes (zero-copy). Its
/// owned form, for bindings and long-lived values, is
/// [`crate::OwnedTrustList`] ([`TrustList::into_owned`]).
#[derive(Debug, Clone)]
pub struct TrustList<'a> {
    file: &'a [u8],
    header: SignedHeader<'a>,
    records: Vec<Record<'a>>,
    warnings: Vec<Warning>,
}

/// The three bytes every record starts with: tag 1, length 2.
const RECORD_HEAD: [u8; 3] = [record::tag::RECORD_LENGTH, 0, 2];

impl<'a> TrustList<'a> {
    /// Parses a whole trust-list file strictly (see the
    /// [module documentation](self) for the rules).
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        let header = SignedHeader::parse(file)?;
        let mut warnings = Vec::new();
        let mut records = Vec::new();
        let mut position = usize::from(header.header_length);
        while let Some(rest) = file.get(position..).filter(|rest| !rest.is_empty()) {
            if rest.first() != RECORD_HEAD.first() {
                return Err(MalformedFile::TrailingData { offset: position }.into());
            }
            let truncated = MalformedFile::TruncatedRecord { offset: position };
            let head_is_right = rest
                .get(..RECORD_HEAD.len())
                .is_some_and(|head| head == RECORD_HEAD);
            let length = read_u16(rest, 3)
                .filter(|_| head_is_right)
                .ok_or(truncated.clone())?;
            let end = position
                .checked_add(usize::from(length))
                .filter(|end| length >= 5 && *end <= file.len())
                .ok_or(truncated)?;
            records.push(Record::parse(file, position, length, &mut warnings)?);
            position = end;
        }
        Ok(Self {
            file,
            header,
            records,
            warnings,
        })
    }

    /// The whole file as given to [`TrustList::parse`] (what
    /// [`TrustList::verify`] checks the signature of).
    pub fn bytes(&self) -> &'a [u8] {
        self.file
    }

    /// The signed header.
    pub fn header(&self) -> &SignedHeader<'a> {
        &self.header
    }

    /// The records in file order.
    pub fn records(&self) -> &[Record<'a>] {
        &self.records
    }

    /// Non-fatal irregularities found in the records (those of the header
    /// are in [`SignedHeader::warnings`]).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Writes the list back from its parsed header items and record
    /// elements: byte-identical to the parsed file.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = self.header.encode();
        for record in &self.records {
            record.encode_into(&mut out)?;
        }
        Ok(out)
    }

    /// Every record whose elements disagree with its own certificate, with
    /// the disagreement (spec section 4.2: a warning, not an error).
    pub fn inconsistencies(&self) -> Vec<(usize, Consistency)> {
        inconsistencies(self.records.iter().map(Record::consistency))
    }
}

/// The records' disagreements with their certificates, indexed: shared by
/// [`TrustList::inconsistencies`] and [`crate::OwnedTrustList::inconsistencies`].
pub(crate) fn inconsistencies(
    consistencies: impl Iterator<Item = Consistency>,
) -> Vec<(usize, Consistency)> {
    consistencies
        .enumerate()
        .filter(|(_, consistency)| !consistency.is_consistent())
        .collect()
}
