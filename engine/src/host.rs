//! The FFI boundary, host side: per-instance host context, guest-memory
//! access, handle tables, and every ABI 0.0.1 host function.
//!
//! Everything a guest passes in is checked here (pointers, lengths, UTF-8,
//! handles) and turned into a typed [`Error`]; nothing a guest does makes the
//! host panic. A failing host call records its error in the context and traps
//! the guest; [`crate::Worker::invoke`] returns that error.

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Duration;

use extwasm_abi::{self as abi, FieldType, HostFunction, RowWriterKind};
use wasmtime::{Caller, Linker, Memory, ResourceLimiter, TypedFunc};

use crate::budget::{self, Budget, Clock, Exceeded};
use crate::error::{Error, Site};
use crate::output::Output;
use crate::state::{self, Field, IntentKind, KeyBuilder, QName, Row, Scalar, State, Value, excerpt};
use crate::wasi;

/// What kind of object a handle names; the top byte of every handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum HandleKind {
    KeyBuilder = 1,
    Value = 2,
    Intent = 3,
    Key = 4,
}

impl HandleKind {
    fn name(self) -> &'static str {
        match self {
            HandleKind::KeyBuilder => "key builder",
            HandleKind::Value => "value",
            HandleKind::Intent => "intent",
            HandleKind::Key => "key",
        }
    }

    /// The name with its indefinite article.
    fn a(self) -> &'static str {
        match self {
            HandleKind::KeyBuilder => "a key builder",
            HandleKind::Value => "a value",
            HandleKind::Intent => "an intent",
            HandleKind::Key => "a key",
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(HandleKind::KeyBuilder),
            2 => Some(HandleKind::Value),
            3 => Some(HandleKind::Intent),
            4 => Some(HandleKind::Key),
            _ => None,
        }
    }
}

/// Handles are `kind:8 | generation:24 | index:32`. The generation changes
/// every invocation, so a handle kept from an earlier one is recognised as
/// stale; the kind byte is never 0xFF, so no handle equals the not-found
/// sentinel.
const GENERATION_MASK: u32 = 0x00FF_FFFF;

fn encode(kind: HandleKind, generation: u32, index: usize) -> i64 {
    (((kind as u64) << 56) | ((generation as u64) << 32) | index as u64) as i64
}

fn decode(handle: i64, want: HandleKind, generation: u32, len: usize) -> Result<usize, String> {
    let bits = handle as u64;
    let Some(kind) = HandleKind::from_tag((bits >> 56) as u8) else {
        return Err(format!("not a handle the host handed out (expected {})", want.a()));
    };
    if kind != want {
        return Err(format!("{} handle where {} was expected", kind.a(), want.a()));
    }
    if (bits >> 32) as u32 & GENERATION_MASK != generation {
        return Err(format!("stale {} handle from an earlier invocation", want.name()));
    }
    let index = bits as u32 as usize;
    if index >= len {
        return Err(format!("forged {} handle: this invocation has no {} #{index}", want.name(), want.name()));
    }
    Ok(index)
}

/// Why a host call failed; [`HostCtx::fail`] turns it into an [`Error`] with
/// the extension and host call filled in.
#[derive(Debug)]
pub(crate) enum Fault {
    Handle {
        argument: &'static str,
        handle: i64,
        reason: String,
    },
    Memory {
        argument: &'static str,
        ptr: u32,
        len: u32,
        memory_size: usize,
    },
    Utf8 {
        argument: &'static str,
        valid_up_to: usize,
    },
    Type {
        argument: &'static str,
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    Missing {
        argument: &'static str,
        what: String,
    },
    NotFound {
        key: String,
    },
    State(state::StateError),
    /// The embedder's state or value panicked; the payload's text.
    StatePanic(String),
    Panic(String),
    Exit(i32),
    OutsideInvocation,
    /// A budget ran out, or the deadline passed, inside a host call.
    Exceeded {
        argument: &'static str,
        exceeded: Exceeded,
    },
    /// The guest's `malloc` failed after its memory could not grow.
    OutOfMemory {
        requested_pages: u64,
    },
}

impl Fault {
    pub(crate) fn exceeded(argument: &'static str) -> impl FnOnce(Exceeded) -> Fault {
        move |exceeded| Fault::Exceeded { argument, exceeded }
    }
}

/// Runs embedder code (a [`State`] or [`Value`] method) so that its panic
/// fails the invocation instead of unwinding through the guest.
#[inline(always)]
fn embedder<R>(body: impl FnOnce() -> R) -> Result<R, Fault> {
    catch_unwind(AssertUnwindSafe(body)).map_err(state_panic)
}

/// [`embedder`] for a state call that can fail: its error is
/// [`Fault::State`].
#[inline(always)]
fn state_call<R>(body: impl FnOnce() -> Result<R, state::StateError>) -> Result<R, Fault> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(result)) => Ok(result),
        Ok(Err(error)) => Err(Fault::State(error)),
        Err(payload) => Err(state_panic(payload)),
    }
}

#[cold]
fn state_panic(payload: Box<dyn std::any::Any + Send>) -> Fault {
    let text = payload.downcast_ref::<&str>().copied().or(payload.downcast_ref::<String>().map(String::as_str));
    Fault::StatePanic(excerpt(text.unwrap_or("a panic without a message")))
}

/// A guest pointer/length outside guest memory.
#[derive(Debug)]
pub(crate) enum GuestArg {
    OutOfBounds { ptr: u32, len: u32, memory_size: usize },
}

impl GuestArg {
    pub(crate) fn fault(self, argument: &'static str) -> Fault {
        match self {
            GuestArg::OutOfBounds { ptr, len, memory_size } => Fault::Memory { argument, ptr, len, memory_size },
        }
    }
}

/// `len` bytes of guest memory at `ptr`.
pub(crate) fn guest_bytes(mem: &[u8], ptr: i32, len: i32) -> Result<&[u8], GuestArg> {
    let (ptr, len) = (ptr as u32, len as u32);
    let start = ptr as usize;
    start.checked_add(len as usize).and_then(|end| mem.get(start..end)).ok_or(GuestArg::OutOfBounds {
        ptr,
        len,
        memory_size: mem.len(),
    })
}

/// `len` bytes of guest memory at `ptr`, mutable.
pub(crate) fn guest_bytes_mut(mem: &mut [u8], ptr: i32, len: i32) -> Result<&mut [u8], GuestArg> {
    let (ptr, len) = (ptr as u32, len as u32);
    let memory_size = mem.len();
    let start = ptr as usize;
    start.checked_add(len as usize).and_then(|end| mem.get_mut(start..end)).ok_or(GuestArg::OutOfBounds {
        ptr,
        len,
        memory_size,
    })
}

/// A UTF-8 string argument of guest memory; a long one is validated in
/// chunks, with the deadline checked between them.
pub(crate) fn guest_text<'m>(
    mem: &'m [u8],
    ptr: i32,
    len: i32,
    argument: &'static str,
    budget: &Budget,
) -> Result<&'m str, Fault> {
    let bytes = guest_bytes(mem, ptr, len).map_err(|e| e.fault(argument))?;
    budget::utf8(bytes, budget).map_err(|e| match e {
        Ok(valid_up_to) => Fault::Utf8 { argument, valid_up_to },
        Err(exceeded) => Fault::Exceeded { argument, exceeded },
    })
}

/// The embedder's state for the running invocation.
///
/// Holds a pointer, set by [`crate::Worker::invoke`] right before it calls
/// into the guest and cleared right after, so host functions (which only run
/// inside that call) can reach the `&S` the embedder lent to `invoke`.
pub(crate) struct StatePtr<S>(Option<NonNull<S>>);

// SAFETY: the pointer is only dereferenced (as `&S`) by host functions, which
// run on the thread that is inside `Worker::invoke`, while `invoke` holds the
// `&S` it was given; between invocations it is never dereferenced. Moving the
// context to another thread therefore moves at most a dormant pointer, and
// `S: Sync` makes the shared reference usable from whichever thread invokes.
unsafe impl<S: Sync> Send for StatePtr<S> {}

impl<S> StatePtr<S> {
    pub(crate) fn set(&mut self, state: &S) {
        self.0 = Some(NonNull::from(state));
    }

    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    /// The state, with a lifetime not tied to the context, so that a host
    /// function can call into the guest while it holds it.
    fn get<'a>(&self) -> Option<&'a S> {
        // SAFETY: set only by `Worker::invoke` from a `&S` that outlives the
        // wasm call during which every host function (our only caller) runs;
        // `invoke` clears it before returning and overwrites it before the
        // next call, so a non-`None` pointer is live. Only shared references
        // are ever made from it.
        self.0.map(|ptr| unsafe { ptr.as_ref() })
    }
}

/// Tracks memory growth against the instance's limit and remembers a denied
/// grow, which is how running out of memory is recognised.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub(crate) limit_bytes: usize,
    /// The size (in pages) of the last grow this invocation was denied.
    pub(crate) denied: Option<u64>,
    pub(crate) peak_bytes: usize,
    /// The memory's size: it changes only through growth, which this sees
    /// (instantiation included), so reading it costs no call into wasmtime.
    pub(crate) current_bytes: usize,
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

/// Where string and bytes results go: a buffer the host allocated with the
/// guest's `malloc`, filled from offset 0 each invocation.
#[derive(Debug, Default)]
pub(crate) struct Exchange {
    pub(crate) ptr: u32,
    pub(crate) size: u32,
    pub(crate) offset: u32,
    /// Extra buffers allocated this invocation for results that did not fit.
    pub(crate) overflow: Vec<u32>,
}

impl Exchange {
    /// Copies `bytes` into the buffer when they fit; returns the packed result.
    fn try_write(&mut self, mem: &mut [u8], bytes: &[u8]) -> Option<u64> {
        let len = u32::try_from(bytes.len()).ok()?;
        if len > self.size - self.offset {
            return None;
        }
        let ptr = self.ptr + self.offset;
        let dst = guest_bytes_mut(mem, ptr as i32, len as i32).ok()?;
        dst.copy_from_slice(bytes);
        self.offset += len;
        Some(abi::pack(ptr, len))
    }
}

#[derive(Default)]
struct IntentSlot {
    key: usize,
    existing: Option<usize>,
    row: Row,
}

/// What a host context may keep allocated between invocations for reuse;
/// beyond it, the tables are dropped when the next invocation begins, so a
/// guest that once filled its host budget does not keep it held.
const RETAINED_BYTES: usize = 256 << 10;

/// The longest panic message kept from `hostPanic`.
const MAX_PANIC_MESSAGE: usize = 4096;

/// Per-instance host context: the store data of every instance.
pub(crate) struct HostCtx<S: State> {
    pub(crate) state: StatePtr<S>,
    package: Arc<str>,
    extension_names: Arc<[Box<str>]>,
    /// Index into `extension_names` of the running invocation.
    current: Option<usize>,
    generation: u32,
    keys: Vec<KeyBuilder>,
    keys_len: usize,
    values: Vec<S::Value>,
    read_keys: Vec<S::Key>,
    intents: Vec<IntentSlot>,
    intents_len: usize,
    key_scratch: Vec<KeyBuilder>,
    pub(crate) memory: Option<Memory>,
    pub(crate) malloc: Option<TypedFunc<i32, i32>>,
    pub(crate) free: Option<TypedFunc<i32, ()>>,
    pub(crate) on_read: Option<TypedFunc<(i64, i64), ()>>,
    pub(crate) exchange: Exchange,
    pub(crate) output: Output,
    pub(crate) pending: Option<Error>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) host_calls: u64,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) started: std::time::Instant,
    /// What the host holds for the guest, against the host budget; and the
    /// deadline of host calls.
    pub(crate) budget: Budget,
    /// The invocation deadline, for its error, and in ticks (computed once:
    /// a 128-bit division per invocation shows).
    timeout: Option<Duration>,
    timeout_ticks: Option<u64>,
    /// The load deadline, for initialisation.
    load_timeout: Option<Duration>,
    /// The guest made an ABI host call after a grow was denied: it went on,
    /// so a later failure is not the denied grow's doing.
    pub(crate) went_on: bool,
}

impl<S: State> HostCtx<S> {
    pub(crate) fn new(
        package: Arc<str>,
        extension_names: Arc<[Box<str>]>,
        config: &crate::Config,
        clock: Clock,
    ) -> Self {
        let limit_bytes = config.memory_limit_bytes();
        HostCtx {
            state: StatePtr(None),
            package,
            extension_names,
            current: None,
            generation: 1,
            keys: Vec::new(),
            keys_len: 0,
            values: Vec::new(),
            read_keys: Vec::new(),
            intents: Vec::new(),
            intents_len: 0,
            key_scratch: Vec::new(),
            memory: None,
            malloc: None,
            free: None,
            on_read: None,
            exchange: Exchange::default(),
            output: Output::new(config.output_limit()),
            pending: None,
            exit_code: None,
            host_calls: 0,
            limiter: MemoryLimiter { limit_bytes, denied: None, peak_bytes: 0, current_bytes: 0 },
            started: std::time::Instant::now(),
            budget: Budget::new(config.get_host_budget_bytes(), config.get_max_handles() as usize, clock),
            timeout: config.get_timeout(),
            timeout_ticks: config.get_timeout().map(|t| budget::ticks(Some(t))),
            load_timeout: config.get_load_timeout(),
            went_on: false,
        }
    }

    /// Resets the per-invocation tables; handles of the previous invocation
    /// become stale; the invocation deadline starts now.
    #[inline]
    pub(crate) fn begin(&mut self, extension: usize) {
        self.generation = (self.generation + 1) & GENERATION_MASK;
        if self.generation == 0 {
            self.generation = 1;
        }
        self.current = Some(extension);
        self.keys_len = 0;
        self.values.clear();
        self.read_keys.clear();
        self.intents_len = 0;
        self.exchange.offset = 0;
        self.output.clear();
        self.pending = None;
        self.exit_code = None;
        self.host_calls = 0;
        self.limiter.denied = None;
        self.went_on = false;
        if self.budget.held_bytes() > RETAINED_BYTES {
            self.release_retained();
        }
        self.budget.begin(self.timeout_ticks);
    }

    /// Starts initialisation (no extension runs): the load deadline starts now.
    pub(crate) fn begin_initialisation(&mut self) {
        self.current = None;
        self.budget.begin(self.load_timeout.map(|t| budget::ticks(Some(t))));
    }

    #[cold]
    fn release_retained(&mut self) {
        self.release_tables();
    }

    /// Drops every table the guest made the host fill, giving its memory
    /// back (after a failure, and when more than a little was retained).
    pub(crate) fn release_tables(&mut self) {
        self.keys = Vec::new();
        self.keys_len = 0;
        self.values = Vec::new();
        self.read_keys = Vec::new();
        self.intents = Vec::new();
        self.intents_len = 0;
        self.key_scratch = Vec::new();
        self.exchange.overflow = Vec::new();
        self.budget.release_all();
    }

    /// Whether the deadline of the running invocation or initialisation
    /// has passed.
    pub(crate) fn past_deadline(&self) -> bool {
        self.budget.past_deadline()
    }

    /// Bytes the host holds for this instance, and the most it ever held.
    pub(crate) fn host_bytes(&self) -> (usize, usize) {
        (self.budget.held_bytes(), self.budget.peak_bytes())
    }

    /// `package/extension` of the running invocation, for error messages.
    pub(crate) fn label(&self) -> String {
        match self.current.and_then(|i| self.extension_names.get(i)) {
            Some(extension) => format!("{}/{}", self.package, extension),
            None => format!("{}/<initialisation>", self.package),
        }
    }

    /// Records `fault` as the invocation's error (the first one wins) and
    /// returns the trap that unwinds the guest.
    pub(crate) fn fail(&mut self, host_call: &'static str, fault: Fault) -> wasmtime::Error {
        if self.pending.is_none() && self.exit_code.is_none() {
            let extension = self.label();
            let site = |argument| Site { extension: extension.clone(), host_call, argument };
            self.pending = Some(match fault {
                Fault::Handle { argument, handle, reason } => {
                    Error::InvalidHandle { site: site(argument), handle: handle as u64, reason }
                }
                Fault::Memory { argument, ptr, len, memory_size } => {
                    Error::InvalidMemoryAccess { site: site(argument), ptr, len, memory_size }
                }
                Fault::Utf8 { argument, valid_up_to } => Error::InvalidUtf8 { site: site(argument), valid_up_to },
                Fault::Type { argument, field, expected, found } => {
                    Error::TypeMismatch { site: site(argument), field, expected, found }
                }
                Fault::Missing { argument, what } => Error::MissingField { site: site(argument), what },
                Fault::NotFound { key } => Error::NotFound { site: site("keyBuilder"), key },
                Fault::State(source) => Error::State { site: site("keyBuilder"), source },
                Fault::StatePanic(message) => Error::StatePanic { site: site("keyBuilder"), message },
                Fault::Exceeded { argument, exceeded: Exceeded::Budget(resource, limit) } => {
                    Error::HostBudget { site: site(argument), resource, limit }
                }
                Fault::Exceeded { exceeded: Exceeded::Deadline, .. } => match self.current {
                    Some(_) => {
                        Error::Timeout { extension: extension.clone(), timeout: self.timeout.unwrap_or_default() }
                    }
                    // During initialisation: the caller names the phase.
                    None => Error::Trap {
                        extension: extension.clone(),
                        message: format!("{host_call} ran past the load deadline"),
                        backtrace: Vec::new(),
                    },
                },
                Fault::OutOfMemory { requested_pages } => Error::MemoryLimit {
                    extension: extension.clone(),
                    limit_pages: (self.limiter.limit_bytes / abi::WASM_PAGE_SIZE as usize) as u32,
                    requested_pages,
                    message: format!("{host_call}: the guest's malloc failed: its memory cannot grow"),
                },
                Fault::Panic(message) => {
                    Error::GuestPanic { extension: extension.clone(), message, backtrace: Vec::new() }
                }
                Fault::Exit(code) => {
                    self.exit_code = Some(code);
                    return wasmtime::Error::msg(format!("guest called proc_exit({code})"));
                }
                Fault::OutsideInvocation => Error::Trap {
                    extension: extension.clone(),
                    message: format!("{host_call} called outside an invocation (during initialisation)"),
                    backtrace: Vec::new(),
                },
            });
        }
        wasmtime::Error::msg(format!("extwasm: host call {host_call} failed"))
    }

    /// The intents of the invocation that just ended.
    pub(crate) fn intents(&self) -> impl ExactSizeIterator<Item = state::Intent<'_, S::Value>> + '_ {
        self.intents[..self.intents_len].iter().map(move |slot| state::Intent {
            kind: match slot.existing {
                None => IntentKind::Insert,
                Some(index) => IntentKind::Update { existing: &self.values[index] },
            },
            key: &self.keys[slot.key],
            value: &slot.row,
        })
    }

    fn new_key_builder(&mut self, storage: &str, entity: &str) -> Result<i64, Fault> {
        let exceeded = Fault::exceeded("storagePtr");
        self.budget.handle().map_err(exceeded)?;
        let index = self.keys_len;
        if index == self.keys.len() {
            self.budget.reserve_one(&mut self.keys).map_err(Fault::exceeded("storagePtr"))?;
            self.keys.push(KeyBuilder::default());
        }
        self.keys[index].try_reset(storage, entity, &mut self.budget).map_err(Fault::exceeded("storagePtr"))?;
        self.keys_len += 1;
        Ok(encode(HandleKind::KeyBuilder, self.generation, index))
    }

    fn key_index(&self, handle: i64, argument: &'static str) -> Result<usize, Fault> {
        decode(handle, HandleKind::KeyBuilder, self.generation, self.keys_len).map_err(|reason| Fault::Handle {
            argument,
            handle,
            reason,
        })
    }

    fn value_index(&self, handle: i64, argument: &'static str) -> Result<usize, Fault> {
        decode(handle, HandleKind::Value, self.generation, self.values.len()).map_err(|reason| Fault::Handle {
            argument,
            handle,
            reason,
        })
    }

    /// A handle to `value`; `argument` is what the guest passed that made it.
    #[inline]
    fn push_value(&mut self, value: S::Value, argument: &'static str) -> Result<i64, Fault> {
        self.budget.handle().map_err(Fault::exceeded(argument))?;
        self.budget.reserve_one(&mut self.values).map_err(Fault::exceeded(argument))?;
        self.values.push(value);
        Ok(encode(HandleKind::Value, self.generation, self.values.len() - 1))
    }

    fn push_read_key(&mut self, key: S::Key) -> Result<i64, Fault> {
        self.budget.handle().map_err(Fault::exceeded("keyBuilder"))?;
        self.budget.reserve_one(&mut self.read_keys).map_err(Fault::exceeded("keyBuilder"))?;
        self.read_keys.push(key);
        Ok(encode(HandleKind::Key, self.generation, self.read_keys.len() - 1))
    }

    fn new_intent(&mut self, key: usize, existing: Option<usize>) -> Result<i64, Fault> {
        self.budget.handle().map_err(Fault::exceeded("keyBuilder"))?;
        let index = self.intents_len;
        if index == self.intents.len() {
            self.budget.reserve_one(&mut self.intents).map_err(Fault::exceeded("keyBuilder"))?;
            self.intents.push(IntentSlot::default());
        }
        let slot = &mut self.intents[index];
        slot.key = key;
        slot.existing = existing;
        slot.row.clear();
        self.intents_len += 1;
        Ok(encode(HandleKind::Intent, self.generation, index))
    }

    fn state(&self) -> Result<&'static S, Fault>
    where
        S: 'static,
    {
        self.state.get().ok_or(Fault::OutsideInvocation)
    }
}

type Ctx<'a, S> = Caller<'a, HostCtx<S>>;

/// Splits the caller into guest memory and host context.
fn split<'a, S: State>(caller: &'a mut Ctx<'_, S>) -> (&'a mut [u8], &'a mut HostCtx<S>) {
    match caller.data().memory {
        Some(memory) => memory.data_and_store_mut(caller),
        None => (&mut [], caller.data_mut()),
    }
}

/// Runs `body` with memory and context; a fault becomes the invocation's error.
#[inline(always)]
fn with_ctx<S: State, R>(
    caller: &mut Ctx<'_, S>,
    host_call: &'static str,
    body: impl FnOnce(&mut [u8], &mut HostCtx<S>) -> Result<R, Fault>,
) -> wasmtime::Result<R> {
    let (mem, ctx) = split(caller);
    ctx.host_calls += 1;
    // A guest that calls the host after a denied grow went on from it.
    ctx.went_on |= ctx.limiter.denied.is_some();
    body(mem, ctx).map_err(|fault| ctx.fail(host_call, fault))
}

/// [`with_ctx`] for a call that does not count as going on after a denied
/// grow: reporting the failure (`hostPanic`).
fn reporting<S: State, R>(
    caller: &mut Ctx<'_, S>,
    host_call: &'static str,
    body: impl FnOnce(&mut [u8], &mut HostCtx<S>) -> Result<R, Fault>,
) -> wasmtime::Result<R> {
    let (mem, ctx) = split(caller);
    ctx.host_calls += 1;
    body(mem, ctx).map_err(|fault| ctx.fail(host_call, fault))
}

fn get_key<S: State>(
    mut caller: Ctx<'_, S>,
    call: &'static str,
    sp: i32,
    sl: i32,
    ep: i32,
    el: i32,
) -> wasmtime::Result<i64> {
    with_ctx(&mut caller, call, |mem, ctx| {
        let storage = guest_text(mem, sp, sl, "storagePtr", &ctx.budget)?;
        let entity = guest_text(mem, ep, el, "entityPtr", &ctx.budget)?;
        ctx.new_key_builder(storage, entity)
    })
}

fn query<S: State>(mut caller: Ctx<'_, S>, call: &'static str, key: i64, must: bool) -> wasmtime::Result<i64> {
    with_ctx(&mut caller, call, |_, ctx| {
        let index = ctx.key_index(key, "keyBuilder")?;
        let state = ctx.state()?;
        let builder = &ctx.keys[index];
        match state_call(|| state.query(builder))? {
            Some(value) => ctx.push_value(value, "keyBuilder"),
            None if must => Err(Fault::NotFound { key: builder.to_string() }),
            None => Ok(abi::NOT_FOUND as i64),
        }
    })
}

fn new_value<S: State>(mut caller: Ctx<'_, S>, call: &'static str, key: i64) -> wasmtime::Result<i64> {
    with_ctx(&mut caller, call, |_, ctx| {
        let index = ctx.key_index(key, "keyBuilder")?;
        let state = ctx.state()?;
        state_call(|| state.check_insert(&ctx.keys[index]))?;
        ctx.new_intent(index, None)
    })
}

fn update_value<S: State>(
    mut caller: Ctx<'_, S>,
    call: &'static str,
    key: i64,
    existing: i64,
) -> wasmtime::Result<i64> {
    with_ctx(&mut caller, call, |_, ctx| {
        let index = ctx.key_index(key, "keyBuilder")?;
        let existing = ctx.value_index(existing, "existingValue")?;
        let state = ctx.state()?;
        state_call(|| state.check_update(&ctx.keys[index], &ctx.values[existing]))?;
        ctx.new_intent(index, Some(existing))
    })
}

fn read_values<S: State>(mut caller: Ctx<'_, S>, call: &'static str, key: i64) -> wasmtime::Result<()> {
    // Copy the key builder out: the guest may use (and change) it from inside
    // the callback while the state iterates.
    let prepared = with_ctx(&mut caller, call, |_, ctx| {
        let index = ctx.key_index(key, "keyBuilder")?;
        let state = ctx.state()?;
        let Some(on_read) = ctx.on_read.clone() else {
            return Err(Fault::Missing { argument: "keyBuilder", what: "module exports no WasmOnReadValue".into() });
        };
        let mut scratch = ctx.key_scratch.pop().unwrap_or_default();
        let source = &ctx.keys[index];
        let copied = ctx.budget.clone_into(&mut scratch, source, source.heap_bytes(), KeyBuilder::heap_bytes);
        if let Err(exceeded) = copied {
            ctx.key_scratch.push(scratch);
            return Err(Fault::Exceeded { argument: "keyBuilder", exceeded });
        }
        Ok((state, on_read, scratch))
    });
    let (state, on_read, scratch) = prepared?;
    let mut failure = None;
    let result = embedder(|| {
        state.read(&scratch, &mut |key, value| {
            let ctx = caller.data_mut();
            let handles = ctx.push_read_key(key).and_then(|key| Ok((key, ctx.push_value(value, "keyBuilder")?)));
            let (key, value) = match handles {
                Ok(handles) => handles,
                Err(fault) => {
                    failure = Some(ctx.fail(call, fault));
                    return ControlFlow::Break(());
                }
            };
            match on_read.call(&mut caller, (key, value)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(trap) => {
                    failure = Some(trap);
                    ControlFlow::Break(())
                }
            }
        })
    });
    caller.data_mut().key_scratch.push(scratch);
    if let Some(trap) = failure {
        return Err(trap);
    }
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(caller.data_mut().fail(call, Fault::State(e))),
        Err(fault) => Err(caller.data_mut().fail(call, fault)),
    }
}

fn kind_of(kind: i32) -> Result<RowWriterKind, Fault> {
    RowWriterKind::from_u32(kind as u32).ok_or_else(|| Fault::Handle {
        argument: "kind",
        handle: kind as i64,
        reason: format!("row-writer kind must be 0 (key builder) or 1 (intent), got {kind}"),
    })
}

/// The row (key builder fields or intent fields) that `id`/`kind` name, with
/// the budget its puts are charged to.
fn row_mut<S: State>(ctx: &mut HostCtx<S>, id: i64, kind: i32) -> Result<(&mut Row, &mut Budget), Fault> {
    match kind_of(kind)? {
        RowWriterKind::KeyBuilder => {
            let index = ctx.key_index(id, "id")?;
            Ok((ctx.keys[index].fields_mut(), &mut ctx.budget))
        }
        RowWriterKind::Intent => {
            let index = decode(id, HandleKind::Intent, ctx.generation, ctx.intents_len)
                .map_err(|reason| Fault::Handle { argument: "id", handle: id, reason })?;
            Ok((&mut ctx.intents[index].row, &mut ctx.budget))
        }
    }
}

/// A put: reads the name, then `value` computes the scalar from guest memory.
fn put<S: State>(
    mut caller: Ctx<'_, S>,
    call: &'static str,
    id: i64,
    kind: i32,
    name: (i32, i32),
    value: impl for<'m> FnOnce(&'m [u8], &Budget) -> Result<Scalar<'m>, Fault>,
) -> wasmtime::Result<()> {
    with_ctx(&mut caller, call, |mem, ctx| {
        let name = guest_text(mem, name.0, name.1, "namePtr", &ctx.budget)?;
        let value = value(mem, &ctx.budget)?;
        let argument = if matches!(value, Scalar::String(_) | Scalar::Bytes(_) | Scalar::QName(_)) {
            "valuePtr"
        } else {
            "namePtr"
        };
        let (row, budget) = row_mut(ctx, id, kind)?;
        row.try_put(name, value, budget).map_err(Fault::exceeded(argument))
    })
}

/// How a read names its field.
#[derive(Clone, Copy)]
enum Selector {
    Name(i32, i32),
    Index(i32),
}

/// The wasm result of a field read.
enum Read {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    /// Bytes that did not fit in the exchange buffer.
    Overflow(Vec<u8>),
}

impl Read {
    fn i32(self) -> i32 {
        match self {
            Read::I32(v) => v,
            _ => unreachable!("field reads return the type their import declares"),
        }
    }
    fn i64(self) -> i64 {
        match self {
            Read::I64(v) => v,
            _ => unreachable!("field reads return the type their import declares"),
        }
    }
    fn f32(self) -> f32 {
        match self {
            Read::F32(v) => v,
            _ => unreachable!("field reads return the type their import declares"),
        }
    }
    fn f64(self) -> f64 {
        match self {
            Read::F64(v) => v,
            _ => unreachable!("field reads return the type their import declares"),
        }
    }
}

fn read_field<S: State>(
    mut caller: Ctx<'_, S>,
    call: &'static str,
    handle: i64,
    of_key: bool,
    selector: Selector,
    want: FieldType,
) -> wasmtime::Result<Read> {
    let read = with_ctx(&mut caller, call, |mem, ctx| {
        let name = match selector {
            Selector::Name(ptr, len) => Some(guest_text(mem, ptr, len, "namePtr", &ctx.budget)?),
            Selector::Index(_) => None,
        };
        let request = Request { name, selector, want };
        let resolved = if of_key {
            let index = decode(handle, HandleKind::Key, ctx.generation, ctx.read_keys.len())
                .map_err(|reason| Fault::Handle { argument: "key", handle, reason })?;
            match resolve(&ctx.read_keys[index], request)? {
                // The ABI has no nested reads of keys, so `want` is never `Value` here.
                Resolved::Nested(_) => {
                    return Err(Fault::Type {
                        argument: "namePtr",
                        field: request.describe(),
                        expected: want.as_str(),
                        found: "value",
                    });
                }
                Resolved::Ready(read) => return Ok(read),
                Resolved::Bytes(bytes) => bytes,
            }
        } else {
            let index = ctx.value_index(handle, "value")?;
            match resolve(&ctx.values[index], request)? {
                Resolved::Nested(nested) => return Ok(Read::I64(ctx.push_value(nested, "namePtr")?)),
                Resolved::Ready(read) => return Ok(read),
                Resolved::Bytes(bytes) => bytes,
            }
        };
        Ok(match ctx.exchange.try_write(mem, resolved) {
            Some(packed) => Read::I64(packed as i64),
            None => Read::Overflow(resolved.to_vec()),
        })
    })?;
    match read {
        Read::Overflow(bytes) => write_overflow(&mut caller, call, &bytes).map(|p| Read::I64(p as i64)),
        read => Ok(read),
    }
}

/// What a field read asks for.
#[derive(Clone, Copy)]
struct Request<'a> {
    name: Option<&'a str>,
    selector: Selector,
    want: FieldType,
}

impl Request<'_> {
    fn argument(&self) -> &'static str {
        match self.selector {
            Selector::Name(..) => "namePtr",
            Selector::Index(_) => "index",
        }
    }

    /// The field name (its start, when long), or `[index]`, for messages.
    fn describe(&self) -> String {
        match (self.name, self.selector) {
            (_, Selector::Index(i)) => format!("[{i}]"),
            (name, Selector::Name(..)) => excerpt(name.unwrap_or_default()),
        }
    }
}

/// A field read, resolved against the value but not yet handed to the guest.
enum Resolved<'v, V> {
    Ready(Read),
    Nested(V),
    /// String or bytes to copy into the exchange buffer.
    Bytes(&'v [u8]),
}

/// Reads the requested field of `value` as the wasm result the import
/// returns, checking that it exists and has a readable type.
fn resolve<'v, V: Value>(value: &'v V, request: Request<'_>) -> Result<Resolved<'v, V>, Fault> {
    let argument = request.argument();
    let field = embedder(|| match (request.name, request.selector) {
        (Some(name), _) => value.field(name),
        (None, Selector::Index(index)) => usize::try_from(index).ok().and_then(|i| value.element(i)),
        (None, Selector::Name(..)) => None,
    })?;
    let Some(field) = field else {
        let what = match request.selector {
            Selector::Name(..) => format!("no field {:?}", request.describe()),
            Selector::Index(i) => format!("no element {i}: out of range or not an array"),
        };
        return Err(Fault::Missing { argument, what });
    };
    let mismatch = |found| Fault::Type { argument, field: request.describe(), expected: request.want.as_str(), found };
    field.readable_as(request.want).map_err(mismatch)?;
    let scalar = match field {
        Field::Value(nested) => return Ok(Resolved::Nested(nested)),
        Field::Scalar(scalar) => scalar,
    };
    let bytes: &[u8] = match (scalar, request.want) {
        (Scalar::Int64(v), FieldType::Int32) => {
            return i32::try_from(v)
                .map(|v| Resolved::Ready(Read::I32(v)))
                .map_err(|_| mismatch("int64 out of int32 range"));
        }
        (s, FieldType::Int32) => {
            return Ok(Resolved::Ready(Read::I32(s.as_i64().unwrap_or_default() as i32)));
        }
        (s, FieldType::Int64) => {
            return Ok(Resolved::Ready(Read::I64(s.as_i64().unwrap_or_default())));
        }
        (s, FieldType::Float32) => {
            return Ok(Resolved::Ready(Read::F32(s.as_f64().unwrap_or_default() as f32)));
        }
        (s, FieldType::Float64) => {
            return Ok(Resolved::Ready(Read::F64(s.as_f64().unwrap_or_default())));
        }
        (Scalar::Bool(v), _) => return Ok(Resolved::Ready(Read::I64(v as i64))),
        (Scalar::String(s), _) => s.as_bytes(),
        (Scalar::Bytes(b), _) => b,
        (Scalar::QName(q), FieldType::QNamePkg) => q.pkg.as_bytes(),
        (Scalar::QName(q), _) => q.entity.as_bytes(),
        (s, want) => unreachable!("readable_as admits no {} read as {}", s.type_name(), want.as_str()),
    };
    Ok(Resolved::Bytes(bytes))
}

/// Allocates a buffer with the guest's `malloc` for a result that did not fit
/// in the exchange buffer, and copies the result there.
fn write_overflow<S: State>(caller: &mut Ctx<'_, S>, call: &'static str, bytes: &[u8]) -> wasmtime::Result<u64> {
    let Some(malloc) = caller.data().malloc.clone() else {
        return Err(caller.data_mut().fail(
            call,
            Fault::Missing {
                argument: "namePtr",
                what: "the result does not fit the exchange buffer and the module exports no malloc".into(),
            },
        ));
    };
    // A result the guest cannot address (over 2 GiB: malloc takes an i32)
    // cannot be handed over.
    let Some(len) = u32::try_from(bytes.len()).ok().filter(|&len| len <= i32::MAX as u32) else {
        let fault = Fault::Missing { argument: "namePtr", what: format!("a result of {} bytes", bytes.len()) };
        return Err(caller.data_mut().fail(call, fault));
    };
    let size = len.max(abi::EXCHANGE_OVERFLOW_MIN);
    let ptr = malloc.call(&mut *caller, size as i32)? as u32;
    let (mem, ctx) = split(caller);
    if let Err(exceeded) = ctx.budget.reserve_one(&mut ctx.exchange.overflow) {
        return Err(ctx.fail(call, Fault::Exceeded { argument: "namePtr", exceeded }));
    }
    // A null result is an allocation failure, not an address to write to.
    let checked = match (ptr, ctx.limiter.denied) {
        (0, Some(requested_pages)) => return Err(ctx.fail(call, Fault::OutOfMemory { requested_pages })),
        (0, None) => Err(GuestArg::OutOfBounds { ptr, len, memory_size: mem.len() }),
        _ => guest_bytes_mut(mem, ptr as i32, len as i32),
    };
    match checked {
        Ok(dst) => {
            dst.copy_from_slice(bytes);
            ctx.exchange.overflow.push(ptr);
            Ok(abi::pack(ptr, len))
        }
        Err(e) => Err(ctx.fail(call, e.fault("malloc result"))),
    }
}

fn value_length<S: State>(mut caller: Ctx<'_, S>, call: &'static str, handle: i64) -> wasmtime::Result<i32> {
    with_ctx(&mut caller, call, |_, ctx| {
        let index = ctx.value_index(handle, "value")?;
        let value = &ctx.values[index];
        // An array longer than i32::MAX answers i32::MAX: the guest cannot index past it anyway.
        embedder(|| value.len())?.map(|n| i32::try_from(n).unwrap_or(i32::MAX)).ok_or(Fault::Type {
            argument: "value",
            field: "(the value itself)".into(),
            expected: "array",
            found: "object or scalar",
        })
    })
}

fn host_panic<S: State>(mut caller: Ctx<'_, S>, call: &'static str, ptr: i32, len: i32) -> wasmtime::Result<()> {
    reporting(&mut caller, call, |mem, _| {
        let message = guest_bytes(mem, ptr, len).map_err(|e| e.fault("msgPtr"))?;
        let kept = &message[..message.len().min(MAX_PANIC_MESSAGE)];
        let mut text = String::from_utf8_lossy(kept).into_owned();
        if kept.len() < message.len() {
            text.push_str(&format!("… ({} bytes)", message.len()));
        }
        Err(Fault::Panic(text))
    })
}

fn name_arg<'m>(mem: &'m [u8], ptr: i32, len: i32, argument: &'static str, budget: &Budget) -> Result<&'m str, Fault> {
    guest_text(mem, ptr, len, argument, budget)
}

/// Defines every host import of the ABI table, and the WASI functions, on
/// `linker`. Driven by [`abi::HOST_IMPORTS`], so a new import cannot be
/// forgotten here (the match is exhaustive).
pub(crate) fn define_imports<S: State>(linker: &mut Linker<HostCtx<S>>) -> wasmtime::Result<()> {
    use FieldType as F;
    for import in abi::HOST_IMPORTS {
        let call = import.name;
        let m = abi::HOST_MODULE;
        match import.function {
            HostFunction::GetKey => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, sp: i32, sl: i32, ep: i32, el: i32| {
                    get_key(c, call, sp, sl, ep, el)
                })?
            }
            HostFunction::GetValue => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, k: i64| query(c, call, k, true))?
            }
            HostFunction::QueryValue => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, k: i64| query(c, call, k, false))?
            }
            HostFunction::ReadValues => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, k: i64| read_values(c, call, k))?
            }
            HostFunction::NewValue => linker.func_wrap(m, call, move |c: Ctx<'_, S>, k: i64| new_value(c, call, k))?,
            HostFunction::UpdateValue => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, k: i64, v: i64| update_value(c, call, k, v))?
            }
            HostFunction::RowWriterPut(F::String) => linker.func_wrap(
                m,
                call,
                move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, vp: i32, vl: i32| {
                    put(c, call, id, kind, (np, nl), |mem, b| Ok(Scalar::String(name_arg(mem, vp, vl, "valuePtr", b)?)))
                },
            )?,
            HostFunction::RowWriterPut(F::Bytes) => linker.func_wrap(
                m,
                call,
                move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, vp: i32, vl: i32| {
                    put(c, call, id, kind, (np, nl), |mem, _| {
                        Ok(Scalar::Bytes(guest_bytes(mem, vp, vl).map_err(|e| e.fault("valuePtr"))?))
                    })
                },
            )?,
            HostFunction::RowWriterPut(F::QName) => linker.func_wrap(
                m,
                call,
                move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, pp: i32, pl: i32, ep: i32, el: i32| {
                    put(c, call, id, kind, (np, nl), |mem, b| {
                        let pkg = name_arg(mem, pp, pl, "pkgPtr", b)?;
                        let entity = name_arg(mem, ep, el, "entityPtr", b)?;
                        Ok(Scalar::QName(QName { pkg, entity }))
                    })
                },
            )?,
            HostFunction::RowWriterPut(F::Bool) => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, v: i32| {
                    put(c, call, id, kind, (np, nl), |_, _| Ok(Scalar::Bool(v != 0)))
                })?
            }
            HostFunction::RowWriterPut(F::Int32) => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, v: i32| {
                    put(c, call, id, kind, (np, nl), |_, _| Ok(Scalar::Int32(v)))
                })?
            }
            HostFunction::RowWriterPut(F::Int64) => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, v: i64| {
                    put(c, call, id, kind, (np, nl), |_, _| Ok(Scalar::Int64(v)))
                })?
            }
            HostFunction::RowWriterPut(F::Float32) => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, v: f32| {
                    put(c, call, id, kind, (np, nl), |_, _| Ok(Scalar::Float32(v)))
                })?
            }
            HostFunction::RowWriterPut(F::Float64) => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, id: i64, kind: i32, np: i32, nl: i32, v: f64| {
                    put(c, call, id, kind, (np, nl), |_, _| Ok(Scalar::Float64(v)))
                })?
            }
            HostFunction::RowWriterPut(other) => unreachable!("the ABI has no put for {other:?}"),
            HostFunction::ValueLength => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, v: i64| value_length(c, call, v))?
            }
            HostFunction::ValueAs(want) | HostFunction::KeyAs(want) => {
                let of_key = matches!(import.function, HostFunction::KeyAs(_));
                let by_name = move |c: Ctx<'_, S>, h: i64, p: i32, l: i32| {
                    read_field(c, call, h, of_key, Selector::Name(p, l), want)
                };
                match want {
                    F::Int32 => linker.func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, p: i32, l: i32| {
                        by_name(c, h, p, l).map(Read::i32)
                    })?,
                    F::Float32 => linker.func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, p: i32, l: i32| {
                        by_name(c, h, p, l).map(Read::f32)
                    })?,
                    F::Float64 => linker.func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, p: i32, l: i32| {
                        by_name(c, h, p, l).map(Read::f64)
                    })?,
                    _ => linker.func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, p: i32, l: i32| {
                        by_name(c, h, p, l).map(Read::i64)
                    })?,
                }
            }
            HostFunction::ValueGetAs(want) => {
                let by_index =
                    move |c: Ctx<'_, S>, h: i64, i: i32| read_field(c, call, h, false, Selector::Index(i), want);
                match want {
                    F::Int32 => linker
                        .func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, i: i32| by_index(c, h, i).map(Read::i32))?,
                    F::Float32 => linker
                        .func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, i: i32| by_index(c, h, i).map(Read::f32))?,
                    F::Float64 => linker
                        .func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, i: i32| by_index(c, h, i).map(Read::f64))?,
                    _ => linker
                        .func_wrap(m, call, move |c: Ctx<'_, S>, h: i64, i: i32| by_index(c, h, i).map(Read::i64))?,
                }
            }
            HostFunction::Panic => {
                linker.func_wrap(m, call, move |c: Ctx<'_, S>, p: i32, l: i32| host_panic(c, call, p, l))?
            }
        };
    }
    wasi::define(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_and_reject_misuse() {
        let h = encode(HandleKind::Value, 7, 3);
        assert_eq!(decode(h, HandleKind::Value, 7, 4), Ok(3));
        assert!(decode(h, HandleKind::Value, 8, 4).unwrap_err().contains("stale"));
        assert!(decode(h, HandleKind::KeyBuilder, 7, 4).unwrap_err().contains("value handle where a key builder"));
        assert!(decode(h, HandleKind::Value, 7, 3).unwrap_err().contains("forged"));
        assert!(decode(-1, HandleKind::Value, 7, 4).unwrap_err().contains("not a handle"));
        assert!(decode(0, HandleKind::Value, 7, 4).unwrap_err().contains("not a handle"));
        assert_ne!(encode(HandleKind::Key, GENERATION_MASK, u32::MAX as usize), abi::NOT_FOUND as i64);
    }

    #[test]
    fn guest_memory_bounds() {
        let mem = b"hello\xffworld";
        let budget = Budget::new(1024, 16, Clock::default());
        assert_eq!(guest_text(mem, 0, 5, "namePtr", &budget).unwrap(), "hello");
        let invalid = guest_text(mem, 0, 6, "namePtr", &budget);
        assert!(matches!(invalid, Err(Fault::Utf8 { argument: "namePtr", valid_up_to: 5 })));
        assert!(matches!(guest_bytes(mem, 8, 4), Err(GuestArg::OutOfBounds { ptr: 8, len: 4, memory_size: 11 })));
        assert!(matches!(guest_bytes(mem, -1, 1), Err(GuestArg::OutOfBounds { .. })));
        assert!(matches!(guest_bytes(mem, 1, -1), Err(GuestArg::OutOfBounds { .. })));
        assert_eq!(guest_bytes(mem, 11, 0).unwrap(), b"");
    }
}
