//! Cross-crate end-to-end tests of capf live in `tests/tests/`: the phone
//! and server sessions of `capf-core` against each other over its
//! in-memory TLS, with LSCs issued by its issuer and judged by its trust
//! evaluator; trust lists built by `ctl-format` and read by `capf-core`'s
//! trust stores, TLS verifiers and rollover predictor; the recorded
//! vectors in `tests/vectors/`. This library itself is empty.
