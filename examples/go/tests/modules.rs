//! The Go example modules as the engine sees them, checked without the
//! engine: their exports and imports against the ABI tables, their size, and
//! the SDK's exports (malloc and free, memory info, the read callback) called
//! directly on bare wasmtime, with just enough WASI for Go's runtime.

use extwasm_abi::{self as abi, GUEST_EXPORTS, HOST_IMPORTS};
use extwasm_go_examples::{ALL, ALLOCS, skipped};
use wasmtime::{Caller, Engine, ExternType, Linker, Store};

#[path = "../../tests_common/bare_wasmtime.rs"]
mod bare_wasmtime;
use bare_wasmtime::{compile, same_signature};

/// What standard Go's runtime costs: every module is about 2 MiB.
const MAX_MODULE_BYTES: usize = 3 << 20;

/// The WASI functions Go's wasip1 runtime imports (all of which the engine
/// provides).
const GO_WASI: &[&str] = &[
    "sched_yield",
    "proc_exit",
    "args_get",
    "args_sizes_get",
    "clock_time_get",
    "environ_get",
    "environ_sizes_get",
    "fd_write",
    "random_get",
    "poll_oneoff",
];

#[test]
fn modules_are_go_sized() {
    if skipped("the sizes of the Go modules") {
        return;
    }
    for module in ALL {
        eprintln!("examples/go/{}: {} bytes", module.name, module.wasm.len());
        assert!(module.wasm.len() < MAX_MODULE_BYTES, "{}.wasm is {} bytes", module.name, module.wasm.len());
    }
}

#[test]
fn exports_are_the_abi_exports_and_the_extensions_and_imports_the_abi_and_wasi() {
    if skipped("the exports of the Go modules") {
        return;
    }
    let engine = Engine::default();
    for module in ALL {
        let compiled = compile(&engine, module.name, module.wasm);
        let mut seen = Vec::new();
        for export in compiled.exports() {
            let name = export.name();
            match export.ty() {
                ExternType::Memory(_) => assert_eq!(name, abi::export::MEMORY, "{}", module.name),
                ExternType::Func(ty) => {
                    if let Some(abi_export) = GUEST_EXPORTS.iter().find(|e| e.name == name) {
                        assert!(
                            same_signature(&ty, abi_export.params, abi_export.results),
                            "{}: {name}: {ty:?}",
                            module.name
                        );
                    } else {
                        assert!(module.has(name), "{}: unexpected export {name}", module.name);
                        assert!(same_signature(&ty, &[], &[]), "{}: extension {name}: {ty:?}", module.name);
                    }
                    seen.push(name.to_owned());
                }
                other => panic!("{}: unexpected export {name}: {other:?}", module.name),
            }
        }
        // Every ABI export, standard Go's malloc and free included; a
        // reactor, so `_initialize` and no `_start`.
        let required = GUEST_EXPORTS
            .iter()
            .filter(|e| ![abi::export::MEMORY, abi::export::START].contains(&e.name))
            .map(|e| e.name)
            .chain(module.extensions.iter().copied());
        for name in required {
            assert!(seen.iter().any(|s| s == name), "{} does not export {name}", module.name);
        }
        for import in compiled.imports() {
            let ExternType::Func(ty) = import.ty() else { panic!("{}: imports a non-function", module.name) };
            match import.module() {
                "env" => {
                    let host = HOST_IMPORTS.iter().find(|i| i.name == import.name()).expect("an ABI import");
                    assert!(same_signature(&ty, host.params, host.results), "{}: {}", module.name, import.name());
                }
                "wasi_snapshot_preview1" => assert!(GO_WASI.contains(&import.name()), "{}", import.name()),
                other => panic!("{}: imports from {other}", module.name),
            }
        }
    }
}

/// An instance of the allocs module on bare wasmtime: WASI answered just
/// enough for Go's runtime (stderr captured), every host import trapping.
type Guest = bare_wasmtime::Guest<Vec<u8>>;

fn memory<'a>(caller: &'a mut Caller<'_, Vec<u8>>) -> (&'a mut [u8], &'a mut Vec<u8>) {
    let memory = caller.get_export("memory").and_then(|e| e.into_memory()).unwrap();
    memory.data_and_store_mut(caller)
}

fn put_u32(mem: &mut [u8], at: i32, value: u32) {
    mem[at as usize..][..4].copy_from_slice(&value.to_le_bytes());
}

impl Guest {
    /// Instantiated, `_initialize` not run yet.
    fn new() -> Self {
        let engine = Engine::default();
        let module = compile(&engine, ALLOCS.name, ALLOCS.wasm);
        let mut linker: Linker<Vec<u8>> = Linker::new(&engine);
        let w = "wasi_snapshot_preview1";
        linker.func_wrap(w, "sched_yield", || 0i32).unwrap();
        linker
            .func_wrap(w, "proc_exit", |code: i32| -> wasmtime::Result<()> { wasmtime::bail!("exit {code}") })
            .unwrap();
        for sizes in ["args_sizes_get", "environ_sizes_get"] {
            linker
                .func_wrap(w, sizes, |mut caller: Caller<'_, Vec<u8>>, count: i32, size: i32| {
                    let (mem, _) = memory(&mut caller);
                    put_u32(mem, count, 0);
                    put_u32(mem, size, 0);
                    0i32
                })
                .unwrap();
        }
        linker.func_wrap(w, "args_get", |_: i32, _: i32| 0i32).unwrap();
        linker.func_wrap(w, "environ_get", |_: i32, _: i32| 0i32).unwrap();
        linker
            .func_wrap(w, "clock_time_get", |mut caller: Caller<'_, Vec<u8>>, _: i32, _: i64, out: i32| {
                let (mem, _) = memory(&mut caller);
                mem[out as usize..][..8].copy_from_slice(&1_000_000u64.to_le_bytes());
                0i32
            })
            .unwrap();
        linker
            .func_wrap(w, "random_get", |mut caller: Caller<'_, Vec<u8>>, buf: i32, len: i32| {
                let (mem, _) = memory(&mut caller);
                mem[buf as usize..][..len as usize].fill(7);
                0i32
            })
            .unwrap();
        linker
            .func_wrap(w, "fd_write", |mut caller: Caller<'_, Vec<u8>>, _: i32, iovs: i32, n: i32, written: i32| {
                let (mem, output) = memory(&mut caller);
                let mut total = 0;
                for i in 0..n as usize {
                    let iov = iovs as usize + 8 * i;
                    let ptr = u32::from_le_bytes(mem[iov..iov + 4].try_into().unwrap()) as usize;
                    let len = u32::from_le_bytes(mem[iov + 4..iov + 8].try_into().unwrap()) as usize;
                    output.extend_from_slice(&mem[ptr..ptr + len]);
                    total += len as u32;
                }
                put_u32(mem, written, total);
                0i32
            })
            .unwrap();
        linker.func_wrap(w, "poll_oneoff", |_: i32, _: i32, _: i32, _: i32| 0i32).unwrap();
        linker.define_unknown_imports_as_traps(&module).unwrap();
        let mut store = Store::new(&engine, Vec::new());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Guest { store, instance }
    }

    fn initialized() -> Self {
        let mut guest = Guest::new();
        guest.call::<(), ()>("_initialize", ()).unwrap();
        guest
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(self.store.data()).into_owned()
    }
}

#[test]
fn malloc_free_and_the_memory_info_exports() {
    if skipped("the exports of the Go SDK") {
        return;
    }
    let mut guest = Guest::initialized();
    guest.call::<(), ()>("WasmAbiVersion_0_0_1", ()).unwrap();
    let mallocs = guest.stat("WasmGetMallocs");
    let exchange = guest.call::<i32, i32>("malloc", 64_000).unwrap();
    assert!(exchange > 0 && exchange % 8 == 0, "{exchange:#x}");
    let memory = guest.instance.get_memory(&mut guest.store, "memory").unwrap();
    assert!(exchange as usize + 64_000 <= memory.data_size(&guest.store));
    assert_eq!(guest.stat("WasmGetMallocs"), mallocs + 1, "one Go allocation per malloc");
    assert!(guest.stat("WasmGetHeapInuse") >= 64_000);
    assert!(guest.stat("WasmGetHeapInuse") <= guest.stat("WasmGetHeapSys"));
    let small = guest.call::<i32, i32>("malloc", 0).unwrap();
    assert!(small != 0 && (small >= exchange + 64_000 || small < exchange), "blocks do not overlap");
    // Freed, and collected once nothing refers to it; an unknown address is ignored.
    let frees = guest.stat("WasmGetFrees");
    guest.call::<i32, ()>("free", exchange).unwrap();
    guest.call::<i32, ()>("free", 12345).unwrap();
    guest.call::<(), ()>("WasmGC", ()).unwrap();
    assert!(guest.stat("WasmGetFrees") > frees);
    guest.call::<(), ()>("zeroedAfterFree", ()).unwrap();
}

#[test]
fn a_read_callback_without_a_read_is_a_panic() {
    if skipped("the read callback of the Go SDK") {
        return;
    }
    let mut guest = Guest::initialized();
    guest.call::<(i64, i64), ()>("WasmOnReadValue", (1, 2)).unwrap_err();
    assert!(
        guest.stderr().starts_with("panic: ext: the host called WasmOnReadValue outside ReadValues\n"),
        "{}",
        guest.stderr()
    );
}

/// Why the engine must initialise before it calls any export, the version
/// export included: Go's runtime aborts in an export called before
/// `_initialize`.
#[test]
fn go_exports_trap_before_initialisation() {
    if skipped("Go exports before _initialize") {
        return;
    }
    let mut guest = Guest::new();
    let trap = guest.call::<(), ()>("WasmAbiVersion_0_0_1", ()).unwrap_err();
    assert!(format!("{trap:?}").contains("runtime.notInitialized"), "{trap:?}");
}

/// The build script builds every example folder (`../discover.rs`); `ALL`,
/// which these tests and the engine's run, must name each of them.
#[test]
fn all_has_every_example_folder() {
    let folders: Vec<&str> = env!("EXTWASM_GO_EXAMPLES").split(',').collect();
    let mut listed: Vec<&str> = ALL.iter().map(|module| module.name).collect();
    listed.sort_unstable();
    assert_eq!(
        listed, folders,
        "src/lib.rs: `ALL` must have a `Module` for every folder of examples/go/ with a main.go"
    );
}
