//! Arbitrary client bytes into a TVS server session, in chunks whose sizes
//! come from the input, with canned host answers (unknown, known, revoked,
//! and a misuse first): never a panic; exactly one Done, at the latest when
//! the peer closes; nothing after it; at most one frame transmitted, and it
//! is a VERIFY_RESPONSE echoing the request's session id.
#![no_main]

use capf_core::time::Timestamp;
use capf_core::tvs::{
    KnownCertificate, TvsCommand, TvsFrame, TvsServerConfig, TvsServerDecision, TvsServerOutput,
    TvsServerSession,
};
use ctl_format::trust_list::Role;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x1f) * 13 + 1;
    let start = Timestamp::from_unix_seconds(1_830_000_000);
    let mut config = TvsServerConfig::default();
    config.refuse_expired = control & 0x20 != 0;
    let mut session = TvsServerSession::new(config, start);
    let mut done = 0usize;
    let mut transmitted = 0usize;
    let mut looked_up = false;
    let mut drain = |session: &mut TvsServerSession| {
        while let Some(output) = session.poll_output() {
            assert_eq!(done, 0, "nothing after Done");
            match output {
                TvsServerOutput::Need(TvsServerDecision::LookUpCertificate { .. }) => {
                    assert!(
                        session
                            .answer_lookup(Some(KnownCertificate::new(vec![Role::Unknown(300)], 1)))
                            .is_err()
                    );
                    let known = match control >> 6 {
                        0 => None,
                        1 => Some(KnownCertificate::new(vec![Role::Tvs, Role::Sast], 60)),
                        2 => Some(KnownCertificate::revoked(vec![Role::Tftp], 60)),
                        _ => Some(KnownCertificate::new(vec![], 0)),
                    };
                    session.answer_lookup(known).expect("lookup pending");
                    looked_up = true;
                }
                TvsServerOutput::Transmit(bytes) => {
                    transmitted += 1;
                    let frame = TvsFrame::decode(&bytes).expect("our frames decode");
                    assert_eq!(frame.command, TvsCommand::VerifyResponse);
                    assert!(looked_up, "an answer only after a lookup");
                }
                TvsServerOutput::Done(outcome) => {
                    done += 1;
                    assert_eq!(outcome.answered(), transmitted == 1);
                }
                _ => {}
            }
        }
    };
    for piece in stream.chunks(chunk) {
        session.handle_input(piece);
        drain(&mut session);
    }
    session.handle_timeout(start.plus_seconds(u64::from(control & 0x3f)));
    drain(&mut session);
    session.handle_peer_closed();
    drain(&mut session);
    assert_eq!(done, 1, "ends exactly once");
    assert!(transmitted <= 1);
    assert!(session.poll_timeout().is_none());
});
