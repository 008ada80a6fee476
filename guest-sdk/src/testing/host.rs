//! The mock host: the same safe functions as the FFI wrappers of
//! `crate::ffi`, answered by the host core the engine runs
//! ([`extwasm_host::Session`]) over a [`JsonState`]: the same handle tables,
//! lookups, type rules, budgets and errors, not a copy of them.
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
use std::panic::{self, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::thread_local;
use std::vec;
use std::vec::Vec;

use extwasm_abi::{self as abi, FieldType, RowWriterKind};
use extwasm_host::{Error as MockError, Fault, Label, Read, Selector, Session};
use extwasm_state::budget::{Budget, Clock};
use extwasm_state::{JsonState, QName, Scalar};
use serde_json::Value as Json;

use crate::api::Ext;
use crate::ffi::{self, Declared};
use crate::report::{PanicText, write_panic};

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

/// One run: the host core's session, the state it answers from, and what
/// the extension logged.
struct Mock {
    session: Session<JsonState>,
    state: Arc<JsonState>,
    output: String,
}

thread_local! {
    static MOCK: RefCell<Option<Mock>> = const { RefCell::new(None) };
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

/// The host budget of a run: the engine's defaults (a budget of the default
/// memory limit, one handle per 256 bytes of it), so an extension that is
/// too much for the engine is too much natively too.
fn default_budget() -> Budget {
    let bytes = abi::DEFAULT_MEMORY_LIMIT_PAGES as usize * abi::WASM_PAGE_SIZE as usize;
    Budget::new(bytes, bytes / 256, Clock::default())
}

/// Runs `body` (one invocation) in a new session over `state`; returns the
/// intents as JSON or the error, and what the extension logged. `label` is
/// `mock/<name>`.
pub(crate) fn run(state: Arc<JsonState>, label: String, body: impl FnOnce()) -> (Result<Vec<Json>, MockError>, String) {
    install_panic_hook();
    let (package, extension) = label.split_once('/').unwrap_or(("mock", &label));
    let label = Label::new(package.into(), vec![Box::<str>::from(extension)].into());
    let generation = GENERATION.fetch_add(1, Relaxed);
    let mut session = Session::new(label, default_budget(), None).with_generation(generation);
    session.begin(Some(0), None);
    let nested = MOCK.with(|m| m.borrow_mut().replace(Mock { session, state, output: String::new() })).is_some();
    assert!(!nested, "MockHost::run was called inside MockHost::run");
    IN_RUN.with(|f| f.set(true));
    PANIC.with(|p| p.borrow_mut().take());
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    IN_RUN.with(|f| f.set(false));
    let mock = MOCK.with(|m| m.borrow_mut().take()).expect("the session of this run");
    let result = match outcome {
        Ok(()) => Ok(mock.session.intents().map(|intent| JsonState::intent_json(&intent)).collect()),
        Err(payload) => Err(match payload.downcast::<HostFailure>() {
            Ok(failure) => failure.0,
            Err(payload) => {
                let message = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| {
                    let text = payload.downcast_ref::<&str>().copied();
                    text.or(payload.downcast_ref::<String>().map(String::as_str)).unwrap_or("Box<dyn Any>").to_string()
                });
                MockError::GuestPanic { extension: mock.session.label(), message, backtrace: Vec::new() }
            }
        }),
    };
    (result, mock.output)
}

/// A log line (see `crate::log!`): into the running mock's output, or to
/// stderr when no mock runs on this thread.
pub(crate) fn log(args: core::fmt::Arguments<'_>) {
    let line = std::format!("{args}\n");
    let captured = MOCK.with(|m| match m.try_borrow_mut().as_deref_mut() {
        Ok(Some(mock)) => {
            mock.output.push_str(&line);
            true
        }
        _ => false,
    });
    if !captured {
        std::eprint!("{line}");
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

/// Runs one host call on this thread's session; a fault unwinds out of the
/// extension with the error.
fn call<R>(declared: Declared, body: impl FnOnce(&mut Session<JsonState>, &JsonState) -> Result<R, Fault>) -> R {
    let outcome = MOCK.with(|m| {
        let mut mock = m.borrow_mut();
        let mock = mock.as_mut().expect(
            "extwasm-guest-sdk: no MockHost is running on this thread (natively, extensions run inside MockHost::run)",
        );
        let state = mock.state.clone();
        body(&mut mock.session, &state).map_err(|fault| mock.session.error(declared.name, fault))
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
    call(ffi::GET_KEY, |s, _| s.get_key(storage, entity))
}

pub(crate) fn get_value(key_builder: u64) -> u64 {
    call(ffi::GET_VALUE, |s, state| s.query(state, key_builder, true))
}

pub(crate) fn query_value(key_builder: u64) -> Option<u64> {
    let value = call(ffi::QUERY_VALUE, |s, state| s.query(state, key_builder, false));
    (value != abi::NOT_FOUND).then_some(value)
}

pub(crate) fn read_values(key_builder: u64, each: &mut dyn FnMut(u64, u64)) {
    // The key builder is copied: the callback may change it while the state iterates.
    let scratch = call(ffi::READ_VALUES, |s, _| s.begin_read(key_builder));
    let state = MOCK.with(|m| m.borrow().as_ref().map(|m| m.state.clone())).expect("the session of this run");
    let mut failure = None;
    let mut unwinding = None;
    let result = Session::<JsonState>::read_state(&state, &scratch, &mut |record_key, value| {
        let (key, value) = match MOCK.with(|m| {
            let mut mock = m.borrow_mut();
            let mock = mock.as_mut().expect("the session of this run");
            mock.session.read_item(record_key, value).map_err(|fault| mock.session.error(ffi::READ_VALUES.name, fault))
        }) {
            Ok(handles) => handles,
            Err(error) => {
                failure = Some(error);
                return std::ops::ControlFlow::Break(());
            }
        };
        // The extension's own failure (a panic, a failing host call) unwinds
        // through the state's iteration as it would through wasm: catch it
        // here, so the state is not blamed, and go on unwinding below.
        match panic::catch_unwind(AssertUnwindSafe(|| each(key, value))) {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(payload) => {
                unwinding = Some(payload);
                std::ops::ControlFlow::Break(())
            }
        }
    });
    MOCK.with(|m| {
        if let Some(mock) = m.borrow_mut().as_mut() {
            mock.session.end_read(scratch);
        }
    });
    if let Some(payload) = unwinding {
        panic::resume_unwind(payload);
    }
    if let Some(error) = failure {
        panic::panic_any(HostFailure(error));
    }
    if let Err(fault) = result {
        call::<()>(ffi::READ_VALUES, |_, _| Err(fault));
    }
}

pub(crate) fn new_value(key_builder: u64) -> u64 {
    call(ffi::NEW_VALUE, |s, state| s.new_value(state, key_builder))
}

pub(crate) fn update_value(key_builder: u64, existing: u64) -> u64 {
    call(ffi::UPDATE_VALUE, |s, state| s.update_value(state, key_builder, existing))
}

// ---------------------------------------------------------------------------
// Row writers
// ---------------------------------------------------------------------------

fn put(declared: Declared, id: u64, kind: RowWriterKind, name: &str, value: Scalar<'_>) {
    call(declared, |s, _| s.put(id, kind as i32, name, value));
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

/// Reads a field of a value (`of_key == false`) or of a read callback's key
/// as `want`, and converts it with `convert` (bytes are leaked: the native
/// stand-in for the exchange buffer).
fn read<R>(
    declared: Declared,
    handle: u64,
    of_key: bool,
    selector: Selector<'_>,
    want: FieldType,
    convert: impl FnOnce(Read<'_>) -> R,
) -> R {
    call(declared, |s, _| s.read(handle, of_key, selector, want).map(convert))
}

fn by_index(index: usize) -> Selector<'static> {
    Selector::Index(i64::try_from(index).unwrap_or(i64::MAX))
}

fn leak_bytes(read: Read<'_>) -> &'static [u8] {
    match read {
        Read::Bytes(bytes) => Box::leak(bytes.into()),
        other => unreachable!("a bytes read returns bytes, not {other:?}"),
    }
}

fn leak_str(read: Read<'_>) -> &'static str {
    // Strings and the halves of qualified names come from `&str`s of the state.
    std::str::from_utf8(leak_bytes(read)).unwrap_or_default()
}

fn read_i32(read: Read<'_>) -> i32 {
    match read {
        Read::I32(v) => v,
        other => unreachable!("an int32 read returns an i32, not {other:?}"),
    }
}

fn read_i64(read: Read<'_>) -> i64 {
    match read {
        Read::I64(v) => v,
        other => unreachable!("an int64 or bool read returns an i64, not {other:?}"),
    }
}

fn read_f32(read: Read<'_>) -> f32 {
    match read {
        Read::F32(v) => v,
        other => unreachable!("a float32 read returns an f32, not {other:?}"),
    }
}

fn read_f64(read: Read<'_>) -> f64 {
    match read {
        Read::F64(v) => v,
        other => unreachable!("a float64 read returns an f64, not {other:?}"),
    }
}

fn read_value(read: Read<'_>) -> u64 {
    match read {
        Read::Value(handle) => handle,
        other => unreachable!("a value read returns a handle, not {other:?}"),
    }
}

pub(crate) fn value_len(value: u64) -> usize {
    call(ffi::VALUE_LENGTH, |s, _| s.value_length(value)) as usize
}

macro_rules! reads {
    ($($name:ident($declared:ident, $arg:ident: $arg_ty:ty, $selector:expr, $of_key:expr, $want:expr) -> $ret:ty = $convert:expr;)*) => {
        $(
            pub(crate) fn $name(handle: u64, $arg: $arg_ty) -> $ret {
                read(ffi::$declared, handle, $of_key, $selector, $want, $convert)
            }
        )*
    };
}

macro_rules! borrowed_reads {
    ($($name:ident($declared:ident, $arg:ident: $arg_ty:ty, $selector:expr, $of_key:expr, $want:expr) -> $ret:ty = $convert:expr;)*) => {
        $(
            pub(crate) fn $name<'i>(_: Ext<'i>, handle: u64, $arg: $arg_ty) -> &'i $ret {
                read(ffi::$declared, handle, $of_key, $selector, $want, $convert)
            }
        )*
    };
}

borrowed_reads! {
    value_as_string(VALUE_AS_STRING, name: &str, Selector::Name(name), false, FieldType::String) -> str = leak_str;
    value_as_bytes(VALUE_AS_BYTES, name: &str, Selector::Name(name), false, FieldType::Bytes) -> [u8] = leak_bytes;
    value_as_qname_pkg(VALUE_AS_QNAME_PKG, name: &str, Selector::Name(name), false, FieldType::QNamePkg) -> str = leak_str;
    value_as_qname_entity(VALUE_AS_QNAME_ENTITY, name: &str, Selector::Name(name), false, FieldType::QNameEntity) -> str = leak_str;
    value_get_as_string(VALUE_GET_AS_STRING, index: usize, by_index(index), false, FieldType::String) -> str = leak_str;
    value_get_as_bytes(VALUE_GET_AS_BYTES, index: usize, by_index(index), false, FieldType::Bytes) -> [u8] = leak_bytes;
    value_get_as_qname_pkg(VALUE_GET_AS_QNAME_PKG, index: usize, by_index(index), false, FieldType::QNamePkg) -> str = leak_str;
    value_get_as_qname_entity(VALUE_GET_AS_QNAME_ENTITY, index: usize, by_index(index), false, FieldType::QNameEntity) -> str = leak_str;
    key_as_string(KEY_AS_STRING, name: &str, Selector::Name(name), true, FieldType::String) -> str = leak_str;
    key_as_bytes(KEY_AS_BYTES, name: &str, Selector::Name(name), true, FieldType::Bytes) -> [u8] = leak_bytes;
    key_as_qname_pkg(KEY_AS_QNAME_PKG, name: &str, Selector::Name(name), true, FieldType::QNamePkg) -> str = leak_str;
    key_as_qname_entity(KEY_AS_QNAME_ENTITY, name: &str, Selector::Name(name), true, FieldType::QNameEntity) -> str = leak_str;
}

reads! {
    value_as_int32(VALUE_AS_INT32, name: &str, Selector::Name(name), false, FieldType::Int32) -> i32 = read_i32;
    value_as_int64(VALUE_AS_INT64, name: &str, Selector::Name(name), false, FieldType::Int64) -> i64 = read_i64;
    value_as_float32(VALUE_AS_FLOAT32, name: &str, Selector::Name(name), false, FieldType::Float32) -> f32 = read_f32;
    value_as_float64(VALUE_AS_FLOAT64, name: &str, Selector::Name(name), false, FieldType::Float64) -> f64 = read_f64;
    value_as_bool(VALUE_AS_BOOL, name: &str, Selector::Name(name), false, FieldType::Bool) -> bool = |r| read_i64(r) != 0;
    value_as_value(VALUE_AS_VALUE, name: &str, Selector::Name(name), false, FieldType::Value) -> u64 = read_value;
    value_get_as_int32(VALUE_GET_AS_INT32, index: usize, by_index(index), false, FieldType::Int32) -> i32 = read_i32;
    value_get_as_int64(VALUE_GET_AS_INT64, index: usize, by_index(index), false, FieldType::Int64) -> i64 = read_i64;
    value_get_as_bool(VALUE_GET_AS_BOOL, index: usize, by_index(index), false, FieldType::Bool) -> bool = |r| read_i64(r) != 0;
    value_get_as_float32(VALUE_GET_AS_FLOAT32, index: usize, by_index(index), false, FieldType::Float32) -> f32 = read_f32;
    value_get_as_float64(VALUE_GET_AS_FLOAT64, index: usize, by_index(index), false, FieldType::Float64) -> f64 = read_f64;
    value_get_as_value(VALUE_GET_AS_VALUE, index: usize, by_index(index), false, FieldType::Value) -> u64 = read_value;
    key_as_int32(KEY_AS_INT32, name: &str, Selector::Name(name), true, FieldType::Int32) -> i32 = read_i32;
    key_as_int64(KEY_AS_INT64, name: &str, Selector::Name(name), true, FieldType::Int64) -> i64 = read_i64;
    key_as_bool(KEY_AS_BOOL, name: &str, Selector::Name(name), true, FieldType::Bool) -> bool = |r| read_i64(r) != 0;
    key_as_float32(KEY_AS_FLOAT32, name: &str, Selector::Name(name), true, FieldType::Float32) -> f32 = read_f32;
    key_as_float64(KEY_AS_FLOAT64, name: &str, Selector::Name(name), true, FieldType::Float64) -> f64 = read_f64;
}
