//! Authentication strings (spec 9.2): the one-time 4-10 digit code typed on
//! the phone, and the salted hash a server keeps instead of the string.
//!
//! The hash is PBKDF2-HMAC-SHA256. Be honest about what it buys: a 4-10 digit
//! code has at most 10^10 values, so anyone holding a stored hash can find the
//! string by brute force however many iterations are used. The hash keeps
//! the plain string out of databases, backups and logs, and the iteration
//! count slows that search down; the real protection is that strings are
//! short-lived and single-use (the host must clear the record's string once
//! the operation completes) and that failures lock the record out
//! ([`ServerConfig::max_failed_attempts`](super::ServerConfig::max_failed_attempts)).
//!
//! Nothing here prints a string or a hash: `Debug` is redacted on every type
//! that holds one.

use core::fmt;

use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

/// Fewest digits an authentication string may have (Cisco: 4-10 digits).
pub const MIN_AUTH_STRING_DIGITS: usize = 4;
/// Most digits an authentication string may have.
pub const MAX_AUTH_STRING_DIGITS: usize = 10;

/// Length of the stored PBKDF2 output.
pub const AUTH_STRING_HASH_LEN: usize = 32;

/// Fewest salt bytes [`AuthStringHash::new`] accepts.
pub const MIN_SALT_LEN: usize = 8;

/// Why an authentication string or its hash parameters were refused.
/// Never carries the string itself.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthStringError {
    /// The string is not 4 to 10 ASCII digits.
    #[error("an authentication string is 4 to 10 digits")]
    Format,
    /// A digit count outside 4..=10 was asked for.
    #[error("{0} digits asked for; 4 to 10 are allowed")]
    DigitCount(usize),
    /// The salt is shorter than [`MIN_SALT_LEN`] bytes.
    #[error("salt of {0} bytes is too short (at least 8)")]
    SaltTooShort(usize),
    /// The iteration count is zero.
    #[error("the iteration count must be at least 1")]
    ZeroIterations,
}

/// Checks that `candidate` is a well-formed authentication string: 4 to 10
/// ASCII digits, nothing else.
///
/// ```
/// use capf_core::capf::server::validate_auth_string;
/// assert!(validate_auth_string("123456").is_ok());
/// assert!(validate_auth_string("123").is_err());
/// assert!(validate_auth_string("12345678901").is_err());
/// assert!(validate_auth_string("12a456").is_err());
/// ```
pub fn validate_auth_string(candidate: &str) -> Result<(), AuthStringError> {
    let digits = candidate.len();
    if (MIN_AUTH_STRING_DIGITS..=MAX_AUTH_STRING_DIGITS).contains(&digits)
        && candidate.bytes().all(|byte| byte.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(AuthStringError::Format)
    }
}

/// A freshly generated authentication string, to show once to an
/// administrator. `Debug` is redacted; the bytes are overwritten (best
/// effort) when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedAuthString {
    digits: String,
}

impl GeneratedAuthString {
    /// The digits. Do not log them.
    pub fn expose(&self) -> &str {
        &self.digits
    }
}

impl fmt::Debug for GeneratedAuthString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratedAuthString(<redacted>)")
    }
}

impl Drop for GeneratedAuthString {
    fn drop(&mut self) {
        // Digits are ASCII, so zero bytes keep the String valid UTF-8.
        let bytes = core::mem::take(&mut self.digits).into_bytes();
        let mut bytes = bytes;
        bytes.fill(0);
        core::hint::black_box(&mut bytes);
    }
}

/// Draws a uniformly random authentication string of `digits` digits
/// (4..=10) from an injected cryptographic RNG.
///
/// ```
/// use capf_core::capf::server::{generate_auth_string, validate_auth_string};
/// use rand_core::OsRng;
/// let code = generate_auth_string(&mut OsRng, 8).unwrap();
/// assert!(validate_auth_string(code.expose()).is_ok());
/// assert_eq!(code.expose().len(), 8);
/// ```
pub fn generate_auth_string<R: RngCore + CryptoRng + ?Sized>(
    rng: &mut R,
    digits: usize,
) -> Result<GeneratedAuthString, AuthStringError> {
    if !(MIN_AUTH_STRING_DIGITS..=MAX_AUTH_STRING_DIGITS).contains(&digits) {
        return Err(AuthStringError::DigitCount(digits));
    }
    // Rejection sampling: 4_294_967_290 is the largest multiple of 10 that
    // fits in a u32, so values at or above it would bias the low digits.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 10) - 1;
    let mut text = String::with_capacity(digits);
    while text.len() < digits {
        let draw = rng.next_u32();
        if draw <= LIMIT {
            let digit = u8::try_from(draw % 10).unwrap_or(0);
            text.push(char::from(b'0'.saturating_add(digit)));
        }
    }
    Ok(GeneratedAuthString { digits: text })
}

/// The salted PBKDF2-HMAC-SHA256 hash of an authentication string, the only
/// form in which a host stores it.
///
/// ```
/// use capf_core::capf::server::AuthStringHash;
/// let stored = AuthStringHash::new("123456", b"per-device-salt", 1_000).unwrap();
/// assert!(stored.verify(b"123456"));
/// assert!(!stored.verify(b"654321"));
/// // Store salt(), iterations() and hash(); load them back with from_parts().
/// let loaded = AuthStringHash::from_parts(stored.salt().to_vec(), stored.iterations(), *stored.hash());
/// assert!(loaded.verify(b"123456"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthStringHash {
    salt: Vec<u8>,
    iterations: u32,
    hash: [u8; AUTH_STRING_HASH_LEN],
    /// Set for a keyed hash ([`AuthStringHash::keyed`]): HMAC-SHA256 under
    /// this key instead of PBKDF2.
    key: Option<[u8; AUTH_KEY_LEN]>,
}

/// Length of the secret key of a keyed hash ([`AuthStringHash::keyed`]).
pub const AUTH_KEY_LEN: usize = 32;

/// HMAC-SHA256 of `auth_string` under `key`: the keyed hash a host stores
/// (and indexes) instead of the string. Without the key, which a host keeps
/// outside its database, a stolen hash does not let anyone test guesses;
/// with it, one guess costs one HMAC, so lookups and bulk scheduling are
/// fast. Checks the string's format (4-10 digits).
pub fn keyed_auth_string_hash(
    key: &[u8; AUTH_KEY_LEN],
    auth_string: &str,
) -> Result<[u8; AUTH_STRING_HASH_LEN], AuthStringError> {
    validate_auth_string(auth_string)?;
    Ok(hmac_sha256(key, auth_string.as_bytes()))
}

fn hmac_sha256(key: &[u8; AUTH_KEY_LEN], message: &[u8]) -> [u8; AUTH_STRING_HASH_LEN] {
    use hmac::Mac as _;
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; AUTH_STRING_HASH_LEN],
    };
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl AuthStringHash {
    /// A reasonable iteration count for new hashes (OWASP's 2023 figure for
    /// PBKDF2-HMAC-SHA256). Tests may use far fewer.
    pub const RECOMMENDED_ITERATIONS: u32 = 600_000;

    /// Hashes a well-formed authentication string (4-10 digits) with a salt
    /// of at least 8 bytes (use 16 random bytes per record).
    pub fn new(auth_string: &str, salt: &[u8], iterations: u32) -> Result<Self, AuthStringError> {
        validate_auth_string(auth_string)?;
        if salt.len() < MIN_SALT_LEN {
            return Err(AuthStringError::SaltTooShort(salt.len()));
        }
        if iterations == 0 {
            return Err(AuthStringError::ZeroIterations);
        }
        Ok(Self {
            salt: salt.to_vec(),
            iterations,
            hash: derive(auth_string.as_bytes(), salt, iterations),
            key: None,
        })
    }

    /// A keyed hash as stored ([`keyed_auth_string_hash`]) with the key to
    /// verify it: verification costs one HMAC. [`salt`](Self::salt) is empty
    /// and [`iterations`](Self::iterations) 0 for it.
    pub fn keyed(key: &[u8; AUTH_KEY_LEN], hash: [u8; AUTH_STRING_HASH_LEN]) -> Self {
        Self {
            salt: Vec::new(),
            iterations: 0,
            hash,
            key: Some(*key),
        }
    }

    /// Whether this is a keyed hash ([`AuthStringHash::keyed`]).
    pub const fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Rebuilds a stored hash (no checks: a record with zero iterations or a
    /// short salt simply verifies what it verifies).
    pub fn from_parts(salt: Vec<u8>, iterations: u32, hash: [u8; AUTH_STRING_HASH_LEN]) -> Self {
        Self {
            salt,
            iterations,
            hash,
            key: None,
        }
    }

    /// Whether `candidate` (the bytes of the PASSWORD element, without NUL)
    /// is the string. The final comparison is constant-time; the derivation
    /// runs the full iteration count whatever the candidate looks like, so
    /// malformed candidates take as long as well-formed ones.
    pub fn verify(&self, candidate: &[u8]) -> bool {
        let derived = match &self.key {
            Some(key) => hmac_sha256(key, candidate),
            None => derive(candidate, &self.salt, self.iterations.max(1)),
        };
        let well_formed = core::str::from_utf8(candidate)
            .ok()
            .is_some_and(|text| validate_auth_string(text).is_ok());
        bool::from(derived.ct_eq(&self.hash)) & well_formed
    }

    /// The salt, for storage.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count, for storage.
    pub const fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The derived hash, for storage. Do not log it.
    pub const fn hash(&self) -> &[u8; AUTH_STRING_HASH_LEN] {
        &self.hash
    }
}

impl fmt::Debug for AuthStringHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthStringHash")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

fn derive(secret: &[u8], salt: &[u8], iterations: u32) -> [u8; AUTH_STRING_HASH_LEN] {
    let mut out = [0u8; AUTH_STRING_HASH_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret, salt, iterations, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic counter "RNG" for tests only.
    struct Counter(u32);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.0 = self.0.wrapping_add(1);
            self.0
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.next_u32())
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.iter_mut()
                .for_each(|b| *b = self.next_u32().to_le_bytes()[0]);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}

    #[test]
    fn rfc_7914_style_known_answer() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1) from RFC 7914 section 11
        // (first 32 bytes).
        let out = derive(b"password", b"salt", 1);
        assert_eq!(
            hex::encode(out),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
    }

    #[test]
    fn hash_checks_its_inputs() {
        assert_eq!(
            AuthStringHash::new("12345", b"short", 1),
            Err(AuthStringError::SaltTooShort(5))
        );
        assert_eq!(
            AuthStringHash::new("12345", b"long enough", 0),
            Err(AuthStringError::ZeroIterations)
        );
        assert_eq!(
            AuthStringHash::new("123", b"long enough", 1),
            Err(AuthStringError::Format)
        );
        assert_eq!(
            AuthStringHash::new("1234 ", b"long enough", 1),
            Err(AuthStringError::Format)
        );
    }

    #[test]
    fn verify_accepts_only_the_string() {
        let stored = AuthStringHash::new("0123456789", b"0123456789abcdef", 10).unwrap();
        assert!(stored.verify(b"0123456789"));
        assert!(!stored.verify(b"0123456788"));
        assert!(!stored.verify(b"123456789"));
        assert!(!stored.verify(b""));
        assert!(!stored.verify(b"0123456789\0"));
        let other_salt = AuthStringHash::new("0123456789", b"fedcba9876543210", 10).unwrap();
        assert_ne!(other_salt.hash(), stored.hash());
    }

    #[test]
    fn keyed_hash_is_hmac_sha256_and_verifies_only_the_string() {
        // The expected value is HMAC (RFC 2104) built by hand from SHA-256,
        // independently of the hmac crate the code uses.
        let key = [0x0b_u8; 32];
        let expected = {
            use sha2::Digest as _;
            let mut block = [0_u8; 64];
            block[..32].copy_from_slice(&key);
            let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
            let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
            let inner = sha2::Sha256::new()
                .chain_update(&inner_pad)
                .chain_update(b"123456")
                .finalize();
            let outer = sha2::Sha256::new()
                .chain_update(&outer_pad)
                .chain_update(inner)
                .finalize();
            <[u8; 32]>::from(outer)
        };
        let hash = keyed_auth_string_hash(&key, "123456").unwrap();
        assert_eq!(hash, expected);
        let verifier = AuthStringHash::keyed(&key, hash);
        assert!(verifier.is_keyed());
        assert!(verifier.verify(b"123456"));
        assert!(!verifier.verify(b"123457"));
        assert!(!AuthStringHash::keyed(&[0x0c; 32], hash).verify(b"123456"));
        assert_eq!(
            keyed_auth_string_hash(&key, "12a4"),
            Err(AuthStringError::Format)
        );
        assert!(!format!("{verifier:?}").contains("11"));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let stored = AuthStringHash::new("123456", b"0123456789abcdef", 3).unwrap();
        let text = format!("{stored:?}");
        assert!(!text.contains("123456"));
        assert!(!text.contains(&format!("{:?}", stored.hash())));
        assert!(!text.contains("salt"));
        let code = generate_auth_string(&mut Counter(0), 6).unwrap();
        assert_eq!(format!("{code:?}"), "GeneratedAuthString(<redacted>)");
    }

    #[test]
    fn generation_bounds_and_format() {
        let mut rng = Counter(0);
        for digits in 4..=10 {
            let code = generate_auth_string(&mut rng, digits).unwrap();
            assert_eq!(code.expose().len(), digits);
            validate_auth_string(code.expose()).unwrap();
        }
        assert_eq!(
            generate_auth_string(&mut rng, 3).err(),
            Some(AuthStringError::DigitCount(3))
        );
        assert_eq!(
            generate_auth_string(&mut rng, 11).err(),
            Some(AuthStringError::DigitCount(11))
        );
        // Draws above the last multiple of ten are rejected, not folded.
        // 4_294_967_289 is the last accepted draw (digit 9); the six above
        // it are skipped, then the counter wraps to 0, 1, 2.
        let mut high = Counter(u32::MAX - 7);
        let code = generate_auth_string(&mut high, 4).unwrap();
        assert_eq!(code.expose(), "9012");
    }
}
