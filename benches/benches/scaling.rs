//! Pool throughput over 1…N threads (`extwasm_pool::Pool`), N = twice the
//! CPUs (at least 4), so the table shows oversubscription too.
//!
//! One caller keeps up to 64 invocations per thread in flight and collects
//! them half a window at a time (as `extwasm bench` does) and criterion times batches of them, so the figure is
//! invocations per second through the whole pool: queueing, the hand-over
//! to a pool thread, the invocation, the reply.
//!
//! - `pool-scaling/work-20us/N`: an extension that computes for ≈ 20 µs (a
//!   loop in wasm, no host calls): the pool's overhead is small beside it,
//!   so this shows how the threads scale.
//! - `pool-scaling/oneGetOneIntent5calls/N`: the seed's heaviest benchmark
//!   extension (≈ 150 ns on a worker): the pool's own cost per invocation
//!   (allocating the job and its reply, two queue hand-overs) dominates,
//!   and the single caller thread competes with the pool threads for CPUs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use extwasm_benches::{root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Package};
use extwasm_pool::{Pool, PoolConfig};

const IN_FLIGHT_PER_THREAD: usize = 64;
const BATCH: usize = 2048;

/// An extension that loops `iterations` times over integer arithmetic.
fn work_module(iterations: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") 1)
  (global $sink (mut i32) (i32.const 0))
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "work") (local $i i32) (local $x i32)
    (local.set $x (i32.const 1))
    (loop $again
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 1664525)) (i32.const 1013904223)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const {iterations}))))
    (global.set $sink (local.get $x))))"#
    )
}

/// Invokes `extension` BATCH times through `pool`, `in_flight` at a time.
fn batch(pool: &Pool<JsonState>, package: &str, extension: &str, state: &Arc<JsonState>, in_flight: usize) {
    let mut pending: VecDeque<extwasm_pool::Pending<()>> = VecDeque::with_capacity(in_flight);
    for _ in 0..BATCH {
        if pending.len() == in_flight {
            // As `extwasm bench`: the middle one, then the older half
            // (mostly done by then), so the caller sleeps once per half window.
            let half = in_flight / 2;
            pending.remove(half).unwrap().wait().unwrap();
            for oldest in pending.drain(..half) {
                oldest.wait().unwrap();
            }
        }
        pending.push_back(pool.submit_with(package, extension, state.clone(), |_| ()).unwrap());
    }
    for invocation in pending {
        invocation.wait().unwrap();
    }
}

fn scale(c: &mut Criterion, case: &str, engine: &Engine, package: &Package, extension: &str, state: JsonState) {
    let state = Arc::new(state);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut group = c.benchmark_group(format!("pool-scaling/{case}"));
    group.throughput(Throughput::Elements(BATCH as u64)).sample_size(20).measurement_time(Duration::from_secs(4));
    for threads in 1..=(2 * cpus).max(4) {
        let in_flight = threads * IN_FLIGHT_PER_THREAD;
        let config = PoolConfig::default().threads(threads).queue_capacity(in_flight);
        let pool = Pool::new(engine, std::slice::from_ref(package), config).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, _| {
            b.iter(|| batch(&pool, package.name(), extension, &state, in_flight))
        });
        pool.shutdown();
    }
    group.finish();
}

fn scaling(c: &mut Criterion) {
    let engine = Engine::new(Config::default().max_instances(64)).unwrap();
    let work = engine.load_package("work", work_module(20_000).as_bytes(), &["work"]).unwrap();
    scale(c, "work-20us", &engine, &work, "work", JsonState::from_json_str("{}").unwrap());
    if let Some(path) = tinygo_module("benchmarks-pkg.wasm") {
        let package = engine.load_package_file("bench", path, &["oneGetOneIntent5calls"]).unwrap();
        let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).unwrap();
        scale(c, "oneGetOneIntent5calls", &engine, &package, "oneGetOneIntent5calls", state);
    }
}

criterion_group!(benches, scaling);
criterion_main!(benches);
