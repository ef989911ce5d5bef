//! Every public type name (`pub struct|enum|union|trait|type`) is defined
//! once across ctl-format, capf-core and capf-registry: the bindings
//! (uniffi) put the types of all three into one namespace. The checker
//! itself finds the duplicates it should.

use std::collections::BTreeMap;
use std::path::Path;

use capf_tests::public_names::{duplicates, names_in_source, public_type_names};
use capf_tests::workspace_root;

/// The crates whose types the bindings export.
const BOUND_CRATES: [&str; 3] = ["ctl-format", "capf-core", "capf-registry"];

#[test]
fn public_type_names_are_unique_across_the_bound_crates() {
    let root = workspace_root();
    let mut all = BTreeMap::new();
    for name in BOUND_CRATES {
        let names = public_type_names(&root.join(name).join("src")).expect("read the sources");
        assert!(
            names.len() >= 10,
            "{name}: only {} public types found",
            names.len()
        );
        for (type_name, definitions) in names {
            all.entry(type_name)
                .or_insert_with(Vec::new)
                .extend(definitions);
        }
    }
    let clashes = duplicates(&all);
    let report: Vec<String> = clashes
        .iter()
        .map(|(name, definitions)| {
            let places: Vec<String> = definitions
                .iter()
                .map(|definition| {
                    format!(
                        "{} {}",
                        definition.kind,
                        definition
                            .file
                            .strip_prefix(&root)
                            .unwrap_or(&definition.file)
                            .display()
                    )
                })
                .collect();
            format!("{name}: {}", places.join(", "))
        })
        .collect();
    assert!(
        clashes.is_empty(),
        "public type names defined more than once (give each a spelled-out name):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_finds_duplicates_and_ignores_what_is_not_api() {
    let mut names = BTreeMap::new();
    let source = r#"
        pub struct Reason;
        pub(crate) struct Hidden;
        struct Private;
        pub mod inner {
            pub enum Reason { A }
            pub type Alias = u8;
        }
        #[cfg(test)]
        mod tests {
            pub struct Alias;
        }
        pub fn f() {
            pub struct InBody;
        }
        pub trait Reason2 {}
    "#;
    names_in_source(source, Path::new("a.rs"), &mut names).unwrap();
    names_in_source("pub type Alias = u16;", Path::new("b.rs"), &mut names).unwrap();
    let found: Vec<&str> = names.keys().map(String::as_str).collect();
    assert_eq!(found, ["Alias", "Reason", "Reason2"]);
    let clashes: Vec<String> = duplicates(&names)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(clashes, ["Alias", "Reason"]);
}
