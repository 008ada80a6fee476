//! The example modules as the engine sees them, checked without the engine:
//! their exports and imports against the ABI tables, their size, and the
//! SDK's exports (allocator, memory info, panics) called directly.

use extwasm_abi::{self as abi, GUEST_EXPORTS, HOST_IMPORTS};
use extwasm_rust_examples::{ALL, ALLOCS};
use wasmtime::{Caller, Engine, ExternType, Linker, Store, StoreLimits, StoreLimitsBuilder};

#[path = "../../tests_common/bare_wasmtime.rs"]
mod bare_wasmtime;
use bare_wasmtime::{compile, same_signature};

/// The size goal of the issue: a module under 20 KiB, not counting its name
/// section (kept for readable backtraces: 3–12 KB more).
const MAX_MODULE_BYTES: usize = 20 * 1024;

/// Bytes of `wasm`'s `name` custom section (less its few header bytes).
fn name_section_bytes(wasm: &[u8]) -> usize {
    wasmparser::Parser::new(0)
        .parse_all(wasm)
        .filter_map(|payload| match payload.expect("the module parses") {
            wasmparser::Payload::CustomSection(section) if section.name() == "name" => Some(section.range().len()),
            _ => None,
        })
        .sum()
}

#[test]
fn modules_are_small_and_keep_their_names() {
    for module in ALL {
        let names = name_section_bytes(module.wasm);
        eprintln!("{}.wasm: {} bytes, {names} of them the name section", module.name, module.wasm.len());
        assert!(names > 0, "{}.wasm has no name section: backtraces would show no names", module.name);
        let code = module.wasm.len() - names.min(module.wasm.len());
        assert!(code < MAX_MODULE_BYTES, "{}.wasm is {code} bytes without its names", module.name);
    }
}

#[test]
fn exports_are_the_abi_exports_and_the_extensions() {
    let engine = Engine::default();
    for module in ALL {
        let compiled = compile(&engine, module.name, module.wasm);
        let mut seen = Vec::new();
        for export in compiled.exports() {
            let name = export.name();
            match export.ty() {
                ExternType::Memory(_) => assert_eq!(name, abi::export::MEMORY, "{}", module.name),
                // The linker's `__data_end` and `__heap_base`.
                ExternType::Global(_) => assert!(name.starts_with("__"), "{}: global {name}", module.name),
                ExternType::Func(ty) => {
                    if let Some(abi_export) = GUEST_EXPORTS.iter().find(|e| e.name == name) {
                        assert!(
                            same_signature(&ty, abi_export.params, abi_export.results),
                            "{}: {name}: {ty:?}",
                            module.name
                        );
                    } else {
                        assert!(module.extension(name).is_some(), "{}: unexpected export {name}", module.name);
                        assert!(!abi::is_reserved_extension_name(name), "{}: {name}", module.name);
                        assert!(same_signature(&ty, &[], &[]), "{}: extension {name}: {ty:?}", module.name);
                    }
                    seen.push(name.to_owned());
                }
                other => panic!("{}: unexpected export {name}: {other:?}", module.name),
            }
        }
        let required = GUEST_EXPORTS
            .iter()
            .filter(|e| ![abi::export::MEMORY, abi::export::START, abi::export::INITIALIZE].contains(&e.name))
            .map(|e| e.name)
            .chain(module.extension_names());
        for name in required {
            assert!(seen.iter().any(|s| s == name), "{} does not export {name}", module.name);
        }
    }
}

#[test]
fn imports_are_host_imports_with_the_abi_signatures() {
    let engine = Engine::default();
    for module in ALL {
        for import in compile(&engine, module.name, module.wasm).imports() {
            let name = import.name();
            if import.module() == abi::WASI_MODULE {
                // `log!` writes with fd_write; nothing else of WASI is imported.
                assert_eq!(name, "fd_write", "{}", module.name);
                let wasi = abi::wasi_import(name).unwrap();
                let ExternType::Func(ty) = import.ty() else { panic!("{}: {name} is not a function", module.name) };
                assert!(same_signature(&ty, wasi.params, wasi.results), "{}: {name}: {ty:?}", module.name);
                continue;
            }
            assert_eq!(import.module(), abi::HOST_MODULE, "{}: {}", module.name, name);
            assert_ne!(name, "hostRowWriterPutIntBool", "the SDK imports the canonical name");
            let host =
                HOST_IMPORTS.iter().find(|i| i.name == name).unwrap_or_else(|| panic!("{}: {name}", module.name));
            let ExternType::Func(ty) = import.ty() else { panic!("{}: {name} is not a function", module.name) };
            assert!(same_signature(&ty, host.params, host.results), "{}: {name}: {ty:?}", module.name);
        }
    }
}

/// An instance of the allocs module with every host import trapping, except
/// `hostPanic`, which records the message; memory limited to `limit` bytes.
type Guest = bare_wasmtime::Guest<(Option<String>, StoreLimits)>;

impl Guest {
    fn new(limit: usize) -> Self {
        let engine = Engine::default();
        let module = compile(&engine, ALLOCS.name, ALLOCS.wasm);
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                "env",
                "hostPanic",
                |mut caller: Caller<'_, (Option<String>, StoreLimits)>, ptr: i32, len: i32| -> wasmtime::Result<()> {
                    let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
                    let bytes = memory.data(&caller)[ptr as usize..][..len as usize].to_vec();
                    caller.data_mut().0 = Some(String::from_utf8(bytes).unwrap());
                    wasmtime::bail!("hostPanic")
                },
            )
            .unwrap();
        linker.define_unknown_imports_as_traps(&module).unwrap();
        let limits = StoreLimitsBuilder::new().memory_size(limit).build();
        let mut store = Store::new(&engine, (None, limits));
        store.limiter(|(_, limits)| limits);
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Guest { store, instance }
    }
}

#[test]
fn malloc_free_and_the_memory_info_exports() {
    let mut guest = Guest::new(16 << 20);
    assert_eq!((guest.stat("WasmGetMallocs"), guest.stat("WasmGetFrees")), (0, 0));
    assert_eq!(guest.stat("WasmGetHeapSys"), 0);

    let exchange = guest.call::<i32, i32>("malloc", 64_000).unwrap();
    assert!(exchange > 0 && exchange % 16 == 0, "{exchange:#x}");
    assert_eq!(guest.stat("WasmGetMallocs"), 1);
    assert!(guest.stat("WasmGetHeapSys") >= 64_000);
    assert!(guest.stat("WasmGetHeapInuse") >= 64_000);
    let small = guest.call::<i32, i32>("malloc", 0).unwrap();
    assert!(small >= exchange + 64_000, "blocks do not overlap");

    guest.call::<i32, ()>("free", exchange).unwrap();
    guest.call::<(), ()>("WasmGC", ()).unwrap();
    guest.call::<(), ()>("WasmAbiVersion_0_0_1", ()).unwrap();
    assert_eq!((guest.stat("WasmGetMallocs"), guest.stat("WasmGetFrees")), (2, 1));

    // Extensions that make no host calls can run here too.
    guest.call::<(), ()>("zeroedAfterFree", ()).unwrap();
    assert!(guest.stat("WasmGetMallocs") > 2);
    assert!(guest.stat("WasmGetFrees") > 1);
    assert!(guest.stat("WasmGetHeapInuse") <= guest.stat("WasmGetHeapSys"));
}

#[test]
fn running_out_of_memory_is_a_panic_reported_through_host_panic() {
    let mut guest = Guest::new(8 << 20);
    let trap = guest.call::<(), ()>("exhaustMemory", ()).unwrap_err();
    assert!(format!("{trap:#}").contains("hostPanic"), "{trap:#}");
    let message = guest.store.data().0.clone().expect("a panic message");
    assert!(message.starts_with("out of memory: cannot allocate 1048576 bytes (the heap has taken "), "{message}");
    assert!(message.contains(" (at guest-sdk/src/ffi/heap.rs:"), "{message}");
}

#[test]
fn a_read_callback_without_a_read_is_a_panic() {
    let mut guest = Guest::new(16 << 20);
    guest.call::<(i64, i64), ()>("WasmOnReadValue", (1, 2)).unwrap_err();
    let message = guest.store.data().0.clone().expect("a panic message");
    assert!(message.starts_with("WasmOnReadValue was called while no read_values is running (at "), "{message}");
}

/// The build script builds every example folder (`../discover.rs`); `ALL`,
/// which these tests and the engine's run, must name each of them.
#[test]
fn all_has_every_example_folder() {
    let folders: Vec<&str> = env!("EXTWASM_RUST_EXAMPLES").split(',').collect();
    let mut listed: Vec<&str> = ALL.iter().map(|module| module.name).collect();
    listed.sort_unstable();
    assert_eq!(
        listed, folders,
        "src/lib.rs: `ALL` must have a `Module` for every folder of examples/rust/ with a Cargo.toml"
    );
}
