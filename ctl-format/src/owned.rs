//! Owned forms of the parsed file types, for hosts that cannot hold a
//! borrow: language bindings (a Python or Kotlin object owns its data),
//! values kept across an `await`, or sent to another thread.
//!
//! | zero-copy (borrows the bytes) | owned (holds the bytes)   |
//! |-------------------------------|---------------------------|
//! | [`SignedHeader<'a>`]          | [`OwnedSignedHeader`]     |
//! | [`Record<'a>`]                | [`OwnedRecord`]           |
//! | [`TrustList<'a>`]             | [`OwnedTrustList`]        |
//! | [`SignedFile<'a>`]            | [`OwnedSignedFile`]       |
//! | [`EncryptedConfig<'a>`]       | [`OwnedEncryptedConfig`]  |
//!
//! **Why both.** The zero-copy types parse without copying a byte, which
//! the server (answering many phones from one file in memory), the fuzz
//! targets and the benchmarks rely on; their lifetime is what makes them
//! cheap. The owned types copy the file once and carry no lifetime, which
//! is what a binding needs.
//!
//! ```
//! use ctl_format::{HashPolicy, OwnedTrustList};
//! let bytes = include_bytes!("../../tests/vectors/real/cucm/CTLFile.tlv").to_vec();
//! let list = OwnedTrustList::parse(bytes)?; // no lifetime: keep it anywhere
//! assert_eq!(list.records().len(), 6);
//! assert_eq!(list.verify(HashPolicy::CISCO)?.record_index, 0);
//! # Ok::<(), ctl_format::Error>(())
//! ```
//!
//! **Names.** `OwnedX` is the owned form of `X`. A whole file converts
//! with `x.into_owned()` (or `OwnedX::from(&x)`, or straight from bytes
//! with `OwnedX::parse`); the parts a file lends out convert by reference
//! ([`SignedHeader::to_owned_header`], [`Record::to_owned_record`]).
//!
//! **One implementation.** An owned value keeps the whole file and is made
//! from the zero-copy parse (`OwnedX::parse(bytes)`, or
//! `x.into_owned()`). Everything that checks — verification, rollover,
//! decryption, re-encoding — borrows the kept bytes again ([`OwnedTrustList::view`]
//! and the like re-run the strict zero-copy parse, which succeeds since the
//! same bytes parsed before) and calls the zero-copy method: the rules live
//! in one place, and both forms give the same answers. Plain values
//! (header fields, record fields, offsets) are copied out at conversion.

use crate::certificate::Certificate;
use crate::encrypted_config::EncryptedConfig;
use crate::error::Result;
use crate::hash::{HashAlgorithm, HashPolicy};
use crate::header::{FileVersion, SignedHeader, Warning};
use crate::signed_file::{SignatureStatus, SignedFile, Verified};
use crate::tlv::{RawElement, TlvString};
use crate::trust_list::{
    self, Consistency, Record, Role, Rollover, SignerMatch, TrustList, VerifiedSigner,
};
use rsa::RsaPrivateKey;
use std::net::Ipv4Addr;

fn text(value: Option<TlvString<'_>>) -> Option<String> {
    value.map(|text| text.to_string_lossy())
}

/// The signed header of a file, owned: every field of [`SignedHeader`],
/// strings as text (without the terminating NUL; invalid UTF-8 replaced —
/// the exact bytes stay in the file bytes of the owning value).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSignedHeader {
    /// Header version (tag 1).
    pub version: FileVersion,
    /// Header length `H` (tag 2): records or payload start here.
    pub header_length: u16,
    /// Signer version (tag 28), when present.
    pub signer_version: Option<FileVersion>,
    /// Signer name (tag 4), when present.
    pub signer_name: Option<String>,
    /// Signer serial number (tag 5), as stored.
    pub serial_number: Vec<u8>,
    /// Issuer name of the signer (tag 6), when present.
    pub issuer_name: Option<String>,
    /// Digest of the signature (tag 8).
    pub hash_algorithm: HashAlgorithm,
    /// Signature algorithm code (tag 10), when present (0 = RSA).
    pub signature_algorithm: Option<u8>,
    /// Signature modulus code (tag 11), when present.
    pub modulus_code: Option<u8>,
    /// The signature value (tag 12).
    pub signature: Vec<u8>,
    /// Offset of the tag-12 element's tag byte.
    pub signature_offset: usize,
    /// Filename (tag 14), when present.
    pub filename: Option<String>,
    /// Timestamp (tag 15, Unix seconds UTC), when present.
    pub timestamp: Option<u32>,
    /// Number of padding bytes.
    pub padding_count: usize,
    /// The tags in file order, containers included, 13 once per padding
    /// byte ([`SignedHeader::element_order`]).
    pub element_order: Vec<u8>,
    /// Whether the header carries encrypted-config elements (tags 16 to 27).
    pub encrypted: bool,
    /// Non-fatal irregularities of the header.
    pub warnings: Vec<Warning>,
}

impl From<&SignedHeader<'_>> for OwnedSignedHeader {
    fn from(header: &SignedHeader<'_>) -> Self {
        Self {
            version: header.version,
            header_length: header.header_length,
            signer_version: header.signer_version,
            signer_name: text(header.signer_name),
            serial_number: header.serial_number.to_vec(),
            issuer_name: text(header.issuer_name),
            hash_algorithm: header.hash_algorithm,
            signature_algorithm: header.signature_algorithm,
            modulus_code: header.modulus_code,
            signature: header.signature.to_vec(),
            signature_offset: header.signature_offset,
            filename: text(header.filename),
            timestamp: header.timestamp,
            padding_count: header.padding_count,
            element_order: header.element_order(),
            encrypted: header.encryption.is_present(),
            warnings: header.warnings.clone(),
        }
    }
}

impl SignedHeader<'_> {
    /// The owned form of this header.
    pub fn to_owned_header(&self) -> OwnedSignedHeader {
        OwnedSignedHeader::from(self)
    }
}

/// One element of a record, owned: where it was, its tag and its value.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedElement {
    /// Offset of the tag byte from the start of the file.
    pub offset: usize,
    /// The tag.
    pub tag: u8,
    /// The value bytes.
    pub value: Vec<u8>,
}

impl core::fmt::Debug for OwnedElement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // As RawElement: the length, not the bytes.
        f.debug_struct("OwnedElement")
            .field("offset", &self.offset)
            .field("tag", &self.tag)
            .field("length", &self.value.len())
            .finish()
    }
}

impl OwnedElement {
    fn view(&self) -> RawElement<'_> {
        RawElement {
            offset: self.offset,
            tag: self.tag,
            value: &self.value,
        }
    }
}

/// One record of a trust list, owned: every element in file order (unknown
/// tags kept), with the getters of [`Record`], which it lends its elements
/// to ([`OwnedRecord::view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    offset: usize,
    length: u16,
    elements: Vec<OwnedElement>,
}

impl From<&Record<'_>> for OwnedRecord {
    fn from(record: &Record<'_>) -> Self {
        Self {
            offset: record.offset(),
            length: record.length(),
            elements: record
                .elements()
                .iter()
                .map(|element| OwnedElement {
                    offset: element.offset,
                    tag: element.tag,
                    value: element.value.to_vec(),
                })
                .collect(),
        }
    }
}

impl Record<'_> {
    /// The owned form of this record.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord::from(self)
    }
}

impl OwnedRecord {
    /// The zero-copy record over this record's elements, for anything the
    /// getters here do not cover (exact string bytes, [`Record::element`]).
    pub fn view(&self) -> Record<'_> {
        Record::from_parts(
            self.offset,
            self.length,
            self.elements.iter().map(OwnedElement::view).collect(),
        )
    }

    /// Offset of the record in the file.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The record length (tag 1), its own 5 bytes included.
    pub fn length(&self) -> u16 {
        self.length
    }

    /// Every element in file order, the record-length element first.
    pub fn elements(&self) -> &[OwnedElement] {
        &self.elements
    }

    /// The elements whose tag this crate does not know (not 1 to 12), in
    /// file order.
    pub fn unknown_elements(&self) -> Vec<&OwnedElement> {
        self.elements
            .iter()
            .filter(|element| !trust_list::tag::is_known(element.tag))
            .collect()
    }

    /// The tags in file order.
    pub fn element_order(&self) -> Vec<u8> {
        self.view().element_order()
    }

    /// Role (tag 4).
    pub fn role(&self) -> Option<Role> {
        self.view().role()
    }

    /// DNS name (tag 2) as text.
    pub fn dns_name(&self) -> Option<String> {
        text(self.view().dns_name())
    }

    /// Subject name (tag 3) as text.
    pub fn subject_name(&self) -> Option<String> {
        text(self.view().subject_name())
    }

    /// Issuer name (tag 5) as text.
    pub fn issuer_name(&self) -> Option<String> {
        text(self.view().issuer_name())
    }

    /// Serial number as stored (tag 6).
    pub fn serial_number(&self) -> Option<&[u8]> {
        self.view().serial_number()
    }

    /// Public key (tag 7).
    pub fn public_key(&self) -> Option<&[u8]> {
        self.view().public_key()
    }

    /// The certificate's signature value (tag 8).
    pub fn signature(&self) -> Option<&[u8]> {
        self.view().signature()
    }

    /// The DER certificate (tag 9), unparsed.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.view().certificate_der()
    }

    /// The certificate (tag 9), parsed: `Ok(None)` when the record has none.
    pub fn certificate(&self) -> Result<Option<Certificate>> {
        self.view().certificate()
    }

    /// SHA-1 of the certificate DER.
    pub fn certificate_sha1(&self) -> Option<[u8; 20]> {
        self.view().certificate_sha1()
    }

    /// IPv4 address (tag 10).
    pub fn ip_address(&self) -> Option<Ipv4Addr> {
        self.view().ip_address()
    }

    /// Certificate hash (tag 11).
    pub fn certificate_hash(&self) -> Option<&[u8]> {
        self.view().certificate_hash()
    }

    /// Hash-algorithm code of tag 11 (tag 12).
    pub fn certificate_hash_algorithm(&self) -> Option<u8> {
        self.view().certificate_hash_algorithm()
    }

    /// Whether this record's serial number equals `serial`.
    pub fn has_serial(&self, serial: &[u8]) -> bool {
        self.view().has_serial(serial)
    }

    /// The record's elements checked against its own certificate
    /// ([`Record::consistency`]).
    pub fn consistency(&self) -> Consistency {
        self.view().consistency()
    }
}

/// A parsed CTL or ITL, owned: the file's bytes, the header and the
/// records. Verifies through [`TrustList`] ([`OwnedTrustList::view`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedTrustList {
    bytes: Vec<u8>,
    header: OwnedSignedHeader,
    records: Vec<OwnedRecord>,
    warnings: Vec<Warning>,
    signer: Option<SignerMatch>,
}

impl core::fmt::Debug for OwnedTrustList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedTrustList")
            .field("length", &self.bytes.len())
            .field("header", &self.header)
            .field("records", &self.records)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl From<TrustList<'_>> for OwnedTrustList {
    fn from(list: TrustList<'_>) -> Self {
        Self::from(&list)
    }
}

impl From<&TrustList<'_>> for OwnedTrustList {
    fn from(list: &TrustList<'_>) -> Self {
        Self {
            bytes: list.bytes().to_vec(),
            header: list.header().into(),
            records: list.records().iter().map(OwnedRecord::from).collect(),
            warnings: list.warnings().to_vec(),
            signer: list.find_signer(),
        }
    }
}

impl TrustList<'_> {
    /// The owned form of this list (copies the file once).
    pub fn into_owned(self) -> OwnedTrustList {
        OwnedTrustList::from(self)
    }
}

impl OwnedTrustList {
    /// Parses a whole trust-list file strictly, as [`TrustList::parse`],
    /// and keeps it.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        TrustList::parse(&bytes).map(OwnedTrustList::from)
    }

    /// The zero-copy list over the kept bytes (parsed again; it succeeds,
    /// since the same bytes parsed when this value was made).
    pub fn view(&self) -> Result<TrustList<'_>> {
        TrustList::parse(&self.bytes)
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signed header.
    pub fn header(&self) -> &OwnedSignedHeader {
        &self.header
    }

    /// The records in file order.
    pub fn records(&self) -> &[OwnedRecord] {
        &self.records
    }

    /// Non-fatal irregularities found in the records (those of the header
    /// are in [`OwnedSignedHeader::warnings`]).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The signer record ([`TrustList::find_signer`]).
    pub fn find_signer(&self) -> Option<SignerMatch> {
        self.signer
    }

    /// Writes the list back ([`TrustList::encode`]): the file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.view()?.encode()
    }

    /// Every record whose elements disagree with its own certificate
    /// ([`TrustList::inconsistencies`]).
    pub fn inconsistencies(&self) -> Vec<(usize, Consistency)> {
        trust_list::inconsistencies(self.records.iter().map(OwnedRecord::consistency))
    }

    /// Checks the signature with the signer record's key
    /// ([`TrustList::verify`]).
    pub fn verify(&self, policy: HashPolicy) -> Result<VerifiedSigner> {
        self.view()?.verify(&self.bytes, policy)
    }

    /// The phone's view of a rollover from `previous` to this list
    /// ([`TrustList::verify_against`]).
    pub fn verify_against(
        &self,
        previous: &OwnedTrustList,
        policy: HashPolicy,
    ) -> Result<Rollover> {
        self.view()?
            .verify_against(&self.bytes, &previous.view()?, policy)
    }
}

/// A parsed signed file (`.sgn`, `.loads`), owned: the file's bytes and
/// its header. Verifies through [`SignedFile`] ([`OwnedSignedFile::view`]).
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedSignedFile {
    bytes: Vec<u8>,
    header: OwnedSignedHeader,
    status: SignatureStatus,
}

impl core::fmt::Debug for OwnedSignedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The payload is summarised, never printed.
        f.debug_struct("OwnedSignedFile")
            .field("header", &self.header)
            .field("payload_length", &self.payload().len())
            .finish()
    }
}

impl From<SignedFile<'_>> for OwnedSignedFile {
    fn from(file: SignedFile<'_>) -> Self {
        Self::from(&file)
    }
}

impl From<&SignedFile<'_>> for OwnedSignedFile {
    fn from(file: &SignedFile<'_>) -> Self {
        Self {
            bytes: file.bytes().to_vec(),
            header: file.header().into(),
            status: file.signature_status(),
        }
    }
}

impl SignedFile<'_> {
    /// The owned form of this file (copies the file once).
    pub fn into_owned(self) -> OwnedSignedFile {
        OwnedSignedFile::from(self)
    }
}

impl OwnedSignedFile {
    /// Parses a signed file strictly, as [`SignedFile::parse`], and keeps it.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        SignedFile::parse(&bytes).map(OwnedSignedFile::from)
    }

    /// The zero-copy file over the kept bytes (parsed again; it succeeds,
    /// since the same bytes parsed when this value was made).
    pub fn view(&self) -> Result<SignedFile<'_>> {
        SignedFile::parse(&self.bytes)
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed header.
    pub fn header(&self) -> &OwnedSignedHeader {
        &self.header
    }

    /// Offset of the payload: the header length `H`.
    pub fn payload_offset(&self) -> usize {
        usize::from(self.header.header_length)
    }

    /// The payload ([`SignedFile::payload`]): not authenticated until
    /// [`OwnedSignedFile::verify`] succeeds.
    pub fn payload(&self) -> &[u8] {
        self.bytes.get(self.payload_offset()..).unwrap_or_default()
    }

    /// The original file without the header ([`SignedFile::strip`]).
    pub fn strip(&self) -> &[u8] {
        self.payload()
    }

    /// Whether the file carries encrypted-config elements.
    pub fn is_encrypted(&self) -> bool {
        self.header.encrypted
    }

    /// Whether the header names Cisco's firmware signer
    /// ([`SignedFile::is_cisco_firmware`]).
    pub fn is_cisco_firmware(&self) -> bool {
        self.status == SignatureStatus::UnverifiableCiscoFirmware
    }

    /// What can be said about the signature without a certificate.
    pub fn signature_status(&self) -> SignatureStatus {
        self.status
    }

    /// Verifies the file against the signer's certificate
    /// ([`SignedFile::verify`]).
    pub fn verify(&self, certificate: &Certificate, policy: HashPolicy) -> Result<Verified> {
        self.view()?.verify(certificate, policy)
    }
}

/// A parsed encrypted configuration (`.enc.sgn`), owned: the signed file
/// and its validated encryption elements. Decrypts through
/// [`EncryptedConfig`] ([`OwnedEncryptedConfig::view`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEncryptedConfig {
    signed: OwnedSignedFile,
    iv: [u8; 16],
    pad_count: u8,
    key_size_bits: u16,
    wrapped_key: Vec<u8>,
    plaintext_hash_algorithm: HashAlgorithm,
    plaintext_digest: Vec<u8>,
    iv_unknown: Option<u8>,
    key_unknown: Option<u8>,
    key_algorithm: Option<u8>,
}

impl From<EncryptedConfig<'_>> for OwnedEncryptedConfig {
    fn from(config: EncryptedConfig<'_>) -> Self {
        Self::from(&config)
    }
}

impl From<&EncryptedConfig<'_>> for OwnedEncryptedConfig {
    fn from(config: &EncryptedConfig<'_>) -> Self {
        Self {
            signed: config.signed_file().into(),
            iv: config.iv(),
            pad_count: config.pad_count(),
            key_size_bits: config.key_size_bits(),
            wrapped_key: config.wrapped_key().to_vec(),
            plaintext_hash_algorithm: config.plaintext_hash_algorithm(),
            plaintext_digest: config.plaintext_digest().to_vec(),
            iv_unknown: config.iv_unknown(),
            key_unknown: config.key_unknown(),
            key_algorithm: config.key_algorithm(),
        }
    }
}

impl EncryptedConfig<'_> {
    /// The owned form of this config (copies the file once).
    pub fn into_owned(self) -> OwnedEncryptedConfig {
        OwnedEncryptedConfig::from(self)
    }
}

impl OwnedEncryptedConfig {
    /// Parses an encrypted config strictly, as [`EncryptedConfig::parse`],
    /// and keeps it.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        EncryptedConfig::parse(&bytes).map(OwnedEncryptedConfig::from)
    }

    /// The zero-copy config over the kept bytes (parsed again; it
    /// succeeds, since the same bytes parsed when this value was made).
    pub fn view(&self) -> Result<EncryptedConfig<'_>> {
        EncryptedConfig::parse(self.signed.bytes())
    }

    /// The file as a signed file.
    pub fn signed_file(&self) -> &OwnedSignedFile {
        &self.signed
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.signed.bytes()
    }

    /// The parsed header.
    pub fn header(&self) -> &OwnedSignedHeader {
        self.signed.header()
    }

    /// The AES-CBC initialisation vector (tag 19).
    pub fn iv(&self) -> [u8; 16] {
        self.iv
    }

    /// Number of 0x0D bytes appended to the plaintext (tag 20), 1 to 16.
    pub fn pad_count(&self) -> u8 {
        self.pad_count
    }

    /// Tag 23: size of the wrapped key in bits.
    pub fn key_size_bits(&self) -> u16 {
        self.key_size_bits
    }

    /// Tag 25: the AES key encrypted to the phone's RSA key.
    pub fn wrapped_key(&self) -> &[u8] {
        &self.wrapped_key
    }

    /// Tag 18, when present.
    pub fn iv_unknown(&self) -> Option<u8> {
        self.iv_unknown
    }

    /// Tag 22, when present.
    pub fn key_unknown(&self) -> Option<u8> {
        self.key_unknown
    }

    /// Tag 24, when present.
    pub fn key_algorithm(&self) -> Option<u8> {
        self.key_algorithm
    }

    /// Tag 26: the digest algorithm of the plaintext.
    pub fn plaintext_hash_algorithm(&self) -> HashAlgorithm {
        self.plaintext_hash_algorithm
    }

    /// Tag 27: the digest of the plaintext before padding.
    pub fn plaintext_digest(&self) -> &[u8] {
        &self.plaintext_digest
    }

    /// The ciphertext: bytes `H` to the end of the file.
    pub fn ciphertext(&self) -> &[u8] {
        self.signed.payload()
    }

    /// Verifies the signature, then decrypts ([`EncryptedConfig::decrypt`]).
    pub fn decrypt(
        &self,
        signer_certificate: &Certificate,
        phone_key: &RsaPrivateKey,
        policy: HashPolicy,
    ) -> Result<Vec<u8>> {
        self.view()?.decrypt(signer_certificate, phone_key, policy)
    }

    /// Decrypts **without verifying the signature**, for forensics only
    /// ([`EncryptedConfig::decrypt_unverified`]).
    pub fn decrypt_unverified(&self, phone_key: &RsaPrivateKey) -> Result<Vec<u8>> {
        self.view()?.decrypt_unverified(phone_key)
    }
}
