//! What an extension author sees of a failing or growing guest (issue #11):
//! backtraces named as the source language names its functions, with
//! file:line where the module has DWARF; the guest's own words in a
//! memory-limit error; the closest name for a misspelt extension; what the
//! guest says of its heap (memory info), and a restore threshold on it;
//! `log!` lines of Rust guests; and tests that need the TinyGo modules
//! failing rather than skipping under CI.

use std::process::Command;

use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, LoadError, MemoryInfo, RestoreWhen, Worker};
use extwasm_rust_examples::{ALLOCS, BASICUSAGE, Module, READVALUES, READVALUES_STATE};

use crate::common::{self, intents, state, tinygo_module};

const PKG: &str = "pkg";

fn worker(wasm: &[u8], extensions: &[&str], config: Config) -> Worker<JsonState> {
    let engine = Engine::new(config).unwrap();
    let package = engine.load_package(PKG, wasm, extensions).unwrap();
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    worker
}

fn rust(module: &Module, wasm: &[u8], config: Config) -> Worker<JsonState> {
    worker(wasm, &module.extension_names(), config)
}

/// The backtrace of `NewOrder` on an order of negative amount: a guest panic.
fn new_order_panic_backtrace(worker: &mut Worker<JsonState>) -> Vec<String> {
    let error = intents(worker, PKG, "NewOrder", &state("order-negative.json")).unwrap_err();
    let Error::GuestPanic { message, backtrace, .. } = &error else { panic!("{error:?}") };
    assert!(message.starts_with("negative order amount"), "{message}");
    backtrace.clone()
}

// ---------------------------------------------------------------------------
// Backtraces
// ---------------------------------------------------------------------------

#[test]
fn rust_frames_are_named_as_rust_names_them() {
    // The examples keep their name section (strip = "debuginfo"), no DWARF.
    let backtrace = new_order_panic_backtrace(&mut rust(&BASICUSAGE, BASICUSAGE.wasm, Config::default()));
    assert!(
        backtrace.iter().any(|frame| frame == "extwasm_example_basicusage::new_order"),
        "the extension's function, demangled: {backtrace:#?}"
    );
    for frame in &backtrace {
        assert!(!frame.starts_with("<wasm function"), "a frame with no name: {backtrace:#?}");
        assert!(!frame.starts_with("_ZN") && !frame.starts_with("_R"), "a mangled name: {backtrace:#?}");
        assert!(!frame.contains(" at "), "no DWARF, no lines: {frame}");
    }
}

#[test]
fn with_dwarf_rust_frames_show_file_and_line() {
    let mut worker = rust(&BASICUSAGE, BASICUSAGE.wasm_debuginfo, Config::default());
    let backtrace = new_order_panic_backtrace(&mut worker);
    let frame = backtrace
        .iter()
        .find(|frame| frame.starts_with("extwasm_example_basicusage::new_order at "))
        .unwrap_or_else(|| panic!("no frame of new_order with its line: {backtrace:#?}"));
    // `… at /…/examples/rust/basicusage/src/lib.rs:LINE:COLUMN`
    let location = frame.split(" at ").nth(1).unwrap();
    let (path, line_column) = location.split_once(".rs:").unwrap();
    assert!(path.ends_with("examples/rust/basicusage/src/lib"), "{frame}");
    let numbers: Vec<u32> = line_column.split(':').map(|n| n.parse().unwrap()).collect();
    assert!(!numbers.is_empty() && numbers[0] > 0, "{frame}");
    // The panic's own location is the extension's source too.
    assert!(backtrace.iter().filter(|frame| frame.contains(" at ")).count() >= 2, "{backtrace:#?}");
    assert!(backtrace.len() <= 65, "bounded: {} entries", backtrace.len());

    // Off, the same module shows names only.
    let mut worker = rust(&BASICUSAGE, BASICUSAGE.wasm_debuginfo, Config::default().backtrace_lines(false));
    let backtrace = new_order_panic_backtrace(&mut worker);
    assert!(backtrace.iter().any(|frame| frame == "extwasm_example_basicusage::new_order"), "{backtrace:#?}");
    assert!(backtrace.iter().all(|frame| !frame.contains(" at ")), "{backtrace:#?}");
}

#[test]
fn go_frames_have_their_package_paths_back() {
    use extwasm_go_examples::{BASICUSAGE as GO_BASICUSAGE, skipped};
    if skipped("Go backtraces") {
        return;
    }
    let mut worker = worker(GO_BASICUSAGE.wasm, GO_BASICUSAGE.extensions, Config::default());
    let backtrace = new_order_panic_backtrace(&mut worker);
    // Innermost first: Go's panic machinery, then the extension.
    let main = backtrace.iter().position(|frame| frame == "main.NewOrder").unwrap_or_else(|| panic!("{backtrace:#?}"));
    assert!(backtrace[..main].iter().any(|frame| frame == "runtime.gopanic"), "{backtrace:#?}");
    // Go's linker writes `internal/abi.(*Type).M` as `internal_abi.__Type_.M`:
    // none of that reaches a backtrace (the restoring itself is tested on
    // this module's names in the engine's unit tests, `backtrace::tests`).
    assert!(!backtrace.iter().any(|frame| frame.starts_with("internal_") || frame.contains(".__")), "{backtrace:#?}");
}

// ---------------------------------------------------------------------------
// The guest's own words; misspelt extensions
// ---------------------------------------------------------------------------

#[test]
fn a_memory_limit_error_says_what_the_rust_guest_said() {
    let mut worker = rust(&ALLOCS, ALLOCS.wasm, Config::default());
    let error = intents(&mut worker, PKG, "exhaustMemory", &JsonState::default()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MemoryLimit);
    let text = error.to_string();
    assert!(text.starts_with("extension pkg/exhaustMemory exceeded its memory limit of 256 pages"), "{text}");
    assert!(text.contains("; the guest said: out of memory: cannot allocate 1048576 bytes"), "{text}");
}

#[test]
fn a_misspelt_extension_gets_the_closest_name_and_the_list() {
    let mut worker = rust(&BASICUSAGE, BASICUSAGE.wasm, Config::default());
    let error = intents(&mut worker, PKG, "CalcOrderdItems", &state("order.json")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnknownExtension);
    let Error::UnknownExtension { closest, .. } = &error else { panic!("{error:?}") };
    assert_eq!(closest.as_deref(), Some("CalcOrderedItems"));
    assert_eq!(
        error.to_string(),
        "package \"pkg\" has no extension \"CalcOrderdItems\" (did you mean \"CalcOrderedItems\"? it has: \
         CalcOrderedItems, NewOrder, incrementProjector, updateSubscriptionProjector)"
    );
    // Asked for at load: the module's exports that could be extensions.
    let engine = Engine::new(Config::default()).unwrap();
    let error = engine.load_package(PKG, BASICUSAGE.wasm, &["newOrder"]).err().unwrap();
    let Error::Load { error: LoadError::MissingExtension { known, closest, .. }, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(known, "CalcOrderedItems, NewOrder, incrementProjector, updateSubscriptionProjector");
    assert_eq!(closest.as_deref(), Some("NewOrder"));
    assert!(error.to_string().ends_with("module exports no extension \"newOrder\" (did you mean \"NewOrder\"? it exports: CalcOrderedItems, NewOrder, incrementProjector, updateSubscriptionProjector)"), "{error}");
}

// ---------------------------------------------------------------------------
// Memory info
// ---------------------------------------------------------------------------

#[test]
fn the_rust_sdk_says_what_its_heap_holds() {
    let mut worker = rust(&ALLOCS, ALLOCS.wasm, Config::default());
    assert_eq!(worker.memory_info("nope").unwrap_err().kind(), ErrorKind::UnknownPackage);
    let snapshot = worker.memory_info(PKG).unwrap();
    let (inuse, sys, mallocs, frees) =
        (snapshot.heap_inuse.unwrap(), snapshot.heap_sys.unwrap(), snapshot.mallocs.unwrap(), snapshot.frees.unwrap());
    // The exchange buffer (64 000 bytes) is the heap's first block.
    assert!(inuse >= 64_000 && sys >= inuse, "{snapshot:?}");
    assert_eq!((mallocs, frees), (1, 0), "{snapshot:?}");
    assert_eq!(snapshot.memory_bytes, worker.memory_bytes(PKG).unwrap());
    // Reading it changes nothing.
    assert_eq!(worker.memory_info(PKG).unwrap(), snapshot);

    intents(&mut worker, PKG, "zeroedAfterFree", &JsonState::default()).unwrap();
    let after = worker.memory_info(PKG).unwrap();
    assert!(after.mallocs.unwrap() > mallocs && after.frees.unwrap() > frees, "{after:?}");
    assert!(after.heap_sys.unwrap() > sys, "70 000-byte blocks took more memory: {after:?}");
    // A restore is back to the snapshot.
    worker.restore(PKG).unwrap();
    assert_eq!(worker.memory_info(PKG).unwrap(), snapshot);
    assert_eq!(worker.stats(PKG).unwrap().restores, 1, "the reads restored nothing");
}

#[test]
fn tinygo_modules_say_what_their_heap_holds() {
    let Some(path) = tinygo_module("allocs-pkg.wasm") else { return };
    let config = Config::default().memory_limit_pages(64);
    let mut worker = common::worker_for(&path, PKG, &["arrAppend2"], config);
    let before = worker.memory_info(PKG).unwrap();
    assert!(before.heap_inuse.is_some() && before.mallocs.is_some() && before.frees.is_some(), "{before:?}");
    intents(&mut worker, PKG, "arrAppend2", &state("benchmarks.json")).unwrap();
    let after = worker.memory_info(PKG).unwrap();
    assert!(after.heap_inuse.unwrap() > before.heap_inuse.unwrap(), "{before:?} then {after:?}");
    assert!(after.mallocs.unwrap() > before.mallocs.unwrap(), "{before:?} then {after:?}");
}

#[test]
fn a_leaking_guest_is_restored_by_its_heap_in_use() {
    let Some(path) = tinygo_module("allocs-pkg.wasm") else { return };
    const LIMIT: u64 = 512 << 10;
    let config = Config::default().memory_limit_pages(32).restore_when(RestoreWhen::HeapInuseBytes(LIMIT));
    assert_eq!(config.get_restore_when(), RestoreWhen::HeapInuseBytes(LIMIT));
    let mut worker = common::worker_for(&path, PKG, &["arrAppend2"], config);
    let state = state("benchmarks.json");
    let mut most = 0;
    for i in 0..60 {
        intents(&mut worker, PKG, "arrAppend2", &state).unwrap_or_else(|e| panic!("call {i}: {e}"));
        most = most.max(worker.memory_info(PKG).unwrap().heap_inuse.unwrap());
    }
    let stats = worker.stats(PKG).unwrap();
    assert_eq!((stats.invocations, stats.failures), (60, 0), "{stats:?}");
    assert!(stats.restores >= 3, "{stats:?}");
    // Restored once past the limit: it never held much more than that.
    assert!(most < 2 * LIMIT, "{most} bytes in use");
}

#[test]
fn a_leaking_rust_guest_is_restored_by_its_heap_in_use() {
    use extwasm_rust_examples::allocs::LEAKED_BYTES;
    const LIMIT: u64 = 256 << 10;
    let leaks = |config: Config| {
        let mut worker = rust(&ALLOCS, ALLOCS.wasm, config);
        let mut most = 0;
        for i in 0..20 {
            intents(&mut worker, PKG, "leak", &JsonState::default()).unwrap_or_else(|e| panic!("call {i}: {e}"));
            most = most.max(worker.memory_info(PKG).unwrap().heap_inuse.unwrap());
        }
        (worker.stats(PKG).unwrap().restores, most)
    };
    // By heap in use: restored each time the guest holds more than the limit.
    let (restores, most) = leaks(Config::default().restore_when(RestoreWhen::HeapInuseBytes(LIMIT)));
    assert!(restores >= 3, "{restores} restores");
    assert!(most <= LIMIT + 2 * LEAKED_BYTES as u64, "{most} bytes in use");
    // By memory pages (the default, half of 16 MiB): 20 × 64 KiB stays under it.
    let (restores, most) = leaks(Config::default());
    assert_eq!(restores, 0);
    assert!(most >= 20 * LEAKED_BYTES as u64, "{most} bytes in use");
}

/// A guest whose `WasmGetHeapInuse` is `body`, and an extension `grow`
/// that grows memory by a page.
fn heap_guest(body: &str) -> String {
    format!(
        r#"(module
          (memory (export "memory") 1)
          (func (export "WasmAbiVersion_0_0_1"))
          (func (export "WasmGetHeapInuse") (result i64) {body})
          (func (export "grow") (drop (memory.grow (i32.const 1)))))"#
    )
}

#[test]
fn a_heap_read_that_fails_restores_and_never_fails_the_invocation() {
    let config = || {
        Config::default()
            .timeout(Some(std::time::Duration::from_millis(50)))
            .restore_when(RestoreWhen::HeapInuseBytes(1 << 20))
    };
    for body in ["unreachable", "(loop $forever (br $forever)) (i64.const 0)"] {
        let mut worker = self::worker(heap_guest(body).as_bytes(), &["grow"], config());
        let state = JsonState::default();
        for i in 0..3 {
            intents(&mut worker, PKG, "grow", &state).unwrap_or_else(|e| panic!("{body}: call {i}: {e}"));
            // Restored before each call but the first: the read failed.
            assert_eq!(worker.stats(PKG).unwrap().restores, i, "{body}");
            assert_eq!(worker.memory_bytes(PKG), Some(2 << 16), "{body}");
        }
        // Asked by the embedder, the failure is a typed error, and the
        // instance is restored.
        let error = worker.memory_info(PKG).unwrap_err();
        let expected = if body == "unreachable" { ErrorKind::Trap } else { ErrorKind::Timeout };
        assert_eq!(error.kind(), expected, "{body}: {error}");
        assert!(error.to_string().contains("pkg/<memory info>"), "{body}: {error}");
        assert_eq!(worker.stats(PKG).unwrap().restores, 3, "{body}: the failed read restored it");
        assert_eq!(worker.memory_bytes(PKG), Some(1 << 16), "{body}: back to the snapshot");
        intents(&mut worker, PKG, "grow", &state).unwrap_or_else(|e| panic!("{body}: after the failed read: {e}"));
    }
    // A guest that says its heap is small is not restored; one that does
    // not say is restored by its memory (half the limit).
    let mut small = worker(heap_guest("(i64.const 100)").as_bytes(), &["grow"], config());
    for _ in 0..5 {
        intents(&mut small, PKG, "grow", &JsonState::default()).unwrap();
    }
    assert_eq!((small.stats(PKG).unwrap().restores, small.memory_bytes(PKG)), (0, Some(6 << 16)));
    let silent = r#"(module (memory (export "memory") 1) (func (export "WasmAbiVersion_0_0_1"))
                     (func (export "grow") (drop (memory.grow (i32.const 1)))))"#;
    let mut silent = worker(silent.as_bytes(), &["grow"], config().memory_limit_pages(8));
    for _ in 0..6 {
        intents(&mut silent, PKG, "grow", &JsonState::default()).unwrap();
        assert!(silent.memory_bytes(PKG).unwrap() <= 5 << 16, "{:?}", silent.memory_bytes(PKG));
    }
    assert!(silent.stats(PKG).unwrap().restores > 0);
    assert_eq!(silent.memory_info(PKG).unwrap().heap_inuse, None);
}

#[test]
fn memory_info_is_typed_and_empty_by_default() {
    let info = MemoryInfo::default();
    assert_eq!(
        (info.memory_bytes, info.heap_inuse, info.heap_sys, info.mallocs, info.frees),
        (0, None, None, None, None)
    );
    assert_eq!(Config::default().get_restore_when(), RestoreWhen::MemoryPages(128));
    assert_eq!(Config::default().restore_threshold_pages(7).get_restore_when(), RestoreWhen::MemoryPages(7));
}

// ---------------------------------------------------------------------------
// log! from Rust guests
// ---------------------------------------------------------------------------

#[test]
fn rust_guests_log_into_the_captured_output() {
    let mut worker = rust(&READVALUES, READVALUES.wasm, Config::default());
    let state = JsonState::from_json_str(READVALUES_STATE).unwrap();
    let done = worker.invoke(PKG, "orderTotals", &state).unwrap();
    let lines =
        "order 1 of Ada: 2 lines, total 150\norder 2 of Grace: 3 lines, total 24\norder 3 of Linus: 0 lines, total 0\n";
    assert_eq!(done.output(), lines);
    // The mock host captures the same lines.
    let host = extwasm_rust_examples::sdk::testing::MockHost::new(state);
    host.run_extension(&READVALUES.extension("orderTotals").unwrap()).unwrap();
    assert_eq!(host.output(), lines);
}

// ---------------------------------------------------------------------------
// Missing TinyGo modules under CI
// ---------------------------------------------------------------------------

#[test]
fn tests_that_need_missing_tinygo_modules_fail_under_ci_and_skip_elsewhere() {
    if std::env::var_os("EXTWASM_TOOLS_CHILD").is_some() {
        return;
    }
    // This test binary, running one test that needs a TinyGo module, with
    // the modules nowhere.
    let run = |ci: Option<&str>| {
        let mut child = Command::new(std::env::current_exe().unwrap());
        child
            .args(["--exact", "tinygo::every_reference_module_is_preinitialised", "--nocapture"])
            .env("EXTWASM_TINYGO_TESTDATA", "/nonexistent/tinygo-testdata")
            .env("EXTWASM_TOOLS_CHILD", "1")
            .env_remove("CI");
        if let Some(ci) = ci {
            child.env("CI", ci);
        }
        let out = child.output().unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (passed, output) = run(None);
    assert!(passed && output.contains("SKIPPED: TinyGo test module /nonexistent/tinygo-testdata/"), "{output}");
    assert!(output.contains("1 passed"), "{output}");
    let (passed, output) = run(Some("true"));
    assert!(!passed, "under CI a missing module fails: {output}");
    assert!(output.contains("is missing, and CI=true"), "{output}");
}
