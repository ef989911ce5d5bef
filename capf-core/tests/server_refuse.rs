//! `ServerSession::refuse_device`: a host that will not let a device run a
//! session now ends it before anything is checked. Busy (its operation is
//! held by another session): the connection closes without END_SESSION, so
//! the phone sees a communication failure and retries by its policy
//! (END_SESSION 7 would read as an authentication failure, never retried).
//! Registry unavailable: END_SESSION 7.

use capf_core::capf::codec::{AuthResponseFields, Frame, Password, Reason, WireDeviceName};
use capf_core::capf::server::{
    DeviceRefusal, ServerConfig, ServerDecision, ServerOutcome, ServerOutput, ServerSession,
    SessionResult,
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

/// Refuses at lookup with `refusal`, records the outcome, and returns what
/// the session transmitted after the record and its outcome.
fn refuse(refusal: DeviceRefusal) -> (Vec<Vec<u8>>, ServerOutcome, ServerSession) {
    let mut session = session_at_lookup();
    session.refuse_device(refusal).unwrap();
    // The refusal is recorded before the phone is told anything.
    let Some(ServerOutput::Need(ServerDecision::RecordOutcome { outcome })) = session.poll_output()
    else {
        panic!("the refusal was not offered for recording")
    };
    assert_eq!(outcome.result, SessionResult::DeviceRefused(refusal));
    assert_eq!(session.poll_output(), None, "nothing before the record");
    session.answer_outcome_recorded().unwrap();
    let mut frames = Vec::new();
    loop {
        match session.poll_output() {
            Some(ServerOutput::Transmit(frame)) => frames.push(frame),
            Some(ServerOutput::Done(outcome)) => {
                assert_eq!(session.poll_output(), None);
                assert!(session.is_done());
                return (frames, outcome, session);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_busy_device_is_closed_on_without_end_session() {
    let (frames, outcome, _) = refuse(DeviceRefusal::OperationClaimed);
    assert!(
        frames.is_empty(),
        "no END_SESSION (a phone reads 7 as an authentication failure and never retries): {frames:?}"
    );
    assert_eq!(
        outcome.result,
        SessionResult::DeviceRefused(DeviceRefusal::OperationClaimed)
    );
    assert_eq!(outcome.end_reason, None);
    assert_eq!(outcome.device_name.as_deref(), Some("SEP001122334455"));
    assert!(!outcome.authenticated);
    assert!(!outcome.is_authentication_failure());
    assert!(!outcome.operation_completed());
    assert_eq!(DeviceRefusal::OperationClaimed.end_reason(), None);
}

#[test]
fn a_busy_device_whose_record_failed_still_gets_no_end_session() {
    let mut session = session_at_lookup();
    session
        .refuse_device(DeviceRefusal::OperationClaimed)
        .unwrap();
    assert!(matches!(
        session.poll_output(),
        Some(ServerOutput::Need(ServerDecision::RecordOutcome { .. }))
    ));
    session.refuse_outcome_record().unwrap();
    let Some(ServerOutput::Done(outcome)) = session.poll_output() else {
        panic!("no outcome")
    };
    assert!(!outcome.recorded);
    assert_eq!(outcome.end_reason, None);
}

#[test]
fn an_unavailable_registry_gets_end_session_7() {
    let (frames, outcome, _) = refuse(DeviceRefusal::RegistryUnavailable);
    // END_SESSION whose REASON element ends in 7 (failure).
    let end = Frame::end_session(ID, Reason::Failure).encode().unwrap();
    assert_eq!(end.last(), Some(&7));
    assert_eq!(frames, [end]);
    assert_eq!(
        outcome.result,
        SessionResult::DeviceRefused(DeviceRefusal::RegistryUnavailable)
    );
    assert_eq!(outcome.end_reason, Some(Reason::Failure));
    assert!(!outcome.is_authentication_failure());
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
