//! Cold and cached package loads, for the README's cache table:
//! `cargo run --release -p extwasm-benches --example cache_load [RUNS]`.
//!
//! For each module: the load without a cache (compile, validate,
//! pre-initialise: what every start paid before the cache), the load that
//! fills an empty cache (the same plus writing the entry), and the load
//! from the cache, each in a new engine (as a new process would have),
//! engine creation not counted. Medians of RUNS (default 5).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use extwasm_benches::tinygo_module;
use extwasm_engine::{CacheStatus, Config, Engine};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The load time of `wasm` in a new engine with `cache`, checked to have
/// the status expected.
fn load(wasm: &[u8], extensions: &[&str], cache: Option<&PathBuf>, expected: CacheStatus) -> Duration {
    let engine = Engine::new(Config::default().cache_dir(cache.cloned())).expect("valid config");
    let started = Instant::now();
    let package = engine.load_package("p", wasm, extensions).expect("module loads");
    let took = started.elapsed();
    assert_eq!(package.cache_status(), expected);
    assert_eq!(package.warnings(), []);
    took
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut modules: Vec<(String, Vec<u8>, &[&str])> = Vec::new();
    for (file, extensions) in [
        ("benchmarks-pkg.wasm", &extwasm_benches::BENCHMARK_EXTENSIONS[..]),
        ("basicusage-pkg.wasm", &["NewOrder", "CalcOrderedItems"][..]),
    ] {
        if let Some(path) = tinygo_module(file) {
            modules.push((format!("TinyGo {file}"), std::fs::read(path).expect("module reads"), extensions));
        }
    }
    for module in [extwasm_go_examples::BENCHMARKS, extwasm_go_examples::BASICUSAGE] {
        if !extwasm_go_examples::skipped("the Go examples") {
            modules.push((format!("standard Go examples/go/{}", module.name), module.wasm.to_vec(), module.extensions));
        }
    }
    let dir = std::env::temp_dir().join(format!("extwasm-cache-load-{}", std::process::id()));
    println!("| module | size | no cache | filling the cache | from the cache | cached / no cache |");
    println!("|---|---|---|---|---|---|");
    for (name, wasm, extensions) in &modules {
        let off: Vec<_> = (0..runs).map(|_| load(wasm, extensions, None, CacheStatus::Off)).collect();
        let fill: Vec<_> = (0..runs)
            .map(|_| {
                let _ = std::fs::remove_dir_all(&dir);
                load(wasm, extensions, Some(&dir), CacheStatus::Miss)
            })
            .collect();
        let hit: Vec<_> = (0..runs).map(|_| load(wasm, extensions, Some(&dir), CacheStatus::Hit)).collect();
        let (off, fill, hit) = (median(off), median(fill), median(hit));
        println!(
            "| {name} | {} KiB | {:.1} ms | {:.1} ms | **{:.2} ms** | {:.1} % |",
            wasm.len() / 1024,
            off.as_secs_f64() * 1e3,
            fill.as_secs_f64() * 1e3,
            hit.as_secs_f64() * 1e3,
            hit.as_secs_f64() / off.as_secs_f64() * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
