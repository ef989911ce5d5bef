//! No module import cycles anywhere in the workspace (see
//! `capf_tests::module_graph` for what counts), and the checker itself finds
//! the cycles it should.

use capf_tests::module_graph::{ModuleGraph, display};
use capf_tests::{workspace_members, workspace_root};

#[test]
fn no_crate_in_the_workspace_has_a_module_cycle() {
    let root = workspace_root();
    let members = workspace_members(&root).expect("read the workspace Cargo.toml");
    assert!(
        members.len() >= 4,
        "too few workspace members found: {members:?}"
    );
    let mut crate_roots = 0;
    let mut failures = Vec::new();
    for member in members {
        for root_file in ["src/lib.rs", "src/main.rs"] {
            let file = member.join(root_file);
            if !file.is_file() {
                continue;
            }
            crate_roots += 1;
            let graph = ModuleGraph::read_crate(&file).expect("read the crate's modules");
            for cycle in graph.cycles() {
                failures.push(format!("{}: {}", file.display(), cycle.join(" <-> ")));
            }
        }
    }
    assert!(crate_roots >= 4, "only {crate_roots} crate roots read");
    assert!(
        failures.is_empty(),
        "module import cycles:\n{}",
        failures.join("\n")
    );
}

/// Writes `files` (path, text) under a fresh folder named `tag` and reads
/// the crate rooted at its `lib.rs`.
fn graph_of(tag: &str, files: &[(&str, &str)]) -> ModuleGraph {
    let folder =
        std::env::temp_dir().join(format!("capf-module-graph-{}-{tag}", std::process::id()));
    if folder.exists() {
        std::fs::remove_dir_all(&folder).unwrap();
    }
    for (path, text) in files {
        let path = folder.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let graph = ModuleGraph::read_crate(&folder.join("lib.rs")).expect("synthetic crate");
    std::fs::remove_dir_all(&folder).unwrap();
    graph
}

#[test]
fn a_direct_cycle_between_two_files_is_found() {
    let graph = graph_of(
        "direct",
        &[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            (
                "b.rs",
                "pub struct B; fn f() -> crate::a::A { crate::a::A }",
            ),
        ],
    );
    assert_eq!(graph.cycles(), vec![vec!["a".to_owned(), "b".to_owned()]]);
}

#[test]
fn a_cycle_through_a_reexport_and_super_is_found() {
    // tls uses trust::Verifier (re-exported from trust::verifiers), and
    // trust::verifiers uses tls: the shape of a real cycle this project had.
    let graph = graph_of(
        "reexport",
        &[
            ("lib.rs", "mod tls; mod trust;"),
            ("tls.rs", "use crate::trust::Verifier; pub struct Config;"),
            (
                "trust/mod.rs",
                "mod verifiers; pub use verifiers::Verifier;",
            ),
            (
                "trust/verifiers.rs",
                "use super::super::tls::Config; pub struct Verifier;",
            ),
        ],
    );
    assert_eq!(
        graph.cycles(),
        vec![vec!["tls".to_owned(), "trust::verifiers".to_owned()]]
    );
}

#[test]
fn parents_children_tests_and_one_way_uses_are_not_cycles() {
    let graph = graph_of(
        "acyclic",
        &[
            ("lib.rs", "mod a; mod b; pub use a::A;"),
            (
                "a/mod.rs",
                "mod inner; pub use inner::A; pub(crate) fn helper() {}",
            ),
            ("a/inner.rs", "pub struct A; fn g() { super::helper() }"),
            (
                "b.rs",
                "use crate::A; #[cfg(test)] mod tests { fn t() { crate::a::helper() } }",
            ),
        ],
    );
    assert!(graph.cycles().is_empty(), "{:?}", graph.cycles());
    assert_eq!(graph.modules().count(), 4);
    // b depends on a::inner (through two re-exports), not the other way.
    let edges = graph.edges();
    let b = vec!["b".to_owned()];
    let inner = vec!["a".to_owned(), "inner".to_owned()];
    assert!(edges[&b].contains(&inner), "{edges:?}");
}

#[test]
fn the_real_crates_are_read_whole() {
    // A guard against the check passing because it read nothing: capf-core's
    // graph has its known modules and many edges.
    let graph =
        ModuleGraph::read_crate(&workspace_root().join("capf-core/src/lib.rs")).expect("capf-core");
    let names: Vec<String> = graph.modules().map(|path| display(path)).collect();
    for expected in [
        "capf::server::session",
        "capf::phone",
        "trust::evaluate",
        "capf::codec::frame",
        "tvs::codec::frame",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing: {names:?}"
        );
    }
    let edges = graph.edges();
    assert!(edges.values().map(|targets| targets.len()).sum::<usize>() > 20);
}
