//! Property runs that are reproducible and not vacuous: a fixed seed
//! (ChaCha), and a count of the cases that reached the branch the property
//! is about, with a minimum asserted. A "never panics" property whose
//! interesting branch (the input parsed, the decoder produced a frame) is
//! almost never taken would pass while testing nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

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
