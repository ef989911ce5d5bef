//! `capf demo`: the phone-security PKI end to end on loopback.
//!
//! In a temporary folder: a CAPF CA (EC P-256, CA:TRUE pathlen 0,
//! digitalSignature + keyCertSign), a small manufacturing CA and one MIC, an
//! SQLite registry; the CAPF server of `capf serve` on 127.0.0.1 (ephemeral
//! port); phones enrolled with the code of `capf enroll` over real TLS by
//! authentication string, null string, LSC and MIC with RSA-2048, EC P-256
//! and EC P-384 keys; then a fetch and a delete; finally a CTL listing the
//! CAPF certificate (role CAPF), signed by a fresh RSA-2048 SAST key and
//! verified.
//!
//! Beside CAPF, the TVS server of `capf serve --tvs-listen` (its own
//! self-signed certificate) answers from the same registry file: the CAPF
//! certificate is registered with role CAPF and verified over TLS with the
//! TVS client of `capf tvs verify`, and a certificate nobody registered is
//! answered INVALID. Then trust is explained with
//! [`capf_core::trust::evaluate`] (an issued LSC as a TLS client against
//! CallManager-trust and for CAPF re-enrolment against CAPF-trust, both
//! holding the CAPF certificate: trusted; the MIC as the phone's web server
//! against browser roots: not trusted, with the fix), and a CTL rollover is
//! predicted with [`capf_core::rollover`] for phones holding the demo CTL
//! (re-signed by the same SAST: accepted; signed by a new, unknown SAST key:
//! stranded, with the fix). Prints a short summary per part; exit 0 only if
//! every step gave the expected answer.
//!
//! The demo registry hashes authentication strings with fewer PBKDF2 rounds
//! than `capf device add` (the folder is thrown away at the end).

use crate::enroll::{Auth, Enrollment, describe as describe_phone, enroll};
use crate::listener::Stop;
use crate::output::outln;
use crate::runtime::runtime;
use crate::serve::{Server, ServerSetup, Timeouts};
use crate::tvs::TvsServer;
use crate::{CliError, CliResult};
use capf_core::capf::codec::Curve;
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::CertificatePolicy;
use capf_core::issuance::LscIssuer;
use capf_core::rollover::{self, CandidateList, InstalledLists};
use capf_core::trust::{self, CapfCredential, Purpose, StoreKind, TrustStore};
use capf_core::tvs::{TvsClientResult, TvsServerConfig};
use capf_registry::{AuthKey, AuthMode, Operation, Schedule, StoredAuthHash, TvsAllowList as _};
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

/// How long TVS lets a phone cache the demo's answer, in seconds.
const DEMO_TVS_TTL: u32 = 3600;

/// The device name the demo's TVS client sends.
const DEMO_TVS_DEVICE: &str = "CP-8865-SEP0000000000A1";

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

/// Certificate parameters with the demo's subject: CN = `common_name`,
/// O = capf demo.
fn demo_params(common_name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "capf demo");
    params
}

/// A self-signed CA made with rcgen: (certificate DER, PEM, key PKCS#8 DER).
fn make_ca(
    key: &rcgen::KeyPair,
    common_name: &str,
    path_len: Option<u8>,
) -> Result<rcgen::Certificate, CliError> {
    let mut params = demo_params(common_name);
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
    crate::runtime::init_logging("warn");
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
    // The demo's strings are keyed under a key that lives in memory only.
    let auth_key = AuthKey::generate(&mut rand_core::OsRng);
    let server = Server::new(
        ServerSetup {
            tls: tls.into(),
            issuer,
            policy,
            validity_days: 365,
            max_failed_attempts: 5,
            timeouts: Timeouts::default(),
            auth_key: Some(auth_key.clone()),
            auth_key_path: PathBuf::from("(in memory)"),
            node_name: None,
            est: None,
            offline_ca: false,
        },
        crate::db::open(&db)?,
    )?;
    let (listener, address) = listen().await?;
    // One stop for both listeners, as in `capf serve`.
    let stop = Stop::new();
    let grace = Duration::from_secs(5);
    let serving = tokio::spawn({
        let server = server.clone();
        let stopped = stop.stopped();
        async move { server.serve(listener, stopped, grace).await }
    });
    outln!("CAPF server on {address} (TLS, CAPF certificate CN=CAPF-demo, EC P-256)");

    // The TVS server of `capf serve --tvs-listen`, on the same registry
    // file, with its own self-signed certificate.
    let tvs_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| fail("key", e))?;
    let tvs_cert = make_tvs_certificate(&tvs_key)?;
    let tvs_der = tvs_cert.der().to_vec();
    let tvs_tls =
        capf_core::tls::server_config(std::slice::from_ref(&tvs_der), &tvs_key.serialize_der())
            .map_err(|e| fail("TVS TLS", e))?;
    let tvs = TvsServer::new(
        tvs_tls.into(),
        &db,
        TvsServerConfig::default(),
        Duration::from_secs(10),
    )?;
    let (tvs_listener, tvs_address) = listen().await?;
    let tvs_serving = tokio::spawn({
        let stopped = stop.stopped();
        async move { tvs.serve(tvs_listener, stopped, grace).await }
    });
    outln!("TVS server on {tvs_address} (TLS, TVS certificate CN=TVS-demo, EC P-256)");

    // 3. The phones. The demo writes the registry through the server's
    // own connection.
    let store = server.registry();
    let now = crate::output::now_unix();
    let schedule = |name: &str,
                    operation: Operation,
                    auth: AuthMode,
                    key: KeyRequest,
                    string: Option<&str>|
     -> Result<(), CliError> {
        let auth_hash = match string {
            Some(s) => {
                Some(StoredAuthHash::keyed(&auth_key, s).map_err(|e| fail("auth string", e))?)
            }
            None => None,
        };
        store
            .put_device(
                name,
                &Schedule {
                    operation,
                    key_request: key,
                    auth_mode: auth,
                    auth_hash,
                    complete_by: None,
                    description: None,
                },
                now,
            )
            .map(|_| ())
            .map_err(|e| fail("registry", e))
    };
    let base = Enrollment {
        server: address.to_string(),
        server_trust: capf_core::tls::client_config_pinned(std::slice::from_ref(&capf_der))
            .map_err(|e| fail("CAPF client TLS", e))?,
        device: String::new(),
        auth: Auth::Null,
        out: PathBuf::new(),
        key: None,
        timeout: Duration::from_secs(60),
        send_csr: false,
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

    // TVS: the CAPF certificate registered with role CAPF is vouched for;
    // a certificate nobody registered is not.
    let tvs_lines = tvs_checks(
        &db,
        &tvs_address.to_string(),
        &tvs_der,
        &capf_der,
        mic_cert.der(),
    )
    .await;

    stop.stop();
    let _ = serving.await;
    let _ = tvs_serving.await;

    // The registry agrees.
    for name in [
        "SEP0000000000A1",
        "SEP0000000000A2",
        "SEP0000000000A3",
        mic_device,
    ] {
        let device = store.device(name).map_err(|e| fail("registry", e))?;
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

    // 4. A CTL listing the CAPF certificate, signed by a SAST key; then
    // trust explained and a rollover predicted.
    let ctl = build_ctl(dir, &capf_der);
    let trust_lines = trust_checks(&lsc("SEP0000000000A1"), mic_cert.der(), &capf_der);

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
        Ok(demo_ctl) => {
            outln!("{}", demo_ctl.summary);
            true
        }
        Err(error) => {
            outln!("CTL: FAILED: {}", error.message);
            false
        }
    };
    let rollover_lines = match &ctl {
        Ok(demo_ctl) => rollover_checks(demo_ctl, &capf_der),
        Err(_) => Err(fail("rollover", "no CTL to roll over")),
    };
    let sections = [
        ("TVS (over TLS, as the phone's TVS client):", tvs_lines),
        ("Trust (capf_core::trust::evaluate):", trust_lines),
        (
            "Rollover (capf_core::rollover; phones holding the demo CTL):",
            rollover_lines,
        ),
    ];
    let mut sections_ok = true;
    for (title, lines) in &sections {
        outln!();
        outln!("{title}");
        match lines {
            Ok(lines) => {
                for line in lines {
                    outln!("  {}", line.text);
                    sections_ok &= line.ok;
                }
            }
            Err(error) => {
                outln!("  FAILED: {}", error.message);
                sections_ok = false;
            }
        }
    }
    outln!();
    if ctl_ok && sections_ok && rows.iter().all(|row| row.ok) {
        outln!("demo: everything worked");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::rejected("demo: some steps failed (see above)"))
    }
}

/// The demo's CTL and its signer, kept for the rollover prediction.
struct DemoCtl {
    file: Vec<u8>,
    sast_der: Vec<u8>,
    sast_rsa: rsa::RsaPrivateKey,
    timestamp: u32,
    summary: String,
}

/// A self-signed SAST certificate (RSA-2048) and its key.
fn make_sast(common_name: &str) -> Result<(Vec<u8>, rsa::RsaPrivateKey), CliError> {
    let (sast_key, sast_rsa) = rsa_key()?;
    let mut params = demo_params(common_name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    let sast_cert = params.self_signed(&sast_key).map_err(|e| fail("SAST", e))?;
    Ok((sast_cert.der().to_vec(), sast_rsa))
}

/// A CTL with a SAST record for the signer and the CAPF record, signed by
/// `sast_rsa`.
fn sign_ctl(
    sast_der: &[u8],
    sast_rsa: &rsa::RsaPrivateKey,
    capf_der: &[u8],
    timestamp: u32,
) -> Result<Vec<u8>, CliError> {
    let sast = ctl_format::Certificate::from_der(sast_der).map_err(|e| fail("SAST", e))?;
    let capf = ctl_format::Certificate::from_der(capf_der).map_err(|e| fail("CAPF", e))?;
    let signer = RsaFileSigner::new(sast_rsa.clone());
    TrustListBuilder::new(TrustListKind::Ctl, sast.clone(), &signer, timestamp)
        .records([
            RecordEntry::new(sast, Role::Sast),
            RecordEntry::new(capf, Role::Capf),
        ])
        .build()
        .map_err(|e| fail("CTL", e))
}

/// Builds CTLFile.tlv (SAST + CAPF records) with a fresh RSA-2048 SAST key
/// and verifies it.
fn build_ctl(dir: &Path, capf_der: &[u8]) -> Result<DemoCtl, CliError> {
    let (sast_der, sast_rsa) = make_sast("SAST-demo")?;
    let timestamp = u32::try_from(crate::output::now_unix()).unwrap_or(u32::MAX);
    let file = sign_ctl(&sast_der, &sast_rsa, capf_der, timestamp)?;
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
    let summary = format!(
        "CTL: {} bytes, {} records (SAST, CAPF), signed by record {} with {}, verified",
        file.len(),
        list.records().len(),
        signer.record_index + 1,
        signer.hash_algorithm
    );
    Ok(DemoCtl {
        file,
        sast_der,
        sast_rsa,
        timestamp,
        summary,
    })
}

/// One line of a section, and whether it is the expected answer.
struct Check {
    text: String,
    ok: bool,
}

impl Check {
    /// A line that is `expected` (or marked FAILED, with what was expected).
    fn expect(ok: bool, text: String, expected: &str) -> Self {
        if ok {
            Self { text, ok }
        } else {
            Self {
                text: format!("FAILED: {text} (expected {expected})"),
                ok,
            }
        }
    }
}

/// A loopback listener on an ephemeral port.
async fn listen() -> Result<(tokio::net::TcpListener, std::net::SocketAddr), CliError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| fail("listen", e))?;
    let address = listener.local_addr().map_err(|e| fail("listen", e))?;
    Ok((listener, address))
}

/// The TVS server's certificate: self-signed, EC P-256, not a CA (a
/// phone's TVS client pins it through the ITL; here the client trusts it
/// directly).
fn make_tvs_certificate(key: &rcgen::KeyPair) -> Result<rcgen::Certificate, CliError> {
    let mut params = demo_params("TVS-demo");
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params
        .self_signed(key)
        .map_err(|e| fail("TVS certificate", e))
}

/// Registers the CAPF certificate with role CAPF and asks TVS about it and
/// about `unknown_der` over TLS.
async fn tvs_checks(
    db: &Path,
    tvs_address: &str,
    tvs_der: &[u8],
    capf_der: &[u8],
    unknown_der: &[u8],
) -> Result<Vec<Check>, CliError> {
    capf_registry::SqliteRegistry::open(db)
        .and_then(|store| {
            store.tvs_add(
                capf_der,
                &[Role::Capf],
                DEMO_TVS_TTL,
                crate::output::now_unix(),
            )
        })
        .map_err(|e| fail("TVS registration", e))?;
    let tls = capf_core::tls::client_config_with_roots_at(
        &[tvs_der.to_vec()],
        capf_core::trust::ServerRole::Tvs,
        std::sync::Arc::new(crate::pump::now),
    )
    .map_err(|e| fail("TVS client TLS", e))?;
    let limit = Duration::from_secs(20);
    let ask = |der: &[u8]| {
        crate::tvs::ask(
            tvs_address,
            tls.clone(),
            DEMO_TVS_DEVICE,
            der.to_vec(),
            limit,
        )
    };
    let known = ask(capf_der).await?;
    let known_ok = matches!(&known, TvsClientResult::Valid { roles, .. } if roles == &[Role::Capf]);
    let unknown = ask(unknown_der).await?;
    let unknown_ok = matches!(unknown, TvsClientResult::Invalid);
    Ok(vec![
        Check::expect(
            known_ok,
            format!(
                "CAPF certificate CN=CAPF-demo (registered, role CAPF): {}",
                tvs_answer(&known)
            ),
            "valid, roles CAPF",
        ),
        Check::expect(
            unknown_ok,
            format!(
                "MIC CN=CP-8865-SEP0000000000A4 (not registered): {}",
                tvs_answer(&unknown)
            ),
            "INVALID",
        ),
    ])
}

/// A TVS answer in a few words.
fn tvs_answer(result: &TvsClientResult) -> String {
    match result {
        TvsClientResult::Valid { roles, ttl } => format!(
            "valid, roles {}{}",
            crate::tvs::role_names(roles),
            ttl.map(|ttl| format!(", ttl {ttl} s")).unwrap_or_default()
        ),
        TvsClientResult::Invalid => "INVALID".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Trust explained: an issued LSC trusted through the CAPF certificate, the
/// MIC not trusted for the phone's web page.
fn trust_checks(lsc_path: &Path, mic_der: &[u8], capf_der: &[u8]) -> Result<Vec<Check>, CliError> {
    let lsc = crate::files::read_certificates(lsc_path)?
        .into_iter()
        .next()
        .ok_or_else(|| fail("trust", "no LSC in the phone's file"))?;
    let store = |kind: StoreKind, name: &str| {
        let mut store = TrustStore::new(kind, name);
        store
            .add_certificate(capf_der, &[])
            .map(|()| store)
            .map_err(|e| fail("trust store", e))
    };
    let now = crate::pump::now();
    let device = Some("SEP0000000000A1".to_owned());
    let as_client = trust::evaluate(
        &[&lsc],
        &Purpose::TlsClient {
            device: device.clone(),
        },
        &[store(StoreKind::CallManagerTrust, "CallManager-trust")?],
        now,
    );
    let for_capf = trust::evaluate(
        &[&lsc],
        &Purpose::CapfAuthentication {
            credential: CapfCredential::Lsc,
            device,
        },
        &[store(StoreKind::CapfTrust, "CAPF-trust")?],
        now,
    );
    let mic_web = trust::evaluate(
        &[mic_der],
        &Purpose::PhoneWebServer { host: None },
        &[store(StoreKind::PemBundle, "browser roots")?],
        now,
    );
    let words = |verdict: &trust::Verdict| match (&verdict.anchor, &verdict.failure) {
        (_, Some(failure)) => format!("NOT TRUSTED ({})", failure.reason),
        (Some(anchor), None) => format!("TRUSTED (anchor {})", anchor.subject),
        (None, None) => "TRUSTED".to_owned(),
    };
    let mut checks = vec![
        Check::expect(
            as_client.trusted,
            format!(
                "LSC of SEP0000000000A1 as TLS client, CallManager-trust holding the CAPF certificate: {}",
                words(&as_client)
            ),
            "TRUSTED",
        ),
        Check::expect(
            for_capf.trusted,
            format!(
                "LSC of SEP0000000000A1 for CAPF re-enrolment, CAPF-trust: {}",
                words(&for_capf)
            ),
            "TRUSTED",
        ),
        Check::expect(
            !mic_web.trusted,
            format!(
                "MIC of SEP0000000000A4 as the phone's web server, browser roots holding the CAPF certificate: {}",
                words(&mic_web)
            ),
            "NOT TRUSTED",
        ),
    ];
    if let Some(failure) = &mic_web.failure {
        checks.push(Check {
            text: format!("  fix: {}", failure.fix),
            ok: true,
        });
    }
    Ok(checks)
}

/// Rollover predicted for phones holding the demo CTL: the same SAST
/// re-signing is accepted, a new unknown SAST key strands them.
fn rollover_checks(ctl: &DemoCtl, capf_der: &[u8]) -> Result<Vec<Check>, CliError> {
    let next = ctl.timestamp.saturating_add(1);
    let resigned = sign_ctl(&ctl.sast_der, &ctl.sast_rsa, capf_der, next)?;
    let (new_sast_der, new_sast_rsa) = make_sast("SAST-new")?;
    let foreign = sign_ctl(&new_sast_der, &new_sast_rsa, capf_der, next)?;
    let predict = |bytes: &[u8]| {
        rollover::predict(
            InstalledLists::ctl(&ctl.file),
            CandidateList {
                kind: TrustListKind::Ctl,
                bytes,
            },
            None,
            HashPolicy::CISCO,
        )
        .map_err(|e| fail("rollover", e))
    };
    let verdict = |prediction: &rollover::Prediction| match &prediction.verdict {
        rollover::RolloverVerdict::Accepted(how) => format!("ACCEPTED ({})", how.code()),
        rollover::RolloverVerdict::Rejected { reason, .. } => format!("STRANDED ({reason})"),
        _ => "UNKNOWN".to_owned(),
    };
    let same = predict(&resigned)?;
    let new = predict(&foreign)?;
    let mut checks = vec![
        Check::expect(
            matches!(
                same.verdict,
                rollover::RolloverVerdict::Accepted(
                    rollover::Acceptance::SignedBySameCertificate { .. }
                )
            ),
            format!("CTL re-signed by SAST-demo: {}", verdict(&same)),
            "ACCEPTED (same-certificate)",
        ),
        Check::expect(
            !new.is_accepted(),
            format!("CTL signed by a new SAST key (SAST-new): {}", verdict(&new)),
            "STRANDED",
        ),
        Check {
            text: format!("  phone: {}", new.outcome),
            ok: true,
        },
    ];
    if let Some(fix) = &new.fix {
        checks.push(Check {
            text: format!("  fix: {fix}"),
            ok: true,
        });
    }
    Ok(checks)
}
