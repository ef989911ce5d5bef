//! `capf demo`: the phone-security PKI end to end on loopback.
//!
//! In a temporary folder: a CAPF CA (EC P-256, CA:TRUE pathlen 0,
//! digitalSignature + keyCertSign), a small manufacturing CA and one MIC, an
//! SQLite registry; the CAPF server of `capf serve` on 127.0.0.1 (ephemeral
//! port); phones enrolled with the code of `capf enroll` over real TLS by
//! authentication string, null string, LSC and MIC with RSA-2048, EC P-256
//! and EC P-384 keys; then a fetch and a delete; finally a CTL listing the
//! CAPF certificate (role CAPF), signed by a fresh RSA-2048 SAST key and
//! verified. Prints a summary table; exit 0 only if every step worked.
//!
//! The demo registry hashes authentication strings with fewer PBKDF2 rounds
//! than `capf device add` (the folder is thrown away at the end).

use crate::enroll::{Auth, Enrollment, describe as describe_phone, enroll};
use crate::output::outln;
use crate::serve::{Server, ServerSetup, Timeouts, runtime};
use crate::store::{AuthMode, Operation, Schedule, hash_auth_string};
use crate::{CliError, CliResult};
use capf_core::issuance::LscIssuer;
use capf_core::key_request::KeyRequest;
use capf_core::server::CertificatePolicy;
use capf_core::wire::Curve;
use clap::Args;
use ctl_format::trust_list::{RecordEntry, Role, TrustListKind};
use ctl_format::{HashPolicy, RsaFileSigner, TrustList, TrustListBuilder};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `capf demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the temporary folder (certificates, keys, registry, CTL) and print its path.
    #[arg(long)]
    keep: bool,
}

/// PBKDF2 rounds for the demo's throw-away registry.
const DEMO_ROUNDS: u32 = 10_000;

/// One line of the summary.
struct Row {
    device: String,
    auth: &'static str,
    key: String,
    outcome: String,
    serial: String,
    ok: bool,
}

fn fail(what: &str, error: impl std::fmt::Display) -> CliError {
    CliError::rejected(format!("demo: {what}: {error}"))
}

/// A self-signed CA made with rcgen: (certificate DER, PEM, key PKCS#8 DER).
fn make_ca(
    key: &rcgen::KeyPair,
    common_name: &str,
    path_len: Option<u8>,
) -> Result<rcgen::Certificate, CliError> {
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf demo");
    params.is_ca = rcgen::IsCa::Ca(match path_len {
        Some(n) => rcgen::BasicConstraints::Constrained(n),
        None => rcgen::BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.self_signed(key).map_err(|e| fail(common_name, e))
}

/// An RSA-2048 key from the `rsa` crate, loaded into rcgen (ring cannot
/// generate RSA keys): (rcgen key, rsa key).
fn rsa_key() -> Result<(rcgen::KeyPair, rsa::RsaPrivateKey), CliError> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| fail("RSA", e))?;
    let der = key.to_pkcs8_der().map_err(|e| fail("RSA", e))?;
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &der.as_bytes().into(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| fail("RSA", e))?;
    Ok((pair, key))
}

fn serial_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| ctl_format::Certificate::from_pem(&text).ok())
        .map(|certificate| hex::encode(certificate.serial_number()))
        .unwrap_or_else(|| "-".into())
}

/// Runs `capf demo`.
pub(crate) fn run(args: DemoArgs) -> CliResult {
    crate::serve::init_logging("warn");
    let dir = std::env::temp_dir().join(format!(
        "capf-demo-{}-{}",
        std::process::id(),
        crate::output::now_unix()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| fail("temporary folder", e))?;
    let result = runtime()?.block_on(demo(&dir));
    if args.keep {
        outln!("files kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn demo(dir: &Path) -> CliResult {
    // 1. The CAPF CA (also the LSC issuer) and a manufacturing CA with one MIC.
    let capf_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| fail("key", e))?;
    let capf_cert = make_ca(&capf_key, "CAPF-demo", Some(0))?;
    let capf_der = capf_cert.der().to_vec();
    let (mfg_key, _) = rsa_key()?;
    let mfg_cert = make_ca(&mfg_key, "Demo Manufacturing CA", None)?;
    let mic_device = "SEP0000000000A4";
    let mic_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| fail("key", e))?;
    let mut mic_params = rcgen::CertificateParams::default();
    mic_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("CP-8865-{mic_device}"));
    mic_params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let mfg_issuer = rcgen::Issuer::from_ca_cert_der(mfg_cert.der(), &mfg_key)
        .map_err(|e| fail("manufacturing CA", e))?;
    let mic_cert = mic_params
        .signed_by(&mic_key, &mfg_issuer)
        .map_err(|e| fail("MIC", e))?;
    let mic_path = dir.join("mic.pem");
    std::fs::write(
        &mic_path,
        format!("{}{}", mic_cert.pem(), mic_key.serialize_pem()),
    )
    .map_err(|e| fail("MIC file", e))?;

    // 2. The registry and the server (the code of `capf serve`).
    let db = dir.join("capf.db");
    let tls =
        capf_core::tls::server_config(std::slice::from_ref(&capf_der), &capf_key.serialize_der())
            .map_err(|e| fail("TLS", e))?;
    let issuer =
        LscIssuer::new(&capf_der, &capf_key.serialize_der()).map_err(|e| fail("issuer", e))?;
    let mut policy = CertificatePolicy::default();
    policy.lsc_issuers = vec![capf_der.clone()];
    policy.manufacturing_roots = vec![mfg_cert.der().to_vec()];
    let server = Server::new(ServerSetup {
        tls,
        issuer,
        db: db.clone(),
        policy,
        validity_days: 365,
        max_failed_attempts: 5,
        timeouts: Timeouts::default(),
    })?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("listen", e))?;
    let address = listener.local_addr().map_err(|e| fail("listen", e))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .serve(
                    listener,
                    async {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(5),
                )
                .await;
        }
    });
    outln!("CAPF server on {address} (TLS, CAPF certificate CN=CAPF-demo, EC P-256)");

    // 3. The phones. The demo writes the registry through the server's
    // own connection.
    let store = server.store();
    let now = crate::output::now_unix();
    let schedule = |name: &str,
                    operation: Operation,
                    auth: AuthMode,
                    key: KeyRequest,
                    string: Option<&str>|
     -> Result<(), CliError> {
        let auth_hash = match string {
            Some(s) => Some(
                hash_auth_string(s, DEMO_ROUNDS, &mut rand_core::OsRng)
                    .map_err(|e| fail("auth string", e))?,
            ),
            None => None,
        };
        store
            .lock()
            .map_err(|_| fail("registry", "lock poisoned"))?
            .put_device(
                name,
                &Schedule {
                    operation,
                    key_request: key,
                    auth_mode: auth,
                    auth_hash,
                },
                now,
            )
            .map(|_| ())
            .map_err(|e| fail("registry", e))
    };
    let base = Enrollment {
        server: address.to_string(),
        pinned: vec![capf_der.clone()],
        device: String::new(),
        auth: Auth::Null,
        out: PathBuf::new(),
        key: None,
        timeout: Duration::from_secs(60),
    };
    let lsc = |name: &str| dir.join(format!("{name}.pem"));
    let mut rows = Vec::new();
    let mut run_phone = async |name: &str, auth: Auth, label: &'static str, key: &str| {
        let enrollment = Enrollment {
            device: name.to_owned(),
            auth,
            out: lsc(name),
            ..base.clone()
        };
        let (outcome, ok) = match enroll(&enrollment).await {
            Ok(outcome) => (describe_phone(&outcome), outcome.is_success()),
            Err(error) => (format!("error: {}", error.message), false),
        };
        rows.push(Row {
            device: name.to_owned(),
            auth: label,
            key: key.to_owned(),
            outcome,
            serial: serial_of(&lsc(name)),
            ok,
        });
    };

    let rsa2048 = KeyRequest::Rsa { bits: 2048 };
    let p256 = KeyRequest::Ec(Curve::P256);
    let p384 = KeyRequest::Ec(Curve::P384);
    schedule(
        "SEP0000000000A1",
        Operation::Install,
        AuthMode::AuthString,
        rsa2048,
        Some("123456"),
    )?;
    schedule(
        "SEP0000000000A2",
        Operation::Install,
        AuthMode::Null,
        p256,
        None,
    )?;
    schedule(
        "SEP0000000000A3",
        Operation::Install,
        AuthMode::AuthString,
        p384,
        Some("24680"),
    )?;
    schedule(mic_device, Operation::Install, AuthMode::Mic, p256, None)?;

    run_phone(
        "SEP0000000000A1",
        Auth::String("123456".into()),
        "auth-string",
        "rsa:2048",
    )
    .await;
    run_phone("SEP0000000000A2", Auth::Null, "null", "ec:p256").await;
    run_phone(
        "SEP0000000000A3",
        Auth::String("24680".into()),
        "auth-string",
        "ec:p384",
    )
    .await;
    run_phone(
        mic_device,
        Auth::Certificates {
            lsc: None,
            mic: Some(mic_path.clone()),
            sudi: None,
        },
        "mic",
        "ec:p256",
    )
    .await;

    // LSC re-enrolment: A2 renews to P-384, authenticated by its first LSC.
    schedule(
        "SEP0000000000A2",
        Operation::Install,
        AuthMode::Lsc,
        p384,
        None,
    )?;
    let first_lsc = dir.join("SEP0000000000A2-first.pem");
    std::fs::copy(lsc("SEP0000000000A2"), &first_lsc).map_err(|e| fail("LSC copy", e))?;
    run_phone(
        "SEP0000000000A2",
        Auth::Certificates {
            lsc: Some(first_lsc),
            mic: None,
            sudi: None,
        },
        "lsc",
        "ec:p384",
    )
    .await;

    // Fetch A1's LSC, delete A3's.
    schedule(
        "SEP0000000000A1",
        Operation::Fetch,
        AuthMode::Null,
        rsa2048,
        None,
    )?;
    run_phone("SEP0000000000A1", Auth::Null, "null", "(fetch)").await;
    schedule(
        "SEP0000000000A3",
        Operation::Delete,
        AuthMode::Null,
        p384,
        None,
    )?;
    run_phone("SEP0000000000A3", Auth::Null, "null", "(delete)").await;
    if let Some(row) = rows.last_mut() {
        row.ok &= !lsc("SEP0000000000A3").exists();
    }

    let _ = stop.send(());
    let _ = serving.await;

    // The registry agrees.
    for name in [
        "SEP0000000000A1",
        "SEP0000000000A2",
        "SEP0000000000A3",
        mic_device,
    ] {
        let device = store
            .lock()
            .map_err(|_| fail("registry", "lock poisoned"))?
            .device(name)
            .map_err(|e| fail("registry", e))?;
        if device.operation != Operation::None {
            rows.push(Row {
                device: name.to_owned(),
                auth: "-",
                key: "-".into(),
                outcome: format!("registry still has {} scheduled", device.operation),
                serial: "-".into(),
                ok: false,
            });
        }
    }

    // 4. A CTL listing the CAPF certificate, signed by a SAST key.
    let ctl = build_ctl(dir, &capf_der);

    outln!();
    outln!(
        "{:<16} {:<12} {:<9} {:<42} LSC SERIAL",
        "DEVICE",
        "AUTH",
        "KEY",
        "OUTCOME"
    );
    for row in &rows {
        outln!(
            "{:<16} {:<12} {:<9} {:<42} {}",
            row.device,
            row.auth,
            row.key,
            if row.ok {
                row.outcome.clone()
            } else {
                format!("FAILED: {}", row.outcome)
            },
            row.serial
        );
    }
    outln!();
    let ctl_ok = match &ctl {
        Ok(line) => {
            outln!("{line}");
            true
        }
        Err(error) => {
            outln!("CTL: FAILED: {}", error.message);
            false
        }
    };
    if ctl_ok && rows.iter().all(|row| row.ok) {
        outln!("demo: everything worked");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::rejected("demo: some steps failed (see above)"))
    }
}

/// Builds CTLFile.tlv (SAST + CAPF records) with a fresh RSA-2048 SAST key
/// and verifies it; returns the summary line.
fn build_ctl(dir: &Path, capf_der: &[u8]) -> Result<String, CliError> {
    let (sast_key, sast_rsa) = rsa_key()?;
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "SAST-demo");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf demo");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let sast_cert = params.self_signed(&sast_key).map_err(|e| fail("SAST", e))?;
    let sast = ctl_format::Certificate::from_der(sast_cert.der()).map_err(|e| fail("SAST", e))?;
    let capf = ctl_format::Certificate::from_der(capf_der).map_err(|e| fail("CAPF", e))?;
    let signer = RsaFileSigner::new(sast_rsa);
    let timestamp = u32::try_from(crate::output::now_unix()).unwrap_or(u32::MAX);
    let file = TrustListBuilder::new(TrustListKind::Ctl, sast.clone(), &signer, timestamp)
        .records([
            RecordEntry::new(sast, Role::Sast),
            RecordEntry::new(capf, Role::Capf),
        ])
        .build()
        .map_err(|e| fail("CTL", e))?;
    std::fs::write(dir.join("CTLFile.tlv"), &file).map_err(|e| fail("CTL", e))?;
    let list = TrustList::parse(&file).map_err(|e| fail("CTL", e))?;
    let signer = list
        .verify(&file, HashPolicy::CISCO)
        .map_err(|e| fail("CTL verify", e))?;
    let capf_listed = list.records().iter().any(|record| {
        record.role() == Some(Role::Capf) && record.certificate_der() == Some(capf_der)
    });
    if !capf_listed {
        return Err(fail("CTL", "the CAPF record is missing"));
    }
    Ok(format!(
        "CTL: {} bytes, {} records (SAST, CAPF), signed by record {} with {}, verified",
        file.len(),
        list.records().len(),
        signer.record_index + 1,
        signer.hash_algorithm
    ))
}
