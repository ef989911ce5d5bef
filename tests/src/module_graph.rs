//! The module dependency graph of a crate's source tree, and its cycles.
//!
//! Each file module (`foo.rs`, `foo/mod.rs`, the crate root) is a node. A
//! module depends on another when its code names a path into it
//! (`use crate::a::b`, `super::b::f()`, `crate::a::B` in a type), following
//! `pub use` re-exports to the module that defines the item. Parents and
//! their descendants are containers of one another, not dependencies: a
//! parent declaring and re-exporting a child, or a child using its parent,
//! adds no edge. Items under `#[cfg(test)]` are left out (unit tests may use
//! anything).
//!
//! A cycle is a set of two or more modules that reach each other through
//! such edges: a reader cannot understand either without the other, and
//! neither can be moved to another crate alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module's path inside its crate, e.g. `["trust", "verifiers"]`; the
/// crate root is the empty path.
pub type ModulePath = Vec<String>;

/// What went wrong reading a crate's sources.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// A source file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A source file is not valid Rust.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: syn::Error,
    },
}

#[derive(Debug, Default)]
struct Module {
    /// Paths this module names, already made absolute (from the crate root).
    references: Vec<ModulePath>,
    /// `pub use` re-exports: local name -> absolute path of the original.
    reexports: BTreeMap<String, ModulePath>,
}

/// The file modules of one crate and the paths each names.
#[derive(Debug, Default)]
pub struct ModuleGraph {
    modules: BTreeMap<ModulePath, Module>,
}

impl ModuleGraph {
    /// Reads the crate whose root file is `root` (`src/lib.rs` or
    /// `src/main.rs`), following `mod name;` declarations.
    pub fn read_crate(root: &Path) -> Result<Self, GraphError> {
        let mut graph = Self::default();
        let directory = root.parent().unwrap_or(Path::new(".")).to_path_buf();
        graph.read_module(root, directory, Vec::new())?;
        Ok(graph)
    }

    fn read_module(
        &mut self,
        file: &Path,
        children_directory: PathBuf,
        path: ModulePath,
    ) -> Result<(), GraphError> {
        let text = std::fs::read_to_string(file).map_err(|source| GraphError::Read {
            path: file.to_path_buf(),
            source,
        })?;
        let syntax = syn::parse_file(&text).map_err(|source| GraphError::Parse {
            path: file.to_path_buf(),
            source,
        })?;
        let mut collector = Collector {
            module: &path,
            references: Vec::new(),
            reexports: BTreeMap::new(),
        };
        let mut children = Vec::new();
        for item in &syntax.items {
            if is_cfg_test(item_attributes(item)) {
                continue;
            }
            if let syn::Item::Mod(declaration) = item
                && declaration.content.is_none()
            {
                children.push(declaration.ident.to_string());
                continue;
            }
            collector.visit_item(item);
        }
        self.modules.insert(
            path.clone(),
            Module {
                references: collector.references,
                reexports: collector.reexports,
            },
        );
        for child in children {
            let flat = children_directory.join(format!("{child}.rs"));
            let nested = children_directory.join(&child).join("mod.rs");
            let (child_file, grandchildren_directory) = if flat.is_file() {
                (flat, children_directory.join(&child))
            } else {
                (nested, children_directory.join(&child))
            };
            let mut child_path = path.clone();
            child_path.push(child);
            self.read_module(&child_file, grandchildren_directory, child_path)?;
        }
        Ok(())
    }

    /// Every module of the crate.
    pub fn modules(&self) -> impl Iterator<Item = &ModulePath> {
        self.modules.keys()
    }

    /// The module that defines what `path` names: the longest module prefix,
    /// followed through `pub use` re-exports (at most a few hops).
    fn resolve(&self, path: &[String]) -> Option<ModulePath> {
        let mut path = path.to_vec();
        for _ in 0..8 {
            let prefix_length = (0..=path.len())
                .rev()
                .find(|length| self.modules.contains_key(&path[..*length]))?;
            let module = path[..prefix_length].to_vec();
            let Some(item) = path.get(prefix_length) else {
                return Some(module);
            };
            match self
                .modules
                .get(&module)
                .and_then(|m| m.reexports.get(item))
            {
                Some(original) if original.as_slice() != path.as_slice() => {
                    let mut next = original.clone();
                    next.extend_from_slice(&path[prefix_length + 1..]);
                    path = next;
                }
                _ => return Some(module),
            }
        }
        None
    }

    /// The dependency edges: module -> modules it depends on (never itself,
    /// an ancestor or a descendant).
    pub fn edges(&self) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
        let mut edges: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
        for (from, module) in &self.modules {
            let targets = edges.entry(from.clone()).or_default();
            for reference in &module.references {
                let Some(to) = self.resolve(reference) else {
                    continue;
                };
                if !to.starts_with(from) && !from.starts_with(&to) {
                    targets.insert(to);
                }
            }
        }
        edges
    }

    /// Sets of two or more modules that depend on each other, each sorted,
    /// with the modules joined by `::` (the crate root shows as `crate`).
    pub fn cycles(&self) -> Vec<Vec<String>> {
        strongly_connected(&self.edges())
            .into_iter()
            .filter(|component| component.len() > 1)
            .map(|component| component.iter().map(|path| display(path)).collect())
            .collect()
    }
}

/// `a::b`, or `crate` for the root.
pub fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

fn item_attributes(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// `#[cfg(test)]`, alone (not `cfg(not(test))` or `cfg(any(test, ..))`).
fn is_cfg_test(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        attribute.path().is_ident("cfg")
            && attribute
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// Gathers the absolute paths one module names.
struct Collector<'a> {
    module: &'a ModulePath,
    references: Vec<ModulePath>,
    reexports: BTreeMap<String, ModulePath>,
}

impl Collector<'_> {
    /// Makes `segments` absolute if it starts with `crate`, `super` or
    /// `self`; other paths (external crates, local names) are ignored.
    fn absolute(&self, segments: &[String]) -> Option<ModulePath> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => {
                let mut base = self.module.clone();
                base.pop()?;
                base
            }
            _ => return None,
        };
        let mut rest = rest;
        while let Some(("super", tail)) = rest.split_first().map(|(s, t)| (s.as_str(), t)) {
            base.pop()?;
            rest = tail;
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, public: bool) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree, public);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let ident = name.ident.to_string();
                self.use_leaf(prefix, &ident, &ident, public);
            }
            syn::UseTree::Rename(rename) => {
                self.use_leaf(
                    prefix,
                    &rename.ident.to_string(),
                    &rename.rename.to_string(),
                    public,
                );
            }
            syn::UseTree::Glob(_) => {
                if let Some(path) = self.absolute(prefix) {
                    self.references.push(path);
                }
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree, public);
                }
            }
        }
    }

    fn use_leaf(&mut self, prefix: &[String], ident: &str, local_name: &str, public: bool) {
        let mut full = prefix.to_vec();
        if ident != "self" {
            full.push(ident.to_owned());
        }
        // `use name::Item` where `name` is a child module of this one.
        let absolute = self.absolute(&full).or_else(|| {
            let mut relative = vec!["self".to_owned()];
            relative.extend(full.iter().cloned());
            self.absolute(&relative)
        });
        if let Some(path) = absolute {
            if public {
                self.reexports.insert(local_name.to_owned(), path.clone());
            }
            self.references.push(path);
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let public = !matches!(item.vis, syn::Visibility::Inherited);
        let mut prefix = Vec::new();
        self.use_tree(&mut prefix, &item.tree, public);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        if let Some(absolute) = self.absolute(&segments) {
            self.references.push(absolute);
        }
        syn::visit::visit_path(self, path);
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(edges: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        components: Vec<Vec<ModulePath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a ModulePath) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.edges.get(node).into_iter().flatten() {
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.clone());
                    if member == node {
                        break;
                    }
                }
                component.sort();
                self.components.push(component);
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.components
}
