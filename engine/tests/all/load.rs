//! Load-time validation, with inline WAT modules: what `Engine::load_package`
//! and `Worker::add_package` refuse (each a typed `LoadError` naming the
//! export or import and, for signatures, both of them), how WASI links,
//! how initialisation runs (`_initialize`, `_start`, `proc_exit`, the
//! exchange buffer's `malloc`), and which configurations are invalid.

use crate::common;

use extwasm_abi::{GUEST_EXPORTS, HOST_IMPORTS, RESERVED_EXTENSION_NAMES, ValType, export};
use extwasm_engine::{Config, Engine, Error, ErrorKind, JsonState, LoadError, LoadPhase, Package, Worker};
use serde_json::{Value as Json, json};

const PKG: &str = "p";

/// A module: `imports`, a one-page memory, the ABI version export, `items`.
fn module(imports: &str, items: &str) -> String {
    format!(
        "(module\n  {imports}\n  (memory (export \"memory\") 1)\n  (func (export \"WasmAbiVersion_0_0_1\"))\n  {items}\n)"
    )
}

/// The imports, data and helpers to report numbers: `$begin` makes this
/// invocation's `sys.Out` intent, `$put name_ptr name_len value` puts an
/// int32 field on it.
const REPORT_IMPORTS: &str = r#"
  (import "env" "hostGetKey" (func $hostGetKey (param i32 i32 i32 i32) (result i64)))
  (import "env" "hostNewValue" (func $hostNewValue (param i64) (result i64)))
  (import "env" "hostRowWriterPutInt32" (func $hostRowWriterPutInt32 (param i64 i32 i32 i32 i32)))"#;
const REPORT: &str = r#"
  (data (i32.const 0x100) "sys.Out")
  (global $out (mut i64) (i64.const 0))
  (func $begin
    (global.set $out (call $hostNewValue (call $hostGetKey (i32.const 0x100) (i32.const 7) (i32.const 0) (i32.const 0)))))
  (func $put (param i32 i32 i32)
    (call $hostRowWriterPutInt32 (global.get $out) (i32.const 1) (local.get 0) (local.get 1) (local.get 2)))"#;

fn engine(config: Config) -> Engine {
    Engine::new(config).expect("valid config")
}

fn load(wat: &str, extensions: &[&str]) -> Result<Package, Error> {
    engine(Config::default()).load_package(PKG, wat.as_bytes(), extensions)
}

/// Loads and instantiates; initialisation runs in one or the other.
fn instantiate(wat: &str, extensions: &[&str]) -> Result<Worker<JsonState>, Error> {
    let engine = engine(Config::default());
    let package = engine.load_package(PKG, wat.as_bytes(), extensions)?;
    let mut worker = Worker::new(&engine);
    worker.add_package(&package)?;
    Ok(worker)
}

/// The `load` error that loading (or instantiating) `wat` must give.
#[track_caller]
fn load_error(wat: &str, extensions: &[&str]) -> LoadError {
    match instantiate(wat, extensions) {
        Ok(_) => panic!("loaded:\n{wat}"),
        Err(Error::Load { package, error }) => {
            assert_eq!(package, PKG);
            error
        }
        Err(other) => panic!("not a load error: {other}"),
    }
}

#[track_caller]
fn assert_load_error(wat: &str, extensions: &[&str], want: LoadError) {
    let error = load_error(wat, extensions);
    assert_eq!(error, want, "{error}");
}

/// An owned string, for the fields of an expected error.
fn s(text: impl Into<String>) -> String {
    text.into()
}

/// The intents of `extension`, as JSON.
fn run(worker: &mut Worker<JsonState>, extension: &str) -> Vec<Json> {
    let state = JsonState::from_json_str("{}").unwrap();
    common::intents(worker, PKG, extension, &state).unwrap_or_else(|e| panic!("{extension}: {e}"))
}

/// The single `sys.Out` intent's value.
fn report(worker: &mut Worker<JsonState>, extension: &str) -> Json {
    let intents = run(worker, extension);
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0]["storage"], "sys.Out");
    intents[0]["value"].clone()
}

/// `(i32, i64) -> i32`, as the engine renders signatures.
fn render(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    let results = match results {
        [] => "()".to_owned(),
        [one] => one.as_str().to_owned(),
        many => format!("({})", list(many)),
    };
    format!("({}) -> {results}", list(params))
}

/// ` (param …) (result …)`.
fn signature(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    if !params.is_empty() {
        out += &format!(" (param {})", list(params));
    }
    if !results.is_empty() {
        out += &format!(" (result {})", list(results));
    }
    out
}

fn import(module: &str, name: &str, params: &[ValType], results: &[ValType]) -> String {
    format!("(import \"{module}\" \"{name}\" (func{}))", signature(params, results))
}

use ValType::{F32, F64, I32, I64};

// ---------------------------------------------------------------------------
// Exports.
// ---------------------------------------------------------------------------

#[test]
fn a_minimal_module_loads_and_runs() {
    let wat = module(REPORT_IMPORTS, &format!(r#"{REPORT} (func (export "run") (call $begin))"#));
    let mut worker = instantiate(&wat, &["run"]).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({}));
}

#[test]
fn a_module_without_memory_is_refused() {
    let no_memory = r#"(module (func (export "WasmAbiVersion_0_0_1")) (func (export "run")))"#;
    assert_load_error(no_memory, &["run"], LoadError::NoMemory);
    let other_name =
        r#"(module (memory (export "mem") 1) (func (export "WasmAbiVersion_0_0_1")) (func (export "run")))"#;
    assert_load_error(other_name, &["run"], LoadError::NoMemory);
    let a_function =
        r#"(module (func (export "memory")) (func (export "WasmAbiVersion_0_0_1")) (func (export "run")))"#;
    assert_load_error(a_function, &["run"], LoadError::NoMemory);
}

#[test]
fn a_module_without_the_abi_version_export_is_refused_with_the_exact_message() {
    let wat = r#"(module (memory (export "memory") 1) (func (export "run")))"#;
    let error = load_error(wat, &["run"]);
    assert_eq!(error, LoadError::NoAbiVersion);
    assert_eq!(
        error.to_string(),
        "module exports no WasmAbiVersion_0_0_1: built with an SDK this engine does not speak"
    );
    // Another ABI's version marker is not this one.
    let other = r#"(module (memory (export "memory") 1) (func (export "WasmAbiVersion_0_0_2")) (func (export "run")))"#;
    assert_eq!(load_error(other, &["run"]), LoadError::NoAbiVersion);
    let a_global = r#"(module (memory (export "memory") 1) (global (export "WasmAbiVersion_0_0_1") i32 (i32.const 1)) (func (export "run")))"#;
    let not_a_function = LoadError::ExportNotAFunction { export: s("WasmAbiVersion_0_0_1"), found: "global" };
    assert_load_error(a_global, &["run"], not_a_function);
}

/// The reference engine calls `WasmAbiVersion_0_0_1` at load (see the ABI
/// reference); a guest whose version function traps is refused there.
#[test]

fn the_abi_version_function_is_called_at_load() {
    let wat = r#"(module (memory (export "memory") 1) (func (export "WasmAbiVersion_0_0_1") unreachable) (func (export "run")))"#;
    let error = load_error(wat, &["run"]);
    assert!(
        matches!(&error, LoadError::Initialization { phase: LoadPhase::AbiVersion, detail } if detail.contains("unreachable")),
        "{error:?}"
    );
}

#[test]
fn every_abi_export_with_a_wrong_signature_is_refused_naming_both_signatures() {
    for known in GUEST_EXPORTS.iter().filter(|e| e.name != export::MEMORY) {
        let mut wrong = known.params.to_vec();
        wrong.push(I64);
        let export = format!("(func (export \"{}\"){} unreachable)", known.name, signature(&wrong, known.results));
        let wat = if known.name == export::ABI_VERSION {
            format!(r#"(module (memory (export "memory") 1) {export} (func (export "run")))"#)
        } else {
            module("", &format!(r#"{export} (func (export "run"))"#))
        };
        let want = LoadError::ExportSignature {
            export: s(known.name),
            found: render(&wrong, known.results),
            expected: render(known.params, known.results),
        };
        assert_load_error(&wat, &["run"], want);
    }
    let a_memory = module("", r#"(global (export "malloc") i32 (i32.const 0)) (func (export "run"))"#);
    assert_load_error(&a_memory, &["run"], LoadError::ExportNotAFunction { export: s("malloc"), found: "global" });
}

#[test]
fn extensions_must_be_exported_functions_of_no_arguments_and_no_results() {
    let wat = module(
        "",
        r#"(func (export "run"))
           (func (export "takes") (param i32))
           (func (export "gives") (result i32) (i32.const 0))
           (func (export "both") (param i64 f64) (result f32) (f32.const 0))
           (global (export "a_global") i32 (i32.const 0))
           (table (export "a_table") 1 funcref)"#,
    );
    let signature =
        |extension: &str, found: &str| LoadError::ExtensionSignature { extension: s(extension), found: s(found) };
    assert_load_error(&wat, &["run", "nope"], LoadError::missing_extension("nope", ["run"]));
    assert_load_error(&wat, &["takes"], signature("takes", "(i32) -> ()"));
    assert_load_error(&wat, &["gives"], signature("gives", "() -> i32"));
    assert_load_error(&wat, &["both"], signature("both", "(i64, f64) -> f32"));
    assert_load_error(&wat, &["a_global"], LoadError::ExportNotAFunction { export: s("a_global"), found: "global" });
    assert_load_error(&wat, &["a_table"], LoadError::ExportNotAFunction { export: s("a_table"), found: "table" });
    assert_load_error(&wat, &["run", "run"], LoadError::DuplicateExtension { extension: s("run") });
    // No extensions at all is a valid (if useless) package.
    assert!(instantiate(&wat, &[]).is_ok());
}

#[test]
fn reserved_names_cannot_name_extensions() {
    // Every reserved name, exported as a perfectly good () -> () function
    // where the ABI allows it.
    let wat = module(
        "",
        r#"(func (export "WasmX")) (func (export "WasmGC")) (func (export "_start")) (func (export "_initialize"))
           (func (export "wasmLower")) (func (export "Wasm"))"#,
    );
    let mut names: Vec<&str> = RESERVED_EXTENSION_NAMES.to_vec();
    names.extend(["WasmX", "Wasm", "WasmGC", "WasmOnReadValue", "WasmAbiVersion_0_0_1"]);
    for name in names {
        assert_load_error(&wat, &[name], LoadError::ReservedName { extension: s(name) });
    }
    // Only the exact prefix is reserved.
    assert!(instantiate(&wat, &["wasmLower"]).is_ok());
}

// ---------------------------------------------------------------------------
// Imports.
// ---------------------------------------------------------------------------

#[test]
fn host_imports_with_a_wrong_signature_name_the_import_and_both_signatures() {
    for host in HOST_IMPORTS {
        let extra_param = {
            let mut params = host.params.to_vec();
            params.push(I32);
            (params, host.results.to_vec())
        };
        let other_result = (
            host.params.to_vec(),
            match host.results {
                [] => vec![I32],
                [I32] => vec![I64],
                _ => vec![],
            },
        );
        let dropped_param = (host.params[..host.params.len() - 1].to_vec(), host.results.to_vec());
        for (params, results) in [extra_param, other_result, dropped_param] {
            let wat = module(&import("env", host.name, &params, &results), r#"(func (export "run"))"#);
            let want = LoadError::ImportSignature {
                module: s("env"),
                name: s(host.name),
                found: render(&params, &results),
                expected: render(host.params, host.results),
            };
            assert_load_error(&wat, &["run"], want);
        }
    }
}

#[test]
fn unknown_imports_are_refused() {
    let run = r#"(func (export "run"))"#;
    let unknown = module(&import("env", "hostNope", &[I32], &[]), run);
    let error = load_error(&unknown, &["run"]);
    let want = LoadError::UnknownImport { module: s("env"), name: s("hostNope"), signature: s("(i32) -> ()") };
    assert_eq!(error, want);
    assert_eq!(error.to_string(), "import env.hostNope (i32) -> () is not a host function of ABI 0.0.1");
    // Names are case-sensitive.
    let lower = module(&import("env", "hostgetkey", &[I32, I32, I32, I32], &[I64]), run);
    let signature = s("(i32, i32, i32, i32) -> i64");
    assert_load_error(
        &lower,
        &["run"],
        LoadError::UnknownImport { module: s("env"), name: s("hostgetkey"), signature },
    );
    for module_name in ["wasi_unstable", "env2", ""] {
        let wat = module(&import(module_name, "fd_write", &[I32, I32, I32, I32], &[I32]), run);
        assert_load_error(
            &wat,
            &["run"],
            LoadError::UnknownImportModule { module: s(module_name), name: s("fd_write") },
        );
    }
    let wasi = module(&import("wasi_snapshot_preview1", "sock_open", &[I32], &[I32]), run);
    let error = load_error(&wasi, &["run"]);
    assert!(matches!(&error, LoadError::UnknownImport { name, .. } if name == "sock_open"), "{error:?}");
    assert_eq!(
        error.to_string(),
        "import wasi_snapshot_preview1.sock_open is not a WASI preview 1 function this engine provides"
    );
}

#[test]
fn only_functions_can_be_imported() {
    let run = r#"(func (export "run"))"#;
    for (kind, decl) in [
        ("memory", r#"(import "env" "memory" (memory 1))"#),
        ("global", r#"(import "env" "g" (global i32))"#),
        ("table", r#"(import "env" "t" (table 1 funcref))"#),
    ] {
        // An imported memory replaces the module's own.
        let wat = if kind == "memory" {
            format!(r#"(module {decl} (export "memory" (memory 0)) (func (export "WasmAbiVersion_0_0_1")) {run})"#)
        } else {
            module(decl, run)
        };
        let name = decl.split('"').nth(3).unwrap();
        assert_load_error(
            &wat,
            &["run"],
            LoadError::ImportNotAFunction { module: s("env"), name: s(name), found: kind },
        );
    }
}

/// The WASI preview 1 functions the engine implements, with their signatures.
const WASI_SUPPORTED: &[(&str, &[ValType], &[ValType])] = &[
    ("fd_write", &[I32, I32, I32, I32], &[I32]),
    ("proc_exit", &[I32], &[]),
    ("clock_time_get", &[I32, I64, I32], &[I32]),
    ("random_get", &[I32, I32], &[I32]),
    ("args_get", &[I32, I32], &[I32]),
    ("args_sizes_get", &[I32, I32], &[I32]),
    ("environ_get", &[I32, I32], &[I32]),
    ("environ_sizes_get", &[I32, I32], &[I32]),
    ("sched_yield", &[], &[I32]),
    ("poll_oneoff", &[I32, I32, I32, I32], &[I32]),
];

#[test]
fn supported_wasi_imports_with_a_wrong_signature_are_refused() {
    // The table the Rust SDK checks its fd_write import against is this list.
    let abi_table: Vec<_> = extwasm_abi::WASI_IMPORTS.iter().map(|w| (w.name, w.params, w.results)).collect();
    assert_eq!(abi_table, WASI_SUPPORTED);
    for (name, params, results) in WASI_SUPPORTED {
        let mut wrong = params.to_vec();
        wrong.push(F64);
        let wat = module(&import("wasi_snapshot_preview1", name, &wrong, results), r#"(func (export "run"))"#);
        let want = LoadError::ImportSignature {
            module: s("wasi_snapshot_preview1"),
            name: s(*name),
            found: render(&wrong, results),
            expected: render(params, results),
        };
        assert_load_error(&wat, &["run"], want);
    }
    // A denied function may have any parameters, but must return an errno.
    let errno = |found: &str| LoadError::ImportSignature {
        module: s("wasi_snapshot_preview1"),
        name: s("fd_close"),
        found: s(found),
        expected: s("(…) -> i32"),
    };
    let no_errno = module(&import("wasi_snapshot_preview1", "fd_close", &[I32], &[]), r#"(func (export "run"))"#);
    assert_load_error(&no_errno, &["run"], errno("(i32) -> ()"));
    let wide_errno = module(&import("wasi_snapshot_preview1", "fd_close", &[I32], &[I64]), r#"(func (export "run"))"#);
    assert_load_error(&wide_errno, &["run"], errno("(i32) -> i64"));
}

#[test]
fn wasi_functions_link_and_answer_without_a_filesystem() {
    let w = "wasi_snapshot_preview1";
    let imports = [
        REPORT_IMPORTS.to_owned(),
        import(w, "fd_close", &[I32], &[I32]),
        import(w, "fd_read", &[I32, I32, I32, I32], &[I32]),
        import(w, "fd_seek", &[I32, I64, I32, I32], &[I32]),
        import(w, "fd_prestat_get", &[I32, I32], &[I32]),
        import(w, "path_open", &[I32, I32, I32, I32, I32, I64, I64, I32, I32], &[I32]),
        import(w, "sock_accept", &[I32, I32, I32], &[I32]),
        import(w, "fd_write", &[I32, I32, I32, I32], &[I32]),
        import(w, "args_sizes_get", &[I32, I32], &[I32]),
        import(w, "random_get", &[I32, I32], &[I32]),
        import(w, "sched_yield", &[], &[I32]),
    ]
    .join("\n  ");
    // Import names become function indices 3.. (after the three report imports).
    let items = format!(
        r#"{REPORT}
  (data (i32.const 0x200) "fd_close") (data (i32.const 0x210) "fd_read") (data (i32.const 0x220) "fd_seek")
  (data (i32.const 0x230) "fd_prestat_get") (data (i32.const 0x240) "path_open") (data (i32.const 0x250) "sock_accept")
  (data (i32.const 0x260) "fd_write_3") (data (i32.const 0x270) "args_sizes_get") (data (i32.const 0x280) "argc")
  (data (i32.const 0x290) "random_get") (data (i32.const 0x2a0) "sched_yield")
  (func (export "run")
    (call $begin)
    (i32.store (i32.const 0x400) (i32.const 77))
    (call $put (i32.const 0x200) (i32.const 8) (call 3 (i32.const 3)))
    (call $put (i32.const 0x210) (i32.const 7) (call 4 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
    (call $put (i32.const 0x220) (i32.const 7) (call 5 (i32.const 3) (i64.const 0) (i32.const 0) (i32.const 0)))
    (call $put (i32.const 0x230) (i32.const 14) (call 6 (i32.const 3) (i32.const 0x300)))
    (call $put (i32.const 0x240) (i32.const 9)
      (call 7 (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))
    (call $put (i32.const 0x250) (i32.const 11) (call 8 (i32.const 3) (i32.const 0) (i32.const 0)))
    (call $put (i32.const 0x260) (i32.const 10) (call 9 (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0x300)))
    (call $put (i32.const 0x270) (i32.const 14) (call 10 (i32.const 0x400) (i32.const 0x404)))
    (call $put (i32.const 0x280) (i32.const 4) (i32.load (i32.const 0x400)))
    (call $put (i32.const 0x290) (i32.const 10) (call 11 (i32.const 0x500) (i32.const 64)))
    (call $put (i32.const 0x2a0) (i32.const 11) (call 12)))"#
    );
    let mut worker = instantiate(&module(&imports, &items), &["run"]).unwrap();
    assert_eq!(
        report(&mut worker, "run"),
        json!({"fd_close": 8, "fd_read": 8, "fd_seek": 8, "fd_prestat_get": 8, "path_open": 76, "sock_accept": 8,
               "fd_write_3": 8, "args_sizes_get": 0, "argc": 0, "random_get": 0, "sched_yield": 0})
    );
}

#[test]
fn a_denied_wasi_function_links_with_whatever_parameters_the_module_declares() {
    let imports = format!("{REPORT_IMPORTS}\n  {}", import("wasi_snapshot_preview1", "fd_close", &[I64, F32], &[I32]));
    let items = format!(
        r#"{REPORT} (data (i32.const 0x200) "errno")
           (func (export "run") (call $begin) (call $put (i32.const 0x200) (i32.const 5) (call 3 (i64.const 3) (f32.const 0))))"#
    );
    let mut worker = instantiate(&module(&imports, &items), &["run"]).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({"errno": 8}));
}

#[test]
fn both_names_of_the_bool_put_link_and_work() {
    let imports = format!(
        "{REPORT_IMPORTS}\n  {}\n  {}",
        import("env", "hostRowWriterPutBool", &[I64, I32, I32, I32, I32], &[]),
        import("env", "hostRowWriterPutIntBool", &[I64, I32, I32, I32, I32], &[])
    );
    let items = format!(
        r#"{REPORT} (data (i32.const 0x200) "ab")
           (func (export "run")
             (call $begin)
             (call 3 (global.get $out) (i32.const 1) (i32.const 0x200) (i32.const 1) (i32.const 1))
             (call 4 (global.get $out) (i32.const 1) (i32.const 0x201) (i32.const 1) (i32.const 0)))"#
    );
    let mut worker = instantiate(&module(&imports, &items), &["run"]).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({"a": true, "b": false}));
}

#[test]
fn imports_that_return_bytes_need_a_malloc_export() {
    let malloc = r#"(func (export "malloc") (param i32) (result i32) (i32.const 0x400))"#;
    let run = r#"(func (export "run"))"#;
    let bytes_imports: Vec<_> = HOST_IMPORTS.iter().filter(|i| i.function.returns_bytes()).collect();
    assert_eq!(bytes_imports.len(), 12, "String, Bytes, QNamePkg, QNameEntity × ValueAs, ValueGetAs, KeyAs");
    for host in bytes_imports {
        let declared = import("env", host.name, host.params, host.results);
        let on_read = r#"(func (export "WasmOnReadValue") (param i64 i64))"#;
        let want = LoadError::MissingExportFor { export: "malloc", import: s(host.name) };
        assert_load_error(&module(&declared, &format!("{run} {on_read}")), &["run"], want);
        assert!(instantiate(&module(&declared, &format!("{run} {malloc}")), &["run"]).is_ok(), "{}", host.name);
    }
    // Imports that return no bytes do not need it.
    for host in HOST_IMPORTS.iter().filter(|i| !i.function.returns_bytes() && i.name != "hostReadValues") {
        let wat = module(&import("env", host.name, host.params, host.results), run);
        assert!(load(&wat, &["run"]).is_ok(), "{}", host.name);
    }
}

#[test]
fn read_values_needs_the_read_callback_export() {
    let read = import("env", "hostReadValues", &[I64], &[]);
    let run = r#"(func (export "run"))"#;
    let want = LoadError::MissingExportFor { export: "WasmOnReadValue", import: s("hostReadValues") };
    assert_load_error(&module(&read, run), &["run"], want);
    let on_read = r#"(func (export "WasmOnReadValue") (param i64 i64))"#;
    assert!(instantiate(&module(&read, &format!("{run} {on_read}")), &["run"]).is_ok());
    let ill_typed = r#"(func (export "WasmOnReadValue") (param i64))"#;
    let want = LoadError::ExportSignature {
        export: s("WasmOnReadValue"),
        found: s("(i64) -> ()"),
        expected: s("(i64, i64) -> ()"),
    };
    assert_load_error(&module(&read, &format!("{run} {ill_typed}")), &["run"], want);
}

#[test]
fn invalid_wasm_is_refused() {
    for bytes in [
        &b""[..],
        b"not wasm at all",
        b"\0asm",
        b"\0asm\x02\0\0\0",
        b"\0asm\x01\0\0\0\x01\xff\xff\xff\xff\x0f",
        b"(module (func (export \"run\") (i32.add)))",
        b"(module (func (export \"run\") (drop (i32.const 0))",
        b"(module (memory (export \"memory\") 1) (func (export \"WasmAbiVersion_0_0_1\")) (func (export \"run\") (call 99)))",
    ] {
        let err = match engine(Config::default()).load_package(PKG, bytes, &["run"]) {
            Ok(_) => panic!("{:?} loaded", String::from_utf8_lossy(bytes)),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::Load, "{err}");
        assert!(err.to_string().starts_with("package \"p\": not a valid WebAssembly module"), "{err}");
    }
}

// ---------------------------------------------------------------------------
// Initialisation.
// ---------------------------------------------------------------------------

/// A module that reports its global `$g`, with `init` among its items.
fn reports_global(imports: &str, init: &str) -> String {
    let imports = format!("{REPORT_IMPORTS}\n  {imports}");
    module(
        &imports,
        &format!(
            r#"{REPORT} (data (i32.const 0x200) "g") (global $g (mut i32) (i32.const 0))
               {init}
               (func (export "run") (call $begin) (call $put (i32.const 0x200) (i32.const 1) (global.get $g)))"#
        ),
    )
}

const PROC_EXIT: &str = r#"(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))"#;
const FD_WRITE: &str =
    r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#;

#[test]
fn start_runs_once_and_proc_exit_0_there_is_success() {
    let wat = reports_global(
        PROC_EXIT,
        r#"(func (export "_start") (global.set $g (i32.add (global.get $g) (i32.const 42))) (call $proc_exit (i32.const 0)) unreachable)"#,
    );
    let mut worker = instantiate(&wat, &["run"]).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({"g": 42}));
    assert_eq!(report(&mut worker, "run"), json!({"g": 42}));
}

#[test]
fn initialize_is_preferred_over_start() {
    let wat = reports_global(
        "",
        r#"(func (export "_start") unreachable) (func (export "_initialize") (global.set $g (i32.const 7)))"#,
    );
    let mut worker = instantiate(&wat, &["run"]).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({"g": 7}));
}

#[test]
fn failing_initialisation_is_a_load_error() {
    let print = |text: &str| {
        format!(
            r#"(data (i32.const 0x800) "{text}")
               (func $print (i32.store (i32.const 0x10) (i32.const 0x800)) (i32.store (i32.const 0x14) (i32.const {}))
                 (drop (call $fd_write (i32.const 1) (i32.const 0x10) (i32.const 1) (i32.const 0x18))))"#,
            text.len() - text.matches("\\n").count()
        )
    };
    let get_value = r#"(import "env" "hostGetValue" (func $hostGetValue (param i64) (result i64)))"#;
    use LoadPhase::{Initialize, Start, StartFunction};
    for (imports, init, phase, needle) in [
        ("", r#"(func (export "_start") unreachable)"#.to_owned(), Start, "unreachable"),
        ("", r#"(func (export "_initialize") unreachable)"#.to_owned(), Initialize, "unreachable"),
        (PROC_EXIT, r#"(func (export "_start") (call $proc_exit (i32.const 3)))"#.to_owned(), Start, "proc_exit(3)"),
        (
            FD_WRITE,
            format!(r#"{} (func (export "_start") (call $print) unreachable)"#, print("panic: init failed\\n")),
            Start,
            "panic: init failed",
        ),
        (
            get_value,
            r#"(func (export "_initialize") (drop (call $hostGetValue (call $hostGetKey (i32.const 0x100) (i32.const 7) (i32.const 0) (i32.const 0)))))"#.to_owned(),
            Initialize,
            "hostGetValue called outside an invocation",
        ),
        (
            r#"(import "env" "hostPanic" (func $hostPanic (param i32 i32)))"#,
            r#"(data (i32.const 0x800) "init boom") (func (export "_initialize") (call $hostPanic (i32.const 0x800) (i32.const 9)))"#.to_owned(),
            Initialize,
            "extension p/<initialisation> panicked: init boom",
        ),
        // A start function that traps (its message is in the test below).
        ("", r#"(func $boom unreachable) (start $boom)"#.to_owned(), StartFunction, "unreachable"),
    ] {
        let wat = reports_global(imports, &init);
        let error = load_error(&wat, &["run"]);
        assert!(
            matches!(&error, LoadError::Initialization { phase: p, detail } if *p == phase && detail.contains(needle)),
            "{init}: {error:?}\n  wants {phase:?} with: {needle}"
        );
    }
}

/// A wasm start section runs at instantiation, under the load deadline.
#[test]
fn a_start_section_runs_at_instantiation() {
    let wat = reports_global("", r#"(func $init (global.set $g (i32.const 5))) (start $init)"#);
    let mut worker = instantiate(&wat, &["run"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report(&mut worker, "run"), json!({"g": 5}));
    let trapping = reports_global("", r#"(func $boom unreachable) (start $boom)"#);
    let error = load_error(&trapping, &["run"]);
    assert!(error.to_string().contains("unreachable"), "{error}");
    // The same with a fuel budget (a new store has no fuel).
    let fueled = engine(Config::default().timeout(None).fuel(Some(1_000_000)));
    if let Err(e) = fueled.load_package(PKG, wat.as_bytes(), &["run"]) {
        panic!("with fuel: {e}");
    }
}

#[test]
fn a_start_section_runs_at_instantiation_without_a_deadline() {
    let wat = reports_global("", r#"(func $init (global.set $g (i32.const 5))) (start $init)"#);
    let engine = engine(Config::default().timeout(None));
    let package = engine.load_package(PKG, wat.as_bytes(), &["run"]).unwrap();
    let mut worker = Worker::new(&engine);
    worker.add_package(&package).unwrap();
    assert_eq!(report(&mut worker, "run"), json!({"g": 5}));
}

/// `(func (export "malloc") …)` answering `ptr` to every call.
fn malloc_returning(body: &str) -> String {
    module("", &format!(r#"(func (export "run")) (func (export "malloc") (param i32) (result i32) {body})"#))
}

#[test]
fn a_bad_exchange_buffer_allocation_is_a_load_error() {
    // The default exchange buffer is 64 000 bytes; memory is one page (65 536).
    let last_fit = 65_536 - 64_000;
    assert!(instantiate(&malloc_returning(&format!("(i32.const {last_fit})")), &["run"]).is_ok());
    let outside = |ptr: u32| LoadError::ExchangeBuffer { ptr, size: 64_000, memory_size: 65_536 };
    for (body, want) in [
        ("(i32.const 0)".to_owned(), outside(0)),
        (format!("(i32.const {})", last_fit + 1), outside(last_fit + 1)),
        ("(i32.const -16)".to_owned(), outside(0xffff_fff0)),
    ] {
        assert_load_error(&malloc_returning(&body), &["run"], want);
    }
    let error = load_error(&malloc_returning("unreachable"), &["run"]);
    assert!(matches!(error, LoadError::Initialization { phase: LoadPhase::ExchangeBuffer, .. }), "{error:?}");
}

// ---------------------------------------------------------------------------
// Workers and configuration.
// ---------------------------------------------------------------------------

#[test]
fn a_package_of_another_engine_is_refused() {
    let wat = module("", r#"(func (export "run"))"#);
    let package = engine(Config::default()).load_package(PKG, wat.as_bytes(), &["run"]).unwrap();
    let other = engine(Config::default());
    let mut worker: Worker<JsonState> = Worker::new(&other);
    let err = worker.add_package(&package).unwrap_err();
    assert!(matches!(err, Error::Load { error: LoadError::ForeignEngine, .. }), "{err:?}");
    assert_eq!(err.to_string(), "package \"p\": package was compiled by another engine");
}

#[test]
fn unknown_packages_and_extensions() {
    let wat = module("", r#"(func (export "run")) (func (export "walk"))"#);
    let mut worker = instantiate(&wat, &["walk", "run"]).unwrap();
    let state = JsonState::from_json_str("{}").unwrap();
    let err = common::intents(&mut worker, "q", "run", &state).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownPackage, "{err}");
    assert_eq!(err.to_string(), "unknown package \"q\"");
    let err = common::intents(&mut worker, PKG, "fly", &state).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownExtension, "{err}");
    assert_eq!(err.to_string(), "package \"p\" has no extension \"fly\" (it has: run, walk)");
    // An export that is not a listed extension cannot be invoked either.
    let wat = module("", r#"(func (export "run")) (func (export "hidden"))"#);
    let mut worker = instantiate(&wat, &["run"]).unwrap();
    assert_eq!(common::intents(&mut worker, PKG, "hidden", &state).unwrap_err().kind(), ErrorKind::UnknownExtension);
    assert_eq!(run(&mut worker, "run"), Vec::<Json>::new());
}

#[test]
fn extensions_resolved_once_are_invoked_through_their_handle() {
    let wat =
        module(REPORT_IMPORTS, &format!(r#"{REPORT} (func (export "run") (call $begin)) (func (export "walk"))"#));
    let engine = engine(Config::default());
    let package = engine.load_package(PKG, wat.as_bytes(), &["walk", "run"]).unwrap();
    let run = package.extension("run").unwrap();
    assert_eq!((run.name(), run.package().name()), ("run", PKG));
    let err = package.extension("fly").unwrap_err();
    assert_eq!(err.to_string(), "package \"p\" has no extension \"fly\" (it has: run, walk)");

    let mut worker: Worker<JsonState> = Worker::new(&engine);
    let state = JsonState::from_json_str("{}").unwrap();
    // Not added yet: the handle names a package this worker does not have.
    assert_eq!(worker.call(&run, &state).err().map(|e| e.kind()), Some(ErrorKind::UnknownPackage));
    worker.add_package(&package).unwrap();
    for _ in 0..3 {
        assert_eq!(worker.call(&run, &state).unwrap().intents().len(), 1);
    }
    assert_eq!(worker.stats(PKG).unwrap().invocations, 3);
    // A package loaded again (a new version) is another package: handles
    // of the old one no longer reach the worker's instance.
    let again = engine.load_package(PKG, wat.as_bytes(), &["walk", "run"]).unwrap();
    worker.add_package(&again).unwrap();
    assert_eq!(worker.call(&run, &state).err().map(|e| e.kind()), Some(ErrorKind::UnknownPackage));
    assert_eq!(worker.call(&again.extension("run").unwrap(), &state).unwrap().intents().len(), 1);
}

#[track_caller]
fn config_error(config: Config, setting: &str, problem: &str) {
    let err = match Engine::new(config) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    };
    match &err {
        Error::Config(error) => {
            assert_eq!(error.setting, setting, "{err}");
            assert!(error.problem.contains(problem), "{err}\n  lacks: {problem}");
        }
        other => panic!("not a configuration error: {other}"),
    }
    assert!(err.to_string().starts_with(&format!("invalid engine configuration: {setting}: ")), "{err}");
}

#[test]
fn invalid_configurations_are_refused() {
    for pages in [0, 65_536, 70_000, u32::MAX] {
        config_error(
            Config::default().memory_limit_pages(pages),
            "memory_limit_pages",
            &format!("must be 1..=65535 pages, got {pages}"),
        );
    }
    // The memory limit must exceed 1.7 x the exchange buffer: 17 pages are
    // 1 114 112 bytes, exactly 1.7 x 655 360.
    config_error(
        Config::default().memory_limit_pages(17).exchange_buffer_bytes(655_360),
        "memory_limit_pages",
        "17 pages (1114112 bytes) must exceed 1.7 x the exchange buffer of 655360 bytes",
    );
    assert!(Engine::new(Config::default().memory_limit_pages(17).exchange_buffer_bytes(655_359)).is_ok());
    let exchange = "must exceed 1.7 x the exchange buffer";
    config_error(Config::default().memory_limit_pages(1), "memory_limit_pages", &format!("{exchange} of 64000 bytes"));
    config_error(Config::default().exchange_buffer_bytes(u32::MAX), "memory_limit_pages", exchange);
    config_error(Config::default().max_instances(0), "max_instances", "must be at least 1");
    config_error(Config::default().timeout(Some(std::time::Duration::ZERO)), "timeout", "must be longer than zero");
    config_error(Config::default().load_timeout(Some(std::time::Duration::ZERO)), "load_timeout", "longer than zero");
    config_error(Config::default().max_handles(0), "max_handles", "must be at least 1");
    config_error(Config::default().host_budget_bytes(0), "host_budget_bytes", "must be 1..=4294967295 bytes");

    assert!(Engine::new(Config::default()).is_ok());
    assert!(Engine::new(Config::default().memory_limit_pages(2).exchange_buffer_bytes(1000)).is_ok());
    assert!(Engine::new(Config::default().memory_limit_pages(65_535).max_instances(1)).is_ok());
}
