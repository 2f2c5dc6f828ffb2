//! The crate's module graph has no cycles between modules that are not parent and child: a
//! domain never imports a module that imports it back, and nothing below `Services` names it.
//! (Sub-services are built in dependency order, so a cycle between services cannot compile; this
//! keeps the imports honest too.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path ("" for the crate root, "identity::sessions", ...) → its source text.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                out.insert(parts.join("::"), std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

/// The source without comments, inline test modules and re-exports (`pub use` is a module's
/// surface, not something it depends on).
fn code(source: &str) -> String {
    let source = source.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut out = String::new();
    let mut in_reexport = false;
    for line in source.lines() {
        let line = line.split("//").next().unwrap();
        let trimmed = line.trim_start();
        if trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ") {
            in_reexport = true;
        }
        if !in_reexport {
            out.push_str(line);
            out.push('\n');
        }
        if in_reexport && line.contains(';') {
            in_reexport = false;
        }
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that follows `prefix` (`crate::` or `super::`), with `{a::b, c}` groups expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<String> {
    fn read(rest: &str, base: &str, out: &mut Vec<String>) {
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        read(item.trim(), base, out);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            read(item.trim(), base, out);
            return;
        }
        let end = rest.find(|c: char| !(ident_char(c) || c == ':')).unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':');
        let full = if base.is_empty() { path.to_owned() } else { format!("{base}::{path}") };
        if rest[end..].starts_with('{') {
            read(&rest[end..], full.trim_end_matches(':'), out);
        } else {
            out.push(full);
        }
    }
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i].chars().next_back().is_some_and(ident_char) {
            continue;
        }
        read(&code[i + prefix.len()..], "", &mut out);
    }
    out
}

fn parent(module: &str) -> &str {
    module.rsplit_once("::").map_or("", |(p, _)| p)
}

fn is_ancestor(a: &str, b: &str) -> bool {
    a.is_empty() || b.starts_with(&format!("{a}::"))
}

/// The deepest known module a path names (items resolve to the module defining them, roughly).
fn resolve<'a>(path: &str, known: &'a BTreeMap<String, String>) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").collect();
    (0..=parts.len()).rev().find_map(|n| known.get_key_value(&parts[..n].join("::")).map(|(k, _)| k.as_str()))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let known = modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // `Services` (crate root) depends on every domain; naming it from below is a cycle.
    let tops: BTreeSet<String> = known.keys().filter(|k| !k.is_empty() && !k.contains("::")).cloned().collect();
    edges.insert("Services".into(), tops);
    for (module, source) in &known {
        let code = code(source);
        let mut targets = BTreeSet::new();
        let mut paths: Vec<String> = paths_after(&code, "crate::");
        for p in paths_after(&code, "super::") {
            let base = parent(module);
            paths.push(if base.is_empty() { p } else { format!("{base}::{p}") });
        }
        for path in paths {
            let target = match resolve(&path, &known) {
                Some("") if path.starts_with("Services") || path.starts_with("Readiness") => "Services",
                Some(t) => t,
                None => continue,
            };
            targets.insert(target.to_owned());
        }
        // Children used by name after `mod child;`.
        for (child, _) in known.iter().filter(|(k, _)| parent(k) == module && !k.is_empty()) {
            let name = child.rsplit("::").next().unwrap();
            if code.contains(&format!("{name}::")) {
                targets.insert(child.clone());
            }
        }
        let targets =
            targets.into_iter().filter(|t| t != module && !is_ancestor(t, module) && !is_ancestor(module, t)).collect();
        edges.insert(module.clone(), targets);
    }
    edges
}

/// Strongly connected components with more than one module.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability is enough at this size: a and b share a cycle when each reaches the other.
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for t in edges.get(&m).into_iter().flatten() {
                if seen.insert(t.clone()) {
                    todo.push(t.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = edges.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for (m, r) in &reaches {
        if !r.contains(*m) || found.iter().any(|c| c.contains(m)) {
            continue;
        }
        let component: Vec<String> =
            reaches.iter().filter(|(o, ro)| r.contains(**o) && ro.contains(*m)).map(|(o, _)| (*o).clone()).collect();
        found.push(component);
    }
    found
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let edges = graph();
    assert!(edges.contains_key("identity::sessions"), "the walk found the modules: {:?}", edges.keys());
    assert!(
        edges["identity::sessions"].contains("identity::credentials"),
        "the walk sees imports: {:?}",
        edges["identity::sessions"]
    );
    let found = cycles(&edges);
    assert!(found.is_empty(), "module cycles: {found:?}");
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut edges = graph();
    edges.get_mut("identity::credentials").unwrap().insert("identity::sessions".into());
    assert_eq!(cycles(&edges), vec![vec!["identity::credentials".to_owned(), "identity::sessions".to_owned()]]);
}
