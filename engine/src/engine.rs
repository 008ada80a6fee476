//! The shared engine: the wasmtime engine with its pooling allocator, the
//! instance slots, and the engine's two threads (the epoch ticker that
//! deadlines count on, the reclaimer that restores instances off the
//! workers' path).

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use extwasm_host::LoadError;
use extwasm_state::budget::{Clock, PUBLISHED_TICKS};

use crate::backtrace::MAX_FRAMES;
use crate::config::Config;
use crate::{Error, Result};

/// How often the engine's ticker advances the epoch that deadlines count in.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Ticks that cover `timeout` from now: whole ticks, plus one because the
/// current tick is partly over (a deadline ends within two ticks after it).
/// `None`: no deadline.
pub fn ticks(timeout: Option<Duration>) -> u64 {
    match timeout {
        Some(timeout) => (timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64).saturating_add(1),
        None => u64::MAX / 2,
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
        let max_instances = config.get_max_instances();
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(max_instances)
            .total_memories(max_instances)
            .total_tables(max_instances)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .table_elements(1 << 17)
            .max_memory_size(config.memory_limit_bytes())
            .linear_memory_keep_resident(config.get_keep_resident_bytes().min(config.memory_limit_bytes()))
            .table_keep_resident(64 << 10)
            // Reset only the pages a guest dirtied (PAGEMAP_SCAN, Linux 6.7+).
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true)
            .epoch_interruption(config.uses_epochs())
            .consume_fuel(config.get_fuel().is_some())
            // Set, not left to WASMTIME_BACKTRACE_DETAILS in the environment.
            .wasm_backtrace_details(match config.get_backtrace_lines() {
                true => wasmtime::WasmBacktraceDetails::Enable,
                false => wasmtime::WasmBacktraceDetails::Disable,
            })
            // One frame more than an error keeps: a longer stack is told
            // from one of exactly that many.
            .wasm_backtrace_max_frames(NonZeroUsize::new(MAX_FRAMES + 1));
        let wasmtime =
            wasmtime::Engine::new(&wasmtime_config).map_err(|e| Error::config("wasmtime", format!("{e:#}")))?;
        let clock = Clock::new(EPOCH_TICK, PUBLISHED_TICKS);
        if config.uses_epochs() {
            spawn_ticker(&wasmtime, clock.clone());
        }
        let reclaimer = config.get_background_restore_above().map(|_| spawn_reclaimer());
        let slots_taken = Arc::default();
        let advised_slots = Mutex::default();
        let inner = EngineInner { wasmtime, config, reclaimer, advised_slots, slots_taken, clock };
        Ok(Engine { inner: Arc::new(inner) })
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
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.config().get_max_instances()).then_some(n + 1)
            })
            .ok()?;
        Some(Slot { taken: taken.clone() })
    }

    /// The error for a package that finds every instance slot taken.
    pub(crate) fn pool_full(&self, package: &str) -> Error {
        Error::load(package, LoadError::PoolFull { max_instances: self.config().get_max_instances() })
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
        if !self.config().get_huge_pages() {
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
            let tick_nanos = EPOCH_TICK.as_nanos() as u64;
            while let Some(engine) = weak.upgrade() {
                let due = clock.due();
                while clock.now() < due {
                    // Wasm's epoch first: when our clock says a tick passed,
                    // wasm has seen it too.
                    engine.increment_epoch();
                    clock.advance();
                }
                drop(engine);
                let next = Duration::from_nanos((due + 1).saturating_mul(tick_nanos));
                std::thread::sleep(next.saturating_sub(clock.elapsed()));
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
