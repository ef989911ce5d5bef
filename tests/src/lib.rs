//! Cross-crate end-to-end tests of capf live in `tests/tests/`: the phone
//! and server sessions of `capf-core` against each other over its
//! in-memory TLS, with LSCs issued by its issuer and judged by its trust
//! evaluator; trust lists built by `ctl-format` and read by `capf-core`'s
//! trust stores, TLS verifiers and rollover predictor; the recorded
//! vectors in `tests/vectors/`. This library holds what they share: the workspace
//! module graph for the import-cycle check and the public type names for
//! the unique-name check (both tested themselves).

pub mod module_graph;
pub mod public_names;

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding the workspace `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .to_path_buf()
}

/// The member folders listed in the workspace `Cargo.toml`'s `members`.
pub fn workspace_members(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let Some(start) = manifest.find("members") else {
        return Ok(Vec::new());
    };
    let list = &manifest[start..];
    let (Some(open), Some(close)) = (list.find('['), list.find(']')) else {
        return Ok(Vec::new());
    };
    Ok(list[open + 1..close]
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty())
        .map(|member| root.join(member))
        .collect())
}
