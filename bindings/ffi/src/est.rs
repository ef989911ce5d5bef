//! [`EstIssuer`]: LSCs signed by an online CA through EST (RFC 7030), as
//! `capf serve --est-url …` has them signed; given to
//! [`RegistryServerSession::with_est`](crate::registry::RegistryServerSession::with_est)
//! instead of an [`LscIssuer`](crate::server::LscIssuer). A thin handle on
//! `capf_registry::est::EstClient`: what the CA's answers mean for a
//! session (which refusal, which status) is `capf_registry::issuance`'s
//! rule. Calls block (up to the timeout): make them off the UI thread.

use std::sync::Arc;
use std::time::Duration;

use capf_registry::est::{EstAuthentication, EstClient, EstConfig, EstUrl};

use crate::server::ServerError;

/// An online CA through EST that signs LSCs.
#[derive(Debug, uniffi::Object)]
pub struct EstIssuer {
    pub(crate) inner: Arc<EstClient>,
}

/// Every certificate of PEM text, DER.
fn pem_certificates(pem: &str, what: &str) -> Result<Vec<Vec<u8>>, ServerError> {
    let bad = || ServerError::InvalidInput(format!("{what}: no PEM certificate"));
    let blocks = ctl_format::pem::pem_blocks(pem).map_err(|_| bad())?;
    let certificates: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|block| block.label == "CERTIFICATE")
        .map(|block| block.der)
        .collect();
    if certificates.is_empty() {
        return Err(bad());
    }
    Ok(certificates)
}

#[uniffi::export]
impl EstIssuer {
    /// The CA at `url` (`https://`, optionally with a CA label), whose TLS
    /// certificate a certificate of `ca_pem` issues; authenticated with
    /// `user` and `password` (HTTP basic), or with
    /// `client_certificate_pem` (with its chain) and `client_key_pem`
    /// (PKCS#8), or neither. One enrollment takes at most
    /// `timeout_seconds`. Phones must send a signed certificate request;
    /// one that does not is refused ("CA Rejected Connection").
    #[uniffi::constructor]
    pub fn new(
        url: String,
        ca_pem: String,
        user: Option<String>,
        password: Option<String>,
        client_certificate_pem: Option<String>,
        client_key_pem: Option<String>,
        timeout_seconds: u64,
    ) -> Result<Arc<Self>, ServerError> {
        let invalid =
            |error: capf_registry::est::EstError| ServerError::InvalidInput(error.to_string());
        if timeout_seconds == 0 {
            return Err(ServerError::InvalidInput(
                "timeout_seconds: at least 1".into(),
            ));
        }
        let chain = client_certificate_pem
            .map(|pem| pem_certificates(&pem, "client_certificate_pem"))
            .transpose()?;
        let key = client_key_pem
            .map(|pem| {
                crate::keystore::pkcs8_der_from_pem_or_der(pem.as_bytes())
                    .map_err(|error| ServerError::InvalidInput(format!("client_key_pem: {error}")))
            })
            .transpose()?;
        let client = EstClient::new(EstConfig {
            url: EstUrl::parse(&url).map_err(invalid)?,
            trust_anchors: pem_certificates(&ca_pem, "ca_pem")?,
            authentication: EstAuthentication::from_options(user, password, chain, key)
                .map_err(invalid)?,
            timeout: Duration::from_secs(timeout_seconds),
        })
        .map_err(invalid)?;
        Ok(Arc::new(Self {
            inner: Arc::new(client),
        }))
    }

    /// The certificates the CA publishes (`/cacerts`), DER: trust them as
    /// LSC issuers (`ServerOptions.lsc_issuers_der`) so phones later
    /// authenticate with the LSCs this CA signs. `Issuance` when the CA
    /// cannot be read.
    pub fn ca_certificates(&self) -> Result<Vec<Vec<u8>>, ServerError> {
        self.inner
            .ca_certificates_blocking()
            .map_err(|error| ServerError::Issuance(error.to_string()))
    }

    /// The longest one enrollment takes, in seconds.
    pub fn timeout_seconds(&self) -> u64 {
        self.inner.timeout().as_secs()
    }
}
