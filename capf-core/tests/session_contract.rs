//! The one session contract (`capf_core::session::Session`), proved on all
//! four sessions:
//!
//! * one generic driver (no per-session glue: it only knows the trait)
//!   drives a CAPF server against a CAPF phone (install, fetch, delete,
//!   nothing to do) and a TVS server against a TVS client, checking the
//!   contract's promises on the way (a `Need` is what `pending_decision`
//!   names, `Done` is last, no deadline once done);
//! * durability: a CAPF server host that writes every `Transmit` at once
//!   and dies at every point of an install, a fetch and a delete leaves its
//!   registry never behind what the phone was told;
//! * `refuse_outcome_record` tells the phone a failure.

mod phone_support;

use capf_core::capf::codec::{Command, Curve, Frame, Reason};
use capf_core::capf::key_request::KeyRequest;
use capf_core::capf::phone::{
    PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutcome, PhoneSession,
};
use capf_core::capf::server::{
    AuthMode, DeviceRecord, Operation, ServerConfig, ServerDecision, ServerOutcome, ServerOutput,
    ServerSession, SessionResult,
};
use capf_core::session::{DecisionKind, Output, Session, SessionMisuse};
use capf_core::tvs::{
    KnownCertificate, TvsClientConfig, TvsClientResult, TvsClientSession, TvsServerConfig,
    TvsServerDecision, TvsServerResult, TvsServerSession,
};
use ctl_format::trust_list::Role;
use phone_support::{T0, Vector};

const SERVER_ID: u32 = 0x0A0B_0C0D;

/// What one side of a generic run produced.
struct Side<O> {
    outcome: Option<O>,
    frames: Vec<Vec<u8>>,
    decisions: Vec<DecisionKind>,
}

impl<O> Default for Side<O> {
    fn default() -> Self {
        Self {
            outcome: None,
            frames: Vec::new(),
            decisions: Vec::new(),
        }
    }
}

/// Drains `session` as the contract says, delivering each frame to `peer`
/// at once and answering each decision with `host`. Returns whether
/// anything came out.
fn pump<S: Session, P: Session>(
    session: &mut S,
    peer: &mut P,
    host: &mut impl FnMut(&mut S, S::Decision),
    side: &mut Side<S::Outcome>,
) -> bool {
    let mut moved = false;
    while let Some(output) = session.poll_output() {
        moved = true;
        assert!(side.outcome.is_none(), "nothing after Done");
        match output {
            Output::Transmit(frame) => {
                peer.handle_input(&frame);
                side.frames.push(frame);
            }
            Output::Need(decision) => {
                let kind = session
                    .pending_decision()
                    .expect("a Need is pending until answered");
                side.decisions.push(kind);
                host(session, decision);
            }
            Output::Done(outcome) => {
                assert!(session.is_done());
                assert_eq!(session.poll_timeout(), None, "no deadline once done");
                assert_eq!(session.pending_decision(), None);
                side.outcome = Some(outcome);
            }
            _ => panic!("an output kind this driver does not know"),
        }
    }
    moved
}

/// The one generic driver: two sessions joined by an in-memory connection;
/// when one side is over, the other sees the connection close.
fn drive<A: Session, B: Session>(
    a: &mut A,
    b: &mut B,
    mut host_a: impl FnMut(&mut A, A::Decision),
    mut host_b: impl FnMut(&mut B, B::Decision),
) -> (Side<A::Outcome>, Side<B::Outcome>) {
    let mut side_a = Side::default();
    let mut side_b = Side::default();
    loop {
        let moved_a = pump(a, b, &mut host_a, &mut side_a);
        let moved_b = pump(b, a, &mut host_b, &mut side_b);
        if moved_a || moved_b {
            continue;
        }
        match (a.is_done(), b.is_done()) {
            (true, false) => b.handle_peer_closed(),
            (false, true) => a.handle_peer_closed(),
            _ => break,
        }
    }
    (side_a, side_b)
}

/// `install-nullstring-ec-p256`: the phone's recorded key and the LSC the
/// reference server issued for it.
struct Install {
    device: String,
    spki: Vec<u8>,
    issued: Vec<u8>,
}

fn install_vector() -> Install {
    let vector = Vector::load("install-nullstring-ec-p256");
    Install {
        device: vector.str("device_name").to_owned(),
        spki: vector.recorded_public_key().unwrap(),
        issued: vector.pem_der("issued_certificate"),
    }
}

fn record(device: &str, operation: Operation) -> DeviceRecord {
    DeviceRecord::new(device, operation, AuthMode::NullString)
}

/// A CAPF pair: the server host answers from `operation` (recording every
/// outcome), the phone host holds `held` as its LSC.
fn capf_run(
    operation: Operation,
    held: Option<Vec<u8>>,
) -> (Side<ServerOutcome>, Side<PhoneOutcome>) {
    let data = install_vector();
    let mut server = ServerSession::new(ServerConfig::new(SERVER_ID), T0);
    let config = PhoneConfig::new(data.device.clone(), PhoneCredentials::NullString).unwrap();
    let mut phone = PhoneSession::new(config, T0);
    let device = data.device.clone();
    let issued = data.issued.clone();
    let spki = data.spki.clone();
    drive(
        &mut server,
        &mut phone,
        |server: &mut ServerSession, decision| match decision {
            ServerDecision::LookUpDevice { .. } => server
                .answer_device(Some(record(&device, operation)))
                .unwrap(),
            ServerDecision::IssueCertificate { .. } => {
                server.answer_certificate(issued.clone()).unwrap()
            }
            ServerDecision::RecordPendingCertificate { .. } => {
                server.answer_pending_recorded().unwrap()
            }
            ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded().unwrap(),
            other => panic!("{other:?}"),
        },
        |phone: &mut PhoneSession, decision| match decision {
            PhoneDecision::GenerateKey(_) => phone.answer_key(spki.clone()).unwrap(),
            PhoneDecision::StoreCertificate { .. } => phone.answer_store().unwrap(),
            PhoneDecision::FetchCertificate => phone.answer_fetch(held.clone()).unwrap(),
            PhoneDecision::DeleteCertificate => phone.answer_delete(held.is_some()).unwrap(),
            other => panic!("{other:?}"),
        },
    )
}

#[test]
fn one_driver_runs_every_capf_operation() {
    let data = install_vector();
    let (server, phone) = capf_run(Operation::Install(KeyRequest::Ec(Curve::P256)), None);
    let outcome = server.outcome.unwrap();
    assert_eq!(
        outcome.result,
        SessionResult::Installed {
            certificate_der: data.issued.clone()
        }
    );
    assert!(outcome.recorded);
    assert_eq!(
        server.decisions,
        [
            DecisionKind::LookUpDevice,
            DecisionKind::IssueCertificate,
            DecisionKind::RecordPendingCertificate,
            DecisionKind::RecordOutcome
        ]
    );
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::Installed {
            certificate_der: data.issued.clone()
        }
    );
    assert_eq!(
        phone.decisions,
        [DecisionKind::GenerateKey, DecisionKind::StoreCertificate]
    );

    let (server, phone) = capf_run(Operation::Fetch, Some(data.issued.clone()));
    assert_eq!(
        server.outcome.unwrap().result,
        SessionResult::Fetched {
            certificate_der: data.issued.clone()
        }
    );
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::FetchCompleted {
            certificate_sent: true
        }
    );

    let (server, phone) = capf_run(Operation::Delete, Some(data.issued.clone()));
    assert_eq!(server.outcome.unwrap().result, SessionResult::Deleted);
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::Deleted {
            certificate_was_present: true
        }
    );

    let (server, phone) = capf_run(Operation::None, None);
    assert_eq!(server.outcome.unwrap().result, SessionResult::NothingToDo);
    assert_eq!(
        phone.outcome.unwrap(),
        PhoneOutcome::NothingToDo {
            reason: Reason::NoAction
        }
    );
}

#[test]
fn one_driver_runs_tvs() {
    let certificate = install_vector().issued;
    for known in [true, false] {
        let mut server = TvsServerSession::new(TvsServerConfig::default(), T0);
        let config = TvsClientConfig::new(7, "CP-8845-SEP001122334455", certificate.clone());
        let mut client = TvsClientSession::new(config, T0).unwrap();
        let (client_side, server_side) = drive(
            &mut client,
            &mut server,
            |_: &mut TvsClientSession, _| panic!("the TVS client asks nothing"),
            |server: &mut TvsServerSession, decision| {
                let TvsServerDecision::LookUpCertificate { .. } = decision else {
                    panic!("{decision:?}")
                };
                let record = known.then(|| KnownCertificate::new(vec![Role::Tvs], 60));
                server.answer_lookup(record).unwrap();
            },
        );
        assert_eq!(client_side.frames.len(), 1);
        assert_eq!(server_side.frames.len(), 1);
        assert_eq!(server_side.decisions, [DecisionKind::LookUpCertificate]);
        assert!(client_side.decisions.is_empty());
        let client_result = client_side.outcome.unwrap().result;
        let server_result = server_side.outcome.unwrap().result;
        if known {
            assert_eq!(
                client_result,
                TvsClientResult::Valid {
                    roles: vec![Role::Tvs],
                    ttl: Some(60)
                }
            );
            assert!(matches!(server_result, TvsServerResult::Valid { .. }));
        } else {
            assert_eq!(client_result, TvsClientResult::Invalid);
            assert!(matches!(server_result, TvsServerResult::Invalid(_)));
        }
    }
}

/// One durable write of the host.
type RegistryWrite = Box<dyn FnOnce(&mut Registry)>;

/// The test's registry: what the CAPF server host has durably written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Registry {
    operation_completed: bool,
    pending: Vec<Vec<u8>>,
    installed: Option<Vec<u8>>,
    fetched: Option<Vec<u8>>,
    deleted: bool,
}

impl Registry {
    /// The host's registry rules for one recorded outcome.
    fn record(&mut self, outcome: &ServerOutcome) {
        if outcome.operation_completed() {
            self.operation_completed = true;
        }
        match &outcome.result {
            SessionResult::Installed { certificate_der } => {
                self.installed = Some(certificate_der.clone())
            }
            SessionResult::Fetched { certificate_der } => {
                self.fetched = Some(certificate_der.clone())
            }
            SessionResult::Deleted => self.deleted = true,
            _ => {}
        }
    }
}

/// Runs `operation` with a server host that writes every frame the moment
/// the session transmits it and dies after `crash_after` host actions (a
/// frame written, a registry write, an answer). Returns the registry as the
/// crash left it, what the phone concluded, and whether the host survived
/// to the end.
fn crash_run(
    operation: Operation,
    held: Option<Vec<u8>>,
    crash_after: usize,
) -> (Registry, PhoneOutcome, bool) {
    let data = install_vector();
    let mut server = ServerSession::new(ServerConfig::new(SERVER_ID), T0);
    let config = PhoneConfig::new(data.device.clone(), PhoneCredentials::NullString).unwrap();
    let mut phone = PhoneSession::new(config, T0);
    let mut registry = Registry::default();
    let mut actions = 0;
    let mut alive = true;
    let mut phone_outcome = None;
    // One host action; false once the host is dead.
    let act = |actions: &mut usize| {
        *actions += 1;
        *actions <= crash_after
    };
    'run: loop {
        let mut moved = false;
        while let Some(output) = server.poll_output() {
            moved = true;
            match output {
                ServerOutput::Transmit(frame) => {
                    if !act(&mut actions) {
                        alive = false;
                        break 'run;
                    }
                    phone.handle_input(&frame);
                }
                ServerOutput::Need(decision) => {
                    // The registry write this decision asks for, if any,
                    // then the answer: two host actions, a crash between.
                    let write: Option<RegistryWrite> = match &decision {
                        ServerDecision::RecordPendingCertificate {
                            certificate_der, ..
                        } => {
                            let der = certificate_der.clone();
                            Some(Box::new(move |registry| registry.pending.push(der)))
                        }
                        ServerDecision::RecordOutcome { outcome } => {
                            let outcome = outcome.clone();
                            Some(Box::new(move |registry| registry.record(&outcome)))
                        }
                        _ => None,
                    };
                    if let Some(write) = write {
                        if !act(&mut actions) {
                            alive = false;
                            break 'run;
                        }
                        write(&mut registry);
                    }
                    if !act(&mut actions) {
                        alive = false;
                        break 'run;
                    }
                    let answered = match decision {
                        ServerDecision::LookUpDevice { .. } => {
                            server.answer_device(Some(record(&data.device, operation)))
                        }
                        ServerDecision::IssueCertificate { .. } => {
                            server.answer_certificate(data.issued.clone())
                        }
                        ServerDecision::RecordPendingCertificate { .. } => {
                            server.answer_pending_recorded()
                        }
                        ServerDecision::RecordOutcome { .. } => server.answer_outcome_recorded(),
                        other => panic!("{other:?}"),
                    };
                    answered.unwrap();
                }
                ServerOutput::Done(_) => {}
                other => panic!("{other:?}"),
            }
        }
        while let Some(output) = phone.poll_output() {
            moved = true;
            match output {
                Output::Transmit(frame) => server.handle_input(&frame),
                Output::Need(PhoneDecision::GenerateKey(_)) => {
                    phone.answer_key(data.spki.clone()).unwrap()
                }
                Output::Need(PhoneDecision::StoreCertificate { .. }) => {
                    phone.answer_store().unwrap()
                }
                Output::Need(PhoneDecision::FetchCertificate) => {
                    phone.answer_fetch(held.clone()).unwrap()
                }
                Output::Need(PhoneDecision::DeleteCertificate) => {
                    phone.answer_delete(held.is_some()).unwrap()
                }
                Output::Done(outcome) => phone_outcome = Some(outcome),
                other => panic!("{other:?}"),
            }
        }
        if !moved {
            break;
        }
    }
    // The host died (or finished): the phone sees the connection close.
    drop(server);
    phone.handle_peer_closed();
    while let Some(output) = phone.poll_output() {
        if let Output::Done(outcome) = output {
            phone_outcome = Some(outcome);
        }
    }
    (
        registry,
        phone_outcome.expect("the phone always ends"),
        alive,
    )
}

#[test]
fn a_host_that_writes_at_once_and_dies_anywhere_is_never_behind_the_phone() {
    let data = install_vector();
    let cases = [
        (
            "install",
            Operation::Install(KeyRequest::Ec(Curve::P256)),
            None,
        ),
        ("fetch", Operation::Fetch, Some(data.issued.clone())),
        ("delete", Operation::Delete, Some(data.issued.clone())),
    ];
    for (name, operation, held) in cases {
        let mut survived = false;
        let mut told_done = 0;
        for crash_after in 0..64 {
            let (registry, phone, alive) = crash_run(operation, held.clone(), crash_after);
            // Whatever the phone was told is finished, the registry holds.
            match &phone {
                PhoneOutcome::Installed { certificate_der } => {
                    told_done += 1;
                    assert!(registry.operation_completed, "{name} @{crash_after}");
                    assert_eq!(registry.installed.as_ref(), Some(certificate_der));
                    assert!(registry.pending.contains(certificate_der));
                }
                PhoneOutcome::FetchCompleted { .. } => {
                    told_done += 1;
                    assert!(registry.operation_completed, "{name} @{crash_after}");
                    assert_eq!(registry.fetched, held);
                }
                PhoneOutcome::Deleted { .. } => {
                    told_done += 1;
                    assert!(registry.operation_completed, "{name} @{crash_after}");
                    assert!(registry.deleted);
                }
                PhoneOutcome::CommunicationFailure(_) => {
                    assert!(
                        !alive,
                        "{name} @{crash_after}: only a crash cuts the phone off"
                    );
                }
                other => panic!("{name} @{crash_after}: {other:?}"),
            }
            // An issued certificate on its way to the phone is on record.
            if let Some(sent) = &registry.installed {
                assert!(registry.pending.contains(sent));
            }
            if alive {
                survived = true;
                break;
            }
        }
        assert!(survived, "{name}: the host finished once crashes ran out");
        assert!(
            told_done >= 1,
            "{name}: the phone was told done at least once"
        );
    }
}

#[test]
fn a_refused_outcome_record_tells_the_phone_a_failure() {
    let data = install_vector();
    let mut server = ServerSession::new(ServerConfig::new(SERVER_ID), T0);
    let config = PhoneConfig::new(data.device.clone(), PhoneCredentials::NullString).unwrap();
    let mut phone = PhoneSession::new(config, T0);
    let device = data.device.clone();
    let (server_side, phone_side) = drive(
        &mut server,
        &mut phone,
        |server: &mut ServerSession, decision| match decision {
            ServerDecision::LookUpDevice { .. } => server
                .answer_device(Some(record(&device, Operation::Delete)))
                .unwrap(),
            ServerDecision::RecordOutcome { outcome } => {
                assert_eq!(outcome.result, SessionResult::Deleted);
                assert_eq!(outcome.end_reason, Some(Reason::Success));
                // While the record is pending: nothing is sent, input and a
                // closed connection change nothing, misuse is refused.
                assert_eq!(server.poll_output(), None);
                server.handle_peer_closed();
                server.handle_timeout(T0.plus_seconds(1_000_000));
                assert_eq!(server.poll_output(), None);
                assert_eq!(
                    server.answer_pending_recorded(),
                    Err(SessionMisuse::NotPending {
                        answered: DecisionKind::RecordPendingCertificate,
                        pending: Some(DecisionKind::RecordOutcome)
                    })
                );
                server.refuse_outcome_record().unwrap();
            }
            other => panic!("{other:?}"),
        },
        |phone: &mut PhoneSession, decision| match decision {
            PhoneDecision::DeleteCertificate => phone.answer_delete(true).unwrap(),
            other => panic!("{other:?}"),
        },
    );
    let outcome = server_side.outcome.unwrap();
    assert_eq!(outcome.result, SessionResult::Deleted);
    assert!(!outcome.recorded);
    assert_eq!(outcome.end_reason, Some(Reason::Failure));
    let last = Frame::decode(server_side.frames.last().unwrap()).unwrap();
    assert_eq!(last.command, Command::EndSession);
    assert_eq!(last.reason(), Some(Reason::Failure));
    assert_eq!(
        phone_side.outcome.unwrap(),
        PhoneOutcome::Refused {
            reason: Reason::Failure
        }
    );
}

#[test]
fn the_server_records_a_transport_failure_too() {
    let mut server = ServerSession::new(ServerConfig::new(SERVER_ID), T0);
    assert!(matches!(server.poll_output(), Some(Output::Transmit(_))));
    server.handle_transport_error();
    let Some(Output::Need(ServerDecision::RecordOutcome { outcome })) = server.poll_output() else {
        panic!("no record decision")
    };
    assert!(matches!(
        outcome.result,
        SessionResult::TransportFailed { .. }
    ));
    assert_eq!(outcome.end_reason, None);
    server.answer_outcome_recorded().unwrap();
    // Nothing is sent on a failed connection.
    let Some(Output::Done(done)) = server.poll_output() else {
        panic!()
    };
    assert!(done.recorded);
    assert_eq!(server.poll_output(), None);
}

#[test]
fn the_server_refuses_at_auth_response_a_name_issuance_would_refuse() {
    use capf_core::capf::codec::{AuthResponseFields, Password, WireDeviceName};
    use capf_core::capf::server::ServerProtocolViolation;
    use capf_core::device_name::DeviceName;
    use capf_core::issuance::{CertificateAuthority, LscIssuer, LscRequest};
    let vector = Vector::load("install-nullstring-ec-p256");
    let issuer = LscIssuer::from_pem(
        vector.pem("capf_certificate"),
        vector.pem("issuer_private_key"),
    )
    .unwrap();
    let spki = vector.recorded_public_key().unwrap();
    for name in [
        "SEP001122334455",
        "CSFALICE",
        "sep001122334455",
        "SEP00112233445",
        "CSF-ALICE",
        "TAB.1",
    ] {
        let mut server = ServerSession::new(ServerConfig::new(SERVER_ID), T0);
        server.poll_output();
        let fields = AuthResponseFields::new(WireDeviceName::new(name), Password::empty());
        server.handle_input(&Frame::auth_response(SERVER_ID, fields).encode().unwrap());
        let first = server.poll_output();
        let accepted = matches!(
            first,
            Some(Output::Need(ServerDecision::LookUpDevice { .. }))
        );
        let request = LscRequest {
            device_name: name,
            subject_public_key_info_der: &spki,
            validity_days: 365,
        };
        let mut rng = rand::rngs::OsRng;
        let issuable = issuer.issue(&request, T0, &mut rng).is_ok();
        assert_eq!(accepted, issuable, "{name}");
        assert_eq!(accepted, DeviceName::parse(name).is_ok(), "{name}");
        if !accepted {
            let Some(Output::Need(ServerDecision::RecordOutcome { outcome })) = first else {
                panic!("{name}: no outcome")
            };
            assert_eq!(
                outcome.result,
                SessionResult::ProtocolError(ServerProtocolViolation::InvalidDeviceName)
            );
        }
    }
}
