//! Trust stores as values: what a phone, a CAPF server, a call server or a
//! browser holds, with roles and revocation data.

use core::fmt;
use core::str::FromStr;

use ctl_format::trust_list::{Role, TrustList};
use ctl_format::{Certificate, NameStyle};
use der::Encode;

/// Which kind of trust store a set of certificates is, which decides how the
/// evaluator uses it (see [`StoreKind::is_pinning`]) and which purposes it
/// answers for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// A Certificate Trust List (`CTLFile.tlv`): the phone's pins, by role.
    Ctl,
    /// An Identity Trust List (`ITLFile.tlv`): the phone's pins, by role.
    Itl,
    /// Unified CM's CAPF-trust: issuers the CAPF service accepts for
    /// certificate authentication (CAPF certificate, enterprise CAs, Cisco
    /// manufacturing roots).
    CapfTrust,
    /// Unified CM's CallManager-trust: issuers the call server accepts for
    /// TLS peers and phones' client certificates.
    CallManagerTrust,
    /// Unified CM's Phone-SAST-trust: certificates that may sign trust lists
    /// (pins with role SAST).
    PhoneSastTrust,
    /// Cisco manufacturing roots (MIC and SUDI hierarchies).
    ManufacturingRoots,
    /// Enterprise roots and issuing CAs.
    EnterpriseRoots,
    /// A plain PEM bundle (a browser's or a NAC server's trusted CAs).
    PemBundle,
}

impl StoreKind {
    /// Every kind, in declaration order.
    pub const ALL: [StoreKind; 8] = [
        Self::Ctl,
        Self::Itl,
        Self::CapfTrust,
        Self::CallManagerTrust,
        Self::PhoneSastTrust,
        Self::ManufacturingRoots,
        Self::EnterpriseRoots,
        Self::PemBundle,
    ];

    /// The name used on the command line (`ctl`, `capf-trust`, ...).
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::Ctl => "ctl",
            Self::Itl => "itl",
            Self::CapfTrust => "capf-trust",
            Self::CallManagerTrust => "callmanager-trust",
            Self::PhoneSastTrust => "phone-sast-trust",
            Self::ManufacturingRoots => "manufacturing",
            Self::EnterpriseRoots => "enterprise",
            Self::PemBundle => "pem",
        }
    }

    /// The name in Cisco's words, for messages (`CTL`, `CAPF-trust`, ...).
    pub const fn display_name(self) -> &'static str {
        match self {
            Self::Ctl => "CTL",
            Self::Itl => "ITL",
            Self::CapfTrust => "CAPF-trust",
            Self::CallManagerTrust => "CallManager-trust",
            Self::PhoneSastTrust => "Phone-SAST-trust",
            Self::ManufacturingRoots => "manufacturing roots",
            Self::EnterpriseRoots => "enterprise roots",
            Self::PemBundle => "PEM bundle",
        }
    }

    /// Whether the store pins certificates (CTL, ITL, Phone-SAST-trust): a
    /// certificate is trusted for a role only when that exact certificate is
    /// listed with the role; no chain is built through the store. The other
    /// kinds hold trust anchors for chain building.
    pub const fn is_pinning(self) -> bool {
        matches!(self, Self::Ctl | Self::Itl | Self::PhoneSastTrust)
    }

    /// The role every certificate of a "-trust" store carries by being in it
    /// (none for the other kinds; CTL/ITL records carry their own).
    pub const fn implied_role(self) -> Option<Role> {
        match self {
            Self::CapfTrust => Some(Role::Capf),
            Self::CallManagerTrust => Some(Role::CallManager),
            Self::PhoneSastTrust => Some(Role::Sast),
            _ => None,
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// A store kind name that [`StoreKind::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown trust store kind {0:?} (expected ctl, itl, capf-trust, callmanager-trust, phone-sast-trust, manufacturing, enterprise or pem)"
)]
pub struct UnknownStoreKind(pub String);

impl FromStr for StoreKind {
    type Err = UnknownStoreKind;

    /// Accepts the command-line names in any case, `_` for `-`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|kind| kind.cli_name() == wanted)
            .ok_or_else(|| UnknownStoreKind(text.to_owned()))
    }
}

/// Why a store could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A certificate does not parse as DER X.509.
    #[error("certificate {index} of {store:?} does not parse: {reason}")]
    Certificate {
        /// Name of the store.
        store: String,
        /// Position of the certificate (record index for a trust list).
        index: usize,
        /// What the parser said.
        reason: String,
    },
    /// The PEM text holds no certificate.
    #[error("{store:?} holds no certificate")]
    Empty {
        /// Name of the store.
        store: String,
    },
    /// A CTL or ITL file does not parse.
    #[error("{store:?} is not a readable CTL/ITL: {reason}")]
    TrustList {
        /// Name of the store.
        store: String,
        /// What the parser said.
        reason: String,
    },
    /// Revocation data does not parse.
    #[error("revocation data {source_name:?}: {reason}")]
    Revocation {
        /// Where the data came from.
        source_name: String,
        /// What is wrong, with the line or block number.
        reason: String,
    },
}

/// One certificate of a store, with the roles it carries there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEntry {
    der: Vec<u8>,
    roles: Vec<Role>,
    subject: String,
    sha256: [u8; 32],
}

impl StoreEntry {
    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The roles: a trust list's record roles (several when the certificate
    /// is listed more than once), a "-trust" store's implied role, or none.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// The subject, RFC 4514 style.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// SHA-256 of the DER.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// Revocation data a store carries. The evaluator applies the revocation
/// data of *every* store given to every certificate of a chain: a
/// revocation is a statement about a certificate, not about a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    serials: Vec<(Vec<u8>, Vec<u8>)>,
    digests: Vec<[u8; 32]>,
    crls: Vec<Vec<u8>>,
}

impl Revocations {
    /// No revocation data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Revokes the certificate with `serial` (big-endian, leading zero bytes
    /// ignored) issued by `issuer_name_der` (the DER `Name` of the issuer).
    pub fn revoke_serial(&mut self, issuer_name_der: &[u8], serial: &[u8]) {
        self.serials
            .push((issuer_name_der.to_vec(), strip_zeros(serial).to_vec()));
    }

    /// Revokes the certificate whose DER has this SHA-256 digest.
    pub fn revoke_sha256(&mut self, digest: [u8; 32]) {
        self.digests.push(digest);
    }

    /// Revokes this certificate (by digest and by issuer and serial, so a
    /// re-encoded copy is caught too). Fails if it does not parse (the
    /// error's source is "certificate").
    pub fn revoke_certificate(&mut self, der: &[u8]) -> Result<(), StoreError> {
        self.revoke_certificate_from(der)
            .map_err(|reason| revocation_error("certificate", reason))
    }

    fn revoke_certificate_from(&mut self, der: &[u8]) -> Result<(), String> {
        let certificate = Certificate::from_der(der).map_err(|error| error.to_string())?;
        let issuer = certificate
            .x509()
            .tbs_certificate
            .issuer
            .to_der()
            .map_err(|error| error.to_string())?;
        self.digests.push(certificate.sha256_fingerprint());
        self.revoke_serial(&issuer, &certificate.serial_number());
        Ok(())
    }

    /// Adds a DER certificate revocation list (checked by rustls-webpki
    /// against the issuer's key during chain building). Fails if webpki
    /// cannot read it (the error's source is "CRL").
    pub fn add_crl_der(&mut self, der: &[u8]) -> Result<(), StoreError> {
        self.add_crl_from(der)
            .map_err(|reason| revocation_error("CRL", reason))
    }

    fn add_crl_from(&mut self, der: &[u8]) -> Result<(), String> {
        webpki::OwnedCertRevocationList::from_der(der).map_err(|error| format!("{error:?}"))?;
        self.crls.push(der.to_vec());
        Ok(())
    }

    /// Reads a revocation file: PEM with `CERTIFICATE` blocks (each one
    /// revoked) and/or `X509 CRL` blocks, a DER CRL, or text lines each
    /// holding one SHA-256 digest in hex (optionally `sha256:`-prefixed;
    /// `#` starts a comment). Every error names `source_name` and where in
    /// it the fault is (line or PEM block, counted from 1).
    ///
    /// ```
    /// use capf_core::trust::Revocations;
    /// let error = Revocations::parse("revoked.txt", b"sha256:1234\n").unwrap_err();
    /// assert!(error.to_string().contains("\"revoked.txt\": line 1"));
    /// ```
    pub fn parse(source_name: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let error = |reason: String| revocation_error(source_name, reason);
        let mut revocations = Self::new();
        // A DER CRL: a SEQUENCE (0x30) with a long-form length (every real
        // CRL is over 127 bytes). Text never has a byte of 0x80 or more
        // there, and a line of hex digits may well start with '0' (0x30).
        let der_crl = bytes.first() == Some(&0x30) && bytes.get(1).is_some_and(|b| *b >= 0x80);
        if der_crl {
            revocations
                .add_crl_from(bytes)
                .map_err(|reason| error(format!("not a DER CRL: {reason}")))?;
            return Ok(revocations);
        }
        let text = core::str::from_utf8(bytes)
            .map_err(|_| error("neither a DER CRL nor text".to_owned()))?;
        if ctl_format::pem::is_pem(bytes) {
            let blocks = ctl_format::pem::pem_blocks(text).map_err(|e| error(e.to_string()))?;
            for (index, block) in blocks.iter().enumerate() {
                let number = index.saturating_add(1);
                let label = block.label.as_str();
                let outcome = match label {
                    "CERTIFICATE" => revocations.revoke_certificate_from(&block.der),
                    "X509 CRL" => revocations.add_crl_from(&block.der),
                    other => Err(format!("unexpected PEM block {other:?}")),
                };
                outcome
                    .map_err(|reason| error(format!("PEM block {number} ({label}): {reason}")))?;
            }
            return Ok(revocations);
        }
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let hex_text = line
                .strip_prefix("sha256:")
                .unwrap_or(line)
                .replace(':', "");
            let digest = decode_hex32(&hex_text).ok_or_else(|| {
                error(format!(
                    "line {}: not a SHA-256 digest in hex",
                    number.saturating_add(1)
                ))
            })?;
            revocations.revoke_sha256(digest);
        }
        Ok(revocations)
    }

    /// Adds everything `other` revokes.
    pub fn extend(&mut self, other: &Revocations) {
        self.serials.extend(other.serials.iter().cloned());
        self.digests.extend(other.digests.iter().copied());
        self.crls.extend(other.crls.iter().cloned());
    }

    /// Whether there is no revocation data.
    pub fn is_empty(&self) -> bool {
        self.serials.is_empty() && self.digests.is_empty() && self.crls.is_empty()
    }

    /// The DER CRLs.
    pub fn crls(&self) -> &[Vec<u8>] {
        &self.crls
    }

    /// Whether the certificate is revoked by digest or by issuer and
    /// serial (CRLs are checked during chain building, not here).
    pub fn revokes(&self, certificate: &Certificate) -> bool {
        if self.digests.is_empty() && self.serials.is_empty() {
            return false;
        }
        if self.digests.contains(&certificate.sha256_fingerprint()) {
            return true;
        }
        let Ok(issuer) = certificate.x509().tbs_certificate.issuer.to_der() else {
            return false;
        };
        let serial = certificate.serial_number();
        let serial = strip_zeros(&serial);
        self.serials
            .iter()
            .any(|(name, revoked)| *name == issuer && revoked.as_slice() == serial)
    }
}

fn revocation_error(source_name: &str, reason: String) -> StoreError {
    StoreError::Revocation {
        source_name: source_name.to_owned(),
        reason,
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let text = core::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// A trust store: a kind, a name (the file it came from) and certificates
/// with roles, plus optional revocation data.
///
/// ```
/// use capf_core::trust::{StoreKind, TrustStore};
/// use ctl_format::{TrustList, trust_list::Role};
/// let file = include_bytes!("../../../tests/vectors/real/cucm/CTLFile.tlv");
/// let list = TrustList::parse(file)?;
/// let store = TrustStore::from_trust_list(StoreKind::Ctl, "CTLFile.tlv", &list)?;
/// // The publisher's certificate is listed twice (SAST and CCM+TFTP): one entry.
/// assert!(store.entries().iter().any(|entry| entry.roles() == [Role::Sast, Role::CallManagerTftp]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustStore {
    kind: StoreKind,
    name: String,
    entries: Vec<StoreEntry>,
    revocations: Revocations,
}

impl TrustStore {
    /// An empty store.
    pub fn new(kind: StoreKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            entries: Vec::new(),
            revocations: Revocations::new(),
        }
    }

    /// A store from a parsed CTL or ITL: every record that carries a
    /// certificate, with its role (records without a certificate, such as
    /// non-secure placeholders, are skipped). A certificate listed in
    /// several records becomes one entry with all its roles. `kind` is
    /// normally [`StoreKind::Ctl`] or [`StoreKind::Itl`].
    pub fn from_trust_list(
        kind: StoreKind,
        name: impl Into<String>,
        list: &TrustList<'_>,
    ) -> Result<Self, StoreError> {
        let mut store = Self::new(kind, name);
        for (index, record) in list.records().iter().enumerate() {
            let Some(der) = record.certificate_der() else {
                continue;
            };
            let roles: Vec<Role> = record.role().into_iter().collect();
            store.add_indexed(der, &roles, index)?;
        }
        Ok(store)
    }

    /// A store from a file's bytes, read as `kind` is kept: a CTL or ITL
    /// for [`StoreKind::Ctl`] and [`StoreKind::Itl`] (parsed, not verified:
    /// verify the list first where that matters), otherwise one DER
    /// certificate or PEM text with one or more certificates. The one rule
    /// every host uses to read a store from a file; `name` names it in
    /// errors and verdicts.
    ///
    /// ```
    /// use capf_core::trust::{StoreError, StoreKind, TrustStore};
    /// let empty = TrustStore::from_file_bytes(StoreKind::PemBundle, "empty.pem", b"");
    /// assert!(matches!(empty, Err(StoreError::Empty { .. })));
    /// ```
    pub fn from_file_bytes(
        kind: StoreKind,
        name: impl Into<String>,
        bytes: &[u8],
    ) -> Result<Self, StoreError> {
        let name = name.into();
        match kind {
            StoreKind::Ctl | StoreKind::Itl => {
                let list = TrustList::parse(bytes).map_err(|error| StoreError::TrustList {
                    store: name.clone(),
                    reason: error.to_string(),
                })?;
                Self::from_trust_list(kind, name, &list)
            }
            _ if bytes.is_empty() => Err(StoreError::Empty { store: name }),
            _ => {
                let certificates = Certificate::all_from_pem_or_der(bytes).map_err(|error| {
                    StoreError::Certificate {
                        store: name.clone(),
                        index: 0,
                        reason: error.to_string(),
                    }
                })?;
                Self::from_der_certificates(kind, name, certificates.iter().map(Certificate::der))
            }
        }
    }

    /// A store from DER certificates; each carries the kind's implied role.
    pub fn from_der_certificates<I, C>(
        kind: StoreKind,
        name: impl Into<String>,
        certificates: I,
    ) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = C>,
        C: AsRef<[u8]>,
    {
        let mut store = Self::new(kind, name);
        for (index, der) in certificates.into_iter().enumerate() {
            let roles: Vec<Role> = kind.implied_role().into_iter().collect();
            store.add_indexed(der.as_ref(), &roles, index)?;
        }
        Ok(store)
    }

    /// A store from the `CERTIFICATE` blocks of PEM text (at least one).
    pub fn from_pem(
        kind: StoreKind,
        name: impl Into<String>,
        text: &str,
    ) -> Result<Self, StoreError> {
        let name = name.into();
        let certificates =
            Certificate::all_from_pem(text).map_err(|error| StoreError::Certificate {
                store: name.clone(),
                index: 0,
                reason: error.to_string(),
            })?;
        if certificates.is_empty() {
            return Err(StoreError::Empty { store: name });
        }
        Self::from_der_certificates(kind, name, certificates.iter().map(Certificate::der))
    }

    /// Adds a certificate with roles (merged into an existing entry for the
    /// same DER). Fails if it does not parse.
    pub fn add_certificate(&mut self, der: &[u8], roles: &[Role]) -> Result<(), StoreError> {
        let index = self.entries.len();
        self.add_indexed(der, roles, index)
    }

    fn add_indexed(&mut self, der: &[u8], roles: &[Role], index: usize) -> Result<(), StoreError> {
        let certificate = Certificate::from_der(der).map_err(|error| StoreError::Certificate {
            store: self.name.clone(),
            index,
            reason: error.to_string(),
        })?;
        if let Some(entry) = self.entries.iter_mut().find(|entry| entry.der == der) {
            for role in roles {
                if !entry.roles.contains(role) {
                    entry.roles.push(*role);
                }
            }
            return Ok(());
        }
        self.entries.push(StoreEntry {
            der: der.to_vec(),
            roles: roles.to_vec(),
            subject: certificate.subject_name(NameStyle::Certutils),
            sha256: certificate.sha256_fingerprint(),
        });
        Ok(())
    }

    /// Attaches revocation data (added to what the store has).
    pub fn with_revocations(mut self, revocations: &Revocations) -> Self {
        self.revocations.extend(revocations);
        self
    }

    /// The revocation data, to add to.
    pub fn revocations_mut(&mut self) -> &mut Revocations {
        &mut self.revocations
    }

    /// The revocation data.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The kind.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The name (usually the file it came from).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The certificates.
    pub fn entries(&self) -> &[StoreEntry] {
        &self.entries
    }
}
