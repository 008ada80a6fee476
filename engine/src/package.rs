//! Compile once: the shared [`Engine`] and validated, compiled [`Package`]s.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use extwasm_abi::{self as abi, ValType, export};
use wasmtime::{ExternType, FuncType};

use crate::budget::{Clock, EPOCH_TICK};
use crate::error::{Error, Result};
use crate::instance;
use crate::names::NameIndex;
use crate::wasi;

/// How much an invocation may see of the ones before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// One instance serves many invocations; it is restored to its snapshot
    /// after a failure and when its memory passes the restore threshold.
    #[default]
    Reuse,
    /// Every invocation starts from the snapshot: nothing leaks from one
    /// invocation to the next through guest globals or heap.
    Fresh,
}

impl std::str::FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reuse" => Ok(Isolation::Reuse),
            "fresh" => Ok(Isolation::Fresh),
            other => Err(format!("isolation must be reuse or fresh, not {other:?}")),
        }
    }
}

/// Engine-wide settings. Every instance a [`crate::Worker`] creates gets
/// these limits.
#[derive(Clone, Debug)]
pub struct Config {
    memory_limit_pages: u32,
    exchange_buffer_bytes: u32,
    output_limit_bytes: usize,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    isolation: Isolation,
    restore_threshold_pages: Option<u32>,
    retry_out_of_memory: bool,
    max_instances: u32,
    keep_resident_bytes: usize,
    huge_pages: bool,
    background_restore_above: Option<usize>,
    host_budget_bytes: Option<usize>,
    max_handles: Option<u32>,
    load_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_limit_pages: abi::DEFAULT_MEMORY_LIMIT_PAGES,
            exchange_buffer_bytes: abi::EXCHANGE_BUFFER_SIZE,
            output_limit_bytes: 1024,
            timeout: Some(Duration::from_secs(10)),
            fuel: None,
            isolation: Isolation::Reuse,
            restore_threshold_pages: None,
            retry_out_of_memory: true,
            max_instances: 256,
            keep_resident_bytes: 128 << 20,
            huge_pages: true,
            background_restore_above: Some(512 << 10),
            host_budget_bytes: None,
            max_handles: None,
            load_timeout: Some(Duration::from_secs(10)),
        }
    }
}

impl Config {
    /// Wall-clock deadline of one invocation (default 10 s; `None`: none).
    /// Enforced by epoch interruption with one ticker thread per engine
    /// (5 ms granularity); exceeding it fails with
    /// [`Error::Timeout`].
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Deterministic instruction budget of one invocation in wasmtime fuel
    /// units (default `None`). Enabling fuel slows all guest code a little;
    /// exceeding the budget fails with [`Error::FuelExhausted`].
    pub fn fuel(mut self, fuel: Option<u64>) -> Self {
        self.fuel = fuel;
        self
    }

    /// [`Isolation::Reuse`] (default) or [`Isolation::Fresh`].
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Restore an instance between invocations once its memory exceeds this
    /// many pages (default: half the memory limit), so a leaking guest is
    /// reset before it runs out.
    pub fn restore_threshold_pages(mut self, pages: u32) -> Self {
        self.restore_threshold_pages = Some(pages);
        self
    }

    /// Retry an invocation that ran out of memory once, on a restored
    /// instance (default on).
    pub fn retry_out_of_memory(mut self, retry: bool) -> Self {
        self.retry_out_of_memory = retry;
        self
    }

    /// How many instances may exist at once across the engine's workers
    /// (default 256): the size of the pooling allocator. Each takes address
    /// space, not memory, until used. A package instance restored in the
    /// background counts twice while it has a spare (see
    /// [`Config::background_restore_above`]).
    pub fn max_instances(mut self, instances: u32) -> Self {
        self.max_instances = instances;
        self
    }

    /// Bytes at the start of each instance's memory that a restore resets in
    /// place (only the pages the guest dirtied) instead of returning them to
    /// the kernel (default 128 MiB, capped at the memory limit). Resetting in
    /// place costs a `memset` of the dirtied pages and keeps them resident,
    /// so the next invocation takes no page fault on them (≈2 µs a page);
    /// returning pages costs `madvise` plus those faults later. The price is
    /// resident memory: an instance keeps up to this much of what it touched.
    pub fn keep_resident_bytes(mut self, bytes: usize) -> Self {
        self.keep_resident_bytes = bytes;
        self
    }

    /// Back guest memory with transparent huge pages where the kernel offers
    /// them (default on; Linux with THP `always` or `madvise`). A 2 MiB block
    /// of memory that a guest grows into at once (TinyGo doubles its heap)
    /// is then one page: filling it takes one page fault instead of 512, and
    /// a restore resets and protects it with one page-table entry instead of
    /// 512 (measured: 8 MiB filled 249 → 119 µs, 100 MiB 2.5 → 0.86 ms; see
    /// the README). Memory grown a page at a time, and the first 2 MiB,
    /// which holds the snapshot's image, keep 4 KiB pages. The price: memory
    /// becomes resident 2 MiB at a time, and the first touch of a block costs
    /// the kernel zeroing all of it.
    pub fn huge_pages(mut self, enabled: bool) -> Self {
        self.huge_pages = enabled;
        self
    }

    /// Whether guest memory is advised to use transparent huge pages.
    pub fn get_huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// Restore in the background an instance whose memory grew more than
    /// `bytes` past its snapshot (default 512 KiB; `None`: every restore
    /// happens on the worker's thread). The worker swaps in a spare
    /// instance, made from the snapshot beforehand, and goes on at once; the
    /// engine's reclaimer thread drops the old instance, which resets its
    /// memory, and makes the next spare. A restore after a guest filled its
    /// memory then costs the worker a few microseconds instead of a reset
    /// proportional to what the guest dirtied (2 MiB filled: ≈ 60 µs), and that
    /// cost moves to the reclaimer ([`crate::Stats::last_reclaim`]).
    ///
    /// The first spare is ordered when an invocation leaves memory grown
    /// past the threshold, or else at the first such restore (which then
    /// happens on the worker). When the reclaimer has not finished the
    /// spare, the restore happens on the worker too. A package instance with
    /// a spare holds a second instance slot (see [`Config::max_instances`])
    /// and, once both have been filled, up to twice the resident memory (see
    /// [`Config::keep_resident_bytes`]).
    pub fn background_restore_above(mut self, bytes: Option<usize>) -> Self {
        self.background_restore_above = bytes;
        self
    }

    /// The growth past the snapshot above which restores are backgrounded.
    pub fn get_background_restore_above(&self) -> Option<usize> {
        self.background_restore_above
    }

    /// Bytes the host may hold for one invocation (default: the memory
    /// limit, so a guest cannot make the host hold more than it may hold
    /// itself). It counts what the host allocates because of the guest:
    /// key builders and intents with their names, strings and bytes, and
    /// the handle tables. Passing it fails the invocation with
    /// [`crate::Error::HostBudget`]; the instance is restored and the host
    /// memory released.
    pub fn host_budget_bytes(mut self, bytes: usize) -> Self {
        self.host_budget_bytes = Some(bytes);
        self
    }

    /// The host budget in bytes.
    pub fn get_host_budget_bytes(&self) -> usize {
        self.host_budget_bytes.unwrap_or_else(|| self.memory_limit_bytes())
    }

    /// Handles one invocation may be handed (key builders, values, keys
    /// of read callbacks and intents together; default: one per 256 bytes
    /// of the memory limit, 65 536 at the default 16 MiB). Passing it fails
    /// the invocation with [`crate::Error::HostBudget`].
    pub fn max_handles(mut self, handles: u32) -> Self {
        self.max_handles = Some(handles);
        self
    }

    /// The handle limit.
    pub fn get_max_handles(&self) -> u32 {
        self.max_handles.unwrap_or_else(|| (self.memory_limit_bytes() / 256).clamp(1024, u32::MAX as usize) as u32)
    }

    /// Deadline of a module's initialisation (default 10 s; `None`: none):
    /// its start function, `_initialize` or `_start`, the version call and
    /// the `malloc` of the exchange buffer, run once at load to take the
    /// snapshot (and at every instantiation of a module that cannot be
    /// pre-initialised). Exceeding it fails with
    /// [`crate::Error::LoadTimeout`], naming the phase. Initialisation also
    /// runs under the memory limit.
    pub fn load_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.load_timeout = timeout;
        self
    }

    /// The load deadline.
    pub fn get_load_timeout(&self) -> Option<Duration> {
        self.load_timeout
    }

    /// The invocation deadline.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The fuel budget.
    pub fn get_fuel(&self) -> Option<u64> {
        self.fuel
    }

    /// The isolation mode.
    pub fn get_isolation(&self) -> Isolation {
        self.isolation
    }

    /// The restore threshold in pages.
    pub fn get_restore_threshold_pages(&self) -> u32 {
        self.restore_threshold_pages.unwrap_or(self.memory_limit_pages / 2)
    }

    /// Whether out-of-memory invocations are retried.
    pub fn get_retry_out_of_memory(&self) -> bool {
        self.retry_out_of_memory
    }

    /// Memory limit of each instance in 64 KiB pages (default 256 = 16 MiB,
    /// at most 65 535). Growing beyond it fails the invocation with
    /// [`Error::MemoryLimit`].
    pub fn memory_limit_pages(mut self, pages: u32) -> Self {
        self.memory_limit_pages = pages;
        self
    }

    /// Size of the exchange buffer allocated in each instance for string and
    /// bytes results (default 64 000). The memory limit must exceed 1.7 × it.
    pub fn exchange_buffer_bytes(mut self, bytes: u32) -> Self {
        self.exchange_buffer_bytes = bytes;
        self
    }

    /// How much of what a guest prints per invocation is kept (default 1 KiB;
    /// the first `panic:` line is kept regardless).
    pub fn output_limit_bytes(mut self, bytes: usize) -> Self {
        self.output_limit_bytes = bytes;
        self
    }

    /// The memory limit in pages.
    pub fn memory_limit(&self) -> u32 {
        self.memory_limit_pages
    }

    pub(crate) fn memory_limit_bytes(&self) -> usize {
        self.memory_limit_pages as usize * abi::WASM_PAGE_SIZE as usize
    }

    pub(crate) fn exchange_bytes(&self) -> u32 {
        self.exchange_buffer_bytes
    }

    pub(crate) fn output_limit(&self) -> usize {
        self.output_limit_bytes
    }

    /// Whether wasm code is interrupted by epochs: for invocation or load deadlines.
    pub(crate) fn uses_epochs(&self) -> bool {
        self.timeout.is_some() || self.load_timeout.is_some()
    }

    fn validate(&self) -> Result<()> {
        if self.max_instances == 0 {
            return Err(Error::Config("max_instances must be at least 1".into()));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Config("a timeout must be longer than zero".into()));
        }
        if self.load_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Config("a load timeout must be longer than zero".into()));
        }
        if self.host_budget_bytes.is_some_and(|b| b == 0 || b > u32::MAX as usize) {
            return Err(Error::Config(format!(
                "the host budget must be 1..={} bytes, got {}",
                u32::MAX,
                self.get_host_budget_bytes()
            )));
        }
        if self.max_handles == Some(0) {
            return Err(Error::Config("max_handles must be at least 1".into()));
        }
        if self.memory_limit_pages == 0 || self.memory_limit_pages > abi::MAX_MEMORY_LIMIT_PAGES {
            return Err(Error::Config(format!(
                "memory limit must be 1..={} pages, got {}",
                abi::MAX_MEMORY_LIMIT_PAGES,
                self.memory_limit_pages
            )));
        }
        let (num, den) = abi::MEMORY_LIMIT_EXCHANGE_FACTOR;
        if self.memory_limit_bytes() as u64 * den <= self.exchange_buffer_bytes as u64 * num {
            return Err(Error::Config(format!(
                "memory limit of {} pages ({} bytes) must exceed 1.7 x the exchange buffer of {} bytes",
                self.memory_limit_pages,
                self.memory_limit_bytes(),
                self.exchange_buffer_bytes
            )));
        }
        Ok(())
    }
}

/// The shared engine: compiles packages and configures the instances workers
/// make of them. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    config: Config,
    /// Hands jobs to the reclaimer thread (present when restores may run in
    /// the background).
    reclaimer: Option<mpsc::Sender<ReclaimJob>>,
    /// Memory slots already advised to use huge pages (at most one entry
    /// per pool slot).
    advised_slots: Mutex<HashSet<usize>>,
    /// Instance slots of the pool taken (see [`Slot`]).
    slots_taken: Arc<AtomicU32>,
    /// Ticks since the engine started, in step with wasmtime's epoch.
    clock: Clock,
    /// The invocation deadline in ticks.
    invoke_ticks: u64,
}

/// A claim on one of the pooling allocator's instance slots, held by every
/// instance and by the spare the reclaimer is making. An instance restored
/// on the worker keeps its claim while its old store is dropped and the new
/// one made, so the reclaimer (which must claim a slot before it makes a
/// spare) can never take the slot the worker needs, and the worker never
/// waits for the reclaimer.
pub(crate) struct Slot {
    taken: Arc<AtomicU32>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Work for the reclaimer thread: dropping an instance and making a spare.
pub(crate) type ReclaimJob = Box<dyn FnOnce() + Send>;

impl Engine {
    /// An engine with `config` (checked here: an invalid one is [`Error::Config`]).
    pub fn new(config: Config) -> Result<Self> {
        config.validate()?;
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(config.max_instances)
            .total_memories(config.max_instances)
            .total_tables(config.max_instances)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .table_elements(1 << 17)
            .max_memory_size(config.memory_limit_bytes())
            .linear_memory_keep_resident(config.keep_resident_bytes.min(config.memory_limit_bytes()))
            .table_keep_resident(64 << 10)
            // Reset only the pages a guest dirtied (PAGEMAP_SCAN, Linux 6.7+).
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(config.uses_epochs())
            .consume_fuel(config.fuel.is_some());
        let wasmtime =
            wasmtime::Engine::new(&wasmtime_config).map_err(|e| Error::Config(format!("wasmtime: {e:#}")))?;
        let clock = Clock::default();
        if config.uses_epochs() {
            spawn_ticker(&wasmtime, clock.clone());
        }
        let reclaimer = config.background_restore_above.map(|_| spawn_reclaimer());
        let slots_taken = Arc::default();
        let invoke_ticks = crate::budget::ticks(config.timeout);
        let advised_slots = Mutex::default();
        let inner = EngineInner { wasmtime, config, reclaimer, advised_slots, slots_taken, clock, invoke_ticks };
        Ok(Engine { inner: Arc::new(inner) })
    }

    /// Epoch ticks that cover the invocation deadline (see [`crate::budget::ticks`]).
    pub(crate) fn invoke_ticks(&self) -> u64 {
        self.inner.invoke_ticks
    }

    /// The clock deadlines count in.
    pub(crate) fn clock(&self) -> Clock {
        self.inner.clock.clone()
    }

    /// Claims a free instance slot, or `None` when all
    /// [`Config::max_instances`] are taken.
    pub(crate) fn reserve_slot(&self) -> Option<Slot> {
        let taken = &self.inner.slots_taken;
        taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.config().max_instances).then_some(n + 1))
            .ok()?;
        Some(Slot { taken: taken.clone() })
    }

    /// The error for a package that finds every instance slot taken.
    pub(crate) fn pool_full(&self, package: &str) -> Error {
        Error::load(
            package,
            format!(
                "no free instance slot: all {} of the engine's instances (Config::max_instances) are in use",
                self.config().max_instances
            ),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    /// Advises huge pages for the memory slot at `base` (when configured),
    /// once per slot: the pooling allocator keeps its slots mapped, and the
    /// advice stays with a slot whichever instance uses it next.
    pub(crate) fn advise_huge_pages(&self, base: *mut u8) {
        if !self.config().huge_pages {
            return;
        }
        // A poisoned lock only means another thread panicked while
        // inserting; the set is still a valid cache.
        let mut advised = self.inner.advised_slots.lock().unwrap_or_else(|poison| poison.into_inner());
        if advised.insert(base.addr()) {
            crate::sys::advise_huge_pages(base, self.config().memory_limit_bytes());
        }
    }

    /// Runs `job` on the reclaimer thread. Returns false, dropping `job`
    /// here, when the engine has no reclaimer.
    pub(crate) fn reclaim(&self, job: ReclaimJob) -> bool {
        self.inner.reclaimer.as_ref().is_some_and(|reclaimer| reclaimer.send(job).is_ok())
    }

    /// Compiles and validates a package: `wasm` (binary, or text format) with
    /// the named extensions. Nothing runs yet; every ABI problem is found here.
    ///
    /// Loading also runs the module's initialisation once and captures the
    /// result as the package's snapshot (see [`Package::preinitialized`]):
    /// every instance starts from it, and every restore returns to it.
    pub fn load_package(&self, name: &str, wasm: &[u8], extensions: &[&str]) -> Result<Package> {
        let binary =
            wat::parse_bytes(wasm).map_err(|e| Error::load(name, format!("not a valid WebAssembly module: {e}")))?;
        // Before compiling: the pooling allocator would refuse an oversized
        // memory with a message about itself rather than about the module.
        if let Some(pages) = initial_memory_pages(&binary)
            && pages > self.config().memory_limit() as u64
        {
            return Err(Error::load(
                name,
                format!(
                    "the module needs {pages} pages of memory at start, more than the limit of {} pages",
                    self.config().memory_limit()
                ),
            ));
        }
        // Compile once for validation and pre-initialisation (the
        // instrumented module), once for the snapshot.
        let (module, instrumented) = match instance::Instrumented::new(self, name, &binary)? {
            Ok(instrumented) => (instrumented.module.clone(), Ok(instrumented)),
            Err(reason) => {
                let module = wasmtime::Module::new(self.wasmtime(), &binary)
                    .map_err(|e| Error::load(name, format!("not a valid WebAssembly module: {e:#}")))?;
                (module, Err(reason))
            }
        };
        let mut inner = Package::validate(self, name, module, extensions)?;
        let outcome = match instrumented {
            Ok(instrumented) => instrumented.preinitialize(self, name, &inner.denied_wasi)?,
            Err(reason) => {
                instance::trial_initialize(self, name, &inner.module, &inner.denied_wasi)?;
                Err(reason)
            }
        };
        match outcome {
            Ok(snapshot) => {
                inner.module = snapshot.module;
                inner.preinitialized = Some(snapshot.exchange);
            }
            // Instances run initialisation themselves, from `inner.module`
            // (the instrumented module, when only the snapshot failed).
            Err(reason) => inner.not_preinitialized = Some(reason),
        }
        Ok(Package { inner: Arc::new(inner) })
    }

    /// [`Engine::load_package`] from a file.
    pub fn load_package_file(&self, name: &str, path: impl AsRef<Path>, extensions: &[&str]) -> Result<Package> {
        let path = path.as_ref();
        let wasm =
            std::fs::read(path).map_err(|e| Error::load(name, format!("cannot read {}: {e}", path.display())))?;
        self.load_package(name, &wasm, extensions)
    }
}

/// The initial size of the module's first defined memory, if it has one and
/// parses (a module that does not parse fails compilation right after).
fn initial_memory_pages(wasm: &[u8]) -> Option<u64> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::MemorySection(memories) = payload.ok()? {
            return memories.into_iter().next()?.ok().map(|memory| memory.initial);
        }
    }
    None
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped: one thread per engine, however many workers and invocations.
///
/// The epoch follows the clock, not the count of sleeps: a tick that woke
/// late catches up, so on a loaded machine the epoch does not fall behind
/// and deadlines do not stretch (sleeping 5 ms at a time, a 10 s deadline
/// took 12–15 s under load). It never runs ahead of the clock either.
fn spawn_ticker(engine: &wasmtime::Engine, clock: Clock) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("extwasm-epoch".into())
        .spawn(move || {
            let start = Instant::now();
            let mut ticks: u64 = 0;
            while let Some(engine) = weak.upgrade() {
                let due = (start.elapsed().as_nanos() / EPOCH_TICK.as_nanos()) as u64;
                while ticks < due {
                    engine.increment_epoch();
                    clock.advance();
                    ticks += 1;
                }
                drop(engine);
                let tick_nanos = EPOCH_TICK.as_nanos() as u64;
                let next = start + Duration::from_nanos((ticks + 1).saturating_mul(tick_nanos));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        })
        .expect("the OS can start the epoch ticker thread");
}

/// Starts the thread that runs reclaim jobs in order. It ends when the
/// engine, and with it the sending end, is gone (jobs hold engine handles, so
/// that is after the last job).
fn spawn_reclaimer() -> mpsc::Sender<ReclaimJob> {
    let (sender, jobs) = mpsc::channel::<ReclaimJob>();
    std::thread::Builder::new()
        .name("extwasm-reclaim".into())
        .spawn(move || {
            // Background work: it must not take a CPU from a worker. When no
            // CPU is idle, spares arrive late and restores happen on the
            // workers, as without a reclaimer.
            crate::sys::lower_to_idle_priority();
            for job in jobs {
                // A job that panics drops its delivery channel: its worker
                // sees the spare never come and restores inline. The thread
                // stays for the other workers.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
        })
        .expect("the OS can start the reclaimer thread");
    sender
}

/// A compiled, validated package. Cheap to clone; `Send + Sync`; shared by
/// every worker that instantiates it.
#[derive(Clone)]
pub struct Package {
    pub(crate) inner: Arc<PackageInner>,
}

pub(crate) struct PackageInner {
    pub(crate) name: Arc<str>,
    pub(crate) module: wasmtime::Module,
    pub(crate) engine: Engine,
    /// Sorted (also the order of a worker's extension functions).
    pub(crate) extensions: Arc<[Box<str>]>,
    /// Name -> position in `extensions`.
    pub(crate) extension_index: NameIndex,
    /// WASI functions the module imports that the engine denies, with the
    /// signature they are imported with.
    pub(crate) denied_wasi: Vec<(String, FuncType)>,
    /// `Some(exchange buffer address)` when `module` is the pre-initialised
    /// snapshot (instances need no initialisation).
    pub(crate) preinitialized: Option<u32>,
    /// Why the module could not be pre-initialised.
    pub(crate) not_preinitialized: Option<String>,
}

impl Package {
    /// The package name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The extension names, sorted.
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.inner.extensions.iter().map(|e| &**e)
    }

    /// Whether instances start from a snapshot taken at load (the normal
    /// case) rather than by running initialisation each time; `Err` says why
    /// the module could not be pre-initialised.
    pub fn preinitialized(&self) -> Result<(), &str> {
        match &self.inner.not_preinitialized {
            None => Ok(()),
            Some(reason) => Err(reason),
        }
    }

    pub(crate) fn extension_index(&self, extension: &str) -> Option<usize> {
        self.inner.extension_index.get(extension)
    }

    fn validate(engine: &Engine, name: &str, module: wasmtime::Module, extensions: &[&str]) -> Result<PackageInner> {
        let fail = |message: String| Error::load(name, message);
        let func_export = |export_name: &str| match module.get_export(export_name) {
            Some(ExternType::Func(ty)) => Ok(Some(ty)),
            Some(other) => Err(fail(format!("export {export_name:?} is a {}, not a function", extern_kind(&other)))),
            None => Ok(None),
        };

        match module.get_export(export::MEMORY) {
            // Its size was checked against the limit before compiling.
            Some(ExternType::Memory(_)) => {}
            _ => return Err(fail("module exports no memory named \"memory\"".into())),
        }
        if func_export(export::ABI_VERSION)?.is_none() {
            return Err(fail(format!(
                "module exports no {}: built with an SDK this engine does not speak",
                export::ABI_VERSION
            )));
        }
        for known in abi::GUEST_EXPORTS.iter().filter(|e| e.name != export::MEMORY) {
            if let Some(ty) = func_export(known.name)? {
                check_signature(&ty, known.params, known.results).map_err(|found| {
                    fail(format!(
                        "export {} has signature {found}, the ABI says {}",
                        known.name,
                        render(known.params, known.results)
                    ))
                })?;
            }
        }

        let mut names: Vec<Box<str>> = Vec::with_capacity(extensions.len());
        for &extension in extensions {
            if abi::is_reserved_extension_name(extension) {
                return Err(fail(format!(
                    "{extension:?} cannot name an extension: names starting with \"Wasm\" and {:?} are reserved",
                    abi::RESERVED_EXTENSION_NAMES
                )));
            }
            match func_export(extension)? {
                None => return Err(fail(format!("module exports no extension {extension:?}"))),
                Some(ty) => check_signature(&ty, &[], &[]).map_err(|found| {
                    fail(format!("extension {extension:?} has signature {found}, extensions must be () -> ()"))
                })?,
            }
            if names.iter().any(|n| **n == *extension) {
                return Err(fail(format!("extension {extension:?} is listed twice")));
            }
            names.push(extension.into());
        }
        names.sort();

        let mut denied_wasi = Vec::new();
        let mut returns_bytes = None;
        let mut reads_values = false;
        for import in module.imports() {
            let (module_name, field) = (import.module(), import.name());
            let ExternType::Func(ty) = import.ty() else {
                return Err(fail(format!(
                    "import {module_name}.{field} is a {}; only functions can be imported",
                    extern_kind(&import.ty())
                )));
            };
            if module_name == abi::HOST_MODULE {
                let Some(host) = abi::host_import(field) else {
                    return Err(fail(format!(
                        "import {module_name}.{field} {} is not a host function of ABI {}",
                        render_func(&ty),
                        abi::ABI_VERSION
                    )));
                };
                check_signature(&ty, host.params, host.results).map_err(|found| {
                    fail(format!(
                        "import {module_name}.{field} has signature {found}, the host provides {}",
                        render(host.params, host.results)
                    ))
                })?;
                if host.function.returns_bytes() {
                    returns_bytes = Some(field.to_owned());
                }
                reads_values |= host.function == abi::HostFunction::ReadValues;
            } else if module_name == abi::WASI_MODULE {
                if let Some((_, params, results)) = wasi::SUPPORTED.iter().find(|(n, ..)| *n == field) {
                    check_signature(&ty, params, results).map_err(|found| {
                        fail(format!(
                            "import {module_name}.{field} has signature {found}, WASI preview 1 says {}",
                            render(params, results)
                        ))
                    })?;
                } else if wasi::DENIED.contains(&field) {
                    if ty.results().len() != 1 || !matches!(ty.results().next(), Some(wasmtime::ValType::I32)) {
                        return Err(fail(format!(
                            "import {module_name}.{field} has signature {}, WASI preview 1 functions return an i32 errno",
                            render_func(&ty)
                        )));
                    }
                    denied_wasi.push((field.to_owned(), ty));
                } else {
                    return Err(fail(format!(
                        "import {module_name}.{field} is not a WASI preview 1 function this engine provides"
                    )));
                }
            } else {
                return Err(fail(format!(
                    "import {module_name}.{field}: unknown module {module_name:?} (the host provides {:?} and {:?})",
                    abi::HOST_MODULE,
                    abi::WASI_MODULE
                )));
            }
        }
        if let Some(field) = returns_bytes
            && func_export(export::MALLOC)?.is_none()
        {
            return Err(fail(format!(
                "module imports {field}, which returns bytes through the exchange buffer, but exports no malloc"
            )));
        }
        if reads_values && func_export(export::ON_READ_VALUE)?.is_none() {
            return Err(fail(format!("module imports hostReadValues but exports no {}", export::ON_READ_VALUE)));
        }

        Ok(PackageInner {
            name: name.into(),
            module,
            engine: engine.clone(),
            extension_index: NameIndex::new(names.iter().map(|n| &**n)),
            extensions: names.into(),
            denied_wasi,
            preinitialized: None,
            not_preinitialized: None,
        })
    }
}

fn extern_kind(ty: &ExternType) -> &'static str {
    match ty {
        ExternType::Func(_) => "function",
        ExternType::Global(_) => "global",
        ExternType::Table(_) => "table",
        ExternType::Memory(_) => "memory",
        _ => "non-function",
    }
}

fn to_abi(ty: &wasmtime::ValType) -> Option<ValType> {
    match ty {
        wasmtime::ValType::I32 => Some(ValType::I32),
        wasmtime::ValType::I64 => Some(ValType::I64),
        wasmtime::ValType::F32 => Some(ValType::F32),
        wasmtime::ValType::F64 => Some(ValType::F64),
        _ => None,
    }
}

/// `Ok` when `ty` is exactly `params -> results`; otherwise the rendered
/// signature that was found.
fn check_signature(ty: &FuncType, params: &[ValType], results: &[ValType]) -> Result<(), String> {
    let same = |found: &mut dyn ExactSizeIterator<Item = wasmtime::ValType>, want: &[ValType]| {
        found.len() == want.len() && found.zip(want).all(|(f, w)| to_abi(&f) == Some(*w))
    };
    if same(&mut ty.params(), params) && same(&mut ty.results(), results) { Ok(()) } else { Err(render_func(ty)) }
}

/// `(i64, i32) -> i64`, `() -> ()`.
pub(crate) fn render(params: &[ValType], results: &[ValType]) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
    let results = match results {
        [] => "()".to_owned(),
        [one] => one.as_str().to_owned(),
        many => format!("({})", list(many)),
    };
    format!("({}) -> {results}", list(params))
}

fn render_func(ty: &FuncType) -> String {
    let list = |types: Vec<String>| types.join(", ");
    let params = list(ty.params().map(|t| t.to_string()).collect());
    let results: Vec<String> = ty.results().map(|t| t.to_string()).collect();
    let results = match results.len() {
        0 => "()".to_owned(),
        1 => results[0].clone(),
        _ => format!("({})", list(results)),
    };
    format!("({params}) -> {results}")
}
