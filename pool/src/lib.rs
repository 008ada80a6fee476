//! A pool of extwasm workers: N threads, each owning a [`Worker`] with an
//! instance of every package, serve invocations submitted from any thread.
//!
//! ```
//! use std::sync::Arc;
//! use extwasm_engine::{Config, Engine, JsonState};
//! use extwasm_pool::{Pool, PoolConfig};
//!
//! let wasm = r#"(module
//!   (import "env" "hostGetKey" (func $key (param i32 i32 i32 i32) (result i64)))
//!   (import "env" "hostNewValue" (func $new (param i64) (result i64)))
//!   (import "env" "hostRowWriterPutInt32" (func $put (param i64 i32 i32 i32 i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 16) "sys.Viewvv")
//!   (func (export "WasmAbiVersion_0_0_1"))
//!   (func (export "hello")
//!     (call $put (call $new (call $key (i32.const 16) (i32.const 8) (i32.const 0) (i32.const 0)))
//!                (i32.const 1) (i32.const 24) (i32.const 2) (i32.const 42))))"#;
//! let engine = Engine::new(Config::default())?;
//! let package = engine.load_package("demo", wasm.as_bytes(), &["hello"])?;
//! let pool = Pool::new(&engine, &[package], PoolConfig::default().threads(2))?;
//!
//! let state = Arc::new(JsonState::from_json_str("{}")?);
//! let done = pool.invoke("demo", "hello", state)?;
//! let intent = JsonState::intent_json(&done.intents[0].as_intent());
//! assert_eq!(intent["value"]["vv"], 42);
//! pool.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **Design.** Each thread has its own bounded queue (a
//! `std::sync::mpsc::sync_channel`, lock-free while it neither fills nor
//! empties). A caller picks a queue round-robin from a cursor of its own
//! thread and moves on to the next when one is full, so callers share no
//! counter and no lock: the only memory two callers both write is the tail
//! of a queue they picked at the same moment. A thread runs its queue in
//! order, which is what makes [`Pool::reload`] exact (see there). The
//! packages a thread should serve are published under a generation number
//! that an invocation reads (one atomic load of a line nobody writes but
//! [`Pool::reload`]); only a thread that finds it changed takes the
//! registry's lock, once.
//!
//! **Backpressure.** Each queue holds [`PoolConfig::queue_capacity`]
//! invocations. [`Pool::try_invoke`], [`Pool::submit_with`] and the async
//! front end fail fast with [`PoolError::QueueFull`] when every queue is
//! full; [`Pool::invoke`] waits for room in one.
//!
//! **Shutdown.** [`Pool::shutdown`] (or dropping the pool) lets each thread
//! finish what was queued before it, then joins the threads. An invocation
//! submitted after that gets [`PoolError::ShutDown`]; none is lost silently.
//!
//! Features: `tokio` (`Pool::invoke_async`), `metrics` (see
//! [`metrics_names`] and [`prometheus`]), `tracing` (a span per invocation).
#![deny(missing_docs)]

mod error;
#[cfg(feature = "metrics")]
mod meter;
mod outcome;
#[cfg(feature = "metrics")]
pub mod prometheus;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use error::PoolError;
use extwasm_engine::{Engine, Error, Invocation, Package, State, Worker};
pub use outcome::{Outcome, OwnedIntent, OwnedIntentKind};

/// The names of the metrics the pool records (feature `metrics`). Every
/// one is labelled `package` and `extension`, except
/// [`PEAK_MEMORY_BYTES`](metrics_names::PEAK_MEMORY_BYTES) (`package`,
/// `worker`: a thread's instance).
pub mod metrics_names {
    /// Counter: invocations that ran (a queue-full rejection is not one).
    pub const INVOCATIONS_TOTAL: &str = "extwasm_invocations_total";
    /// Histogram: how long an invocation took on its pool thread, seconds.
    pub const INVOCATION_SECONDS: &str = "extwasm_invocation_seconds";
    /// Counter: failed invocations and rejections, labelled also `kind`
    /// ([`crate::PoolError::kind`]).
    pub const ERRORS_TOTAL: &str = "extwasm_errors_total";
    /// Counter: instance restores to the snapshot.
    pub const RESTORES_TOTAL: &str = "extwasm_restores_total";
    /// Counter: restores that swapped in a spare made off the thread.
    pub const BACKGROUND_RESTORES_TOTAL: &str = "extwasm_background_restores_total";
    /// Counter: host calls the guests made.
    pub const HOST_CALLS_TOTAL: &str = "extwasm_host_calls_total";
    /// Gauge: the largest memory a thread's instance of the package grew to, bytes.
    pub const PEAK_MEMORY_BYTES: &str = "extwasm_peak_memory_bytes";
}

/// How many threads, and how much each queues.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    threads: usize,
    queue_capacity: usize,
}

impl Default for PoolConfig {
    /// One thread per CPU, 256 queued invocations per thread.
    fn default() -> Self {
        PoolConfig { threads: std::thread::available_parallelism().map_or(1, |n| n.get()), queue_capacity: 256 }
    }
}

impl PoolConfig {
    /// Threads, each with a worker (at least 1). Each holds an instance of
    /// every package, so the engine's `Config::max_instances` must allow
    /// `threads × packages`, plus `threads` while a reload swaps versions.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Invocations each thread's queue holds besides the one it runs (at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// The number of threads.
    pub fn get_threads(&self) -> usize {
        self.threads
    }

    /// Each queue's capacity.
    pub fn get_queue_capacity(&self) -> usize {
        self.queue_capacity
    }
}

/// A successful invocation as a collecting closure sees it on its pool
/// thread: the worker's [`Invocation`] (also through `Deref`), which thread
/// ran it, and how long it took there.
pub struct Served<'a, 'w, S: State> {
    invocation: &'a Invocation<'w, S>,
    worker: usize,
    elapsed: std::time::Duration,
}

impl<'a, 'w, S: State> Served<'a, 'w, S> {
    /// The invocation: intents, output, host calls.
    pub fn invocation(&self) -> &'a Invocation<'w, S> {
        self.invocation
    }

    /// The pool thread that ran it (0 to threads - 1).
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// How long the invocation took on its pool thread, from the start of
    /// the worker's invoke to its return (not the time queued).
    pub fn elapsed(&self) -> std::time::Duration {
        self.elapsed
    }
}

impl<'w, S: State> std::ops::Deref for Served<'_, 'w, S> {
    type Target = Invocation<'w, S>;

    fn deref(&self) -> &Invocation<'w, S> {
        self.invocation
    }
}

/// Work for a pool thread.
type Job<S> = Box<dyn FnOnce(&mut Serving<S>) + Send>;

enum Message<S: State> {
    Run(Job<S>),
    /// Catch up with the registry now and answer (a reload frees the old
    /// instances of idle threads too).
    Sync(SyncSender<Result<(), Error>>),
    Stop,
}

/// The packages every thread should serve, with the generation at which
/// each was last set.
struct Registry {
    generation: u64,
    packages: Vec<(Package, u64)>,
}

struct Shared {
    registry: Mutex<Registry>,
    /// `registry.generation`, readable without the lock.
    generation: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves consistent data (every
    // update is a single assignment), so poisoning is ignored.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A pool of worker threads. `Send + Sync`: share it (in an `Arc`, or by
/// reference in scoped threads) and invoke from any thread.
pub struct Pool<S: State> {
    queues: Box<[SyncSender<Message<S>>]>,
    capacity: usize,
    shared: Arc<Shared>,
    closed: AtomicBool,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// What a pool thread owns: its worker and which package versions it has.
struct Serving<S: State> {
    worker: Worker<S>,
    /// (package name, generation it was set at) of each package added.
    versions: Vec<(String, u64)>,
    /// The registry generation this thread caught up with.
    seen: u64,
    index: usize,
    #[cfg(feature = "metrics")]
    meter: meter::Meter,
}

impl<S: State> Serving<S> {
    /// Adds every package whose version changed since this thread looked.
    fn catch_up(&mut self, shared: &Shared) -> Result<(), Error> {
        if shared.generation.load(Ordering::Acquire) == self.seen {
            return Ok(());
        }
        let registry = lock(&shared.registry);
        let mut first_error = None;
        for (package, version) in &registry.packages {
            let known = self.versions.iter().position(|(name, _)| name == package.name());
            if known.is_some_and(|i| self.versions[i].1 == *version) {
                continue;
            }
            // Replaces the old version's instance, which frees it.
            match self.worker.add_package(package) {
                Ok(()) => match known {
                    Some(i) => self.versions[i].1 = *version,
                    None => self.versions.push((package.name().to_owned(), *version)),
                },
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        // Also after a failure: the thread keeps what it has rather than
        // retrying on every invocation; the reload reported the error.
        self.seen = registry.generation;
        first_error.map_or(Ok(()), Err)
    }

    /// One invocation, with its metrics and span.
    fn run<R>(
        &mut self,
        package: &str,
        extension: &str,
        state: &S,
        collect: impl FnOnce(&Served<'_, '_, S>) -> R,
    ) -> Result<R, PoolError> {
        #[cfg(feature = "tracing")]
        let span = tracing::info_span!(
            "extwasm_invoke",
            package,
            extension,
            worker = self.index,
            error_kind = tracing::field::Empty
        );
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        #[cfg(feature = "metrics")]
        let before = self.restores(package);
        let started = std::time::Instant::now();
        let worker = self.index;
        let mut elapsed = std::time::Duration::ZERO;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let invoked = self.worker.invoke(package, extension, state);
            elapsed = started.elapsed();
            match invoked {
                Ok(invocation) => {
                    let served = Served { invocation: &invocation, worker, elapsed };
                    Ok((invocation.host_calls(), collect(&served)))
                }
                Err(error) => Err(PoolError::Invocation(error)),
            }
        }));
        let outcome = outcome.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(PoolError::Panicked { message })
        });
        #[cfg(feature = "tracing")]
        if let Err(error) = &outcome {
            span.record("error_kind", error.kind());
        }
        #[cfg(feature = "metrics")]
        {
            let after = self.restores(package);
            let peak = self.worker.stats(package).map(|stats| stats.peak_memory_bytes);
            self.meter.record(&meter::Record {
                package,
                extension,
                worker: self.index,
                seconds: elapsed.as_secs_f64(),
                error: outcome.as_ref().err().map(PoolError::kind),
                host_calls: outcome.as_ref().map_or(0, |(calls, _)| *calls),
                restores: after.0.saturating_sub(before.0),
                background_restores: after.1.saturating_sub(before.1),
                peak_memory_bytes: peak,
            });
        }
        outcome.map(|(_, result)| result)
    }

    /// (restores, background restores) of `package` in this thread so far.
    #[cfg(feature = "metrics")]
    fn restores(&self, package: &str) -> (u64, u64) {
        self.worker.stats(package).map_or((0, 0), |stats| (stats.restores, stats.background_restores))
    }
}

/// Where a result goes: a blocked caller, or a future.
trait Reply<R>: Send + 'static {
    fn send(self, result: Result<R, PoolError>);
}

impl<R: Send + 'static> Reply<R> for SyncSender<Result<R, PoolError>> {
    fn send(self, result: Result<R, PoolError>) {
        // The caller may have stopped waiting; the result then goes.
        let _ = SyncSender::send(&self, result);
    }
}

#[cfg(feature = "tokio")]
impl<R: Send + 'static> Reply<R> for tokio::sync::oneshot::Sender<Result<R, PoolError>> {
    fn send(self, result: Result<R, PoolError>) {
        let _ = tokio::sync::oneshot::Sender::send(self, result);
    }
}

thread_local! {
    /// Where this caller thread tries next: its own round-robin cursor, so
    /// callers share no counter.
    static CURSOR: Cell<usize> = Cell::new(first_cursor());
}

/// A starting queue that differs between caller threads (their stack
/// addresses differ), so they do not all start at queue 0.
fn first_cursor() -> usize {
    let local = 0u8;
    (&raw const local).addr() >> 12
}

/// An invocation submitted with [`Pool::submit_with`]: wait for it when
/// its result is needed.
pub struct Pending<R> {
    result: Receiver<Result<R, PoolError>>,
}

impl<R> Pending<R> {
    /// Waits for the result. An invocation that a shutdown dropped before
    /// it ran gives [`PoolError::ShutDown`].
    pub fn wait(self) -> Result<R, PoolError> {
        self.result.recv().unwrap_or(Err(PoolError::ShutDown))
    }
}

impl<S: State + Send> Pool<S> {
    /// Starts `config.threads` threads, each instantiating every package of
    /// `packages` in its own [`Worker`]. Returns once all are ready; if a
    /// thread cannot instantiate a package (the engine's
    /// `Config::max_instances`, say), the pool is shut down and the error
    /// returned.
    pub fn new(engine: &Engine, packages: &[Package], config: PoolConfig) -> Result<Self, PoolError> {
        if config.threads == 0 {
            return Err(PoolError::Config { detail: "threads must be at least 1" });
        }
        if config.queue_capacity == 0 {
            return Err(PoolError::Config { detail: "queue_capacity must be at least 1" });
        }
        #[cfg(feature = "metrics")]
        meter::describe();
        let registry = Registry { generation: 1, packages: packages.iter().map(|p| (p.clone(), 1)).collect() };
        let shared = Arc::new(Shared { registry: Mutex::new(registry), generation: AtomicU64::new(1) });
        let mut queues = Vec::with_capacity(config.threads);
        let mut handles = Vec::with_capacity(config.threads);
        let mut ready = Vec::with_capacity(config.threads);
        let mut spawn_error = None;
        for index in 0..config.threads {
            let (queue, jobs) = mpsc::sync_channel::<Message<S>>(config.queue_capacity);
            let (started, is_ready) = mpsc::sync_channel(1);
            let (engine, shared) = (engine.clone(), shared.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("extwasm-pool-{index}"))
                .spawn(move || serve(&engine, index, &shared, &jobs, &started));
            match spawned {
                Ok(handle) => {
                    queues.push(queue);
                    handles.push(handle);
                    ready.push(is_ready);
                }
                Err(error) => {
                    spawn_error = Some(PoolError::Spawn { detail: error.to_string() });
                    break;
                }
            }
        }
        let pool = Pool {
            queues: queues.into(),
            capacity: config.queue_capacity,
            shared,
            closed: AtomicBool::new(false),
            threads: Mutex::new(handles),
        };
        if let Some(error) = spawn_error {
            pool.shutdown();
            return Err(error);
        }
        let (failed, first) = gather(ready);
        if let Some(error) = first {
            pool.shutdown();
            return Err(PoolError::Package { threads_failed: failed, error: Box::new(error) });
        }
        Ok(pool)
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.queues.len()
    }

    /// Invokes `extension` of `package` against `state` on a pool thread and
    /// waits for its [`Outcome`]. When every queue is full this waits for
    /// room (backpressure on the caller); [`Pool::try_invoke`] fails
    /// instead.
    pub fn invoke(&self, package: &str, extension: &str, state: Arc<S>) -> Result<Outcome<S::Value>, PoolError>
    where
        S::Value: Clone,
    {
        self.invoke_with(package, extension, state, |served| Outcome::of(served.invocation()))
    }

    /// [`Pool::invoke`], failing at once with [`PoolError::QueueFull`] when
    /// every queue is full.
    pub fn try_invoke(&self, package: &str, extension: &str, state: Arc<S>) -> Result<Outcome<S::Value>, PoolError>
    where
        S::Value: Clone,
    {
        self.submit_with(package, extension, state, |served| Outcome::of(served.invocation()))?.wait()
    }

    /// [`Pool::invoke`] where `collect` makes the result from the
    /// invocation, on the pool thread (to keep only what is needed, or to
    /// convert intents as they are).
    pub fn invoke_with<R, F>(&self, package: &str, extension: &str, state: Arc<S>, collect: F) -> Result<R, PoolError>
    where
        R: Send + 'static,
        F: FnOnce(&Served<'_, '_, S>) -> R + Send + 'static,
    {
        let (reply, result) = mpsc::sync_channel(1);
        self.enqueue(package, extension, state, collect, reply, true)?;
        Pending { result }.wait()
    }

    /// Queues an invocation without waiting for it: fails at once with
    /// [`PoolError::QueueFull`] when every queue is full. Many pending
    /// invocations from one caller keep every thread busy.
    pub fn submit_with<R, F>(
        &self,
        package: &str,
        extension: &str,
        state: Arc<S>,
        collect: F,
    ) -> Result<Pending<R>, PoolError>
    where
        R: Send + 'static,
        F: FnOnce(&Served<'_, '_, S>) -> R + Send + 'static,
    {
        let (reply, result) = mpsc::sync_channel(1);
        self.enqueue(package, extension, state, collect, reply, false)?;
        Ok(Pending { result })
    }

    /// The async front end: the invocation runs on a pool thread, never on
    /// the runtime's, and the future (a oneshot) resolves with its
    /// [`Outcome`]. Never blocks: a full pool is [`PoolError::QueueFull`] at
    /// once (an async caller must not block its runtime's thread).
    #[cfg(feature = "tokio")]
    pub fn invoke_async(
        &self,
        package: &str,
        extension: &str,
        state: Arc<S>,
    ) -> impl Future<Output = Result<Outcome<S::Value>, PoolError>> + Send + 'static
    where
        S::Value: Clone,
    {
        self.invoke_async_with(package, extension, state, |served| Outcome::of(served.invocation()))
    }

    /// [`Pool::invoke_async`] with a collecting closure (see [`Pool::invoke_with`]).
    #[cfg(feature = "tokio")]
    pub fn invoke_async_with<R, F>(
        &self,
        package: &str,
        extension: &str,
        state: Arc<S>,
        collect: F,
    ) -> impl Future<Output = Result<R, PoolError>> + Send + 'static
    where
        R: Send + 'static,
        F: FnOnce(&Served<'_, '_, S>) -> R + Send + 'static,
    {
        let (reply, result) = tokio::sync::oneshot::channel();
        let queued = self.enqueue(package, extension, state, collect, reply, false);
        async move {
            queued?;
            result.await.unwrap_or(Err(PoolError::ShutDown))
        }
    }

    fn enqueue<R, F>(
        &self,
        package: &str,
        extension: &str,
        state: Arc<S>,
        collect: F,
        reply: impl Reply<R>,
        wait: bool,
    ) -> Result<(), PoolError>
    where
        R: Send + 'static,
        F: FnOnce(&Served<'_, '_, S>) -> R + Send + 'static,
    {
        let queued = if self.closed.load(Ordering::Acquire) {
            Err(PoolError::ShutDown)
        } else {
            let (package, extension) = (package.to_owned(), extension.to_owned());
            let job: Job<S> = Box::new(move |serving: &mut Serving<S>| {
                reply.send(serving.run(&package, &extension, &state, collect));
            });
            self.push(Message::Run(job), wait)
        };
        #[cfg(feature = "metrics")]
        if let Err(error) = &queued {
            meter::rejected(package, extension, error.kind());
        }
        queued
    }

    /// Puts `message` on the first queue with room, starting at this
    /// caller's cursor; waits on that queue if `wait` and all are full.
    fn push(&self, mut message: Message<S>, wait: bool) -> Result<(), PoolError> {
        let threads = self.queues.len();
        let start = CURSOR.with(|cursor| {
            let start = cursor.get();
            cursor.set(start.wrapping_add(1));
            start % threads
        });
        for offset in 0..threads {
            match self.queues[(start + offset) % threads].try_send(message) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => message = back,
                Err(TrySendError::Disconnected(_)) => return Err(PoolError::ShutDown),
            }
        }
        if !wait {
            return Err(PoolError::QueueFull { threads, capacity: self.capacity });
        }
        self.queues[start].send(message).map_err(|_| PoolError::ShutDown)
    }

    /// Replaces the package of `package`'s name with this version (or adds
    /// it), while the pool serves.
    ///
    /// Invocations that started before finish on the old version; every
    /// invocation that starts after the new version is published (which
    /// happens first, before this waits) runs on it, so one caller's
    /// invocations never go back to the old version once one ran on the new.
    /// Returns when every thread has switched and dropped its old instance
    /// (waiting for the invocation each is running, and for room in a full
    /// queue). Nothing queued is lost or run twice: invocations are not
    /// moved, only the version they start on changes.
    ///
    /// A thread that cannot instantiate the new version (see
    /// [`PoolConfig::threads`] for the instances needed) keeps the old one,
    /// and this returns [`PoolError::Package`]; reloading again retries.
    pub fn reload(&self, package: Package) -> Result<(), PoolError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(PoolError::ShutDown);
        }
        {
            let mut registry = lock(&self.shared.registry);
            registry.generation += 1;
            let generation = registry.generation;
            match registry.packages.iter_mut().find(|(p, _)| p.name() == package.name()) {
                Some(entry) => *entry = (package, generation),
                None => registry.packages.push((package, generation)),
            }
            self.shared.generation.store(generation, Ordering::Release);
        }
        let mut acks = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            let (ack, acked) = mpsc::sync_channel(1);
            queue.send(Message::Sync(ack)).map_err(|_| PoolError::ShutDown)?;
            acks.push(acked);
        }
        match gather(acks) {
            (_, None) => Ok(()),
            (threads_failed, Some(error)) => Err(PoolError::Package { threads_failed, error: Box::new(error) }),
        }
    }

    /// Stops taking invocations, lets every thread finish what is queued,
    /// and joins the threads. Later invocations get
    /// [`PoolError::ShutDown`]. Idempotent; dropping the pool does the same.
    /// Must not be called from a collecting closure (it runs on a pool
    /// thread, which would wait for itself).
    pub fn shutdown(&self) {
        let mut threads = lock(&self.threads);
        self.closed.store(true, Ordering::Release);
        for queue in &self.queues {
            // Behind what is queued; a thread that is gone needs none.
            let _ = queue.send(Message::Stop);
        }
        for thread in threads.drain(..) {
            // A thread that panicked has nothing more to give.
            let _ = thread.join();
        }
    }
}

impl<S: State> Drop for Pool<S> {
    fn drop(&mut self) {
        let threads = std::mem::take(&mut *lock(&self.threads));
        self.closed.store(true, Ordering::Release);
        for queue in &self.queues {
            let _ = queue.send(Message::Stop);
        }
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Waits for every answer: (how many failed, the first error). A thread
/// that went away without answering counts as neither.
fn gather(answers: Vec<Receiver<Result<(), Error>>>) -> (usize, Option<Error>) {
    let mut failed = 0;
    let mut first = None;
    for answer in answers {
        if let Ok(Err(error)) = answer.recv() {
            failed += 1;
            first.get_or_insert(error);
        }
    }
    (failed, first)
}

/// A pool thread: instantiates the packages, says whether that worked, then
/// runs its queue in order until told to stop or the pool is gone.
fn serve<S: State>(
    engine: &Engine,
    index: usize,
    shared: &Shared,
    jobs: &Receiver<Message<S>>,
    started: &SyncSender<Result<(), Error>>,
) {
    let mut serving = Serving {
        worker: Worker::new(engine),
        versions: Vec::new(),
        seen: 0,
        index,
        #[cfg(feature = "metrics")]
        meter: meter::Meter::default(),
    };
    let _ = started.send(serving.catch_up(shared));
    while let Ok(message) = jobs.recv() {
        match message {
            Message::Run(job) => {
                // A version that failed to instantiate was reported by the
                // reload; this invocation runs on what the thread has.
                let _ = serving.catch_up(shared);
                job(&mut serving);
            }
            Message::Sync(ack) => {
                let _ = ack.send(serving.catch_up(shared));
            }
            Message::Stop => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn a_pool_can_be_shared_between_threads() {
        send_sync::<Pool<extwasm_engine::JsonState>>();
    }
}
