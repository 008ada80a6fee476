//! `extwasm run` end to end on the real TinyGo modules.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::{root, tinygo_module as tinygo};

fn extwasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_extwasm")).args(args).output().expect("extwasm runs")
}

fn report(output: &Output) -> Json {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn state_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("extwasm-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::copy(root().join("examples/states").join(name), &path).unwrap();
    path
}

#[test]
fn success_prints_intents_and_stats_and_exits_0() {
    let Some(module) = tinygo("basicusage-pkg.wasm") else {
        return;
    };
    let state = root().join("examples/states/subscription.json");
    let out =
        extwasm(&["run", module.to_str().unwrap(), "updateSubscriptionProjector", "--state", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report = report(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["extension"], "updateSubscriptionProjector");
    assert_eq!(report["intents"][0]["storage"], "sys.SendMail");
    assert_eq!(report["intents"][0]["value"]["to"], "customer@example.com");
    assert_eq!(report["stdout"], "");
    assert!(report["stats"]["host_calls"].as_u64().unwrap() > 5);
    assert!(report["stats"]["micros"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_failing_extension_prints_the_error_and_exits_1() {
    let Some(module) = tinygo("basicusage-pkg.wasm") else {
        return;
    };
    let state = root().join("examples/states/order-negative.json");
    let out = extwasm(&[
        "run",
        module.to_str().unwrap(),
        "NewOrder",
        "--state",
        state.to_str().unwrap(),
        "--package",
        "shop",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = report(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["intents"], json!([]));
    assert_eq!(report["error"]["kind"], "guest_panic");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(message.contains("shop/NewOrder") && message.contains("negative order amount"), "{message}");
    assert!(report["error"]["backtrace"].as_array().unwrap().iter().any(|f| f == "NewOrder"));
}

#[test]
fn memory_limit_flag_is_applied() {
    let Some(module) = tinygo("allocs-pkg.wasm") else {
        return;
    };
    let state = root().join("examples/states/benchmarks.json");
    let run = |pages: &str| {
        extwasm(&[
            "run",
            module.to_str().unwrap(),
            "arrAppend2",
            "--state",
            state.to_str().unwrap(),
            "--memory-limit-pages",
            pages,
        ])
    };
    // 10 000 allocations do not fit in 3 pages, do in the default 256.
    let out = run("3");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&out)["error"]["kind"], "memory_limit");
    assert_eq!(run("256").status.code(), Some(0));
    // A limit too small for the exchange buffer is a usage error.
    let out = run("1");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exchange buffer"));
}

#[test]
fn usage_and_load_errors_exit_2_with_one_line_on_stderr() {
    let Some(module) = tinygo("basicusage-pkg.wasm") else {
        return;
    };
    let module = module.to_str().unwrap();
    let state = root().join("examples/states/order.json");
    let state = state.to_str().unwrap();
    for args in [
        vec!["run", module, "NoSuchExtension", "--state", state],
        vec!["run", module, "NewOrder", "--state", "/no/such/state.json"],
        vec!["run", "/no/such/module.wasm", "NewOrder", "--state", state],
        vec!["run", module, "WasmGC", "--state", state],
        vec!["run", module],
        vec!["frobnicate"],
    ] {
        let out = extwasm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.trim().is_empty(), "{args:?}");
        if args.len() == 5 {
            assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

#[test]
fn apply_runs_a_command_projector_pipeline_step_by_step() {
    let Some(module) = tinygo("basicusage-pkg.wasm") else {
        return;
    };
    let state = state_copy("order.json");
    let run = || {
        let out = extwasm(&[
            "run",
            module.to_str().unwrap(),
            "CalcOrderedItems",
            "--state",
            state.to_str().unwrap(),
            "--apply",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        report(&out)
    };
    let first = run();
    assert_eq!(first["intents"][0]["op"], "insert");
    assert_eq!(first["intents"][0]["value"]["Amount"], 200);
    let second = run();
    assert_eq!(second["intents"][0]["op"], "update");
    assert_eq!(second["intents"][0]["value"]["Amount"], 400);
    let written: Json = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let views = written["sys.View"].as_array().unwrap();
    assert_eq!(views.len(), 1, "the update replaced the inserted record");
    assert_eq!(views[0]["value"]["Amount"], 400);
    assert_eq!(views[0]["key"], json!({"Year": 2023, "Month": 5, "Day": 17}));
}

#[test]
fn a_failed_invocation_does_not_apply() {
    let Some(module) = tinygo("basicusage-pkg.wasm") else {
        return;
    };
    let state = state_copy("order-negative.json");
    let before = std::fs::read_to_string(&state).unwrap();
    let out = extwasm(&["run", module.to_str().unwrap(), "NewOrder", "--state", state.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before);
}

/// Runs `extension` of `allocs-pkg.wasm` on the benchmark state with `flags`.
fn allocs(extension: &str, flags: &[&str]) -> Option<Output> {
    let module = tinygo("allocs-pkg.wasm")?;
    let state = root().join("examples/states/benchmarks.json");
    let mut args = vec!["run", module.to_str().unwrap(), extension, "--state", state.to_str().unwrap()];
    args.extend_from_slice(flags);
    Some(extwasm(&args))
}

#[test]
fn repeat_keeps_a_leaking_guest_within_its_limit_and_reports_stats() {
    // The example: a 2 MiB limit, and every call succeeds because
    // the instance is restored (past the threshold, or after running out of
    // memory and retrying) with memory never above the limit.
    let Some(out) = allocs("arrAppend2", &["--memory-limit-pages", "32", "--repeat", "1000"]) else { return };
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = &report(&out)["stats"];
    assert_eq!(stats["invocations"], 1000, "{stats}");
    assert_eq!(stats["failures"], 0, "{stats}");
    assert!(stats["restores"].as_u64().unwrap() >= 100, "a leaking guest is restored: {stats}");
    assert!(stats["background_restores"].as_u64().unwrap() <= stats["restores"].as_u64().unwrap(), "{stats}");
    assert!(stats["retries"].is_u64(), "{stats}");
    assert!(stats["memory_pages"].as_u64().unwrap() <= 32, "{stats}");
    assert!(stats["peak_memory_pages"].as_u64().unwrap() <= 32, "{stats}");
    let (p50, p99) = (stats["p50_micros"].as_f64().unwrap(), stats["p99_micros"].as_f64().unwrap());
    assert!(0.0 < p50 && p50 <= p99, "{stats}");
}

#[test]
fn timeout_and_fuel_flags_stop_a_long_invocation() {
    // Memory enough for longFunc's map to outlast the budgets.
    let Some(out) = allocs("longFunc", &["--memory-limit-pages", "8192", "--timeout-ms", "100"]) else { return };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&out)["error"]["kind"], "timeout");
    let Some(out) = allocs("longFunc", &["--memory-limit-pages", "8192", "--timeout-ms", "0", "--fuel", "1000000"])
    else {
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report(&out)["error"]["kind"], "fuel_exhausted");
}

#[test]
fn isolation_and_threshold_flags_decide_when_to_restore() {
    let restores = |flags: &[&str]| {
        let out = allocs("arrAppend2", flags)?;
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", String::from_utf8_lossy(&out.stderr));
        report(&out)["stats"]["restores"].as_u64()
    };
    // Twenty calls leak a few MiB: under the default threshold (half of
    // 256 pages), past one of 8 pages.
    let Some(default) = restores(&["--repeat", "20"]) else { return };
    assert_eq!(default, 0);
    let past_threshold = restores(&["--repeat", "20", "--restore-threshold-pages", "8"]).unwrap();
    assert!(past_threshold >= 5, "{past_threshold}");
    // Fresh: every invocation after the first starts from the snapshot.
    assert_eq!(restores(&["--repeat", "5", "--isolation", "fresh"]), Some(4));

    let out = allocs("arrAppend2", &["--isolation", "sideways"]).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reuse or fresh"));
}
