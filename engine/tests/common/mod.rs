//! Shared helpers of the engine's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use extwasm_engine::{Config, Engine, JsonState, Worker};
use serde_json::Value as Json;

pub mod restore_guest;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/reference/tinygo-testdata/<file>` next to the project, or
/// `None` after saying loudly why the test is skipped.
pub fn tinygo_module(file: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("EXTWASM_TINYGO_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/reference/tinygo-testdata"));
    let path = dir.join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: TinyGo test module {} is missing (set EXTWASM_TINYGO_TESTDATA or lay out ../shared/reference/tinygo-testdata)",
            path.display()
        );
        None
    }
}

/// A bundled state from `examples/states/`.
pub fn state(name: &str) -> JsonState {
    JsonState::from_path(root().join("examples/states").join(name)).expect("bundled state loads")
}

/// A worker with one package loaded from `path`.
pub fn worker_for(path: &std::path::Path, package: &str, extensions: &[&str], config: Config) -> Worker<JsonState> {
    let engine = Engine::new(config).expect("valid config");
    let package = engine.load_package_file(package, path, extensions).expect("package loads");
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).expect("package instantiates");
    worker
}

/// Invokes and returns the intents as JSON, or the error.
pub fn intents(
    worker: &mut Worker<JsonState>,
    package: &str,
    extension: &str,
    state: &JsonState,
) -> Result<Vec<Json>, extwasm_engine::Error> {
    let done = worker.invoke(package, extension, state)?;
    Ok(done.intents().map(|i| JsonState::intent_json(&i)).collect())
}
