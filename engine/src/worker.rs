//! Instantiate many: a [`Worker`] owns one store and instance per package,
//! invokes extensions on them one at a time, and restores an instance to its
//! snapshot after every failure (see [`crate::instance`] for how).

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use extwasm_abi as abi;
use extwasm_host::LoadError;
use extwasm_state::names::str_eq;
use extwasm_state::{Intent, State, excerpt};
use wasmtime::{InstancePre, Linker, Store};

use crate::backtrace::{FuncNames, backtrace_of};
use crate::config::Isolation;
use crate::engine::{Engine, Slot};
use crate::host::HostCtx;
use crate::instance::{self, Live};
use crate::limits::Limits;
use crate::memory_info::{self, MemoryInfo};
use crate::package::{Extension, Package};
use crate::{Error, ErrorKind, Result};

/// Counters of one package in one worker.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Invocations asked for (a retry is not a second one).
    pub invocations: u64,
    /// Invocations that failed (an out-of-memory attempt that a retry
    /// rescued is counted in `retries`, not here).
    pub failures: u64,
    /// Failures by kind.
    pub failures_by_kind: HashMap<ErrorKind, u64>,
    /// Times the instance was restored to its snapshot.
    pub restores: u64,
    /// Out-of-memory invocations retried on a restored instance.
    pub retries: u64,
    /// Duration of the last restore, as the worker waited for it.
    pub last_restore: Duration,
    /// Time the worker spent restoring, in all.
    pub total_restore: Duration,
    /// Restores that swapped in a spare instance and left the reset of the
    /// old one to the engine's reclaimer thread (see
    /// [`crate::Config::background_restore_above`]).
    pub background_restores: u64,
    /// How long the reclaimer took, for the last spare it delivered, to reset
    /// the old instance and instantiate the spare: the restore's cost, paid
    /// off the worker's thread.
    pub last_reclaim: Duration,
    /// Time the reclaimer spent for this package instance, in all.
    pub total_reclaim: Duration,
    /// Largest memory the instance grew to, in bytes.
    pub peak_memory_bytes: usize,
    /// Most bytes the host held for this package instance's invocations
    /// (see [`crate::Config::host_budget_bytes`]).
    pub peak_host_bytes: usize,
}

/// Invokes extensions of the packages added to it against an embedder's
/// [`State`]. One worker per thread: it owns its stores (one per package
/// instance); the compiled packages are shared.
pub struct Worker<S: State> {
    engine: Engine,
    linker: Linker<HostCtx<S>>,
    instances: Vec<PackageInstance<S>>,
}

/// Where the reclaimer delivers a spare instance, with how long it took to
/// reset the old one and make the spare.
type SpareDelivery<S> = Receiver<Result<(Live<S>, Duration)>>;

struct PackageInstance<S: State> {
    package: Package,
    pre: InstancePre<HostCtx<S>>,
    /// `None` only while a restore is under way or after one failed.
    live: Option<Live<S>>,
    /// Restore before the next invocation.
    needs_restore: bool,
    /// Memory size of the snapshot, in bytes.
    snapshot_bytes: usize,
    /// The spare instance the reclaimer is making, or has made, with how
    /// long that took.
    spare: Option<SpareDelivery<S>>,
    /// The package's limits, copied here: an invocation reads them with no
    /// lookup.
    limits: Limits,
    /// No invocation ran on the instance since it was made from the
    /// snapshot (its heap is the snapshot's: nothing to ask the guest).
    fresh: bool,
    /// The extension the last invocation by name asked for: asked again
    /// (as embedders do, a loop of one extension), a comparison finds it
    /// instead of the name index's hash.
    last_extension: usize,
    stats: Stats,
}

impl<S: State> PackageInstance<S> {
    /// The position of extension `name`.
    #[inline]
    fn extension_index(&mut self, name: &str) -> Option<usize> {
        let extensions = &self.package.inner.blueprint.extensions;
        if extensions.get(self.last_extension).is_some_and(|last| str_eq(last, name)) {
            return Some(self.last_extension);
        }
        let index = self.package.extension_index(name)?;
        self.last_extension = index;
        Some(index)
    }

    /// Returns the instance to its snapshot: the store is dropped (the
    /// pooling allocator resets what the guest dirtied) and the
    /// pre-initialised module instantiated again. Handles, intents and
    /// output of the last invocation are gone afterwards.
    ///
    /// When the guest grew its memory past the background threshold and a
    /// spare is ready, the spare takes the old instance's place at once and
    /// the reclaimer thread drops the old one and makes the next spare.
    fn restore(&mut self, engine: &Engine) -> Result<()> {
        let started = Instant::now();
        let background = self.restores_in_background(engine, self.live.as_ref().map_or(0, |l| memory_bytes(&l.store)));
        let spare = if background { self.ready_spare() } else { None };
        match spare {
            Some(spare) => {
                let old = self.live.replace(spare);
                self.request_spare(engine, old);
                self.stats.background_restores += 1;
            }
            None => {
                // The instance keeps its slot while it is made again, so
                // the slot is there for it: the worker never waits for the
                // reclaimer.
                let (mut ctx, slot) = match self.live.take() {
                    Some(live) => live.into_parts(),
                    None => {
                        let slot = engine.reserve_slot().ok_or_else(|| engine.pool_full(self.package.name()))?;
                        (new_ctx(engine, &self.package), slot)
                    }
                };
                // What a failed invocation made the host hold goes back.
                ctx.release_tables();
                let live = instance::instantiate(engine, &self.package.inner.blueprint, &self.pre, ctx, slot)?;
                advise(engine, &live);
                self.live = Some(live);
                if background && self.spare.is_none() {
                    self.request_spare(engine, None);
                }
            }
        }
        self.needs_restore = false;
        self.fresh = true;
        let took = started.elapsed();
        self.stats.restores += 1;
        self.stats.last_restore = took;
        self.stats.total_restore += took;
        Ok(())
    }

    /// Whether a restore at `memory_bytes` of memory goes to the reclaimer:
    /// the guest grew its memory past the background threshold.
    fn restores_in_background(&self, engine: &Engine, memory_bytes: usize) -> bool {
        let grown = memory_bytes.saturating_sub(self.snapshot_bytes);
        engine.config().get_background_restore_above().is_some_and(|above| grown > above)
    }

    /// The spare instance, if the reclaimer has delivered one. A spare it
    /// could not make is forgotten; the next large restore asks again.
    fn ready_spare(&mut self) -> Option<Live<S>> {
        let delivered = self.spare.as_ref()?.try_recv();
        match delivered {
            Err(TryRecvError::Empty) => None,
            Ok(delivery) => {
                self.spare = None;
                self.accept(delivery)
            }
            Err(TryRecvError::Disconnected) => {
                self.spare = None;
                None
            }
        }
    }

    /// The spare of a delivery, counting the reclaimer's time.
    fn accept(&mut self, delivery: Result<(Live<S>, Duration)>) -> Option<Live<S>> {
        let (spare, took) = delivery.ok()?;
        self.stats.last_reclaim = took;
        self.stats.total_reclaim += took;
        Some(spare)
    }

    /// Asks the reclaimer to drop `old` (which resets its memory slot) and
    /// instantiate a spare from the snapshot, in `old`'s slot or, without
    /// one, in a slot claimed now (no spare when none is free). Without a
    /// reclaimer, `old` is dropped here.
    fn request_spare(&mut self, engine: &Engine, old: Option<Live<S>>) {
        let old = match old {
            Some(live) => Ok(live),
            None => match engine.reserve_slot() {
                Some(slot) => Err(slot),
                None => return,
            },
        };
        let (deliver, delivery) = mpsc::sync_channel(1);
        let (job_engine, package, pre) = (engine.clone(), self.package.clone(), self.pre.clone());
        let job = Box::new(move || {
            let started = Instant::now();
            let (ctx, slot) = match old {
                Ok(live) => live.into_parts(),
                Err(slot) => (new_ctx(&job_engine, &package), slot),
            };
            // A fresh context: the old one may hold what a guest filled.
            drop(ctx);
            let ctx = new_ctx(&job_engine, &package);
            let spare = instance::instantiate(&job_engine, &package.inner.blueprint, &pre, ctx, slot);
            if let Ok(spare) = &spare {
                advise(&job_engine, spare);
            }
            // The worker may be gone; its spare then goes with this closure.
            let _ = deliver.send(spare.map(|spare| (spare, started.elapsed())));
        });
        if engine.reclaim(job) {
            self.spare = Some(delivery);
        }
    }

    /// Whether the guest's heap in use is over `limit` bytes, as it says
    /// (see [`crate::RestoreWhen::HeapInuseBytes`]): a guest that cannot say is
    /// judged by its memory's size, and one whose read fails is restored.
    fn heap_over(&mut self, limit: u64) -> bool {
        let Some(live) = self.live.as_mut() else { return true };
        match memory_info::read(&self.limits, live, abi::export::GET_HEAP_INUSE) {
            Ok(Some(inuse)) => inuse > limit,
            Ok(None) => memory_bytes(&live.store) > self.limits.restore_above_bytes,
            Err(_) => true,
        }
    }

    /// One run of extension `index`, with the invocation's limits.
    fn call(&mut self, engine: &Engine, index: usize, state: &S) -> Result<()> {
        if self.needs_restore || self.live.is_none() {
            self.restore(engine)?;
        } else if let Some(limit) = self.limits.restore_heap_inuse_bytes
            && !self.fresh
            && self.heap_over(limit)
        {
            self.restore(engine)?;
        }
        self.fresh = false;
        let Some(Live { store, extensions, .. }) = self.live.as_mut() else { unreachable!("restored above") };
        let limits = &self.limits;
        if limits.epochs {
            store.set_epoch_deadline(limits.invoke_ticks);
        }
        if limits.metered {
            let fuel = limits.fuel.unwrap_or(u64::MAX);
            store.set_fuel(fuel).map_err(|e| Error::config("fuel", format!("{e:#}")))?;
        }
        store.data_mut().begin(index);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let lent = Lent::new(store, state);
            extensions[index].call(&mut *lent.store, ())
        }));
        let result = match result {
            Ok(result) => result,
            // A bug of the engine's (the state's panics are caught in the
            // host calls): the instance is restored before its next use.
            Err(panic) => {
                self.needs_restore = true;
                std::panic::resume_unwind(panic)
            }
        };
        let names = &self.package.inner.blueprint.func_names;
        match result {
            Err(trap) => Err(classify(store.data_mut(), trap, limits, names)),
            Ok(()) => {
                release_overflow(store, limits, names)?;
                store.data_mut().take_pending().map_or(Ok(()), Err)
            }
        }
    }
}

/// The embedder's state lent to a store for one call: cleared when this
/// goes, however the call ends (a panic included), so no instance carries
/// a pointer to a state that is gone into a restore or to the reclaimer.
struct Lent<'a, S: State> {
    store: &'a mut Store<HostCtx<S>>,
}

impl<'a, S: State> Lent<'a, S> {
    fn new(store: &'a mut Store<HostCtx<S>>, state: &S) -> Self {
        store.data_mut().lend(state);
        Lent { store }
    }
}

impl<S: State> Drop for Lent<'_, S> {
    fn drop(&mut self) {
        self.store.data_mut().take_back();
    }
}

/// Advises huge pages for the memory slot `live` runs in, if the engine has
/// not yet (the advice stays with the slot).
fn advise<S: State>(engine: &Engine, live: &Live<S>) {
    if let Some(memory) = live.store.data().memory() {
        engine.advise_huge_pages(memory.data_ptr(&live.store));
    }
}

fn new_ctx<S: State>(engine: &Engine, package: &Package) -> HostCtx<S> {
    let blueprint = &package.inner.blueprint;
    HostCtx::new(blueprint.name.clone(), blueprint.extensions.clone(), &package.inner.config, engine.clock())
}

impl<S: State> Worker<S> {
    /// A worker with no packages yet.
    pub fn new(engine: &Engine) -> Self {
        Worker { engine: engine.clone(), linker: instance::linker(engine), instances: Vec::new() }
    }

    /// Instantiates `package` in this worker from its snapshot. Adding a
    /// package of a name already present replaces it.
    pub fn add_package(&mut self, package: &Package) -> Result<()> {
        let name = package.name();
        if !wasmtime::Engine::same(package.inner.engine.wasmtime(), self.engine.wasmtime()) {
            return Err(Error::load(name, LoadError::ForeignEngine));
        }
        let pre = instance::prepare(&mut self.linker, name, &package.inner.module, &package.inner.denied_wasi)?;
        let slot: Slot = self.engine.reserve_slot().ok_or_else(|| self.engine.pool_full(name))?;
        let blueprint = &package.inner.blueprint;
        let live = instance::instantiate(&self.engine, blueprint, &pre, new_ctx(&self.engine, package), slot)?;
        let mut instance = PackageInstance {
            package: package.clone(),
            pre,
            live: None,
            needs_restore: false,
            snapshot_bytes: memory_bytes(&live.store),
            spare: None,
            limits: package.inner.limits,
            fresh: true,
            last_extension: 0,
            stats: Stats::default(),
        };
        advise(&self.engine, &live);
        instance.live = Some(live);
        match self.instances.iter_mut().find(|i| i.package.name() == name) {
            Some(slot) => *slot = instance,
            None => self.instances.push(instance),
        }
        Ok(())
    }

    /// Invokes `extension` of `package` against `state`.
    ///
    /// Atomic: on success the returned [`Invocation`] hands over all the
    /// extension's intents (valid until the next invocation); on failure none,
    /// and the instance is restored to its snapshot. An invocation that ran
    /// out of memory is retried once on the restored instance (see
    /// [`crate::Config::retry_out_of_memory`]); the retry starts with no
    /// intents, so none is handed over twice.
    ///
    /// This looks `package` and `extension` up by name; [`Worker::call`]
    /// invokes an [`Extension`] resolved once.
    pub fn invoke(&mut self, package: &str, extension: &str, state: &S) -> Result<Invocation<'_, S>> {
        let Some(slot) = self.instances.iter().position(|i| str_eq(i.package.name(), package)) else {
            return Err(Error::UnknownPackage { package: package.to_owned() });
        };
        let instance = &mut self.instances[slot];
        let Some(index) = instance.extension_index(extension) else {
            return Err(Error::unknown_extension(package, extension, instance.package.extensions()));
        };
        self.run(slot, index, state)
    }

    /// Invokes `extension` (from [`Package::extension`]) against `state`, as
    /// [`Worker::invoke`] does, without looking names up. The extension's
    /// package must have been added to this worker (and not replaced since).
    pub fn call(&mut self, extension: &Extension, state: &S) -> Result<Invocation<'_, S>> {
        let Some(slot) = self.instances.iter().position(|i| i.package.same(&extension.package)) else {
            return Err(Error::UnknownPackage { package: extension.package.name().to_owned() });
        };
        self.run(slot, extension.index, state)
    }

    /// One invocation of extension `index` of the package instance at `slot`.
    fn run(&mut self, slot: usize, index: usize, state: &S) -> Result<Invocation<'_, S>> {
        let instance = &mut self.instances[slot];
        let engine = &self.engine;
        instance.stats.invocations += 1;
        let mut retried = false;
        let outcome = loop {
            match instance.call(engine, index, state) {
                Ok(()) => break Ok(()),
                Err(error) => {
                    // Restore now, so that memory is released and the next
                    // invocation does not pay for it; if that fails, the next
                    // invocation tries again.
                    instance.needs_restore = true;
                    let _ = instance.restore(engine);
                    if error.kind() == ErrorKind::MemoryLimit && instance.limits.retry_out_of_memory && !retried {
                        retried = true;
                        instance.stats.retries += 1;
                        continue;
                    }
                    instance.stats.failures += 1;
                    *instance.stats.failures_by_kind.entry(error.kind()).or_default() += 1;
                    break Err(error);
                }
            }
        };
        if let Some(live) = &instance.live {
            let ctx = live.store.data();
            instance.stats.peak_memory_bytes = instance.stats.peak_memory_bytes.max(ctx.peak_memory_bytes());
            instance.stats.peak_host_bytes = instance.stats.peak_host_bytes.max(ctx.host_bytes().1);
        }
        outcome?;
        let memory_bytes = instance.live.as_ref().map_or(0, |live| memory_bytes(&live.store));
        // Under `RestoreWhen::HeapInuseBytes` the guest is asked before the
        // next invocation instead.
        let over =
            instance.limits.restore_heap_inuse_bytes.is_none() && memory_bytes > instance.limits.restore_above_bytes;
        if instance.limits.isolation == Isolation::Fresh || over {
            instance.needs_restore = true;
        }
        // Memory that grew over invocations will need a large restore: have
        // the spare ready for it, so even the first one is backgrounded.
        if instance.spare.is_none() && instance.restores_in_background(engine, memory_bytes) {
            instance.request_spare(engine, None);
        }
        let live = instance.live.as_ref().expect("a successful call leaves a live instance");
        Ok(Invocation { ctx: live.store.data(), memory_bytes })
    }

    /// Restores `package`'s instance to its snapshot now (it is otherwise
    /// restored after failures and when its memory passes the threshold).
    pub fn restore(&mut self, package: &str) -> Result<()> {
        match self.instances.iter_mut().find(|i| str_eq(i.package.name(), package)) {
            Some(instance) => instance.restore(&self.engine),
            None => Err(Error::UnknownPackage { package: package.to_owned() }),
        }
    }

    /// Counters of `package` in this worker.
    pub fn stats(&self, package: &str) -> Option<&Stats> {
        self.instances.iter().find(|i| str_eq(i.package.name(), package)).map(|i| &i.stats)
    }

    /// What `package`'s guest says of its heap (the ABI's memory-info
    /// exports, `None` for those it lacks) and its memory's size.
    ///
    /// This calls into the guest, as an invocation does: under the
    /// invocation deadline and fuel, with no state. A read that fails (a
    /// trap, a panic, the deadline) is an error of the kind an invocation's
    /// would be, and the instance is restored, as after a failed
    /// invocation. `Err(UnknownPackage)` when the worker has no such package.
    pub fn memory_info(&mut self, package: &str) -> Result<MemoryInfo> {
        let Some(instance) = self.instances.iter_mut().find(|i| str_eq(i.package.name(), package)) else {
            return Err(Error::UnknownPackage { package: package.to_owned() });
        };
        // Only an instance that could not be made again after a failure is
        // made now: otherwise this says what the last invocation left.
        if instance.live.is_none() {
            instance.restore(&self.engine)?;
        }
        let Some(live) = instance.live.as_mut() else { unreachable!("restored above") };
        match memory_info::read_all(&instance.limits, live) {
            Ok(info) => Ok(info),
            Err(trap) => {
                let names = &instance.package.inner.blueprint.func_names;
                let error = classify(live.store.data_mut(), trap, &instance.limits, names);
                // A guest whose memory-info function fails is in no state to
                // go on: the next call starts from the snapshot.
                instance.needs_restore = true;
                instance.restore(&self.engine)?;
                Err(error)
            }
        }
    }

    /// Current memory size of `package`'s instance, in bytes.
    pub fn memory_bytes(&self, package: &str) -> Option<usize> {
        let instance = self.instances.iter().find(|i| str_eq(i.package.name(), package))?;
        instance.live.as_ref().map(|live| memory_bytes(&live.store))
    }

    /// Bytes the host holds now for `package`'s instance: what its
    /// invocations made it allocate and it keeps for reuse (see
    /// [`crate::Config::host_budget_bytes`]).
    pub fn host_bytes(&self, package: &str) -> Option<usize> {
        let instance = self.instances.iter().find(|i| str_eq(i.package.name(), package))?;
        instance.live.as_ref().map(|live| live.store.data().host_bytes().0)
    }

    /// The packages in this worker.
    pub fn packages(&self) -> impl Iterator<Item = &Package> {
        self.instances.iter().map(|i| &i.package)
    }
}

fn memory_bytes<S: State>(store: &Store<HostCtx<S>>) -> usize {
    store.data().memory_bytes()
}

/// Frees the extra result buffers of the invocation that just succeeded. A
/// `free` that traps fails the invocation: the guest's heap is broken, so
/// the instance is restored (by the caller) and none of its intents is
/// trusted.
fn release_overflow<S: State>(store: &mut Store<HostCtx<S>>, limits: &Limits, names: &FuncNames) -> Result<()> {
    let chunks = store.data_mut().take_overflow();
    if chunks.is_empty() {
        store.data_mut().keep_overflow(chunks);
        return Ok(());
    }
    if let Some(free) = store.data().free() {
        for &ptr in &chunks {
            if let Err(trap) = free.call(&mut *store, ptr as i32) {
                let ctx = store.data_mut();
                let error = match classify(ctx, trap, limits, names) {
                    Error::Trap { extension, message, backtrace } => Error::Trap {
                        extension,
                        message: format!("the guest's free({ptr:#x}) trapped after the extension returned: {message}"),
                        backtrace,
                    },
                    other => other,
                };
                return Err(error);
            }
        }
    }
    store.data_mut().keep_overflow(chunks);
    Ok(())
}

/// Turns a failed call into the invocation's error. The trap that ended the
/// call decides: a limit the guest ran into (deadline, fuel, stack), else a
/// host-call error, else a panic or trap. A denied memory grow makes it
/// [`Error::MemoryLimit`] (which is retried) only when the failure follows
/// from it: the guest reported it (a panic, `unreachable`, an exit) without
/// going on to call the host; a guest that survives a denied grow and fails
/// later fails for that later reason.
fn classify<S: State>(ctx: &mut HostCtx<S>, trap: wasmtime::Error, limits: &Limits, names: &FuncNames) -> Error {
    let backtrace = backtrace_of(&trap, names);
    let extension = ctx.label();
    // The buffers of a failed invocation go with the instance's restore.
    let overflow = ctx.take_overflow();
    ctx.keep_overflow(overflow);
    let printed_panic = ctx.printed_panic();
    let code = trap.downcast_ref::<wasmtime::Trap>().copied();
    match code {
        Some(wasmtime::Trap::Interrupt) => {
            return Error::Timeout { extension, timeout: limits.timeout.unwrap_or_default() };
        }
        Some(wasmtime::Trap::OutOfFuel) => {
            return Error::FuelExhausted { extension, fuel: limits.fuel.unwrap_or_default() };
        }
        Some(wasmtime::Trap::StackOverflow) => return Error::StackOverflow { extension, backtrace },
        _ => {}
    }
    let out_of_memory = ctx.denied_pages().filter(|_| !ctx.went_on());
    let limit_pages = ctx.limit_pages();
    match ctx.take_pending() {
        // TinyGo prints its panic, the Rust SDK calls hostPanic.
        Some(Error::GuestPanic { extension, message, .. }) => match out_of_memory {
            Some(requested_pages) => Error::MemoryLimit { extension, limit_pages, requested_pages, message },
            None => Error::GuestPanic { extension, message, backtrace },
        },
        Some(other) => other,
        None => {
            let exit_code = ctx.take_exit_code();
            let reports = code == Some(wasmtime::Trap::UnreachableCodeReached) || exit_code.is_some();
            if let (Some(requested_pages), true) = (out_of_memory, reports) {
                // The line as the guest printed it (`panic: runtime error:
                // out of memory`): what users of its runtime search for.
                let message = ctx.printed_panic_line().unwrap_or_else(|| trap_text(&trap));
                return Error::MemoryLimit { extension, limit_pages, requested_pages, message };
            }
            if let Some(message) = printed_panic {
                return Error::GuestPanic { extension, message, backtrace };
            }
            let message = match (exit_code, code) {
                (Some(code), _) => format!("guest exited with code {code}"),
                (None, Some(trap)) => trap.to_string(),
                (None, None) => trap_text(&trap),
            };
            Error::Trap { extension, message, backtrace }
        }
    }
}

/// What a failed guest call says, without the backtrace the error carries
/// (function names are the module's, at any length): the trap's
/// description, else the error's own message, cut short.
pub(crate) fn trap_text(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => excerpt(&error.root_cause().to_string()),
    }
}

/// A successful invocation: its intents and what the guest printed. Borrows
/// the worker until dropped.
pub struct Invocation<'w, S: State> {
    ctx: &'w HostCtx<S>,
    memory_bytes: usize,
}

impl<'w, S: State> Invocation<'w, S> {
    /// The intents, in the order the guest made them.
    pub fn intents(&self) -> impl ExactSizeIterator<Item = Intent<'w, S::Value>> + 'w {
        self.ctx.intents()
    }

    /// What the guest printed on stdout and stderr (bounded).
    pub fn output(&self) -> String {
        self.ctx.output_text()
    }

    /// Host calls the guest made (WASI calls included).
    pub fn host_calls(&self) -> u64 {
        self.ctx.host_calls()
    }

    /// Size of the instance's memory after the invocation, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }
}
