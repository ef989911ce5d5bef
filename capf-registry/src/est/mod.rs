//! LSCs signed by an online CA through EST (RFC 7030 `/simpleenroll`), for
//! every host of a CAPF service (feature `est`).
//!
//! # What a host does
//!
//! At `ServerDecision::IssueCertificate` a host configured with an
//! [`EstClient`] calls [`EstClient::simple_enroll`] with the phone-signed
//! PKCS#10 request of the decision and the phone's SubjectPublicKeyInfo,
//! and answers the session with the certificate, or refuses it with
//! [`EstError::refusal`]. The session keeps the phone connected meanwhile
//! (it has no deadline while the host issues); the call is bounded by the
//! client's timeout, which the host adds to the claim's lease
//! ([`crate::rules::lease_until_with_issuance`]). The ledger row is written
//! at the session's `RecordPendingCertificate`, before the certificate is
//! sent, as for the local CA ([`crate::NewCertificate::from_der`] reads its
//! serial and dates).
//!
//! # The phone's request
//!
//! `/simpleenroll` takes a PKCS#10 request signed by the subject key (proof
//! of possession), which only the phone can make: a phone that sends only
//! its public key (as the phones of our recordings do) cannot be enrolled
//! through EST. Its session is refused ([`refusal_without_request`]) as a
//! refusal, status "CA Rejected Connection", not a communication failure:
//! asking again does not help until the phone sends a signed request (our
//! phone: `capf enroll --send-csr`); the log and the refusal say why.
//!
//! # The CA's certificates
//!
//! Phones later authenticate with the LSC the CA signed (an upgrade
//! authenticated by the LSC, a renewal): a host trusts the certificates of
//! the CA's `/cacerts` ([`EstClient::ca_certificates`]) as LSC issuers.
//! `capf serve --est-url` reads them at start-up and does not start
//! without them.
//!
//! # The exchange
//!
//! One HTTPS connection per request (tokio + rustls, TLS 1.2/1.3): `POST
//! /.well-known/est[/LABEL]/simpleenroll`, body the base64 DER request
//! (`application/pkcs10`), HTTP basic authentication or a TLS client
//! certificate; the answer must be `200` with a base64 certs-only PKCS#7
//! (`application/pkcs7-mime; smime-type=certs-only`), of which the one
//! certificate carrying exactly the phone's key is taken. A `202` (the CA
//! holds the request for approval) is asked again after its `Retry-After`
//! while that falls within the limit. The CA's TLS
//! certificate is verified against the trust anchors given (there are no
//! built-in roots: a CAPF server runs offline as often as not), with its
//! host name. Responses are bounded ([`http::MAX_HEAD`], [`http::MAX_BODY`])
//! and parsed without panics.
//!
//! | what happens | refusal | device status |
//! | --- | --- | --- |
//! | no answer within the timeout, connection or TLS failure, a malformed answer, HTTP 202 (request held for approval) whose Retry-After falls past the limit, 1xx/3xx, a certificate for another key | [`IssueRefusal::Unavailable`] | CA Communication Failure |
//! | HTTP 4xx or 5xx (401, 403, 400, 500…) | [`IssueRefusal::Declined`] | CA Rejected Connection |
//! | the phone sent no signed request | [`IssueRefusal::Declined`] | CA Rejected Connection |
//!
//! A server killed while it waits for the CA has written nothing for that
//! request: the certificate the CA may have signed never reached a phone
//! and is not in the ledger (it is in the CA's own records); the phone
//! retries with a new key once the claim's lease expires.

pub mod http;
pub mod pkcs7;
#[cfg(feature = "est-responder")]
pub mod responder;

use capf_core::capf::server::IssueRefusal;
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The default `--est-timeout-seconds`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an EST enrollment gave no certificate.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EstError {
    /// The client's configuration is unusable (URL, trust anchors, keys).
    #[error("EST configuration: {0}")]
    Configuration(String),
    /// No complete answer within the timeout.
    #[error("the EST CA did not answer within {0:?}")]
    Timeout(Duration),
    /// The TCP connection failed.
    #[error("connecting to the EST CA failed: {0}")]
    Connection(String),
    /// TLS failed (the CA's certificate not trusted, a handshake error).
    #[error("TLS with the EST CA failed: {0}")]
    Tls(String),
    /// The answer is not HTTP as it should be.
    #[error("the EST CA's answer is malformed: {0}")]
    Http(#[from] http::HttpError),
    /// The CA refused (HTTP 4xx/5xx).
    #[error("the EST CA refused the request: HTTP {status} {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// An answer that is neither a certificate nor a refusal (202 with
    /// Retry-After: the request waits for approval; 1xx, 3xx).
    #[error("the EST CA gave no certificate: HTTP {status} {reason}")]
    NoCertificate {
        /// The HTTP status.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// A 200 whose body is not a certs-only PKCS#7 with the phone's key.
    #[error("the EST CA's answer is unusable: {0}")]
    Pkcs7(#[from] pkcs7::Pkcs7Error),
    /// A blocking call could not run the exchange (no thread or runtime).
    #[error("running the EST exchange failed: {0}")]
    Runtime(String),
}

impl EstError {
    /// How the server session is refused for this error (see the table in
    /// the [module docs](self)).
    pub fn refusal(&self) -> IssueRefusal {
        match self {
            Self::Refused { .. } => IssueRefusal::Declined(self.to_string()),
            _ => IssueRefusal::Unavailable(self.to_string()),
        }
    }
}

/// The refusal of a session whose phone sent no signed request (see the
/// [module docs](self#the-phones-request)).
pub fn refusal_without_request() -> IssueRefusal {
    IssueRefusal::Declined(
        "the phone sent no signed certificate request (PKCS#10), which EST enrollment needs"
            .to_owned(),
    )
}

/// Where the CA is: an `https://` URL, its path empty, `/.well-known/est`,
/// `/.well-known/est/LABEL` or `/LABEL` (RFC 7030 section 3.2.2's optional
/// CA label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (443 unless given).
    pub port: u16,
    /// The CA label, if any.
    pub label: Option<String>,
}

impl EstUrl {
    /// Parses `url`.
    pub fn parse(url: &str) -> Result<Self, EstError> {
        let bad = |why: &str| EstError::Configuration(format!("--est-url {url}: {why}"));
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| bad("an https:// URL is needed"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(bad("credentials do not go in the URL"));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| bad("bad port"))?,
            None => 443,
        };
        if path.contains(['?', '#']) {
            return Err(bad("no query or fragment"));
        }
        let path = path.trim_matches('/');
        let label = path
            .strip_prefix(".well-known/est")
            .map(|after| after.trim_start_matches('/'))
            .unwrap_or(path);
        if label.contains('/') {
            return Err(bad(
                "the path may name one CA label: /.well-known/est/LABEL or /LABEL",
            ));
        }
        ServerName::try_from(host.to_owned()).map_err(|_| bad("bad host name"))?;
        Ok(Self {
            host: host.to_owned(),
            port,
            label: (!label.is_empty()).then(|| label.to_owned()),
        })
    }

    /// The request path of `operation` (`simpleenroll`).
    pub fn path(&self, operation: &str) -> String {
        match &self.label {
            Some(label) => format!("/.well-known/est/{label}/{operation}"),
            None => format!("/.well-known/est/{operation}"),
        }
    }

    /// The `Host` header's value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 443 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// How the server authenticates to the CA.
pub enum EstAuthentication {
    /// HTTP basic authentication (RFC 7030 section 3.2.3).
    Basic {
        /// The user name.
        user: String,
        /// The password (never logged, never in an error).
        password: String,
    },
    /// A TLS client certificate (RFC 7030 section 3.3.2).
    ClientCertificate {
        /// The certificate and its chain, DER.
        chain: Vec<Vec<u8>>,
        /// Its PKCS#8 private key, DER.
        key_pkcs8_der: Vec<u8>,
    },
    /// Neither (a CA that authorizes by other means).
    None,
}

impl EstAuthentication {
    /// The authentication a host's options name, checked the way `capf
    /// serve`'s flags are: a user with its password (not empty), or a
    /// client certificate chain with its PKCS#8 key, or neither; never
    /// both, never half of one.
    pub fn from_options(
        user: Option<String>,
        password: Option<String>,
        client_certificate_chain: Option<Vec<Vec<u8>>>,
        client_key_pkcs8_der: Option<Vec<u8>>,
    ) -> Result<Self, EstError> {
        let bad = |why: &str| Err(EstError::Configuration(why.to_owned()));
        let basic = user.is_some() || password.is_some();
        let certificate = client_certificate_chain.is_some() || client_key_pkcs8_der.is_some();
        if basic && certificate {
            return bad(
                "authenticate with a user and password or with a client certificate and key, \
                 not both",
            );
        }
        match (
            user,
            password,
            client_certificate_chain,
            client_key_pkcs8_der,
        ) {
            (Some(user), Some(password), None, None) => {
                if password.is_empty() {
                    return bad("the EST password is empty");
                }
                Ok(Self::Basic { user, password })
            }
            (None, None, Some(chain), Some(key_pkcs8_der)) => {
                if chain.is_empty() {
                    return bad("the EST client certificate holds no certificate");
                }
                Ok(Self::ClientCertificate {
                    chain,
                    key_pkcs8_der,
                })
            }
            (None, None, None, None) => Ok(Self::None),
            _ if basic => bad("the EST user and password go together"),
            _ => bad("the EST client certificate and its key go together"),
        }
    }
}

impl std::fmt::Debug for EstAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: <hidden> }}"),
            Self::ClientCertificate { .. } => f.write_str("ClientCertificate"),
            Self::None => f.write_str("None"),
        }
    }
}

/// Everything an [`EstClient`] needs.
#[derive(Debug)]
pub struct EstConfig {
    /// Where the CA is.
    pub url: EstUrl,
    /// The certificates (DER) trusted to issue the CA's TLS certificate.
    pub trust_anchors: Vec<Vec<u8>>,
    /// How the server authenticates.
    pub authentication: EstAuthentication,
    /// The longest one enrollment may take, connection to answer.
    pub timeout: Duration,
}

/// An EST client for one CA; shared by every session of a server.
pub struct EstClient {
    url: EstUrl,
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
    /// `Basic …`, computed once (never logged).
    authorization: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for EstClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EstClient")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EstClient {
    /// A client for `config`: checks the trust anchors and the client
    /// certificate now, so a bad file is found at start-up.
    pub fn new(config: EstConfig) -> Result<Self, EstError> {
        let bad = |why: String| EstError::Configuration(why);
        let mut roots = rustls::RootCertStore::empty();
        for der in &config.trust_anchors {
            roots
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| bad(format!("--est-ca: {e}")))?;
        }
        if roots.is_empty() {
            return Err(bad(
                "--est-ca: no trust anchor for the CA's TLS certificate".into(),
            ));
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots);
        let (tls, authorization) = match config.authentication {
            EstAuthentication::ClientCertificate {
                chain,
                key_pkcs8_der,
            } => {
                let chain = chain.into_iter().map(CertificateDer::from).collect();
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8_der));
                let tls = builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| bad(format!("--est-cert/--est-key: {e}")))?;
                (tls, None)
            }
            EstAuthentication::Basic { user, password } => {
                if user.contains(':') {
                    return Err(bad("--est-user: a user name cannot hold ':'".into()));
                }
                let credentials = <base64ct::Base64 as base64ct::Encoding>::encode_string(
                    format!("{user}:{password}").as_bytes(),
                );
                (
                    builder.with_no_client_auth(),
                    Some(format!("Basic {credentials}")),
                )
            }
            EstAuthentication::None => (builder.with_no_client_auth(), None),
        };
        let server_name = ServerName::try_from(config.url.host.clone())
            .map_err(|_| bad(format!("--est-url: bad host {}", config.url.host)))?;
        Ok(Self {
            url: config.url,
            connector: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            server_name,
            authorization,
            timeout: config.timeout,
        })
    }

    /// The longest [`simple_enroll`](Self::simple_enroll) takes.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The CA's URL, for logs.
    pub fn url(&self) -> &EstUrl {
        &self.url
    }

    /// Asks the CA to sign `certificate_request_der` (a PKCS#10 request
    /// signed by the phone's key) and returns the certificate of its
    /// answer that carries exactly `subject_public_key_info_der`.
    pub async fn simple_enroll(
        &self,
        certificate_request_der: &[u8],
        subject_public_key_info_der: &[u8],
    ) -> Result<Vec<u8>, EstError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let response = tokio::time::timeout_at(
                deadline,
                self.exchange(&self.url.path("simpleenroll"), certificate_request_der),
            )
            .await
            .map_err(|_| EstError::Timeout(self.timeout))??;
            match response.status {
                200 => {
                    let certificates = pkcs7::certificates(&response.body)?;
                    return Ok(pkcs7::certificate_for_key(
                        &certificates,
                        subject_public_key_info_der,
                    )?);
                }
                // The CA holds the request (manual approval, RFC 7030
                // section 4.2.3): asked again after Retry-After when that
                // is within the limit, else no certificate now.
                202 => match retry_after(&response) {
                    Some(wait)
                        if tokio::time::Instant::now()
                            .checked_add(wait)
                            .is_some_and(|due| due < deadline) =>
                    {
                        tokio::time::sleep(wait).await;
                    }
                    _ => {
                        return Err(EstError::NoCertificate {
                            status: 202,
                            reason: format!(
                                "{} (the request waits at the CA past the limit)",
                                response.reason
                            ),
                        });
                    }
                },
                400..=599 => {
                    return Err(EstError::Refused {
                        status: response.status,
                        reason: response.reason,
                    });
                }
                status => {
                    return Err(EstError::NoCertificate {
                        status,
                        reason: response.reason,
                    });
                }
            }
        }
    }

    /// The CA certificates the CA publishes (RFC 7030 `/cacerts`, a
    /// certs-only PKCS#7), DER, within the client's timeout: the issuers a
    /// server trusts for the LSCs this CA signs when phones authenticate
    /// with them.
    pub async fn ca_certificates(&self) -> Result<Vec<Vec<u8>>, EstError> {
        let request = http::get_request(
            &self.url.host_header(),
            &self.url.path("cacerts"),
            self.authorization.as_deref(),
        );
        let response = tokio::time::timeout(self.timeout, self.send(&request))
            .await
            .map_err(|_| EstError::Timeout(self.timeout))??;
        match response.status {
            200 => Ok(pkcs7::certificates(&response.body)?),
            400..=599 => Err(EstError::Refused {
                status: response.status,
                reason: response.reason,
            }),
            status => Err(EstError::NoCertificate {
                status,
                reason: response.reason,
            }),
        }
    }

    /// [`simple_enroll`](Self::simple_enroll) for a host without an async
    /// runtime (Python, Kotlin): runs on a thread of its own with a
    /// current-thread runtime, so it may be called from any thread, inside
    /// an async runtime or not. Returns within the client's timeout.
    pub fn simple_enroll_blocking(
        &self,
        certificate_request_der: &[u8],
        subject_public_key_info_der: &[u8],
    ) -> Result<Vec<u8>, EstError> {
        block_on(self.simple_enroll(certificate_request_der, subject_public_key_info_der))?
    }

    /// [`ca_certificates`](Self::ca_certificates) for a host without an
    /// async runtime, as [`simple_enroll_blocking`](Self::simple_enroll_blocking).
    pub fn ca_certificates_blocking(&self) -> Result<Vec<Vec<u8>>, EstError> {
        block_on(self.ca_certificates())?
    }

    /// One POST of `der` (base64, `application/pkcs10`) to `path`.
    async fn exchange(&self, path: &str, der: &[u8]) -> Result<http::Response, EstError> {
        let body = base64_lines(der);
        let request = http::post_request(
            &self.url.host_header(),
            path,
            "application/pkcs10",
            self.authorization.as_deref(),
            &[
                ("Content-Transfer-Encoding", "base64"),
                ("Accept", "application/pkcs7-mime"),
            ],
            &body,
        );
        self.send(&request).await
    }

    /// One request on a new connection, and its response.
    async fn send(&self, request: &[u8]) -> Result<http::Response, EstError> {
        let address = (self.url.host.as_str(), self.url.port);
        let tcp = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| EstError::Connection(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let mut tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| EstError::Tls(e.to_string()))?;
        tls.write_all(request)
            .await
            .map_err(|e| EstError::Connection(e.to_string()))?;
        tls.flush()
            .await
            .map_err(|e| EstError::Connection(e.to_string()))?;
        let mut received = Vec::new();
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let read = tls.read(&mut buffer).await;
            let (count, closed) = match read {
                Ok(0) => (0, true),
                Ok(count) => (count, false),
                // A peer that closes without close_notify ends the body as
                // well (many HTTP servers do); a truncated answer is found
                // by the parser.
                Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => (0, true),
                Err(error) => return Err(EstError::Tls(error.to_string())),
            };
            received.extend_from_slice(buffer.get(..count).unwrap_or_default());
            match http::parse_response(&received, closed)? {
                http::Progress::Complete(response) => return Ok(response),
                http::Progress::Incomplete if closed => {
                    return Err(http::HttpError::Truncated.into());
                }
                http::Progress::Incomplete => {}
            }
        }
    }
}

/// Runs `future` to completion on a scoped thread with a current-thread
/// runtime: never inside the caller's runtime (whose `block_on` would
/// panic), and a panic of the exchange is an error, not the caller's.
fn block_on<F>(future: F) -> Result<F::Output, EstError>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| EstError::Runtime(e.to_string()))?;
                Ok(runtime.block_on(future))
            })
            .join()
            .unwrap_or_else(|_| Err(EstError::Runtime("the EST exchange panicked".to_owned())))
    })
}

/// A 202's `Retry-After` in seconds (at least one second; an HTTP date or
/// none gives `None`).
fn retry_after(response: &http::Response) -> Option<Duration> {
    let seconds = response.header("retry-after")?.parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds.max(1)))
}

/// Base64 in lines of 64 characters (RFC 7030 bodies are base64 with
/// line breaks, as PEM).
fn base64_lines(der: &[u8]) -> Vec<u8> {
    let text = <base64ct::Base64 as base64ct::Encoding>::encode_string(der);
    let mut body = Vec::with_capacity(text.len().saturating_add(text.len() / 32));
    for line in text.as_bytes().chunks(64) {
        body.extend_from_slice(line);
        body.extend_from_slice(b"\r\n");
    }
    body
}

/// A PKCS#10 request's SubjectPublicKeyInfo, DER (for a host that checks
/// what it forwards; `None` when the request does not parse).
pub fn request_public_key(certificate_request_der: &[u8]) -> Option<Vec<u8>> {
    x509_cert::request::CertReq::from_der(certificate_request_der)
        .ok()?
        .info
        .public_key
        .to_der()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_well_known_path_and_an_optional_label() {
        let url = EstUrl::parse("https://ca.example").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.label.as_deref()),
            ("ca.example", 443, None)
        );
        assert_eq!(url.path("simpleenroll"), "/.well-known/est/simpleenroll");
        assert_eq!(url.host_header(), "ca.example");
        for (text, label) in [
            ("https://ca.example:8443/", None),
            ("https://ca.example:8443/.well-known/est", None),
            ("https://ca.example:8443/.well-known/est/", None),
            (
                "https://ca.example:8443/.well-known/est/phones",
                Some("phones"),
            ),
            ("https://ca.example:8443/phones/", Some("phones")),
        ] {
            let url = EstUrl::parse(text).unwrap();
            assert_eq!((url.port, url.label.as_deref()), (8443, label), "{text}");
        }
        let url = EstUrl::parse("https://[::1]:9443/lsc").unwrap();
        assert_eq!(url.host, "::1");
        assert_eq!(
            url.path("simpleenroll"),
            "/.well-known/est/lsc/simpleenroll"
        );
        assert_eq!(url.host_header(), "[::1]:9443");
        for bad in [
            "http://ca.example",
            "ca.example",
            "https://",
            "https://:443",
            "https://ca.example:99999",
            "https://ca.example:x",
            "https://user:pw@ca.example",
            "https://ca.example/a/b",
            "https://ca.example/.well-known/est/a/b",
            "https://ca.example/?x",
            "https://[::1/",
        ] {
            assert!(
                matches!(EstUrl::parse(bad), Err(EstError::Configuration(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn refusals_map_to_the_two_ca_statuses() {
        let declined = EstError::Refused {
            status: 401,
            reason: "Unauthorized".into(),
        };
        assert!(matches!(declined.refusal(), IssueRefusal::Declined(_)));
        for unavailable in [
            EstError::Timeout(Duration::from_secs(1)),
            EstError::Connection("refused".into()),
            EstError::Tls("unknown issuer".into()),
            EstError::Http(http::HttpError::Truncated),
            EstError::NoCertificate {
                status: 202,
                reason: "Accepted".into(),
            },
            EstError::Pkcs7(pkcs7::Pkcs7Error::KeyMismatch),
        ] {
            assert!(
                matches!(unavailable.refusal(), IssueRefusal::Unavailable(_)),
                "{unavailable}"
            );
        }
        assert!(matches!(
            refusal_without_request(),
            IssueRefusal::Declined(_)
        ));
    }

    #[test]
    fn authentication_options_are_one_method_or_none() {
        let chain = || Some(vec![vec![0x30]]);
        let key = || Some(vec![0x30]);
        let text = |s: &str| Some(s.to_owned());
        assert!(matches!(
            EstAuthentication::from_options(text("u"), text("p"), None, None),
            Ok(EstAuthentication::Basic { .. })
        ));
        assert!(matches!(
            EstAuthentication::from_options(None, None, chain(), key()),
            Ok(EstAuthentication::ClientCertificate { .. })
        ));
        assert!(matches!(
            EstAuthentication::from_options(None, None, None, None),
            Ok(EstAuthentication::None)
        ));
        for (user, password, chain, key) in [
            (text("u"), None, None, None),
            (None, text("p"), None, None),
            (text("u"), text(""), None, None),
            (None, None, chain(), None),
            (None, None, None, key()),
            (None, None, Some(Vec::new()), key()),
            (text("u"), text("p"), chain(), key()),
            (text("u"), None, None, key()),
        ] {
            assert!(matches!(
                EstAuthentication::from_options(user, password, chain, key),
                Err(EstError::Configuration(_))
            ));
        }
    }

    #[test]
    fn the_password_is_in_no_debug_output() {
        let authentication = EstAuthentication::Basic {
            user: "capf".into(),
            password: "s3cret-pass".into(),
        };
        let shown = format!("{authentication:?}");
        assert!(
            shown.contains("capf") && !shown.contains("s3cret-pass"),
            "{shown}"
        );
    }
}
