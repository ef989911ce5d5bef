//! Arbitrary installed and candidate bytes through
//! `capf_core::rollover::predict`: never a panic. Byte 0 chooses what the
//! phone holds (nothing, a CTL, an ITL, both; from the input or a vector
//! CTL), the candidate's kind, the hash policy and whether TVS vouches for
//! anything; byte 1 splits the rest into installed and candidate bytes. An
//! accepted candidate parses and verifies on its own.
#![no_main]

use capf_core::rollover::{CandidateList, InstalledLists, TvsKnowledge, RolloverVerdict, predict};
use ctl_format::trust_list::{Role, TrustListKind};
use ctl_format::{HashPolicy, TrustList};
use libfuzzer_sys::fuzz_target;

const VECTOR_CTL: &[u8] = include_bytes!("../../tests/vectors/tlv/ctl-sha1.tlv");

fuzz_target!(|data: &[u8]| {
    let Some((&[control, split], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = (usize::from(split) * rest.len()) / 256;
    let (installed_bytes, candidate_bytes) = rest.split_at(split);
    let held = if control & 0x10 == 0 {
        installed_bytes
    } else {
        VECTOR_CTL
    };
    let installed = match control & 0x03 {
        0 => InstalledLists::NOTHING,
        1 => InstalledLists::ctl(held),
        2 => InstalledLists::itl(held),
        _ => InstalledLists::ctl(held).with_itl(installed_bytes),
    };
    let kind = if control & 0x04 == 0 {
        TrustListKind::Ctl
    } else {
        TrustListKind::Itl
    };
    let policy = if control & 0x08 == 0 {
        HashPolicy::CISCO
    } else {
        HashPolicy::ANY
    };
    // TVS vouches for every certificate of the candidate, when it parses.
    let mut tvs = TvsKnowledge::new();
    if control & 0x20 != 0
        && let Ok(list) = TrustList::parse(candidate_bytes)
    {
        for record in list.records() {
            if let Some(der) = record.certificate_der() {
                tvs.insert(der, vec![Role::Sast], control & 0x40 != 0);
            }
        }
    }
    let candidate = CandidateList {
        kind,
        bytes: candidate_bytes,
    };
    if let Ok(prediction) = predict(installed, candidate, Some(&tvs), policy) {
        if let RolloverVerdict::Accepted(_) = prediction.verdict {
            let list = TrustList::parse(candidate_bytes).expect("an accepted candidate parses");
            assert!(list.verify(candidate_bytes, policy).is_ok());
            assert!(prediction.fix.is_none());
        } else {
            assert!(prediction.fix.is_some());
        }
    }
});
