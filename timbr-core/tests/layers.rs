//! The layer rule of `lib.rs`, checked: every path a file in `src/` names through `crate::`,
//! `$crate::` or `super::` (in code, not in comments) must lead to its own layer or one below.
//!
//! The layers, lowest first: `error` and `unwind` (shared by all), `datum`, `io`, `observe`,
//! `machine`, and the crate root (`lib.rs`, `prelude.rs`), which ties them together. A root
//! re-export (`crate::Record`) counts as the layer it is re-exported from.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first; a file may name its own layer and those before it.
const LAYERS: [&str; 5] = ["base", "datum", "io", "observe", "machine"];
/// The modules of the root that every layer shares.
const BASE: [&str; 2] = ["error", "unwind"];
/// What stands above every layer.
const TOP: &str = "root";

fn rank(layer: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| *l == layer)
        .unwrap_or(LAYERS.len())
}

/// What one name leads to: a layer, something outside the crate, or nothing known.
#[derive(Debug, PartialEq)]
enum Target {
    Layer(String),
    External,
    Unknown,
}

/// Every path of a use tree (or a plain path) starting at `text`, as its segments.
fn paths(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut pos = 0;
    tree(&chars, &mut pos, Vec::new(), &mut out);
    out
}

fn skip_ws(chars: &[char], pos: &mut usize) {
    while *pos < chars.len() && chars[*pos].is_whitespace() {
        *pos += 1;
    }
}

fn tree(chars: &[char], pos: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    skip_ws(chars, pos);
    match chars.get(*pos) {
        Some('{') => {
            *pos += 1;
            // Bounded by the text: every turn consumes at least one character.
            while *pos < chars.len() {
                skip_ws(chars, pos);
                if chars.get(*pos) == Some(&'}') {
                    break;
                }
                let before = *pos;
                tree(chars, pos, prefix.clone(), out);
                // Skip what follows a path (`as Name`) up to the next item.
                while *pos < chars.len() && !matches!(chars[*pos], ',' | '}') {
                    *pos += 1;
                }
                if chars.get(*pos) == Some(&',') {
                    *pos += 1;
                }
                if *pos == before {
                    *pos += 1;
                }
            }
            *pos += 1;
        }
        Some('*') => {
            *pos += 1;
            out.push(prefix);
        }
        _ => {
            let start = *pos;
            while *pos < chars.len() && (chars[*pos].is_alphanumeric() || chars[*pos] == '_') {
                *pos += 1;
            }
            let mut path = prefix;
            if *pos > start {
                path.push(chars[start..*pos].iter().collect());
            }
            if chars[*pos..].starts_with(&[':', ':']) {
                *pos += 2;
                tree(chars, pos, path, out);
            } else if !path.is_empty() {
                out.push(path);
            }
        }
    }
}

/// The code of a file without its comments (doc links may name any layer).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The layer a file of `src/` belongs to, and its module path.
fn layer_of(relative: &Path) -> (String, Vec<String>) {
    let mut module: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if module
        .last()
        .is_some_and(|last| last == "mod" || last == "lib")
    {
        module.pop();
    }
    let layer = match module.first().map(String::as_str) {
        None | Some("prelude" | "glue") => TOP.to_owned(),
        Some(first) if BASE.contains(&first) => "base".to_owned(),
        Some(first) => first.to_owned(),
    };
    (layer, module)
}

/// The root's names: what each re-export of `lib.rs` leads to.
fn root_names(lib: &str) -> HashMap<String, Target> {
    let mut names = HashMap::new();
    let lib = code(lib);
    for (at, _) in lib.match_indices("pub use ") {
        let rest = &lib[at + "pub use ".len()..];
        let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
        let alias = statement.split(" as ").nth(1).map(str::trim);
        for path in paths(statement) {
            let name = alias.map_or_else(|| path.last().unwrap().clone(), str::to_owned);
            let target = if path[0] == "crate" {
                resolve_module(&path[1])
            } else {
                Target::External
            };
            names.insert(name, target);
        }
    }
    names
}

/// What the first segment after `crate::` leads to, if it is a module of the root.
fn resolve_module(first: &str) -> Target {
    match first {
        m if BASE.contains(&m) => Target::Layer("base".to_owned()),
        m if LAYERS.contains(&m) => Target::Layer(m.to_owned()),
        "prelude" | "glue" | "__private" => Target::Layer(TOP.to_owned()),
        _ => Target::Unknown,
    }
}

fn resolve(first: &str, roots: &HashMap<String, Target>) -> Target {
    match resolve_module(first) {
        Target::Unknown => match roots.get(first) {
            Some(Target::Layer(l)) => Target::Layer(l.clone()),
            Some(Target::External) => Target::External,
            _ => Target::Unknown,
        },
        known => known,
    }
}

/// The first segment of every path starting at `text`, each once.
fn firsts(text: &str) -> Vec<String> {
    let mut firsts: Vec<String> = paths(text)
        .into_iter()
        .filter_map(|p| p.first().cloned())
        .collect();
    firsts.sort();
    firsts.dedup();
    firsts
}

/// How many inline modules (`mod tests { … }`) are open at the end of `code`.
fn inline_mods(code: &str) -> usize {
    let chars: Vec<char> = code.chars().collect();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut depth = 0_usize;
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                open.retain(|d| *d < depth);
            }
            'm' if chars[i..].starts_with(&['m', 'o', 'd', ' '])
                && (i == 0 || !ident(chars[i - 1])) =>
            {
                // `mod name {`: the module's body is one level deeper than here.
                let mut j = i + 4;
                while j < chars.len() && ident(chars[j]) {
                    j += 1;
                }
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&'{') {
                    open.push(depth);
                    depth += 1;
                    i = j;
                }
            }
            _ => {}
        }
        i += 1;
    }
    open.len()
}

/// Every edge of one file that breaks the rule, as a line of the report.
fn broken_edges(relative: &Path, text: &str, roots: &HashMap<String, Target>) -> Vec<String> {
    let (layer, module) = layer_of(relative);
    let code = code(text);
    let mut broken = Vec::new();
    for (at, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `timbr_core::…`, or a `super::` after another `super::`
        }
        let (targets, shown): (Vec<String>, &str) = if code[at..].starts_with("crate::") {
            let rest = &code[at + "crate::".len()..];
            (firsts(rest), rest)
        } else {
            let mut rest = &code[at..];
            let mut up = 0;
            while let Some(r) = rest.strip_prefix("super::") {
                rest = r;
                up += 1;
            }
            let remaining = (module.len() + inline_mods(&code[..at])).saturating_sub(up);
            if remaining > 0 {
                continue; // still inside the file's own layer
            }
            (firsts(rest), rest)
        };
        let line = code[..at].lines().count().max(1);
        let written: String = shown
            .chars()
            .take_while(|c| *c != ';' && *c != '\n')
            .collect();
        for first in targets {
            match resolve(&first, roots) {
                Target::External => {}
                Target::Unknown => broken.push(format!(
                    "{}:{line}: `{first}` (in `{written}`) is no module or root name of the crate",
                    relative.display()
                )),
                Target::Layer(target) => {
                    let allowed = layer == TOP || target == layer || rank(&target) < rank(&layer);
                    if !allowed {
                        broken.push(format!(
                            "{}:{line}: {layer} → {target} through `{first}` (in `{written}`)",
                            relative.display()
                        ));
                    }
                }
            }
        }
    }
    broken
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_layer_knows_only_what_is_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let roots = root_names(&fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let broken: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let text = fs::read_to_string(file).unwrap();
            broken_edges(file.strip_prefix(&src).unwrap(), &text, &roots)
        })
        .collect();
    assert!(
        broken.is_empty(),
        "edges that break the layer rule (lowest first: {}, then the root):\n{}",
        LAYERS.join(" < "),
        broken.join("\n")
    );
}

#[test]
fn the_check_sees_every_kind_of_path() {
    let roots = root_names(
        "pub use crate::{datum::{Record}, observe::{Event}, machine::Machine};\n\
         pub use bson;\npub use timbr_sched as sched;",
    );
    assert_eq!(roots["Machine"], Target::Layer("machine".into()));
    assert_eq!(roots["sched"], Target::External);
    let file = Path::new("datum/failure.rs");
    let edges = |text: &str| broken_edges(file, text, &roots);
    // Allowed: its own layer, the base, outside crates, super within the layer, comments.
    assert!(edges("use crate::datum::record::X;\nuse crate::{error::E, Record};").is_empty());
    assert!(edges("use super::key::ArgKey;\nuse crate::bson::oid;").is_empty());
    assert!(edges("/// [`Machine`](crate::Machine)\nfn f() {} // crate::Machine").is_empty());
    // Broken: a root name of a higher layer, a layer path, a nested group, a plain path,
    // `super::super::` out of the layer, a name the crate does not have.
    for bad in [
        "use crate::{Event, Record};",
        "use crate::observe::status::Timestamp;",
        "use crate::{datum::X, observe::{a::B, C}};",
        "let e: crate::Event = todo!();",
        "use super::super::machine::Machine;",
        "use crate::Nothing;",
    ] {
        assert_eq!(edges(bad).len(), 1, "{bad}: {:?}", edges(bad));
    }
    // The rule applies to io, and observe may see io but not the reverse.
    let io = Path::new("io/sink/zmq.rs");
    assert_eq!(
        broken_edges(io, "use crate::{Event, Record};", &roots).len(),
        1
    );
    let roots_io = root_names("pub use crate::io::QueueEvent;");
    let observe = Path::new("observe/event.rs");
    assert!(broken_edges(observe, "use crate::QueueEvent;", &roots_io).is_empty());
}
