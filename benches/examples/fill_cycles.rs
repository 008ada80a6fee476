//! Fills an instance with `arrAppend2` until it runs out of memory, cycle
//! after cycle, and prints what each fill and restore cost and how much of
//! the process's memory is on huge pages: `fill_cycles 128 [inline]`
//! (the memory limit in pages; `inline` restores on the worker only).

use std::time::Instant;

use extwasm_benches::{root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Worker};

/// `AnonHugePages` and `Rss` of this process, from `/proc/self/smaps_rollup`.
fn memory() -> String {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let field = |name: &str| {
        rollup.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    format!("rss {}, huge {}", field("Rss:").unwrap_or_default(), field("AnonHugePages:").unwrap_or_default())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pages: u32 = args.next().and_then(|p| p.parse().ok()).unwrap_or(128);
    let inline = args.next().as_deref() == Some("inline");
    let Some(path) = tinygo_module("allocs-pkg.wasm") else { return };
    let mut config =
        Config::default().memory_limit_pages(pages).restore_threshold_pages(pages).retry_out_of_memory(false);
    if inline {
        config = config.background_restore_above(None);
    }
    let engine = Engine::new(config).expect("valid config");
    let package = engine.load_package_file("allocs", &path, &["arrAppend2"]).expect("module loads");
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).expect("module instantiates");
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).expect("state loads");
    for cycle in 0..10 {
        let started = Instant::now();
        let mut calls = 0;
        let mut full = String::new();
        while worker.invoke("allocs", "arrAppend2", &state).is_ok() {
            calls += 1;
            full = memory();
        }
        let stats = worker.stats("allocs").expect("the package is in the worker");
        println!(
            "cycle {cycle}: {calls} calls filled memory in {:?} ({full}); restore {:?} on the worker, \
             {} in the background so far, last reclaim {:?}",
            started.elapsed(),
            stats.last_restore,
            stats.background_restores,
            stats.last_reclaim
        );
    }
}
