//! The FFI boundary, host side: the store data of every instance
//! ([`HostCtx`]), guest memory, the ABI's host imports and the WASI slice.
//!
//! What a host call means lives in [`extwasm_host::Session`], shared with
//! the Rust SDK's mock host; this module only moves values across the
//! boundary: raw wasm arguments in, results into guest memory, faults into
//! traps. Nothing a guest does makes the host panic: a failing host call
//! records its error here and traps the guest; [`crate::Worker::invoke`]
//! returns that error.
//!
//! - [`imports`]: every import of [`extwasm_abi::HOST_IMPORTS`], defined
//!   from the table (a new host function needs no change here);
//! - [`memory`]: guest memory access and the exchange buffer;
//! - [`wasi`]: the WASI preview 1 functions TinyGo and Go import.
//!
//! The three share one accessor, [`guest`], which splits a caller into
//! guest memory and host context.

mod imports;
mod memory;
mod wasi;

use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use extwasm_abi as abi;
use extwasm_host::{Error, Fault, Label, Session};
use extwasm_state::budget::{Budget, Clock};
use extwasm_state::{Intent, State};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, TypedFunc};

use crate::config::Config;
use crate::engine::ticks;
use crate::output::Output;
pub(crate) use memory::Exchange;
pub(crate) use wasi::{DENIED as DENIED_WASI, SUPPORTED as SUPPORTED_WASI, define_denied};

/// The embedder's state for the running invocation.
///
/// Holds a pointer, set right before the engine calls into the guest and
/// cleared right after (by a guard: [`crate::worker`]'s `Lent`), so host
/// functions (which only run inside that call) can reach the `&S` the
/// embedder lent to `invoke`.
struct StatePtr<S>(Option<NonNull<S>>);

// SAFETY: the pointer is only dereferenced (as `&S`) by host functions, which
// run on the thread that is inside `Worker::invoke`, while `invoke` holds the
// `&S` it was given; between invocations it is never dereferenced. Moving the
// context to another thread therefore moves at most a dormant pointer, and
// `S: Sync` makes the shared reference usable from whichever thread invokes.
unsafe impl<S: Sync> Send for StatePtr<S> {}

impl<S> StatePtr<S> {
    /// The state, with a lifetime not tied to the context, so that a host
    /// function can call into the guest while it holds it.
    fn get<'a>(&self) -> Option<&'a S> {
        // SAFETY: set only by `HostCtx::lend` from a `&S` that outlives the
        // wasm call during which every host function (our only caller) runs;
        // the lender clears it before returning and overwrites it before the
        // next call, so a non-`None` pointer is live. Only shared references
        // are ever made from it.
        self.0.map(|ptr| unsafe { ptr.as_ref() })
    }
}

/// Tracks memory growth against the instance's limit and remembers a denied
/// grow, which is how running out of memory is recognised.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    /// The size (in pages) of the last grow this invocation was denied.
    denied: Option<u64>,
    peak_bytes: usize,
    /// The memory's size: it changes only through growth, which this sees
    /// (instantiation included), so reading it costs no call into wasmtime.
    current_bytes: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.denied = Some(desired as u64 / abi::WASM_PAGE_SIZE);
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        self.current_bytes = desired;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The exports of its guest a host context calls.
struct GuestExports {
    memory: Option<Memory>,
    malloc: Option<TypedFunc<i32, i32>>,
    free: Option<TypedFunc<i32, ()>>,
    on_read: Option<TypedFunc<(i64, i64), ()>>,
}

/// Per-instance host context: the store data of every instance.
pub(crate) struct HostCtx<S: State> {
    session: Session<S>,
    state: StatePtr<S>,
    exports: GuestExports,
    exchange: Exchange,
    output: Output,
    /// The invocation's error, once a host call failed (the first wins).
    pending: Option<Error>,
    exit_code: Option<i32>,
    host_calls: u64,
    limiter: MemoryLimiter,
    started: std::time::Instant,
    /// The invocation deadline, with its ticks (computed once: a 128-bit
    /// division per invocation shows), and the load deadline.
    timeout: Option<(Duration, u64)>,
    load_timeout: Option<Duration>,
    /// The guest made an ABI host call after a grow was denied: it went on,
    /// so a later failure is not the denied grow's doing.
    went_on: bool,
}

impl<S: State> HostCtx<S> {
    /// A context for instances of `package` (with `extensions`, in the
    /// order extensions are numbered), with `config`'s limits.
    pub(crate) fn new(package: Arc<str>, extensions: Arc<[Box<str>]>, config: &Config, clock: Clock) -> Self {
        let budget = Budget::new(config.get_host_budget_bytes(), config.get_max_handles() as usize, clock);
        HostCtx {
            session: Session::new(Label::new(package, extensions), budget, config.get_timeout()),
            state: StatePtr(None),
            exports: GuestExports { memory: None, malloc: None, free: None, on_read: None },
            exchange: Exchange::default(),
            output: Output::new(config.get_output_limit_bytes()),
            pending: None,
            exit_code: None,
            host_calls: 0,
            limiter: MemoryLimiter {
                limit_bytes: config.memory_limit_bytes(),
                denied: None,
                peak_bytes: 0,
                current_bytes: 0,
            },
            started: std::time::Instant::now(),
            timeout: config.get_timeout().map(|t| (t, ticks(Some(t)))),
            load_timeout: config.get_load_timeout(),
            went_on: false,
        }
    }

    /// Starts invocation `extension`: handles of the previous invocation
    /// become stale, and the deadline starts now.
    #[inline]
    pub(crate) fn begin(&mut self, extension: usize) {
        self.session.begin(Some(extension), self.timeout);
        self.exchange.begin();
        self.output.clear();
        self.pending = None;
        self.exit_code = None;
        self.host_calls = 0;
        self.limiter.denied = None;
        self.went_on = false;
    }

    /// Starts a call into the guest between invocations (a memory-info
    /// read): like an invocation of no extension, so the deadline starts
    /// now and the last invocation's handles are stale.
    pub(crate) fn begin_query(&mut self) {
        self.session.begin_memory_info(self.timeout);
        self.pending = None;
        self.exit_code = None;
        self.limiter.denied = None;
        self.went_on = false;
    }

    /// Starts initialisation (no extension runs): the load deadline starts now.
    pub(crate) fn begin_initialisation(&mut self) {
        self.session.begin(None, self.load_timeout.map(|t| (t, ticks(Some(t)))));
    }

    /// Lends `state` to the host functions of the call about to start; see
    /// [`HostCtx::take_back`].
    pub(crate) fn lend(&mut self, state: &S) {
        self.state.0 = Some(NonNull::from(state));
    }

    /// Ends the loan of [`HostCtx::lend`].
    pub(crate) fn take_back(&mut self) {
        self.state.0 = None;
    }

    /// The memory limiter, for the store.
    pub(crate) fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }

    /// The pages a denied grow of this invocation asked for.
    pub(crate) fn denied_pages(&self) -> Option<u64> {
        self.limiter.denied
    }

    /// The memory limit, in pages.
    pub(crate) fn limit_pages(&self) -> u32 {
        (self.limiter.limit_bytes / abi::WASM_PAGE_SIZE as usize) as u32
    }

    /// The guest memory's size, in bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.limiter.current_bytes
    }

    /// The largest size the guest memory grew to, in bytes.
    pub(crate) fn peak_memory_bytes(&self) -> usize {
        self.limiter.peak_bytes
    }

    /// Whether the guest called the host after a denied grow.
    pub(crate) fn went_on(&self) -> bool {
        self.went_on
    }

    /// Caches the exports the host calls.
    pub(crate) fn wire(
        &mut self,
        memory: Memory,
        malloc: Option<TypedFunc<i32, i32>>,
        free: Option<TypedFunc<i32, ()>>,
        on_read: Option<TypedFunc<(i64, i64), ()>>,
    ) {
        self.exports = GuestExports { memory: Some(memory), malloc, free, on_read };
    }

    /// The guest's linear memory, once wired.
    pub(crate) fn memory(&self) -> Option<Memory> {
        self.exports.memory
    }

    /// The guest's `free`, once wired.
    pub(crate) fn free(&self) -> Option<TypedFunc<i32, ()>> {
        self.exports.free.clone()
    }

    /// Results go to `size` bytes at `ptr`, which the guest's `malloc` gave.
    pub(crate) fn set_exchange(&mut self, ptr: u32, size: u32) {
        self.exchange.place(ptr, size);
    }

    /// The extra result buffers of the invocation, to free; see
    /// [`HostCtx::keep_overflow`].
    pub(crate) fn take_overflow(&mut self) -> Vec<u32> {
        self.exchange.take_overflow()
    }

    /// Gives the (emptied) list of [`HostCtx::take_overflow`] back for reuse.
    pub(crate) fn keep_overflow(&mut self, list: Vec<u32>) {
        self.exchange.keep_overflow(list);
    }

    /// Records `fault` as the invocation's error (the first one wins) and
    /// returns the trap that unwinds the guest.
    pub(crate) fn fail(&mut self, host_call: &'static str, fault: Fault) -> wasmtime::Error {
        if self.pending.is_none() && self.exit_code.is_none() {
            if let Fault::Exit(code) = fault {
                self.exit_code = Some(code);
                return wasmtime::Error::msg(format!("guest called proc_exit({code})"));
            }
            self.pending = Some(self.session.error(host_call, fault));
        }
        wasmtime::Error::msg(format!("extwasm: host call {host_call} failed"))
    }

    /// Whether a host call failed or the guest exited during this call.
    pub(crate) fn host_call_failed(&self) -> bool {
        self.pending.is_some() || self.exit_code.is_some()
    }

    /// The error a host call recorded, if one failed.
    pub(crate) fn take_pending(&mut self) -> Option<Error> {
        self.pending.take()
    }

    /// The code the guest exited with, if it called `proc_exit`.
    pub(crate) fn take_exit_code(&mut self) -> Option<i32> {
        self.exit_code.take()
    }

    /// Whether the guest exited with `code`.
    pub(crate) fn exited_with(&self, code: i32) -> bool {
        self.exit_code == Some(code)
    }

    /// The message of the first `panic:` line the guest printed.
    pub(crate) fn printed_panic(&mut self) -> Option<String> {
        self.output.panic_message()
    }

    /// The first `panic:` (or `fatal error:`) line the guest printed, whole.
    pub(crate) fn printed_panic_line(&mut self) -> Option<String> {
        self.output.panic_line().map(|(line, _)| line.to_owned())
    }

    /// What the guest printed (bounded).
    pub(crate) fn output_text(&self) -> String {
        self.output.text()
    }

    /// Host calls the guest made this invocation (WASI calls included).
    pub(crate) fn host_calls(&self) -> u64 {
        self.host_calls
    }

    /// `package/extension` of the running invocation, for error messages.
    pub(crate) fn label(&self) -> String {
        self.session.label()
    }

    /// The intents of the invocation that just ended.
    pub(crate) fn intents(&self) -> impl ExactSizeIterator<Item = Intent<'_, S::Value>> + '_ {
        self.session.intents()
    }

    /// Drops every table the guest made the host fill, giving its memory
    /// back (after a failure).
    pub(crate) fn release_tables(&mut self) {
        self.exchange.release();
        self.session.release_tables();
    }

    /// Whether the deadline of the running invocation or initialisation
    /// has passed.
    pub(crate) fn past_deadline(&self) -> bool {
        self.session.budget().past_deadline()
    }

    /// The epoch ticks left before the deadline by the real time (`None`:
    /// it passed): what the epoch deadline callback answers.
    pub(crate) fn ticks_left(&self) -> Option<u64> {
        self.session.budget().ticks_left()
    }

    /// Bytes the host holds for this instance, and the most it ever held.
    pub(crate) fn host_bytes(&self) -> (usize, usize) {
        (self.session.budget().held_bytes(), self.session.budget().peak_bytes())
    }
}

type Ctx<'a, S> = Caller<'a, HostCtx<S>>;

/// The one accessor of the host functions: guest memory and host context,
/// split out of a caller (memory is empty before it is wired).
#[inline(always)]
fn guest<'a, S: State>(caller: &'a mut Ctx<'_, S>) -> (&'a mut [u8], &'a mut HostCtx<S>) {
    match caller.data().exports.memory {
        Some(memory) => memory.data_and_store_mut(caller),
        None => (&mut [], caller.data_mut()),
    }
}

/// A linker with every host import of the ABI and the WASI functions the
/// engine provides.
pub(crate) fn define<S: State>(linker: &mut Linker<HostCtx<S>>) -> wasmtime::Result<()> {
    imports::define(linker)?;
    wasi::define(linker)
}
