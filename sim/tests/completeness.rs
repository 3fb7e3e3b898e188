//! A family cannot land half-surfaced: every protocol participant in core
//! (every top-level `impl Participant for T` under `core/src/<family>/`)
//! has each row of the adding-a-family checklist in ARCHITECTURE.md, or a
//! documented reason in [`EXEMPT`] why not yet.
//!
//! The rows checked, by reading the sources as text:
//!
//! - core: `impl Restore for T` (one restore shape);
//! - simulator: `sim/src/protocols/<family>.rs` adapts it (`type Node = T`);
//! - fuzz: `fuzz/src/<family>` drives it, and `fuzz/fuzz_targets/` has the
//!   family's decode target and a structured one;
//! - C: `ffi/src/<family>.rs` implements `Surface` for it;
//! - Python: `python/src/<family>.rs` implements `Outputs` for it, a class
//!   holds it, and `_native.pyi` stubs that class;
//! - docs: `docs/<family>.md`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Rows a participant may lack, and why. Every entry names an open issue
/// or says where the row is covered instead; a stale entry fails the test.
const EXEMPT: &[(&str, &str, &str)] = &[(
    "RaftNode",
    "sim",
    "simulated inside KvNode: `consensio check raft` drives the key-value store over a RaftNode",
)];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Every `.rs` file under `dir`, recursively, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = read(&path);
            found.push((path, text));
        }
    }
    found.sort();
    found
}

/// The type named after `keyword for ` on a line that starts with `impl`
/// (top level: not indented, so test modules and doc examples do not count).
fn implemented(text: &str, trait_name: &str) -> BTreeSet<String> {
    let marker = format!("{trait_name} for ");
    text.lines()
        .filter(|line| line.starts_with("impl"))
        .filter_map(|line| line.split_once(&marker).map(|(_, rest)| rest))
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// The participants in core: (family, type).
fn participants() -> Vec<(String, String)> {
    let core = root().join("core/src");
    let mut found = Vec::new();
    for (path, text) in sources(&core) {
        let Ok(relative) = path.strip_prefix(&core) else {
            continue;
        };
        let mut parts = relative.components();
        let (Some(family), Some(_)) = (parts.next(), parts.next()) else {
            continue; // a file at the top of core/src is not a family
        };
        let family = family.as_os_str().to_string_lossy().into_owned();
        for ty in implemented(&text, "Participant") {
            found.push((family.clone(), ty));
        }
    }
    found
}

/// Whether `text` names `word` as a whole identifier.
fn names(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// The name a surface file gives `ty` (`use ...::{T as CoreT}`), or `ty`.
fn alias(text: &str, ty: &str) -> String {
    let marker = format!("{ty} as ");
    text.match_indices(&marker)
        .find(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, _)| {
            text[i + marker.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .unwrap_or_else(|| ty.to_string())
}

/// Whether a surface file implements `trait_name` for `ty`, directly or in
/// a macro invocation listing it (`election_surface!(Bully, RingElection)`).
fn surfaces(text: &str, trait_name: &str, ty: &str) -> bool {
    if implemented(text, trait_name).contains(ty) {
        return true;
    }
    text.lines()
        .filter(|line| line.contains("!(") && !line.trim_start().starts_with("//"))
        .any(|line| names(line, ty) && line.trim_end().ends_with(");"))
}

/// The rows `ty` of `family` lacks.
fn missing_rows(family: &str, ty: &str) -> Vec<&'static str> {
    let root = root();
    let mut missing = Vec::new();

    let core: String = sources(&root.join("core/src"))
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    if !implemented(&core, "Restore").contains(ty) {
        missing.push("restore");
    }

    let sim = read(&root.join(format!("sim/src/protocols/{family}.rs")));
    // `type Node = T;` in the adapter, or through an alias (`pub type
    // Node = T<...>;` and `type Node = Node;`).
    let adapted = sim.lines().any(|l| {
        let l = l.trim_start();
        (l.starts_with("type Node") || l.starts_with("pub type Node")) && names(l, ty)
    });
    if !adapted {
        missing.push("sim");
    }

    let mut fuzz: String = read(&root.join(format!("fuzz/src/{family}.rs")));
    for (_, text) in sources(&root.join(format!("fuzz/src/{family}"))) {
        fuzz.push_str(&text);
    }
    let targets: Vec<String> = fs::read_dir(root.join("fuzz/fuzz_targets"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("{family}_")))
                .collect()
        })
        .unwrap_or_default();
    let decode = targets.iter().any(|t| *t == format!("{family}_decode.rs"));
    let structured = targets.iter().any(|t| *t != format!("{family}_decode.rs"));
    if !names(&fuzz, ty) || !decode || !structured {
        missing.push("fuzz");
    }

    let c = read(&root.join(format!("ffi/src/{family}.rs")));
    if !surfaces(&c, "Surface", ty) {
        missing.push("c");
    }

    let py = read(&root.join(format!("python/src/{family}.rs")));
    let py_ty = alias(&py, ty);
    let holder = py.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("node: Node<")?;
        names(rest, &py_ty).then_some(())
    });
    let class = holder.and_then(|()| {
        // The struct that holds the node: the last `struct` before it.
        let at = py.find(&format!("node: Node<{py_ty}"))?;
        let head = &py[..at];
        let start = head.rfind("struct ")? + "struct ".len();
        Some(
            head[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>(),
        )
    });
    let stubs = read(&root.join("python/consensio/_native.pyi"));
    let stubbed = class.as_ref().is_some_and(|name| {
        stubs.contains(&format!("class {name}:")) || stubs.contains(&format!("class {name}("))
    });
    if !surfaces(&py, "Outputs", &py_ty) || !stubbed {
        missing.push("python");
    }

    if !root.join(format!("docs/{family}.md")).is_file() {
        missing.push("docs");
    }
    missing
}

#[test]
fn every_participant_has_every_row_of_its_family() {
    let participants = participants();
    let types: BTreeSet<&str> = participants.iter().map(|(_, t)| t.as_str()).collect();
    for expected in [
        "Bully",
        "RingElection",
        "HeartbeatDetector",
        "PhiDetector",
        "RaftNode",
        "KvNode",
        "AntiEntropy",
    ] {
        assert!(
            types.contains(expected),
            "did not find {expected} in core: {types:?}"
        );
    }
    let mut gaps = Vec::new();
    let mut used = BTreeSet::new();
    for (family, ty) in &participants {
        for row in missing_rows(family, ty) {
            match EXEMPT.iter().find(|(t, r, _)| t == ty && *r == row) {
                Some(entry) => {
                    used.insert(*entry);
                }
                None => gaps.push(format!("{family}::{ty} lacks its {row} row")),
            }
        }
    }
    assert!(
        gaps.is_empty(),
        "participants half-surfaced (see ARCHITECTURE.md, 'Adding a protocol family'):\n  {}",
        gaps.join("\n  ")
    );
    let stale: Vec<_> = EXEMPT.iter().filter(|e| !used.contains(*e)).collect();
    assert!(stale.is_empty(), "exemptions no longer needed: {stale:?}");
}

#[test]
fn the_check_finds_a_missing_row() {
    // A participant that no surface knows lacks every row.
    let rows = missing_rows("election", "NoSuchParticipant");
    assert!(
        rows.starts_with(&["restore", "sim", "fuzz", "c", "python"]),
        "{rows:?}"
    );
    let rows = missing_rows("no_such_family", "Bully");
    assert_eq!(rows, ["sim", "fuzz", "c", "python", "docs"]);
}
