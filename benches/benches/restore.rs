//! Restoring an instance to its snapshot, after the seed's cases
//! (`allocs-pkg.wasm`, TinyGo `-gc=leaking`), and what a restore costs the
//! invocations around it.
//!
//! Each `restore/*` sample is the engine's own restore as the worker waits
//! for it, after the guest dirtied memory as the case says; the dirtying is
//! not timed. After a fill the old instance is reset on the reclaimer thread
//! (`reclaim/*`); `restore-inline/*` does it all on the worker.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use extwasm_benches::{root, tinygo_module};
use extwasm_engine::{Config, Engine, Isolation, JsonState, Worker};

const PACKAGE: &str = "allocs";

fn load(config: Config, module: &str, extensions: &[&str]) -> Option<Worker<JsonState>> {
    let path = tinygo_module(module)?;
    let engine = Engine::new(config).unwrap();
    let package = engine.load_package_file(PACKAGE, &path, extensions).unwrap();
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    Some(worker)
}

fn state() -> JsonState {
    JsonState::from_path(root().join("examples/states/benchmarks.json")).unwrap()
}

/// A config whose instance is only restored when the bench says so.
fn manual(pages: u32) -> Config {
    Config::default().memory_limit_pages(pages).restore_threshold_pages(pages).retry_out_of_memory(false)
}

/// Restore after `simple` (nothing dirtied but the stack).
fn after_small_invocation(c: &mut Criterion, name: &str, config: Config) {
    let Some(mut worker) = load(config, "allocs-pkg.wasm", &["simple"]) else { return };
    let state = state();
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                worker.invoke(PACKAGE, "simple", &state).unwrap();
                let started = Instant::now();
                worker.restore(PACKAGE).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
}

/// Fill with `arrAppend2` until it runs out of memory; the failed invocation
/// restores the instance itself. Three measurements per case:
/// - `restore/…`: what the worker waits for (by default a spare instance is
///   swapped in and the old one reset on the reclaimer thread);
/// - `reclaim/…`: what the reclaimer spends per such restore (reset the old
///   instance, instantiate the next spare), off the worker's thread;
/// - `restore-inline/…`: the whole restore on the worker
///   (`background_restore_above(None)`).
fn after_out_of_memory(c: &mut Criterion, name: &str, pages: u32) {
    let state = state();
    let fill = |worker: &mut Worker<JsonState>| while worker.invoke(PACKAGE, "arrAppend2", &state).is_ok() {};
    // Sums what the worker waited for, restore after restore.
    let worker_waits = |c: &mut Criterion, group: &str, worker: &mut Worker<JsonState>| {
        let mut group = c.benchmark_group(group);
        group.sample_size(10);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    fill(worker);
                    total += worker.stats(PACKAGE).unwrap().last_restore;
                }
                total
            })
        });
        group.finish();
    };

    let Some(mut worker) = load(manual(pages), "allocs-pkg.wasm", &["arrAppend2"]) else { return };
    worker_waits(c, "restore", &mut worker);
    let mut group = c.benchmark_group("reclaim");
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let before = worker.stats(PACKAGE).unwrap().clone();
            for _ in 0..iters {
                fill(&mut worker);
            }
            let after = worker.stats(PACKAGE).unwrap();
            let reclaims = (after.background_restores - before.background_restores).max(1);
            (after.total_reclaim - before.total_reclaim) * iters as u32 / reclaims as u32
        })
    });
    group.finish();

    let inline = manual(pages).background_restore_above(None);
    let Some(mut worker) = load(inline, "allocs-pkg.wasm", &["arrAppend2"]) else { return };
    worker_waits(c, "restore-inline", &mut worker);
}

fn restore(c: &mut Criterion) {
    after_small_invocation(c, "restore/2MiB-1%", manual(32).exchange_buffer_bytes(20_000));
    after_small_invocation(c, "restore/2MiB-50%", manual(32).exchange_buffer_bytes(1_000_000));
    after_out_of_memory(c, "2MiB-filled", 32);
    after_out_of_memory(c, "8MiB-filled", 128);
    // arrAppend2 grows the heap to 1024 of 1600 pages (64 %), then its next
    // slice doubling asks for 2048 (`cargo run --example fill_levels 1600`).
    after_out_of_memory(c, "100MiB-filled-64%", 1600);
    after_small_invocation(c, "restore/4GiB-limit-small", manual(65_535).max_instances(8));
}

/// An invocation right after a restore, and `fresh` isolation, where every
/// invocation includes one.
fn around(c: &mut Criterion) {
    let Some(mut worker) = load(manual(32), "benchmarks-pkg.wasm", &["doNothing"]) else { return };
    let state = state();
    c.bench_function("invoke-after-restore/doNothing", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                worker.restore(PACKAGE).unwrap();
                let started = Instant::now();
                black_box(worker.invoke(PACKAGE, "doNothing", &state).unwrap().intents().len());
                total += started.elapsed();
            }
            total
        })
    });
    let fresh = Config::default().isolation(Isolation::Fresh);
    let Some(mut fresh) = load(fresh, "benchmarks-pkg.wasm", &["doNothing"]) else { return };
    c.bench_function("fresh/doNothing", |b| {
        b.iter(|| black_box(fresh.invoke(PACKAGE, "doNothing", &state).unwrap().intents().len()))
    });
    // The same extension built with the Rust SDK and with standard Go: a
    // fresh invocation resets what the guest's runtime writes per call.
    let builds = [
        ("fresh-rust/doNothing", Some(extwasm_rust_examples::BENCHMARKS.wasm)),
        ("fresh-go/doNothing", {
            (!extwasm_go_examples::skipped("the fresh-go benchmark")).then_some(extwasm_go_examples::BENCHMARKS.wasm)
        }),
    ];
    for (name, wasm) in builds {
        let Some(wasm) = wasm else { continue };
        let engine = Engine::new(Config::default().isolation(Isolation::Fresh)).unwrap();
        let package = engine.load_package(PACKAGE, wasm, &["doNothing"]).unwrap();
        let mut worker = Worker::new(&engine);
        worker.add_package(&package).unwrap();
        c.bench_function(name, |b| {
            b.iter(|| black_box(worker.invoke(PACKAGE, "doNothing", &state).unwrap().intents().len()))
        });
    }
}

criterion_group!(benches, restore, around);
criterion_main!(benches);
