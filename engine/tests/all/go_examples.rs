//! Standard Go guests on the engine: the Go examples (`examples/go/`, built
//! by the `extwasm-go-examples` crate with `GOOS=wasip1 GOARCH=wasm go build
//! -buildmode=c-shared`): ~2 MiB modules with Go's runtime, its garbage
//! collector, `_initialize`, the WASI functions it imports, and panics that
//! the runtime prints to stderr before it aborts.
//!
//! What they do is compared with TinyGo and Rust in `cli/tests/conformance.rs`; here is
//! what is particular to Go: loading and pre-initialisation, panics and
//! failed host calls unwinding Go frames, memory (limits, restores, the
//! exchange buffer's extra blocks freed), and host calls that do not
//! allocate.

use extwasm_engine::{Config, Engine, Error, ErrorKind, Isolation, JsonState, Package, Worker};
use extwasm_go_examples::{ALL, ALLOCS, BASICUSAGE, BENCHMARKS, Module, READVALUES, skipped};
use serde_json::{Value as Json, json};

const PACKAGE: &str = "go";

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn state(json: &str) -> JsonState {
    JsonState::from_json_str(json).unwrap()
}

fn state_file(path: &str) -> JsonState {
    JsonState::from_path(root().join(path)).unwrap()
}

fn load(engine: &Engine, module: &Module) -> Package {
    engine.load_package(PACKAGE, module.wasm, module.extensions).unwrap_or_else(|e| {
        panic!(
            "examples/go/{} does not load: {e}\n(Go's runtime traps in any export called before `_initialize`: \
             the engine must call WasmAbiVersion_0_0_1 after initialisation)",
            module.name
        )
    })
}

fn worker(module: &Module, config: Config) -> Worker<JsonState> {
    let engine = Engine::new(config).unwrap();
    let package = load(&engine, module);
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    worker
}

fn intents(worker: &mut Worker<JsonState>, extension: &str, state: &JsonState) -> Result<Vec<Json>, Error> {
    let done = worker.invoke(PACKAGE, extension, state)?;
    Ok(done.intents().map(|i| JsonState::intent_json(&i)).collect())
}

#[test]
fn go_modules_load_preinitialised_and_run() {
    if skipped("loading the Go examples") {
        return;
    }
    let engine = Engine::new(Config::default()).unwrap();
    for module in ALL {
        let package = load(&engine, module);
        // Go's runtime initialises in `_initialize` (heap, GC, eight
        // non-exported globals): the snapshot taken at load keeps all of it.
        assert_eq!(package.preinitialized(), Ok(()), "examples/go/{}", module.name);
        let mut worker: Worker<JsonState> = Worker::new(&engine);
        worker.add_package(&package).unwrap();
        let pages = worker.memory_bytes(PACKAGE).unwrap() >> 16;
        eprintln!("examples/go/{}: {} bytes, {pages} pages after initialisation", module.name, module.wasm.len());
        assert!((20..=96).contains(&pages), "{}: {pages} pages", module.name);
    }
    let mut worker = worker(&BENCHMARKS, Config::default());
    let done = worker.invoke(PACKAGE, "oneGetOneIntent5calls", &state_file("examples/states/benchmarks.json")).unwrap();
    // The host calls of the extension, and none of Go's runtime.
    assert_eq!(done.host_calls(), 5);
    assert_eq!(done.output(), "");
}

#[test]
fn a_go_panic_is_a_guest_panic_with_its_message_and_the_next_invocation_works() {
    if skipped("Go panics") {
        return;
    }
    let mut worker = worker(&BASICUSAGE, Config::default());
    let negative = state_file("examples/states/order-negative.json");
    let order = state_file("examples/states/order.json");
    for _ in 0..3 {
        let error = intents(&mut worker, "NewOrder", &negative).unwrap_err();
        let Error::GuestPanic { extension, message, backtrace } = &error else { panic!("{error}") };
        assert_eq!(extension, "go/NewOrder");
        // The runtime prints `panic: negative order amount` and a goroutine
        // trace to stderr, then aborts: the engine reports the first line.
        assert_eq!(message, "negative order amount");
        assert!(backtrace.iter().any(|frame| frame == "main.NewOrder"), "{backtrace:?}");
        assert_eq!(intents(&mut worker, "NewOrder", &order).unwrap(), Vec::<Json>::new());
    }
    let stats = worker.stats(PACKAGE).unwrap();
    assert_eq!((stats.invocations, stats.failures), (6, 3));
    assert!(stats.restores >= 3, "{stats:?}");
}

#[test]
fn a_failed_host_call_unwinds_go_frames_and_the_instance_is_restored() {
    if skipped("failed host calls in Go") {
        return;
    }
    let mut worker = worker(&READVALUES, Config::default());
    let copies = state_file("examples/rust/readvalues/state.json");
    let bad_key = state(r#"{"sys.View": [{"entity": "mypkg.AllTypes", "key": {"pk": 1, "cc": "text"}, "value": {}}]}"#);
    let good = intents(&mut worker, "copyAllTypes", &copies).unwrap();
    assert_eq!(good.len(), 2);
    for _ in 0..3 {
        // Fails inside WasmOnReadValue, called back from hostReadValues.
        let error = intents(&mut worker, "copyAllTypes", &bad_key).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TypeMismatch, "{error}");
        assert_eq!(error.site().unwrap().host_call, "hostKeyAsInt64");
        assert_eq!(intents(&mut worker, "copyAllTypes", &copies).unwrap(), good);
    }
}

#[test]
fn reads_nest_inside_read_callbacks() {
    if skipped("re-entrant reads in Go") {
        return;
    }
    let mut worker = worker(&READVALUES, Config::default());
    let totals = intents(&mut worker, "orderTotals", &state_file("examples/rust/readvalues/state.json")).unwrap();
    let totals: Vec<_> = totals.iter().map(|t| (t["value"]["customer"].clone(), t["value"]["total"].clone())).collect();
    assert_eq!(totals, [(json!("Ada"), json!(150)), (json!("Grace"), json!(24)), (json!("Linus"), json!(0))]);
}

/// The heap counters the allocs example reports (heapStats): mallocs, frees.
fn heap_stats(worker: &mut Worker<JsonState>) -> (i64, i64) {
    let stats = intents(worker, "heapStats", &JsonState::default()).unwrap();
    let value = &stats[0]["value"];
    (value["mallocs"].as_i64().unwrap(), value["frees"].as_i64().unwrap())
}

#[test]
fn host_calls_do_not_allocate() {
    if skipped("allocation counters of Go") {
        return;
    }
    let mut worker = worker(&ALLOCS, Config::default());
    let copies = state_file("examples/rust/readvalues/state.json");
    let first = heap_stats(&mut worker);
    let second = heap_stats(&mut worker);
    let (mallocs, frees) = heap_stats(&mut worker);
    // heapStats itself allocates nothing: reading the counters and putting
    // them on an intent are host calls too.
    assert_eq!(first, second);
    assert_eq!(second, (mallocs, frees));
    let mut calls = 0;
    for _ in 0..1_000 {
        // Every kind of host call, about a hundred per invocation.
        let done = worker.invoke(PACKAGE, "everyHostCall", &copies).unwrap();
        calls += done.host_calls();
    }
    assert!(calls > 50_000, "{calls}");
    assert_eq!(heap_stats(&mut worker), (mallocs, frees), "{calls} host calls allocated");
    assert_eq!(worker.stats(PACKAGE).unwrap().restores, 0, "the counters were read on one instance");
}

#[test]
fn running_out_of_memory_is_a_memory_limit_error_and_the_instance_recovers() {
    if skipped("Go running out of memory") {
        return;
    }
    let mut worker = worker(&ALLOCS, Config::default());
    for _ in 0..2 {
        let error = intents(&mut worker, "exhaustMemory", &JsonState::default()).unwrap_err();
        let Error::MemoryLimit { limit_pages, requested_pages, message, .. } = &error else { panic!("{error}") };
        assert_eq!(*limit_pages, 256);
        assert!(*requested_pages > 256, "{requested_pages}");
        // Go's runtime throws: it prints `fatal error: out of memory` (not
        // `panic: …`) to stderr, then aborts. The engine must read that line
        // as it reads TinyGo's `panic:` line, not report the bare trap.
        assert_eq!(message, "fatal error: out of memory", "the message of a Go fatal error");
        assert!(error.to_string().ends_with("; the guest said: fatal error: out of memory"), "{error}");
        assert_eq!(intents(&mut worker, "zeroedAfterFree", &JsonState::default()).unwrap(), Vec::<Json>::new());
    }
    let stats = worker.stats(PACKAGE).unwrap();
    assert_eq!((stats.failures, stats.retries), (2, 2), "{stats:?}");
}

#[test]
fn a_leaking_go_guest_is_restored_before_it_runs_out_and_never_fails() {
    if skipped("restores of a leaking Go guest") {
        return;
    }
    let config = Config::default().memory_limit_pages(128);
    let mut worker = worker(&ALLOCS, config);
    let state = state_file("examples/states/benchmarks.json");
    for i in 0..120 {
        intents(&mut worker, "arrAppend2", &state).unwrap_or_else(|e| panic!("call {i}: {e}"));
        assert!(worker.memory_bytes(PACKAGE).unwrap() <= 128 << 16);
    }
    let stats = worker.stats(PACKAGE).unwrap();
    assert_eq!((stats.invocations, stats.failures), (120, 0), "{stats:?}");
    assert!(stats.restores >= 1, "{stats:?}");
}

#[test]
fn extra_result_buffers_are_freed_and_memory_stays_flat() {
    if skipped("the exchange buffer of Go guests") {
        return;
    }
    let mut worker = worker(&BENCHMARKS, Config::default());
    // 100 000 bytes do not fit the 64 000-byte exchange buffer: the host
    // mallocs an extra block each time, and frees it when the call ends.
    let long = state(&json!({"sys.Test": [{"value": {"500c": "c".repeat(100_000)}}]}).to_string());
    let mut sizes = Vec::new();
    for i in 0..300 {
        let done = worker.invoke(PACKAGE, "oneGetLongStr3calls", &long).unwrap_or_else(|e| panic!("call {i}: {e}"));
        // Three ABI calls; a collection that the extra block sets off adds
        // the runtime's clock_time_get calls.
        assert!(done.host_calls() >= 3, "{}", done.host_calls());
        sizes.push(done.memory_bytes() >> 16);
    }
    // 30 MB went through extra blocks; Go's collector took them back: its
    // heap grows to its first goal (4 MiB), then memory stays flat.
    assert!(sizes[150..].iter().all(|&pages| pages == sizes[150]), "memory kept growing: {sizes:?}");
    assert!(sizes[299] < 128, "{} pages", sizes[299]);
    assert_eq!(worker.stats(PACKAGE).unwrap().restores, 0);
}

#[test]
fn every_invocation_may_start_from_the_snapshot() {
    if skipped("fresh isolation of Go guests") {
        return;
    }
    let mut worker = worker(&BASICUSAGE, Config::default().isolation(Isolation::Fresh));
    let mut state = JsonState::default();
    for count in 1..=5 {
        let done = intents(&mut worker, "incrementProjector", &state).unwrap();
        assert_eq!(done[0]["value"]["vv"], json!(count));
        state.apply_intent(&done[0]).unwrap();
    }
    assert!(worker.stats(PACKAGE).unwrap().restores >= 4);
}
