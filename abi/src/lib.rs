//! The host/guest contract of extwasm: ABI 0.0.1, as data.
//!
//! This crate is the single source of truth for the ABI. The engine builds its
//! linker from [`HOST_IMPORTS`], the guest SDKs take their import names and
//! signatures from it, and `cargo xtask gen` writes `docs/ABI.md` (and the Go
//! declarations) from it.
//!
//! ```
//! use extwasm_abi::{HOST_IMPORTS, HostFunction, ValType, pack, unpack};
//!
//! let get_key = HOST_IMPORTS.iter().find(|i| i.name == "hostGetKey").unwrap();
//! assert_eq!(get_key.function, HostFunction::GetKey);
//! assert_eq!(get_key.params, &[ValType::I32; 4]);
//! assert_eq!(get_key.results, &[ValType::I64]);
//!
//! // Byte results travel as one u64: pointer in the high half, length in the low.
//! assert_eq!(unpack(pack(0x1000, 5)), (0x1000, 5));
//! ```
#![no_std]
#![deny(missing_docs)]

mod errors;
mod handles;

pub use errors::{ErrorKind, messages, render};
pub use handles::{GENERATION_MASK, HandleFault, HandleKind, decode_handle, encode_handle};

/// The ABI version this crate describes.
pub const ABI_VERSION: &str = "0.0.1";

/// Module name of every host import (`(import "env" "hostGetKey" ...)`).
pub const HOST_MODULE: &str = "env";

/// Module name of the WASI preview 1 imports that TinyGo and Go emit.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Returned by `hostQueryValue` when the value does not exist.
pub const NOT_FOUND: u64 = u64::MAX;

/// Bytes in one WebAssembly page.
pub const WASM_PAGE_SIZE: u64 = 65_536;

/// Size of the exchange buffer the host allocates with the guest's `malloc` at
/// instantiation; string and bytes results are written there.
pub const EXCHANGE_BUFFER_SIZE: u32 = 64_000;

/// Smallest extra buffer the host allocates when a result does not fit in the
/// rest of the exchange buffer (`malloc(max(EXCHANGE_OVERFLOW_MIN, size))`).
pub const EXCHANGE_OVERFLOW_MIN: u32 = 1_000;

/// Default memory limit of an instance, in pages (16 MiB).
pub const DEFAULT_MEMORY_LIMIT_PAGES: u32 = 256;

/// Largest memory limit an instance may be given, in pages.
pub const MAX_MEMORY_LIMIT_PAGES: u32 = 65_535;

/// The memory limit must exceed the exchange buffer by this factor, as the
/// fraction `numerator / denominator` (1.7).
pub const MEMORY_LIMIT_EXCHANGE_FACTOR: (u64, u64) = (17, 10);

/// Packs a guest pointer and a length into the `u64` that byte-returning host
/// functions give back: `(ptr << 32) | len`.
#[inline]
pub const fn pack(ptr: u32, len: u32) -> u64 {
    ((ptr as u64) << 32) | len as u64
}

/// Splits a packed `u64` into `(ptr, len)`; the inverse of [`pack`].
#[inline]
pub const fn unpack(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}

/// A WebAssembly core value type, as it appears in a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl ValType {
    /// The WAT / Go spelling: `i32`, `i64`, `f32`, `f64`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
        }
    }
}

/// What the `kind` argument of the `hostRowWriterPut*` functions says the
/// `id` argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum RowWriterKind {
    /// `id` is a key builder (from `hostGetKey`).
    KeyBuilder = 0,
    /// `id` is an intent (from `hostNewValue` / `hostUpdateValue`).
    Intent = 1,
}

impl RowWriterKind {
    /// Decodes the wire value; `None` for anything but 0 and 1.
    pub const fn from_u32(kind: u32) -> Option<Self> {
        match kind {
            0 => Some(RowWriterKind::KeyBuilder),
            1 => Some(RowWriterKind::Intent),
            _ => None,
        }
    }
}

/// The type of a field as the guest reads or writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FieldType {
    /// UTF-8 string.
    String,
    /// Raw bytes.
    Bytes,
    /// Qualified name (package path, entity), written as one field.
    QName,
    /// Package half of a qualified name (reads only).
    QNamePkg,
    /// Entity half of a qualified name (reads only).
    QNameEntity,
    /// Boolean.
    Bool,
    /// 32-bit integer.
    Int32,
    /// 64-bit integer.
    Int64,
    /// 32-bit float.
    Float32,
    /// 64-bit float.
    Float64,
    /// Nested object or array (reads only).
    Value,
}

impl FieldType {
    /// Lower-case name used in error messages and docs.
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Bytes => "bytes",
            FieldType::QName => "qname",
            FieldType::QNamePkg => "qname package",
            FieldType::QNameEntity => "qname entity",
            FieldType::Bool => "bool",
            FieldType::Int32 => "int32",
            FieldType::Int64 => "int64",
            FieldType::Float32 => "float32",
            FieldType::Float64 => "float64",
            FieldType::Value => "value",
        }
    }
}

impl FieldType {
    /// Whether a read of this type returns bytes through the exchange buffer
    /// (packed `(ptr, len)`).
    pub const fn is_bytes(self) -> bool {
        matches!(self, FieldType::String | FieldType::Bytes | FieldType::QNamePkg | FieldType::QNameEntity)
    }
}

/// What a host import does. Two import names may share one function (the bool
/// put is imported under both `hostRowWriterPutBool` and
/// `hostRowWriterPutIntBool`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum HostFunction {
    /// New key builder for (storage, entity).
    GetKey,
    /// Value for a key; fails the invocation when it does not exist.
    GetValue,
    /// Value for a key, or [`NOT_FOUND`].
    QueryValue,
    /// Calls `WasmOnReadValue(key, value)` once per match.
    ReadValues,
    /// Intent to insert a new value at a key.
    NewValue,
    /// Intent to update an existing value.
    UpdateValue,
    /// Puts a field of the given type on a key builder or an intent.
    RowWriterPut(FieldType),
    /// Number of elements of an array value.
    ValueLength,
    /// Reads a value's field by name.
    ValueAs(FieldType),
    /// Reads an array value's element by index.
    ValueGetAs(FieldType),
    /// Reads a key's field by name (keys handed to `WasmOnReadValue`).
    KeyAs(FieldType),
    /// The guest reports a panic message, then traps.
    Panic,
}

impl HostFunction {
    /// Whether the import returns bytes packed as `(ptr << 32) | len`, written
    /// into a buffer allocated with the guest's `malloc`.
    pub const fn returns_bytes(self) -> bool {
        match self {
            HostFunction::ValueAs(t) | HostFunction::ValueGetAs(t) | HostFunction::KeyAs(t) => t.is_bytes(),
            _ => false,
        }
    }
}

/// One host import: its name in module [`HOST_MODULE`], what it does, and its
/// exact wasm signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostImport {
    /// Import name.
    pub name: &'static str,
    /// What the import does.
    pub function: HostFunction,
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Result types (empty or one).
    pub results: &'static [ValType],
    /// The parameters' names, in order (for docs and generated declarations).
    pub param_names: &'static [&'static str],
    /// One line: what it does.
    pub doc: &'static str,
}

use FieldType as F;
use HostFunction as H;
use ValType::{F32, F64, I32, I64};

const ROW_PUT_NAMES: &[&str] = &["id", "kind", "namePtr", "nameLen", "value"];
const ROW_PUT_BYTES_NAMES: &[&str] = &["id", "kind", "namePtr", "nameLen", "valuePtr", "valueLen"];
const BY_NAME: &[&str] = &["value", "namePtr", "nameLen"];
const KEY_BY_NAME: &[&str] = &["key", "namePtr", "nameLen"];
const BY_INDEX: &[&str] = &["value", "index"];

macro_rules! import {
    ($name:literal, $function:expr, [$($p:expr),*] -> [$($r:expr),*], $names:expr, $doc:literal) => {
        HostImport {
            name: $name,
            function: $function,
            params: &[$($p),*],
            results: &[$($r),*],
            param_names: $names,
            doc: $doc,
        }
    };
}

/// Every host import of ABI 0.0.1, in module [`HOST_MODULE`].
pub const HOST_IMPORTS: &[HostImport] = &[
    import!("hostGetKey", H::GetKey, [I32, I32, I32, I32] -> [I64],
        &["storagePtr", "storageLen", "entityPtr", "entityLen"],
        "New key builder for a storage (e.g. `sys.Event`) and an entity (`\"\"` = none)."),
    import!("hostGetValue", H::GetValue, [I64] -> [I64], &["keyBuilder"],
        "The value for the key; the invocation fails with not-found if it does not exist."),
    import!("hostQueryValue", H::QueryValue, [I64] -> [I64], &["keyBuilder"],
        "The value for the key, or `0xFFFF_FFFF_FFFF_FFFF` when it does not exist."),
    import!("hostReadValues", H::ReadValues, [I64] -> [], &["keyBuilder"],
        "Calls the guest's `WasmOnReadValue(key, value)` once per match (re-entrantly) before returning."),
    import!("hostNewValue", H::NewValue, [I64] -> [I64], &["keyBuilder"],
        "Intent to insert a new value at the key."),
    import!("hostUpdateValue", H::UpdateValue, [I64, I64] -> [I64], &["keyBuilder", "existingValue"],
        "Intent to update an existing value (puts are applied over it)."),
    import!("hostRowWriterPutString", H::RowWriterPut(F::String), [I64, I32, I32, I32, I32, I32] -> [],
        ROW_PUT_BYTES_NAMES, "Puts a UTF-8 string field on a key builder (kind 0) or an intent (kind 1)."),
    import!("hostRowWriterPutBytes", H::RowWriterPut(F::Bytes), [I64, I32, I32, I32, I32, I32] -> [],
        ROW_PUT_BYTES_NAMES, "Puts a bytes field on a key builder (kind 0) or an intent (kind 1)."),
    import!("hostRowWriterPutQName", H::RowWriterPut(F::QName), [I64, I32, I32, I32, I32, I32, I32, I32] -> [],
        &["id", "kind", "namePtr", "nameLen", "pkgPtr", "pkgLen", "entityPtr", "entityLen"],
        "Puts a qualified-name field (full package path, entity)."),
    import!("hostRowWriterPutBool", H::RowWriterPut(F::Bool), [I64, I32, I32, I32, I32] -> [],
        ROW_PUT_NAMES, "Puts a bool field (0 = false, anything else = true)."),
    import!("hostRowWriterPutIntBool", H::RowWriterPut(F::Bool), [I64, I32, I32, I32, I32] -> [],
        ROW_PUT_NAMES, "Same as `hostRowWriterPutBool`: the name the published TinyGo SDK imports."),
    import!("hostRowWriterPutInt32", H::RowWriterPut(F::Int32), [I64, I32, I32, I32, I32] -> [],
        ROW_PUT_NAMES, "Puts an int32 field."),
    import!("hostRowWriterPutInt64", H::RowWriterPut(F::Int64), [I64, I32, I32, I32, I64] -> [],
        ROW_PUT_NAMES, "Puts an int64 field."),
    import!("hostRowWriterPutFloat32", H::RowWriterPut(F::Float32), [I64, I32, I32, I32, F32] -> [],
        ROW_PUT_NAMES, "Puts a float32 field."),
    import!("hostRowWriterPutFloat64", H::RowWriterPut(F::Float64), [I64, I32, I32, I32, F64] -> [],
        ROW_PUT_NAMES, "Puts a float64 field."),
    import!("hostValueLength", H::ValueLength, [I64] -> [I32], &["value"],
        "Number of elements of an array value."),
    import!("hostValueAsString", H::ValueAs(F::String), [I64, I32, I32] -> [I64], BY_NAME,
        "String field by name, copied into guest memory; returns packed (ptr, len)."),
    import!("hostValueAsBytes", H::ValueAs(F::Bytes), [I64, I32, I32] -> [I64], BY_NAME,
        "Bytes field by name, copied into guest memory; returns packed (ptr, len)."),
    import!("hostValueAsInt32", H::ValueAs(F::Int32), [I64, I32, I32] -> [I32], BY_NAME,
        "Int32 field by name."),
    import!("hostValueAsInt64", H::ValueAs(F::Int64), [I64, I32, I32] -> [I64], BY_NAME,
        "Int64 field by name."),
    import!("hostValueAsFloat32", H::ValueAs(F::Float32), [I64, I32, I32] -> [F32], BY_NAME,
        "Float32 field by name."),
    import!("hostValueAsFloat64", H::ValueAs(F::Float64), [I64, I32, I32] -> [F64], BY_NAME,
        "Float64 field by name."),
    import!("hostValueAsBool", H::ValueAs(F::Bool), [I64, I32, I32] -> [I64], BY_NAME,
        "Bool field by name: 0 or 1."),
    import!("hostValueAsQNamePkg", H::ValueAs(F::QNamePkg), [I64, I32, I32] -> [I64], BY_NAME,
        "Package path of a qualified-name field, packed (ptr, len)."),
    import!("hostValueAsQNameEntity", H::ValueAs(F::QNameEntity), [I64, I32, I32] -> [I64], BY_NAME,
        "Entity of a qualified-name field, packed (ptr, len)."),
    import!("hostValueAsValue", H::ValueAs(F::Value), [I64, I32, I32] -> [I64], BY_NAME,
        "Nested object or array field by name, as a new value handle."),
    import!("hostValueGetAsString", H::ValueGetAs(F::String), [I64, I32] -> [I64], BY_INDEX,
        "String element of an array value, packed (ptr, len)."),
    import!("hostValueGetAsBytes", H::ValueGetAs(F::Bytes), [I64, I32] -> [I64], BY_INDEX,
        "Bytes element of an array value, packed (ptr, len)."),
    import!("hostValueGetAsQNamePkg", H::ValueGetAs(F::QNamePkg), [I64, I32] -> [I64], BY_INDEX,
        "Package path of a qualified-name element, packed (ptr, len)."),
    import!("hostValueGetAsQNameEntity", H::ValueGetAs(F::QNameEntity), [I64, I32] -> [I64], BY_INDEX,
        "Entity of a qualified-name element, packed (ptr, len)."),
    import!("hostValueGetAsInt32", H::ValueGetAs(F::Int32), [I64, I32] -> [I32], BY_INDEX,
        "Int32 element of an array value."),
    import!("hostValueGetAsInt64", H::ValueGetAs(F::Int64), [I64, I32] -> [I64], BY_INDEX,
        "Int64 element of an array value."),
    import!("hostValueGetAsBool", H::ValueGetAs(F::Bool), [I64, I32] -> [I64], BY_INDEX,
        "Bool element of an array value: 0 or 1."),
    import!("hostValueGetAsFloat32", H::ValueGetAs(F::Float32), [I64, I32] -> [F32], BY_INDEX,
        "Float32 element of an array value."),
    import!("hostValueGetAsFloat64", H::ValueGetAs(F::Float64), [I64, I32] -> [F64], BY_INDEX,
        "Float64 element of an array value."),
    import!("hostValueGetAsValue", H::ValueGetAs(F::Value), [I64, I32] -> [I64], BY_INDEX,
        "Nested object or array element, as a new value handle."),
    import!("hostKeyAsString", H::KeyAs(F::String), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "String field of a key handed to `WasmOnReadValue`, packed (ptr, len)."),
    import!("hostKeyAsBytes", H::KeyAs(F::Bytes), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "Bytes field of a key, packed (ptr, len)."),
    import!("hostKeyAsQNamePkg", H::KeyAs(F::QNamePkg), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "Package path of a qualified-name key field, packed (ptr, len)."),
    import!("hostKeyAsQNameEntity", H::KeyAs(F::QNameEntity), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "Entity of a qualified-name key field, packed (ptr, len)."),
    import!("hostKeyAsInt32", H::KeyAs(F::Int32), [I64, I32, I32] -> [I32], KEY_BY_NAME,
        "Int32 field of a key."),
    import!("hostKeyAsInt64", H::KeyAs(F::Int64), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "Int64 field of a key."),
    import!("hostKeyAsBool", H::KeyAs(F::Bool), [I64, I32, I32] -> [I64], KEY_BY_NAME,
        "Bool field of a key: 0 or 1."),
    import!("hostKeyAsFloat32", H::KeyAs(F::Float32), [I64, I32, I32] -> [F32], KEY_BY_NAME,
        "Float32 field of a key."),
    import!("hostKeyAsFloat64", H::KeyAs(F::Float64), [I64, I32, I32] -> [F64], KEY_BY_NAME,
        "Float64 field of a key."),
    import!("hostPanic", H::Panic, [I32, I32] -> [], &["msgPtr", "msgLen"],
        "The guest reports a panic message; the invocation fails with it (the guest traps next)."),
];

/// Looks up a host import by its name in [`HOST_MODULE`].
/// A `const fn`, so guest SDKs check their declarations at compile time.
pub const fn host_import(name: &str) -> Option<&'static HostImport> {
    let mut i = 0;
    while i < HOST_IMPORTS.len() {
        if names_equal(HOST_IMPORTS[i].name, name) {
            return Some(&HOST_IMPORTS[i]);
        }
        i += 1;
    }
    None
}

/// Looks up a guest export of the ABI by name; a `const fn`, like
/// [`host_import`].
pub const fn guest_export(name: &str) -> Option<&'static GuestExport> {
    let mut i = 0;
    while i < GUEST_EXPORTS.len() {
        if names_equal(GUEST_EXPORTS[i].name, name) {
            return Some(&GUEST_EXPORTS[i]);
        }
        i += 1;
    }
    None
}

/// `a == b` for names, usable in constants (`==` on `str` is not `const`).
pub const fn names_equal(a: &str, b: &str) -> bool {
    bytes_equal(a.as_bytes(), b.as_bytes())
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One function (or the memory) a guest module exports for the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestExport {
    /// Export name.
    pub name: &'static str,
    /// Parameter types (empty for `memory`).
    pub params: &'static [ValType],
    /// Result types.
    pub results: &'static [ValType],
    /// Whether the engine refuses a module without it.
    pub required: bool,
    /// One line: what it is for.
    pub doc: &'static str,
}

/// Export names the engine looks for.
pub mod export {
    /// The guest's linear memory.
    pub const MEMORY: &str = "memory";
    /// Presence means the guest speaks ABI 0.0.1.
    pub const ABI_VERSION: &str = "WasmAbiVersion_0_0_1";
    /// Per-item callback of `hostReadValues`.
    pub const ON_READ_VALUE: &str = "WasmOnReadValue";
    /// Bytes in use on the guest heap.
    pub const GET_HEAP_INUSE: &str = "WasmGetHeapInuse";
    /// Bytes the guest heap obtained from memory.
    pub const GET_HEAP_SYS: &str = "WasmGetHeapSys";
    /// Number of allocations so far.
    pub const GET_MALLOCS: &str = "WasmGetMallocs";
    /// Number of frees so far.
    pub const GET_FREES: &str = "WasmGetFrees";
    /// Asks the guest to collect garbage (a no-op under a leaking allocator).
    pub const GC: &str = "WasmGC";
    /// Guest allocator: `malloc(size i32) -> i32`.
    pub const MALLOC: &str = "malloc";
    /// Guest allocator: `free(ptr i32)`.
    pub const FREE: &str = "free";
    /// C allocator export TinyGo adds.
    pub const CALLOC: &str = "calloc";
    /// C allocator export TinyGo adds.
    pub const REALLOC: &str = "realloc";
    /// WASI command entry (TinyGo `-target=wasi`).
    pub const START: &str = "_start";
    /// WASI reactor entry (`-buildmode=c-shared`).
    pub const INITIALIZE: &str = "_initialize";
}

/// Every export of ABI 0.0.1 the engine knows about.
pub const GUEST_EXPORTS: &[GuestExport] = &[
    GuestExport { name: export::MEMORY, params: &[], results: &[], required: true, doc: "Linear memory." },
    GuestExport {
        name: export::ABI_VERSION,
        params: &[],
        results: &[],
        required: true,
        doc: "Presence means the guest speaks ABI 0.0.1; a module without it is refused at load.",
    },
    GuestExport {
        name: export::ON_READ_VALUE,
        params: &[I64, I64],
        results: &[],
        required: false,
        doc: "`(key, value)`: per-item callback of `hostReadValues`.",
    },
    GuestExport {
        name: export::GET_HEAP_INUSE,
        params: &[],
        results: &[I64],
        required: false,
        doc: "Bytes in use on the guest heap (diagnostics).",
    },
    GuestExport {
        name: export::GET_HEAP_SYS,
        params: &[],
        results: &[I64],
        required: false,
        doc: "Bytes the guest heap took from linear memory (diagnostics).",
    },
    GuestExport {
        name: export::GET_MALLOCS,
        params: &[],
        results: &[I64],
        required: false,
        doc: "Number of allocations (diagnostics).",
    },
    GuestExport {
        name: export::GET_FREES,
        params: &[],
        results: &[I64],
        required: false,
        doc: "Number of frees (diagnostics).",
    },
    GuestExport {
        name: export::GC,
        params: &[],
        results: &[],
        required: false,
        doc: "Asks the guest to collect; a no-op under a leaking allocator.",
    },
    GuestExport {
        name: export::MALLOC,
        params: &[I32],
        results: &[I32],
        required: false,
        doc: "`malloc(size) -> ptr`: the host allocates its exchange buffer with it.",
    },
    GuestExport { name: export::FREE, params: &[I32], results: &[], required: false, doc: "`free(ptr)`." },
    GuestExport {
        name: export::START,
        params: &[],
        results: &[],
        required: false,
        doc: "WASI command initialisation; run once at instantiation when `_initialize` is absent.",
    },
    GuestExport {
        name: export::INITIALIZE,
        params: &[],
        results: &[],
        required: false,
        doc: "WASI reactor initialisation; run once at instantiation.",
    },
];

/// A WASI preview 1 function the host provides (module [`WASI_MODULE`]):
/// what TinyGo's and Go's runtimes import, and what the Rust SDK's `log!`
/// writes with (`fd_write`). Not part of ABI 0.0.1 itself; the host answers
/// them as `docs/ABI.md` says (output captured, clocks and entropy real, no
/// filesystem).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WasiImport {
    /// Function name.
    pub name: &'static str,
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Result types.
    pub results: &'static [ValType],
}

/// The WASI preview 1 functions the host implements. (Filesystem and
/// socket functions link too, with the module's signature, and fail.)
pub const WASI_IMPORTS: &[WasiImport] = &[
    WasiImport { name: "fd_write", params: &[I32, I32, I32, I32], results: &[I32] },
    WasiImport { name: "proc_exit", params: &[I32], results: &[] },
    WasiImport { name: "clock_time_get", params: &[I32, I64, I32], results: &[I32] },
    WasiImport { name: "random_get", params: &[I32, I32], results: &[I32] },
    WasiImport { name: "args_get", params: &[I32, I32], results: &[I32] },
    WasiImport { name: "args_sizes_get", params: &[I32, I32], results: &[I32] },
    WasiImport { name: "environ_get", params: &[I32, I32], results: &[I32] },
    WasiImport { name: "environ_sizes_get", params: &[I32, I32], results: &[I32] },
    WasiImport { name: "sched_yield", params: &[], results: &[I32] },
    WasiImport { name: "poll_oneoff", params: &[I32, I32, I32, I32], results: &[I32] },
];

/// Looks up a WASI function the host implements by name; a `const fn`, like
/// [`host_import`].
pub const fn wasi_import(name: &str) -> Option<&'static WasiImport> {
    let mut i = 0;
    while i < WASI_IMPORTS.len() {
        if names_equal(WASI_IMPORTS[i].name, name) {
            return Some(&WASI_IMPORTS[i]);
        }
        i += 1;
    }
    None
}

/// The WASI preview 1 filesystem and socket functions a host links with
/// whatever signature the module declares (as long as it returns an errno)
/// and that always fail: modules built by standard toolchains import them,
/// extensions may not use them.
pub const WASI_DENIED: &[&str] = &[
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_dir_name",
    "fd_prestat_get",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "proc_raise",
    "sock_accept",
    "sock_recv",
    "sock_send",
    "sock_shutdown",
];

/// Export names an extension may not have besides those starting with
/// [`RESERVED_EXTENSION_PREFIX`].
pub const RESERVED_EXTENSION_NAMES: &[&str] =
    &[export::MALLOC, export::FREE, export::CALLOC, export::REALLOC, export::START, export::INITIALIZE, export::MEMORY];

/// Extension names starting with this prefix are reserved for the ABI.
pub const RESERVED_EXTENSION_PREFIX: &str = "Wasm";

/// Whether `name` is reserved and so cannot name an extension. A `const fn`,
/// so guest SDKs can refuse reserved names at compile time.
pub const fn is_reserved_extension_name(name: &str) -> bool {
    let prefix = RESERVED_EXTENSION_PREFIX.as_bytes();
    if name.len() >= prefix.len() && bytes_equal(name.as_bytes().split_at(prefix.len()).0, prefix) {
        return true;
    }
    let mut i = 0;
    while i < RESERVED_EXTENSION_NAMES.len() {
        if names_equal(name, RESERVED_EXTENSION_NAMES[i]) {
            return true;
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_extremes() {
        for (ptr, len) in [(0, 0), (u32::MAX, u32::MAX), (1, u32::MAX), (u32::MAX, 0)] {
            assert_eq!(unpack(pack(ptr, len)), (ptr, len));
        }
        assert_eq!(pack(1, 2), 0x0000_0001_0000_0002);
    }

    #[test]
    fn import_names_are_unique_and_param_names_match_arity() {
        for (i, a) in HOST_IMPORTS.iter().enumerate() {
            assert_eq!(a.params.len(), a.param_names.len(), "{}", a.name);
            assert!(a.results.len() <= 1, "{}", a.name);
            for b in &HOST_IMPORTS[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }

    #[test]
    fn const_lookups_find_what_the_tables_hold() {
        for import in HOST_IMPORTS {
            assert_eq!(host_import(import.name), Some(import));
        }
        for export in GUEST_EXPORTS {
            assert_eq!(guest_export(export.name), Some(export));
        }
        assert_eq!(host_import("hostGetKe"), None);
        assert_eq!(guest_export("mallocs"), None);
        assert!(names_equal("", "") && !names_equal("a", "ab") && !names_equal("ab", "aB"));
    }

    #[test]
    fn both_bool_put_names_are_one_function() {
        let canonical = host_import("hostRowWriterPutBool").unwrap();
        let published = host_import("hostRowWriterPutIntBool").unwrap();
        assert_eq!(canonical.function, published.function);
        assert_eq!(canonical.params, published.params);
    }

    #[test]
    fn reserved_names() {
        for name in [
            "WasmOnReadValue",
            "WasmAnything",
            "Wasm",
            "malloc",
            "free",
            "calloc",
            "realloc",
            "_start",
            "_initialize",
            "memory",
        ] {
            assert!(is_reserved_extension_name(name), "{name}");
        }
        for name in ["NewOrder", "wasmLower", "doNothing", "", "Wasn", "mallocs", "memor", "x_start", "Wasé"] {
            assert!(!is_reserved_extension_name(name), "{name}");
        }
    }

    #[test]
    fn row_writer_kind_wire_values() {
        assert_eq!(RowWriterKind::from_u32(0), Some(RowWriterKind::KeyBuilder));
        assert_eq!(RowWriterKind::from_u32(1), Some(RowWriterKind::Intent));
        assert_eq!(RowWriterKind::from_u32(2), None);
        assert_eq!(RowWriterKind::Intent as u32, 1);
    }
}
