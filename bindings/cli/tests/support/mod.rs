//! Helpers shared by the command-line tests: where the vectors are, a fresh
//! scratch folder per test, and running the built `capf` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The project's copy of the test vectors.
pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// A fresh, empty folder for one test of one suite.
pub fn scratch(suite: &str, test: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("capf-cli-{suite}-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// Runs `capf` with `args` and collects its output.
pub fn capf(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capf"))
        .args(args)
        .output()
        .unwrap()
}

/// Bytes as text, for messages and assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
