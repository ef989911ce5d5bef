//! Property runs that are reproducible and not vacuous: a fixed seed
//! (ChaCha), and a count of the cases that reached the branch the property
//! is about, with a minimum asserted. A "never panics" property whose
//! interesting branch (the input parsed, the decoder produced a frame) is
//! almost never taken would pass while testing nothing.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// Runs `cases` cases of `strategy` from a fixed seed; a failing case is
/// shrunk and reported with its input. `body` returns whether the case
/// reached the branch that matters; at least `minimum` cases must.
pub fn run_reaching<S: Strategy>(
    name: &str,
    cases: u32,
    minimum: usize,
    strategy: S,
    body: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) {
    let reached = AtomicUsize::new(0);
    let config = Config {
        cases,
        // No regression file: the seed is fixed, so a failure recurs on
        // every run until it is fixed.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let result = runner.run(&strategy, |value| {
        if body(value)? {
            reached.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
    let reached = reached.into_inner();
    eprintln!("{name}: {reached} of {cases} cases reached the branch");
    assert!(
        reached >= minimum,
        "{name}: only {reached} of {cases} cases reached the branch the property is about (at least {minimum} expected)"
    );
}

/// Bytes that look like a frame: right protocol id and a body length that
/// matches, so element parsing is exercised rather than the first byte.
pub fn framed_body() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        any::<u32>(),
        proptest::collection::vec(element_like(), 0..10),
    )
        .prop_map(|(command, session_id, elements)| {
            let body: Vec<u8> = elements.concat();
            let mut bytes = vec![0x55, command];
            bytes.extend_from_slice(&session_id.to_be_bytes());
            let length = u16::try_from(body.len().min(65_535)).unwrap();
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(&body);
            bytes
        })
}

/// A TLV with a plausible tag, usually the right length, and a value that
/// is often shaped like the tag's layout (fixed width, certificate wrapper,
/// SHA2 header, SUDI block).
pub fn element_like() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..=22,
        proptest::collection::vec(any::<u8>(), 0..300),
        prop_oneof![8 => Just(0i32), 1 => -2i32..=2],
        proptest::bool::weighted(0.8),
    )
        .prop_map(|(tag, mut value, skew, shaped)| {
            if shaped {
                match tag {
                    1 | 3 | 7 | 8 | 17 | 18 => value.truncate(1),
                    10 => value.truncate(2),
                    _ => {}
                }
                if matches!(tag, 4 | 20) && value.len() >= 5 {
                    let inner = u16::try_from(value.len() - 3).unwrap();
                    value[0] = if tag == 4 { 1 } else { 3 };
                    value[1..3].copy_from_slice(&inner.to_be_bytes());
                }
                if tag == 16 && value.len() >= 9 {
                    // Three blocks: 3-byte headers, data split evenly.
                    let data = value.len() - 9;
                    let sizes = [data / 3, data / 3, data - 2 * (data / 3)];
                    let mut at = 0;
                    for (lead, size) in [0u8, 1, 3].into_iter().zip(sizes) {
                        value[at] = lead;
                        value[at + 1..at + 3]
                            .copy_from_slice(&u16::try_from(size).unwrap().to_be_bytes());
                        at += 3 + size;
                    }
                }
            }
            let length = i32::try_from(value.len()).unwrap() + skew;
            let length = u16::try_from(length.max(0)).unwrap();
            let mut element = vec![tag];
            element.extend_from_slice(&length.to_be_bytes());
            element.extend_from_slice(&value);
            element
        })
}
