//! The public type names of a crate's source tree: every `pub struct`,
//! `pub enum`, `pub union`, `pub trait` and `pub type` in the `.rs` files
//! under a `src/` folder, with where each is defined. Bindings generators
//! (uniffi) put the types of several crates into one namespace, so a name
//! may be defined only once across the crates they export.
//!
//! Only `pub` items count (not `pub(crate)` and narrower), including those
//! inside inline modules; items under `#[cfg(test)]` and inside function
//! bodies are left out (neither is API).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Where a public type name is defined.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Definition {
    /// The file.
    pub file: PathBuf,
    /// `struct`, `enum`, `union`, `trait` or `type`.
    pub kind: &'static str,
}

/// Reading a source tree failed.
#[derive(Debug, thiserror::Error)]
pub enum NamesError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file does not parse as Rust.
    #[error("{path}: {source}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: syn::Error,
    },
}

/// Every public type name defined in the `.rs` files under `src` (recursive).
pub fn public_type_names(src: &Path) -> Result<BTreeMap<String, Vec<Definition>>, NamesError> {
    let mut names = BTreeMap::new();
    for file in rust_files(src)? {
        let text = std::fs::read_to_string(&file).map_err(|source| NamesError::Io {
            path: file.clone(),
            source,
        })?;
        names_in_source(&text, &file, &mut names).map_err(|source| NamesError::Parse {
            path: file.clone(),
            source,
        })?;
    }
    Ok(names)
}

/// Adds the public type names of one file's `text` to `names`.
pub fn names_in_source(
    text: &str,
    file: &Path,
    names: &mut BTreeMap<String, Vec<Definition>>,
) -> Result<(), syn::Error> {
    let parsed = syn::parse_file(text)?;
    let mut visitor = Names { file, names };
    visitor.visit_file(&parsed);
    Ok(())
}

/// The names defined more than once in `names` (name, definitions).
pub fn duplicates(names: &BTreeMap<String, Vec<Definition>>) -> Vec<(String, Vec<Definition>)> {
    names
        .iter()
        .filter(|(_, definitions)| definitions.len() > 1)
        .map(|(name, definitions)| (name.clone(), definitions.clone()))
        .collect()
}

fn rust_files(folder: &Path) -> Result<Vec<PathBuf>, NamesError> {
    let io = |source| NamesError::Io {
        path: folder.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

struct Names<'a> {
    file: &'a Path,
    names: &'a mut BTreeMap<String, Vec<Definition>>,
}

impl Names<'_> {
    fn add(&mut self, visibility: &syn::Visibility, name: &syn::Ident, kind: &'static str) {
        if matches!(visibility, syn::Visibility::Public(_)) {
            self.names
                .entry(name.to_string())
                .or_default()
                .push(Definition {
                    file: self.file.to_path_buf(),
                    kind,
                });
        }
    }
}

fn is_cfg_test(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        attribute.path().is_ident("cfg")
            && attribute
                .parse_args::<syn::Meta>()
                .is_ok_and(|meta| meta.path().is_ident("test"))
    })
}

impl<'ast> Visit<'ast> for Names<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        match item {
            syn::Item::Struct(item) => self.add(&item.vis, &item.ident, "struct"),
            syn::Item::Enum(item) => self.add(&item.vis, &item.ident, "enum"),
            syn::Item::Union(item) => self.add(&item.vis, &item.ident, "union"),
            syn::Item::Trait(item) => self.add(&item.vis, &item.ident, "trait"),
            syn::Item::Type(item) => self.add(&item.vis, &item.ident, "type"),
            syn::Item::Mod(module) if !is_cfg_test(&module.attrs) => {
                syn::visit::visit_item_mod(self, module)
            }
            // Function bodies and test modules are not API.
            _ => {}
        }
    }
}
