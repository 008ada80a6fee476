//! Prints the memory size after each `arrAppend2` call at a limit, to choose
//! fill levels for the restore benchmark: `fill_levels 1600`.

use extwasm_benches::{root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Worker};

fn main() {
    let pages: u32 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(1600);
    let Some(path) = tinygo_module("allocs-pkg.wasm") else { return };
    let config = Config::default().memory_limit_pages(pages).restore_threshold_pages(pages).retry_out_of_memory(false);
    let engine = Engine::new(config).expect("valid config");
    let package = engine.load_package_file("allocs", &path, &["arrAppend2"]).expect("module loads");
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).expect("module instantiates");
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).expect("state loads");
    for call in 1.. {
        let outcome = worker.invoke("allocs", "arrAppend2", &state).map(|_| ()).map_err(|e| e.kind());
        let pages_now = worker.memory_bytes("allocs").unwrap_or(0) / 65_536;
        println!("call {call}: {outcome:?}, {pages_now} pages");
        if outcome.is_err() {
            break;
        }
    }
}
