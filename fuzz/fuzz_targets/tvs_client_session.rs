//! Arbitrary server bytes into a TVS client session, in chunks whose sizes
//! come from the input: never a panic; the request goes out first and
//! alone; exactly one Done, at the latest when the peer closes or the
//! deadline passes; nothing after it.
#![no_main]

use capf_core::time::Timestamp;
use capf_core::tvs::{
    TvsClientConfig, TvsClientOutput, TvsClientResult, TvsClientSession, TvsCommand, TvsFrame,
};
use libfuzzer_sys::fuzz_target;

const SESSION_ID: u32 = 1;

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x1f) * 3 + 1;
    let start = Timestamp::from_unix_seconds(1_830_000_000);
    let config = TvsClientConfig::new(SESSION_ID, "CP-8845-SEP001122334455", vec![0x30, 0x00]);
    let mut session = TvsClientSession::new(config, start).expect("valid setup");
    let Some(TvsClientOutput::Transmit(request)) = session.poll_output() else {
        panic!("the request comes first");
    };
    let request = TvsFrame::decode(&request).expect("our request decodes");
    assert_eq!(request.command, TvsCommand::VerifyRequest);
    assert_eq!(request.session_id, SESSION_ID);

    let mut done = 0usize;
    let mut drain = |session: &mut TvsClientSession| {
        while let Some(output) = session.poll_output() {
            assert_eq!(done, 0, "nothing after Done");
            match output {
                TvsClientOutput::Done(outcome) => {
                    done += 1;
                    if let TvsClientResult::Valid { .. } | TvsClientResult::Invalid = outcome.result
                    {
                        // A verdict needs a well-formed header with our id.
                        assert_eq!(stream.get(..2), Some(&[0x57, 0x01][..]));
                        assert_eq!(stream.get(4..8), Some(&SESSION_ID.to_be_bytes()[..]));
                    }
                }
                other => panic!("unexpected output {other:?}"),
            }
        }
    };
    for piece in stream.chunks(chunk) {
        session.handle_input(piece);
        drain(&mut session);
    }
    match control >> 6 {
        0 => session.handle_timeout(start.plus_seconds(30)),
        1 => session.handle_transport_error(),
        _ => session.handle_peer_closed(),
    }
    drain(&mut session);
    assert_eq!(done, 1, "ends exactly once");
    assert!(session.poll_timeout().is_none());
});
