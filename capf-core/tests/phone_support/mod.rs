//! Shared helpers of the phone-session tests: loading the recorded CAPF
//! sessions and turning their `client_inputs` and `pem` keys into a phone
//! configuration.

#![allow(dead_code)]

use capf_core::capf::codec::{Command, Frame, Version};
use capf_core::capf::phone::{
    AuthResponseLayout, AuthString, CertificateCredentials, CertificatePrecedence, PhoneConfig,
    PhoneCredentials, ProofCredential, SoftwareSigner,
};
use capf_core::capf::proof::ProofPrivateKey;
use capf_core::time::Timestamp;
use rand::SeedableRng;
use rsa::pkcs8::EncodePublicKey;
use serde_json::Value;

pub const VECTOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/capf");

/// The time every test session starts at.
pub const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

/// One recorded session.
pub struct Vector {
    pub name: String,
    pub json: Value,
    /// `(from_server, bytes)` in wire order.
    pub frames: Vec<(bool, Vec<u8>)>,
}

impl Vector {
    pub fn load(name: &str) -> Self {
        let path = format!("{VECTOR_DIR}/{name}.json");
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("vector file"))
                .expect("vector json");
        let frames = json["frames"]
            .as_array()
            .expect("frames")
            .iter()
            .map(|frame| {
                let from_server = match frame["from"].as_str() {
                    Some("server") => true,
                    Some("client") => false,
                    other => panic!("bad from {other:?}"),
                };
                let bytes = hex::decode(frame["hex"].as_str().expect("hex")).expect("hex");
                (from_server, bytes)
            })
            .collect();
        Self {
            name: name.to_owned(),
            json,
            frames,
        }
    }

    /// Every vector name in the folder, sorted.
    pub fn all_names() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(VECTOR_DIR)
            .expect("vector folder")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn str(&self, key: &str) -> &str {
        self.json[key].as_str().expect(key)
    }

    pub fn session_id(&self) -> u32 {
        u32::try_from(self.json["session_id"].as_u64().expect("session_id")).unwrap()
    }

    pub fn has_pem(&self, key: &str) -> bool {
        self.json["pem"][key].is_string()
    }

    pub fn pem(&self, key: &str) -> &str {
        self.json["pem"][key].as_str().expect(key)
    }

    pub fn pem_der(&self, key: &str) -> Vec<u8> {
        der::pem::decode_vec(self.pem(key).as_bytes())
            .expect("pem")
            .1
    }

    pub fn key(&self, key: &str) -> ProofPrivateKey {
        ProofPrivateKey::from_pkcs8_pem(self.pem(key)).expect("pkcs8 key")
    }

    pub fn is_synthetic(&self) -> bool {
        self.name.ends_with("-synthetic")
    }

    pub fn client_frames(&self) -> Vec<Vec<u8>> {
        self.frames
            .iter()
            .filter(|(from_server, _)| !from_server)
            .map(|(_, bytes)| bytes.clone())
            .collect()
    }

    /// The first recorded frame with this command.
    pub fn frame(&self, command: Command) -> Option<Frame> {
        self.frames
            .iter()
            .map(|(_, bytes)| Frame::decode(bytes).expect("recorded frame decodes"))
            .find(|frame| frame.command == command)
    }

    /// The public key the phone sent (KEY_GEN_RESPONSE PUBLIC_KEY).
    pub fn recorded_public_key(&self) -> Option<Vec<u8>> {
        self.frame(Command::KeyGenResponse)?
            .public_key()
            .map(<[u8]>::to_vec)
    }

    /// The SPKI of `client_generated_private_key`, computed from the key.
    pub fn generated_spki(&self) -> Option<Vec<u8>> {
        if !self.has_pem("client_generated_private_key") {
            return None;
        }
        Some(spki_of(&self.key("client_generated_private_key")))
    }

    /// The phone configuration that reproduces the recorded client side.
    pub fn phone_config(&self) -> PhoneConfig {
        let device_name = self.str("device_name");
        let inputs = &self.json["client_inputs"];
        let credentials = match self.str("auth") {
            "password" => match inputs["password"].as_str() {
                Some(digits) if !digits.is_empty() => {
                    PhoneCredentials::AuthString(AuthString::new(digits).expect("valid digits"))
                }
                _ => PhoneCredentials::NullString,
            },
            "null-string" => PhoneCredentials::NullString,
            mode @ ("lsc" | "mic") => {
                let auth = self.pem_der("auth_certificate");
                let credentials = if mode == "lsc" {
                    // The LSC is preferred; the MIC is there as the fallback.
                    CertificateCredentials::new(CertificatePrecedence::LscFirst)
                        .with_lsc(auth)
                        .and_then(|set| set.with_mic(self.pem_der("sudi_certificate")))
                } else {
                    CertificateCredentials::new(CertificatePrecedence::MicFirst).with_mic(auth)
                }
                .expect("certificates");
                PhoneCredentials::Certificate(
                    credentials
                        .with_sudi(self.pem_der("sudi_certificate"))
                        .expect("RSA SUDI"),
                )
            }
            other => panic!("unknown auth {other}"),
        };
        let config = PhoneConfig::new(device_name, credentials).expect("config");
        if self.name == "version2-reply-synthetic" {
            // The hand-made reply imitates Jabber: VERSION 2, DEVICE_NAME,
            // REASON, no PASSWORD.
            config
                .with_version(Version(2))
                .with_auth_response_layout(AuthResponseLayout::Jabber)
        } else {
            config
        }
    }
}

impl Vector {
    /// The host's signer for the recorded phone's keys (certificate
    /// authentication): the authentication key for the LSC (or MIC) sent,
    /// the SUDI key for the MIC and the SUDI proofs.
    pub fn signer(&self) -> SoftwareSigner {
        let rng = Box::new(rand::rngs::StdRng::seed_from_u64(7));
        let mut signer = SoftwareSigner::new(rng);
        if !self.has_pem("auth_private_key") {
            return signer;
        }
        let auth = if self.str("auth") == "lsc" {
            ProofCredential::Lsc
        } else {
            ProofCredential::Mic
        };
        signer = signer
            .with_key(
                auth,
                &self.pem_der("auth_certificate"),
                Box::new(self.key("auth_private_key")),
            )
            .expect("auth key");
        let sudi = self.pem_der("sudi_certificate");
        if auth == ProofCredential::Lsc {
            signer = signer
                .with_key(
                    ProofCredential::Mic,
                    &sudi,
                    Box::new(self.key("sudi_private_key")),
                )
                .expect("mic key");
        }
        signer
            .with_key(
                ProofCredential::Sudi,
                &sudi,
                Box::new(self.key("sudi_private_key")),
            )
            .expect("sudi key")
    }
}

/// The DER SubjectPublicKeyInfo of a private key.
pub fn spki_of(key: &ProofPrivateKey) -> Vec<u8> {
    match key {
        ProofPrivateKey::Rsa(key) => key.to_public_key().to_public_key_der(),
        ProofPrivateKey::P256(key) => key.verifying_key().to_public_key_der(),
        ProofPrivateKey::P384(key) => key.verifying_key().to_public_key_der(),
        _ => panic!("unexpected key kind in the vectors"),
    }
    .expect("encode spki")
    .as_bytes()
    .to_vec()
}
