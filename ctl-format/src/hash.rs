//! Hash algorithms named in the header (tag 8) and the caller's policy on them.

use core::fmt;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// The digest named by header tag 8 (and by tag 26 of encrypted configs).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// Code 1. Cisco's historical default.
    Sha1,
    /// Code 2. Readable and writable here, but no Cisco product is known to
    /// use it and certutils refuses it: see [`HashAlgorithm::is_cisco`].
    Sha256,
    /// Code 3 (as certutils writes it since 2021).
    Sha512,
}

impl HashAlgorithm {
    /// The code stored in the file.
    pub const fn code(self) -> u8 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
            Self::Sha512 => 3,
        }
    }

    /// The algorithm for a code, if the code is known.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha1),
            2 => Some(Self::Sha256),
            3 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Lower-case name: `sha1`, `sha256`, `sha512`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    /// Whether Cisco phones are known to accept this digest (SHA-1, SHA-512).
    pub const fn is_cisco(self) -> bool {
        !matches!(self, Self::Sha256)
    }

    /// Length of the digest in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Digest of the concatenation of `parts`, without copying them together.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// The PKCS #1 v1.5 signature scheme (with DigestInfo) for this digest.
    pub(crate) fn pkcs1v15(self) -> rsa::Pkcs1v15Sign {
        match self {
            Self::Sha1 => rsa::Pkcs1v15Sign::new::<Sha1>(),
            Self::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            Self::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which digests the caller accepts in a signature. Whatever a file says it
/// uses, verification fails with [`crate::Refusal::HashNotAllowed`] unless the
/// policy allows it.
///
/// ```
/// use ctl_format::{HashAlgorithm, HashPolicy};
/// assert!(HashPolicy::CISCO.allows(HashAlgorithm::Sha1));
/// assert!(!HashPolicy::SHA512_ONLY.allows(HashAlgorithm::Sha1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashPolicy {
    /// Accept SHA-1.
    pub sha1: bool,
    /// Accept SHA-256 (code 2, not used by Cisco).
    pub sha256: bool,
    /// Accept SHA-512.
    pub sha512: bool,
}

impl HashPolicy {
    /// What Cisco phones accept: SHA-1 and SHA-512.
    pub const CISCO: Self = Self {
        sha1: true,
        sha256: false,
        sha512: true,
    };
    /// Every digest this crate knows.
    pub const ANY: Self = Self {
        sha1: true,
        sha256: true,
        sha512: true,
    };
    /// SHA-512 only (a deployment that has left SHA-1 behind).
    pub const SHA512_ONLY: Self = Self {
        sha1: false,
        sha256: false,
        sha512: true,
    };

    /// Whether `algorithm` is allowed.
    pub const fn allows(self, algorithm: HashAlgorithm) -> bool {
        match algorithm {
            HashAlgorithm::Sha1 => self.sha1,
            HashAlgorithm::Sha256 => self.sha256,
            HashAlgorithm::Sha512 => self.sha512,
        }
    }
}

impl Default for HashPolicy {
    fn default() -> Self {
        Self::CISCO
    }
}
