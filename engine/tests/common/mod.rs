//! Shared helpers of the engine's integration tests.
#![allow(dead_code)]

use extwasm_engine::{Config, Engine, JsonState, Worker};
use serde_json::Value as Json;

pub mod restore_guest;
pub mod tinygo_testdata;

// Not every test binary uses both.
#[allow(unused_imports)]
pub use tinygo_testdata::{root, tinygo_module};

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
