//! The FFI boundary, guest side, and the only module of the crate with
//! `unsafe` code:
//!
//! * every host import of ABI 0.0.1 (module `env`), each private and directly
//!   above its safe wrapper; each declaration is checked at compile time
//!   against [`extwasm_abi::HOST_IMPORTS`] (name, parameter and result types);
//! * the exports every extension module needs (`WasmAbiVersion_0_0_1`,
//!   `WasmOnReadValue`, the memory-info functions, `WasmGC`, `malloc`,
//!   `free`), checked the same way against [`extwasm_abi::GUEST_EXPORTS`];
//! * the dispatch of `WasmOnReadValue` to the running `read_values` callback;
//! * the panic handler, and the global allocator (in [`heap`]).
//!
//! The module compiles on every target, so that its declarations are
//! type-checked and unit-tested natively; only on wasm32 are the imports
//! linked, the exports exported, and the allocator and panic handler
//! installed. Native builds never call into it: the API calls the mock host
//! (`crate::testing::host`) instead, which has the same safe wrappers.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use core::convert::identity;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering::Relaxed};

use extwasm_abi::{self as abi, RowWriterKind, ValType};

use crate::api::Ext;

pub(crate) mod heap;

// ---------------------------------------------------------------------------
// Declarations, checked against the ABI table
// ---------------------------------------------------------------------------

/// A Rust type as the wasm value type it crosses the boundary as.
pub(crate) trait WasmType {
    /// The wasm type.
    const TYPE: ValType;
}

macro_rules! wasm_types {
    ($($rust:ty => $wasm:ident),*) => {
        $(impl WasmType for $rust {
            const TYPE: ValType = ValType::$wasm;
        })*
    };
}
wasm_types!(i32 => I32, u32 => I32, i64 => I64, u64 => I64, f32 => F32, f64 => F64);

/// An import or export as this module declares it: the name and the wasm
/// types of its Rust signature. Made only by [`Declared::import`] and
/// [`Declared::export`], which refuse (at compile time, as every use is in a
/// constant) anything that disagrees with the ABI table.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))] // read by the mock host and the tests
pub(crate) struct Declared {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [ValType],
    pub(crate) results: &'static [ValType],
}

const fn types_eq(a: &[ValType], b: &[ValType]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] as u8 != b[i] as u8 {
            return false;
        }
        i += 1;
    }
    true
}

impl Declared {
    const fn import(name: &'static str, params: &'static [ValType], results: &'static [ValType]) -> Self {
        let Some(import) = abi::host_import(name) else {
            panic!("this host import is not in extwasm_abi::HOST_IMPORTS");
        };
        assert!(types_eq(import.params, params), "parameter types differ from extwasm_abi::HOST_IMPORTS");
        assert!(types_eq(import.results, results), "result types differ from extwasm_abi::HOST_IMPORTS");
        Declared { name, params, results }
    }

    const fn wasi(name: &'static str, params: &'static [ValType], results: &'static [ValType]) -> Self {
        let Some(import) = abi::wasi_import(name) else {
            panic!("this WASI import is not in extwasm_abi::WASI_IMPORTS");
        };
        assert!(types_eq(import.params, params), "parameter types differ from extwasm_abi::WASI_IMPORTS");
        assert!(types_eq(import.results, results), "result types differ from extwasm_abi::WASI_IMPORTS");
        Declared { name, params, results }
    }

    const fn export(name: &'static str, params: &'static [ValType], results: &'static [ValType]) -> Self {
        let Some(export) = abi::guest_export(name) else {
            panic!("this export is not in extwasm_abi::GUEST_EXPORTS");
        };
        assert!(types_eq(export.params, params), "parameter types differ from extwasm_abi::GUEST_EXPORTS");
        assert!(types_eq(export.results, results), "result types differ from extwasm_abi::GUEST_EXPORTS");
        Declared { name, params, results }
    }
}

// `#[link(wasm_import_module = ...)]` takes a literal; it must be the ABI's.
const _: () = assert!(abi::names_equal(abi::HOST_MODULE, "env"));

/// Declares one host import: a `Declared` constant checked against the ABI
/// table, and the raw function (`safe` when it takes handles and numbers
/// only, `unsafe` when it takes pointers). On wasm32 the function is the
/// import; elsewhere it is a stub that is never called.
macro_rules! host_import {
    ($(#[$doc:meta])* $decl:ident = $name:literal, safe fn $raw:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        host_import!(@declared $decl $name ($($ty),*) $(-> $ret)?);
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "env")]
        unsafe extern "C" {
            $(#[$doc])*
            #[link_name = $name]
            safe fn $raw($($arg: $ty),*) $(-> $ret)?;
        }
        $(#[$doc])*
        #[cfg(not(target_arch = "wasm32"))]
        #[allow(clippy::too_many_arguments)] // the ABI's arity
        fn $raw($(_: $ty),*) $(-> $ret)? {
            unreachable!(concat!($name, " is a wasm import; native builds run on the mock host"))
        }
    };
    ($(#[$doc:meta])* $decl:ident = $name:literal, unsafe fn $raw:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        host_import!(@declared $decl $name ($($ty),*) $(-> $ret)?);
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "env")]
        unsafe extern "C" {
            $(#[$doc])*
            #[link_name = $name]
            fn $raw($($arg: $ty),*) $(-> $ret)?;
        }
        $(#[$doc])*
        #[cfg(not(target_arch = "wasm32"))]
        #[allow(clippy::too_many_arguments)] // the ABI's arity
        unsafe fn $raw($(_: $ty),*) $(-> $ret)? {
            unreachable!(concat!($name, " is a wasm import; native builds run on the mock host"))
        }
    };
    (@declared $decl:ident $name:literal ($($ty:ty),*) $(-> $ret:ty)?) => {
        #[doc = concat!("`", $name, "`, as declared here.")]
        pub(crate) const $decl: Declared =
            Declared::import($name, &[$(<$ty as WasmType>::TYPE),*], &[$(<$ret as WasmType>::TYPE)?]);
        const _: Declared = $decl;
    };
}

/// Declares one export: a `Declared` constant checked against the ABI table
/// and an `extern "C"` function that calls `$body` (a plain function), which
/// wasm32 builds export under the ABI's name.
macro_rules! guest_export {
    ($(#[$doc:meta])* $decl:ident = $name:literal, fn $rust:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? => $body:path) => {
        #[doc = concat!("`", $name, "`, as exported here.")]
        pub(crate) const $decl: Declared =
            Declared::export($name, &[$(<$ty as WasmType>::TYPE),*], &[$(<$ret as WasmType>::TYPE)?]);
        const _: Declared = $decl;
        $(#[$doc])*
        #[cfg_attr(target_arch = "wasm32", unsafe(export_name = $name))]
        extern "C" fn $rust($($arg: $ty),*) $(-> $ret)? {
            $body($($arg),*)
        }
    };
}

// ---------------------------------------------------------------------------
// Helpers for the wrappers
// ---------------------------------------------------------------------------

/// Address and length of `bytes` as the host reads them (guest memory is
/// 32-bit). The address is exposed: the host reads the bytes through it.
fn guest_slice(bytes: &[u8]) -> (u32, u32) {
    (bytes.as_ptr().expose_provenance() as u32, bytes.len() as u32)
}

/// The bytes a string or bytes read returned, packed `(ptr << 32) | len`.
fn host_bytes<'i>(_invocation: Ext<'i>, packed: u64) -> &'i [u8] {
    let (address, len) = abi::unpack(packed);
    if len == 0 {
        return &[];
    }
    assert!(address != 0, "the host returned bytes at address 0");
    let data = ptr::with_exposed_provenance::<u8>(address as usize);
    // SAFETY: the host has just written `len` bytes at `address` in its
    // exchange buffer. That buffer is memory this guest's `malloc` handed to
    // the host and never hands out again, so no Rust code writes it; the host
    // writes each result at a fresh offset and rewinds only when the next
    // invocation starts, so the bytes stay as they are until then, and `'i`
    // (the invocation's brand) keeps the slice from outliving it. `u8` needs
    // no alignment and the address is not null.
    unsafe { core::slice::from_raw_parts(data, len as usize) }
}

/// A string a read returned; the ABI says it is UTF-8, and this checks.
fn host_str<'i>(invocation: Ext<'i>, packed: u64) -> &'i str {
    match core::str::from_utf8(host_bytes(invocation, packed)) {
        Ok(text) => text,
        Err(_) => panic!("the host returned a string that is not UTF-8"),
    }
}

/// Resets the guest-side state of an invocation: no read is running, no
/// panic is being reported. Matters only when a trapped instance is reused
/// without being restored.
pub(crate) fn begin_invocation() {
    READ_CALLBACK.store(ptr::null_mut(), Relaxed);
    PANICKING.store(false, Relaxed);
}

// ---------------------------------------------------------------------------
// Keys, values, intents
// ---------------------------------------------------------------------------

host_import!(
    /// # Safety
    /// `storage_ptr`/`storage_len` and `entity_ptr`/`entity_len` must each
    /// describe readable guest memory; the host only reads it.
    GET_KEY = "hostGetKey",
    unsafe fn host_get_key(storage_ptr: u32, storage_len: u32, entity_ptr: u32, entity_len: u32) -> u64
);
/// A new key builder for (storage, entity).
pub(crate) fn get_key(storage: &str, entity: &str) -> u64 {
    let (storage_ptr, storage_len) = guest_slice(storage.as_bytes());
    let (entity_ptr, entity_len) = guest_slice(entity.as_bytes());
    // SAFETY: both pairs describe the borrowed strings, alive for the call.
    unsafe { host_get_key(storage_ptr, storage_len, entity_ptr, entity_len) }
}

host_import!(
    /// Takes a handle only; the host checks it.
    GET_VALUE = "hostGetValue",
    safe fn host_get_value(key_builder: u64) -> u64
);
/// The value for the key; the host fails the invocation when there is none.
pub(crate) fn get_value(key_builder: u64) -> u64 {
    host_get_value(key_builder)
}

host_import!(
    /// Takes a handle only; the host checks it.
    QUERY_VALUE = "hostQueryValue",
    safe fn host_query_value(key_builder: u64) -> u64
);
/// The value for the key, if there is one.
pub(crate) fn query_value(key_builder: u64) -> Option<u64> {
    Some(host_query_value(key_builder)).filter(|&value| value != abi::NOT_FOUND)
}

host_import!(
    /// Takes a handle only; the host calls `WasmOnReadValue` per match.
    READ_VALUES = "hostReadValues",
    safe fn host_read_values(key_builder: u64)
);

/// The callback of the innermost `read_values` whose `hostReadValues` is
/// running (a `*mut ReadFrame`), or null; taken out while it runs.
static READ_CALLBACK: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

struct ReadFrame<'a> {
    each: &'a mut dyn FnMut(u64, u64),
}

/// Calls `each(key, value)` for every match of the (partial) key, through the
/// host's calls of `WasmOnReadValue`. Re-entrant: `each` may read again.
pub(crate) fn read_values(key_builder: u64, each: &mut dyn FnMut(u64, u64)) {
    let mut frame = ReadFrame { each };
    let outer = READ_CALLBACK.swap(ptr::from_mut(&mut frame).cast(), Relaxed);
    host_read_values(key_builder);
    READ_CALLBACK.store(outer, Relaxed);
}

fn on_read_value(key: u64, value: u64) {
    let frame = READ_CALLBACK.swap(ptr::null_mut(), Relaxed).cast::<ReadFrame<'_>>();
    assert!(!frame.is_null(), "WasmOnReadValue was called while no read_values is running");
    // SAFETY: a non-null READ_CALLBACK was stored by `read_values` from a
    // `&mut` to its local `frame` (so it is aligned and valid), and that
    // `read_values` is still inside `hostReadValues`, which is what calls us,
    // and does not touch `frame` until it returns. Swapping null in makes
    // this the only reference: a `WasmOnReadValue` that is not inside a
    // nested `read_values` finds null instead of aliasing it.
    let frame = unsafe { &mut *frame };
    (frame.each)(key, value);
    READ_CALLBACK.store(ptr::from_mut(frame).cast(), Relaxed);
}

host_import!(
    /// Takes a handle only; the host checks it.
    NEW_VALUE = "hostNewValue",
    safe fn host_new_value(key_builder: u64) -> u64
);
/// An intent to insert a new value at the key.
pub(crate) fn new_value(key_builder: u64) -> u64 {
    host_new_value(key_builder)
}

host_import!(
    /// Takes handles only; the host checks them.
    UPDATE_VALUE = "hostUpdateValue",
    safe fn host_update_value(key_builder: u64, existing: u64) -> u64
);
/// An intent to update an existing value.
pub(crate) fn update_value(key_builder: u64, existing: u64) -> u64 {
    host_update_value(key_builder, existing)
}

// ---------------------------------------------------------------------------
// Row writers (key builders and intents)
// ---------------------------------------------------------------------------

host_import!(
    /// # Safety
    /// Both pointer/length pairs must describe readable guest memory.
    PUT_STRING = "hostRowWriterPutString",
    unsafe fn host_put_string(id: u64, kind: u32, name_ptr: u32, name_len: u32, value_ptr: u32, value_len: u32)
);
/// Puts a string field.
pub(crate) fn put_string(id: u64, kind: RowWriterKind, name: &str, value: &str) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    let (value_ptr, value_len) = guest_slice(value.as_bytes());
    // SAFETY: both pairs describe borrowed strings, alive for the call.
    unsafe { host_put_string(id, kind as u32, name_ptr, name_len, value_ptr, value_len) }
}

host_import!(
    /// # Safety
    /// Both pointer/length pairs must describe readable guest memory.
    PUT_BYTES = "hostRowWriterPutBytes",
    unsafe fn host_put_bytes(id: u64, kind: u32, name_ptr: u32, name_len: u32, value_ptr: u32, value_len: u32)
);
/// Puts a bytes field.
pub(crate) fn put_bytes(id: u64, kind: RowWriterKind, name: &str, value: &[u8]) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    let (value_ptr, value_len) = guest_slice(value);
    // SAFETY: both pairs describe borrowed data, alive for the call.
    unsafe { host_put_bytes(id, kind as u32, name_ptr, name_len, value_ptr, value_len) }
}

host_import!(
    /// # Safety
    /// All three pointer/length pairs must describe readable guest memory.
    PUT_QNAME = "hostRowWriterPutQName",
    unsafe fn host_put_qname(
        id: u64,
        kind: u32,
        name_ptr: u32,
        name_len: u32,
        pkg_ptr: u32,
        pkg_len: u32,
        entity_ptr: u32,
        entity_len: u32,
    )
);
/// Puts a qualified-name field.
pub(crate) fn put_qname(id: u64, kind: RowWriterKind, name: &str, pkg: &str, entity: &str) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    let (pkg_ptr, pkg_len) = guest_slice(pkg.as_bytes());
    let (entity_ptr, entity_len) = guest_slice(entity.as_bytes());
    // SAFETY: the three pairs describe borrowed strings, alive for the call.
    unsafe { host_put_qname(id, kind as u32, name_ptr, name_len, pkg_ptr, pkg_len, entity_ptr, entity_len) }
}

host_import!(
    /// # Safety
    /// `name_ptr`/`name_len` must describe readable guest memory.
    PUT_BOOL = "hostRowWriterPutBool",
    unsafe fn host_put_bool(id: u64, kind: u32, name_ptr: u32, name_len: u32, value: u32)
);
/// Puts a bool field.
pub(crate) fn put_bool(id: u64, kind: RowWriterKind, name: &str, value: bool) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    // SAFETY: the pair describes the borrowed name, alive for the call.
    unsafe { host_put_bool(id, kind as u32, name_ptr, name_len, value as u32) }
}

host_import!(
    /// # Safety
    /// `name_ptr`/`name_len` must describe readable guest memory.
    PUT_INT32 = "hostRowWriterPutInt32",
    unsafe fn host_put_int32(id: u64, kind: u32, name_ptr: u32, name_len: u32, value: i32)
);
/// Puts an int32 field.
pub(crate) fn put_int32(id: u64, kind: RowWriterKind, name: &str, value: i32) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    // SAFETY: the pair describes the borrowed name, alive for the call.
    unsafe { host_put_int32(id, kind as u32, name_ptr, name_len, value) }
}

host_import!(
    /// # Safety
    /// `name_ptr`/`name_len` must describe readable guest memory.
    PUT_INT64 = "hostRowWriterPutInt64",
    unsafe fn host_put_int64(id: u64, kind: u32, name_ptr: u32, name_len: u32, value: i64)
);
/// Puts an int64 field.
pub(crate) fn put_int64(id: u64, kind: RowWriterKind, name: &str, value: i64) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    // SAFETY: the pair describes the borrowed name, alive for the call.
    unsafe { host_put_int64(id, kind as u32, name_ptr, name_len, value) }
}

host_import!(
    /// # Safety
    /// `name_ptr`/`name_len` must describe readable guest memory.
    PUT_FLOAT32 = "hostRowWriterPutFloat32",
    unsafe fn host_put_float32(id: u64, kind: u32, name_ptr: u32, name_len: u32, value: f32)
);
/// Puts a float32 field.
pub(crate) fn put_float32(id: u64, kind: RowWriterKind, name: &str, value: f32) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    // SAFETY: the pair describes the borrowed name, alive for the call.
    unsafe { host_put_float32(id, kind as u32, name_ptr, name_len, value) }
}

host_import!(
    /// # Safety
    /// `name_ptr`/`name_len` must describe readable guest memory.
    PUT_FLOAT64 = "hostRowWriterPutFloat64",
    unsafe fn host_put_float64(id: u64, kind: u32, name_ptr: u32, name_len: u32, value: f64)
);
/// Puts a float64 field.
pub(crate) fn put_float64(id: u64, kind: RowWriterKind, name: &str, value: f64) {
    let (name_ptr, name_len) = guest_slice(name.as_bytes());
    // SAFETY: the pair describes the borrowed name, alive for the call.
    unsafe { host_put_float64(id, kind as u32, name_ptr, name_len, value) }
}

// ---------------------------------------------------------------------------
// Values: fields by name
// ---------------------------------------------------------------------------

host_import!(
    /// Takes a handle only; the host checks it.
    VALUE_LENGTH = "hostValueLength",
    safe fn host_value_length(value: u64) -> u32
);
/// Number of elements of an array value.
pub(crate) fn value_len(value: u64) -> usize {
    host_value_length(value) as usize
}

/// Wrappers of by-name reads (`hostValueAs*`, `hostKeyAs*`): the same shape,
/// `(handle, name_ptr, name_len) -> T`.
macro_rules! read_by_name {
    ($(#[$doc:meta])* $decl:ident = $name:literal, fn $raw:ident -> $wasm:ty; $wrapper:ident -> $out:ty = $convert:path) => {
        host_import!(
            /// # Safety
            /// `name_ptr`/`name_len` must describe readable guest memory.
            $decl = $name,
            unsafe fn $raw(handle: u64, name_ptr: u32, name_len: u32) -> $wasm
        );
        $(#[$doc])*
        pub(crate) fn $wrapper(handle: u64, name: &str) -> $out {
            let (name_ptr, name_len) = guest_slice(name.as_bytes());
            // SAFETY: the pair describes the borrowed name, alive for the call.
            let raw = unsafe { $raw(handle, name_ptr, name_len) };
            $convert(raw)
        }
    };
}

/// By-name reads that return bytes in the exchange buffer.
macro_rules! read_bytes_by_name {
    ($(#[$doc:meta])* $decl:ident = $name:literal, fn $raw:ident; $wrapper:ident -> $out:ty = $convert:path) => {
        host_import!(
            /// # Safety
            /// `name_ptr`/`name_len` must describe readable guest memory.
            $decl = $name,
            unsafe fn $raw(handle: u64, name_ptr: u32, name_len: u32) -> u64
        );
        $(#[$doc])*
        pub(crate) fn $wrapper<'i>(invocation: Ext<'i>, handle: u64, name: &str) -> &'i $out {
            let (name_ptr, name_len) = guest_slice(name.as_bytes());
            // SAFETY: the pair describes the borrowed name, alive for the call.
            let packed = unsafe { $raw(handle, name_ptr, name_len) };
            $convert(invocation, packed)
        }
    };
}

read_bytes_by_name!(
    /// String field of a value.
    VALUE_AS_STRING = "hostValueAsString", fn host_value_as_string; value_as_string -> str = host_str
);
read_bytes_by_name!(
    /// Bytes field of a value.
    VALUE_AS_BYTES = "hostValueAsBytes", fn host_value_as_bytes; value_as_bytes -> [u8] = host_bytes
);
read_by_name!(
    /// Int32 field of a value.
    VALUE_AS_INT32 = "hostValueAsInt32", fn host_value_as_int32 -> i32; value_as_int32 -> i32 = identity
);
read_by_name!(
    /// Int64 field of a value.
    VALUE_AS_INT64 = "hostValueAsInt64", fn host_value_as_int64 -> i64; value_as_int64 -> i64 = identity
);
read_by_name!(
    /// Float32 field of a value.
    VALUE_AS_FLOAT32 = "hostValueAsFloat32", fn host_value_as_float32 -> f32; value_as_float32 -> f32 = identity
);
read_by_name!(
    /// Float64 field of a value.
    VALUE_AS_FLOAT64 = "hostValueAsFloat64", fn host_value_as_float64 -> f64; value_as_float64 -> f64 = identity
);
read_by_name!(
    /// Bool field of a value.
    VALUE_AS_BOOL = "hostValueAsBool", fn host_value_as_bool -> u64; value_as_bool -> bool  = to_bool
);
read_bytes_by_name!(
    /// Package path of a qualified-name field of a value.
    VALUE_AS_QNAME_PKG = "hostValueAsQNamePkg", fn host_value_as_qname_pkg; value_as_qname_pkg -> str = host_str
);
read_bytes_by_name!(
    /// Entity of a qualified-name field of a value.
    VALUE_AS_QNAME_ENTITY = "hostValueAsQNameEntity", fn host_value_as_qname_entity; value_as_qname_entity -> str = host_str
);
read_by_name!(
    /// Nested object or array field of a value.
    VALUE_AS_VALUE = "hostValueAsValue", fn host_value_as_value -> u64; value_as_value -> u64 = identity
);

// ---------------------------------------------------------------------------
// Values: elements by index
// ---------------------------------------------------------------------------

/// Wrappers of by-index reads (`hostValueGetAs*`): handles and numbers only,
/// so the imports are safe.
macro_rules! read_by_index {
    ($(#[$doc:meta])* $decl:ident = $name:literal, fn $raw:ident -> $wasm:ty; $wrapper:ident -> $out:ty = $convert:path) => {
        host_import!(
            /// Takes a handle and an index only; the host checks them.
            $decl = $name,
            safe fn $raw(value: u64, index: u32) -> $wasm
        );
        $(#[$doc])*
        pub(crate) fn $wrapper(value: u64, index: usize) -> $out {
            $convert($raw(value, index_arg(index)))
        }
    };
}

/// By-index reads that return bytes in the exchange buffer.
macro_rules! read_bytes_by_index {
    ($(#[$doc:meta])* $decl:ident = $name:literal, fn $raw:ident; $wrapper:ident -> $out:ty = $convert:path) => {
        host_import!(
            /// Takes a handle and an index only; the host checks them.
            $decl = $name,
            safe fn $raw(value: u64, index: u32) -> u64
        );
        $(#[$doc])*
        pub(crate) fn $wrapper<'i>(invocation: Ext<'i>, value: u64, index: usize) -> &'i $out {
            $convert(invocation, $raw(value, index_arg(index)))
        }
    };
}

/// Bool results are i64 0 / 1.
fn to_bool(raw: u64) -> bool {
    raw != 0
}

/// An element index as the ABI passes it; an index past `u32::MAX` (only
/// possible natively) reads as out of range.
fn index_arg(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

read_bytes_by_index!(
    /// String element of an array value.
    VALUE_GET_AS_STRING = "hostValueGetAsString", fn host_value_get_as_string; value_get_as_string -> str = host_str
);
read_bytes_by_index!(
    /// Bytes element of an array value.
    VALUE_GET_AS_BYTES = "hostValueGetAsBytes", fn host_value_get_as_bytes; value_get_as_bytes -> [u8] = host_bytes
);
read_bytes_by_index!(
    /// Package path of a qualified-name element.
    VALUE_GET_AS_QNAME_PKG = "hostValueGetAsQNamePkg", fn host_value_get_as_qname_pkg;
    value_get_as_qname_pkg -> str = host_str
);
read_bytes_by_index!(
    /// Entity of a qualified-name element.
    VALUE_GET_AS_QNAME_ENTITY = "hostValueGetAsQNameEntity", fn host_value_get_as_qname_entity;
    value_get_as_qname_entity -> str = host_str
);
read_by_index!(
    /// Int32 element of an array value.
    VALUE_GET_AS_INT32 = "hostValueGetAsInt32", fn host_value_get_as_int32 -> i32; value_get_as_int32 -> i32 = identity
);
read_by_index!(
    /// Int64 element of an array value.
    VALUE_GET_AS_INT64 = "hostValueGetAsInt64", fn host_value_get_as_int64 -> i64; value_get_as_int64 -> i64 = identity
);
read_by_index!(
    /// Bool element of an array value.
    VALUE_GET_AS_BOOL = "hostValueGetAsBool", fn host_value_get_as_bool -> u64; value_get_as_bool -> bool  = to_bool
);
read_by_index!(
    /// Float32 element of an array value.
    VALUE_GET_AS_FLOAT32 = "hostValueGetAsFloat32", fn host_value_get_as_float32 -> f32;
    value_get_as_float32 -> f32 = identity
);
read_by_index!(
    /// Float64 element of an array value.
    VALUE_GET_AS_FLOAT64 = "hostValueGetAsFloat64", fn host_value_get_as_float64 -> f64;
    value_get_as_float64 -> f64 = identity
);
read_by_index!(
    /// Nested object or array element.
    VALUE_GET_AS_VALUE = "hostValueGetAsValue", fn host_value_get_as_value -> u64; value_get_as_value -> u64 = identity
);

// ---------------------------------------------------------------------------
// Keys handed to read callbacks: fields by name
// ---------------------------------------------------------------------------

read_bytes_by_name!(
    /// String field of a key.
    KEY_AS_STRING = "hostKeyAsString", fn host_key_as_string; key_as_string -> str = host_str
);
read_bytes_by_name!(
    /// Bytes field of a key.
    KEY_AS_BYTES = "hostKeyAsBytes", fn host_key_as_bytes; key_as_bytes -> [u8] = host_bytes
);
read_bytes_by_name!(
    /// Package path of a qualified-name key field.
    KEY_AS_QNAME_PKG = "hostKeyAsQNamePkg", fn host_key_as_qname_pkg; key_as_qname_pkg -> str = host_str
);
read_bytes_by_name!(
    /// Entity of a qualified-name key field.
    KEY_AS_QNAME_ENTITY = "hostKeyAsQNameEntity", fn host_key_as_qname_entity; key_as_qname_entity -> str = host_str
);
read_by_name!(
    /// Int32 field of a key.
    KEY_AS_INT32 = "hostKeyAsInt32", fn host_key_as_int32 -> i32; key_as_int32 -> i32 = identity
);
read_by_name!(
    /// Int64 field of a key.
    KEY_AS_INT64 = "hostKeyAsInt64", fn host_key_as_int64 -> i64; key_as_int64 -> i64 = identity
);
read_by_name!(
    /// Bool field of a key.
    KEY_AS_BOOL = "hostKeyAsBool", fn host_key_as_bool -> u64; key_as_bool -> bool  = to_bool
);
read_by_name!(
    /// Float32 field of a key.
    KEY_AS_FLOAT32 = "hostKeyAsFloat32", fn host_key_as_float32 -> f32; key_as_float32 -> f32 = identity
);
read_by_name!(
    /// Float64 field of a key.
    KEY_AS_FLOAT64 = "hostKeyAsFloat64", fn host_key_as_float64 -> f64; key_as_float64 -> f64 = identity
);

// ---------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------

host_import!(
    /// # Safety
    /// `msg_ptr`/`msg_len` must describe readable guest memory.
    PANIC = "hostPanic",
    unsafe fn host_panic(msg_ptr: u32, msg_len: u32)
);
/// Hands the panic message to the host, which fails the invocation with it
/// (and traps the guest; the caller traps too, should the host return).
pub(crate) fn report_panic(message: &str) {
    let (msg_ptr, msg_len) = guest_slice(message.as_bytes());
    // SAFETY: the pair describes the borrowed message, alive for the call.
    unsafe { host_panic(msg_ptr, msg_len) }
}

/// Set while the panic handler reports, so that a panic inside it (a
/// `Display` impl that panics, say) does not recurse.
static PANICKING: AtomicBool = AtomicBool::new(false);

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Relaxed) {
        report_panic("panicked while reporting a panic");
    } else {
        let mut message = crate::report::PanicText::new();
        crate::report::write_panic(&mut message, info.message(), info.location());
        report_panic(message.as_str());
    }
    core::arch::wasm32::unreachable()
}

// ---------------------------------------------------------------------------
// Logging: WASI `fd_write` to stderr, which the host captures
// ---------------------------------------------------------------------------

// `#[link(wasm_import_module = ...)]` takes a literal; it must be the ABI's.
const _: () = assert!(abi::names_equal(abi::WASI_MODULE, "wasi_snapshot_preview1"));

/// `fd_write`, as declared here: checked against [`extwasm_abi::WASI_IMPORTS`],
/// the WASI functions the host provides. Only a module that logs imports it
/// (the linker drops an import nothing calls).
pub(crate) const FD_WRITE: Declared = Declared::wasi("fd_write", &[ValType::I32; 4], &[ValType::I32]);
// Evaluated (so checked) on every target, not only where a test reads it.
const _: &Declared = &FD_WRITE;

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "wasi_snapshot_preview1")]
unsafe extern "C" {
    /// # Safety
    /// `iovs` must address `iovs_len` readable iovecs (address, length),
    /// each describing readable guest memory, and `nwritten` a writable u32.
    #[link_name = "fd_write"]
    fn wasi_fd_write(fd: u32, iovs: u32, iovs_len: u32, nwritten: u32) -> u32;
}

/// Natively a stub that is never called (the mock host captures log lines).
#[cfg(not(target_arch = "wasm32"))]
unsafe fn wasi_fd_write(_: u32, _: u32, _: u32, _: u32) -> u32 {
    unreachable!("fd_write is a wasm import; native builds run on the mock host")
}

/// The WASI file descriptor log lines go to: stderr.
const STDERR: u32 = 2;

/// Writes `head` then `tail` to stderr in one `fd_write`. Logging cannot
/// fail the extension: the host's answer is ignored.
fn write_stderr(head: &[u8], tail: &[u8]) {
    let (head_ptr, head_len) = guest_slice(head);
    let (tail_ptr, tail_len) = guest_slice(tail);
    let iovs = [head_ptr, head_len, tail_ptr, tail_len];
    let mut written: u32 = 0;
    let iovs_ptr = iovs.as_ptr().expose_provenance() as u32;
    let written_ptr = ptr::from_mut(&mut written).expose_provenance() as u32;
    // SAFETY: `iovs` is two iovecs (address, length as u32s, the WASI
    // layout on wasm32) describing the borrowed `head` and `tail`, and
    // `written` a local u32; all are alive and unaliased for the call, and
    // the host writes nothing but `written`.
    let _ = unsafe { wasi_fd_write(STDERR, iovs_ptr, 2, written_ptr) };
}

/// Bytes of a formatted log line held before they are written; a longer
/// line is written in pieces (the host joins them).
const LOG_CHUNK: usize = 512;

/// A log line being formatted, written to stderr a chunk at a time: no
/// allocation, no length limit.
struct LogLine {
    bytes: [u8; LOG_CHUNK],
    len: usize,
}

impl core::fmt::Write for LogLine {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        // Bytes, not characters: the host joins the pieces back together.
        let mut bytes = text.as_bytes();
        while !bytes.is_empty() {
            if self.len == LOG_CHUNK {
                write_stderr(&self.bytes, &[]);
                self.len = 0;
            }
            let n = bytes.len().min(LOG_CHUNK - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// Writes one log line, `args` and a newline, to stderr (see [`crate::log!`]).
pub(crate) fn log(args: core::fmt::Arguments<'_>) {
    match args.as_str() {
        // A literal: no formatting, no copy.
        Some(text) => write_stderr(text.as_bytes(), b"\n"),
        None => {
            let mut line = LogLine { bytes: [0; LOG_CHUNK], len: 0 };
            let _ = core::fmt::write(&mut line, args);
            write_stderr(&line.bytes[..line.len], b"\n");
        }
    }
}

// ---------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------

fn nothing() {}

guest_export!(
    /// Its presence says the module speaks ABI 0.0.1.
    ABI_VERSION = "WasmAbiVersion_0_0_1", fn wasm_abi_version() => nothing
);
guest_export!(
    /// Per-match callback of `hostReadValues`.
    ON_READ_VALUE = "WasmOnReadValue", fn wasm_on_read_value(key: u64, value: u64) => on_read_value
);
guest_export!(
    /// Bytes of the heap in use (consumed by the bump allocator).
    GET_HEAP_INUSE = "WasmGetHeapInuse", fn wasm_get_heap_inuse() -> i64 => heap::heap_inuse
);
guest_export!(
    /// Bytes the heap took from linear memory.
    GET_HEAP_SYS = "WasmGetHeapSys", fn wasm_get_heap_sys() -> i64 => heap::heap_sys
);
guest_export!(
    /// Number of allocations so far.
    GET_MALLOCS = "WasmGetMallocs", fn wasm_get_mallocs() -> i64 => heap::mallocs
);
guest_export!(
    /// Number of frees so far (the allocator reclaims only the latest block).
    GET_FREES = "WasmGetFrees", fn wasm_get_frees() -> i64 => heap::frees
);
guest_export!(
    /// A no-op: the allocator does not collect.
    GC = "WasmGC", fn wasm_gc() => nothing
);
guest_export!(
    /// `malloc(size) -> ptr` for the host's exchange buffer; never returns 0
    /// (running out of memory is a guest panic).
    MALLOC = "malloc", fn wasm_malloc(size: u32) -> u32 => heap::malloc
);
guest_export!(
    /// `free(ptr)`: counted, not reclaimed.
    FREE = "free", fn wasm_free(ptr: u32) => heap::free
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every import this module declares, in source order.
    const IMPORTS: &[Declared] = &[
        GET_KEY,
        GET_VALUE,
        QUERY_VALUE,
        READ_VALUES,
        NEW_VALUE,
        UPDATE_VALUE,
        PUT_STRING,
        PUT_BYTES,
        PUT_QNAME,
        PUT_BOOL,
        PUT_INT32,
        PUT_INT64,
        PUT_FLOAT32,
        PUT_FLOAT64,
        VALUE_LENGTH,
        VALUE_AS_STRING,
        VALUE_AS_BYTES,
        VALUE_AS_INT32,
        VALUE_AS_INT64,
        VALUE_AS_FLOAT32,
        VALUE_AS_FLOAT64,
        VALUE_AS_BOOL,
        VALUE_AS_QNAME_PKG,
        VALUE_AS_QNAME_ENTITY,
        VALUE_AS_VALUE,
        VALUE_GET_AS_STRING,
        VALUE_GET_AS_BYTES,
        VALUE_GET_AS_QNAME_PKG,
        VALUE_GET_AS_QNAME_ENTITY,
        VALUE_GET_AS_INT32,
        VALUE_GET_AS_INT64,
        VALUE_GET_AS_BOOL,
        VALUE_GET_AS_FLOAT32,
        VALUE_GET_AS_FLOAT64,
        VALUE_GET_AS_VALUE,
        KEY_AS_STRING,
        KEY_AS_BYTES,
        KEY_AS_QNAME_PKG,
        KEY_AS_QNAME_ENTITY,
        KEY_AS_INT32,
        KEY_AS_INT64,
        KEY_AS_BOOL,
        KEY_AS_FLOAT32,
        KEY_AS_FLOAT64,
        PANIC,
    ];

    /// Every export this module declares.
    const EXPORTS: &[Declared] =
        &[ABI_VERSION, ON_READ_VALUE, GET_HEAP_INUSE, GET_HEAP_SYS, GET_MALLOCS, GET_FREES, GC, MALLOC, FREE];

    /// Occurrences of `needle` at the start of a line of this file: each
    /// declaration is one macro call, so this counts declarations.
    fn declarations(needle: &str) -> usize {
        include_str!("ffi.rs").lines().filter(|line| line.starts_with(needle)).count()
    }

    #[test]
    fn every_declared_import_matches_the_abi_table() {
        for declared in IMPORTS {
            let import =
                abi::host_import(declared.name).unwrap_or_else(|| panic!("{} is not in the ABI", declared.name));
            assert_eq!(declared.params, import.params, "{}", declared.name);
            assert_eq!(declared.results, import.results, "{}", declared.name);
        }
        // The list above is complete: one entry per declaring macro call.
        let calls =
            ["host_import!(", "read_by_name!(", "read_bytes_by_name!(", "read_by_index!(", "read_bytes_by_index!("]
                .iter()
                .map(|macro_call| declarations(macro_call))
                .sum::<usize>();
        // `read_*` macros call `host_import!` inside, indented, so not counted twice.
        assert_eq!(calls, IMPORTS.len());
    }

    #[test]
    fn the_sdk_covers_the_whole_abi_once_with_the_canonical_bool_put() {
        for (i, a) in IMPORTS.iter().enumerate() {
            assert!(IMPORTS[i + 1..].iter().all(|b| b.name != a.name), "{} declared twice", a.name);
        }
        for import in abi::HOST_IMPORTS {
            let declared = IMPORTS.iter().any(|d| d.name == import.name);
            if import.name == "hostRowWriterPutIntBool" {
                assert!(!declared, "the SDK imports the canonical hostRowWriterPutBool");
            } else {
                assert!(declared, "the SDK does not declare {}", import.name);
            }
        }
    }

    #[test]
    fn every_export_matches_the_abi_table_and_none_is_missing() {
        assert_eq!(declarations("guest_export!("), EXPORTS.len());
        for declared in EXPORTS {
            let export = abi::GUEST_EXPORTS.iter().find(|e| e.name == declared.name).unwrap();
            assert_eq!((declared.params, declared.results), (export.params, export.results), "{}", declared.name);
        }
        // Exported by every module the SDK builds, except the memory (the
        // linker exports it) and the WASI entry points (TinyGo's).
        let not_ours = [abi::export::MEMORY, abi::export::START, abi::export::INITIALIZE];
        for export in abi::GUEST_EXPORTS.iter().filter(|e| !not_ours.contains(&e.name)) {
            assert!(EXPORTS.iter().any(|d| d.name == export.name), "the SDK does not export {}", export.name);
        }
    }

    #[test]
    fn the_wasi_import_matches_the_hosts_table() {
        // Declared by hand (its module is not `env`): one `link_name` of it.
        assert_eq!(include_str!("ffi.rs").matches(concat!("#[link_name = \"", "fd_write\"]")).count(), 1);
        let wasi = abi::wasi_import(FD_WRITE.name).unwrap();
        assert_eq!((FD_WRITE.params, FD_WRITE.results), (wasi.params, wasi.results));
    }

    #[test]
    fn const_comparisons() {
        assert!(types_eq(&[ValType::I32, ValType::I64], &[ValType::I32, ValType::I64]));
        assert!(!types_eq(&[ValType::I32], &[ValType::I64]));
        assert!(!types_eq(&[], &[ValType::I64]));
        assert!(abi::host_import("hostRowWriterPutBool").is_some());
        assert!(abi::host_import("hostNope").is_none());
        assert!(abi::guest_export("WasmOnReadValue").is_some());
    }
}
