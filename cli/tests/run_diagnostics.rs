//! What `extwasm run` tells an extension author (issue 11): the closest name
//! of a misspelt extension, the guest's own out-of-memory line, the guest's
//! heap in the stats, and backtraces with Rust names. Runs the Rust examples
//! built from this repository; the TinyGo case needs the reference modules
//! (skipped loudly without them, a failure under CI).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value as Json;

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::{root, tinygo_module};

fn extwasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_extwasm")).args(args).output().expect("extwasm runs")
}

fn report(output: &Output) -> Json {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// `module`'s wasm, written to a file of this test process.
fn module_file(module: &extwasm_rust_examples::Module) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("extwasm-run-diagnostics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.wasm", module.name));
    std::fs::write(&path, module.wasm).unwrap();
    path
}

fn state(name: &str) -> String {
    root().join("examples/states").join(name).to_str().unwrap().to_owned()
}

#[test]
fn a_misspelt_extension_names_the_closest_one_and_lists_them() {
    let module = module_file(&extwasm_rust_examples::BASICUSAGE);
    let out = extwasm(&["run", module.to_str().unwrap(), "CalcOrderdItems", "--state", &state("order.json")]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "extwasm: package \"basicusage\": module exports no extension \"CalcOrderdItems\" (did you mean \
         \"CalcOrderedItems\"? it exports: CalcOrderedItems, NewOrder, incrementProjector, updateSubscriptionProjector)"
    );
    // Nothing close: the list alone.
    let out = extwasm(&["run", module.to_str().unwrap(), "Frobnicate", "--state", &state("order.json")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("did you mean") && stderr.contains("it exports: CalcOrderedItems, NewOrder"), "{stderr}");
}

#[test]
fn stats_say_what_the_guest_heap_holds() {
    let module = module_file(&extwasm_rust_examples::ALLOCS);
    let out =
        extwasm(&["run", module.to_str().unwrap(), "leak", "--state", &state("benchmarks.json"), "--repeat", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = &report(&out)["stats"];
    let leaked = extwasm_rust_examples::allocs::LEAKED_BYTES as u64;
    let inuse = stats["heap_inuse"].as_u64().unwrap_or_else(|| panic!("{stats}"));
    // The exchange buffer (64 000 bytes), then 3 leaks.
    assert!(inuse >= 64_000 + 3 * leaked, "{stats}");
    assert!(stats["heap_sys"].as_u64().unwrap() >= inuse, "{stats}");
    assert!(stats["mallocs"].as_u64().unwrap() >= 4, "{stats}");
    assert!(stats["frees"].as_u64().is_some(), "{stats}");
}

#[test]
fn a_guest_panic_has_a_backtrace_of_rust_names() {
    let module = module_file(&extwasm_rust_examples::BASICUSAGE);
    let out = extwasm(&["run", module.to_str().unwrap(), "NewOrder", "--state", &state("order-negative.json")]);
    assert_eq!(out.status.code(), Some(1));
    let report = report(&out);
    assert_eq!(report["error"]["kind"], "guest_panic");
    let backtrace = report["error"]["backtrace"].as_array().unwrap();
    assert!(backtrace.iter().any(|frame| frame == "extwasm_example_basicusage::new_order"), "{backtrace:?}");
}

#[test]
fn a_memory_limit_error_keeps_tinygos_own_panic_line() {
    let Some(module) = tinygo_module("allocs-pkg.wasm") else { return };
    let out = extwasm(&[
        "run",
        module.to_str().unwrap(),
        "arrAppend2",
        "--state",
        &state("benchmarks.json"),
        "--memory-limit-pages",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let error = &report(&out)["error"];
    assert_eq!(error["kind"], "memory_limit");
    let message = error["message"].as_str().unwrap();
    // The engine's explanation, then what voedger's users match on.
    assert!(message.starts_with("extension allocs-pkg/arrAppend2 exceeded its memory limit of 3 pages"), "{message}");
    assert!(message.ends_with("; the guest said: panic: runtime error: out of memory"), "{message}");
}

#[test]
fn a_leaking_guest_is_restored_by_its_heap_in_use() {
    let module = module_file(&extwasm_rust_examples::ALLOCS);
    let benchmarks = state("benchmarks.json");
    let run = |flags: &[&str]| {
        let mut args = vec!["run", module.to_str().unwrap(), "leak", "--state", &benchmarks, "--repeat", "20"];
        args.extend_from_slice(flags);
        let out = extwasm(&args);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", String::from_utf8_lossy(&out.stderr));
        report(&out)["stats"].clone()
    };
    // 20 leaks of 64 KiB: under half the memory limit, never restored by pages.
    assert_eq!(run(&[])["restores"], 0);
    let stats = run(&["--restore-heap-inuse-bytes", "262144"]);
    assert!(stats["restores"].as_u64().unwrap() >= 3, "{stats}");
    assert!(stats["heap_inuse"].as_u64().unwrap() <= 262_144 + 2 * 65_536, "{stats}");
    // One threshold or the other.
    let out = extwasm(&[
        "run",
        module.to_str().unwrap(),
        "leak",
        "--state",
        &state("benchmarks.json"),
        "--restore-heap-inuse-bytes",
        "1",
        "--restore-threshold-pages",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
