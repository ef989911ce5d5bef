//! Arbitrary server bytes into a phone session, in arbitrary chunks, with
//! the host answering every decision (some answers wrong on purpose): the
//! session must never panic, must end at most once, and nothing may follow
//! its Done.
#![no_main]

use capf_core::capf::phone::{PhoneConfig, PhoneCredentials, PhoneDecision, PhoneOutput, PhoneSession};
use capf_core::time::Timestamp;
use libfuzzer_sys::fuzz_target;

/// A P-256 SubjectPublicKeyInfo (from `install-nullstring-ec-p256`).
const P256_SPKI: &str = "3059301306072a8648ce3d020106082a8648ce3d0301070342000436b4f8d9f94c0e9aaa3fa05f3a67412a9bfa94784a6d587afc947e313a44fbf9c0409ee1ef12cf786dd0d5c851f8ae3d23e38e68d5181d973e8340055b7b150b";

fn spki() -> Vec<u8> {
    (0..P256_SPKI.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&P256_SPKI[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x0f) + 1;
    let config =
        PhoneConfig::new("SEP001122334455", PhoneCredentials::NullString).expect("valid config");
    let start = Timestamp::from_unix_seconds(1_700_000_000);
    let mut phone = PhoneSession::new(config, start);
    let mut done = false;
    for (index, piece) in rest.chunks(chunk).enumerate() {
        phone.handle_input(piece);
        while let Some(output) = phone.poll_output() {
            assert!(!done, "output after Done");
            match output {
                PhoneOutput::Done(_) => done = true,
                PhoneOutput::Need(decision) => {
                    let fail = control & 0x10 != 0;
                    let _ = match decision {
                        PhoneDecision::GenerateKey(_) if control & 0x20 != 0 => {
                            phone.repeat_in_progress()
                        }
                        PhoneDecision::GenerateKey(_) if fail => phone.refuse_key(),
                        PhoneDecision::GenerateKey(_) => phone.answer_key(spki()),
                        PhoneDecision::StoreCertificate { .. } if fail => phone.refuse_store(),
                        PhoneDecision::StoreCertificate { .. } => phone.answer_store(),
                        PhoneDecision::FetchCertificate => phone.answer_fetch(None),
                        PhoneDecision::DeleteCertificate => phone.answer_delete(!fail),
                        _ => Ok(()),
                    };
                    // Answers nobody asked for must be refused, not panic.
                    let _ = phone.answer_delete(true);
                }
                _ => {}
            }
        }
        if control & 0x40 != 0 {
            phone.handle_timeout(start.plus_seconds(u64::try_from(index).unwrap_or(0) * 10));
        }
        let _ = phone.poll_timeout();
    }
    phone.handle_peer_closed();
    while let Some(output) = phone.poll_output() {
        assert!(!done, "output after Done");
        done = matches!(output, PhoneOutput::Done(_));
    }
    assert!(phone.is_done());
});
