//! Encrypted configs (`.enc.sgn`) and their reduced companions against the
//! certutils vectors; encrypt/decrypt round trips with a seeded RNG.

use ctl_format::encrypted_config::{self, EncryptOptions, EncryptedConfig};
use ctl_format::signed_file::{self, SignOptions, SignedFile};
use ctl_format::{
    Certificate, Error, HashAlgorithm, HashPolicy, MalformedFile, Refusal, RsaFileSigner,
    UsageError, reduced_config,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use std::path::{Path, PathBuf};

mod property_support;
use property_support::run_reaching;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/sgn")
}

fn read(name: &str) -> Vec<u8> {
    let path = vectors().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sidecar(name: &str) -> Value {
    serde_json::from_slice(&read(&format!("{name}.json"))).unwrap()
}

fn key_text(name: &str) -> String {
    std::fs::read_to_string(vectors().join("keys").join(name)).unwrap()
}

fn certificate(name: &str) -> Certificate {
    Certificate::from_pem(&key_text(name)).unwrap()
}

fn phone_key() -> rsa::RsaPrivateKey {
    ctl_format::pem::rsa_private_key(&key_text("phone-lsc.pem")).unwrap()
}

fn tftp_signer() -> RsaFileSigner {
    RsaFileSigner::from_pem(&key_text("ccm-tftp.pem")).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(HashAlgorithm::Sha256.digest_parts(&[bytes]))
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

fn as_usize(value: &Value) -> usize {
    usize::try_from(number(value)).unwrap()
}

const ENCRYPTED: [&str; 4] = [
    "SEPAABBCCDDEEFF.cnf.xml.enc.sgn",
    "SEP0A0B0C0D0E0F.cnf.xml.enc.sgn",
    "SEPAABBCCDDEEFF-flipped.cnf.xml.enc.sgn",
    "SEPAABBCCDDEEFF-truncated.cnf.xml.enc.sgn",
];

#[test]
fn every_encrypted_vector_matches_its_sidecar() {
    let signer = certificate("ccm-tftp.pem");
    for name in ENCRYPTED {
        let bytes = read(name);
        let expected = sidecar(name);
        let enc = &expected["encryption"];
        let config = EncryptedConfig::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(
            hex::encode(config.iv()),
            enc["iv"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            u64::from(config.pad_count()),
            number(&enc["pad_count"]),
            "{name}"
        );
        assert_eq!(
            u64::from(config.key_size_bits()),
            number(&enc["key_size_field"]),
            "{name}"
        );
        assert_eq!(
            config.key_algorithm().map(u64::from),
            enc["key_algorithm_field"].as_u64(),
            "{name}"
        );
        assert_eq!(
            config.iv_unknown().map(u64::from),
            enc["iv_unknown_field"].as_u64(),
            "{name}"
        );
        assert_eq!(
            config.key_unknown().map(u64::from),
            enc["key_unknown_field"].as_u64(),
            "{name}"
        );
        assert_eq!(
            config.wrapped_key().len(),
            as_usize(&enc["wrapped_key_length"]),
            "{name}"
        );
        assert_eq!(
            u64::from(config.plaintext_hash_algorithm().code()),
            number(&enc["plaintext_hash_algorithm"]),
            "{name}"
        );
        assert_eq!(
            hex::encode(config.plaintext_digest()),
            enc["plaintext_hash"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            config.ciphertext().len(),
            as_usize(&enc["ciphertext_length"]),
            "{name}"
        );
        let payload = &expected["payload"];
        assert_eq!(
            config.signed_file().payload_offset(),
            as_usize(&payload["offset"]),
            "{name}"
        );
        assert_eq!(
            sha256_hex(config.ciphertext()),
            payload["sha256"].as_str().unwrap(),
            "{name}"
        );

        let verdict = &expected["expected"];
        let decrypted = config.decrypt(&signer, &phone_key(), HashPolicy::CISCO);
        if verdict["signature_valid"] == true {
            let plaintext = decrypted.unwrap_or_else(|e| panic!("{name}: {e}"));
            let wanted = read(enc["expected_plaintext_file"].as_str().unwrap());
            assert_eq!(plaintext, wanted, "{name}");
            assert_eq!(
                plaintext.len(),
                as_usize(&enc["plaintext_length"]),
                "{name}"
            );
            assert_eq!(
                sha256_hex(&plaintext),
                enc["plaintext_sha256"].as_str().unwrap(),
                "{name}"
            );
            assert_eq!(enc["plaintext_hash_matches"], true, "{name}");
        } else {
            assert_eq!(verdict["error"], "signature_invalid", "{name}");
            // Refused before anything is decrypted.
            assert_eq!(
                decrypted.unwrap_err(),
                Error::Refused(Refusal::SignatureInvalid),
                "{name}"
            );
            let anyway = config.decrypt_unverified(&phone_key()).unwrap_err();
            match verdict["if_decrypted_anyway"].as_str().unwrap() {
                "plaintext_hash_mismatch" => {
                    assert_eq!(
                        anyway,
                        Error::Refused(Refusal::PlaintextDigestMismatch),
                        "{name}"
                    );
                    assert_eq!(enc["plaintext_hash_matches"], false, "{name}");
                }
                "ciphertext_not_block_aligned" => assert_eq!(
                    anyway,
                    Error::Refused(Refusal::CiphertextNotBlockAligned {
                        length: as_usize(&enc["ciphertext_length"])
                    }),
                    "{name}"
                ),
                other => panic!("{name}: unknown expectation {other}"),
            }
        }
    }
}

#[test]
fn plain_signed_files_are_not_encrypted_configs() {
    for name in [
        "SEP001122334455.cnf.xml.sgn",
        "SEPAABBCCDDEEFF.cnf.xml.sgn",
        "SEP0A0B0C0D0E0F.cnf.xml.sgn",
    ] {
        assert!(
            matches!(
                EncryptedConfig::parse(&read(name)),
                Err(Error::Malformed(MalformedFile::NotEncrypted { .. }))
            ),
            "{name}"
        );
    }
}

/// Damaged elements of the valid vector, each caught at parse time with the
/// element's offset (from the sidecar).
#[test]
fn inconsistent_encryption_elements_are_refused_with_offsets() {
    let original = read("SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
    let elements = sidecar("SEPAABBCCDDEEFF.cnf.xml.enc.sgn")["header_elements"].clone();
    let offset_of = |tag: u64| {
        elements
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["tag"] == tag)
            .map(|e| as_usize(&e["offset"]))
            .unwrap()
    };
    let with = |offset: usize, value: &[u8]| {
        let mut bytes = original.clone();
        bytes[offset..offset + value.len()].copy_from_slice(value);
        bytes
    };
    // Pad count (tag 20) 0 and 17.
    for count in [0u8, 17] {
        let at = offset_of(20);
        let bytes = with(at + 3, &[0, count]);
        assert!(
            matches!(EncryptedConfig::parse(&bytes), Err(Error::Malformed(MalformedFile::BadValue { offset, .. })) if offset == at),
            "pad count {count}"
        );
    }
    // Key size (tag 23) not 8 × the wrapped-key length.
    let at = offset_of(23);
    let bytes = with(at + 3, &1024u16.to_be_bytes());
    assert!(
        matches!(EncryptedConfig::parse(&bytes), Err(Error::Malformed(MalformedFile::BadValue { offset, .. })) if offset == at)
    );
    // Unknown plaintext hash algorithm (tag 26).
    let at = offset_of(26);
    assert_eq!(
        EncryptedConfig::parse(&with(at + 3, &[9])).unwrap_err(),
        Error::Malformed(MalformedFile::UnsupportedHashAlgorithm {
            offset: at,
            code: 9
        })
    );
    // SHA-512 named, but a 20-byte digest stored.
    assert!(matches!(
        EncryptedConfig::parse(&with(at + 3, &[3])),
        Err(Error::Malformed(MalformedFile::BadValue { offset, .. })) if offset == offset_of(27)
    ));
}

#[test]
fn decryption_faults_are_reported_without_secrets() {
    let original = read("SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
    // Flip a byte of the second-to-last ciphertext block: it lands in the
    // 0x0D padding of the last plaintext block (1057 bytes = 66 blocks + 1).
    let mut bytes = original.clone();
    let index = bytes.len() - 32 + 5;
    bytes[index] ^= 0x40;
    let config = EncryptedConfig::parse(&bytes).unwrap();
    let error = config.decrypt_unverified(&phone_key()).unwrap_err();
    assert!(
        matches!(error, Error::Refused(Refusal::Decryption { .. })),
        "{error:?}"
    );

    // The wrong private key cannot unwrap the AES key.
    let config = EncryptedConfig::parse(&original).unwrap();
    let wrong = ctl_format::pem::rsa_private_key(&key_text("ccm-tftp.pem")).unwrap();
    let error = config
        .decrypt(&certificate("ccm-tftp.pem"), &wrong, HashPolicy::CISCO)
        .unwrap_err();
    assert!(
        matches!(error, Error::Refused(Refusal::Decryption { .. })),
        "{error:?}"
    );
    let text = format!("{error} {error:?} {config:?}");
    assert!(
        !text.contains("d6d94167df0480d375e83239ae96d052"),
        "AES key leaked"
    );
    assert!(!text.contains("deviceProtocol"), "plaintext leaked");

    // The signer check comes first: a wrong signer certificate refuses.
    let error = config
        .decrypt(
            &certificate("phone-lsc.pem"),
            &phone_key(),
            HashPolicy::CISCO,
        )
        .unwrap_err();
    assert!(
        matches!(error, Error::Refused(Refusal::SignerMismatch { .. })),
        "{error:?}"
    );
}

/// The reduced companions written by `enccnf`: payload and whole file.
#[test]
fn reduced_configs_are_reproduced_byte_for_byte() {
    let phone = certificate("phone-lsc.pem");
    let tftp = certificate("ccm-tftp.pem");
    for (name, plaintext, hash) in [
        (
            "SEPAABBCCDDEEFF.cnf.xml.sgn",
            "SEPAABBCCDDEEFF.cnf.xml.plaintext",
            HashAlgorithm::Sha1,
        ),
        (
            "SEP0A0B0C0D0E0F.cnf.xml.sgn",
            "SEP0A0B0C0D0E0F.cnf.xml.plaintext",
            HashAlgorithm::Sha512,
        ),
    ] {
        let vector = read(name);
        let expected = sidecar(name);
        let reduced = reduced_config(&read(plaintext), &phone).unwrap();
        let file = SignedFile::parse(&vector).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&reduced),
            String::from_utf8_lossy(file.payload()),
            "{name}"
        );
        let timestamp = u32::try_from(number(&expected["header"]["timestamp"])).unwrap();
        let options = SignOptions::certutils(hash, name, timestamp);
        let built = signed_file::sign(&reduced, &tftp, &tftp_signer(), &options).unwrap();
        assert_eq!(built, vector, "{name}");
    }
}

#[test]
fn reduced_config_keeps_only_present_elements() {
    let phone = certificate("phone-lsc.pem");
    let xml = b"<?xml version=\"1.0\"?>\n<device><capfAuthMode>1</capfAuthMode><x><ipAddressMode>9</ipAddressMode></x></device>";
    let reduced = String::from_utf8(reduced_config(xml, &phone).unwrap()).unwrap();
    assert!(
        reduced.contains("  <capfAuthMode>1</capfAuthMode>\n  <certHash>"),
        "{reduced}"
    );
    assert!(
        !reduced.contains("ipAddressMode"),
        "nested elements are not direct children"
    );
    assert!(matches!(
        reduced_config(b"<phone/>", &phone),
        Err(Error::Malformed(MalformedFile::BadXml { .. }))
    ));
}

fn encrypt_like(vector: &str, hash: HashAlgorithm, seed: u64) -> Vec<u8> {
    let expected = sidecar(vector);
    let plaintext = read(
        expected["encryption"]["expected_plaintext_file"]
            .as_str()
            .unwrap(),
    );
    let options = EncryptOptions {
        hash_algorithm: hash,
        filename: Some(expected["header"]["filename"].as_str().unwrap().to_owned()),
        timestamp: Some(u32::try_from(number(&expected["header"]["timestamp"])).unwrap()),
    };
    encrypted_config::encrypt(
        &plaintext,
        &certificate("phone-lsc.pem"),
        &certificate("ccm-tftp.pem"),
        &tftp_signer(),
        &options,
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

/// Our encryption of the same plaintext, for the same phone, signer, name
/// and time, has certutils' exact layout (every element at the sidecar's
/// offset, same sizes), decrypts back and verifies. Only the random key,
/// IV and wrapping differ.
#[test]
fn encrypt_matches_the_certutils_layout_and_round_trips() {
    for (vector, hash) in [
        ("SEPAABBCCDDEEFF.cnf.xml.enc.sgn", HashAlgorithm::Sha1),
        ("SEP0A0B0C0D0E0F.cnf.xml.enc.sgn", HashAlgorithm::Sha512),
    ] {
        let expected = sidecar(vector);
        let built = encrypt_like(vector, hash, 7);
        assert_eq!(
            built,
            encrypt_like(vector, hash, 7),
            "seeded RNG is deterministic"
        );
        assert_ne!(built, encrypt_like(vector, hash, 8));
        assert_eq!(built.len(), as_usize(&expected["size"]), "{vector}");

        let config = EncryptedConfig::parse(&built).unwrap();
        let header = config.header();
        let items: Vec<(usize, u8)> = header
            .items()
            .iter()
            .map(|i| (i.offset(), i.tag()))
            .collect();
        let wanted: Vec<(usize, u8)> = expected["header_elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    as_usize(&e["offset"]),
                    u8::try_from(number(&e["tag"])).unwrap(),
                )
            })
            .collect();
        assert_eq!(items, wanted, "{vector}");
        // Every element whose value the sidecar states and that does not
        // depend on the random key or IV.
        for element in expected["header_elements"].as_array().unwrap() {
            let tag = number(&element["tag"]);
            if matches!(tag, 12 | 19 | 25) || element["value"].is_null() {
                continue;
            }
            let offset = as_usize(&element["offset"]);
            let length = as_usize(&element["length"]);
            let original = read(vector);
            assert_eq!(
                built[offset..offset + 3 + length],
                original[offset..offset + 3 + length],
                "{vector}: element {tag}"
            );
        }

        let plaintext = config
            .decrypt(
                &certificate("ccm-tftp.pem"),
                &phone_key(),
                HashPolicy::CISCO,
            )
            .unwrap();
        assert_eq!(
            plaintext,
            read(
                expected["encryption"]["expected_plaintext_file"]
                    .as_str()
                    .unwrap()
            )
        );
    }
}

#[test]
fn block_aligned_plaintext_gets_a_whole_block_of_padding() {
    let options = EncryptOptions {
        hash_algorithm: HashAlgorithm::Sha1,
        filename: None,
        timestamp: None,
    };
    for plaintext in [&b""[..], &[b'x'; 16][..], &[b'y'; 31][..]] {
        let built = encrypted_config::encrypt(
            plaintext,
            &certificate("phone-lsc.pem"),
            &certificate("ccm-tftp.pem"),
            &tftp_signer(),
            &options,
            &mut StdRng::seed_from_u64(1),
        )
        .unwrap();
        let config = EncryptedConfig::parse(&built).unwrap();
        assert_eq!(usize::from(config.pad_count()), 16 - plaintext.len() % 16);
        assert_eq!(
            config.ciphertext().len(),
            plaintext.len() + usize::from(config.pad_count())
        );
        let decrypted = config
            .decrypt(
                &certificate("ccm-tftp.pem"),
                &phone_key(),
                HashPolicy::CISCO,
            )
            .unwrap();
        assert_eq!(decrypted, plaintext);
    }
}

#[test]
fn ec_phone_certificates_are_refused() {
    let options = EncryptOptions {
        hash_algorithm: HashAlgorithm::Sha1,
        filename: Some("SEP001122334455.cnf.xml.enc.sgn".into()),
        timestamp: Some(0),
    };
    let error = encrypted_config::encrypt(
        b"<device/>",
        &certificate("tftp-ec.pem"),
        &certificate("ccm-tftp.pem"),
        &tftp_signer(),
        &options,
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap_err();
    assert_eq!(error, Error::Misuse(UsageError::EcKeyNotSupported));
    assert!(error.to_string().contains("EC key"));
}

/// Arbitrary bytes, or `real` with one byte replaced.
fn mutated_or_arbitrary(real: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let (length, real) = (real.len(), real.to_vec());
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..65_536),
        (0..length, any::<u8>()).prop_map(move |(index, value)| {
            let mut bytes = real.clone();
            bytes[index] = value;
            bytes
        }),
    ]
}

#[test]
fn arbitrary_and_mutated_xml_never_panics_in_reduced_config() {
    let phone = certificate("phone-lsc.pem");
    let plain = read("SEPAABBCCDDEEFF.cnf.xml.plaintext");
    run_reaching(
        "reduced config",
        256,
        25,
        mutated_or_arbitrary(&plain),
        |xml| match reduced_config(&xml, &phone) {
            Ok(reduced) => {
                // The reduced file carries the phone certificate's hash.
                prop_assert!(String::from_utf8_lossy(&reduced).contains("<certHash>"));
                Ok(true)
            }
            Err(_) => Ok(false),
        },
    );
}

#[test]
fn mutated_vector_is_never_decrypted() {
    let real = read("SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
    let tftp = certificate("ccm-tftp.pem");
    let key = phone_key();
    assert!(
        EncryptedConfig::parse(&real)
            .unwrap()
            .decrypt(&tftp, &key, HashPolicy::ANY)
            .is_ok()
    );
    let length = real.len();
    let changed = (0..length, 1u8..=255);
    run_reaching(
        "encrypted config parse",
        128,
        40,
        changed,
        |(index, delta)| {
            let mut bytes = real.clone();
            bytes[index] = bytes[index].wrapping_add(delta);
            let Ok(config) = EncryptedConfig::parse(&bytes) else {
                return Ok(false);
            };
            if let Ok(plaintext) = config.decrypt_unverified(&key) {
                prop_assert!(plaintext.len() < bytes.len());
            }
            prop_assert!(config.decrypt(&tftp, &key, HashPolicy::ANY).is_err());
            Ok(true)
        },
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let real = read("SEPAABBCCDDEEFF.cnf.xml.enc.sgn");
    run_reaching(
        "encrypted config parse of arbitrary or mutated bytes",
        256,
        40,
        mutated_or_arbitrary(&real),
        |bytes| Ok(EncryptedConfig::parse(&bytes).is_ok()),
    );
}
