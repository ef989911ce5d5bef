//! One-time authentication strings drawn for scheduled devices: a fresh
//! string whose keyed hash no scheduled device already holds, so a phone's
//! string names exactly one device (the rule every host that schedules in
//! bulk needs, kept here rather than in the CLI or a binding).

use std::collections::HashSet;

use capf_core::capf::server::{AUTH_STRING_HASH_LEN, GeneratedAuthString, generate_auth_string};

use crate::Registry;
use crate::auth_key::AuthKey;
use crate::error::{RegistryError, RegistryResult};
use crate::model::{Operation, StoredAuthHash};

/// Draws a fresh string of `digits` digits whose keyed hash no scheduled
/// device holds and that is not in `taken` (the strings of the same batch,
/// by hash; the new one is added). Returns the string, to show once, and
/// its stored hash. Gives up after many draws (the space of strings of that
/// length is nearly used up among scheduled devices).
pub fn generate_unique_auth_string<R, G>(
    registry: &R,
    key: &AuthKey,
    digits: usize,
    taken: &mut HashSet<[u8; AUTH_STRING_HASH_LEN]>,
    rng: &mut G,
) -> RegistryResult<(GeneratedAuthString, StoredAuthHash)>
where
    R: Registry + ?Sized,
    G: rand_core::RngCore + rand_core::CryptoRng,
{
    const MAX_DRAWS: usize = 1_000;
    for _ in 0..MAX_DRAWS {
        let generated = generate_auth_string(rng, digits)
            .map_err(|error| RegistryError::AuthString(error.to_string()))?;
        let hash = key.hash(generated.expose())?;
        if taken.contains(&hash) {
            continue;
        }
        let in_use = registry
            .devices_by_auth_hash(&hash)?
            .iter()
            .any(|device| device.operation != Operation::None);
        if in_use {
            continue;
        }
        taken.insert(hash);
        return Ok((generated, StoredAuthHash::Keyed { hash }));
    }
    Err(RegistryError::AuthString(format!(
        "no unused {digits}-digit string found in {MAX_DRAWS} draws: use more digits"
    )))
}
