//! One record of a trust list (spec `tlv-files.md` section 4) and the
//! checks of its elements against its own certificate.

use super::Role;
use crate::certificate::{Certificate, NameStyle};
use crate::error::{Error, MalformedFile, Result};
use crate::header::Warning;
use crate::tlv::{self, RawElement, TlvString, read_element, read_u16};
use sha1::{Digest, Sha1};
use std::net::Ipv4Addr;

/// Record tags (the names of `show ctl`, spelled out).
pub mod tag {
    /// Record length, uint16, counting the whole record. Always first.
    pub const RECORD_LENGTH: u8 = 1;
    /// DNS name (or an IP address as text), string.
    pub const DNS_NAME: u8 = 2;
    /// Subject name of the certificate, string.
    pub const SUBJECT_NAME: u8 = 3;
    /// Role (`FUNCTION`), uint16.
    pub const ROLE: u8 = 4;
    /// Issuer name of the certificate, string.
    pub const ISSUER_NAME: u8 = 5;
    /// Serial number, minimal unsigned bytes.
    pub const SERIAL_NUMBER: u8 = 6;
    /// Public key: PKCS #1 `RSAPublicKey` DER, or an uncompressed EC point.
    pub const PUBLIC_KEY: u8 = 7;
    /// The certificate's own signature value.
    pub const SIGNATURE: u8 = 8;
    /// The DER certificate.
    pub const CERTIFICATE: u8 = 9;
    /// IPv4 address, 4 bytes.
    pub const IP_ADDRESS: u8 = 10;
    /// Certificate hash (never seen in a file).
    pub const CERTIFICATE_HASH: u8 = 11;
    /// Hash algorithm of tag 11, 1 byte (never seen in a file).
    pub const HASH_ALGORITHM: u8 = 12;

    /// Whether this crate knows `tag` as a record element (1 to 12).
    pub const fn is_known(tag: u8) -> bool {
        matches!(tag, RECORD_LENGTH..=HASH_ALGORITHM)
    }
}

/// One record, borrowing from the file (owned form: [`crate::OwnedRecord`]):
/// every element in file order
/// (the record-length element first, unknown tags kept), with typed getters.
///
/// Elements 1 to 12 occur at most once per record (a repeat is
/// [`MalformedFile::DuplicateRecordElement`]); elements with other tags are kept
/// as found and may repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    offset: usize,
    length: u16,
    elements: Vec<RawElement<'a>>,
}

impl<'a> Record<'a> {
    /// Reads the record starting at `start`; the caller has checked that the
    /// record head (`01 0002 LLLL`) is there and that the record fits.
    pub(super) fn parse(
        file: &'a [u8],
        start: usize,
        length: u16,
        warnings: &mut Vec<Warning>,
    ) -> Result<Self> {
        let end = start.saturating_add(usize::from(length));
        let mut elements = Vec::new();
        let mut seen = [false; 13];
        let mut position = start;
        while position < end {
            let (element_tag, range) = read_element(file, position, end)?;
            let value = file.get(range.clone()).unwrap_or_default();
            let element = RawElement {
                offset: position,
                tag: element_tag,
                value,
            };
            if let Some(slot) = seen
                .get_mut(usize::from(element_tag))
                .filter(|_| tag::is_known(element_tag))
            {
                if *slot {
                    return Err(MalformedFile::DuplicateRecordElement {
                        offset: position,
                        tag: element_tag,
                    }
                    .into());
                }
                *slot = true;
            }
            check_value(element, warnings)?;
            elements.push(element);
            position = range.end;
        }
        Ok(Self {
            offset: start,
            length,
            elements,
        })
    }

    /// A record from elements already checked by [`Record::parse`] (the
    /// owned form lends its elements back this way).
    pub(crate) fn from_parts(offset: usize, length: u16, elements: Vec<RawElement<'a>>) -> Self {
        Self {
            offset,
            length,
            elements,
        }
    }

    /// Offset of the record (of its record-length tag) in the file.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The record length (tag 1): the whole record, its own 5 bytes included.
    pub fn length(&self) -> u16 {
        self.length
    }

    /// Every element in file order, the record-length element first. A
    /// value is borrowed from the file.
    pub fn elements(&self) -> &[RawElement<'a>] {
        &self.elements
    }

    /// The tags in file order (the `element_order` of the vector sidecars).
    pub fn element_order(&self) -> Vec<u8> {
        self.elements.iter().map(|element| element.tag).collect()
    }

    /// The element with `tag`, if present (the first one, for unknown tags
    /// that repeat).
    pub fn element(&self, tag: u8) -> Option<RawElement<'a>> {
        self.elements
            .iter()
            .find(|element| element.tag == tag)
            .copied()
    }

    fn value(&self, tag: u8) -> Option<&'a [u8]> {
        self.element(tag).map(|element| element.value)
    }

    /// DNS name (tag 2): a host name, an IP address as text, or empty.
    pub fn dns_name(&self) -> Option<TlvString<'a>> {
        self.value(tag::DNS_NAME).map(TlvString::from_value)
    }

    /// Subject name text (tag 3).
    pub fn subject_name(&self) -> Option<TlvString<'a>> {
        self.value(tag::SUBJECT_NAME).map(TlvString::from_value)
    }

    /// Role (tag 4).
    pub fn role(&self) -> Option<Role> {
        self.value(tag::ROLE)
            .and_then(|value| read_u16(value, 0))
            .map(Role::from_code)
    }

    /// Issuer name text (tag 5).
    pub fn issuer_name(&self) -> Option<TlvString<'a>> {
        self.value(tag::ISSUER_NAME).map(TlvString::from_value)
    }

    /// Serial number as stored (tag 6); compare with
    /// [`tlv::minimal_serial`] on both sides.
    pub fn serial_number(&self) -> Option<&'a [u8]> {
        self.value(tag::SERIAL_NUMBER)
    }

    /// Public key (tag 7): PKCS #1 `RSAPublicKey` DER, or an EC point.
    pub fn public_key(&self) -> Option<&'a [u8]> {
        self.value(tag::PUBLIC_KEY)
    }

    /// The certificate's signature value (tag 8).
    pub fn signature(&self) -> Option<&'a [u8]> {
        self.value(tag::SIGNATURE)
    }

    /// The DER certificate (tag 9), unparsed.
    pub fn certificate_der(&self) -> Option<&'a [u8]> {
        self.value(tag::CERTIFICATE)
    }

    /// The certificate (tag 9), parsed: `Ok(None)` when the record has none.
    pub fn certificate(&self) -> Result<Option<Certificate>> {
        self.certificate_der()
            .map(Certificate::from_der)
            .transpose()
    }

    /// SHA-1 of the certificate DER (what `show ctl` prints), whether or not
    /// the certificate parses.
    pub fn certificate_sha1(&self) -> Option<[u8; 20]> {
        self.certificate_der().map(|der| Sha1::digest(der).into())
    }

    /// IPv4 address (tag 10; its length was checked to be 4 when parsing).
    pub fn ip_address(&self) -> Option<Ipv4Addr> {
        self.value(tag::IP_ADDRESS)
            .and_then(|value| <[u8; 4]>::try_from(value).ok())
            .map(Ipv4Addr::from)
    }

    /// Certificate hash (tag 11; format unknown, never seen in a file).
    pub fn certificate_hash(&self) -> Option<&'a [u8]> {
        self.value(tag::CERTIFICATE_HASH)
    }

    /// Hash-algorithm code of tag 11 (tag 12; presumably the header's tag-8
    /// codes, see [`crate::HashAlgorithm::from_code`]).
    pub fn certificate_hash_algorithm(&self) -> Option<u8> {
        self.value(tag::HASH_ALGORITHM)
            .and_then(|value| value.first().copied())
    }

    /// Whether this record's serial number equals `serial` (both compared
    /// with leading zero bytes stripped).
    pub fn has_serial(&self, serial: &[u8]) -> bool {
        self.serial_number()
            .is_some_and(|own| tlv::minimal_serial(own) == tlv::minimal_serial(serial))
    }

    /// Checks elements 3, 5, 6, 7 and 8 against the certificate in tag 9
    /// (spec section 4.2: they duplicate it, and a validating reader reports
    /// mismatches as warnings).
    pub fn consistency(&self) -> Consistency {
        let certificate = match self.certificate() {
            Ok(Some(certificate)) => certificate,
            Ok(None) => return Consistency::unchecked(None),
            Err(error) => return Consistency::unchecked(Some(error)),
        };
        let name_check = |stored: Option<TlvString<'_>>, render: &dyn Fn(NameStyle) -> String| {
            Agreement::of(stored.map(|text| {
                [NameStyle::Cisco, NameStyle::Certutils]
                    .iter()
                    .any(|style| text.as_bytes() == render(*style).as_bytes())
            }))
        };
        Consistency {
            subject_name: name_check(self.subject_name(), &|style| {
                certificate.subject_name(style)
            }),
            issuer_name: name_check(self.issuer_name(), &|style| certificate.issuer_name(style)),
            serial_number: Agreement::of(
                self.serial_number()
                    .map(|serial| certificate.has_serial(serial)),
            ),
            public_key: Agreement::of(
                self.public_key()
                    .map(|key| key == certificate.record_public_key()),
            ),
            signature: Agreement::of(
                self.signature()
                    .map(|signature| signature == certificate.signature_value()),
            ),
            certificate_error: None,
        }
    }

    /// Appends the record, element by element, to `out`.
    pub(super) fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        for element in &self.elements {
            tlv::put_element(out, element.tag, element.value, "record element")?;
        }
        Ok(())
    }
}

/// Fixed-length checks on the values this crate interprets, and the
/// terminating-NUL warning on strings.
fn check_value(element: RawElement<'_>, warnings: &mut Vec<Warning>) -> Result<()> {
    let expected: Option<(usize, &'static str, &'static str)> = match element.tag {
        tag::RECORD_LENGTH => Some((2, "record length", "length must be 2")),
        tag::ROLE => Some((2, "role", "length must be 2")),
        tag::IP_ADDRESS => Some((4, "IP address", "length must be 4 (IPv4)")),
        tag::HASH_ALGORITHM => Some((1, "record hash algorithm", "length must be 1")),
        tag::DNS_NAME | tag::SUBJECT_NAME | tag::ISSUER_NAME => {
            if !TlvString::from_value(element.value).is_terminated() {
                warnings.push(Warning::UnterminatedString {
                    offset: element.offset,
                    tag: element.tag,
                });
            }
            None
        }
        _ => None,
    };
    match expected {
        Some((length, name, reason)) if element.value.len() != length => {
            Err(MalformedFile::BadValue {
                offset: element.offset,
                element: name,
                reason,
            }
            .into())
        }
        _ => Ok(()),
    }
}

/// Whether a record element agrees with the certificate of the record.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// The element equals what the certificate holds.
    Matches,
    /// The element differs from the certificate.
    Differs,
    /// Not checked: the element or the certificate is absent, or the
    /// certificate does not parse.
    NotChecked,
}

impl Agreement {
    fn of(matches: Option<bool>) -> Self {
        match matches {
            Some(true) => Self::Matches,
            Some(false) => Self::Differs,
            None => Self::NotChecked,
        }
    }
}

/// The result of [`Record::consistency`]: each duplicated element against
/// the certificate. Names match when they equal the certificate's name
/// rendered in either the Cisco or the certutils style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistency {
    /// Tag 3 against the certificate subject.
    pub subject_name: Agreement,
    /// Tag 5 against the certificate issuer.
    pub issuer_name: Agreement,
    /// Tag 6 against the certificate serial number (as integers).
    pub serial_number: Agreement,
    /// Tag 7 against the certificate's public key.
    pub public_key: Agreement,
    /// Tag 8 against the certificate's signature value.
    pub signature: Agreement,
    /// Why the certificate could not be read, if it could not.
    pub certificate_error: Option<Error>,
}

impl Consistency {
    fn unchecked(certificate_error: Option<Error>) -> Self {
        Self {
            subject_name: Agreement::NotChecked,
            issuer_name: Agreement::NotChecked,
            serial_number: Agreement::NotChecked,
            public_key: Agreement::NotChecked,
            signature: Agreement::NotChecked,
            certificate_error,
        }
    }

    /// The names of the elements that differ from the certificate
    /// (`subject name`, `issuer name`, `serial number`, `public key`,
    /// `signature`), plus `certificate` when it does not parse.
    pub fn mismatches(&self) -> Vec<&'static str> {
        let mut found: Vec<&'static str> = [
            (self.subject_name, "subject name"),
            (self.issuer_name, "issuer name"),
            (self.serial_number, "serial number"),
            (self.public_key, "public key"),
            (self.signature, "signature"),
        ]
        .into_iter()
        .filter(|(agreement, _)| *agreement == Agreement::Differs)
        .map(|(_, name)| name)
        .collect();
        if self.certificate_error.is_some() {
            found.push("certificate");
        }
        found
    }

    /// Whether nothing differs and the certificate (if any) parses.
    pub fn is_consistent(&self) -> bool {
        self.mismatches().is_empty()
    }
}
