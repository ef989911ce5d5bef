//! Properties of `rollover::predict` on damaged and arbitrary input.
//!
//! Every byte of a signed trust list is covered by its signature except the
//! signature element (tag 12) itself (spec `tlv-files.md` 8.1), and that
//! element is checked too: its tag and length bytes are part of the
//! structure the parser checks, and RSA is a permutation, so a changed
//! signature value never verifies. So a change to any one byte of a valid
//! candidate, padding included, must be refused, whatever the phone holds.

use capf_core::rollover::{CandidateList, InstalledLists, RolloverVerdict, TvsKnowledge, predict};
use ctl_format::HashPolicy;
use ctl_format::trust_list::{Role, TrustList, TrustListKind};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};
use std::path::Path;

mod property_support;
use property_support::run_reaching;

fn vector(relative: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/vectors")
            .join(relative),
    )
    .unwrap()
}

/// The vector CTLs: SHA-1 and SHA-512 (certutils) and the real Unified CM
/// CTL (SHA-1, 1024-bit signer).
fn candidates() -> [Vec<u8>; 3] {
    [
        vector("tlv/ctl-sha1.tlv"),
        vector("tlv/ctl-sha512.tlv"),
        vector("real/cucm/CTLFile.tlv"),
    ]
}

/// TVS vouching, with role SAST, for every certificate `list` holds: the
/// most a TVS could do for a damaged candidate.
fn tvs_vouching_for(list: &[u8]) -> TvsKnowledge {
    let mut tvs = TvsKnowledge::new();
    for record in TrustList::parse(list).unwrap().records() {
        if let Some(der) = record.certificate_der() {
            tvs.insert(der, vec![Role::Sast], false);
        }
    }
    tvs
}

/// The undamaged vectors are accepted on first use and by a phone holding
/// the same list, so the corruption property below is not vacuous.
#[test]
fn undamaged_candidates_are_accepted() {
    for bytes in candidates() {
        let candidate = CandidateList {
            kind: TrustListKind::Ctl,
            bytes: &bytes,
        };
        for installed in [InstalledLists::NOTHING, InstalledLists::ctl(&bytes)] {
            let prediction = predict(installed, candidate, None, HashPolicy::CISCO).unwrap();
            assert!(prediction.is_accepted(), "{prediction:?}");
        }
    }
}

proptest! {
    // A fixed seed: the same cases every run (reproducible); a failure is
    // also kept in capf-core/proptest-regressions/ (commit it).
    #![proptest_config(ProptestConfig {
        cases: 1024,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x0C7F_2011),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/rollover_properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Any single-byte change (XOR with a non-zero mask) at any offset of a
    /// valid candidate is rejected by a phone holding nothing, by a phone
    /// holding the original (the signer is its SAST), and by a phone whose
    /// ITL decides with TVS vouching for every certificate of the original.
    #[test]
    fn single_byte_corruption_is_never_accepted(
        which in 0usize..3,
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let original = &candidates()[which];
        let mut damaged = original.clone();
        let offset = position.index(damaged.len());
        damaged[offset] ^= mask;
        let candidate = CandidateList { kind: TrustListKind::Ctl, bytes: &damaged };
        let tvs = tvs_vouching_for(original);
        for (installed, tvs) in [
            (InstalledLists::NOTHING, None),
            (InstalledLists::ctl(original), None),
            (InstalledLists::itl(original), Some(&tvs)),
        ] {
            let prediction = predict(installed, candidate, tvs, HashPolicy::ANY).unwrap();
            prop_assert!(
                !matches!(prediction.verdict, RolloverVerdict::Accepted(_)),
                "byte {} ^ {:#04x} accepted: {:?}", offset, mask, prediction.verdict
            );
            prop_assert!(prediction.fix.is_some());
        }
    }

    /// A valid candidate truncated or extended by arbitrary bytes is refused.
    #[test]
    fn truncated_or_extended_candidates_are_refused(
        which in 0usize..3,
        cut in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 1..64),
        extend in any::<bool>(),
    ) {
        let original = &candidates()[which];
        let damaged = if extend {
            [original.as_slice(), &tail].concat()
        } else {
            original[..cut.index(original.len())].to_vec()
        };
        let candidate = CandidateList { kind: TrustListKind::Ctl, bytes: &damaged };
        let prediction =
            predict(InstalledLists::ctl(original), candidate, None, HashPolicy::ANY).unwrap();
        prop_assert!(!prediction.is_accepted(), "{:?}", prediction.verdict);
    }
}

/// Arbitrary bytes, or one of the vector lists with one byte changed.
fn list_bytes(length: usize) -> impl Strategy<Value = Vec<u8>> {
    let changed = (
        proptest::sample::select(candidates().to_vec()),
        any::<prop::sample::Index>(),
        1u8..=255,
    )
        .prop_map(|(mut bytes, at, change)| {
            let at = at.index(bytes.len());
            bytes[at] ^= change;
            bytes
        });
    prop_oneof![proptest::collection::vec(any::<u8>(), 0..length), changed]
}

/// Arbitrary or damaged installed and candidate lists: `predict` returns
/// (an error only for an installed list that does not parse), never
/// panics, never accepts. Enough cases must get to judging a candidate
/// that parses against installed lists that parse.
#[test]
fn predict_never_panics_on_arbitrary_bytes() {
    let installed = proptest::option::of(prop_oneof![
        list_bytes(256),
        proptest::sample::select(candidates().to_vec())
    ]);
    let strategy = (installed.clone(), installed, list_bytes(512), any::<bool>());
    run_reaching(
        "rollover predict",
        512,
        60,
        strategy,
        |(installed_ctl, installed_itl, candidate, itl)| {
            let installed = InstalledLists {
                ctl: installed_ctl.as_deref(),
                itl: installed_itl.as_deref(),
            };
            let kind = if itl {
                TrustListKind::Itl
            } else {
                TrustListKind::Ctl
            };
            let parses = TrustList::parse(&candidate).is_ok();
            let candidate = CandidateList {
                kind,
                bytes: &candidate,
            };
            match predict(
                installed,
                candidate,
                Some(&TvsKnowledge::new()),
                HashPolicy::ANY,
            ) {
                Ok(prediction) => {
                    prop_assert!(!prediction.is_accepted());
                    Ok(parses)
                }
                Err(error) => {
                    prop_assert!(!error.to_string().is_empty());
                    Ok(false)
                }
            }
        },
    );
}
