//! One invocation, host side: the handle tables, the reads and puts of
//! every host function, the type rules, and faults turned into errors.
//!
//! [`Session`] knows nothing of wasm: its typed operations (`get_key`,
//! `query`, `put`, `read`, …) are what the Rust SDK's mock host calls, and
//! [`Session::call`] decodes the raw arguments of any import of
//! [`extwasm_abi::HOST_IMPORTS`] (pointers into a guest memory slice,
//! handles, numbers) for the engine, so a new host function is added here
//! and in the ABI table, not in the engine.

use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use extwasm_abi::{
    self as abi, FieldType, HandleFault, HandleKind, HostFunction, HostImport, RowWriterKind, messages, render,
};
use extwasm_state::budget::{self, Budget, Exceeded};
use extwasm_state::{Field, Intent, IntentKind, KeyBuilder, QName, Row, Scalar, State, StateError, Value, excerpt};

use crate::error::{Error, HandleReason, Site};

/// Why a host call failed; [`Session::error`] turns it into an [`Error`]
/// with the extension and host call filled in.
#[derive(Debug)]
#[non_exhaustive]
pub enum Fault {
    /// A handle that names nothing of this invocation.
    Handle {
        /// The argument.
        argument: &'static str,
        /// The handle passed.
        handle: u64,
        /// Why.
        reason: HandleReason,
    },
    /// A pointer/length outside guest memory.
    Memory {
        /// The argument.
        argument: &'static str,
        /// The pointer.
        ptr: u32,
        /// The length.
        len: u32,
        /// The memory's size.
        memory_size: usize,
    },
    /// A string argument that is not UTF-8.
    Utf8 {
        /// The argument.
        argument: &'static str,
        /// Length of the longest valid prefix.
        valid_up_to: usize,
    },
    /// A field read as a type it does not have.
    Type {
        /// The argument.
        argument: &'static str,
        /// The field name or `[index]`.
        field: String,
        /// The type asked for.
        expected: &'static str,
        /// The type it has.
        found: &'static str,
    },
    /// A field or element that does not exist, or an export a call needs.
    Missing {
        /// The argument.
        argument: &'static str,
        /// What is missing.
        what: String,
    },
    /// Must-get found nothing.
    NotFound {
        /// The key, rendered.
        key: String,
    },
    /// The state failed.
    State(StateError),
    /// The embedder's state or value panicked; the payload's text.
    StatePanic(String),
    /// The guest reported a panic (`hostPanic`).
    Panic(String),
    /// The guest exited (`proc_exit`).
    Exit(i32),
    /// An ABI host call outside an invocation (during initialisation).
    OutsideInvocation,
    /// A budget ran out, or the deadline passed, inside a host call.
    Exceeded {
        /// The argument that asked for too much.
        argument: &'static str,
        /// Which limit.
        exceeded: Exceeded,
    },
    /// The guest's `malloc` failed after its memory could not grow.
    OutOfMemory {
        /// The size the guest asked to grow to, in pages.
        requested_pages: u64,
        /// The guest memory's limit, in pages.
        limit_pages: u32,
    },
}

impl Fault {
    /// A [`Fault::Exceeded`] of `argument`.
    pub fn exceeded(argument: &'static str) -> impl FnOnce(Exceeded) -> Fault {
        move |exceeded| Fault::Exceeded { argument, exceeded }
    }
}

/// Runs embedder code (a [`State`] or [`Value`] method) so that its panic
/// fails the invocation instead of unwinding through the guest.
#[inline(always)]
pub fn embedder<R>(body: impl FnOnce() -> R) -> Result<R, Fault> {
    catch_unwind(AssertUnwindSafe(body)).map_err(state_panic)
}

/// [`embedder`] for a state call that can fail: its error is
/// [`Fault::State`].
#[inline(always)]
pub fn state_call<R>(body: impl FnOnce() -> Result<R, StateError>) -> Result<R, Fault> {
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

/// `len` bytes of guest memory at `ptr` (both as the guest passed them).
#[inline]
pub fn guest_bytes<'m>(memory: &'m [u8], ptr: u32, len: u32, argument: &'static str) -> Result<&'m [u8], Fault> {
    let start = ptr as usize;
    start.checked_add(len as usize).and_then(|end| memory.get(start..end)).ok_or_else(|| Fault::Memory {
        argument,
        ptr,
        len,
        memory_size: memory.len(),
    })
}

/// A UTF-8 string argument of guest memory; a long one is validated in
/// chunks, with the deadline checked between them.
#[inline]
pub fn guest_text<'m>(
    memory: &'m [u8],
    ptr: u32,
    len: u32,
    argument: &'static str,
    budget: &Budget,
) -> Result<&'m str, Fault> {
    let bytes = guest_bytes(memory, ptr, len, argument)?;
    budget::utf8(bytes, budget).map_err(|e| match e {
        Ok(valid_up_to) => Fault::Utf8 { argument, valid_up_to },
        Err(exceeded) => Fault::Exceeded { argument, exceeded },
    })
}

/// How a read names its field.
#[derive(Clone, Copy, Debug)]
pub enum Selector<'a> {
    /// By name (`hostValueAs*`, `hostKeyAs*`).
    Name(&'a str),
    /// By index (`hostValueGetAs*`); the guest's `i32`, negatives included.
    Index(i64),
}

impl Selector<'_> {
    fn argument(self) -> &'static str {
        match self {
            Selector::Name(_) => "namePtr",
            Selector::Index(_) => "index",
        }
    }

    /// The field name (its start, when long), or `[index]`, for messages.
    fn describe(self) -> String {
        match self {
            Selector::Name(name) => excerpt(name),
            Selector::Index(i) => format!("[{i}]"),
        }
    }
}

/// A field read, as the import returns it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Read<'a> {
    /// An `i32` result.
    I32(i32),
    /// An `i64` result (also bools: 0 or 1).
    I64(i64),
    /// An `f32` result.
    F32(f32),
    /// An `f64` result.
    F64(f64),
    /// Bytes to hand to the guest (a string, bytes, half a qualified name).
    Bytes(&'a [u8]),
    /// A handle to a nested value.
    Value(u64),
}

/// What a host call returns, before the engine hands it to the guest.
#[derive(Debug)]
pub enum Ret<'a> {
    /// Nothing.
    Unit,
    /// A value of the import's result type.
    Read(Read<'a>),
    /// `hostReadValues`: the engine iterates the state with this copy of the
    /// key builder, calling [`Session::read_item`] and the guest's callback
    /// per match, then [`Session::end_read`]. (Boxed: a host call's result
    /// stays small.)
    ReadValues(Box<KeyBuilder>),
}

/// Who is invoking: `package/extension` in errors.
#[derive(Clone, Debug)]
pub struct Label {
    package: Arc<str>,
    extensions: Arc<[Box<str>]>,
    current: Option<usize>,
    /// Reading the guest's memory info, between invocations.
    memory_info: bool,
}

impl Label {
    /// A label for `package`, whose extensions are `extensions`.
    pub fn new(package: Arc<str>, extensions: Arc<[Box<str>]>) -> Self {
        Label { package, extensions, current: None, memory_info: false }
    }

    /// `package/extension` of the running invocation, or
    /// `package/<initialisation>`, or `package/<memory info>` (see
    /// [`Session::begin_memory_info`]).
    pub fn render(&self) -> String {
        match self.current.and_then(|i| self.extensions.get(i)) {
            Some(extension) => format!("{}/{}", self.package, extension),
            None if self.memory_info => format!("{}/<memory info>", self.package),
            None => format!("{}/<initialisation>", self.package),
        }
    }
}

#[derive(Debug, Default)]
struct IntentSlot {
    key: usize,
    existing: Option<usize>,
    row: Row,
}

/// What a session may keep allocated between invocations for reuse; beyond
/// it, the tables are dropped when the next invocation begins, so a guest
/// that once filled its host budget does not keep it held.
const RETAINED_BYTES: usize = 256 << 10;

/// The longest panic message kept from `hostPanic`.
pub const MAX_PANIC_MESSAGE: usize = 4096;

/// The host side of one package instance's invocations: what the guest was
/// handed in the running invocation, charged to its budget.
pub struct Session<S: State> {
    label: Label,
    generation: u32,
    keys: Vec<KeyBuilder>,
    keys_len: usize,
    values: Vec<S::Value>,
    read_keys: Vec<S::Key>,
    intents: Vec<IntentSlot>,
    intents_len: usize,
    /// Copies of key builders for `hostReadValues`, boxed so that a host
    /// call hands one out without allocating (see [`Ret::ReadValues`]).
    #[allow(clippy::vec_box)]
    key_scratch: Vec<Box<KeyBuilder>>,
    budget: Budget,
    /// The invocation deadline, for its error.
    timeout: Option<Duration>,
}

impl<S: State> Session<S> {
    /// A session for `label`'s invocations, charging `budget`; `timeout` is
    /// what a deadline error reports.
    pub fn new(label: Label, budget: Budget, timeout: Option<Duration>) -> Self {
        Session {
            label,
            generation: 1,
            keys: Vec::new(),
            keys_len: 0,
            values: Vec::new(),
            read_keys: Vec::new(),
            intents: Vec::new(),
            intents_len: 0,
            key_scratch: Vec::new(),
            budget,
            timeout,
        }
    }

    /// This session, its next invocation numbered after `generation`: a
    /// host that makes a session per invocation (a mock host) numbers them
    /// apart, so a handle kept from an earlier one is recognised as stale.
    pub fn with_generation(mut self, generation: u32) -> Self {
        self.generation = generation & abi::GENERATION_MASK;
        self
    }

    /// Starts invocation `extension` (or initialisation, `None`), with
    /// `timeout` (a duration and the ticks of the budget's clock it spans)
    /// from now: handles of the previous invocation become stale.
    #[inline]
    pub fn begin(&mut self, extension: Option<usize>, timeout: Option<(Duration, u64)>) {
        self.generation = (self.generation + 1) & abi::GENERATION_MASK;
        if self.generation == 0 {
            self.generation = 1;
        }
        self.label.current = extension;
        self.label.memory_info = false;
        self.keys_len = 0;
        self.values.clear();
        self.read_keys.clear();
        self.intents_len = 0;
        if self.budget.held_bytes() > RETAINED_BYTES {
            self.release_retained();
        }
        self.budget.begin(timeout);
    }

    /// Starts a call into the guest between invocations that reads its
    /// memory info, as [`Session::begin`] starts initialisation; errors name
    /// it `package/<memory info>`.
    pub fn begin_memory_info(&mut self, timeout: Option<(Duration, u64)>) {
        self.begin(None, timeout);
        self.label.memory_info = true;
    }

    #[cold]
    fn release_retained(&mut self) {
        self.release_tables();
    }

    /// Drops every table the guest made the host fill, giving its memory
    /// back (after a failure, and when more than a little was retained).
    pub fn release_tables(&mut self) {
        self.keys = Vec::new();
        self.keys_len = 0;
        self.values = Vec::new();
        self.read_keys = Vec::new();
        self.intents = Vec::new();
        self.intents_len = 0;
        self.key_scratch = Vec::new();
        self.budget.release_all();
    }

    /// The budget this session charges.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The budget, to charge what the host holds for the guest elsewhere.
    pub fn budget_mut(&mut self) -> &mut Budget {
        &mut self.budget
    }

    /// Whether an invocation (not initialisation) is running.
    pub fn in_invocation(&self) -> bool {
        self.label.current.is_some()
    }

    /// `package/extension` of the running invocation.
    pub fn label(&self) -> String {
        self.label.render()
    }

    /// The error `fault` means at `host_call` of the running invocation.
    pub fn error(&self, host_call: &'static str, fault: Fault) -> Error {
        let extension = self.label();
        let site = |argument| Site { extension: extension.clone(), host_call, argument };
        match fault {
            Fault::Handle { argument, handle, reason } => Error::InvalidHandle { site: site(argument), handle, reason },
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
            Fault::Panic(message) => Error::GuestPanic { extension, message, backtrace: Vec::new() },
            Fault::Exit(code) => {
                Error::Trap { extension, message: format!("guest exited with code {code}"), backtrace: Vec::new() }
            }
            Fault::OutsideInvocation => Error::Trap {
                message: format!("{host_call} called outside an invocation (during initialisation)"),
                extension,
                backtrace: Vec::new(),
            },
            Fault::Exceeded { argument, exceeded: Exceeded::Budget(resource, limit) } => {
                Error::HostBudget { site: site(argument), resource, limit }
            }
            Fault::Exceeded { exceeded: Exceeded::Deadline, .. } => match self.label.current {
                Some(_) => Error::Timeout { extension, timeout: self.timeout.unwrap_or_default() },
                // During initialisation: the engine names the phase.
                None => Error::Trap {
                    extension,
                    message: format!("{host_call} ran past the load deadline"),
                    backtrace: Vec::new(),
                },
            },
            Fault::OutOfMemory { requested_pages, limit_pages } => Error::MemoryLimit {
                extension,
                limit_pages,
                requested_pages,
                message: format!("{host_call}: the guest's malloc failed: its memory cannot grow"),
            },
        }
    }

    /// The intents of the invocation that just ended.
    pub fn intents(&self) -> impl ExactSizeIterator<Item = Intent<'_, S::Value>> + '_ {
        self.intents[..self.intents_len].iter().map(move |slot| Intent {
            kind: match slot.existing {
                None => IntentKind::Insert,
                Some(index) => IntentKind::Update { existing: &self.values[index] },
            },
            key: &self.keys[slot.key],
            value: &slot.row,
        })
    }

    #[inline]
    fn encode(&self, kind: HandleKind, index: usize) -> u64 {
        abi::encode_handle(kind, self.generation, index as u32)
    }

    #[inline]
    fn decode(&self, handle: u64, kind: HandleKind, argument: &'static str) -> Result<usize, Fault> {
        let len = match kind {
            HandleKind::KeyBuilder => self.keys_len,
            HandleKind::Value => self.values.len(),
            HandleKind::Intent => self.intents_len,
            HandleKind::Key => self.read_keys.len(),
        };
        abi::decode_handle(handle, kind, self.generation, len)
            .map(|index| index as usize)
            .map_err(|fault| Fault::Handle { argument, handle, reason: HandleReason::Handle(fault) })
    }

    /// `hostGetKey`: a new key builder for `storage` and `entity`.
    pub fn get_key(&mut self, storage: &str, entity: &str) -> Result<u64, Fault> {
        self.budget.handle().map_err(Fault::exceeded("storagePtr"))?;
        let index = self.keys_len;
        if index == self.keys.len() {
            self.budget.reserve_one(&mut self.keys).map_err(Fault::exceeded("storagePtr"))?;
            self.keys.push(KeyBuilder::default());
        }
        self.keys[index].try_reset(storage, entity, &mut self.budget).map_err(Fault::exceeded("storagePtr"))?;
        self.keys_len += 1;
        Ok(self.encode(HandleKind::KeyBuilder, index))
    }

    /// A handle to `value`; `argument` is what the guest passed that made it.
    #[inline]
    fn push_value(&mut self, value: S::Value, argument: &'static str) -> Result<u64, Fault> {
        self.budget.handle().map_err(Fault::exceeded(argument))?;
        self.budget.reserve_one(&mut self.values).map_err(Fault::exceeded(argument))?;
        self.values.push(value);
        Ok(self.encode(HandleKind::Value, self.values.len() - 1))
    }

    /// `hostGetValue` (`must`) and `hostQueryValue`: the value at the key,
    /// or [`abi::NOT_FOUND`].
    pub fn query(&mut self, state: &S, key: u64, must: bool) -> Result<u64, Fault> {
        let index = self.decode(key, HandleKind::KeyBuilder, "keyBuilder")?;
        let builder = &self.keys[index];
        match state_call(|| state.query(builder))? {
            Some(value) => self.push_value(value, "keyBuilder"),
            None if must => Err(Fault::NotFound { key: builder.to_string() }),
            None => Ok(abi::NOT_FOUND),
        }
    }

    fn new_intent(&mut self, key: usize, existing: Option<usize>) -> Result<u64, Fault> {
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
        Ok(self.encode(HandleKind::Intent, index))
    }

    /// `hostNewValue`: an insert intent at the key, if the state accepts it.
    pub fn new_value(&mut self, state: &S, key: u64) -> Result<u64, Fault> {
        let index = self.decode(key, HandleKind::KeyBuilder, "keyBuilder")?;
        let builder = &self.keys[index];
        state_call(|| state.check_insert(builder))?;
        self.new_intent(index, None)
    }

    /// `hostUpdateValue`: an update intent of `existing` at the key, if the
    /// state accepts it.
    pub fn update_value(&mut self, state: &S, key: u64, existing: u64) -> Result<u64, Fault> {
        let index = self.decode(key, HandleKind::KeyBuilder, "keyBuilder")?;
        let existing = self.decode(existing, HandleKind::Value, "existingValue")?;
        let (builder, value) = (&self.keys[index], &self.values[existing]);
        state_call(|| state.check_update(builder, value))?;
        self.new_intent(index, Some(existing))
    }

    /// `hostRowWriterPut*`: puts field `name` on the key builder (`kind` 0)
    /// or intent (`kind` 1) `id`.
    pub fn put(&mut self, id: u64, kind: i32, name: &str, value: Scalar<'_>) -> Result<(), Fault> {
        let row = match RowWriterKind::from_u32(kind as u32) {
            Some(RowWriterKind::KeyBuilder) => {
                let index = self.decode(id, HandleKind::KeyBuilder, "id")?;
                self.keys[index].fields_mut()
            }
            Some(RowWriterKind::Intent) => {
                let index = self.decode(id, HandleKind::Intent, "id")?;
                &mut self.intents[index].row
            }
            None => {
                return Err(Fault::Handle {
                    argument: "kind",
                    handle: kind as i64 as u64,
                    reason: HandleReason::RowWriterKind(kind),
                });
            }
        };
        let argument = if matches!(value, Scalar::String(_) | Scalar::Bytes(_) | Scalar::QName(_)) {
            "valuePtr"
        } else {
            "namePtr"
        };
        row.try_put(name, value, &mut self.budget).map_err(Fault::exceeded(argument))
    }

    /// `hostValueAs*`, `hostValueGetAs*` (`of_key` false) and `hostKeyAs*`:
    /// the field of the value or key `handle`, read as `want`.
    pub fn read(
        &mut self,
        handle: u64,
        of_key: bool,
        selector: Selector<'_>,
        want: FieldType,
    ) -> Result<Read<'_>, Fault> {
        if of_key {
            let index = self.decode(handle, HandleKind::Key, "key")?;
            match resolve(&self.read_keys[index], selector, want)? {
                // The ABI has no nested reads of keys, so `want` is never `Value` here.
                Resolved::Nested(_) => Err(Fault::Type {
                    argument: selector.argument(),
                    field: selector.describe(),
                    expected: want.as_str(),
                    found: "value",
                }),
                Resolved::Ready(read) => Ok(read),
            }
        } else {
            let index = self.decode(handle, HandleKind::Value, "value")?;
            // Only a value read nests (the type rules read nested values as
            // values and nothing else as a value), and only it needs the
            // session mutably, for the new handle: deciding on `want` first
            // keeps the borrow of a returned string apart from the push.
            if want == FieldType::Value {
                match resolve(&self.values[index], selector, want)? {
                    Resolved::Nested(nested) => Ok(Read::Value(self.push_value(nested, selector.argument())?)),
                    Resolved::Ready(_) => unreachable!("only nested values read as values"),
                }
            } else {
                match resolve(&self.values[index], selector, want)? {
                    Resolved::Ready(read) => Ok(read),
                    Resolved::Nested(_) => unreachable!("nested values read only as values"),
                }
            }
        }
    }

    /// `hostValueLength`: the number of elements of an array value.
    pub fn value_length(&self, handle: u64) -> Result<i32, Fault> {
        let index = self.decode(handle, HandleKind::Value, "value")?;
        let value = &self.values[index];
        // An array longer than i32::MAX answers i32::MAX: the guest cannot index past it anyway.
        embedder(|| value.len())?.map(|n| i32::try_from(n).unwrap_or(i32::MAX)).ok_or_else(|| Fault::Type {
            argument: "value",
            field: messages::THE_VALUE_ITSELF.into(),
            expected: messages::ARRAY,
            found: messages::OBJECT_OR_SCALAR,
        })
    }

    /// `hostReadValues`, first half: a copy of the key builder to iterate
    /// with (the guest may change the original from its callback).
    pub fn begin_read(&mut self, key: u64) -> Result<Box<KeyBuilder>, Fault> {
        let index = self.decode(key, HandleKind::KeyBuilder, "keyBuilder")?;
        let mut scratch = self.key_scratch.pop().unwrap_or_default();
        let source = &self.keys[index];
        match self.budget.clone_into(&mut *scratch, source, source.heap_bytes(), KeyBuilder::heap_bytes) {
            Ok(()) => Ok(scratch),
            Err(exceeded) => {
                self.key_scratch.push(scratch);
                Err(Fault::Exceeded { argument: "keyBuilder", exceeded })
            }
        }
    }

    /// `hostReadValues`, per match: handles to the record's key and value,
    /// for the guest's `WasmOnReadValue`.
    pub fn read_item(&mut self, key: S::Key, value: S::Value) -> Result<(u64, u64), Fault> {
        self.budget.handle().map_err(Fault::exceeded("keyBuilder"))?;
        self.budget.reserve_one(&mut self.read_keys).map_err(Fault::exceeded("keyBuilder"))?;
        self.read_keys.push(key);
        let key = self.encode(HandleKind::Key, self.read_keys.len() - 1);
        Ok((key, self.push_value(value, "keyBuilder")?))
    }

    /// `hostReadValues`, last: gives the key builder copy back for reuse.
    pub fn end_read(&mut self, scratch: Box<KeyBuilder>) {
        self.key_scratch.push(scratch);
    }

    /// Iterates `state` for `scratch` (from [`Session::begin_read`]):
    /// `each` gets the session and the record's key and value handles per
    /// match, and answers whether to go on; a state error or panic is a
    /// fault.
    pub fn read_state(
        state: &S,
        scratch: &KeyBuilder,
        each: &mut dyn FnMut(S::Key, S::Value) -> ControlFlow<()>,
    ) -> Result<(), Fault> {
        state_call(|| state.read(scratch, each))
    }

    /// Decodes and runs any host call of the ABI table: `args` are the
    /// wasm arguments as raw bits (`f32`/`f64` as their bits), pointers
    /// index `memory`, and `state` is the embedder's state (`None` outside
    /// an invocation). `hostReadValues` returns [`Ret::ReadValues`] for the
    /// caller to iterate; `hostPanic` fails with [`Fault::Panic`].
    #[inline(always)]
    pub fn call<'s>(
        &'s mut self,
        import: &HostImport,
        args: &[u64],
        memory: &[u8],
        state: Option<&S>,
    ) -> Result<Ret<'s>, Fault> {
        use FieldType as F;
        let arg = |i: usize| args.get(i).copied().unwrap_or_default();
        let i32_arg = |i: usize| arg(i) as u32;
        let state = || state.ok_or_else(|| Fault::OutsideInvocation);
        let read = |read: Read<'s>| Ok(Ret::Read(read));
        match import.function {
            HostFunction::GetKey => {
                let storage = guest_text(memory, i32_arg(0), i32_arg(1), "storagePtr", &self.budget)?;
                let entity = guest_text(memory, i32_arg(2), i32_arg(3), "entityPtr", &self.budget)?;
                read(Read::I64(self.get_key(storage, entity)? as i64))
            }
            HostFunction::GetValue => read(Read::I64(self.query(state()?, arg(0), true)? as i64)),
            HostFunction::QueryValue => read(Read::I64(self.query(state()?, arg(0), false)? as i64)),
            HostFunction::ReadValues => {
                state()?;
                Ok(Ret::ReadValues(self.begin_read(arg(0))?))
            }
            HostFunction::NewValue => read(Read::I64(self.new_value(state()?, arg(0))? as i64)),
            HostFunction::UpdateValue => read(Read::I64(self.update_value(state()?, arg(0), arg(1))? as i64)),
            HostFunction::RowWriterPut(put) => {
                let (id, kind) = (arg(0), i32_arg(1) as i32);
                let name = guest_text(memory, i32_arg(2), i32_arg(3), "namePtr", &self.budget)?;
                let value = match put {
                    F::String => Scalar::String(guest_text(memory, i32_arg(4), i32_arg(5), "valuePtr", &self.budget)?),
                    F::Bytes => Scalar::Bytes(guest_bytes(memory, i32_arg(4), i32_arg(5), "valuePtr")?),
                    F::QName => Scalar::QName(QName {
                        pkg: guest_text(memory, i32_arg(4), i32_arg(5), "pkgPtr", &self.budget)?,
                        entity: guest_text(memory, i32_arg(6), i32_arg(7), "entityPtr", &self.budget)?,
                    }),
                    F::Bool => Scalar::Bool(i32_arg(4) != 0),
                    F::Int32 => Scalar::Int32(i32_arg(4) as i32),
                    F::Int64 => Scalar::Int64(arg(4) as i64),
                    F::Float32 => Scalar::Float32(f32::from_bits(i32_arg(4))),
                    F::Float64 => Scalar::Float64(f64::from_bits(arg(4))),
                    other => unreachable!("the ABI has no put for {other:?}"),
                };
                self.put(id, kind, name, value)?;
                Ok(Ret::Unit)
            }
            HostFunction::ValueLength => read(Read::I32(self.value_length(arg(0))?)),
            HostFunction::ValueAs(want) | HostFunction::KeyAs(want) => {
                let of_key = matches!(import.function, HostFunction::KeyAs(_));
                let name = guest_text(memory, i32_arg(1), i32_arg(2), "namePtr", &self.budget)?;
                Ok(Ret::Read(self.read(arg(0), of_key, Selector::Name(name), want)?))
            }
            HostFunction::ValueGetAs(want) => {
                let index = i32_arg(1) as i32 as i64;
                Ok(Ret::Read(self.read(arg(0), false, Selector::Index(index), want)?))
            }
            HostFunction::Panic => {
                let message = guest_bytes(memory, i32_arg(0), i32_arg(1), "msgPtr")?;
                Err(Fault::Panic(panic_message(message)))
            }
        }
    }
}

/// A guest's panic message, lossily decoded and cut at
/// [`MAX_PANIC_MESSAGE`] bytes.
pub fn panic_message(message: &[u8]) -> String {
    let kept = &message[..message.len().min(MAX_PANIC_MESSAGE)];
    let mut text = String::from_utf8_lossy(kept).into_owned();
    if kept.len() < message.len() {
        text.push_str(&format!("… ({} bytes)", message.len()));
    }
    text
}

/// A field read, resolved against the value.
enum Resolved<'v, V> {
    Ready(Read<'v>),
    Nested(V),
}

/// Reads field `selector` of `value` as `want`, checking that it exists and
/// has a readable type (the engine's type rules: [`Field::readable_as`]).
fn resolve<'v, V: Value>(value: &'v V, selector: Selector<'_>, want: FieldType) -> Result<Resolved<'v, V>, Fault> {
    let argument = selector.argument();
    let field = embedder(|| match selector {
        Selector::Name(name) => value.field(name),
        Selector::Index(index) => usize::try_from(index).ok().and_then(|i| value.element(i)),
    })?;
    let Some(field) = field else {
        let mut what = String::new();
        let _ = match selector {
            Selector::Name(name) => render(&mut what, messages::NO_FIELD, &[("name", &excerpt(name))]),
            Selector::Index(index) => render(&mut what, messages::NO_ELEMENT, &[("index", &index)]),
        };
        return Err(Fault::Missing { argument, what });
    };
    let mismatch = |found| Fault::Type { argument, field: selector.describe(), expected: want.as_str(), found };
    field.readable_as(want).map_err(mismatch)?;
    let scalar = match field {
        Field::Value(nested) => return Ok(Resolved::Nested(nested)),
        Field::Scalar(scalar) => scalar,
    };
    Ok(Resolved::Ready(match (scalar, want) {
        (Scalar::Int64(v), FieldType::Int32) => {
            Read::I32(i32::try_from(v).map_err(|_| mismatch(messages::INT64_OUT_OF_INT32_RANGE))?)
        }
        (s, FieldType::Int32) => Read::I32(s.as_i64().unwrap_or_default() as i32),
        (s, FieldType::Int64) => Read::I64(s.as_i64().unwrap_or_default()),
        (s, FieldType::Float32) => Read::F32(s.as_f64().unwrap_or_default() as f32),
        (s, FieldType::Float64) => Read::F64(s.as_f64().unwrap_or_default()),
        (Scalar::Bool(v), _) => Read::I64(v as i64),
        (Scalar::String(s), _) => Read::Bytes(s.as_bytes()),
        (Scalar::Bytes(b), _) => Read::Bytes(b),
        (Scalar::QName(q), FieldType::QNamePkg) => Read::Bytes(q.pkg.as_bytes()),
        (Scalar::QName(q), _) => Read::Bytes(q.entity.as_bytes()),
        (s, want) => unreachable!("readable_as admits no {} read as {}", s.type_name(), want.as_str()),
    }))
}

impl From<HandleFault> for HandleReason {
    fn from(fault: HandleFault) -> Self {
        HandleReason::Handle(fault)
    }
}
