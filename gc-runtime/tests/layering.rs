//! The house rules of `gc-runtime`'s module graph, checked on its source.
//!
//! The crate has two layers (see the "Layers" section of `src/lib.rs`): the **engine** — the
//! collector's mechanism and the plain types that describe it — and the **public API** on top,
//! the handles users hold. Imports run one way: an API module may import the engine, never the
//! reverse. And the only import circles are the ones the design accepts: the public types that
//! refer to each other (`Gc` ↔ `Mutator` ↔ `Root`), and the runtime context struct and the
//! components that take it (`runtime` ↔ `collector`, `marker`, `thread_state`).
//!
//! The graph is read from the sources: every `crate::` path outside comments and test modules
//! (inline, or in a `tests.rs` file), reduced to the top-level module it names. Run with `--nocapture` to print it.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The public API: what users hold and call. Everything here may import the engine.
const API: &[&str] = &[
    "collections",
    "gc",
    "member",
    "mutator",
    "private",
    "roots",
    "tagged",
    "trace_impls",
    "value_stack",
    "variance",
    "weak",
];

/// The engine, bottom to top. Nothing here imports an API module.
const ENGINE: &[&str] = &[
    "primitive",
    "address_hash",
    "prefetch",
    "popcount",
    "report",
    "named",
    "config",
    "clock",
    "mark_bits",
    "slot",
    "raw",
    "mapped_vec",
    "owned_bytes",
    "shared_slice",
    "slot_array",
    "slot_table",
    "object",
    "cells",
    "grey_queue",
    "shade",
    "mutator_marks",
    "heap",
    "handshake",
    "stack_scan",
    "thread_pauses",
    "stats",
    "root_table",
    "weak_table",
    "weak_map_table",
    "barrier",
    "marker",
    "checkmark",
    "thread_state",
    "collector",
    "runtime",
];

/// Crate-level files that are neither layer: the crate root, and helpers compiled only for
/// the crate's own unit tests.
const OUTSIDE: &[&str] = &["lib", "test_support"];

/// The import circles the design accepts (see the module docs): the runtime, the context
/// struct every engine path reaches through `&Runtime`, with the components that take it and
/// that it starts (the collector loop, the mark workers, the threads' mutator state); and the
/// public types that refer to each other (`Gc::root` makes a `Root`, `Root::get` a `Gc`, both
/// borrow a `Mutator`, which hands out `Gc`s).
const ACCEPTED_CIRCLES: &[&[&str]] =
    &[&["collector", "marker", "runtime", "thread_state"], &["gc", "mutator", "roots"]];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`heap/page.rs` → `heap`).
fn top_module(path: &Path) -> String {
    let rel = path.strip_prefix(src_dir()).expect("a file under src");
    let first = rel.components().next().expect("non-empty path").as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The source without `//` comments and without test modules (`#[cfg(test)] mod tests { .. }`
/// and `#[cfg(all(test, ..))]` likewise): tests may use anything.
fn code_only(src: &str) -> String {
    let no_comments: String = src
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = no_comments.as_str();
    while let Some(at) = rest.find("#[cfg(") {
        let attr_end = rest[at..].find(")]").map(|i| at + i + 2).expect("closed cfg attribute");
        let attr = &rest[at..attr_end];
        let after = rest[attr_end..].trim_start();
        let is_test_module = attr.contains("test")
            && !attr.contains("not(test")
            && (after.starts_with("mod ") || after.starts_with("pub(crate) mod "))
            && after.find('{').is_some_and(|b| after.find(';').is_none_or(|s| b < s));
        if !is_test_module {
            out.push_str(&rest[..attr_end]);
            rest = &rest[attr_end..];
            continue;
        }
        out.push_str(&rest[..at]);
        let body = &rest[attr_end..];
        let open = body.find('{').expect("module body");
        let mut depth = 0usize;
        let mut end = body.len();
        for (i, c) in body[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

/// The first segments of the paths in a use tree that starts right after `crate::`:
/// `heap::Page` → `heap`; `{a::X, b, c::{D, E}}` → `a`, `b`, `c`.
fn first_segments(tree: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let Some(inner) = tree.strip_prefix('{') else {
        return vec![ident(tree)];
    };
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&inner[start..i]);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.iter().map(|item| ident(item.trim())).filter(|s| !s.is_empty()).collect()
}

/// Which top-level module imports which.
fn module_graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut graph = Graph::new();
    for file in files {
        // A module's unit tests in their own file (`#[cfg(test)] mod tests;`) may use anything.
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let module = top_module(&file);
        let code = code_only(&fs::read_to_string(&file).expect("readable source"));
        let deps = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            for dep in first_segments(&code[at + "crate::".len()..]) {
                if dep != module && dep != "self" {
                    deps.insert(dep);
                }
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan's algorithm).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().expect("on the stack");
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found.sort();
    s.found
}

fn print(graph: &Graph) {
    for (module, deps) in graph {
        let layer = if API.contains(&module.as_str()) {
            "api"
        } else if ENGINE.contains(&module.as_str()) {
            "engine"
        } else {
            "-"
        };
        println!("{module:>13} ({layer:>6}) -> {}", deps.iter().cloned().collect::<Vec<_>>().join(" "));
    }
}

#[test]
fn every_module_has_a_layer() {
    let graph = module_graph();
    let unplaced: Vec<_> =
        graph.keys().filter(|m| ![API, ENGINE, OUTSIDE].iter().any(|layer| layer.contains(&m.as_str()))).collect();
    assert!(unplaced.is_empty(), "modules with no layer (add each to API or ENGINE in this test): {unplaced:?}");
    let missing: Vec<_> = API.iter().chain(ENGINE).filter(|m| !graph.contains_key(**m)).collect();
    assert!(missing.is_empty(), "layer lists name modules that do not exist: {missing:?}");
}

#[test]
fn the_engine_never_imports_the_public_api() {
    let graph = module_graph();
    print(&graph);
    let upward: Vec<String> = graph
        .iter()
        .filter(|(module, _)| ENGINE.contains(&module.as_str()))
        .flat_map(|(module, deps)| {
            deps.iter().filter(|d| API.contains(&d.as_str())).map(move |d| format!("{module} -> {d}"))
        })
        .collect();
    assert!(
        upward.is_empty(),
        "engine modules import public-API modules (move what they need into the engine): {upward:?}"
    );
}

#[test]
fn the_only_import_circles_are_the_accepted_ones() {
    let found = circles(&module_graph());
    let accepted: Vec<Vec<String>> =
        ACCEPTED_CIRCLES.iter().map(|c| c.iter().map(|m| (*m).to_owned()).collect()).collect();
    assert_eq!(found, accepted, "import circles between modules");
}

#[test]
fn the_graph_reader_sees_grouped_imports_and_skips_tests_and_comments() {
    assert_eq!(first_segments("{a::X, b, c::{D, E}};"), ["a", "b", "c"]);
    assert_eq!(first_segments("heap::Page;"), ["heap"]);
    let src = "use crate::x;\n// crate::y\n#[cfg(all(test, not(gc_loom)))]\nmod tests { use crate::z; }\nfn f() {}";
    let code = code_only(src);
    assert!(code.contains("crate::x") && !code.contains("crate::y") && !code.contains("crate::z"), "{code}");
    let mut g = Graph::new();
    for (a, b) in [("a", "b"), ("b", "a"), ("b", "c"), ("c", "d")] {
        g.entry(a.into()).or_default().insert(b.into());
        g.entry(b.into()).or_default();
    }
    assert_eq!(circles(&g), [vec!["a".to_owned(), "b".to_owned()]]);
}
