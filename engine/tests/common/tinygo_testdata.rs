//! Where the TinyGo reference modules are: `$EXTWASM_TINYGO_TESTDATA`, else
//! `../shared/reference/tinygo-testdata` beside the workspace. One copy,
//! included with `#[path]` by the engine's and the CLI's tests, the
//! benchmarks and xtask (each of those crates sits one folder below the
//! workspace root).
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

/// `file` of the TinyGo reference modules, or `None` after saying loudly
/// that what needs it is skipped.
pub fn tinygo_module(file: &str) -> Option<PathBuf> {
    let path = tinygo_testdata().join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: TinyGo test module {} is missing (set EXTWASM_TINYGO_TESTDATA or lay out \
             ../shared/reference/tinygo-testdata)",
            path.display()
        );
        None
    }
}
