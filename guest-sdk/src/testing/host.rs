//! The mock host: the same safe functions as the FFI wrappers of
//! `crate::ffi`, answered from a [`JsonState`] the way the engine answers
//! them (same lookups, type rules and errors).
//!
//! One session per [`run`], in a thread-local. A host call that fails (not
//! found, missing field, wrong type, state error) unwinds out of the
//! extension with a [`HostFailure`] payload, as a failing host call traps a
//! wasm guest; [`run`] turns it, or a guest panic, into the error.
//!
//! Strings and bytes handed to the extension are leaked (`&'static`), the
//! native counterpart of the guest's exchange buffer: tests are short-lived.

use std::boxed::Box;
use std::cell::{Cell, RefCell};
use std::format;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::thread_local;
use std::vec::Vec;

use extwasm_abi::{FieldType, GENERATION_MASK, HandleFault, HandleKind as Kind, RowWriterKind, messages};
use extwasm_engine::{
    Field, Intent, IntentKind, JsonState, JsonValue, KeyBuilder, QName, Row, Scalar, Site, State, StateError, Value,
};
use serde_json::Value as Json;

use super::MockError;
use crate::api::Ext;
use crate::ffi::{self, Declared};
use crate::report::{PanicText, write_panic};

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

struct IntentSlot {
    key: usize,
    existing: Option<usize>,
    row: Row,
}

/// The host side of one invocation.
struct Session {
    state: Arc<JsonState>,
    label: String,
    generation: u32,
    keys: Vec<KeyBuilder>,
    values: Vec<JsonValue>,
    read_keys: Vec<JsonValue>,
    intents: Vec<IntentSlot>,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
    /// Whether this thread is inside [`run`] (read by the panic hook).
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
    /// The text of the last guest panic on this thread, as the hook saw it.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Generation of the next session, so that a handle kept from an earlier
/// run is recognised as stale (as the engine does).
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// The payload a failing host call unwinds with.
struct HostFailure(MockError);

/// Runs `body` (one invocation) in a new session over `state`; returns the
/// intents as JSON or the error.
pub(crate) fn run(state: Arc<JsonState>, label: String, body: impl FnOnce()) -> Result<Vec<Json>, MockError> {
    install_panic_hook();
    let session = Session {
        state,
        label: label.clone(),
        generation: GENERATION.fetch_add(1, Relaxed) & GENERATION_MASK,
        keys: Vec::new(),
        values: Vec::new(),
        read_keys: Vec::new(),
        intents: Vec::new(),
    };
    let nested = SESSION.with(|s| s.borrow_mut().replace(session)).is_some();
    assert!(!nested, "MockHost::run was called inside MockHost::run");
    IN_RUN.with(|f| f.set(true));
    PANIC.with(|p| p.borrow_mut().take());
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    IN_RUN.with(|f| f.set(false));
    let session = SESSION.with(|s| s.borrow_mut().take()).expect("the session of this run");
    match outcome {
        Ok(()) => Ok(session.intents_json()),
        Err(payload) => Err(match payload.downcast::<HostFailure>() {
            Ok(failure) => failure.0,
            Err(payload) => {
                let message = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| {
                    let text = payload.downcast_ref::<&str>().copied();
                    text.or(payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("Box<dyn Any>").to_string()
                });
                MockError::GuestPanic { extension: label, message, backtrace: Vec::new() }
            }
        }),
    }
}

/// Makes panics inside [`run`] silent and records their text (message and
/// location, as the wasm panic handler sends it); other panics go to the
/// hook that was there before.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(Cell::get) {
                return previous(info);
            }
            if info.payload().is::<HostFailure>() {
                return;
            }
            let mut text = PanicText::new();
            write_panic(&mut text, info.payload_as_str().unwrap_or("Box<dyn Any>"), info.location());
            let text = text.as_str().to_string();
            PANIC.with(|p| {
                if let Ok(mut slot) = p.try_borrow_mut() {
                    *slot = Some(text);
                }
            });
        }));
    });
}

impl Session {
    fn intents_json(&self) -> Vec<Json> {
        self.intents
            .iter()
            .map(|slot| {
                JsonState::intent_json(&Intent {
                    kind: match slot.existing {
                        None => IntentKind::Insert,
                        Some(index) => IntentKind::Update { existing: &self.values[index] },
                    },
                    key: &self.keys[slot.key],
                    value: &slot.row,
                })
            })
            .collect()
    }

    fn encode(&self, kind: Kind, index: usize) -> u64 {
        extwasm_abi::encode_handle(kind, self.generation, index as u32)
    }

    fn decode(&self, handle: u64, want: Kind, argument: &'static str) -> Result<usize, Fault> {
        let len = match want {
            Kind::KeyBuilder => self.keys.len(),
            Kind::Value => self.values.len(),
            Kind::Intent => self.intents.len(),
            Kind::Key => self.read_keys.len(),
        };
        extwasm_abi::decode_handle(handle, want, self.generation, len)
            .map(|index| index as usize)
            .map_err(|fault| Fault::Handle { argument, handle, reason: handle_reason(fault) })
    }

    fn push_value(&mut self, value: JsonValue) -> u64 {
        self.values.push(value);
        self.encode(Kind::Value, self.values.len() - 1)
    }
}

/// Why a handle is invalid, in the words of the abi's templates (as the
/// engine says it: a handle of another kind is not "not a handle").
fn handle_reason(fault: HandleFault) -> String {
    match fault {
        HandleFault::NotAHandle { expected } => messages::NOT_A_HANDLE.replace("{expected}", expected.with_article()),
        HandleFault::WrongKind { found, expected } => {
            messages::WRONG_KIND.replace("{found}", found.with_article()).replace("{expected}", expected.with_article())
        }
        HandleFault::Stale { kind } => messages::STALE_HANDLE.replace("{kind}", kind.name()),
        HandleFault::Forged { kind, index } => {
            messages::FORGED_HANDLE.replace("{kind}", kind.name()).replace("{index}", &index.to_string())
        }
    }
}

/// Why a host call failed (the engine's faults, minus the wasm-only ones).
enum Fault {
    Handle { argument: &'static str, handle: u64, reason: String },
    Type { argument: &'static str, field: String, expected: &'static str, found: &'static str },
    Missing { argument: &'static str, what: String },
    NotFound { key: String },
    State(StateError),
}

impl Fault {
    fn into_error(self, label: String, call: Declared) -> MockError {
        let site = |argument| Site { extension: label, host_call: call.name, argument };
        match self {
            Fault::Handle { argument, handle, reason } => {
                MockError::InvalidHandle { site: site(argument), handle, reason }
            }
            Fault::Type { argument, field, expected, found } => {
                MockError::TypeMismatch { site: site(argument), field, expected, found }
            }
            Fault::Missing { argument, what } => MockError::MissingField { site: site(argument), what },
            Fault::NotFound { key } => MockError::NotFound { site: site("keyBuilder"), key },
            Fault::State(source) => MockError::State { site: site("keyBuilder"), source },
        }
    }
}

/// Runs one host call on this thread's session; a fault unwinds out of the
/// extension with the error.
fn call<R>(declared: Declared, body: impl FnOnce(&mut Session) -> Result<R, Fault>) -> R {
    let outcome = SESSION.with(|s| {
        let mut session = s.borrow_mut();
        let session = session.as_mut().expect(
            "extwasm-guest-sdk: no MockHost is running on this thread (natively, extensions run inside MockHost::run)",
        );
        body(session).map_err(|fault| fault.into_error(session.label.clone(), declared))
    });
    match outcome {
        Ok(result) => result,
        Err(error) => panic::panic_any(HostFailure(error)),
    }
}

/// Nothing to reset natively: each run has its own session.
pub(crate) fn begin_invocation() {}

// ---------------------------------------------------------------------------
// Keys, values, intents
// ---------------------------------------------------------------------------

pub(crate) fn get_key(storage: &str, entity: &str) -> u64 {
    call(ffi::GET_KEY, |s| {
        s.keys.push(KeyBuilder::new(storage, entity));
        Ok(s.encode(Kind::KeyBuilder, s.keys.len() - 1))
    })
}

fn query(declared: Declared, key_builder: u64, must: bool) -> Option<u64> {
    call(declared, |s| {
        let index = s.decode(key_builder, Kind::KeyBuilder, "keyBuilder")?;
        match s.state.query(&s.keys[index]).map_err(Fault::State)? {
            Some(value) => Ok(Some(s.push_value(value))),
            None if must => Err(Fault::NotFound { key: s.keys[index].to_string() }),
            None => Ok(None),
        }
    })
}

pub(crate) fn get_value(key_builder: u64) -> u64 {
    query(ffi::GET_VALUE, key_builder, true).expect("must-get returns a value or fails")
}

pub(crate) fn query_value(key_builder: u64) -> Option<u64> {
    query(ffi::QUERY_VALUE, key_builder, false)
}

pub(crate) fn read_values(key_builder: u64, each: &mut dyn FnMut(u64, u64)) {
    // The key builder is copied: the callback may change it while the state iterates.
    let (state, key) = call(ffi::READ_VALUES, |s| {
        let index = s.decode(key_builder, Kind::KeyBuilder, "keyBuilder")?;
        Ok((s.state.clone(), s.keys[index].clone()))
    });
    let result = state.read(&key, &mut |record_key, value| {
        let (key, value) = call(ffi::READ_VALUES, |s| {
            s.read_keys.push(record_key);
            let key = s.encode(Kind::Key, s.read_keys.len() - 1);
            Ok((key, s.push_value(value)))
        });
        each(key, value);
        ControlFlow::Continue(())
    });
    if let Err(error) = result {
        call::<()>(ffi::READ_VALUES, |_| Err(Fault::State(error)));
    }
}

pub(crate) fn new_value(key_builder: u64) -> u64 {
    call(ffi::NEW_VALUE, |s| {
        let key = s.decode(key_builder, Kind::KeyBuilder, "keyBuilder")?;
        // As the engine: the state may refuse the write (a failing storage does).
        s.state.check_insert(&s.keys[key]).map_err(Fault::State)?;
        s.intents.push(IntentSlot { key, existing: None, row: Row::default() });
        Ok(s.encode(Kind::Intent, s.intents.len() - 1))
    })
}

pub(crate) fn update_value(key_builder: u64, existing: u64) -> u64 {
    call(ffi::UPDATE_VALUE, |s| {
        let key = s.decode(key_builder, Kind::KeyBuilder, "keyBuilder")?;
        let existing = s.decode(existing, Kind::Value, "existingValue")?;
        s.state.check_update(&s.keys[key], &s.values[existing]).map_err(Fault::State)?;
        s.intents.push(IntentSlot { key, existing: Some(existing), row: Row::default() });
        Ok(s.encode(Kind::Intent, s.intents.len() - 1))
    })
}

// ---------------------------------------------------------------------------
// Row writers
// ---------------------------------------------------------------------------

fn put(declared: Declared, id: u64, kind: RowWriterKind, name: &str, value: Scalar<'_>) {
    call(declared, |s| {
        match kind {
            RowWriterKind::KeyBuilder => {
                let index = s.decode(id, Kind::KeyBuilder, "id")?;
                s.keys[index].put(name, value);
            }
            RowWriterKind::Intent => {
                let index = s.decode(id, Kind::Intent, "id")?;
                s.intents[index].row.put(name, value);
            }
        }
        Ok(())
    })
}

pub(crate) fn put_string(id: u64, kind: RowWriterKind, name: &str, value: &str) {
    put(ffi::PUT_STRING, id, kind, name, Scalar::String(value));
}

pub(crate) fn put_bytes(id: u64, kind: RowWriterKind, name: &str, value: &[u8]) {
    put(ffi::PUT_BYTES, id, kind, name, Scalar::Bytes(value));
}

pub(crate) fn put_qname(id: u64, kind: RowWriterKind, name: &str, pkg: &str, entity: &str) {
    put(ffi::PUT_QNAME, id, kind, name, Scalar::QName(QName { pkg, entity }));
}

pub(crate) fn put_bool(id: u64, kind: RowWriterKind, name: &str, value: bool) {
    put(ffi::PUT_BOOL, id, kind, name, Scalar::Bool(value));
}

pub(crate) fn put_int32(id: u64, kind: RowWriterKind, name: &str, value: i32) {
    put(ffi::PUT_INT32, id, kind, name, Scalar::Int32(value));
}

pub(crate) fn put_int64(id: u64, kind: RowWriterKind, name: &str, value: i64) {
    put(ffi::PUT_INT64, id, kind, name, Scalar::Int64(value));
}

pub(crate) fn put_float32(id: u64, kind: RowWriterKind, name: &str, value: f32) {
    put(ffi::PUT_FLOAT32, id, kind, name, Scalar::Float32(value));
}

pub(crate) fn put_float64(id: u64, kind: RowWriterKind, name: &str, value: f64) {
    put(ffi::PUT_FLOAT64, id, kind, name, Scalar::Float64(value));
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

/// How a read names its field.
#[derive(Clone, Copy)]
enum Selector<'a> {
    Name(&'a str),
    Index(usize),
}

impl Selector<'_> {
    fn argument(self) -> &'static str {
        match self {
            Selector::Name(_) => "namePtr",
            Selector::Index(_) => "index",
        }
    }

    /// The field name, or `[index]`, for messages.
    fn describe(self) -> String {
        match self {
            Selector::Name(name) => name.to_string(),
            Selector::Index(index) => format!("[{index}]"),
        }
    }
}

/// A read field, checked against the type asked for.
enum Read<'v> {
    Scalar(Scalar<'v>),
    Nested(JsonValue),
}

/// Field `selector` of `value`, checked to be readable as `want`.
fn resolve<'v>(value: &'v JsonValue, selector: Selector<'_>, want: FieldType) -> Result<Read<'v>, Fault> {
    let argument = selector.argument();
    let field = match selector {
        Selector::Name(name) => value.field(name),
        Selector::Index(index) => value.element(index),
    };
    let Some(field) = field else {
        let what = match selector {
            // Quoted as it is, as the template says (not escaped).
            Selector::Name(name) => messages::NO_FIELD.replace("{name}", name),
            Selector::Index(index) => format!("no element {index}: out of range or not an array"),
        };
        return Err(Fault::Missing { argument, what });
    };
    field.readable_as(want).map_err(|found| Fault::Type {
        argument,
        field: selector.describe(),
        expected: want.as_str(),
        found,
    })?;
    Ok(match field {
        Field::Value(nested) => Read::Nested(nested),
        Field::Scalar(scalar) => Read::Scalar(scalar),
    })
}

/// Reads a field of a value (`of_key == false`) or of a read callback's key
/// and converts it with `convert`, inside the session.
fn read<R>(
    declared: Declared,
    handle: u64,
    of_key: bool,
    selector: Selector<'_>,
    want: FieldType,
    convert: impl FnOnce(&mut Session, Read<'_>) -> Result<R, Fault>,
) -> R {
    call(declared, |s| {
        let target = if of_key {
            s.read_keys[s.decode(handle, Kind::Key, "key")?].clone()
        } else {
            s.values[s.decode(handle, Kind::Value, "value")?].clone()
        };
        let read = resolve(&target, selector, want)?;
        if of_key && matches!(read, Read::Nested(_)) {
            // The ABI has no nested reads of keys.
            return Err(Fault::Type {
                argument: selector.argument(),
                field: selector.describe(),
                expected: want.as_str(),
                found: "value",
            });
        }
        convert(s, read)
    })
}

/// The numeric conversions of the engine, after [`readable`] said yes.
fn scalar_of(read: Read<'_>) -> Scalar<'_> {
    match read {
        Read::Scalar(scalar) => scalar,
        Read::Nested(_) => unreachable!("readable_as admits nested values only as values"),
    }
}

fn as_i64(scalar: Scalar<'_>) -> i64 {
    match scalar {
        Scalar::Int32(v) => v as i64,
        Scalar::Int64(v) => v,
        _ => 0,
    }
}

fn as_f64(scalar: Scalar<'_>) -> f64 {
    match scalar {
        Scalar::Int32(v) => v as f64,
        Scalar::Int64(v) => v as f64,
        Scalar::Float32(v) => v as f64,
        Scalar::Float64(v) => v,
        _ => 0.0,
    }
}

/// Leaks a copy of `bytes`: the native stand-in for the exchange buffer.
fn leak_bytes(bytes: &[u8]) -> &'static [u8] {
    Box::leak(bytes.into())
}

fn leak_str(text: &str) -> &'static str {
    Box::leak(text.into())
}

fn read_i32(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>) -> i32 {
    read(declared, handle, of_key, selector, FieldType::Int32, |_, read| match scalar_of(read) {
        Scalar::Int64(v) => i32::try_from(v).map_err(|_| Fault::Type {
            argument: selector.argument(),
            field: selector.describe(),
            expected: FieldType::Int32.as_str(),
            found: "int64 out of int32 range",
        }),
        scalar => Ok(as_i64(scalar) as i32),
    })
}

fn read_i64(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>) -> i64 {
    read(declared, handle, of_key, selector, FieldType::Int64, |_, read| Ok(as_i64(scalar_of(read))))
}

fn read_f32(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>) -> f32 {
    read(declared, handle, of_key, selector, FieldType::Float32, |_, read| Ok(as_f64(scalar_of(read)) as f32))
}

fn read_f64(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>) -> f64 {
    read(declared, handle, of_key, selector, FieldType::Float64, |_, read| Ok(as_f64(scalar_of(read))))
}

fn read_bool(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>) -> bool {
    read(declared, handle, of_key, selector, FieldType::Bool, |_, read| {
        Ok(matches!(scalar_of(read), Scalar::Bool(true)))
    })
}

fn read_bytes(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>, want: FieldType) -> &'static [u8] {
    read(declared, handle, of_key, selector, want, |_, read| {
        Ok(leak_bytes(match (scalar_of(read), want) {
            (Scalar::String(text), _) => text.as_bytes(),
            (Scalar::Bytes(bytes), _) => bytes,
            (Scalar::QName(q), FieldType::QNamePkg) => q.pkg.as_bytes(),
            (Scalar::QName(q), _) => q.entity.as_bytes(),
            (scalar, want) => unreachable!("readable_as admits no {} read as {}", scalar.type_name(), want.as_str()),
        }))
    })
}

fn read_str(declared: Declared, handle: u64, of_key: bool, selector: Selector<'_>, want: FieldType) -> &'static str {
    read(declared, handle, of_key, selector, want, |_, read| {
        Ok(leak_str(match (scalar_of(read), want) {
            (Scalar::String(text), _) => text,
            (Scalar::QName(q), FieldType::QNamePkg) => q.pkg,
            (Scalar::QName(q), _) => q.entity,
            (scalar, want) => unreachable!("readable_as admits no {} read as {}", scalar.type_name(), want.as_str()),
        }))
    })
}

fn read_value(declared: Declared, handle: u64, selector: Selector<'_>) -> u64 {
    read(declared, handle, false, selector, FieldType::Value, |s, read| match read {
        Read::Nested(nested) => Ok(s.push_value(nested)),
        Read::Scalar(_) => unreachable!("readable_as admits only nested values as values"),
    })
}

pub(crate) fn value_len(value: u64) -> usize {
    call(ffi::VALUE_LENGTH, |s| {
        let index = s.decode(value, Kind::Value, "value")?;
        s.values[index].len().ok_or(Fault::Type {
            argument: "value",
            field: "(the value itself)".into(),
            expected: "array",
            found: "object or scalar",
        })
    })
}

pub(crate) fn value_as_string<'i>(_: Ext<'i>, value: u64, name: &str) -> &'i str {
    read_str(ffi::VALUE_AS_STRING, value, false, Selector::Name(name), FieldType::String)
}

pub(crate) fn value_as_bytes<'i>(_: Ext<'i>, value: u64, name: &str) -> &'i [u8] {
    read_bytes(ffi::VALUE_AS_BYTES, value, false, Selector::Name(name), FieldType::Bytes)
}

pub(crate) fn value_as_int32(value: u64, name: &str) -> i32 {
    read_i32(ffi::VALUE_AS_INT32, value, false, Selector::Name(name))
}

pub(crate) fn value_as_int64(value: u64, name: &str) -> i64 {
    read_i64(ffi::VALUE_AS_INT64, value, false, Selector::Name(name))
}

pub(crate) fn value_as_float32(value: u64, name: &str) -> f32 {
    read_f32(ffi::VALUE_AS_FLOAT32, value, false, Selector::Name(name))
}

pub(crate) fn value_as_float64(value: u64, name: &str) -> f64 {
    read_f64(ffi::VALUE_AS_FLOAT64, value, false, Selector::Name(name))
}

pub(crate) fn value_as_bool(value: u64, name: &str) -> bool {
    read_bool(ffi::VALUE_AS_BOOL, value, false, Selector::Name(name))
}

pub(crate) fn value_as_qname_pkg<'i>(_: Ext<'i>, value: u64, name: &str) -> &'i str {
    read_str(ffi::VALUE_AS_QNAME_PKG, value, false, Selector::Name(name), FieldType::QNamePkg)
}

pub(crate) fn value_as_qname_entity<'i>(_: Ext<'i>, value: u64, name: &str) -> &'i str {
    read_str(ffi::VALUE_AS_QNAME_ENTITY, value, false, Selector::Name(name), FieldType::QNameEntity)
}

pub(crate) fn value_as_value(value: u64, name: &str) -> u64 {
    read_value(ffi::VALUE_AS_VALUE, value, Selector::Name(name))
}

pub(crate) fn value_get_as_string<'i>(_: Ext<'i>, value: u64, index: usize) -> &'i str {
    read_str(ffi::VALUE_GET_AS_STRING, value, false, Selector::Index(index), FieldType::String)
}

pub(crate) fn value_get_as_bytes<'i>(_: Ext<'i>, value: u64, index: usize) -> &'i [u8] {
    read_bytes(ffi::VALUE_GET_AS_BYTES, value, false, Selector::Index(index), FieldType::Bytes)
}

pub(crate) fn value_get_as_qname_pkg<'i>(_: Ext<'i>, value: u64, index: usize) -> &'i str {
    read_str(ffi::VALUE_GET_AS_QNAME_PKG, value, false, Selector::Index(index), FieldType::QNamePkg)
}

pub(crate) fn value_get_as_qname_entity<'i>(_: Ext<'i>, value: u64, index: usize) -> &'i str {
    read_str(ffi::VALUE_GET_AS_QNAME_ENTITY, value, false, Selector::Index(index), FieldType::QNameEntity)
}

pub(crate) fn value_get_as_int32(value: u64, index: usize) -> i32 {
    read_i32(ffi::VALUE_GET_AS_INT32, value, false, Selector::Index(index))
}

pub(crate) fn value_get_as_int64(value: u64, index: usize) -> i64 {
    read_i64(ffi::VALUE_GET_AS_INT64, value, false, Selector::Index(index))
}

pub(crate) fn value_get_as_bool(value: u64, index: usize) -> bool {
    read_bool(ffi::VALUE_GET_AS_BOOL, value, false, Selector::Index(index))
}

pub(crate) fn value_get_as_float32(value: u64, index: usize) -> f32 {
    read_f32(ffi::VALUE_GET_AS_FLOAT32, value, false, Selector::Index(index))
}

pub(crate) fn value_get_as_float64(value: u64, index: usize) -> f64 {
    read_f64(ffi::VALUE_GET_AS_FLOAT64, value, false, Selector::Index(index))
}

pub(crate) fn value_get_as_value(value: u64, index: usize) -> u64 {
    read_value(ffi::VALUE_GET_AS_VALUE, value, Selector::Index(index))
}

pub(crate) fn key_as_string<'i>(_: Ext<'i>, key: u64, name: &str) -> &'i str {
    read_str(ffi::KEY_AS_STRING, key, true, Selector::Name(name), FieldType::String)
}

pub(crate) fn key_as_bytes<'i>(_: Ext<'i>, key: u64, name: &str) -> &'i [u8] {
    read_bytes(ffi::KEY_AS_BYTES, key, true, Selector::Name(name), FieldType::Bytes)
}

pub(crate) fn key_as_qname_pkg<'i>(_: Ext<'i>, key: u64, name: &str) -> &'i str {
    read_str(ffi::KEY_AS_QNAME_PKG, key, true, Selector::Name(name), FieldType::QNamePkg)
}

pub(crate) fn key_as_qname_entity<'i>(_: Ext<'i>, key: u64, name: &str) -> &'i str {
    read_str(ffi::KEY_AS_QNAME_ENTITY, key, true, Selector::Name(name), FieldType::QNameEntity)
}

pub(crate) fn key_as_int32(key: u64, name: &str) -> i32 {
    read_i32(ffi::KEY_AS_INT32, key, true, Selector::Name(name))
}

pub(crate) fn key_as_int64(key: u64, name: &str) -> i64 {
    read_i64(ffi::KEY_AS_INT64, key, true, Selector::Name(name))
}

pub(crate) fn key_as_bool(key: u64, name: &str) -> bool {
    read_bool(ffi::KEY_AS_BOOL, key, true, Selector::Name(name))
}

pub(crate) fn key_as_float32(key: u64, name: &str) -> f32 {
    read_f32(ffi::KEY_AS_FLOAT32, key, true, Selector::Name(name))
}

pub(crate) fn key_as_float64(key: u64, name: &str) -> f64 {
    read_f64(ffi::KEY_AS_FLOAT64, key, true, Selector::Name(name))
}
