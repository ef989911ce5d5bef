//! An EST responder for tests (feature `est-responder`): real HTTPS on
//! loopback (rustls), `/simpleenroll` answered with a real certs-only
//! PKCS#7 (the `cms` crate) holding a certificate signed by a test CA
//! (rcgen), HTTP basic or TLS client-certificate authentication checked,
//! and the misbehaviours the client must survive (a refusal status, an
//! answer held past the client's limit, a certificate for another key, a
//! chunked answer). Test support, not a CA: it signs whatever request
//! arrives.

use cms::content_info::ContentInfo;
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How the responder answers `/simpleenroll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Signs the request: 200 with the certificate and the CA (Content-Length).
    Issue,
    /// As [`Issue`](Self::Issue), the body in chunked transfer coding.
    IssueChunked,
    /// Answers this HTTP status with a short text body.
    Status(u16),
    /// Never answers (until the client goes away or the responder stops).
    Hold,
    /// Holds the first request as [`Hold`](Self::Hold), issues the
    /// others (one session held while others are served).
    HoldFirst,
    /// Answers the first request 202 with `Retry-After` of this many
    /// seconds (held for approval), issues the others.
    AcceptFirst(u32),
    /// Signs a certificate for a key of its own, not the request's.
    WrongKey,
}

/// A CA for tests: a self-signed P-256 CA certificate and key (the EST
/// CA that signs LSCs) and, issued by it, the responder's TLS certificate
/// for `localhost` and `127.0.0.1`.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub certificate_pem: String,
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The CA's key, PKCS#8 PEM.
    pub key_pem: String,
    /// The CA's key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The responder's TLS certificate chain, DER.
    pub tls_chain: Vec<Vec<u8>>,
    /// The responder's TLS key, PKCS#8 DER.
    pub tls_key: Vec<u8>,
}

impl TestCa {
    /// A new CA whose certificate's CN is `name`.
    pub fn new(name: &str) -> Result<Self, rcgen::Error> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key)?;
        let issuer = rcgen::Issuer::from_ca_cert_der(certificate.der(), &key)?;
        let tls_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut tls = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
        tls.subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        let tls_certificate = tls.signed_by(&tls_key, &issuer)?;
        Ok(Self {
            certificate_pem: certificate.pem(),
            certificate_der: certificate.der().to_vec(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
            tls_chain: vec![tls_certificate.der().to_vec()],
            tls_key: tls_key.serialize_der(),
        })
    }
}

/// What the responder needs.
pub struct ResponderConfig {
    /// The signing CA's certificate (PEM) and PKCS#8 key (PEM).
    pub ca_certificate_pem: String,
    /// The signing CA's key, PKCS#8 PEM.
    pub ca_key_pem: String,
    /// The responder's TLS certificate chain (DER), for `localhost` /
    /// `127.0.0.1`.
    pub tls_chain: Vec<Vec<u8>>,
    /// Its PKCS#8 key, DER.
    pub tls_key_pkcs8_der: Vec<u8>,
    /// Require a client certificate issued by one of these (DER).
    pub client_ca: Vec<Vec<u8>>,
    /// Require HTTP basic authentication with this user and password.
    pub basic: Option<(String, String)>,
    /// The first serial number it issues (then one more each time).
    pub first_serial: u64,
}

/// One request as the responder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The request line's path.
    pub path: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// Whether basic credentials came and were right.
    pub basic_ok: bool,
    /// Whether the TLS client presented a certificate.
    pub client_certificate: bool,
    /// The status answered (`None` while held or when never answered).
    pub status: Option<u16>,
}

#[derive(Default)]
struct Shared {
    behaviour: Option<Behaviour>,
    seen: Vec<SeenRequest>,
    holding: usize,
    next_serial: u64,
}

/// A running responder on `127.0.0.1`; stopped on drop.
pub struct Responder {
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Responder {
    /// Starts a responder with `behaviour` on a port of its own.
    pub fn start(config: ResponderConfig, behaviour: Behaviour) -> std::io::Result<Self> {
        let other = |why: String| std::io::Error::other(why);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| other(e.to_string()))?;
        let builder = if config.client_ca.is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for der in &config.client_ca {
                roots
                    .add(CertificateDer::from(der.clone()))
                    .map_err(|e| other(e.to_string()))?;
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| other(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        };
        let tls = builder
            .with_single_cert(
                config
                    .tls_chain
                    .iter()
                    .map(|der| CertificateDer::from(der.clone()))
                    .collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(config.tls_key_pkcs8_der.clone())),
            )
            .map_err(|e| other(e.to_string()))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            behaviour: Some(behaviour),
            next_serial: config.first_serial,
            ..Shared::default()
        }));
        let signer = Arc::new(Signer::new(&config)?);
        let basic = config.basic.map(|(user, password)| {
            format!(
                "Basic {}",
                <base64ct::Base64 as base64ct::Encoding>::encode_string(
                    format!("{user}:{password}").as_bytes()
                )
            )
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let task_shared = shared.clone();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let accept_loop = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let acceptor = acceptor.clone();
                        let shared = task_shared.clone();
                        let signer = signer.clone();
                        let basic = basic.clone();
                        tokio::spawn(async move {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                serve(tls, &shared, &signer, basic.as_deref()).await;
                            }
                        });
                    }
                };
                tokio::select! {
                    () = accept_loop => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Self {
            address,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT` (add a label path if wanted).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.address.port())
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Changes how the next requests are answered.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.behaviour = Some(behaviour);
        }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.shared
            .lock()
            .map(|shared| shared.seen.clone())
            .unwrap_or_default()
    }

    /// How many requests are held now ([`Behaviour::Hold`]).
    pub fn holding(&self) -> usize {
        self.shared.lock().map_or(0, |shared| shared.holding)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The test CA.
struct Signer {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    ca_der: Vec<u8>,
}

impl Signer {
    fn new(config: &ResponderConfig) -> std::io::Result<Self> {
        let other = |why: String| std::io::Error::other(why);
        let key = rcgen::KeyPair::from_pem(&config.ca_key_pem).map_err(|e| other(e.to_string()))?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(&config.ca_certificate_pem, key)
            .map_err(|e| other(e.to_string()))?;
        let (_, ca_der) = der::pem::decode_vec(config.ca_certificate_pem.as_bytes())
            .map_err(|e| other(e.to_string()))?;
        Ok(Self { issuer, ca_der })
    }

    /// A certs-only PKCS#7 (DER) of the CA certificate alone (`/cacerts`).
    fn ca_only(&self) -> Result<Vec<u8>, String> {
        let certificate =
            x509_cert::Certificate::from_der(&self.ca_der).map_err(|e| e.to_string())?;
        ContentInfo::try_from(vec![certificate])
            .and_then(|info| info.to_der())
            .map_err(|e| e.to_string())
    }

    /// A certs-only PKCS#7 (DER) with the certificate for `request` (or
    /// for a key of the responder's own) and the CA.
    fn sign(&self, request_der: &[u8], serial: u64, wrong_key: bool) -> Result<Vec<u8>, String> {
        let csr = rcgen::CertificateSigningRequestParams::from_der(
            &rustls_pki_types::CertificateSigningRequestDer::from(request_der.to_vec()),
        )
        .map_err(|e| format!("request: {e}"))?;
        let mut params = csr.params;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial.to_be_bytes()));
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let certificate = if wrong_key {
            let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|e| e.to_string())?;
            params.signed_by(&other, &self.issuer)
        } else {
            params.signed_by(&csr.public_key, &self.issuer)
        }
        .map_err(|e| e.to_string())?;
        let path = [certificate.der().to_vec(), self.ca_der.clone()]
            .iter()
            .map(|der| x509_cert::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        ContentInfo::try_from(path)
            .and_then(|info| info.to_der())
            .map_err(|e| e.to_string())
    }
}

/// One connection: one request, one answer.
async fn serve(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    shared: &Mutex<Shared>,
    signer: &Signer,
    basic: Option<&str>,
) {
    let client_certificate = tls.get_ref().1.peer_certificates().is_some();
    let Some((path, headers, body)) = read_request(&mut tls).await else {
        return;
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let basic_ok =
        basic.is_some_and(|expected| header("authorization").as_deref() == Some(expected));
    // /cacerts needs no authentication (RFC 7030 section 4.1.1) and is
    // answered whatever the behaviour; it is not counted among the
    // enrollments seen.
    if path.ends_with("/cacerts") {
        if let Ok(pkcs7) = signer.ca_only() {
            let body = <base64ct::Base64 as base64ct::Encoding>::encode_string(&pkcs7);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: base64\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = tls.write_all(head.as_bytes()).await;
            let _ = tls.write_all(body.as_bytes()).await;
        }
        let _ = tls.shutdown().await;
        return;
    }
    let (index, behaviour, serial) = {
        let Ok(mut state) = shared.lock() else { return };
        state.seen.push(SeenRequest {
            path: path.clone(),
            content_type: header("content-type"),
            basic_ok,
            client_certificate,
            status: None,
        });
        let serial = state.next_serial;
        state.next_serial = serial.saturating_add(1);
        let behaviour = match state.behaviour.clone().unwrap_or(Behaviour::Issue) {
            Behaviour::HoldFirst if state.seen.len() == 1 => Behaviour::Hold,
            Behaviour::HoldFirst => Behaviour::Issue,
            Behaviour::AcceptFirst(seconds) if state.seen.len() == 1 => {
                Behaviour::AcceptFirst(seconds)
            }
            Behaviour::AcceptFirst(_) => Behaviour::Issue,
            other => other,
        };
        (state.seen.len() - 1, behaviour, serial)
    };
    let answer = |status: u16| {
        if let Ok(mut state) = shared.lock()
            && let Some(seen) = state.seen.get_mut(index)
        {
            seen.status = Some(status);
        }
    };
    if basic.is_some() && !basic_ok {
        answer(401);
        let _ = tls
            .write_all(&plain(
                401,
                "Unauthorized",
                "WWW-Authenticate: Basic realm=\"est\"\r\n",
            ))
            .await;
        let _ = tls.shutdown().await;
        return;
    }
    if !path.ends_with("/simpleenroll") {
        answer(404);
        let _ = tls.write_all(&plain(404, "Not Found", "")).await;
        let _ = tls.shutdown().await;
        return;
    }
    match behaviour {
        Behaviour::Status(status) => {
            answer(status);
            let _ = tls.write_all(&plain(status, "Refused", "")).await;
        }
        Behaviour::AcceptFirst(seconds) => {
            answer(202);
            let extra = format!("Retry-After: {seconds}\r\n");
            let _ = tls.write_all(&plain(202, "Accepted", &extra)).await;
        }
        Behaviour::Hold => {
            if let Ok(mut state) = shared.lock() {
                state.holding += 1;
            }
            // Until the client leaves (or the responder stops).
            let mut sink = [0_u8; 256];
            while matches!(tls.read(&mut sink).await, Ok(n) if n > 0) {}
            if let Ok(mut state) = shared.lock() {
                state.holding = state.holding.saturating_sub(1);
            }
            return;
        }
        Behaviour::Issue | Behaviour::IssueChunked | Behaviour::WrongKey | Behaviour::HoldFirst => {
            let text: String = String::from_utf8_lossy(&body)
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let signed = <base64ct::Base64 as base64ct::Encoding>::decode_vec(&text)
                .map_err(|e| e.to_string())
                .and_then(|der| signer.sign(&der, serial, behaviour == Behaviour::WrongKey));
            match signed {
                Ok(pkcs7) => {
                    answer(200);
                    let encoded = <base64ct::Base64 as base64ct::Encoding>::encode_string(&pkcs7);
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n";
                    let bytes = if behaviour == Behaviour::IssueChunked {
                        let mut bytes =
                            format!("{head}Transfer-Encoding: chunked\r\n\r\n").into_bytes();
                        for chunk in encoded.as_bytes().chunks(100) {
                            bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                            bytes.extend_from_slice(chunk);
                            bytes.extend_from_slice(b"\r\n");
                        }
                        bytes.extend_from_slice(b"0\r\n\r\n");
                        bytes
                    } else {
                        let mut bytes =
                            format!("{head}Content-Length: {}\r\n\r\n", encoded.len()).into_bytes();
                        bytes.extend_from_slice(encoded.as_bytes());
                        bytes
                    };
                    let _ = tls.write_all(&bytes).await;
                }
                Err(_) => {
                    answer(400);
                    let _ = tls.write_all(&plain(400, "Bad Request", "")).await;
                }
            }
        }
    }
    let _ = tls.shutdown().await;
}

/// A short text answer.
fn plain(status: u16, reason: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\n{extra}Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
    )
    .into_bytes()
}

/// Path, headers (lower-case names) and body of one request.
async fn read_request<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(buffer.get(..n)?);
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            if bytes.len() > 65_536 {
                return None;
            }
            continue;
        };
        let head = std::str::from_utf8(bytes.get(..end)?).ok()?;
        let mut lines = head.split("\r\n");
        let path = lines.next()?.split(' ').nth(1)?.to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        if length > 1_000_000 {
            return None;
        }
        let body_start = end + 4;
        while bytes.len() < body_start + length {
            let n = stream.read(&mut buffer).await.ok()?;
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(buffer.get(..n)?);
        }
        let body = bytes.get(body_start..body_start + length)?.to_vec();
        return Some((path, headers, body));
    }
}
