//! The shape of the workspace's source, checked so later work keeps it:
//!
//! - no circle of imports between the files of a crate (`a.rs` uses `b.rs`, which uses `a.rs`,
//!   directly or through others), and
//! - no source file under `crates/` longer than [`MAX_LINES`], an inline `#[cfg(test)] mod tests`
//!   at its end aside.
//!
//! Imports are read from the text: every `crate::…`, `super::…` and `self::…` path, in `use`
//! statements (braces expanded) and in code, resolved to the file that defines the module, and
//! through `pub use` re-exports to the file that defines the item. `.ci/run` runs this test on
//! its own as well as with the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The longest a source file may be, inline tests aside.
const MAX_LINES: usize = 450;

/// One source file of a crate.
struct SourceFile {
    path: PathBuf,
    /// The module path inside its crate (`""` for the crate root, `"a::b"` for `src/a/b.rs`).
    module: String,
    /// The text before an inline test module.
    code: String,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`; binaries under `src/bin/` are roots of their own.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its inline test module (which starts at a `#[cfg(test)]` line
/// followed by `mod …` at the left margin).
fn without_inline_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim_end() == "#[cfg(test)]" && w[1].starts_with("mod "))
        .unwrap_or(lines.len());
    lines[..end].join("\n")
}

/// The text with comments and string literals blanked, so paths in them are not read.
fn strip_comments_and_strings(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

/// Expands one `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    // `a::B as C` names `a::B`; the rename is marked with `@` before white space goes.
    let tree: String = tree
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" as ", "@")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let Some(open) = tree.find('{') else {
        return vec![tree.split('@').next().unwrap_or_default().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.is_empty())
        .flat_map(expand_use)
        .map(|p| {
            if p == "self" {
                prefix.trim_end_matches("::").to_owned()
            } else {
                format!("{prefix}{p}")
            }
        })
        .collect()
}

/// Every path the code names: the expanded `use` statements (with whether each is a `pub use`),
/// then the `crate::`/`super::` paths written in code.
fn paths_in(code: &str) -> (Vec<(bool, String)>, Vec<String>) {
    let mut uses = Vec::new();
    let mut rest = String::new();
    for statement in code.split_inclusive(';') {
        let trimmed = statement.trim_start();
        let body = trimmed
            .strip_prefix("pub use ")
            .map(|b| (true, b))
            .or_else(|| trimmed.strip_prefix("pub(crate) use ").map(|b| (true, b)))
            .or_else(|| trimmed.strip_prefix("use ").map(|b| (false, b)));
        match body {
            Some((public, body)) => {
                for path in expand_use(body.trim_end_matches(';')) {
                    uses.push((public, path));
                }
            }
            None => rest.push_str(statement),
        }
    }
    let mut inline = Vec::new();
    for (i, _) in rest.match_indices("crate::").chain(rest.match_indices("super::")) {
        let before = rest[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '$') {
            continue;
        }
        let path: String = rest[i..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        inline.push(path.trim_end_matches(':').to_owned());
    }
    (uses, inline)
}

/// A path as absolute segments from the crate root, or `None` for another crate's path.
fn absolute(module: &str, path: &str, children: &BTreeSet<String>) -> Option<Vec<String>> {
    let mut segments: Vec<String> = path.split("::").map(str::to_owned).collect();
    let mut base: Vec<String> = module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    match segments.first().map(String::as_str) {
        Some("crate") => {
            segments.remove(0);
            Some(segments)
        }
        Some("super") => {
            while segments.first().is_some_and(|s| s == "super") {
                segments.remove(0);
                base.pop();
            }
            base.extend(segments);
            Some(base)
        }
        Some("self") => {
            segments.remove(0);
            base.extend(segments);
            Some(base)
        }
        // A path that starts with a child module of this file (`pub use child::Item`).
        Some(first) if children.contains(first) => {
            base.extend(segments);
            Some(base)
        }
        _ => None,
    }
}

struct Crate {
    files: Vec<SourceFile>,
    /// Module → (re-exported name → the absolute path it re-exports).
    reexports: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Crate {
    fn load(dir: &Path) -> Self {
        let src = dir.join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let files: Vec<SourceFile> = paths
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("readable source");
                SourceFile {
                    module: module_of(&src, &path),
                    code: without_inline_tests(&text),
                    path,
                }
            })
            .collect();
        let mut krate = Self {
            files,
            reexports: BTreeMap::new(),
        };
        for file in &krate.files {
            let children = krate.children(&file.module);
            let (uses, _) = paths_in(&strip_comments_and_strings(&file.code));
            for (_, path) in uses.iter().filter(|(public, _)| *public) {
                if let Some(abs) = absolute(&file.module, path, &children)
                    && let Some(name) = abs.last()
                {
                    krate
                        .reexports
                        .entry(file.module.clone())
                        .or_default()
                        .insert(name.clone(), abs.clone());
                }
            }
        }
        krate
    }

    fn modules(&self) -> BTreeSet<String> {
        self.files.iter().map(|f| f.module.clone()).collect()
    }

    fn children(&self, module: &str) -> BTreeSet<String> {
        let prefix = if module.is_empty() {
            String::new()
        } else {
            format!("{module}::")
        };
        self.modules()
            .into_iter()
            .filter_map(|m| m.strip_prefix(&prefix).filter(|c| !c.contains("::")).map(str::to_owned))
            .filter(|c| !c.is_empty())
            .collect()
    }

    /// The module whose file defines what `abs` names, following re-exports.
    fn resolve(&self, abs: &[String], depth: usize) -> String {
        let modules = self.modules();
        let mut len = abs.len();
        while len > 0 && !modules.contains(&abs[..len].join("::")) {
            len -= 1;
        }
        let module = abs[..len].join("::");
        if depth < 8
            && let Some(name) = abs.get(len)
            && let Some(target) = self.reexports.get(&module).and_then(|r| r.get(name))
            && target.as_slice() != abs
        {
            let mut target = target.clone();
            target.extend(abs[len + 1..].iter().cloned());
            return self.resolve(&target, depth + 1);
        }
        module
    }

    /// File-level import edges: module → the modules it uses.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &self.files {
            let children = self.children(&file.module);
            let (uses, inline) = paths_in(&strip_comments_and_strings(&file.code));
            let targets = edges.entry(file.module.clone()).or_default();
            for path in uses.into_iter().map(|(_, p)| p).chain(inline) {
                if let Some(abs) = absolute(&file.module, &path, &children) {
                    let target = self.resolve(&abs, 0);
                    if target != file.module {
                        targets.insert(target);
                    }
                }
            }
        }
        edges
    }
}

/// The strongly connected components with more than one module (Tarjan).
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[w.as_str()].min(s.low[v]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w.as_str()) {
                let low = s.index[w.as_str()].min(s.low[v]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
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
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn no_crate_has_a_circle_of_imports_between_its_files() {
    let mut report = Vec::new();
    for dir in crates() {
        let krate = Crate::load(&dir);
        for circle in circles(&krate.edges()) {
            let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let shown: Vec<String> = circle
                .iter()
                .map(|m| {
                    if m.is_empty() {
                        "(crate root)".to_owned()
                    } else {
                        m.clone()
                    }
                })
                .collect();
            report.push(format!("{name}: {}", shown.join(" ↔ ")));
        }
    }
    assert!(report.is_empty(), "import circles:\n  {}", report.join("\n  "));
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let mut report = Vec::new();
    for dir in crates() {
        for file in Crate::load(&dir).files {
            let lines = file.code.lines().count();
            if lines > MAX_LINES {
                let shown = file.path.strip_prefix(workspace_root()).unwrap_or(&file.path);
                report.push(format!("{} ({lines} lines)", shown.display()));
            }
        }
    }
    assert!(
        report.is_empty(),
        "files over {MAX_LINES} lines (inline tests aside):\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn the_checks_see_a_circle_and_a_long_file() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned(), "d".to_owned()]));
    edges.insert("d".to_owned(), BTreeSet::new());
    assert_eq!(
        circles(&edges),
        vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]
    );
    assert_eq!(
        expand_use("crate::{a::{B, c::D as E}, e}"),
        vec!["crate::a::B", "crate::a::c::D", "crate::e"]
    );
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n}\n";
    assert_eq!(without_inline_tests(text).lines().count(), 1);
}

/// Prints the import edges of one crate (`STRUCTURE_CRATE=portcullis-http cargo test --test
/// structure -- --ignored --nocapture`), to see where a circle runs.
#[test]
#[ignore = "a tool for reading the graph, not a check"]
fn print_import_edges() {
    let name = std::env::var("STRUCTURE_CRATE").unwrap_or_else(|_| "portcullis-domain".to_owned());
    let krate = Crate::load(&workspace_root().join("crates").join(name));
    for (from, to) in krate.edges() {
        println!(
            "{} -> {}",
            if from.is_empty() { "(root)" } else { &from },
            to.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
}
