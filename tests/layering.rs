//! The library's modules form layers: each top-level module of `src/` uses
//! only the modules listed before it in `LAYERS`, and no two files import
//! each other, directly or around a circle. Comments are not read (a doc
//! link is not a dependency); a `mod.rs` may name its own submodules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom to top, as `src/lib.rs` declares them.
const LAYERS: &[&str] = &[
    "error",
    "cell_options",
    "config",
    "gpu",
    "weights",
    "reference",
    "io",
    "kernels",
    "cells",
    "pass",
    "model",
    "train",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `["a", "b"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The code of `text` without `//` comments.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b::...` and `super::...` path in `code`, as module
/// paths from the crate root (as long as the path goes).
fn referenced_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            if code[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let mut base: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                // `super` of `a::b` (a/b.rs or a/b/mod.rs) is `a`.
                here[..here.len().saturating_sub(1)].to_vec()
            };
            let rest = &code[at + start.len()..];
            // Brace groups: each item is a path of its own.
            let segment: String = rest.chars().take_while(|&c| ident(c) || c == ':').collect();
            base.extend(
                segment
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            let after = &rest[segment.len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner: String = group.chars().take_while(|&c| c != '}').collect();
                for item in inner.split(',') {
                    let mut p = base.clone();
                    p.extend(
                        item.trim()
                            .split("::")
                            .filter(|s| !s.is_empty())
                            .map(str::to_string),
                    );
                    found.push(p);
                }
            } else {
                found.push(base);
            }
        }
    }
    found
}

#[test]
fn modules_form_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(&src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let here = module_path(&src, file);
        if here.is_empty() {
            continue; // lib.rs: declarations and re-exports only
        }
        let is_mod_rs = file.ends_with("mod.rs");
        let text = fs::read_to_string(file).expect("read source");
        for path in referenced_paths(&code(&text), &here) {
            // The longest prefix of `path` that is a file of ours.
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains(p))
            else {
                continue;
            };
            if target == here || (is_mod_rs && target.starts_with(&here)) {
                continue;
            }
            let (from, to) = (&here[0], &target[0]);
            if from != to {
                let rank = |m: &String| LAYERS.iter().position(|l| l == m);
                match (rank(from), rank(to)) {
                    (Some(a), Some(b)) if b < a => {}
                    _ => wrong.push(format!("{} uses {}", here.join("::"), target.join("::"))),
                }
            }
            edges.entry(here.clone()).or_default().insert(target);
        }
    }
    assert!(
        wrong.is_empty(),
        "a module uses one at or above its layer (LAYERS in tests/layering.rs):\n{}",
        wrong.join("\n")
    );
    // Depth-first search for a circle among files.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, bool>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let at = stack.iter().position(|n| n == node).expect("on the stack");
                return Some(stack[at..].to_vec());
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, &edges, &mut state, &mut Vec::new()) {
            let names: Vec<_> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("import circle: {} -> back", names.join(" -> "));
        }
    }
    // The check sees the crate: every layer has files.
    for layer in LAYERS {
        assert!(
            modules.contains(&vec![layer.to_string()]),
            "no module {layer} in src/"
        );
    }
}
