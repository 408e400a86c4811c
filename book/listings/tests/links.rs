//! The book's link checker: every relative link, image and `{{#include}}` in `book/src/**/*.md`
//! must name an existing file (and, for includes, existing anchors; for `.md` links with a
//! `#fragment`, an existing heading). Every chapter file must be listed in `SUMMARY.md`, and
//! every Rust code block must be an include, never pasted code.
//!
//! `.ci/run` builds the book with `mdbook build`; this test (run by `cargo test --workspace`)
//! is what fails on a broken link.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

fn book_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../src")
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The heading ids mdBook generates for a chapter (lowercase; spaces to `-`; only
/// alphanumerics, `-` and `_` kept), plus explicit `id="..."` attributes.
fn heading_ids(text: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(h) = line.strip_prefix('#') {
            let title = h.trim_start_matches('#').trim();
            let id: String = title
                .replace('`', "")
                .chars()
                .filter_map(|c| match c {
                    c if c.is_whitespace() => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                    _ => None,
                })
                .collect();
            ids.insert(id);
        }
        for part in line.split("id=\"").skip(1) {
            ids.insert(part.split('"').next().unwrap().to_string());
        }
    }
    ids
}

/// `(target, line number)` of every Markdown link or image outside code blocks and code spans.
fn links(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut in_code = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        // Drop code spans so that `a[i](x)` in code is not taken for a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((after[..end].trim().to_string(), n + 1));
            rest = &after[end..];
        }
    }
    out
}

/// `(path, anchor, line number)` of every `{{#include ...}}` / `{{#rustdoc_include ...}}`.
fn includes(text: &str) -> Vec<(String, Option<String>, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for part in line.split("{{#").skip(1) {
            let Some(body) = part.split("}}").next() else { continue };
            let mut words = body.split_whitespace();
            let (Some(kind), Some(arg)) = (words.next(), words.next()) else { continue };
            if kind != "include" && kind != "rustdoc_include" {
                continue;
            }
            let mut pieces = arg.splitn(2, ':');
            let path = pieces.next().unwrap().to_string();
            let anchor = pieces.next().filter(|a| !a.chars().next().is_some_and(|c| c.is_ascii_digit() || c == ':'));
            out.push((path, anchor.map(str::to_string), n + 1));
        }
    }
    out
}

#[test]
fn every_link_include_and_anchor_resolves() {
    let src = book_src();
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    assert!(files.len() > 10, "found only {} chapters under {}", files.len(), src.display());
    let mut errors = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let dir = file.parent().unwrap();
        let name = file.strip_prefix(&src).unwrap().display().to_string();
        for (target, line) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, fragment) = match target.split_once('#') {
                Some((p, f)) => (p, Some(f)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() { file.clone() } else { dir.join(path) };
            if !resolved.exists() {
                errors.push(format!("{name}:{line}: link to missing file {target}"));
                continue;
            }
            if let Some(fragment) = fragment {
                if resolved.extension().is_some_and(|e| e == "md") {
                    let ids = heading_ids(&fs::read_to_string(&resolved).unwrap());
                    if !ids.contains(fragment) {
                        errors.push(format!("{name}:{line}: no heading #{fragment} in {path} (ids: {ids:?})"));
                    }
                }
            }
        }
        for (path, anchor, line) in includes(&text) {
            let resolved = dir.join(&path);
            let Ok(included) = fs::read_to_string(&resolved) else {
                errors.push(format!("{name}:{line}: include of missing file {path}"));
                continue;
            };
            if let Some(anchor) = anchor {
                let has = |marker: &str| {
                    included.lines().any(|l| {
                        l.split_once(marker).is_some_and(|(_, rest)| rest.split_whitespace().next() == Some(&anchor))
                    })
                };
                if !has("ANCHOR:") || !has("ANCHOR_END:") {
                    errors.push(format!("{name}:{line}: no anchor {anchor} (ANCHOR and ANCHOR_END) in {path}"));
                }
            }
        }
    }
    assert!(errors.is_empty(), "broken links in the book:\n{}", errors.join("\n"));
}

#[test]
fn every_chapter_is_in_the_summary() {
    let src = book_src();
    let summary = fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<String> = links(&summary).into_iter().map(|(t, _)| t).collect();
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    let missing: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
        .filter(|f| f != "SUMMARY.md" && !listed.contains(f))
        .collect();
    assert!(missing.is_empty(), "chapters not in SUMMARY.md: {missing:?}");
}

#[test]
fn rust_code_in_the_book_is_included_never_pasted() {
    let src = book_src();
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    let mut errors = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let mut in_rust = None;
        for (n, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if let Some(lang) = t.strip_prefix("```") {
                in_rust = match in_rust {
                    Some(_) => None,
                    None if lang.starts_with("rust") => Some(n + 1),
                    None => Some(0),
                };
                continue;
            }
            if in_rust.is_some_and(|start| start > 0) && !t.is_empty() && !t.starts_with("{{#") {
                errors.push(format!("{}:{}: pasted Rust code: {t}", file.display(), n + 1));
            }
        }
    }
    assert!(errors.is_empty(), "Rust code must be included from book/listings or examples:\n{}", errors.join("\n"));
}
