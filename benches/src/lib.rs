//! Shared set-up of the criterion benchmarks in `benches/benches/`.

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A module of the TinyGo reference data, or `None` (with a message) when the
/// folder is absent.
pub fn tinygo_module(file: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("EXTWASM_TINYGO_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference/tinygo-testdata"));
    let path = dir.join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("SKIPPED: {} is missing", path.display());
        None
    }
}

/// The five benchmark extensions of the seed, in the order of its table.
pub const BENCHMARK_EXTENSIONS: [&str; 5] =
    ["doNothing", "oneKey1call", "oneGetNoIntents2calls", "oneGetLongStr3calls", "oneGetOneIntent5calls"];
