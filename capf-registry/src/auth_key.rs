//! The secret key of the keyed authentication-string hash, and the one rule
//! every program follows to find it.
//!
//! One-time strings are stored as HMAC-SHA256 under a 32-byte key
//! ([`capf_core::capf::server::keyed_auth_string_hash`]). The key is kept
//! outside the database: a stolen database (or a backup of it) alone does
//! not let anyone test guesses, while a server checks a string with one
//! HMAC. Every program that reads or writes strings (`capf device`,
//! `capf serve`, the Python example server, every node of a cluster) finds
//! the key the same way, with [`resolve_auth_key_path`]:
//!
//! 1. the option `--auth-key-file FILE`, if given;
//! 2. else the environment variable [`AUTH_KEY_ENV`] (`CAPF_AUTH_KEY_FILE`),
//!    if set and not empty;
//! 3. else beside the database: `DB` + [`DEFAULT_SUFFIX`]
//!    (`capf.db` → `capf.db.auth-key`). Back the database up without it.
//!
//! A program that writes strings creates the key on first use
//! ([`AuthKeyUse::CreateIfMissing`]: 32 random bytes, owner-only
//! permissions 0600, created exclusively so two programs cannot both
//! create one), unless the database already holds keyed strings: a new key
//! would void them all, so that is an error. A program that only checks
//! strings ([`AuthKeyUse::MustExist`]) never creates one. A key file that
//! group or others may read is refused (like ssh's private keys).

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use capf_core::capf::server::{AUTH_KEY_LEN, AUTH_STRING_HASH_LEN, keyed_auth_string_hash};

use crate::error::{RegistryError, RegistryResult};

/// The environment variable naming the key file, the same in every program.
pub const AUTH_KEY_ENV: &str = "CAPF_AUTH_KEY_FILE";

/// The option naming the key file, the same in every program.
pub const AUTH_KEY_OPTION: &str = "--auth-key-file";

/// Appended to the database's path for the default key file.
pub const DEFAULT_SUFFIX: &str = ".auth-key";

/// The 32-byte key of the keyed authentication-string hash. `Debug` is
/// redacted; never log it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey([u8; AUTH_KEY_LEN]);

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

impl AuthKey {
    /// A key from its bytes (tests, hosts that keep the key elsewhere, e.g.
    /// in a secret store).
    pub const fn from_bytes(bytes: [u8; AUTH_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    pub fn generate<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0_u8; AUTH_KEY_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key's bytes, to build a verifier. Do not log them.
    pub const fn bytes(&self) -> &[u8; AUTH_KEY_LEN] {
        &self.0
    }

    /// The keyed hash of a well-formed (4-10 digit) string. The string is
    /// never in the error.
    pub fn hash(&self, auth_string: &str) -> RegistryResult<[u8; AUTH_STRING_HASH_LEN]> {
        keyed_auth_string_hash(&self.0, auth_string)
            .map_err(|error| RegistryError::AuthString(error.to_string()))
    }
}

/// Whether a program may create the key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKeyUse {
    /// A program that writes strings (`capf device`): creates the key on
    /// first use.
    CreateIfMissing,
    /// A program that only checks strings (`capf serve`): the key must
    /// exist.
    MustExist,
}

/// Where the key file is: `option` (`--auth-key-file`), else the value of
/// [`AUTH_KEY_ENV`] (`env`, as read by the host; empty counts as unset),
/// else `db` + [`DEFAULT_SUFFIX`].
pub fn resolve_auth_key_path(option: Option<&Path>, env: Option<OsString>, db: &Path) -> PathBuf {
    if let Some(path) = option {
        return path.to_owned();
    }
    if let Some(value) = env.filter(|value| !value.is_empty()) {
        return PathBuf::from(value);
    }
    // A PostgreSQL URL is not a place for a file (and may hold a
    // password): the key file is then `capf.auth-key` in the current
    // folder, unless named. Every node needs the same key.
    if crate::db_url::is_postgres_url(&db.to_string_lossy()) {
        return PathBuf::from(format!("capf{DEFAULT_SUFFIX}"));
    }
    let mut default = db.as_os_str().to_owned();
    default.push(DEFAULT_SUFFIX);
    PathBuf::from(default)
}

/// [`resolve_auth_key_path`] with the process's own environment.
pub fn auth_key_path_from_env(option: Option<&Path>, db: &Path) -> PathBuf {
    resolve_auth_key_path(option, std::env::var_os(AUTH_KEY_ENV), db)
}

/// Reads the key at `path`, or (for [`AuthKeyUse::CreateIfMissing`], when
/// it does not exist) creates it with 32 bytes from `rng`, owner-only.
/// Returns `None` when it does not exist and `usage` is
/// [`AuthKeyUse::MustExist`]; the caller decides whether that is an error
/// ([`require_auth_key`]). Errors name the file, never its content.
pub fn open_auth_key<R: rand_core::RngCore + rand_core::CryptoRng>(
    path: &Path,
    usage: AuthKeyUse,
    rng: &mut R,
) -> RegistryResult<Option<AuthKey>> {
    match std::fs::metadata(path) {
        Ok(_) => read_key(path).map(Some),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => match usage {
            AuthKeyUse::MustExist => Ok(None),
            AuthKeyUse::CreateIfMissing => create_key(path, rng),
        },
        Err(error) => Err(key_error(path, &error.to_string())),
    }
}

/// The error for a program that meets keyed strings without their key.
pub fn missing_key_error(path: &Path) -> RegistryError {
    RegistryError::AuthKey(format!(
        "the device database holds authentication strings hashed with a key, but there is no \
         key at {}: give the key file with {AUTH_KEY_OPTION} FILE or {AUTH_KEY_ENV}",
        path.display()
    ))
}

/// For a program that writes strings: the key at `path`, created on first
/// use, unless the database already holds `keyed_strings` strings hashed
/// with a key that is not there (a new key would void them).
pub fn require_auth_key<R: rand_core::RngCore + rand_core::CryptoRng>(
    path: &Path,
    keyed_strings: usize,
    rng: &mut R,
) -> RegistryResult<AuthKey> {
    let usage = if keyed_strings > 0 {
        AuthKeyUse::MustExist
    } else {
        AuthKeyUse::CreateIfMissing
    };
    open_auth_key(path, usage, rng)?.ok_or_else(|| missing_key_error(path))
}

fn key_error(path: &Path, why: &str) -> RegistryError {
    RegistryError::AuthKey(format!("{}: {why}", path.display()))
}

fn read_key(path: &Path) -> RegistryResult<AuthKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .map_err(|error| key_error(path, &error.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(key_error(
                path,
                &format!(
                    "the key file may be read by others (mode {:o}); make it owner-only \
                     (chmod 600)",
                    mode & 0o777
                ),
            ));
        }
    }
    let bytes = std::fs::read(path).map_err(|error| key_error(path, &error.to_string()))?;
    let key: [u8; AUTH_KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
        key_error(
            path,
            &format!(
                "not a key file ({} bytes; a key file holds exactly {AUTH_KEY_LEN})",
                bytes.len()
            ),
        )
    })?;
    Ok(AuthKey(key))
}

fn create_key<R: rand_core::RngCore + rand_core::CryptoRng>(
    path: &Path,
    rng: &mut R,
) -> RegistryResult<Option<AuthKey>> {
    use std::io::Write as _;
    let key = AuthKey::generate(rng);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        // Another program created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_key(path).map(Some);
        }
        Err(error) => return Err(key_error(path, &format!("cannot create: {error}"))),
    };
    file.write_all(key.bytes())
        .and_then(|()| file.sync_all())
        .map_err(|error| key_error(path, &format!("cannot write: {error}")))?;
    Ok(Some(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "capf-auth-key-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn option_beats_environment_beats_default_beside_the_database() {
        let db = Path::new("/var/lib/capf/capf.db");
        assert_eq!(
            resolve_auth_key_path(Some(Path::new("/k/opt")), Some("/k/env".into()), db),
            PathBuf::from("/k/opt")
        );
        assert_eq!(
            resolve_auth_key_path(None, Some("/k/env".into()), db),
            PathBuf::from("/k/env")
        );
        assert_eq!(
            resolve_auth_key_path(None, Some("".into()), db),
            PathBuf::from("/var/lib/capf/capf.db.auth-key")
        );
        assert_eq!(
            resolve_auth_key_path(None, None, db),
            PathBuf::from("/var/lib/capf/capf.db.auth-key")
        );
    }

    #[test]
    fn created_once_owner_only_and_read_back() {
        let dir = temp_dir("create");
        let path = dir.join("key");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(
            open_auth_key(&path, AuthKeyUse::MustExist, &mut rng).unwrap(),
            None
        );
        assert!(!path.exists(), "MustExist created a key");
        let created = open_auth_key(&path, AuthKeyUse::CreateIfMissing, &mut rng)
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), created.bytes().to_vec());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Opened again: the same key, not a new one.
        let again = open_auth_key(&path, AuthKeyUse::CreateIfMissing, &mut rng)
            .unwrap()
            .unwrap();
        assert_eq!(again, created);
        assert_eq!(format!("{again:?}"), "AuthKey(<redacted>)");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_may_read_or_of_the_wrong_size_is_refused_without_showing_it() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("refuse");
        let path = dir.join("key");
        std::fs::write(&path, [0x41_u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let error = open_auth_key(&path, AuthKeyUse::MustExist, &mut rng).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("chmod 600"), "{text}");
        assert!(!text.contains("AAAA"), "{text}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(open_auth_key(&path, AuthKeyUse::MustExist, &mut rng).is_ok());
        std::fs::write(&path, [0x41_u8; 31]).unwrap();
        let text = open_auth_key(&path, AuthKeyUse::MustExist, &mut rng)
            .unwrap_err()
            .to_string();
        assert!(text.contains("31 bytes"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_missing_key_with_keyed_strings_is_a_clear_error_and_no_new_key() {
        let dir = temp_dir("missing");
        let path = dir.join("key");
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let error = require_auth_key(&path, 5, &mut rng).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("--auth-key-file"), "{text}");
        assert!(text.contains("CAPF_AUTH_KEY_FILE"), "{text}");
        assert!(!path.exists());
        // No keyed strings yet: created on first use.
        assert!(require_auth_key(&path, 0, &mut rng).is_ok());
        assert!(path.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
