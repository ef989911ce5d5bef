//! Arbitrary phone bytes into a CAPF server session, in arbitrary chunks,
//! with canned host answers (some wrong on purpose): the session must never
//! panic, must end exactly once (at the latest when the peer closes), must
//! put nothing after its Done, and every frame it transmits must decode and
//! carry its own session id.
#![no_main]

use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::server::{
    AuthMode, AuthStringHash, CertificatePreference, DeviceRecord, IssueRefusal, Operation,
    ServerConfig, ServerDecision, ServerOutput, ServerSession,
};
use capf_core::time::Timestamp;
use capf_core::capf::codec::{Curve, Frame};
use libfuzzer_sys::fuzz_target;

const SESSION_ID: u32 = 1;

fn record(device_name: String, control: u8) -> Option<DeviceRecord> {
    let operation = match control & 0x07 {
        0 => return None,
        1 => Operation::None,
        2 => Operation::Fetch,
        3 => Operation::Delete,
        4 => Operation::Install(KeyRequest::Ec(Curve::P256)),
        _ => Operation::Install(KeyRequest::Rsa { bits: 2048 }),
    };
    let authentication = match (control >> 3) & 0x03 {
        0 => AuthMode::NullString,
        1 => AuthMode::AuthString(
            AuthStringHash::new("123456", b"fuzzing-salt", 1).expect("valid hash"),
        ),
        2 => AuthMode::ExistingCertificate {
            prefer: CertificatePreference::Lsc,
        },
        _ => AuthMode::ExistingCertificate {
            prefer: CertificatePreference::Mic,
        },
    };
    Some(DeviceRecord::new(device_name, operation, authentication))
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control >> 5) * 7 + 1;
    let start = Timestamp::from_unix_seconds(1_800_000_000);
    let mut config = ServerConfig::new(SESSION_ID);
    config.announce_auth_type = control & 0x80 == 0;
    let mut session = ServerSession::new(config, start);
    let mut done = 0usize;
    let mut outputs_after_done = 0usize;
    let mut drain = |session: &mut ServerSession, tail: &[u8]| {
        while let Some(output) = session.poll_output() {
            if done > 0 {
                outputs_after_done += 1;
            }
            match output {
                ServerOutput::Transmit(bytes) => {
                    let frame = Frame::decode(&bytes).expect("our frames decode");
                    assert_eq!(frame.session_id, SESSION_ID);
                }
                ServerOutput::Done(_) => done += 1,
                ServerOutput::Need(ServerDecision::LookUpDevice { device_name }) => {
                    // A wrong device first (misuse, refused), then the record.
                    let other = format!("{device_name}X");
                    assert!(session.answer_device(record(other, 1)).is_err());
                    session
                        .answer_device(record(device_name, control))
                        .expect("pending lookup");
                }
                ServerOutput::Need(ServerDecision::IssueCertificate { .. }) => {
                    // Whatever the input holds is not a certificate for the
                    // phone's key: refused as misuse, then a refusal.
                    let _ = session.answer_certificate(tail.to_vec());
                    if session.pending_decision().is_some() {
                        session
                            .refuse_certificate(IssueRefusal::Declined("fuzz".into()))
                            .expect("pending issue");
                    }
                }
                ServerOutput::Need(ServerDecision::RecordPendingCertificate { .. }) => {
                    session.answer_pending_recorded().expect("pending record");
                    assert!(session.answer_pending_recorded().is_err());
                }
                ServerOutput::Need(ServerDecision::RecordOutcome { .. }) => {
                    // Nothing goes out before the outcome is recorded.
                    assert!(session.poll_output().is_none());
                    if tail.first().is_some_and(|byte| byte & 1 == 1) {
                        session.refuse_outcome_record().expect("pending record");
                    } else {
                        session.answer_outcome_recorded().expect("pending record");
                    }
                }
                _ => {}
            }
        }
    };
    drain(&mut session, rest);
    for (index, piece) in rest.chunks(chunk).enumerate() {
        session.handle_input(piece);
        drain(&mut session, piece);
        if index % 5 == 4 {
            session.handle_timeout(start.plus_seconds(u64::try_from(index).unwrap_or(0)));
            drain(&mut session, piece);
        }
    }
    session.handle_peer_closed();
    drain(&mut session, &[]);
    assert_eq!(done, 1, "exactly one Done");
    assert_eq!(outputs_after_done, 0, "nothing after Done");
    assert!(session.is_done());
});
