//! Reading PEM text: certificates and private keys, in files that may hold
//! several blocks (certutils keeps the key and the certificate together).

use crate::error::{Error, MalformedFile, Result, UsageError};

/// One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`…) and DER bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label between `BEGIN` and the dashes.
    pub label: String,
    /// The decoded bytes.
    pub der: Vec<u8>,
}

impl core::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print the bytes: the block may be a private key.
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("length", &self.der.len())
            .finish()
    }
}

/// Whether `bytes` are PEM text: UTF-8 holding a `-----BEGIN ` line. The
/// one rule every reader of a certificate file applies to tell PEM from
/// DER (a DER certificate is never such text: its length bytes are not
/// UTF-8). A CTL/ITL or DER CRL is not PEM either.
pub fn is_pem(bytes: &[u8]) -> bool {
    core::str::from_utf8(bytes).is_ok_and(|text| text.contains("-----BEGIN "))
}

/// Splits PEM text into its blocks, decoding each. Text outside blocks is
/// ignored (OpenSSL-style "Bag Attributes" and comments).
pub fn pem_blocks(text: &str) -> Result<Vec<PemBlock>> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from_begin = rest.get(start..).unwrap_or_default();
        let label_end = from_begin.get(11..).and_then(|s| s.find("-----")).ok_or(
            MalformedFile::BadCertificate {
                reason: "unterminated PEM BEGIN line".into(),
            },
        )?;
        let label = from_begin
            .get(11..11 + label_end)
            .unwrap_or_default()
            .to_owned();
        let end_marker = format!("-----END {label}-----");
        let end = from_begin
            .find(&end_marker)
            .ok_or(MalformedFile::BadCertificate {
                reason: format!("PEM block {label} has no END line"),
            })?;
        let block_text = from_begin.get(..end + end_marker.len()).unwrap_or_default();
        let (_, der) = der::pem::decode_vec(block_text.as_bytes()).map_err(|_| {
            MalformedFile::BadCertificate {
                reason: format!("PEM block {label} is not valid base64"),
            }
        })?;
        blocks.push(PemBlock { label, der });
        rest = from_begin.get(end + end_marker.len()..).unwrap_or_default();
    }
    Ok(blocks)
}

/// The first RSA private key in `text` (PKCS #8 or PKCS #1).
///
/// Every failure is a [`UsageError`] ([`UsageError::BadPrivateKey`], or
/// [`UsageError::EcKeyNotSupported`]): a private key is the caller's own
/// credential, never data under examination.
pub fn rsa_private_key(text: &str) -> Result<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    // A key's PEM that cannot be read is the caller's unusable key, not a
    // bad certificate (and its text is never echoed).
    let blocks = pem_blocks(text).map_err(|_| UsageError::BadPrivateKey {
        reason: "the PEM text cannot be read (unterminated block or bad base64)",
    })?;
    for block in &blocks {
        match block.label.as_str() {
            "PRIVATE KEY" => {
                return rsa::RsaPrivateKey::from_pkcs8_der(&block.der)
                    .map_err(|_| UsageError::BadPrivateKey {
                        reason: "not an RSA PKCS #8 private key (EC keys cannot sign these files)",
                    })
                    .map_err(Error::from);
            }
            "RSA PRIVATE KEY" => {
                return rsa::RsaPrivateKey::from_pkcs1_der(&block.der)
                    .map_err(|_| UsageError::BadPrivateKey {
                        reason: "malformed PKCS #1 RSA private key",
                    })
                    .map_err(Error::from);
            }
            "EC PRIVATE KEY" => return Err(UsageError::EcKeyNotSupported.into()),
            "ENCRYPTED PRIVATE KEY" => {
                return Err(UsageError::BadPrivateKey {
                    reason: "encrypted private keys are not supported; decrypt it first",
                }
                .into());
            }
            _ => {}
        }
    }
    Err(UsageError::BadPrivateKey {
        reason: "no private key block found",
    }
    .into())
}
