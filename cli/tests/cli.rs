//! `extwasm run` end to end on the real TinyGo modules.
//!
//! Every run has `XDG_CACHE_HOME` in cargo's tmp dir for this target: the
//! tests share a compiled-package cache there and never write the user's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::{root, tinygo_module as tinygo};

fn extwasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_extwasm"))
        .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"))
        .args(args)
        .output()
        .expect("extwasm runs")
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
    // The issue's example: a 2 MiB limit, and every call succeeds because
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

// ---------------------------------------------------------------------------
// --apply on inline WAT guests: locking, atomic writes, all or nothing,
// non-finite floats; the hostile-guest flags.
// ---------------------------------------------------------------------------

/// A guest whose extensions write the state: `insert` inserts `{"n": 1}`
/// into `sys.View`; `insertThenFail` does the same on its first call and
/// traps on the next; `putNonFinite` inserts NaN, +inf and -inf of both
/// widths into `sys.View`; `copyFloats` gets the first `sys.View` value and
/// inserts those six fields, read back, into `sys.Copy`; `twoKeys` makes two
/// key builders.
const GUEST: &str = r#"(module
  (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostGetValue" (func $get (param i64) (result i64)))
  (import "env" "hostNewValue" (func $new (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt64" (func $put_i64 (param i64 i32 i32 i32 i64)))
  (import "env" "hostRowWriterPutFloat64" (func $put_f64 (param i64 i32 i32 i32 f64)))
  (import "env" "hostRowWriterPutFloat32" (func $put_f32 (param i64 i32 i32 i32 f32)))
  (import "env" "hostValueAsFloat64" (func $as_f64 (param i64 i32 i32) (result f64)))
  (import "env" "hostValueAsFloat32" (func $as_f32 (param i64 i32 i32) (result f32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 0x10000))
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 0x100) "sys.View")
  (data (i32.const 0x110) "sys.Copy")
  (data (i32.const 0x120) "n")
  (data (i32.const 0x130) "nan64")
  (data (i32.const 0x140) "inf64")
  (data (i32.const 0x150) "ninf64")
  (data (i32.const 0x160) "nan32")
  (data (i32.const 0x170) "inf32")
  (data (i32.const 0x180) "ninf32")
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "malloc") (param $size i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (block $done (loop $grow
      (br_if $done (i32.le_u (global.get $heap) (i32.shl (memory.size) (i32.const 16))))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
      (br $grow)))
    (local.get $p))
  (func $view (result i64) (call $key (i32.const 0x100) (i32.const 8) (i32.const 0) (i32.const 0)))
  (func (export "insert")
    (call $put_i64 (call $new (call $view)) (i32.const 1) (i32.const 0x120) (i32.const 1) (i64.const 1)))
  (func (export "insertThenFail")
    (if (global.get $calls) (then unreachable))
    (global.set $calls (i32.const 1))
    (call $put_i64 (call $new (call $view)) (i32.const 1) (i32.const 0x120) (i32.const 1) (i64.const 1)))
  (func (export "putNonFinite") (local $i i64)
    (local.set $i (call $new (call $view)))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x130) (i32.const 5) (f64.const nan))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x140) (i32.const 5) (f64.const inf))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x150) (i32.const 6) (f64.const -inf))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x160) (i32.const 5) (f32.const nan))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x170) (i32.const 5) (f32.const inf))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x180) (i32.const 6) (f32.const -inf)))
  (func (export "copyFloats") (local $v i64) (local $i i64)
    (local.set $v (call $get (call $view)))
    (local.set $i (call $new (call $key (i32.const 0x110) (i32.const 8) (i32.const 0) (i32.const 0))))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x130) (i32.const 5)
      (call $as_f64 (local.get $v) (i32.const 0x130) (i32.const 5)))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x140) (i32.const 5)
      (call $as_f64 (local.get $v) (i32.const 0x140) (i32.const 5)))
    (call $put_f64 (local.get $i) (i32.const 1) (i32.const 0x150) (i32.const 6)
      (call $as_f64 (local.get $v) (i32.const 0x150) (i32.const 6)))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x160) (i32.const 5)
      (call $as_f32 (local.get $v) (i32.const 0x160) (i32.const 5)))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x170) (i32.const 5)
      (call $as_f32 (local.get $v) (i32.const 0x170) (i32.const 5)))
    (call $put_f32 (local.get $i) (i32.const 1) (i32.const 0x180) (i32.const 6)
      (call $as_f32 (local.get $v) (i32.const 0x180) (i32.const 6))))
  (func (export "twoKeys")
    (drop (call $view))
    (drop (call $view))))"#;

/// A fresh directory for one test, with `guest.wat` (GUEST) and
/// `state.json` (`state`) in it; returns the directory.
fn scratch(name: &str, state: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("extwasm-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("guest.wat"), GUEST).unwrap();
    std::fs::write(dir.join("state.json"), state).unwrap();
    dir
}

/// `extwasm run <dir>/guest.wat extension --state <state> flags…`.
fn run_guest(dir: &Path, extension: &str, state: &Path, flags: &[&str]) -> Output {
    let guest = dir.join("guest.wat");
    let mut args = vec!["run", guest.to_str().unwrap(), extension, "--state", state.to_str().unwrap()];
    args.extend_from_slice(flags);
    extwasm(&args)
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text:.200}", path.display()))
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn concurrent_applies_take_turns_and_lose_nothing() {
    let dir = scratch("concurrent", r#"{"sys.View": []}"#);
    // Four runs at once, each applying 100 inserts; the state named without
    // a directory (relative to the working directory).
    let runs: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_extwasm"))
                .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"))
                .current_dir(&dir)
                .args(["run", "guest.wat", "insert", "--state", "state.json", "--apply", "--repeat", "100"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
    let state = read_json(&dir.join("state.json"));
    assert_eq!(state["sys.View"].as_array().unwrap().len(), 400, "every run's 100 inserts are in the state");
    assert_eq!(files_in(&dir), ["guest.wat", "state.json"], "no temporary file is left");
}

#[test]
fn apply_waits_for_the_lock_and_plain_runs_do_not() {
    let dir = scratch("lock", r#"{"sys.View": []}"#);
    let state = dir.join("state.json");
    let held = std::fs::File::open(&state).unwrap();
    held.lock().unwrap();
    let guest = dir.join("guest.wat");
    let mut apply = Command::new(env!("CARGO_BIN_EXE_extwasm"))
        .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"))
        .args(["run", guest.to_str().unwrap(), "insert", "--state", state.to_str().unwrap(), "--apply"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // A plain run reads the state without the lock.
    let plain = run_guest(&dir, "insert", &state, &[]);
    assert_eq!(plain.status.code(), Some(0), "{}", stderr_of(&plain));
    assert!(apply.try_wait().unwrap().is_none(), "--apply went ahead while another held the lock");
    assert_eq!(read_json(&state), json!({"sys.View": []}));
    drop(held);
    let out = apply.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(read_json(&state)["sys.View"], json!([{"value": {"n": 1}}]));
}

#[test]
fn a_failed_invocation_leaves_the_file_untouched() {
    // Compact, as no --apply writes it: any rewrite would change its bytes.
    let original = r#"{"sys.View":[{"key":{"id":1},"value":{"n":0}}]}"#;
    let dir = scratch("untouched", original);
    let state = dir.join("state.json");
    let modified = std::fs::metadata(&state).unwrap().modified().unwrap();
    // The first invocation succeeds and inserts, the second traps: nothing
    // of the run is written, the first's insert included.
    let out = run_guest(&dir, "insertThenFail", &state, &["--apply", "--repeat", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(report(&out)["error"]["kind"], "trap");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), original);
    assert_eq!(std::fs::metadata(&state).unwrap().modified().unwrap(), modified);
    // Once every invocation succeeds, it is written.
    let out = run_guest(&dir, "insertThenFail", &state, &["--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(read_json(&state)["sys.View"].as_array().unwrap().len(), 2);
}

#[test]
fn a_write_past_the_file_size_limit_leaves_the_state_whole() {
    // Bigger than the limit below, in 512-byte (dash) or 1024-byte (bash)
    // blocks; small enough that wasmtime's own memory files stay under it.
    let original = json!({"sys.View": [{"value": {"s": "x".repeat(3 << 20)}}]}).to_string();
    let dir = scratch("fsize", &original);
    let state = dir.join("state.json");
    let guest = dir.join("guest.wat");
    let out = Command::new("sh")
        .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"))
        .args(["-c", r#"ulimit -f 2048 && exec "$0" "$@""#, env!("CARGO_BIN_EXE_extwasm"), "run"])
        .args([guest.to_str().unwrap(), "insert", "--state", state.to_str().unwrap(), "--apply"])
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot write {}", state.display())), "{stderr}");
    assert!(std::fs::read_to_string(&state).unwrap() == original, "the state changed");
    assert_eq!(files_in(&dir), ["guest.wat", "state.json"], "the temporary file is removed");
}

#[test]
fn a_write_into_a_read_only_directory_leaves_the_state_whole() {
    use std::os::unix::fs::PermissionsExt;
    let original = r#"{"sys.View": []}"#;
    let dir = scratch("readonly", original);
    let state = dir.join("state.json");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let restore = || std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    if std::fs::write(dir.join("probe"), "").is_ok() {
        restore();
        eprintln!("SKIPPED: a read-only directory does not stop this user (root?) from writing");
        return;
    }
    let out = run_guest(&dir, "insert", &state, &["--apply"]);
    restore();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&format!("cannot write {}", state.display())), "{stderr}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), original);

    // A read-only state file in a writable directory is not replaced either.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o444)).unwrap();
    let out = run_guest(&dir, "insert", &state, &["--apply"]);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot open {}", state.display())), "{stderr}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), original);
}

#[test]
fn apply_replaces_the_target_of_a_symlink_and_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("symlink", "");
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    let target = real.join("state.json");
    std::fs::write(&target, r#"{"sys.View": []}"#).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("link.json");
    std::os::unix::fs::symlink("real/state.json", &link).unwrap();

    let out = run_guest(&dir, "insert", &link, &["--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(read_json(&target)["sys.View"], json!([{"value": {"n": 1}}]));
    assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, 0o640);
    assert_eq!(files_in(&real), ["state.json"]);

    // An empty state file is an error that says so, and stays empty.
    let out = run_guest(&dir, "insert", &dir.join("state.json"), &["--apply"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("state.json: empty (a state with no storages is {})"), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(dir.join("state.json")).unwrap(), "");
}

#[test]
fn non_finite_floats_survive_apply_and_a_re_read() {
    let dir = scratch("floats", "{}");
    let state = dir.join("state.json");
    let (nan, inf, ninf) = (json!({"$float": "NaN"}), json!({"$float": "Infinity"}), json!({"$float": "-Infinity"}));
    let floats = json!({"nan64": nan, "inf64": inf, "ninf64": ninf, "nan32": nan, "inf32": inf, "ninf32": ninf});

    let out = run_guest(&dir, "putNonFinite", &state, &["--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(report(&out)["intents"][0]["value"], floats);
    assert_eq!(read_json(&state), json!({"sys.View": [{"value": floats}]}));

    // Read back by a guest (as float64 and float32), put again, applied again.
    let out = run_guest(&dir, "copyFloats", &state, &["--apply"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(report(&out)["intents"][0]["value"], floats);
    assert_eq!(read_json(&state), json!({"sys.View": [{"value": floats}], "sys.Copy": [{"value": floats}]}));
}

#[test]
fn host_limit_flags_are_validated() {
    let dir = scratch("limits", "{}");
    let state = dir.join("state.json");
    for (flags, needle) in [
        (["--host-budget-bytes", "0"], "host_budget_bytes: must be 1..="),
        (["--max-handles", "0"], "max_handles: must be at least 1"),
    ] {
        let out = run_guest(&dir, "insert", &state, &flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(stderr_of(&out).contains(needle), "{flags:?}: {}", stderr_of(&out));
    }
    // Valid values are taken (a load deadline of 0 is none).
    let out = run_guest(
        &dir,
        "insert",
        &state,
        &["--host-budget-bytes", "1000000", "--max-handles", "100", "--load-timeout-ms", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn max_handles_stops_a_guest_that_makes_more() {
    let dir = scratch("max-handles", "{}");
    let state = dir.join("state.json");
    let out = run_guest(&dir, "twoKeys", &state, &["--max-handles", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(report(&out)["error"]["kind"], "host_budget");
    let out = run_guest(&dir, "twoKeys", &state, &["--max-handles", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
}

#[test]
fn load_timeout_stops_a_module_whose_initialisation_never_ends() {
    let dir = scratch("load-timeout", "{}");
    let module = dir.join("spin.wat");
    std::fs::write(
        &module,
        r#"(module (memory (export "memory") 2) (func (export "WasmAbiVersion_0_0_1"))
             (func (export "_initialize") (loop $forever (br $forever))) (func (export "ext")))"#,
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_extwasm"))
        .env("XDG_CACHE_HOME", concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"))
        .args(["run", module.to_str().unwrap(), "ext", "--state", dir.join("state.json").to_str().unwrap()])
        .args(["--load-timeout-ms", "200"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Without a deadline it would spin forever: give up (and fail) after 60 s.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the load deadline did not stop _initialize");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("load deadline"), "{}", stderr_of(&out));
}
