//! What a certificate is being trusted for.

use core::fmt;

use ctl_format::trust_list::Role;

use super::store::StoreKind;

/// A TLS server role a phone (or an administrator) checks a server for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerRole {
    /// The call server (SIP/SCCP over TLS): CTL role CCM or CCM+TFTP.
    CallManager,
    /// TFTP/HTTPS provisioning: CTL role TFTP or CCM+TFTP.
    Tftp,
    /// CAPF (TCP 3804): role CAPF.
    Capf,
    /// TVS (TCP 2445): role TVS.
    Tvs,
    /// An HTTPS application server: role APP-SERVER.
    ApplicationServer,
}

impl ServerRole {
    /// The trust-list roles that grant this server role.
    pub const fn granted_by(self) -> &'static [Role] {
        match self {
            Self::CallManager => &[Role::CallManager, Role::CallManagerTftp],
            Self::Tftp => &[Role::Tftp, Role::CallManagerTftp],
            Self::Capf => &[Role::Capf],
            Self::Tvs => &[Role::Tvs],
            Self::ApplicationServer => &[Role::ApplicationServer],
        }
    }

    /// The role an administrator should list the certificate with.
    pub const fn listed_role(self) -> Role {
        match self {
            Self::CallManager => Role::CallManager,
            Self::Tftp => Role::Tftp,
            Self::Capf => Role::Capf,
            Self::Tvs => Role::Tvs,
            Self::ApplicationServer => Role::ApplicationServer,
        }
    }

    /// Command-line name (`ccm`, `tftp`, `capf`, `tvs`, `app-server`).
    pub const fn cli_name(self) -> &'static str {
        match self {
            Self::CallManager => "ccm",
            Self::Tftp => "tftp",
            Self::Capf => "capf",
            Self::Tvs => "tvs",
            Self::ApplicationServer => "app-server",
        }
    }
}

/// Which signed file a signer is checked for.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignedFileKind {
    /// A config or other TFTP file (`.sgn`): signer listed with role TFTP or
    /// CCM+TFTP (tlv-files.md section 10).
    ConfigFile,
    /// A replacement CTL/ITL: signer listed with role SAST in the list the
    /// phone holds (section 10).
    TrustList,
}

impl SignedFileKind {
    /// The roles that may sign this kind of file.
    pub const fn granted_by(self) -> &'static [Role] {
        match self {
            Self::ConfigFile => &[Role::Tftp, Role::CallManagerTftp],
            Self::TrustList => &[Role::Sast],
        }
    }
}

/// The certificate a phone authenticates to CAPF with.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapfCredential {
    /// The Manufacturer Installed Certificate (factory, Cisco CA).
    Mic,
    /// A Locally Significant Certificate (CAPF or an enterprise CA).
    Lsc,
}

/// What a chain is evaluated for.
///
/// ```
/// use capf_core::trust::{Purpose, ServerRole};
/// let purpose = Purpose::TlsServer { role: ServerRole::Capf, host: None };
/// assert_eq!(purpose.to_string(), "TLS server for role CAPF");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A TLS server for a role, as a phone checks it (CTL/ITL pins) or as
    /// any client checks it (CA stores, EKU serverAuth). `host`, when
    /// given, is checked against the certificate's subjectAltName on the CA
    /// path (phones do not check names of pinned servers).
    TlsServer {
        /// The role.
        role: ServerRole,
        /// Expected host name or IP address.
        host: Option<String>,
    },
    /// A browser or admin tool opening the phone's own HTTPS page: the
    /// phone presents its MIC or LSC (EKU serverAuth).
    PhoneWebServer {
        /// The name the browser uses for the phone.
        host: Option<String>,
    },
    /// A phone's client certificate (MIC or LSC) checked by a provisioning,
    /// NAC/802.1X or SIP server (EKU clientAuth).
    TlsClient {
        /// Expected device name (`SEP001122334455`).
        device: Option<String>,
    },
    /// The signer of a file a phone downloads (CTL/ITL pins).
    FileSigner {
        /// Which file.
        file: SignedFileKind,
    },
    /// CAPF authentication with an existing MIC or LSC (spec 9.3-9.6).
    CapfAuthentication {
        /// MIC or LSC.
        credential: CapfCredential,
        /// Expected device name (`SEP001122334455`).
        device: Option<String>,
    },
}

impl Purpose {
    /// Whether a store of `kind` answers for this purpose.
    pub fn uses_store(&self, kind: StoreKind) -> bool {
        use StoreKind as K;
        match self {
            Self::TlsServer { .. } => matches!(
                kind,
                K::Ctl | K::Itl | K::CallManagerTrust | K::EnterpriseRoots | K::PemBundle
            ),
            Self::PhoneWebServer { .. } => {
                matches!(
                    kind,
                    K::EnterpriseRoots | K::PemBundle | K::ManufacturingRoots
                )
            }
            Self::TlsClient { .. } => matches!(
                kind,
                K::CallManagerTrust | K::EnterpriseRoots | K::PemBundle | K::ManufacturingRoots
            ),
            Self::FileSigner {
                file: SignedFileKind::ConfigFile,
            } => matches!(kind, K::Ctl | K::Itl),
            Self::FileSigner {
                file: SignedFileKind::TrustList,
            } => matches!(kind, K::Ctl | K::Itl | K::PhoneSastTrust),
            Self::CapfAuthentication { .. } => matches!(
                kind,
                K::CapfTrust | K::ManufacturingRoots | K::EnterpriseRoots | K::PemBundle
            ),
        }
    }

    /// The store kinds that answer for this purpose.
    pub fn store_kinds(&self) -> Vec<StoreKind> {
        StoreKind::ALL
            .into_iter()
            .filter(|kind| self.uses_store(*kind))
            .collect()
    }

    /// The trust-list roles that grant the purpose on a pinning store
    /// (empty for purposes that pins do not answer).
    pub fn pinned_roles(&self) -> &'static [Role] {
        match self {
            Self::TlsServer { role, .. } => role.granted_by(),
            Self::FileSigner { file } => file.granted_by(),
            _ => &[],
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TlsServer { role, .. } => {
                write!(f, "TLS server for role {}", role.listed_role())
            }
            Self::PhoneWebServer { .. } => f.write_str("the phone's own web server (HTTPS)"),
            Self::TlsClient { .. } => f.write_str("TLS client certificate"),
            Self::FileSigner {
                file: SignedFileKind::ConfigFile,
            } => f.write_str("signer of config files (TFTP)"),
            Self::FileSigner {
                file: SignedFileKind::TrustList,
            } => f.write_str("signer of trust lists (SAST)"),
            Self::CapfAuthentication {
                credential: CapfCredential::Mic,
                ..
            } => f.write_str("CAPF authentication with a MIC"),
            Self::CapfAuthentication {
                credential: CapfCredential::Lsc,
                ..
            } => f.write_str("CAPF authentication with an LSC"),
        }
    }
}
