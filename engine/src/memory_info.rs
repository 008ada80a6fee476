//! What a guest says of its own heap: the ABI's memory-info exports
//! (`WasmGetHeapInuse`, `WasmGetHeapSys`, `WasmGetMallocs`, `WasmGetFrees`,
//! all `() -> i64`), which both SDKs and TinyGo's modules export, read
//! between invocations for embedders ([`crate::Worker::memory_info`]) and,
//! when configured, for the restore threshold ([`RestoreWhen`]).
//!
//! Reading them runs guest code outside an invocation, so it runs as an
//! invocation does: under the invocation deadline and fuel, with no state
//! lent (a host call that needs one fails) and the handles of the last
//! invocation stale. A read that fails in any way (a trap, a host call, a
//! deadline) restores the instance; it never fails an invocation.

use extwasm_abi::export;
use extwasm_state::State;
use wasmtime::TypedFunc;

use crate::instance::Live;
use crate::limits::Limits;

/// What a package instance's guest says of its heap, and its memory's size.
/// A field is `None` when the guest does not export that function (as `()
/// -> i64`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryInfo {
    /// The instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Bytes of the guest heap in use (`WasmGetHeapInuse`).
    pub heap_inuse: Option<u64>,
    /// Bytes the guest heap took from linear memory (`WasmGetHeapSys`).
    pub heap_sys: Option<u64>,
    /// Allocations so far (`WasmGetMallocs`).
    pub mallocs: Option<u64>,
    /// Frees so far (`WasmGetFrees`).
    pub frees: Option<u64>,
}

/// When a worker restores a package instance between invocations (after a
/// failure it always does). See [`crate::Config::restore_when`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestoreWhen {
    /// After an invocation that left the instance's memory larger than this
    /// many 64 KiB pages (the default: half the memory limit). Costs nothing:
    /// the engine tracks the memory's size. Memory never shrinks, so a
    /// guest that frees what it allocates (a collecting heap) is restored
    /// after every invocation once its heap has grown past the threshold.
    MemoryPages(u32),
    /// Before an invocation, when the guest's heap in use
    /// (`WasmGetHeapInuse`) is larger than this many bytes: one call into
    /// the guest per invocation. Suits a guest that collects its garbage.
    /// A read that fails restores the instance instead of failing the
    /// invocation; a guest without the export is restored by
    /// [`RestoreWhen::MemoryPages`] at half the memory limit.
    HeapInuseBytes(u64),
}

/// The heap-in-use export of a live instance, looked up once.
pub(crate) type HeapInuse = Option<Option<TypedFunc<(), i64>>>;

/// Calls `export`, a memory-info function of the guest of `live`. `Ok(None)`
/// when the guest does not export it as `() -> i64`; `Err` when the call
/// failed (the instance must then be restored).
pub(crate) fn read<S: State>(limits: &Limits, live: &mut Live<S>, export: &str) -> wasmtime::Result<Option<u64>> {
    let func = if export == export::GET_HEAP_INUSE {
        let (instance, store) = (live.instance, &mut live.store);
        live.heap_inuse.get_or_insert_with(|| instance.get_typed_func::<(), i64>(store, export).ok()).clone()
    } else {
        live.instance.get_typed_func::<(), i64>(&mut live.store, export).ok()
    };
    let Some(func) = func else { return Ok(None) };
    let store = &mut live.store;
    // The package's invocation deadline and fuel.
    if limits.epochs {
        store.set_epoch_deadline(limits.invoke_ticks);
    }
    if limits.metered {
        store.set_fuel(limits.fuel.unwrap_or(u64::MAX))?;
    }
    store.data_mut().begin_query();
    // A count cannot be negative; a guest that says so is believed as
    // little as one that says anything else.
    func.call(&mut *store, ()).map(|value| Some(value as u64))
}

/// Every memory-info export of `live`'s guest; `Err` when a read failed
/// (the instance must then be restored).
pub(crate) fn read_all<S: State>(limits: &Limits, live: &mut Live<S>) -> wasmtime::Result<MemoryInfo> {
    let mut info = MemoryInfo { memory_bytes: live.store.data().memory_bytes(), ..MemoryInfo::default() };
    info.heap_inuse = read(limits, live, export::GET_HEAP_INUSE)?;
    info.heap_sys = read(limits, live, export::GET_HEAP_SYS)?;
    info.mallocs = read(limits, live, export::GET_MALLOCS)?;
    info.frees = read(limits, live, export::GET_FREES)?;
    Ok(info)
}
