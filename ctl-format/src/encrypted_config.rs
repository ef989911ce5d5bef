//! Encrypted configuration files (`.enc.sgn`), method "symmetric key
//! encryption with the phone public key" (spec `sgn-files.md` section 5).
//!
//! The file is a signed file whose header also carries the encryption
//! elements (tags 16 to 27) and whose payload is the AES-128-CBC ciphertext
//! of the configuration. The AES key is wrapped with the phone's RSA key
//! (RSAES-PKCS1-v1_5); the plaintext is padded with 1 to 16 bytes 0x0D (not
//! PKCS #7) and its digest is stored in tag 27.
//!
//! * [`EncryptedConfig::parse`] reads and validates the elements;
//! * [`EncryptedConfig::decrypt`] verifies the signature, then decrypts;
//! * [`encrypt`] builds a file in the certutils `enccnf` layout;
//! * [`reduced_config`] builds the companion reduced `.sgn` payload.
//!
//! Errors never carry the AES key, the phone key or plaintext.

mod reduced_xml;

pub use reduced_xml::reduced_config;

use crate::certificate::{Certificate, NameStyle};
use crate::error::{Error, MalformedFile, Refusal, Result, UsageError};
use crate::hash::{HashAlgorithm, HashPolicy};
use crate::header::{ElementOrder, FileVersion, HeaderSpec, SignedHeader, tag};
use crate::signed_file::{SignedFile, Verified};
use crate::signer::FileSigner;
use crate::tlv;
use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand_core::{CryptoRng, RngCore};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};

/// AES block size and IV length.
const BLOCK: usize = 16;
/// Length of the AES-128 content key.
const AES_KEY_LENGTH: usize = 16;
/// The byte the plaintext is padded with (carriage return).
const PAD_BYTE: u8 = 0x0D;

/// A parsed encrypted configuration file, borrowing the file's bytes
/// (zero-copy). Its owned form is [`crate::OwnedEncryptedConfig`]
/// ([`EncryptedConfig::into_owned`]).
///
/// Parsing validates the encryption elements; the ciphertext length is
/// checked when decrypting (step 3 of spec section 5.3), so a damaged file
/// can still be inspected.
#[derive(Debug, Clone)]
pub struct EncryptedConfig<'a> {
    signed: SignedFile<'a>,
    iv: [u8; BLOCK],
    pad_count: u8,
    key_size_bits: u16,
    wrapped_key: &'a [u8],
    plaintext_hash_algorithm: HashAlgorithm,
    plaintext_digest: &'a [u8],
}

/// Offset of the first header item with `wanted` as its tag (0 if absent).
fn offset_of(header: &SignedHeader<'_>, wanted: u8) -> usize {
    header
        .items()
        .iter()
        .find(|item| item.tag() == wanted)
        .map_or(0, |item| item.offset())
}

impl<'a> EncryptedConfig<'a> {
    /// Parses an encrypted config: the signed header (strictly, as for any
    /// signed file), then checks that the encryption elements are present
    /// and consistent:
    ///
    /// * IV (tag 19) of 16 bytes;
    /// * pad count (tag 20) from 1 to 16;
    /// * a non-empty wrapped key (tag 25) and a key size (tag 23) equal to
    ///   8 × its length;
    /// * a known plaintext-digest algorithm (tag 26) and a digest (tag 27) of
    ///   its length.
    ///
    /// A signed file without encryption elements gives
    /// [`MalformedFile::NotEncrypted`].
    pub fn parse(file: &'a [u8]) -> Result<Self> {
        let signed = SignedFile::parse(file)?;
        let header = signed.header();
        let elements = header.encryption;
        if !elements.is_present() {
            return Err(MalformedFile::NotEncrypted {
                reason: "the header has no encryption elements (tags 16 to 27)",
            }
            .into());
        }
        let missing = |element| MalformedFile::MissingElement { element };
        let bad = |tag, element, reason| MalformedFile::BadValue {
            offset: offset_of(header, tag),
            element,
            reason,
        };

        let iv: [u8; BLOCK] = elements
            .iv
            .ok_or(missing("IV"))?
            .try_into()
            .map_err(|_| bad(tag::IV, "IV", "must be 16 bytes"))?;
        let pad_count = elements.pad_count.ok_or(missing("pad count"))?;
        let pad_count = u8::try_from(pad_count)
            .ok()
            .filter(|count| (1..=16).contains(count))
            .ok_or(bad(tag::PAD_COUNT, "pad count", "must be from 1 to 16"))?;
        let wrapped_key = elements.wrapped_key.ok_or(missing("wrapped key"))?;
        if wrapped_key.is_empty() {
            return Err(bad(tag::WRAPPED_KEY, "wrapped key", "is empty").into());
        }
        let key_size_bits = elements.key_size_bits.ok_or(missing("key size"))?;
        let expected_bits = wrapped_key.len().checked_mul(8);
        if expected_bits != Some(usize::from(key_size_bits)) {
            return Err(bad(
                tag::KEY_SIZE,
                "key size",
                "is not 8 × the length of the wrapped key",
            )
            .into());
        }
        let code = elements
            .plaintext_hash_algorithm
            .ok_or(missing("plaintext hash algorithm"))?;
        let plaintext_hash_algorithm =
            HashAlgorithm::from_code(code).ok_or(MalformedFile::UnsupportedHashAlgorithm {
                offset: offset_of(header, tag::PLAINTEXT_HASH_ALGORITHM),
                code,
            })?;
        let plaintext_digest = elements
            .plaintext_digest
            .ok_or(missing("plaintext digest"))?;
        if plaintext_digest.len() != plaintext_hash_algorithm.output_len() {
            return Err(bad(
                tag::PLAINTEXT_DIGEST,
                "plaintext digest",
                "length does not match its algorithm (tag 26)",
            )
            .into());
        }
        Ok(Self {
            signed,
            iv,
            pad_count,
            key_size_bits,
            wrapped_key,
            plaintext_hash_algorithm,
            plaintext_digest,
        })
    }

    /// The file as a signed file (header, signature verification).
    pub fn signed_file(&self) -> &SignedFile<'a> {
        &self.signed
    }

    /// The parsed header.
    pub fn header(&self) -> &SignedHeader<'a> {
        self.signed.header()
    }

    /// The AES-CBC initialisation vector (tag 19).
    pub fn iv(&self) -> [u8; BLOCK] {
        self.iv
    }

    /// Number of 0x0D bytes appended to the plaintext (tag 20), 1 to 16.
    pub fn pad_count(&self) -> u8 {
        self.pad_count
    }

    /// Tag 23: size of the wrapped key in bits (the phone's RSA size).
    pub fn key_size_bits(&self) -> u16 {
        self.key_size_bits
    }

    /// Tag 25: the AES key encrypted to the phone's RSA key.
    pub fn wrapped_key(&self) -> &'a [u8] {
        self.wrapped_key
    }

    /// Tag 18 (meaning unknown; 0 in every sample), when present.
    pub fn iv_unknown(&self) -> Option<u8> {
        self.header().encryption.iv_unknown
    }

    /// Tag 22 (meaning unknown; 0 in every sample), when present.
    pub fn key_unknown(&self) -> Option<u8> {
        self.header().encryption.key_unknown
    }

    /// Tag 24, the key algorithm (1 in every sample), when present.
    pub fn key_algorithm(&self) -> Option<u8> {
        self.header().encryption.key_algorithm
    }

    /// Tag 26: the digest algorithm of the plaintext.
    pub fn plaintext_hash_algorithm(&self) -> HashAlgorithm {
        self.plaintext_hash_algorithm
    }

    /// Tag 27: the digest of the plaintext before padding.
    pub fn plaintext_digest(&self) -> &'a [u8] {
        self.plaintext_digest
    }

    /// The ciphertext: bytes `H` to the end of the file.
    pub fn ciphertext(&self) -> &'a [u8] {
        self.signed.payload()
    }

    /// Verifies the signature against the TFTP signer's certificate, then
    /// decrypts with the phone's private key (spec section 5.3): unwrap the
    /// AES-128 key, check the ciphertext is a non-zero multiple of 16 bytes,
    /// AES-128-CBC decrypt, check the last `p` bytes (tag 20) are all 0x0D,
    /// drop them, and compare the tag-26 digest with tag 27.
    ///
    /// Nothing is decrypted unless the signature verifies
    /// ([`SignedFile::verify`]). `policy` applies to the signature digest
    /// (tag 8); the plaintext digest (tag 26) is an integrity check behind
    /// the signature and is accepted whatever its algorithm.
    ///
    /// Errors: those of [`SignedFile::verify`], then
    /// [`Refusal::CiphertextNotBlockAligned`], [`Refusal::Decryption`] and
    /// [`Refusal::PlaintextDigestMismatch`].
    pub fn decrypt(
        &self,
        signer_certificate: &Certificate,
        phone_key: &RsaPrivateKey,
        policy: HashPolicy,
    ) -> Result<Vec<u8>> {
        let _: Verified = self.signed.verify(signer_certificate, policy)?;
        self.decrypt_unverified(phone_key)
    }

    /// Decrypts **without verifying the signature**: for forensics only
    /// (what a damaged or forged file would decrypt to). Never act on the
    /// result; use [`EncryptedConfig::decrypt`].
    pub fn decrypt_unverified(&self, phone_key: &RsaPrivateKey) -> Result<Vec<u8>> {
        let ciphertext = self.ciphertext();
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
            return Err(Refusal::CiphertextNotBlockAligned {
                length: ciphertext.len(),
            }
            .into());
        }
        if self.wrapped_key.len() != phone_key.size() {
            return Err(Refusal::Decryption {
                reason: "the AES key was wrapped for an RSA key of another size",
            }
            .into());
        }
        let key = ContentKey::unwrap(phone_key, self.wrapped_key)?;
        let mut buffer = ciphertext.to_vec();
        let decryptor = cbc::Decryptor::<Aes128>::new(&key.0.into(), &self.iv.into());
        let length = decryptor
            .decrypt_padded_mut::<NoPadding>(&mut buffer)
            .map_err(|_| Refusal::Decryption {
                reason: "AES-CBC decryption failed",
            })?
            .len();
        buffer.truncate(length);
        let plaintext_length =
            length
                .checked_sub(usize::from(self.pad_count))
                .ok_or(Refusal::Decryption {
                    reason: "the pad count exceeds the decrypted length",
                })?;
        let padding_ok = buffer
            .get(plaintext_length..)
            .is_some_and(|pad| pad.iter().all(|byte| *byte == PAD_BYTE));
        if !padding_ok {
            return Err(Refusal::Decryption {
                reason: "the padding bytes are not 0x0D (wrong key or damaged file)",
            }
            .into());
        }
        buffer.truncate(plaintext_length);
        let digest = self.plaintext_hash_algorithm.digest_parts(&[&buffer]);
        if digest != self.plaintext_digest {
            return Err(Refusal::PlaintextDigestMismatch.into());
        }
        Ok(buffer)
    }
}

/// The AES-128 content key; never printed, zeroed (best effort) on drop.
struct ContentKey([u8; AES_KEY_LENGTH]);

impl ContentKey {
    fn unwrap(phone_key: &RsaPrivateKey, wrapped: &[u8]) -> Result<Self> {
        let mut key =
            phone_key
                .decrypt(Pkcs1v15Encrypt, wrapped)
                .map_err(|_| Refusal::Decryption {
                    reason: "cannot unwrap the AES key (wrong phone key or damaged file)",
                })?;
        let result = <[u8; AES_KEY_LENGTH]>::try_from(key.as_slice())
            .map(Self)
            .map_err(|_| Refusal::Decryption {
                reason: "the unwrapped key is not a 16-byte AES-128 key",
            });
        key.fill(0);
        result.map_err(Error::from)
    }
}

impl Drop for ContentKey {
    fn drop(&mut self) {
        self.0.fill(0);
    }
}

/// What [`encrypt`] writes besides the keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptOptions {
    /// Digest of the signature (tag 8) and of the plaintext (tag 26), as
    /// certutils uses one choice for both: SHA-1 or SHA-512.
    pub hash_algorithm: HashAlgorithm,
    /// Filename element (tag 14), e.g. `SEP001122334455.cnf.xml.enc.sgn`.
    pub filename: Option<String>,
    /// Timestamp element (tag 15), Unix seconds UTC, passed in.
    pub timestamp: Option<u32>,
}

/// Encrypts `plaintext` (the configuration XML exactly as on disk) for the
/// phone holding `phone_certificate`'s key and signs the result with
/// `signer` (the TFTP key of `signer_certificate`), in the certutils
/// `enccnf` layout: header version 2.0, names in certutils style, signer
/// info 4, 6, 5, then after the timestamp
/// 16{17{18, 19, 20}, 21{22, 23, 24, 25}}, 26, 27 and the padding.
///
/// The AES key and the IV are drawn from `rng` (then the PKCS #1 v1.5
/// padding of the wrapped key), so a seeded RNG gives a reproducible file.
/// An EC phone certificate gives [`UsageError::EcKeyNotSupported`]: an EC key
/// cannot wrap the AES key, and how Unified CM encrypts for EC phones is
/// unknown.
pub fn encrypt<R: RngCore + CryptoRng>(
    plaintext: &[u8],
    phone_certificate: &Certificate,
    signer_certificate: &Certificate,
    signer: &dyn FileSigner,
    options: &EncryptOptions,
    rng: &mut R,
) -> Result<Vec<u8>> {
    let phone_key = phone_certificate.rsa_public_key()?;
    let signer_key = signer_certificate.rsa_public_key()?;

    let mut key = ContentKey([0; AES_KEY_LENGTH]);
    rng.fill_bytes(&mut key.0);
    let mut iv = [0u8; BLOCK];
    rng.fill_bytes(&mut iv);
    let wrapped_key = phone_key
        .encrypt(rng, Pkcs1v15Encrypt, &key.0)
        .map_err(|_| UsageError::Encryption {
            reason: "cannot wrap the AES key with the phone's RSA key",
        })?;

    // 1 to 16 bytes of 0x0D: a whole block when already aligned.
    let pad_count = BLOCK - plaintext.len() % BLOCK;
    let mut buffer = Vec::with_capacity(plaintext.len() + pad_count);
    buffer.extend_from_slice(plaintext);
    buffer.resize(plaintext.len() + pad_count, PAD_BYTE);
    let length = buffer.len();
    let encryptor = cbc::Encryptor::<Aes128>::new(&key.0.into(), &iv.into());
    let ciphertext_length = encryptor
        .encrypt_padded_mut::<NoPadding>(&mut buffer, length)
        .map_err(|_| UsageError::Encryption {
            reason: "AES-CBC encryption failed",
        })?
        .len();
    buffer.truncate(ciphertext_length);
    drop(key);

    let digest = options.hash_algorithm.digest_parts(&[plaintext]);
    let extra = encryption_elements(
        &iv,
        pad_count,
        &wrapped_key,
        options.hash_algorithm,
        &digest,
    )?;
    let spec = HeaderSpec {
        version: FileVersion::V2_0,
        signer_version: None,
        signer_name: signer_certificate.subject_name(NameStyle::Certutils),
        serial_number: signer_certificate.serial_number(),
        issuer_name: signer_certificate.issuer_name(NameStyle::Certutils),
        hash_algorithm: options.hash_algorithm,
        filename: options.filename.clone(),
        timestamp: options.timestamp,
        element_order: ElementOrder::Certutils,
    };
    let file = crate::header::sign_file_with_extra(&spec, &extra, &buffer, signer)?;
    crate::signed_file::check_signed_by(&file, &signer_key)?;
    Ok(file)
}

/// Encodes 16{17{18, 19, 20}, 21{22, 23, 24, 25}}, 26, 27.
fn encryption_elements(
    iv: &[u8; BLOCK],
    pad_count: usize,
    wrapped_key: &[u8],
    hash_algorithm: HashAlgorithm,
    digest: &[u8],
) -> Result<Vec<u8>> {
    let pad_count = u16::try_from(pad_count).map_err(|_| UsageError::TooLong {
        element: "pad count",
        length: pad_count,
    })?;
    let key_bits = wrapped_key
        .len()
        .checked_mul(8)
        .and_then(|bits| u16::try_from(bits).ok())
        .ok_or(UsageError::TooLong {
            element: "wrapped key",
            length: wrapped_key.len(),
        })?;

    let mut iv_info = Vec::new();
    tlv::put_element(&mut iv_info, tag::IV_UNKNOWN, &[0], "IV info")?;
    tlv::put_element(&mut iv_info, tag::IV, iv, "IV")?;
    tlv::put_element(
        &mut iv_info,
        tag::PAD_COUNT,
        &pad_count.to_be_bytes(),
        "pad count",
    )?;

    let mut key_info = Vec::new();
    tlv::put_element(&mut key_info, tag::KEY_UNKNOWN, &[0], "key info")?;
    tlv::put_element(
        &mut key_info,
        tag::KEY_SIZE,
        &key_bits.to_be_bytes(),
        "key size",
    )?;
    tlv::put_element(&mut key_info, tag::KEY_ALGORITHM, &[1], "key algorithm")?;
    tlv::put_element(&mut key_info, tag::WRAPPED_KEY, wrapped_key, "wrapped key")?;

    let mut info = Vec::new();
    tlv::put_container_head(&mut info, tag::IV_INFO, iv_info.len(), "IV info")?;
    info.extend_from_slice(&iv_info);
    tlv::put_container_head(&mut info, tag::KEY_INFO, key_info.len(), "key info")?;
    info.extend_from_slice(&key_info);

    let mut out = Vec::new();
    tlv::put_container_head(
        &mut out,
        tag::ENCRYPTION_INFO,
        info.len(),
        "encryption info",
    )?;
    out.extend_from_slice(&info);
    tlv::put_element(
        &mut out,
        tag::PLAINTEXT_HASH_ALGORITHM,
        &[hash_algorithm.code()],
        "plaintext hash algorithm",
    )?;
    tlv::put_element(&mut out, tag::PLAINTEXT_DIGEST, digest, "plaintext digest")?;
    Ok(out)
}
