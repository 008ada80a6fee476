//! Invokes one benchmark extension in a loop, for profilers:
//! `valgrind --tool=callgrind target/release/examples/profile oneGetNoIntents2calls 100000`.

use extwasm_benches::{BENCHMARK_EXTENSIONS, root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Worker};

fn main() {
    let mut args = std::env::args().skip(1);
    let extension = args.next().unwrap_or_else(|| "oneGetNoIntents2calls".into());
    let iterations: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let Some(path) = tinygo_module("benchmarks-pkg.wasm") else {
        return;
    };
    // Few instances: valgrind cannot reserve the address space of 256.
    let engine = Engine::new(Config::default().max_instances(2)).expect("config is valid");
    let package = engine.load_package_file("bench", &path, &BENCHMARK_EXTENSIONS).expect("module loads");
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).expect("module instantiates");
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).expect("state loads");
    let mut intents = 0;
    for _ in 0..iterations {
        intents += worker.invoke("bench", &extension, &state).expect("invocation succeeds").intents().len();
    }
    println!("{iterations} invocations of {extension}, {intents} intents");
}
