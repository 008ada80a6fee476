//! Where the TinyGo reference modules are: `$EXTWASM_TINYGO_TESTDATA`, else
//! `../shared/reference/tinygo-testdata` beside the workspace. One copy,
//! included with `#[path]` by the engine's and the CLI's tests, the
//! benchmarks and xtask (each of those crates sits one folder below the
//! workspace root).
//!
//! A test that needs a module which is missing skips, saying so loudly;
//! under CI (`CI=true`) it fails instead: CI must run what it claims to.
#![allow(dead_code)]

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The folder of the TinyGo reference modules.
pub fn tinygo_testdata() -> PathBuf {
    std::env::var_os("EXTWASM_TINYGO_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference/tinygo-testdata"))
}

/// Whether this runs under CI (`CI=true`, as GitHub Actions, GitLab and
/// most CI services set it).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1")
}

/// `file` of the TinyGo reference modules, or `None` after saying loudly
/// that what needs it is skipped. Under CI a missing module fails the test.
pub fn tinygo_module(file: &str) -> Option<PathBuf> {
    let path = tinygo_testdata().join(file);
    if path.is_file() {
        return Some(path);
    }
    missing(&format!("TinyGo test module {}", path.display()));
    None
}

/// The bytes of `file` of the TinyGo reference modules, or `None` as
/// [`tinygo_module`] says.
pub fn tinygo_bytes(file: &str) -> Option<Vec<u8>> {
    let path = tinygo_module(file)?;
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    }
}

/// Says that `what` is missing and what needs it is skipped; under CI,
/// fails (panics) instead.
pub fn missing(what: &str) {
    let how = "set EXTWASM_TINYGO_TESTDATA or lay out ../shared/reference/tinygo-testdata beside the workspace";
    if under_ci() {
        panic!("{what} is missing, and CI=true: tests that need it fail rather than skip ({how})");
    }
    eprintln!("SKIPPED: {what} is missing ({how})");
}
