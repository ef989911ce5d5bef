//! rustls verifiers that delegate to the evaluator (feature `tls`), so a
//! refused handshake carries the evaluator's [`Failure`](super::Failure) (reason and fix).
//!
//! * [`TrustListServerVerifier`]: the phone's view of a server — the
//!   server certificate must be listed in the CTL/ITL with a role granting
//!   the configured [`ServerRole`]. No host-name check, like phones.
//! * [`DeviceClientVerifier`]: a server checking a phone's client
//!   certificate (LSC or MIC) against LSC issuers and/or manufacturing
//!   roots, client authentication optional or mandatory.
//!
//! Handshake signatures are verified with the crypto provider's algorithms
//! (RSA keys of 2048 bits or more, ECDSA, Ed25519): a phone whose TLS key is
//! a 1024-bit RSA MIC cannot complete the handshake with these verifiers.
//!
//! Time: each verifier judges dates at the host's
//! [`TimeSource`], never at the instant rustls reads
//! from the system clock.

use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::tls::{TimeSource, VerifierClock};
use rustls::DistinguishedName;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use super::evaluate::EvaluationOptions;
use super::purpose::{Purpose, ServerRole};
pub use super::refusal::failure_of;
use super::refusal::judge;
use super::store::TrustStore;
use crate::tls::{HandshakeSignatures, handshake_signature_methods};

/// A phone's check of a TLS server: the certificate must be pinned in the
/// CTL/ITL with a role that grants `role` (CCM and TFTP are granted by
/// CCM+TFTP too). Use with [`crate::tls::client_config`].
#[derive(Debug)]
pub struct TrustListServerVerifier {
    stores: Vec<TrustStore>,
    purpose: Purpose,
    options: EvaluationOptions,
    clock: VerifierClock,
    signatures: HandshakeSignatures,
}

impl TrustListServerVerifier {
    /// A verifier for servers of `role` listed in `stores` (normally one
    /// CTL or ITL; CA stores answer as in [`evaluate`](super::evaluate)),
    /// judging dates at `clock`.
    pub fn new(stores: Vec<TrustStore>, role: ServerRole, clock: Arc<dyn TimeSource>) -> Arc<Self> {
        Self::with_options(stores, role, clock, EvaluationOptions::default())
    }

    /// [`new`](Self::new) with evaluation options.
    pub fn with_options(
        stores: Vec<TrustStore>,
        role: ServerRole,
        clock: Arc<dyn TimeSource>,
        options: EvaluationOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            stores,
            purpose: Purpose::TlsServer { role, host: None },
            options,
            clock: VerifierClock(clock),
            signatures: HandshakeSignatures::new(),
        })
    }
}

impl ServerCertVerifier for TrustListServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        judge(
            end_entity,
            intermediates,
            &self.purpose,
            &self.stores,
            self.clock.0.now(),
            &self.options,
        )
        .map(|()| ServerCertVerified::assertion())
    }

    handshake_signature_methods!();
}

/// A server's check of a phone's client certificate (LSC or MIC,
/// [`Purpose::TlsClient`]): issuers in CAPF/enterprise/CallManager-trust
/// stores and/or manufacturing roots. Use with
/// [`crate::tls::server_config_with_client_verifier`].
#[derive(Debug)]
pub struct DeviceClientVerifier {
    stores: Vec<TrustStore>,
    mandatory: bool,
    options: EvaluationOptions,
    clock: VerifierClock,
    signatures: HandshakeSignatures,
    hints: Vec<DistinguishedName>,
}

impl DeviceClientVerifier {
    /// A verifier over `stores`, judging dates at `clock`; `mandatory`
    /// decides whether a client without a certificate is refused.
    pub fn new(stores: Vec<TrustStore>, mandatory: bool, clock: Arc<dyn TimeSource>) -> Arc<Self> {
        Self::with_options(stores, mandatory, clock, EvaluationOptions::default())
    }

    /// [`new`](Self::new) with evaluation options.
    pub fn with_options(
        stores: Vec<TrustStore>,
        mandatory: bool,
        clock: Arc<dyn TimeSource>,
        options: EvaluationOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            stores,
            mandatory,
            options,
            clock: VerifierClock(clock),
            signatures: HandshakeSignatures::new(),
            hints: Vec::new(),
        })
    }
}

impl ClientCertVerifier for DeviceClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Phones pick their certificate by configuration, not by hints.
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        judge(
            end_entity,
            intermediates,
            &Purpose::TlsClient { device: None },
            &self.stores,
            self.clock.0.now(),
            &self.options,
        )
        .map(|()| ClientCertVerified::assertion())
    }

    handshake_signature_methods!();
}
