//! Invocation latency of the seed's five benchmark extensions
//! (`benchmarks-pkg.wasm`, TinyGo `-gc=leaking`).
//!
//! - `invoke/*`: the full embedder path: extension looked up by name,
//!   JSON-state-backed IO, handle tables reset per invocation, intents
//!   handed over.
//! - `invoke-rust/*`: the same extensions built with the Rust guest SDK
//!   (`examples/rust/benchmarks`).
//! - `invoke-go/*`: the same extensions built with the Go SDK and standard
//!   Go (`examples/go/benchmarks`, `GOOS=wasip1 -buildmode=c-shared`).
//! - `floor/*`: the TinyGo guest code on bare wasmtime with trivial host
//!   functions (constants, no checks, no state): what a call costs before
//!   the engine does any work. The ratio between the two is the engine's
//!   overhead, measured in the same run.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use extwasm_abi::{HOST_MODULE, WASI_MODULE};
use extwasm_benches::{BENCHMARK_EXTENSIONS, root, tinygo_module};
use extwasm_engine::{Config, Engine, JsonState, Worker};
use wasmtime::{Linker, Module, Store};

/// The five extensions of `wasm`, invoked as an embedder would, in group `group`.
fn invoke_module(c: &mut Criterion, group: &str, wasm: &[u8]) {
    let engine = Engine::new(Config::default()).unwrap();
    let package = engine.load_package("bench", wasm, &BENCHMARK_EXTENSIONS).unwrap();
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    let state = JsonState::from_path(root().join("examples/states/benchmarks.json")).unwrap();

    let mut group = c.benchmark_group(group);
    for extension in BENCHMARK_EXTENSIONS {
        group.bench_function(extension, |b| {
            b.iter(|| {
                let done = worker.invoke("bench", black_box(extension), &state).unwrap();
                black_box(done.intents().len())
            })
        });
    }
    group.finish();
}

/// TinyGo's `benchmarks-pkg.wasm`.
fn invoke(c: &mut Criterion) {
    let Some(path) = tinygo_module("benchmarks-pkg.wasm") else { return };
    invoke_module(c, "invoke", &std::fs::read(path).unwrap());
}

/// The same extensions built from `examples/rust/benchmarks` with the Rust SDK.
fn invoke_rust(c: &mut Criterion) {
    invoke_module(c, "invoke-rust", extwasm_rust_examples::BENCHMARKS.wasm);
}

/// The same extensions built from `examples/go/benchmarks` with the Go SDK
/// and standard Go.
fn invoke_go(c: &mut Criterion) {
    if extwasm_go_examples::skipped("the invoke-go benchmarks") {
        return;
    }
    invoke_module(c, "invoke-go", extwasm_go_examples::BENCHMARKS.wasm);
}

fn floor(c: &mut Criterion) {
    let Some(path) = tinygo_module("benchmarks-pkg.wasm") else {
        return;
    };
    let engine = wasmtime::Engine::default();
    let module = Module::from_file(&engine, &path).unwrap();
    let mut linker: Linker<()> = Linker::new(&engine);
    // Trivial, typed host functions: a constant result, nothing else.
    let env = HOST_MODULE;
    linker.func_wrap(WASI_MODULE, "fd_write", |_: i32, _: i32, _: i32, _: i32| 0i32).unwrap();
    linker.func_wrap(env, "hostGetKey", |_: i32, _: i32, _: i32, _: i32| 1i64).unwrap();
    linker.func_wrap(env, "hostGetValue", |_: i64| 2i64).unwrap();
    linker.func_wrap(env, "hostNewValue", |_: i64| 3i64).unwrap();
    linker.func_wrap(env, "hostValueAsString", |_: i64, _: i32, _: i32| 0i64).unwrap();
    linker.func_wrap(env, "hostRowWriterPutString", |_: i64, _: i32, _: i32, _: i32, _: i32, _: i32| {}).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).unwrap();
    instance.get_typed_func::<(), ()>(&mut store, "_start").unwrap().call(&mut store, ()).unwrap();

    let mut group = c.benchmark_group("floor");
    for extension in BENCHMARK_EXTENSIONS {
        let func = instance.get_typed_func::<(), ()>(&mut store, extension).unwrap();
        group.bench_function(extension, |b| b.iter(|| func.call(&mut store, ()).unwrap()));
    }
    group.finish();
}

criterion_group!(benches, invoke, invoke_rust, invoke_go, floor);
criterion_main!(benches);
