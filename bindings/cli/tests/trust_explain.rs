//! `capf trust explain` run as a binary: the real Cisco CTL (its CCM+TFTP
//! and CAPF certificates trusted for their roles, refused for others) and
//! generated hierarchies (enterprise LSC, MIC, revoked, expired), with the
//! exit status contract 0 trusted / 1 not trusted / 2 bad input.

mod support;

use ctl_format::TrustList;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
    date_time_ymd,
};
use sha2::Digest;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use support::{capf, scratch, text, vectors};

const SUITE: &str = "trust-explain";
/// The real CTL's header timestamp, 2015-05-07T03:10:47Z.
const CTL_TIME: &str = "2015-05-07T03:10:47Z";

fn run(args: &[&str]) -> (i32, String, String) {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let output = capf(&args);
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

fn ctl_path() -> PathBuf {
    vectors().join("real/cucm/CTLFile.tlv")
}

/// Writes record `index`'s DER certificate of the real CTL to `folder`.
fn ctl_certificate(folder: &Path, index: usize) -> String {
    let file = std::fs::read(ctl_path()).unwrap();
    let list = TrustList::parse(&file).unwrap();
    let der = list.records()[index].certificate_der().unwrap();
    let path = folder.join(format!("record{index}.der"));
    std::fs::write(&path, der).unwrap();
    path.display().to_string()
}

#[test]
fn real_ctl_capf_certificate_is_trusted_for_capf_only() {
    let folder = scratch(SUITE, "real-capf");
    let capf_cert = ctl_certificate(&folder, 3);
    let store = format!("ctl:{}", ctl_path().display());
    let (code, out, err) = run(&[
        "trust",
        "explain",
        &capf_cert,
        "--purpose",
        "tls-server:capf",
        "--store",
        &store,
        "--at",
        CTL_TIME,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("TRUSTED for TLS server for role CAPF"),
        "{out}"
    );
    assert!(out.contains("roles: CAPF"), "{out}");
    assert!(out.contains("CN=CAPF-2076a1a2"), "{out}");

    let (code, out, _) = run(&[
        "trust",
        "explain",
        &capf_cert,
        "--purpose",
        "tls-server:ccm",
        "--store",
        &store,
        "--at",
        CTL_TIME,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("NOT TRUSTED"), "{out}");
    assert!(out.contains("reason: wrong-role"), "{out}");
    assert!(out.contains("with role CAPF, not CCM"), "{out}");
}

#[test]
fn real_ctl_ccm_tftp_certificate_is_trusted_for_ccm_tftp_and_config_files_not_tvs() {
    let folder = scratch(SUITE, "real-ccm");
    let ccm = ctl_certificate(&folder, 1);
    let store = format!("ctl:{}", ctl_path().display());
    for purpose in [
        "tls-server:ccm",
        "tls-server:tftp",
        "file-signer:tftp",
        "file-signer:sast",
    ] {
        let (code, out, err) = run(&[
            "trust",
            "explain",
            &ccm,
            "--purpose",
            purpose,
            "--store",
            &store,
            "--at",
            CTL_TIME,
        ]);
        assert_eq!(code, 0, "{purpose}: {out}{err}");
    }
    let (code, out, _) = run(&[
        "trust",
        "explain",
        &ccm,
        "--purpose",
        "tls-server:tvs",
        "--store",
        &store,
        "--at",
        CTL_TIME,
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let verdict: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["trusted"], false);
    assert_eq!(verdict["failure"]["reason"], "wrong-role");
    assert_eq!(verdict["roles"], serde_json::json!(["SAST", "CCM+TFTP"]));
    // SHA-256 of the publisher certificate, from CTLFile.tlv.json.
    assert_eq!(
        verdict["anchor"]["sha256"],
        "ba44204abca6b9bf37f7e6165b236ec02e9d39975eb26a710ce20c4e4a7c9d1c"
    );
}

struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(cn: &str, parent: Option<&Ca>) -> Ca {
    // Seeded keys: the same on every run.
    let key = support::seeded_p256(support::seed_of(&format!("ca/{cn}")));
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    let der = match parent {
        Some(parent) => params.signed_by(&key, &parent.issuer),
        None => params.self_signed(&key),
    }
    .unwrap()
    .der()
    .to_vec();
    Ca {
        der,
        issuer: Issuer::new(params, key),
    }
}

fn leaf(cn: &str, uri: Option<&str>, parent: &Ca, until: i32) -> Vec<u8> {
    let key = support::seeded_p256(support::seed_of(&format!("leaf/{cn}/{until}")));
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(until, 1, 1);
    if let Some(uri) = uri {
        params
            .subject_alt_names
            .push(SanType::URI(uri.try_into().unwrap()));
    }
    params
        .signed_by(&key, &parent.issuer)
        .unwrap()
        .der()
        .to_vec()
}

fn pem(ders: &[&[u8]]) -> String {
    ders.iter()
        .map(|der| {
            x509_cert::der::pem::encode_string(
                "CERTIFICATE",
                x509_cert::der::pem::LineEnding::LF,
                der,
            )
            .unwrap()
        })
        .collect()
}

fn write(folder: &Path, name: &str, content: &str) -> String {
    let path = folder.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn enterprise_lsc_chain_trusted_then_revoked() {
    let folder = scratch(SUITE, "enterprise");
    let root = ca("Example Enterprise Root", None);
    let issuing = ca("Example Issuing CA", Some(&root));
    let lsc = leaf("SEP001122334455", Some("SEP001122334455"), &issuing, 2030);
    let chain = write(&folder, "chain.pem", &pem(&[&lsc, &issuing.der]));
    let roots = format!(
        "enterprise:{}",
        write(&folder, "root.pem", &pem(&[&root.der]))
    );
    let (code, out, err) = run(&[
        "trust",
        "explain",
        &chain,
        "--purpose",
        "tls-client",
        "--store",
        &roots,
        "--device",
        "SEP001122334455",
        "--at",
        "2025-01-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let verdict: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(verdict["trusted"], true);
    let root_digest = hex::encode(sha2::Sha256::digest(&root.der));
    assert_eq!(verdict["anchor"]["sha256"], root_digest.as_str());
    assert_eq!(verdict["anchor"]["store"]["kind"], "enterprise");
    assert_eq!(verdict["chain"].as_array().unwrap().len(), 3);

    // The same with the LSC listed as revoked (by its SHA-256).
    let digest = hex::encode(sha2::Sha256::digest(&lsc));
    let revoked = write(&folder, "revoked.txt", &format!("{digest}\n"));
    let (code, out, _) = run(&[
        "trust",
        "explain",
        &chain,
        "--purpose",
        "tls-client",
        "--store",
        &roots,
        "--store",
        &format!("revoked:{revoked}"),
        "--at",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reason: revoked"), "{out}");

    // Another device's name.
    let (code, out, _) = run(&[
        "trust",
        "explain",
        &chain,
        "--purpose",
        "tls-client",
        "--store",
        &roots,
        "--device",
        "SEP00AABBCCDDEE",
        "--at",
        "2025-01-01T00:00:00Z",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reason: name-mismatch"), "{out}");
}

#[test]
fn expired_lsc_and_mic_on_the_phone_web_page() {
    let folder = scratch(SUITE, "expired-mic");
    let capf_ca = ca("CAPF-2076a1a2", None);
    let lsc = write(
        &folder,
        "lsc.pem",
        &pem(&[&leaf("SEP001122334455", None, &capf_ca, 2021)]),
    );
    let store = format!(
        "capf-trust:{}",
        write(&folder, "capf.pem", &pem(&[&capf_ca.der]))
    );
    let (code, out, _) = run(&[
        "trust",
        "explain",
        &lsc,
        "--purpose",
        "capf-auth:lsc",
        "--store",
        &store,
        "--at",
        "1735689600",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reason: expired"), "{out}");
    assert!(out.contains("CAPF install"), "{out}");

    let manufacturing = ca("Cisco Manufacturing CA SHA2", None);
    let mic = write(
        &folder,
        "mic.pem",
        &pem(&[&leaf("CP-8845-SEP001122334455", None, &manufacturing, 2030)]),
    );
    let browser = format!(
        "pem:{}",
        write(&folder, "browser.pem", &pem(&[&capf_ca.der]))
    );
    let (code, out, _) = run(&[
        "trust",
        "explain",
        &mic,
        "--purpose",
        "phone-web",
        "--store",
        &browser,
        "--at",
        "1735689600",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("this is a MIC"), "{out}");
    assert!(out.contains("Cisco advises against"), "{out}");
}

#[test]
fn bad_input_exits_2() {
    let folder = scratch(SUITE, "bad-input");
    let root = ca("Example Enterprise Root", None);
    let cert = write(&folder, "root.pem", &pem(&[&root.der]));
    let store = format!("pem:{cert}");
    let cases: [&[&str]; 6] = [
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "tls-server:sip",
            "--store",
            &store,
        ],
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "tls-client",
            "--store",
            "browser:x.pem",
        ],
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "tls-client",
            "--store",
            "pem:/nonexistent/x.pem",
        ],
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "tls-client",
            "--store",
            "revoked:x.txt",
        ],
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "tls-client",
            "--store",
            &store,
            "--at",
            "yesterday",
        ],
        &[
            "trust",
            "explain",
            &cert,
            "--purpose",
            "file-signer:tftp",
            "--store",
            &store,
            "--host",
            "a",
        ],
    ];
    for args in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
    }
    let garbage = write(&folder, "garbage.pem", "hello");
    let (code, _, _) = run(&[
        "trust",
        "explain",
        &garbage,
        "--purpose",
        "tls-client",
        "--store",
        &store,
    ]);
    assert_eq!(code, 2);
}
