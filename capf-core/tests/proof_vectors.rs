//! The certificate-authentication proofs against the recorded CAPF sessions
//! (`tests/vectors/capf/install-lsc-auth-rsa.json`,
//! `install-mic-auth-rsa1024.json`, `install-nullstring-ec-p256.json`).
//!
//! Every expected value comes from the vectors: the messages' digests from
//! `checks`, the proofs from the AUTH_RESPONSE elements in `decoded`.

mod seeded;

use capf_core::capf::proof::{
    ProofError, ProofHash, ProofKey, ProofPrivateKey, ProofPublicKey, sign_certificate_proof,
    sign_sudi_proof, signed_data_message, sudi_message, verify_certificate_proof,
    verify_sudi_proof,
};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Pkcs1v15Sign};
use serde_json::Value;

struct Vector {
    json: Value,
}

impl Vector {
    fn load(name: &str) -> Self {
        let path = format!(
            "{}/../tests/vectors/capf/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("vector file");
        Vector {
            json: serde_json::from_str(&text).expect("vector json"),
        }
    }

    fn str(&self, key: &str) -> &str {
        self.json[key].as_str().expect(key)
    }

    fn session_id(&self) -> u32 {
        u32::try_from(self.json["session_id"].as_u64().unwrap()).unwrap()
    }

    fn pem(&self, key: &str) -> &str {
        self.json["pem"][key].as_str().expect(key)
    }

    fn pem_der(&self, key: &str) -> Vec<u8> {
        der::pem::decode_vec(self.pem(key).as_bytes()).unwrap().1
    }

    fn check(&self, key: &str) -> &Value {
        &self.json["checks"][key]
    }

    fn check_hex(&self, key: &str) -> Vec<u8> {
        hex::decode(self.check(key).as_str().expect(key)).unwrap()
    }

    /// Value of the named element in the first frame with that command name.
    fn element(&self, command: &str, element: &str) -> Vec<u8> {
        let frames = self.json["decoded"].as_array().unwrap();
        let frame = frames
            .iter()
            .find(|f| f["command_name"] == command)
            .expect(command);
        let el = frame["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == element)
            .expect(element);
        hex::decode(el["value_hex"].as_str().unwrap()).unwrap()
    }

    /// The certificate DER inside the CERTIFICATE wrapper of AUTH_RESPONSE.
    fn sent_certificate(&self) -> Vec<u8> {
        self.element("AUTH_RESPONSE", "CERTIFICATE")[5..].to_vec()
    }

    fn signed_data(&self) -> Vec<u8> {
        self.element("AUTH_RESPONSE", "SIGNED_DATA")
    }

    /// The SHA2_SIGNED_DATA signature after its 3-byte header (hash id 3).
    fn sha2_signed_data(&self) -> Vec<u8> {
        let v = self.element("AUTH_RESPONSE", "SHA2_SIGNED_DATA");
        assert_eq!(v[0], 3);
        assert_eq!(usize::from(u16::from_be_bytes([v[1], v[2]])), v.len() - 3);
        v[3..].to_vec()
    }

    /// The three SUDI_DATA blocks: (lead byte, bytes).
    fn sudi_blocks(&self) -> Vec<(u8, Vec<u8>)> {
        let v = self.element("AUTH_RESPONSE", "SUDI_DATA");
        let mut out = Vec::new();
        let mut rest = &v[..];
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
            out.push((rest[0], rest[3..3 + len].to_vec()));
            rest = &rest[3 + len..];
        }
        assert_eq!(out.len(), 3);
        out
    }
}

const CERT_AUTH_VECTORS: [&str; 2] = ["install-lsc-auth-rsa", "install-mic-auth-rsa1024"];

/// Seeded: the same random numbers on every run.
fn rng() -> rand::rngs::StdRng {
    seeded::rng(3)
}

#[test]
fn built_messages_match_vector_digests() {
    for name in CERT_AUTH_VECTORS {
        let v = Vector::load(name);
        let cert = v.sent_certificate();
        // The certificate sent is the auth certificate, byte for byte.
        assert_eq!(cert, v.pem_der("auth_certificate"), "{name}");
        let m1 = signed_data_message(v.str("device_name"), &cert);
        assert_eq!(
            m1.len() as u64,
            v.check("signed_data_message_length").as_u64().unwrap()
        );
        assert_eq!(
            ProofHash::Sha1.digest(&m1),
            v.check_hex("signed_data_message_sha1"),
            "{name}"
        );
        assert_eq!(
            ProofHash::Sha512.digest(&m1),
            v.check_hex("signed_data_message_sha512"),
            "{name}"
        );

        let sudi_cert = v.sudi_blocks()[0].1.clone();
        assert_eq!(sudi_cert, v.pem_der("sudi_certificate"), "{name}");
        let m2 = sudi_message(v.session_id(), &sudi_cert);
        assert_eq!(
            m2[..4],
            v.check_hex("sudi_message_prefix_hex")[..],
            "{name}"
        );
        assert_eq!(
            ProofHash::Sha1.digest(&m2),
            v.check_hex("sudi_message_sha1"),
            "{name}"
        );
        assert_eq!(
            ProofHash::Sha512.digest(&m2),
            v.check_hex("sudi_message_sha512"),
            "{name}"
        );
    }
}

#[test]
fn rsa_proofs_are_reproduced_byte_for_byte() {
    for name in CERT_AUTH_VECTORS {
        let v = Vector::load(name);
        let device = v.str("device_name");
        let cert = v.sent_certificate();
        let key = ProofPrivateKey::from_pkcs8_pem(v.pem("auth_private_key")).unwrap();
        let sha1 =
            sign_certificate_proof(&key, ProofHash::Sha1, device, &cert, &mut rng()).unwrap();
        assert_eq!(sha1, v.signed_data(), "{name} SIGNED_DATA");
        let sha512 =
            sign_certificate_proof(&key, ProofHash::Sha512, device, &cert, &mut rng()).unwrap();
        assert_eq!(sha512, v.sha2_signed_data(), "{name} SHA2_SIGNED_DATA");

        let blocks = v.sudi_blocks();
        // Lead bytes as the reference client writes them (spec 9.5).
        assert_eq!(
            blocks.iter().map(|b| b.0).collect::<Vec<_>>(),
            [0, ProofHash::Sha1.hash_id(), ProofHash::Sha512.hash_id()]
        );
        let sudi_key = ProofPrivateKey::from_pkcs8_pem(v.pem("sudi_private_key")).unwrap();
        let sudi_cert = &blocks[0].1;
        let s1 = sign_sudi_proof(
            &sudi_key,
            ProofHash::Sha1,
            v.session_id(),
            sudi_cert,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(s1, blocks[1].1, "{name} SUDI SHA-1");
        let s512 = sign_sudi_proof(
            &sudi_key,
            ProofHash::Sha512,
            v.session_id(),
            sudi_cert,
            &mut rng(),
        )
        .unwrap();
        assert_eq!(s512, blocks[2].1, "{name} SUDI SHA-512");
    }
}

#[test]
fn vector_proofs_verify() {
    for name in CERT_AUTH_VECTORS {
        let v = Vector::load(name);
        let device = v.str("device_name");
        let cert = v.sent_certificate();
        verify_certificate_proof(&cert, ProofHash::Sha1, device, &v.signed_data()).unwrap();
        verify_certificate_proof(&cert, ProofHash::Sha512, device, &v.sha2_signed_data()).unwrap();
        let blocks = v.sudi_blocks();
        verify_sudi_proof(&blocks[0].1, ProofHash::Sha1, v.session_id(), &blocks[1].1).unwrap();
        verify_sudi_proof(
            &blocks[0].1,
            ProofHash::Sha512,
            v.session_id(),
            &blocks[2].1,
        )
        .unwrap();
    }
}

#[test]
fn wrong_context_is_rejected() {
    let v = Vector::load("install-lsc-auth-rsa");
    let cert = v.sent_certificate();
    let blocks = v.sudi_blocks();
    // Session id in big-endian order (the byte-order mistake the vector guards against).
    let be = v.session_id().swap_bytes();
    assert!(matches!(
        verify_sudi_proof(&blocks[0].1, ProofHash::Sha1, be, &blocks[1].1),
        Err(ProofError::Mismatch)
    ));
    // Another session.
    assert!(matches!(
        verify_sudi_proof(
            &blocks[0].1,
            ProofHash::Sha512,
            v.session_id() + 1,
            &blocks[2].1
        ),
        Err(ProofError::Mismatch)
    ));
    // Another device name.
    assert!(matches!(
        verify_certificate_proof(&cert, ProofHash::Sha1, "SEP001122334466", &v.signed_data()),
        Err(ProofError::Mismatch)
    ));
    // SHA-1 proof presented as the SHA-512 one.
    assert!(
        verify_certificate_proof(
            &cert,
            ProofHash::Sha512,
            v.str("device_name"),
            &v.signed_data()
        )
        .is_err()
    );
    // The proof checked against another certificate (the SUDI one).
    assert!(
        verify_certificate_proof(
            &blocks[0].1,
            ProofHash::Sha1,
            v.str("device_name"),
            &v.signed_data()
        )
        .is_err()
    );
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for name in CERT_AUTH_VECTORS {
        let v = Vector::load(name);
        let device = v.str("device_name");
        let cert = v.sent_certificate();
        let key = ProofPublicKey::from_certificate_der(&cert).unwrap();
        let m1 = signed_data_message(device, &cert);
        for (hash, proof) in [
            (ProofHash::Sha1, v.signed_data()),
            (ProofHash::Sha512, v.sha2_signed_data()),
        ] {
            for bit in 0..proof.len() * 8 {
                let mut t = proof.clone();
                t[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    key.verify(hash, &m1, &t).is_err(),
                    "{name} {hash:?} bit {bit} accepted"
                );
            }
        }
    }
}

/// Raw RSA private operation on an arbitrary block, to forge "almost right"
/// proofs with the vector's own key.
fn raw_sign(key: &rsa::RsaPrivateKey, block: &[u8]) -> Vec<u8> {
    let s = BigUint::from_bytes_be(block).modpow(key.d(), key.n());
    let mut out = s.to_bytes_be();
    while out.len() < key.size() {
        out.insert(0, 0);
    }
    out
}

#[test]
fn padding_variants_with_matching_trailing_hash_are_rejected() {
    use rsa::pkcs8::DecodePrivateKey;
    let v = Vector::load("install-lsc-auth-rsa");
    let device = v.str("device_name");
    let cert = v.sent_certificate();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(v.pem("auth_private_key")).unwrap();
    let k = key.size();
    let public = ProofPublicKey::from_certificate_der(&cert).unwrap();
    let m1 = signed_data_message(device, &cert);

    for hash in [ProofHash::Sha1, ProofHash::Sha512] {
        let h = hash.digest(&m1);
        let ff = k - 3 - h.len();
        let good: Vec<u8> = [&[0u8, 1][..], &vec![0xFF; ff], &[0], &h].concat();
        // Sanity: the honest block, signed raw, equals the vector's proof.
        let honest = raw_sign(&key, &good);
        let vector_proof = match hash {
            ProofHash::Sha1 => v.signed_data(),
            _ => v.sha2_signed_data(),
        };
        assert_eq!(honest, vector_proof);
        public.verify(hash, &m1, &honest).unwrap();

        let mut variants: Vec<Vec<u8>> = Vec::new();
        // One padding byte changed, in several places.
        for i in [2, 3, 2 + ff / 2, 1 + ff] {
            let mut b = good.clone();
            b[i] = 0xFE;
            variants.push(b);
        }
        // Block type 2 instead of 1.
        let mut b = good.clone();
        b[1] = 2;
        variants.push(b);
        // Separator not zero.
        let mut b = good.clone();
        b[2 + ff] = 0x01;
        variants.push(b);
        // Short padding, garbage before the hash (the small-exponent forgery shape).
        let mut b = vec![0u8, 1];
        b.extend(vec![0xFF; 8]);
        b.push(0);
        b.extend(vec![0x5A; k - 11 - h.len()]);
        b.extend(&h);
        variants.push(b);
        // No padding at all: only the hash at the end.
        let mut b = vec![0u8; k - h.len()];
        b.extend(&h);
        variants.push(b);
        for (i, block) in variants.iter().enumerate() {
            assert_eq!(block.len(), k);
            assert!(block.ends_with(&h));
            let forged = raw_sign(&key, block);
            assert!(
                matches!(public.verify(hash, &m1, &forged), Err(ProofError::Mismatch)),
                "{hash:?} variant {i} accepted"
            );
        }

        // Standard RSASSA-PKCS1-v1_5 (with DigestInfo) must not pass either.
        let standard = match hash {
            ProofHash::Sha1 => key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), &h).unwrap(),
            _ => key.sign(Pkcs1v15Sign::new::<sha2::Sha512>(), &h).unwrap(),
        };
        assert!(public.verify(hash, &m1, &standard).is_err());
    }
}

#[test]
fn malformed_rsa_proofs_are_rejected() {
    let v = Vector::load("install-lsc-auth-rsa");
    let device = v.str("device_name");
    let cert = v.sent_certificate();
    let proof = v.signed_data();
    // Truncated, extended, empty.
    assert!(matches!(
        verify_certificate_proof(&cert, ProofHash::Sha1, device, &proof[1..]),
        Err(ProofError::ProofLength {
            expected: 256,
            actual: 255
        })
    ));
    let mut long = vec![0u8];
    long.extend(&proof);
    assert!(verify_certificate_proof(&cert, ProofHash::Sha1, device, &long).is_err());
    assert!(verify_certificate_proof(&cert, ProofHash::Sha1, device, &[]).is_err());
    // A value not below the modulus.
    assert!(matches!(
        verify_certificate_proof(&cert, ProofHash::Sha1, device, &[0xFF; 256]),
        Err(ProofError::Mismatch)
    ));
    // Not a certificate.
    assert!(matches!(
        verify_certificate_proof(&proof, ProofHash::Sha1, device, &proof),
        Err(ProofError::Certificate(_))
    ));
}

#[test]
fn ec_proof_verifies_against_the_issued_ec_certificate() {
    // The phone's generated P-256 key and the LSC the server issued for it.
    let v = Vector::load("install-nullstring-ec-p256");
    let key = ProofPrivateKey::from_pkcs8_pem(v.pem("client_generated_private_key")).unwrap();
    assert!(matches!(
        key.kind(),
        capf_core::capf::proof::ProofKeyKind::Ec(capf_core::capf::codec::Curve::P256)
    ));
    let cert = v.pem_der("issued_certificate");
    let device = v.str("device_name");
    for hash in [ProofHash::Sha1, ProofHash::Sha512] {
        let proof = sign_certificate_proof(&key, hash, device, &cert, &mut rng()).unwrap();
        verify_certificate_proof(&cert, hash, device, &proof).unwrap();
        let mut t = proof.clone();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(verify_certificate_proof(&cert, hash, device, &t).is_err());
    }
    // A SUDI proof needs an RSA certificate.
    assert!(matches!(
        verify_sudi_proof(&cert, ProofHash::Sha1, 2, &[0x30, 0x00]),
        Err(ProofError::RsaRequired)
    ));
}

#[test]
fn private_key_errors_do_not_echo_input() {
    let err = ProofPrivateKey::from_pkcs8_pem(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "private key does not parse");
    let v = Vector::load("install-lsc-auth-rsa");
    let key = ProofPrivateKey::from_pkcs8_pem(v.pem("auth_private_key")).unwrap();
    assert!(!format!("{key:?}").contains("d:"));
}
