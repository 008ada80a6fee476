//! Restore time after filling memory to out-of-memory, for several
//! keep-resident sizes: `keep_resident PAGES`. Guides
//! `Config::keep_resident_bytes`; the criterion bench is the reference.

use std::time::Duration;

use extwasm_benches::{root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Worker};

fn main() {
    let pages: u32 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(32);
    let Some(path) = tinygo_module("allocs-pkg.wasm") else { return };
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).expect("state loads");
    for keep_kib in [0usize, 64, 256, 1024, 4096, 16384, 131072] {
        let config = Config::default()
            .memory_limit_pages(pages)
            .restore_threshold_pages(pages)
            .retry_out_of_memory(false)
            .keep_resident_bytes(keep_kib << 10);
        let engine = Engine::new(config).expect("valid config");
        let package = engine.load_package_file("allocs", &path, &["arrAppend2"]).expect("module loads");
        let mut worker = Worker::new(&engine);
        worker.add_package(&package).expect("module instantiates");
        let (mut restores, mut fills) = (Duration::ZERO, Duration::ZERO);
        let rounds = 20;
        for _ in 0..rounds {
            let started = std::time::Instant::now();
            while worker.invoke("allocs", "arrAppend2", &state).is_ok() {}
            let restore = worker.stats("allocs").expect("package present").last_restore;
            restores += restore;
            fills += started.elapsed() - restore;
        }
        println!(
            "{pages} pages, keep {keep_kib:>6} KiB: restore {:>9.1?}, fill {:>9.1?}",
            restores / rounds,
            fills / rounds
        );
    }
}
