//! The extension author's tools end to end, as a user runs them: `extwasm
//! test`, `inspect`, `build` and `new` (the generated projects are tested,
//! built, inspected and scenario-checked with the real toolchains), each
//! with success, a failing scenario or a module that does not load, and a
//! missing toolchain.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value as Json, json};

#[path = "../../engine/tests/common/tinygo_testdata.rs"]
mod tinygo_testdata;
use tinygo_testdata::root;

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("extwasm-tools-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn extwasm(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_extwasm"));
    command.current_dir(dir).args(args);
    command
}

fn run(command: &mut Command) -> (Option<i32>, String, String) {
    let Output { status, stdout, stderr } = command.output().expect("the command runs");
    (status.code(), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}

/// The Rust example `basicusage` as `dir/basicusage.wasm`, and the order
/// state beside it.
fn basicusage(dir: &Path) -> PathBuf {
    let module = dir.join("basicusage.wasm");
    std::fs::write(&module, extwasm_rust_examples::BASICUSAGE.wasm).unwrap();
    std::fs::copy(root().join("examples/states/order.json"), dir.join("order.json")).unwrap();
    module
}

const VIEW: &str = "github.com/untillpro/airs-bp3/packages/mypkg.OrderedItems";

fn order_view(op: &str, amount: Json) -> Json {
    json!({"op": op, "storage": "sys.View", "entity": VIEW, "key": {"Year": 2023, "Month": 5, "Day": 17},
           "value": {"Amount": amount}})
}

/// A module the engine refuses: it imports a host function the ABI does not have.
const UNKNOWN_IMPORT: &str = r#"(module
  (import "env" "hostNoSuch" (func))
  (memory (export "memory") 1)
  (func (export "WasmAbiVersion_0_0_1"))
  (func (export "countOrders") (call 0)))"#;

// ---- extwasm test ----

#[test]
fn test_passes_every_scenario_and_exits_0() {
    let dir = scratch("test-pass");
    basicusage(&dir);
    let scenarios = json!({"scenarios": [
        {"name": "the day's total", "state": "order.json", "extension": "CalcOrderedItems",
         "expect": {"intents": [{
             "op": "insert", "storage": "sys.View", "entity": VIEW,
             "key": {"Year": {"$int32": 2023}, "Month": 5, "Day": 17}, "value": {"Amount": {"$int64": 200}}}]}},
        {"name": "applied twice", "state": "order.json", "steps": [
            {"extension": "CalcOrderedItems", "apply": true, "expect": {"intents": [order_view("insert", json!(200))]}},
            {"extension": "CalcOrderedItems", "expect": {"intents": [order_view("update", json!(400))]}}]},
        {"name": "a negative order", "state": {"sys.CommandContext": [{"value": {"ArgumentObject": {
             "Year": 2023, "Month": 5, "Day": 17, "Items": [{"Quantity": 1, "SinglePrice": -5}]}}}]},
         "extension": "NewOrder",
         "expect": {"error": {"kind": "guest_panic", "message": "extension <ext> panicked: negative order amount"}}}
    ]});
    std::fs::write(dir.join("scenarios.json"), scenarios.to_string()).unwrap();
    let (code, stdout, stderr) = run(&mut extwasm(&dir, &["test", "scenarios.json", "--module", "basicusage.wasm"]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for name in ["the day's total", "applied twice", "a negative order"] {
        assert!(stdout.contains(&format!("PASS  {name}")), "{stdout}");
    }
    assert!(stdout.contains("3 scenarios: 3 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_failing_scenario_shows_a_diff_of_the_intents_and_exits_1() {
    let dir = scratch("test-fail");
    basicusage(&dir);
    let scenarios = json!({"scenarios": [
        {"name": "passes", "state": "order.json", "extension": "CalcOrderedItems",
         "expect": {"intents": [order_view("insert", json!(200))]}},
        {"name": "wrong total", "state": "order.json", "extension": "CalcOrderedItems",
         "expect": {"intents": [order_view("update", json!(999))]}},
        {"name": "wrong width", "state": "order.json", "extension": "CalcOrderedItems",
         "expect": {"intents": [order_view("insert", json!({"$int32": 200}))]}},
        {"name": "wrong error", "state": "order.json", "extension": "CalcOrderedItems",
         "expect": {"error": {"kind": "guest_panic"}}},
        {"name": "misspelt", "state": "order.json", "extension": "CalcOrderedItem", "expect": {"intents": []}}
    ]});
    std::fs::write(dir.join("scenarios.json"), scenarios.to_string()).unwrap();
    let (code, stdout, stderr) = run(&mut extwasm(&dir, &["test", "scenarios.json", "--module", "basicusage.wasm"]));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  passes"), "{stdout}");
    assert!(stdout.contains("FAIL  wrong total"), "{stdout}");
    assert!(stdout.contains("intents[0].op: expected \"update\", got \"insert\""), "{stdout}");
    assert!(stdout.contains("intents[0].value.Amount: expected 999, got 200"), "{stdout}");
    assert!(stdout.contains("intents[0].value.Amount: expected int32 200, got int64 200"), "{stdout}");
    assert!(stdout.contains("expected a guest_panic error, but it succeeded with 1 intent"), "{stdout}");
    assert!(stdout.contains("has no extension \"CalcOrderedItem\": did you mean \"CalcOrderedItems\"?"), "{stdout}");
    assert!(stdout.contains("5 scenarios: 1 passed, 4 failed"), "{stdout}");
}

#[test]
fn test_refuses_a_module_that_does_not_load_and_bad_usage_with_exit_2() {
    let dir = scratch("test-usage");
    std::fs::write(dir.join("bad.wat"), UNKNOWN_IMPORT).unwrap();
    std::fs::write(dir.join("garbage.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
    let scenarios = json!({"scenarios": [{"name": "a", "extension": "countOrders", "expect": {"intents": []}}]});
    std::fs::write(dir.join("s.json"), scenarios.to_string()).unwrap();

    let (code, _, stderr) = run(&mut extwasm(&dir, &["test", "s.json", "--module", "bad.wat"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("hostNoSuch"), "the engine's reason: {stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["test", "s.json", "--module", "garbage.wasm"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a valid WebAssembly module"), "{stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["test", "no-such.json", "--module", "bad.wat"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot read no-such.json"), "{stderr}");
    std::fs::write(dir.join("typo.json"), r#"{"scenarios": [{"name": "a", "extension": "x", "expected": {}}]}"#)
        .unwrap();
    let (code, _, stderr) = run(&mut extwasm(&dir, &["test", "typo.json", "--module", "bad.wat"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `expected`"), "{stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["test", "s.json"]));
    assert_eq!(code, Some(2), "a scenario without a module: {stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["test"]));
    assert_eq!(code, Some(2), "{stderr}");
}

// ---- extwasm inspect ----

#[test]
fn inspect_shows_abi_extensions_imports_exports_and_memory() {
    let dir = scratch("inspect");
    let module = basicusage(&dir);
    let (code, stdout, stderr) = run(&mut extwasm(&dir, &["inspect", module.to_str().unwrap(), "--json"]));
    assert_eq!(code, Some(0), "{stderr}");
    let report: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["abi_version"], "0.0.1");
    let mut extensions: Vec<&str> =
        report["extensions"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    let mut listed = extwasm_rust_examples::BASICUSAGE.extension_names();
    extensions.sort();
    listed.sort();
    assert_eq!(extensions, listed);
    let imports = report["imports"].as_array().unwrap();
    assert!(imports.iter().any(|i| i["name"] == "hostGetValue" && i["status"] == "host"), "{imports:?}");
    assert!(imports.iter().all(|i| i["matches"] == true), "{imports:?}");
    let exports = report["exports"].as_array().unwrap();
    assert!(exports.iter().any(|e| e["name"] == "memory" && e["role"] == "abi"), "{exports:?}");
    assert!(exports.iter().any(|e| e["name"] == "NewOrder" && e["role"] == "extension"), "{exports:?}");
    let memory = &report["memory"];
    let (initial, after) = (memory["initial_pages"].as_u64().unwrap(), memory["after_init_pages"].as_u64().unwrap());
    assert!(initial >= 1 && after >= initial, "{memory}");
    assert_eq!(memory["limit_pages"], 256);
    assert_eq!(report["preinitialized"], true);
    assert_eq!(report["size_bytes"], extwasm_rust_examples::BASICUSAGE.wasm.len());
    assert!(report["functions"].as_u64().unwrap() > 0);
    assert!(report["load_ms"].as_f64().unwrap() > 0.0);

    let (code, text, _) = run(&mut extwasm(&dir, &["inspect", module.to_str().unwrap(), "--memory-limit-pages", "64"]));
    assert_eq!(code, Some(0));
    assert!(text.contains("abi           0.0.1"), "{text}");
    assert!(text.contains("limit 64 pages (4.0 MiB)"), "{text}");
    assert!(text.contains("env.hostGetValue (i64) -> i64  ok: host function of the ABI"), "{text}");
}

#[test]
fn inspect_says_why_a_module_does_not_load_and_exits_1() {
    let dir = scratch("inspect-bad");
    let wrong = UNKNOWN_IMPORT.replace(
        r#"(import "env" "hostNoSuch" (func))"#,
        r#"(import "env" "hostNoSuch" (func)) (import "env" "hostGetValue" (func (param i32) (result i64)))"#,
    );
    std::fs::write(dir.join("bad.wat"), wrong).unwrap();
    let (code, stdout, stderr) = run(&mut extwasm(&dir, &["inspect", "bad.wat", "--json"]));
    assert_eq!(code, Some(1), "{stderr}");
    let report: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["loads"], false);
    assert_eq!(report["load_error"]["kind"], "load");
    let imports = report["imports"].as_array().unwrap();
    assert_eq!(imports[0]["status"], "unknown");
    assert_eq!(imports[0]["matches"], false);
    assert_eq!(imports[1]["status"], "wrong-signature");
    assert_eq!(imports[1]["expected"], "(i64) -> i64");
    assert_eq!(report["extensions"], json!(["countOrders"]));

    let (code, text, _) = run(&mut extwasm(&dir, &["inspect", "bad.wat"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("load          FAILS (load)"), "{text}");
    assert!(text.contains("env.hostNoSuch () -> ()  NOT PROVIDED"), "{text}");
    assert!(text.contains("WRONG SIGNATURE: the engine's is (i64) -> i64"), "{text}");

    std::fs::write(dir.join("garbage.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
    let (code, _, stderr) = run(&mut extwasm(&dir, &["inspect", "garbage.wasm"]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not a valid WebAssembly module"), "{stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["inspect", "no-such.wasm"]));
    assert_eq!(code, Some(2), "{stderr}");
}

// ---- extwasm build ----

/// A command with a PATH of one empty folder: no cargo, rustc, go or tinygo.
fn without_toolchains(dir: &Path, args: &[&str]) -> Command {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut command = extwasm(dir, args);
    command.env("PATH", &empty);
    for variable in ["CARGO", "RUSTC", "EXTWASM_GO"] {
        command.env_remove(variable);
    }
    command
}

#[test]
fn build_without_the_toolchain_is_a_typed_error_with_exit_2() {
    let dir = scratch("build-no-tool");
    for (project, file, content) in
        [("rusty", "Cargo.toml", "[package]\nname = \"rusty\"\n"), ("gopher", "go.mod", "module gopher\n\ngo 1.24\n")]
    {
        std::fs::create_dir_all(dir.join(project)).unwrap();
        std::fs::write(dir.join(project).join(file), content).unwrap();
    }

    let (code, _, stderr) = run(&mut without_toolchains(&dir, &["build", "rusty"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cargo is not installed (not found on PATH="), "{stderr}");
    assert!(stderr.contains("rustup"), "says how to install it: {stderr}");
    let (code, _, stderr) = run(&mut without_toolchains(&dir, &["build", "gopher"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("go is not installed"), "{stderr}");
    assert!(stderr.contains("EXTWASM_GO"), "{stderr}");
    let (code, _, stderr) = run(&mut without_toolchains(&dir, &["build", "gopher", "--tinygo"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("tinygo is not installed"), "{stderr}");
    let (code, _, stderr) = run(&mut without_toolchains(&dir, &["build", "rusty", "--tinygo"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tinygo builds Go projects"), "{stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["build", "empty-path"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("has no Cargo.toml (Rust) or go.mod (Go)"), "{stderr}");
}

/// A `tinygo` that records its arguments in `tinygo-args` beside it and
/// "compiles" the Rust example `basicusage` to its `-o` file.
#[cfg(unix)]
fn fake_tinygo(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let module = basicusage(dir);
    let script = format!(
        "#!/bin/sh\necho \"$@\" > {args}\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = -o ]; then /bin/cp {module} \"$2\"; fi\n  \
         shift\ndone\n",
        args = bin.join("tinygo-args").display(),
        module = module.display(),
    );
    std::fs::write(bin.join("tinygo"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("tinygo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[cfg(unix)]
#[test]
fn build_uses_tinygo_when_the_project_asks_or_when_it_is_the_only_go() {
    let dir = scratch("build-tinygo");
    let bin = fake_tinygo(&dir);
    let project = dir.join("gopher");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("go.mod"), "module example.com/gopher\n\ngo 1.24\n").unwrap();

    // No standard Go, tinygo on the PATH: TinyGo, said on stderr.
    let (code, stdout, stderr) = run(without_toolchains(&dir, &["build", "gopher"]).env("PATH", &bin));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("no standard Go") && stderr.contains("building with tinygo"), "{stderr}");
    assert!(stdout.contains("built with  tinygo -target=wasip1 -buildmode=c-shared"), "{stdout}");
    assert!(stdout.contains("extensions  CalcOrderedItems, NewOrder"), "{stdout}");
    let args = std::fs::read_to_string(bin.join("tinygo-args")).unwrap();
    assert!(
        args.starts_with("build -target=wasip1 -buildmode=c-shared -gc=leaking -scheduler=none -opt=2 -o "),
        "{args}"
    );
    assert_eq!(std::fs::read(project.join("gopher.wasm")).unwrap(), extwasm_rust_examples::BASICUSAGE.wasm);

    // Asked for in go.mod: TinyGo, even with a standard Go at hand.
    std::fs::remove_file(project.join("gopher.wasm")).unwrap();
    std::fs::write(project.join("go.mod"), "module gopher\n\n// extwasm: tinygo\ngo 1.24\n").unwrap();
    let path = std::env::join_paths(
        [bin.clone()].into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let (code, stdout, stderr) = run(extwasm(&dir, &["build", "gopher", "-o", "x.wasm"]).env("PATH", path));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stderr.contains("no standard Go"), "{stderr}");
    assert!(stdout.contains("built with  tinygo"), "{stdout}");
    assert!(dir.join("x.wasm").is_file() && !project.join("gopher.wasm").exists());
}

/// The scaffold's projects build into these, shared between runs.
fn cargo_target(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Environment of the outer build that must not reach a project's cargo.
const OUTER_CARGO: &[&str] = &["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_TARGET"];

fn cargo_env<'a>(command: &'a mut Command, target: &str) -> &'a mut Command {
    for variable in OUTER_CARGO {
        command.env_remove(variable);
    }
    command.env("CARGO_TARGET_DIR", cargo_target(target)).env("CARGO_NET_OFFLINE", "true")
}

#[test]
fn build_refuses_to_write_a_module_that_would_not_load() {
    let dir = scratch("build-bad");
    let project = dir.join("badimport");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"badimport\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\ncrate-type = \
         [\"cdylib\"]\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        project.join("src/lib.rs"),
        r#"#![no_std]
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn hostNoSuch();
}
#[unsafe(export_name = "WasmAbiVersion_0_0_1")]
pub extern "C" fn abi_version() {}
#[unsafe(export_name = "countOrders")]
pub extern "C" fn count_orders() {
    // SAFETY: a test of a module the engine refuses; it never runs.
    unsafe { hostNoSuch() }
}
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"#,
    )
    .unwrap();
    let (code, stdout, stderr) =
        run(cargo_env(&mut extwasm(&dir, &["build", "badimport", "-o", "out.wasm"]), "badimport"));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("out.wasm would not load"), "{stderr}");
    assert!(stderr.contains("hostNoSuch"), "the engine's reason: {stderr}");
    assert!(stderr.contains("not written"), "{stderr}");
    assert!(!dir.join("out.wasm").exists(), "nothing is written");
}

// ---- extwasm new, and the author's flow on what it makes ----

#[test]
fn new_refuses_a_folder_with_files_and_bad_names() {
    let dir = scratch("new-usage");
    std::fs::write(dir.join("file"), "").unwrap();
    let (code, _, stderr) = run(&mut extwasm(&dir, &["new", ".", "--lang", "rust", "--name", "ok"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("exists and is not empty"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "nothing written");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["new", "p", "--lang", "go", "--name", "2fast"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must start with an ASCII letter"), "{stderr}");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["new", "q", "--lang", "rust", "--sdk", "/no/such/checkout"]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("no Rust SDK at /no/such/checkout/guest-sdk/Cargo.toml"), "{stderr}");
}

/// `extwasm test` and `inspect` on the module a generated project built.
fn check_built_module(project: &Path, module: &str) {
    let (code, stdout, stderr) = run(&mut extwasm(project, &["inspect", module, "--json"]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let report: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["abi_version"], "0.0.1");
    assert_eq!(report["extensions"], json!(["countOrders"]));
    assert_eq!(report["name_section"], true, "function names for backtraces");

    let (code, stdout, stderr) = run(&mut extwasm(project, &["test", "scenarios.json", "--module", module]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("4 scenarios: 4 passed, 0 failed"), "{stdout}");

    // A changed expectation fails with the difference.
    let scenarios = std::fs::read_to_string(project.join("scenarios.json")).unwrap();
    let broken = scenarios.replacen(r#""orders": 2, "total": 500"#, r#""orders": 2, "total": 501"#, 1);
    assert_ne!(broken, scenarios);
    std::fs::write(project.join("broken.json"), broken).unwrap();
    let (code, stdout, _) = run(&mut extwasm(project, &["test", "broken.json", "--module", module]));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("step 2 of 2, countOrders: expected 1 intent"), "{stdout}");
    assert!(stdout.contains("intents[0].value.total: expected 501, got 500"), "{stdout}");
}

#[test]
fn a_new_rust_project_passes_its_tests_builds_and_passes_its_scenarios() {
    let dir = scratch("new-rust");
    let (code, stdout, stderr) = run(&mut extwasm(&dir, &["new", "orders", "--lang", "rust"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("cargo test"), "{stdout}");
    let project = dir.join("orders");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (code, stdout, stderr) = run(cargo_env(Command::new(&cargo).current_dir(&project).arg("test"), "new-rust"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("test result: ok. 2 passed"), "{stdout}");
    assert!(!stderr.contains("wasmtime"), "the unit tests compile no wasmtime: {stderr}");

    let (code, stdout, stderr) = run(cargo_env(&mut extwasm(&project, &["build"]), "new-rust"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("orders.wasm") && stdout.contains("extensions  countOrders"), "{stdout}");
    assert!(project.join("orders.wasm").is_file());
    check_built_module(&project, "orders.wasm");
}

/// Standard Go: `$EXTWASM_GO`, else `go` on the PATH; `None` after saying
/// loudly that the Go test is skipped.
fn go() -> Option<PathBuf> {
    let go = std::env::var_os("EXTWASM_GO").map(PathBuf::from).unwrap_or_else(|| "go".into());
    if Command::new(&go).arg("version").output().is_ok_and(|o| o.status.success()) {
        return Some(go);
    }
    let what = "the Go test of extwasm new: no Go (set EXTWASM_GO or put go on the PATH)";
    assert!(std::env::var("CI").map_or(true, |ci| ci != "true"), "{what}, and CI=true: fails rather than skips");
    eprintln!("SKIPPED: {what}");
    None
}

#[test]
fn a_new_go_project_passes_its_tests_builds_and_passes_its_scenarios() {
    let Some(go) = go() else { return };
    let dir = scratch("new-go");
    let (code, _, stderr) = run(&mut extwasm(&dir, &["new", "gorders", "--lang", "go"]));
    assert_eq!(code, Some(0), "{stderr}");
    let project = dir.join("gorders");
    let (code, stdout, stderr) =
        run(Command::new(&go).current_dir(&project).args(["test", "./..."]).env("GOFLAGS", "-count=1"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok"), "{stdout}");
    // The project itself builds with plain `go build` for wasip1 too.
    let (code, stdout, stderr) = run(Command::new(&go)
        .current_dir(&project)
        .args(["build", "-buildmode=c-shared", "-o", "plain.wasm", "."])
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    let (code, stdout, stderr) = run(extwasm(&project, &["build"]).env("EXTWASM_GO", &go));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("gorders.wasm") && stdout.contains("extensions  countOrders"), "{stdout}");
    check_built_module(&project, "gorders.wasm");
}
