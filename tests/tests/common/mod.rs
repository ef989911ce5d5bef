//! What the cross-crate tests share: the vectors, the fixed clock, and an
//! in-memory host that runs a phone session against a server session over
//! capf-core's TLS transports.
#![allow(dead_code)]

use capf_core::capf::phone::{PhoneDecision, PhoneOutcome, PhoneOutput, PhoneSession};
use capf_core::capf::server::{
    DeviceRecord, ServerDecision, ServerOutcome, ServerOutput, ServerSession,
};
use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
use capf_core::time::Timestamp;
use capf_core::tls::{TlsClientTransport, TlsError, TlsServerTransport};
use std::path::{Path, PathBuf};

/// 2027-01-01T00:00:00Z: inside the validity of every vector key's
/// certificate (made 2026-11-22, valid ten years or more).
pub const NOW: Timestamp = Timestamp::from_unix_seconds(1_798_761_600);

/// The project's copy of the test vectors.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// A vector key file (private key + self-signed certificate, PEM).
pub fn key_pem(name: &str) -> String {
    std::fs::read_to_string(vectors().join("tlv/keys").join(name)).unwrap()
}

/// The one `label` PEM block of `pem`, as DER.
pub fn pem_block(pem: &str, label: &str) -> Vec<u8> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).unwrap();
    let stop = pem.find(&end).unwrap() + end.len();
    let (found, der) = der::pem::decode_vec(&pem.as_bytes()[start..stop]).unwrap();
    assert_eq!(found, label);
    der
}

/// The certificate of a vector key file, DER.
pub fn certificate_der(name: &str) -> Vec<u8> {
    pem_block(&key_pem(name), "CERTIFICATE")
}

/// The PKCS#8 private key of a vector key file, DER.
pub fn private_key_der(name: &str) -> Vec<u8> {
    pem_block(&key_pem(name), "PRIVATE KEY")
}

/// The host's side of the server session: the registry record of the one
/// device and the CA that issues its LSCs; it keeps what it issued and
/// recorded.
pub struct ServerHost<'a> {
    /// What the registry answers for the device (`None`: unknown).
    pub record: Option<DeviceRecord>,
    /// The LSC issuer.
    pub issuer: &'a LscIssuer,
    /// Seeded randomness for serial numbers.
    pub rng: rand::rngs::StdRng,
    /// Certificates issued, in order.
    pub issued: Vec<Vec<u8>>,
    /// Certificates recorded as pending before they were sent.
    pub recorded: Vec<Vec<u8>>,
}

/// The host's side of the phone session: answers every decision.
pub trait PhoneHost {
    /// Answers `decision` on `phone`.
    fn decide(&mut self, phone: &mut PhoneSession, decision: PhoneDecision);
}

/// How a session pair ended.
pub struct Ended {
    /// The server's outcome.
    pub server: ServerOutcome,
    /// The phone's outcome.
    pub phone: PhoneOutcome,
}

/// Runs `phone` against `server` over TLS (`client` ↔ `tls_server`), all in
/// memory, until both sessions are done. A TLS failure is returned as is.
pub fn run(
    phone: &mut PhoneSession,
    phone_host: &mut dyn PhoneHost,
    client: &mut TlsClientTransport,
    server: &mut ServerSession,
    server_host: &mut ServerHost<'_>,
    tls_server: &mut TlsServerTransport,
) -> Result<Ended, TlsError> {
    let mut server_outcome = None;
    let mut phone_outcome = None;
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit(frame) => tls_server.send_plaintext(&frame)?,
                ServerOutput::Need(decision) => server_host.decide(server, decision),
                ServerOutput::Done(outcome) => server_outcome = Some(outcome),
                other => panic!("unexpected server output {other:?}"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                PhoneOutput::Transmit(frame) => client.send_plaintext(&frame)?,
                PhoneOutput::Need(decision) => phone_host.decide(phone, decision),
                PhoneOutput::Done(outcome) => phone_outcome = Some(outcome),
                other => panic!("unexpected phone output {other:?}"),
            }
        }
        let to_server = client.take_tcp_output();
        if !to_server.is_empty() {
            moved = true;
            let plaintext = tls_server.receive_tcp(&to_server)?;
            if !plaintext.is_empty() {
                server.handle_input(&plaintext);
            }
        }
        let to_phone = tls_server.take_tcp_output();
        if !to_phone.is_empty() {
            moved = true;
            let plaintext = client.receive_tcp(&to_phone)?;
            if !plaintext.is_empty() {
                phone.handle_input(&plaintext);
            }
        }
        if let (Some(server), Some(phone)) = (&server_outcome, &phone_outcome) {
            return Ok(Ended {
                server: server.clone(),
                phone: phone.clone(),
            });
        }
        assert!(moved, "the sessions stalled: nothing to send, neither done");
    }
    panic!("the sessions did not finish");
}

impl ServerHost<'_> {
    fn decide(&mut self, server: &mut ServerSession, decision: ServerDecision) {
        match decision {
            ServerDecision::LookUpDevice { .. } => {
                server.answer_device(self.record.clone()).unwrap();
            }
            ServerDecision::IssueCertificate {
                device_name,
                subject_public_key_info_der,
                ..
            } => {
                let request = LscRequest {
                    device_name: &device_name,
                    subject_public_key_info_der: &subject_public_key_info_der,
                    validity_days: 365,
                };
                let issued = self.issuer.issue(&request, NOW, &mut self.rng).unwrap();
                self.issued.push(issued.der.clone());
                server.answer_certificate(issued.der).unwrap();
            }
            ServerDecision::RecordPendingCertificate {
                certificate_der, ..
            } => {
                self.recorded.push(certificate_der);
                server.answer_pending_recorded().unwrap();
            }
            ServerDecision::RecordOutcome { .. } => {
                server.answer_outcome_recorded().unwrap();
            }
            other => panic!("unexpected server decision {other:?}"),
        }
    }
}
