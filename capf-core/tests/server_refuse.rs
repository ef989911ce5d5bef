//! `ServerSession::refuse_device`: a host that will not let a device run a
//! session now (its operation is held by another session) ends it with
//! END_SESSION 7 before anything is checked.

use capf_core::capf::codec::{AuthResponseFields, Frame, Password, Reason, WireDeviceName};
use capf_core::capf::server::{
    DeviceRefusal, ServerConfig, ServerDecision, ServerOutput, ServerSession, SessionResult,
};
use capf_core::session::{DecisionKind, SessionMisuse};
use capf_core::time::Timestamp;

const ID: u32 = 0x0102_0304;

fn session_at_lookup() -> ServerSession {
    let now = Timestamp::from_unix_seconds(1_800_000_000);
    let mut session = ServerSession::new(ServerConfig::new(ID), now);
    assert!(matches!(
        session.poll_output(),
        Some(ServerOutput::Transmit(_))
    ));
    let fields = AuthResponseFields::new(WireDeviceName::new("SEP001122334455"), Password::empty());
    session.handle_input(&Frame::auth_response(ID, fields).encode().unwrap());
    match session.poll_output() {
        Some(ServerOutput::Need(ServerDecision::LookUpDevice { device_name })) => {
            assert_eq!(device_name, "SEP001122334455");
        }
        other => panic!("expected a lookup, got {other:?}"),
    }
    session
}

#[test]
fn a_refused_device_gets_end_session_7_and_a_refused_outcome() {
    let mut session = session_at_lookup();
    session
        .refuse_device(DeviceRefusal::OperationClaimed)
        .unwrap();
    // The refusal is recorded before the phone is told.
    let Some(ServerOutput::Need(ServerDecision::RecordOutcome { outcome })) = session.poll_output()
    else {
        panic!("the refusal was not offered for recording")
    };
    assert_eq!(
        outcome.result,
        SessionResult::DeviceRefused(DeviceRefusal::OperationClaimed)
    );
    session.answer_outcome_recorded().unwrap();
    // END_SESSION whose REASON element ends in 7 (failure).
    let end = Frame::end_session(ID, Reason::Failure).encode().unwrap();
    assert_eq!(end.last(), Some(&7));
    assert_eq!(session.poll_output(), Some(ServerOutput::Transmit(end)));
    let Some(ServerOutput::Done(outcome)) = session.poll_output() else {
        panic!("no outcome")
    };
    assert_eq!(
        outcome.result,
        SessionResult::DeviceRefused(DeviceRefusal::OperationClaimed)
    );
    assert_eq!(outcome.end_reason, Some(Reason::Failure));
    assert_eq!(outcome.device_name.as_deref(), Some("SEP001122334455"));
    assert!(!outcome.authenticated);
    assert!(!outcome.is_authentication_failure());
    assert!(!outcome.operation_completed());
    assert_eq!(session.poll_output(), None);
    assert!(session.is_done());
}

#[test]
fn refusing_when_no_lookup_is_pending_is_misuse() {
    let mut session = session_at_lookup();
    session
        .refuse_device(DeviceRefusal::OperationClaimed)
        .unwrap();
    assert_eq!(
        session.refuse_device(DeviceRefusal::RegistryUnavailable),
        Err(SessionMisuse::NotPending {
            answered: DecisionKind::LookUpDevice,
            pending: Some(DecisionKind::RecordOutcome),
        })
    );
    assert!(session.answer_device(None).is_err());
}
