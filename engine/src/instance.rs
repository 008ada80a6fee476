//! Instances and their snapshot: how an instance comes to life, and how it
//! goes back to exactly its post-initialisation state.
//!
//! # Design: restore is re-instantiation of a pre-initialised module
//!
//! An instance's *snapshot* is its state after `_initialize`/`_start` ran and
//! the exchange buffer was allocated. At load, [`preinitialize`] runs that
//! initialisation once and captures the result as a new module (with
//! `wasmtime-wizer`): its data segments are the initialised memory, its
//! memory's initial size is the initialised size, and every mutable global
//! (including non-exported ones such as `__stack_pointer`) starts at its
//! initialised value. Instantiating that module *is* the snapshot state, with
//! no guest code run.
//!
//! A restore drops the instance's store and instantiates the pre-initialised
//! module again from its `InstancePre`. With wasmtime's pooling allocator
//! and copy-on-write memory images this costs page-table work on the pages
//! the guest dirtied, not on the memory limit or the heap size:
//!
//! - memory becomes a copy-on-write mapping of the module's image again, at
//!   its initial size (so a restore never leaves memory grown: TinyGo and
//!   Go assume memory above the heap is zero);
//! - within the first [`crate::Config::keep_resident_bytes`], only the pages
//!   the guest wrote (found with the `PAGEMAP_SCAN` ioctl) are reset in
//!   place, so they stay resident and the next invocation takes no page
//!   fault for them (a first touch of a fresh page costs ≈2 µs here).
//!   "Wrote" means "is resident": without userfaultfd write protection,
//!   `PAGEMAP_SCAN` cannot tell a page written since the last restore from
//!   one kept resident by it, so a page of the snapshot's memory that an
//!   invocation once wrote is reset on every later restore. Pages the guest
//!   grew into are not: shrinking memory takes them out of the scan until
//!   the guest grows into them again;
//! - globals and tables are re-initialised from the module;
//! - with [`crate::Config::huge_pages`], memory past the first 2 MiB that a
//!   guest grew into in whole 2 MiB blocks is backed by huge pages, so both
//!   the reset and the protection change below cost one page-table entry per
//!   2 MiB instead of 512 (8 MiB filled: 249 → 119 µs; 100 MiB: 2.5 → 0.86 ms).
//!
//! # Restores the worker does not wait for
//!
//! Reset and protection change are page-table work the kernel does per
//! dirtied page (on this VM ≈110 ns per 4 KiB page together: ≈ 60 µs for a
//! filled 2 MiB memory). When the guest grew its memory past
//! [`crate::Config::background_restore_above`], the worker instead swaps in
//! a spare instance made from the snapshot beforehand and hands the old one
//! to the engine's reclaimer thread, which drops it (the pooling allocator
//! resets its slot) and makes the next spare. The worker pays the swap and a
//! thread wake-up (≈10 µs here); the reset costs the same CPU as before, on
//! a thread at idle priority, so it uses a CPU no worker wants. When no CPU
//! is idle the spare is late and the restore happens on the worker, as
//! without a reclaimer: the worker never waits for the reclaimer.
//!
//! The part of a restore that is not proportional to dirtied pages is
//! wasmtime shrinking memory back to the snapshot's size with `mprotect`
//! (guard-page bounds checks need the pages above the size inaccessible):
//! about half of a restore after memory was filled. Explicit bounds checks
//! avoid it (measured: 2 MiB filled 62 → 32 µs, 8 MiB 210 → 123 µs) but need
//! signal-based traps and the Spectre heap mitigations off, which we do not
//! do for hostile guests.
//!
//! Alternatives measured or considered: copying memory back from a saved
//! image (cost proportional to the heap, and memory size cannot shrink);
//! plain re-instantiation plus re-running `_start` and `malloc` (touches
//! every page of the exchange buffer again: ≈500 µs for a 1 MB buffer);
//! pooling without a snapshot (the same, minus allocation costs). When a
//! module cannot be pre-initialised (wizer refuses table mutations, for
//! example), the engine falls back to running initialisation on every
//! instantiation; [`crate::Package::preinitialized`] tells which.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use std::ops::ControlFlow;
use std::sync::Arc;

use extwasm_abi::export;
use extwasm_host::{LoadError, LoadPhase};
use extwasm_state::{Field, KeyBuilder, State, StateError, Value};
use wasmtime::{Instance, InstancePre, Linker, Module, Store, TypedFunc, UpdateDeadline};
use wasmtime_wizer::{InstanceState, SnapshotVal, Wizer};

use crate::backtrace::FuncNames;
use crate::config::Config;
use crate::engine::{Engine, Slot, ticks};
use crate::host::{self, HostCtx};
use crate::memory_info::HeapInuse;
use crate::worker::trap_text;
use crate::{Error, Result};

/// What instances of a package are made of, besides their module.
pub(crate) struct Blueprint {
    /// The package's name.
    pub(crate) name: Arc<str>,
    /// Its extensions, sorted (how they are numbered).
    pub(crate) extensions: Arc<[Box<str>]>,
    /// `Some(exchange buffer address)` when the module is the pre-initialised
    /// snapshot (instances need no initialisation).
    pub(crate) preinitialized: Option<u32>,
    /// Function names for backtraces that the name section does not say
    /// as the source does (standard Go's).
    pub(crate) func_names: Arc<FuncNames>,
}

/// The state of a store that never invokes an extension (initialisation at
/// load): no value of it exists, and every host call that reads state fails
/// outside an invocation before it could be asked.
pub(crate) enum NoState {}

/// [`NoState`]'s values and keys: none exist.
pub(crate) enum NoValue {}

impl Value for NoValue {
    fn field(&self, _: &str) -> Option<Field<'_, Self>> {
        match *self {}
    }

    fn element(&self, _: usize) -> Option<Field<'_, Self>> {
        match *self {}
    }

    fn len(&self) -> Option<usize> {
        match *self {}
    }
}

impl State for NoState {
    type Value = NoValue;
    type Key = NoValue;

    fn query(&self, _: &KeyBuilder) -> Result<Option<NoValue>, StateError> {
        match *self {}
    }

    fn read(&self, _: &KeyBuilder, _: &mut dyn FnMut(NoValue, NoValue) -> ControlFlow<()>) -> Result<(), StateError> {
        match *self {}
    }
}

/// A live instance: its store, its extension functions (in the order of
/// the package's sorted extension names) and the pool slot it holds.
pub(crate) struct Live<S: State> {
    pub(crate) store: Store<HostCtx<S>>,
    pub(crate) extensions: Vec<TypedFunc<(), ()>>,
    /// For the exports only some callers want (the memory-info functions).
    pub(crate) instance: Instance,
    /// `WasmGetHeapInuse`, once looked up (see [`crate::memory_info`]).
    pub(crate) heap_inuse: HeapInuse,
    /// Dropped after the store (field order), which frees the slot.
    pub(crate) slot: Slot,
}

impl<S: State> Live<S> {
    /// The host context and the slot, the instance itself dropped: its
    /// memory slot is reset and free for the next instance of this slot.
    pub(crate) fn into_parts(self) -> (HostCtx<S>, Slot) {
        (self.store.into_data(), self.slot)
    }
}

/// A store for `ctx`, with the engine's limits wired in. Deadlines are
/// counted in epoch ticks, which the engine's ticker keeps in step with the
/// clock (see `spawn_ticker`): wasm code is interrupted when its store's
/// epoch deadline passes, and host calls look at the same ticks.
fn new_store<S: State>(engine: &Engine, ctx: HostCtx<S>) -> Store<HostCtx<S>> {
    let mut store = Store::new(engine.wasmtime(), ctx);
    store.limiter(|ctx| ctx.limiter());
    // The epoch deadline says when to look; the real time decides (a late
    // tick, caught up at once, must not end a call early).
    store.epoch_deadline_callback(|cx| {
        Ok(match cx.data().ticks_left() {
            Some(ticks) => UpdateDeadline::Continue(ticks),
            None => UpdateDeadline::Interrupt,
        })
    });
    if engine.config().get_fuel().is_some() {
        let _ = store.set_fuel(u64::MAX);
    }
    store
}

/// Starts initialisation in `store` under the load deadline.
fn begin_initialisation<S: State>(engine: &Engine, store: &mut Store<HostCtx<S>>) {
    store.data_mut().begin_initialisation();
    if engine.config().uses_epochs() {
        store.set_epoch_deadline(ticks(engine.config().get_load_timeout()));
    }
}

/// Caches the exports the host calls and runs initialisation: `_initialize`
/// (or `_start`, where `proc_exit(0)` is success), then `malloc` of the
/// exchange buffer. Returns the exchange buffer's address (0: no `malloc`).
fn wire_and_initialize<S: State>(
    engine: &Engine,
    package: &str,
    store: &mut Store<HostCtx<S>>,
    instance: &Instance,
    run_init: bool,
) -> Result<u32> {
    let memory =
        instance.get_memory(&mut *store, export::MEMORY).ok_or_else(|| Error::load(package, LoadError::NoMemory))?;
    let malloc = instance.get_typed_func::<i32, i32>(&mut *store, export::MALLOC).ok();
    let free = instance.get_typed_func::<i32, ()>(&mut *store, export::FREE).ok();
    let on_read = instance.get_typed_func::<(i64, i64), ()>(&mut *store, export::ON_READ_VALUE).ok();
    store.data_mut().wire(memory, malloc.clone(), free, on_read);
    if !run_init {
        return Ok(0);
    }

    let init_error = |store: &mut Store<HostCtx<S>>, phase: LoadPhase, e: wasmtime::Error| {
        init_error(engine, package, store, phase, e)
    };
    let init = [(export::INITIALIZE, LoadPhase::Initialize), (export::START, LoadPhase::Start)]
        .into_iter()
        .find_map(|(entry, phase)| instance.get_typed_func::<(), ()>(&mut *store, entry).ok().map(|f| (phase, f)));
    if let Some((phase, init)) = init
        && let Err(e) = init.call(&mut *store, ())
        && !store.data().exited_with(0)
    {
        return Err(init_error(store, phase, e));
    }
    store.data_mut().take_exit_code();

    // The reference engine calls the version export at load; so do we (a
    // module whose version function traps does not load). After
    // initialisation: Go's runtime traps in any export called before it.
    if let Ok(version) = instance.get_typed_func::<(), ()>(&mut *store, export::ABI_VERSION) {
        version.call(&mut *store, ()).map_err(|e| init_error(store, LoadPhase::AbiVersion, e))?;
    }

    let Some(malloc) = malloc else { return Ok(0) };
    let size = engine.config().get_exchange_buffer_bytes();
    let ptr =
        malloc.call(&mut *store, size as i32).map_err(|e| init_error(store, LoadPhase::ExchangeBuffer, e))? as u32;
    let memory_size = memory.data_size(&*store);
    if ptr == 0 || ptr as usize + size as usize > memory_size {
        return Err(Error::load(package, LoadError::ExchangeBuffer { ptr, size, memory_size }));
    }
    Ok(ptr)
}

/// Why initialisation failed in `phase`: its deadline, the memory limit, a
/// host-call error, a panic it printed, or its trap.
fn init_error<S: State>(
    engine: &Engine,
    package: &str,
    store: &mut Store<HostCtx<S>>,
    phase: LoadPhase,
    e: wasmtime::Error,
) -> Error {
    let ctx = store.data_mut();
    let timeout = engine.config().get_load_timeout();
    if matches!(e.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt)) || ctx.past_deadline() {
        return Error::LoadTimeout { package: package.to_owned(), phase, timeout: timeout.unwrap_or_default() };
    }
    let detail = match (ctx.take_pending(), ctx.denied_pages()) {
        (Some(error), _) => error.to_string(),
        (None, Some(pages)) => {
            format!("it asked for {pages} pages of memory, over the limit of {} pages", ctx.limit_pages())
        }
        (None, None) => match (ctx.printed_panic(), ctx.take_exit_code()) {
            (Some(message), _) => format!("panic: {message}"),
            (None, Some(code)) => format!("guest called proc_exit({code})"),
            (None, None) => trap_text(&e),
        },
    };
    Error::load(package, LoadError::Initialization { phase, detail })
}

/// Whether instantiation failed in guest code (the module's start
/// function) rather than in the engine (no free slot, say).
fn ran_guest_code<S: State>(store: &Store<HostCtx<S>>, e: &wasmtime::Error) -> bool {
    e.downcast_ref::<wasmtime::Trap>().is_some() || store.data().host_call_failed()
}

/// The error of an instantiation that failed: the memory limit, the start
/// function, or the engine.
fn instantiation_error<S: State>(
    engine: &Engine,
    package: &str,
    store: &mut Store<HostCtx<S>>,
    e: wasmtime::Error,
) -> Error {
    // The package's limit, which its host context enforces.
    let limit_pages = store.data().limit_pages();
    match store.data().denied_pages() {
        Some(pages) => Error::load(package, LoadError::MemoryTooLarge { pages, limit_pages }),
        None if ran_guest_code(store, &e) => init_error(engine, package, store, LoadPhase::StartFunction, e),
        None => Error::load(package, LoadError::Instantiation { detail: format!("{e:#}") }),
    }
}

/// Instantiates `package` for `ctx` in `slot`: from the pre-initialised
/// module when there is one (no guest code runs), else by running
/// initialisation.
pub(crate) fn instantiate<S: State>(
    engine: &Engine,
    package: &Blueprint,
    pre: &InstancePre<HostCtx<S>>,
    ctx: HostCtx<S>,
    slot: Slot,
) -> Result<Live<S>> {
    let name = &*package.name;
    let mut store = new_store(engine, ctx);
    begin_initialisation(engine, &mut store);
    let instance = pre.instantiate(&mut store).map_err(|e| instantiation_error(engine, name, &mut store, e))?;
    let exchange = match package.preinitialized {
        Some(exchange) => {
            wire_and_initialize(engine, name, &mut store, &instance, false)?;
            exchange
        }
        None => wire_and_initialize(engine, name, &mut store, &instance, true)?,
    };
    if exchange != 0 {
        store.data_mut().set_exchange(exchange, engine.config().get_exchange_buffer_bytes());
    }
    let mut extensions = Vec::with_capacity(package.extensions.len());
    for extension in package.extensions.iter() {
        // Validation checked each extension is a `() -> ()` function.
        let func = instance
            .get_typed_func::<(), ()>(&mut store, extension)
            .map_err(|_| Error::load(name, crate::validate::missing_extension(pre.module(), extension)))?;
        extensions.push(func);
    }
    Ok(Live { store, extensions, instance, heap_inuse: None, slot })
}

/// A linker with every host function, plus the WASI functions `package`
/// imports that the engine denies.
pub(crate) fn linker<S: State>(engine: &Engine) -> Linker<HostCtx<S>> {
    let mut linker = Linker::new(engine.wasmtime());
    // Denied WASI functions are defined per package, with the signature each
    // module imports them with.
    linker.allow_shadowing(true);
    host::define(&mut linker).expect("the ABI table defines each import name once");
    linker
}

/// Links `module` (defining the denied WASI functions it imports) and
/// prepares instantiation.
pub(crate) fn prepare<S: State>(
    linker: &mut Linker<HostCtx<S>>,
    package: &str,
    module: &Module,
    denied_wasi: &[(String, wasmtime::FuncType)],
) -> Result<InstancePre<HostCtx<S>>> {
    let failed = |e: wasmtime::Error| Error::load(package, LoadError::Instantiation { detail: format!("{e:#}") });
    for (field, ty) in denied_wasi {
        host::define_denied(linker, field, ty).map_err(failed)?;
    }
    linker.instantiate_pre(module).map_err(failed)
}

/// Runs `module`'s initialisation once in a throw-away instance, so that a
/// module that cannot be pre-initialised still fails at load when its
/// initialisation fails (or never ends), not at its first instantiation.
/// `config` has the package's limits. Returns the memory size after
/// initialisation, in pages.
pub(crate) fn trial_initialize(
    engine: &Engine,
    config: &Config,
    package: &str,
    module: &Module,
    denied_wasi: &[(String, wasmtime::FuncType)],
) -> Result<u32> {
    let mut linker = linker::<NoState>(engine);
    let pre = prepare(&mut linker, package, module, denied_wasi)?;
    let ctx = HostCtx::new(package.into(), Vec::new().into(), config, engine.clock());
    let _slot = engine.reserve_slot().ok_or_else(|| engine.pool_full(package))?;
    let mut store = new_store(engine, ctx);
    begin_initialisation(engine, &mut store);
    let instance = pre.instantiate(&mut store).map_err(|e| instantiation_error(engine, package, &mut store, e))?;
    wire_and_initialize(engine, package, &mut store, &instance, true)?;
    Ok(pages(&store))
}

/// The memory size of the instance in `store`, in pages.
fn pages<S: State>(store: &Store<HostCtx<S>>) -> u32 {
    (store.data().memory_bytes() / extwasm_abi::WASM_PAGE_SIZE as usize) as u32
}

/// The pre-initialised module and its exchange buffer's address.
pub(crate) struct Preinitialized {
    pub(crate) module: Module,
    pub(crate) exchange: u32,
}

/// A module instrumented by wizer (every mutable global exported), compiled.
/// Its imports and exports are the original's plus wizer's own exports, so
/// it also serves to validate the package: the original is never compiled.
pub(crate) struct Instrumented<'w> {
    wizer: Wizer,
    cx: wasmtime_wizer::ModuleContext<'w>,
    pub(crate) module: Module,
}

impl<'w> Instrumented<'w> {
    /// `Ok(Err(reason))` when wizer cannot instrument `wasm` (the engine then
    /// compiles the original and initialises every instance itself).
    pub(crate) fn new(engine: &Engine, package: &str, wasm: &'w [u8]) -> Result<Result<Self, String>> {
        let wizer = Wizer::new();
        let (cx, instrumented) = match wizer.instrument(wasm) {
            Ok(done) => done,
            Err(e) => return Ok(Err(format!("{e:#}"))),
        };
        let module = Module::new(engine.wasmtime(), &instrumented)
            .map_err(|e| Error::load(package, LoadError::InvalidModule { detail: format!("{e:#}") }))?;
        Ok(Ok(Instrumented { wizer, cx, module }))
    }

    /// Runs initialisation once, under `config` (the package's limits), and
    /// captures the initialised state as a new module. Returns the memory
    /// size after initialisation, in pages, with `Err(reason)` when the
    /// state cannot be captured; `Err` when initialisation itself fails,
    /// which no instance could survive either.
    pub(crate) fn preinitialize(
        mut self,
        engine: &Engine,
        config: &Config,
        package: &str,
        denied_wasi: &[(String, wasmtime::FuncType)],
    ) -> Result<(u32, Result<Preinitialized, String>)> {
        // The snapshot no longer exports the entry point: its effect is in it.
        let entry = [export::INITIALIZE, export::START].into_iter().find(|e| self.module.get_export(e).is_some());
        if let Some(entry) = entry {
            self.wizer.init_func(entry);
        }
        self.wizer.keep_init_func(false);
        let mut linker = linker::<NoState>(engine);
        let pre = prepare(&mut linker, package, &self.module, denied_wasi)?;
        let ctx = HostCtx::new(package.into(), Vec::new().into(), config, engine.clock());
        let _slot = engine.reserve_slot().ok_or_else(|| engine.pool_full(package))?;
        let mut store = new_store(engine, ctx);
        begin_initialisation(engine, &mut store);
        let instance = pre.instantiate(&mut store).map_err(|e| instantiation_error(engine, package, &mut store, e))?;
        let exchange = wire_and_initialize(engine, package, &mut store, &instance, true)?;
        let pages = pages(&store);
        let snapshot = block_on(self.wizer.snapshot(&self.cx, &mut Capture { store: &mut store, instance }));
        let snapshot = match snapshot {
            Some(Ok(snapshot)) => snapshot,
            Some(Err(e)) => return Ok((pages, Err(format!("{e:#}")))),
            None => return Ok((pages, Err("the snapshot did not complete synchronously".into()))),
        };
        let module = Module::new(engine.wasmtime(), &snapshot).map_err(|e| {
            let detail = format!("the pre-initialised module does not compile: {e:#}");
            Error::load(package, LoadError::InvalidModule { detail })
        })?;
        Ok((pages, Ok(Preinitialized { module, exchange })))
    }
}

/// Reads an initialised instance for wizer.
struct Capture<'a, S: State> {
    store: &'a mut Store<HostCtx<S>>,
    instance: Instance,
}

impl<S: State> InstanceState for Capture<'_, S>
where
    Store<HostCtx<S>>: Send,
{
    fn global_get(&mut self, name: &str, _: wasmtime_wizer::ValType) -> impl Future<Output = SnapshotVal> + Send {
        let value = match self.instance.get_global(&mut *self.store, name).map(|g| g.get(&mut *self.store)) {
            Some(wasmtime::Val::I32(v)) => SnapshotVal::I32(v),
            Some(wasmtime::Val::I64(v)) => SnapshotVal::I64(v),
            Some(wasmtime::Val::F32(v)) => SnapshotVal::F32(v),
            Some(wasmtime::Val::F64(v)) => SnapshotVal::F64(v),
            Some(wasmtime::Val::V128(v)) => SnapshotVal::V128(v.as_u128()),
            // Wizer only asks for the numeric globals it exported itself.
            _ => SnapshotVal::I32(0),
        };
        std::future::ready(value)
    }

    fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) -> impl Future<Output = ()> + Send {
        if let Some(memory) = self.instance.get_memory(&mut *self.store, name) {
            contents(memory.data(&*self.store));
        }
        std::future::ready(())
    }
}

/// Drives a future whose awaits all complete immediately (ours do); `None`
/// if it would have blocked.
fn block_on<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
    }
    None
}
