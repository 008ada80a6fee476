//! Generator 2: random valid modules from `wasm-smith`, shaped like guests.
//!
//! The *shape* module imports every host function of the ABI table and five
//! WASI functions, and exports `memory`, `WasmAbiVersion_0_0_1`, `malloc`,
//! `free`, `WasmOnReadValue`, extensions `e0`… and `ok`, and sometimes
//! `_initialize`. Most modules are generated with it as wasm-smith's
//! `module_shape` (exactly those imports, in that order, and those exports);
//! the others with it as `exports` and its imports as `available_imports`
//! (wasm-smith picks a subset). Every function body is random: host calls
//! with random arguments, traps, loops, a random start function.
//!
//! Some bodies are then replaced with the shape's own: `ok` (one insert
//! intent, so the recovery oracle can check the instance after a failure)
//! when the imports are the shape's, and usually `malloc` (a bump allocator
//! keeping its pointer in memory) and `WasmAbiVersion_0_0_1` (empty), which
//! the engine calls at load: with random bodies most modules would fail to
//! load, and their extensions would never run.
//! Most modules also get wasm-smith's fuel checks in loops and calls
//! (`ensure_termination`); the rest may loop forever, at load too.

use std::fmt::Write as _;

use arbitrary::Unstructured;
use extwasm_abi::{HOST_IMPORTS, ValType};

use crate::rng::Rng;

/// A generated module.
pub struct SmithModule {
    /// The binary.
    pub wasm: Vec<u8>,
    /// Its extensions (`ok` last).
    pub extensions: Vec<String>,
    /// Whether `ok` is the known-good extension.
    pub has_ok: bool,
    /// Whether wasm-smith's termination fuel is in (every loop and call
    /// ends).
    pub terminates: bool,
}

const WASI: &[(&str, &str)] = &[
    ("fd_write", "(param i32 i32 i32 i32) (result i32)"),
    ("random_get", "(param i32 i32) (result i32)"),
    ("poll_oneoff", "(param i32 i32 i32 i32) (result i32)"),
    ("clock_time_get", "(param i32 i64 i32) (result i32)"),
    ("proc_exit", "(param i32)"),
];

/// The shape module as WAT.
pub fn shape_wat(extensions: usize, pages: u32, max_pages: Option<u32>, initialize: bool) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" ");
    let mut m = String::from("(module\n");
    for import in HOST_IMPORTS {
        let mut sig = String::new();
        if !import.params.is_empty() {
            let _ = write!(sig, " (param {})", list(import.params));
        }
        if !import.results.is_empty() {
            let _ = write!(sig, " (result {})", list(import.results));
        }
        let _ = writeln!(m, "  (import \"env\" \"{0}\" (func ${0}{sig}))", import.name);
    }
    for (name, sig) in WASI {
        let _ = writeln!(m, "  (import \"wasi_snapshot_preview1\" \"{name}\" (func ${name} {sig}))");
    }
    let max = max_pages.map(|m| format!(" {m}")).unwrap_or_default();
    let _ = writeln!(m, "  (memory (export \"memory\") {pages}{max})");
    m += r#"  (func (export "WasmAbiVersion_0_0_1"))
  ;; A bump allocator whose pointer lives at address 16 (no global: the body
  ;; is spliced into a module whose globals are random).
  (func (export "malloc") (param $size i32) (result i32) (local $p i32) (local $end i32)
    (local.set $p (i32.load (i32.const 16)))
    (if (i32.lt_u (local.get $p) (i32.const 0x10000)) (then (local.set $p (i32.const 0x10000))))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7)) (i32.const -8)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (local.get $end) (i32.shl (memory.size) (i32.const 16))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then (return (i32.const 0))))
        (br $grow)))
    (i32.store (i32.const 16) (local.get $end))
    (local.get $p))
  (func (export "free") (param i32))
  (func (export "WasmOnReadValue") (param i64 i64))
  ;; One insert of {"ok": 1} into sys.Ok; its names written at 0..8 first.
  (func (export "ok")
    (i64.store (i32.const 0) (i64.const 0x6b6f6b4f2e737973))
    (call $hostRowWriterPutInt32
      (call $hostNewValue (call $hostGetKey (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 0)))
      (i32.const 1) (i32.const 6) (i32.const 2) (i32.const 1)))
"#;
    for i in 0..extensions {
        let _ = writeln!(m, "  (func (export \"e{i}\"))");
    }
    if initialize {
        m += "  (func (export \"_initialize\"))\n";
    }
    m += ")\n";
    m
}

/// wasm-smith's configuration: only what the engine enables (no threads,
/// SIMD, GC, exceptions, memory64, …; and no reference types: the engine's
/// wasmtime is built without its GC runtime, so it refuses `externref`),
/// one memory and table within the engine's pool limits, small modules.
fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        gc_enabled: false,
        reference_types_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        memory64_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        custom_descriptors_enabled: false,
        // The shape's memory is the one memory (required exports are
        // generated beyond the limits; the engine's pool allows one).
        max_memories: 0,
        max_tables: 1,
        max_table_elements: 1_000,
        max_memory32_bytes: 64 << 16,
        max_funcs: 16,
        max_instructions: 200,
        max_globals: 16,
        max_types: 32,
        max_data_segments: 8,
        max_element_segments: 8,
        max_elements: 32,
        allow_start_export: true,
        ..wasm_smith::Config::default()
    }
}

/// Generates one module.
pub fn generate(rng: &mut Rng) -> SmithModule {
    let extensions = rng.range(1, 4) as usize;
    let pages = *rng.pick(&[1, 1, 2, 4]);
    let max_pages = *rng.pick(&[None, None, Some(64), Some(8), Some(100)]);
    let initialize = rng.chance(25);
    let shape = wat::parse_str(shape_wat(extensions, pages, max_pages, initialize)).expect("the shape is valid WAT");
    let by_shape = rng.chance(80);
    let terminates = rng.chance(90);
    let fuel = rng.range(100, 100_000) as u32;
    let replace_malloc = rng.chance(85);
    let replace_version = rng.chance(85);
    let mut module = None;
    for attempt in 0..4 {
        let mut config = config();
        if by_shape {
            config.module_shape = Some(shape.clone());
        } else {
            config.available_imports = Some(shape.clone());
            config.exports = Some(shape.clone());
        }
        let bytes = rng.bytes(2048 << attempt);
        if let Ok(mut m) = wasm_smith::Module::new(config, &mut Unstructured::new(&bytes))
            && (!terminates || m.ensure_termination(fuel).is_ok())
        {
            module = Some(m);
            break;
        }
    }
    let mut names: Vec<String> = (0..extensions).map(|i| format!("e{i}")).collect();
    names.push("ok".into());
    let Some(module) = module else {
        // wasm-smith gave up (it needs more bytes than we offered four
        // times): the shape itself is a module too.
        return SmithModule { wasm: shape, extensions: names, has_ok: true, terminates: true };
    };
    let wasm = module.to_bytes();
    let (wasm, has_ok) = splice(&wasm, &shape, replace_malloc, replace_version).unwrap_or((wasm, false));
    SmithModule { wasm, extensions: names, has_ok, terminates }
}

/// Replaces the bodies of `ok` (when the imports are the shape's, so the
/// body's function indices mean the same), and of `malloc` and
/// `WasmAbiVersion_0_0_1` (which call nothing) when asked, in `wasm` with
/// the shape's. Returns the new module and whether `ok` was replaced;
/// `None` when `wasm` does not parse.
pub fn splice(wasm: &[u8], shape: &[u8], replace_malloc: bool, replace_version: bool) -> Option<(Vec<u8>, bool)> {
    let shape_info = Info::read(shape)?;
    let info = Info::read(wasm)?;
    let same_imports = info.func_imports == shape_info.func_imports;
    let mut replace: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut has_ok = false;
    for (name, wanted) in [("ok", same_imports), ("malloc", replace_malloc), ("WasmAbiVersion_0_0_1", replace_version)]
    {
        if !wanted {
            continue;
        }
        let (Some(&target), Some(&source)) = (info.exports.get(name), shape_info.exports.get(name)) else {
            continue;
        };
        let imported = info.func_imports.len() as u32;
        let shape_imported = shape_info.func_imports.len() as u32;
        if target < imported || source < shape_imported {
            continue;
        }
        let body = shape_info.bodies.get((source - shape_imported) as usize)?.clone();
        replace.push((target - imported, body));
        has_ok |= name == "ok";
    }

    let mut out = wasm[..8].to_vec();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        let Some((id, range)) = payload.as_section() else { continue };
        let content = if id == CODE_SECTION {
            let mut code = Vec::new();
            leb(&mut code, info.bodies.len() as u64);
            for (i, body) in info.bodies.iter().enumerate() {
                let body = replace.iter().find(|(at, _)| *at as usize == i).map_or(body, |(_, b)| b);
                leb(&mut code, body.len() as u64);
                code.extend_from_slice(body);
            }
            code
        } else {
            wasm[range].to_vec()
        };
        out.push(id);
        leb(&mut out, content.len() as u64);
        out.extend_from_slice(&content);
    }
    Some((out, has_ok))
}

/// What [`splice`] needs to know of a module.
struct Info {
    func_imports: Vec<(String, String)>,
    exports: std::collections::HashMap<String, u32>,
    bodies: Vec<Vec<u8>>,
}

impl Info {
    fn read(wasm: &[u8]) -> Option<Info> {
        let mut info = Info { func_imports: Vec::new(), exports: Default::default(), bodies: Vec::new() };
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload.ok()? {
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.ok()?;
                        if let wasmparser::TypeRef::Func(_) = import.ty {
                            info.func_imports.push((import.module.to_owned(), import.name.to_owned()));
                        }
                    }
                }
                wasmparser::Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.ok()?;
                        if export.kind == wasmparser::ExternalKind::Func {
                            info.exports.insert(export.name.to_owned(), export.index);
                        }
                    }
                }
                wasmparser::Payload::CodeSectionEntry(body) => info.bodies.push(wasm[body.range()].to_vec()),
                _ => {}
            }
        }
        Some(info)
    }
}

/// The code section's id.
const CODE_SECTION: u8 = 10;

/// Appends `value` as unsigned LEB128.
fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
