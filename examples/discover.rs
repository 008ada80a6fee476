//! The example extensions, found from their folders rather than listed by
//! hand, and the rule that each has a test. One copy, included with
//! `#[path]` by the build scripts of `examples/rust` and `examples/go`
//! (which build every example to wasm) and by xtask (which lints the Rust
//! ones for wasm).
//!
//! - A **Rust example** is a folder `examples/rust/NAME/` with a
//!   `Cargo.toml` (a workspace member: list it in the root `Cargo.toml`).
//!   It has a test when its `tests/` folder holds a `.rs` file, or a `.rs`
//!   file under its `src/` has a `#[test]`.
//! - A **Go example** is a folder `examples/go/NAME/` with a `main.go` (a
//!   `main` package of the Go module there). It has a test when the folder
//!   holds a `*_test.go` file.
//!
//! An example without a test is an error: [`rust_examples`] and
//! [`go_examples`] fail with a message naming it and saying what to add.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// One Rust example crate.
#[derive(Clone, Debug)]
pub struct RustExample {
    /// Its folder's name under `examples/rust/`.
    pub dir: String,
    /// Its package name (`[package] name` of its `Cargo.toml`).
    pub package: String,
}

impl RustExample {
    /// The file cargo builds for `wasm32-unknown-unknown` (a `cdylib`).
    pub fn wasm_file(&self) -> String {
        format!("{}.wasm", self.package.replace('-', "_"))
    }
}

/// The sub-folders of `dir` that hold `marker`, sorted by name.
fn folders_with(dir: &Path, marker: &str) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
        if path.join(marker).is_file() {
            let name = path.file_name().expect("an entry has a name").to_string_lossy().into_owned();
            found.push((name, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The `.rs` files under `dir`, at any depth.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files = Vec::new();
    for path in entries.flatten().map(|entry| entry.path()) {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// `[package] name` of a `Cargo.toml`.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            let Some((key, value)) = line.split_once('=') else { continue };
            if key.trim() == "name" {
                return Some(value.trim().trim_matches('"').to_owned());
            }
        }
    }
    None
}

/// The Rust examples under `examples_rust` (the folder `examples/rust`), or
/// what is wrong with them: a manifest without a package name, an example
/// without a test, or no example at all.
pub fn rust_examples(examples_rust: &Path) -> Result<Vec<RustExample>, String> {
    let mut examples = Vec::new();
    let mut untested = Vec::new();
    for (dir, path) in folders_with(examples_rust, "Cargo.toml")? {
        let manifest_path = path.join("Cargo.toml");
        let manifest =
            fs::read_to_string(&manifest_path).map_err(|e| format!("cannot read {}: {e}", manifest_path.display()))?;
        let package =
            package_name(&manifest).ok_or_else(|| format!("{} has no [package] name", manifest_path.display()))?;
        let integration_test = rust_files(&path.join("tests")).into_iter().next().is_some();
        let unit_test = || {
            rust_files(&path.join("src"))
                .iter()
                .any(|file| fs::read_to_string(file).is_ok_and(|s| s.contains("#[test]")))
        };
        if !integration_test && !unit_test() {
            untested.push(format!("examples/rust/{dir}"));
        }
        examples.push(RustExample { dir, package });
    }
    if !untested.is_empty() {
        return Err(format!(
            "example without a test: {}. Every Rust example is tested natively: add a `#[test]` under its \
             src/ (against extwasm_guest_sdk::testing::MockHost) or a tests/*.rs file; see examples/rust/README.md",
            untested.join(", ")
        ));
    }
    if examples.is_empty() {
        return Err(format!("no Rust example (a folder with a Cargo.toml) in {}", examples_rust.display()));
    }
    Ok(examples)
}

/// The folder names of the Go examples under `examples_go` (the folder
/// `examples/go`), or what is wrong with them: an example without a test, or
/// no example at all.
pub fn go_examples(examples_go: &Path) -> Result<Vec<String>, String> {
    let mut examples = Vec::new();
    let mut untested = Vec::new();
    for (dir, path) in folders_with(examples_go, "main.go")? {
        let entries = fs::read_dir(&path).map_err(|e| format!("cannot list {}: {e}", path.display()))?;
        let tested = entries.flatten().any(|entry| entry.file_name().to_string_lossy().ends_with("_test.go"));
        if !tested {
            untested.push(format!("examples/go/{dir}"));
        }
        examples.push(dir);
    }
    if !untested.is_empty() {
        return Err(format!(
            "example without a test: {}. Every Go example is tested natively with `go test`: add a *_test.go \
             file to its folder (the table's scenarios, as conformance_test.go runs them, or your own tests \
             on exttest's mock host); see examples/go/README.md",
            untested.join(", ")
        ));
    }
    if examples.is_empty() {
        return Err(format!("no Go example (a folder with a main.go) in {}", examples_go.display()));
    }
    Ok(examples)
}
