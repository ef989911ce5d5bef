//! Generated hierarchies for the trust tests: real keys (P-256 unless RSA
//! matters), real certificates (rcgen), fixed dates.
#![allow(dead_code)]

#[path = "../seeded/mod.rs"]
pub mod seeded;

use capf_core::time::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, date_time_ymd,
};

/// 2025-01-01T00:00:00Z: every "current" certificate here is valid then.
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_735_689_600);

/// A CA: its certificate and an issuer to sign with.
pub struct Ca {
    pub der: Vec<u8>,
    pub issuer: Issuer<'static, KeyPair>,
    pub key_der: Vec<u8>,
}

/// A leaf: certificate and PKCS#8 key.
pub struct Leaf {
    pub der: Vec<u8>,
    pub key_der: Vec<u8>,
}

/// The next P-256 key of this test (seeded: the same on every run).
pub fn p256() -> KeyPair {
    seeded::p256_key()
}

fn ca_params(cn: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Example Voice Lab");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    params.serial_number = Some(SerialNumber::from(serial));
    params
}

/// A self-signed P-256 root.
pub fn root(cn: &str) -> Ca {
    root_with_key(cn, p256())
}

pub fn root_with_key(cn: &str, key: KeyPair) -> Ca {
    let params = ca_params(cn, 1);
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let key_der = key.serialize_der();
    Ca {
        der,
        issuer: Issuer::new(params, key),
        key_der,
    }
}

/// A P-256 intermediate CA signed by `parent`.
pub fn intermediate(cn: &str, parent: &Ca) -> Ca {
    let key = p256();
    let params = ca_params(cn, 2);
    let der = params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec();
    let key_der = key.serialize_der();
    Ca {
        der,
        issuer: Issuer::new(params, key),
        key_der,
    }
}

/// How a leaf should look.
#[derive(Clone)]
pub struct LeafSpec {
    pub cn: String,
    pub dns: Vec<String>,
    pub uris: Vec<String>,
    pub eku: Vec<ExtendedKeyUsagePurpose>,
    pub key_usages: Vec<KeyUsagePurpose>,
    pub not_before: (i32, u8, u8),
    pub not_after: (i32, u8, u8),
    pub serial: u64,
}

impl LeafSpec {
    pub fn new(cn: &str) -> Self {
        Self {
            cn: cn.to_owned(),
            dns: Vec::new(),
            uris: Vec::new(),
            eku: vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            key_usages: vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            not_before: (2020, 1, 1),
            not_after: (2030, 1, 1),
            serial: 77,
        }
    }
}

pub fn leaf(spec: &LeafSpec, parent: &Ca) -> Leaf {
    let key = p256();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, &spec.cn);
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = spec.eku.clone();
    params.key_usages = spec.key_usages.clone();
    params.not_before = date_time_ymd(spec.not_before.0, spec.not_before.1, spec.not_before.2);
    params.not_after = date_time_ymd(spec.not_after.0, spec.not_after.1, spec.not_after.2);
    params.serial_number = Some(SerialNumber::from(spec.serial));
    for name in &spec.dns {
        params
            .subject_alt_names
            .push(SanType::DnsName(name.as_str().try_into().unwrap()));
    }
    for uri in &spec.uris {
        params
            .subject_alt_names
            .push(SanType::URI(uri.as_str().try_into().unwrap()));
    }
    let der = params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec();
    Leaf {
        der,
        key_der: key.serialize_der(),
    }
}

/// A MIC hierarchy: root -> manufacturing CA -> MIC for `CP-8845-<device>`.
pub struct MicChain {
    pub root: Ca,
    pub manufacturing: Ca,
    pub mic: Leaf,
}

pub fn mic_chain(device: &str) -> MicChain {
    let root = root("Cisco Root CA M2");
    let manufacturing = intermediate("Cisco Manufacturing CA SHA2", &root);
    let mic = leaf(&LeafSpec::new(&format!("CP-8845-{device}")), &manufacturing);
    MicChain {
        root,
        manufacturing,
        mic,
    }
}
