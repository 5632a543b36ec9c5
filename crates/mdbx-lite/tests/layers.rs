//! The crate's layers, as `docs/design.md` states them, checked against the sources:
//! a module may name (`crate::x`, directly or through a re-export at the crate root)
//! only the layers below its own, its unit tests included, and the lower half of the
//! transaction layer never names the tree.

use std::fs;
use std::path::Path;

/// Top to bottom. `error` is used by every layer.
const LAYERS: [&str; 7] = ["tools", "api", "txn", "tree", "storage", "format", "os"];

/// Modules of `txn/` below the tree: they must not name `crate::tree`.
const TXN_BELOW_TREE: [&str; 6] = [
    "horizon.rs",
    "dirty.rs",
    "page_slab.rs",
    "alloc.rs",
    "file.rs",
    "pager.rs",
];

/// Names `lib.rs` re-exports at the crate root, by the layer that defines them.
const ROOT_NAMES: [(&str, &str); 22] = [
    ("io", "os"),
    ("Env", "api"),
    ("EnvBuilder", "api"),
    ("Durability", "api"),
    ("lock_path", "api"),
    ("PutFlags", "api"),
    ("ReadTable", "api"),
    ("ReadTxn", "api"),
    ("TableMut", "api"),
    ("TableRead", "api"),
    ("TableStat", "api"),
    ("WriteTxn", "api"),
    ("CopyError", "tools"),
    ("EnvStat", "tools"),
    ("check", "tools"),
    ("dump", "tools"),
    ("inspect", "tools"),
    ("Cursor", "tree"),
    ("Entry", "tree"),
    ("Range", "tree"),
    ("ReaderInfo", "storage"),
    ("ReadAhead", "os"),
];

/// The layer a name after `crate::` belongs to: a layer folder, or a root re-export.
fn layer_of(name: &str) -> Option<usize> {
    let name = ROOT_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, layer)| *layer);
    LAYERS.iter().position(|l| *l == name)
}

/// The top-level names of `crate::` paths in the code of `text` (comments, where doc
/// links live, left out).
fn named_layers(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `use crate::{a, b}` names several.
        if name.is_empty() && rest.starts_with('{') {
            let end = rest.find('}').unwrap_or(rest.len());
            for part in rest[1..end].split(',') {
                let n: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                out.push(n);
            }
        } else {
            out.push(name);
        }
    }
    out
}

#[test]
fn every_module_names_only_layers_below_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    let mut wrong = Vec::new();
    for layer in LAYERS {
        let own = layer_of(layer).unwrap();
        for entry in fs::read_dir(src.join(layer)).unwrap() {
            let path = entry.unwrap().path();
            let text = fs::read_to_string(&path).unwrap();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for name in named_layers(&text) {
                if let Some(l) = layer_of(&name) {
                    if l < own {
                        wrong.push(format!("{layer}/{file} names crate::{name}, a layer above"));
                    }
                }
                if layer == "txn" && name == "tree" && TXN_BELOW_TREE.contains(&file.as_str()) {
                    wrong.push(format!("txn/{file} names crate::tree"));
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} modules found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_checker_sees_an_upward_name() {
    assert_eq!(named_layers("use crate::api::env::Env;"), ["api"]);
    assert_eq!(
        named_layers("use crate::{Durability, Env};"),
        ["Durability", "Env"]
    );
    assert_eq!(layer_of("Env"), layer_of("api"));
    assert_eq!(
        named_layers("/// [`crate::Env`]\nfn f() {}"),
        Vec::<String>::new()
    );
    assert_eq!(
        named_layers("use crate::{error::Error, tree::btree};"),
        ["error", "tree"]
    );
    assert_eq!(named_layers("no paths here"), Vec::<String>::new());
}
