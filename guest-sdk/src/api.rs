//! The extension author's API: [`Ext`] (the running invocation), key
//! builders, values, keys and intents. Safe code only; every host call goes
//! through `crate::host` (the FFI wrappers on wasm32, the mock host natively).

use core::fmt;
use core::marker::PhantomData;

use extwasm_abi::RowWriterKind;

use crate::host;

/// A qualified name: full package path and entity
/// (`github.com/org/app/mypkg` + `OrderedItems`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QName<'a> {
    /// Full package path.
    pub pkg: &'a str,
    /// Entity name within the package.
    pub entity: &'a str,
}

/// The running invocation: what an extension function receives, and where
/// every host call starts (`ext.key_builder(…)`, `ext.must_get_value(…)`, …).
///
/// `'i` is the invocation: key builders, values, keys and intents, and the
/// strings and bytes read from them (borrowed from the host's exchange buffer,
/// not copied), all carry it, so none of them can be kept past the
/// invocation — the host reuses the buffer and forgets the handles when the
/// next one starts. An `Ext` cannot be made by extension code; the SDK makes
/// one per invocation (see [`crate::extension!`] and
/// [`crate::testing::MockHost::run`]).
///
/// So this does not compile, leaked value or not:
///
/// ```compile_fail
/// use extwasm_guest_sdk::{Ext, NULL_ENTITY, STORAGE_EVENT};
///
/// fn keep_forever(_: &'static str) {}
///
/// fn keep(ext: Ext<'_>) {
///     let event = Box::leak(Box::new(ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY))));
///     keep_forever(event.as_string("name")); // error: borrowed data escapes
/// }
/// ```
#[derive(Clone, Copy)]
pub struct Ext<'i> {
    /// Brands everything of this invocation; `*const ()` keeps it on its thread.
    _invocation: PhantomData<(&'i (), *const ())>,
}

impl fmt::Debug for Ext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ext")
    }
}

/// Runs one invocation of `extension`. Called by the export that
/// [`crate::extension!`] generates and by the mock host; not for extension code.
#[doc(hidden)]
pub fn invoke(extension: impl for<'i> FnOnce(Ext<'i>)) {
    host::begin_invocation();
    extension(Ext { _invocation: PhantomData });
}

impl<'i> Ext<'i> {
    /// A new key builder for a storage (e.g. [`crate::STORAGE_VIEW`]) and an
    /// entity ([`crate::NULL_ENTITY`] for none).
    pub fn key_builder(self, storage: &str, entity: &str) -> KeyBuilder<'i> {
        KeyBuilder { handle: host::get_key(storage, entity), _ext: self }
    }

    /// The value for `key`. When there is none the invocation fails (with a
    /// not-found error that names the key); use [`Ext::query_value`] when it
    /// may be absent.
    pub fn must_get_value(self, key: &KeyBuilder<'i>) -> Value<'i> {
        Value { handle: host::get_value(key.handle), ext: self }
    }

    /// The value for `key`, or `None` when there is none.
    pub fn query_value(self, key: &KeyBuilder<'i>) -> Option<Value<'i>> {
        host::query_value(key.handle).map(|handle| Value { handle, ext: self })
    }

    /// Calls `each(key, value)` for every record that matches the (partial)
    /// `key`, in the state's order. `each` may read again, `read_values`
    /// included.
    pub fn read_values(self, key: &KeyBuilder<'i>, mut each: impl FnMut(Key<'i>, Value<'i>)) {
        host::read_values(key.handle, &mut |key, value| {
            each(Key { handle: key, ext: self }, Value { handle: value, ext: self });
        });
    }

    /// An intent to insert a new value at `key`; put its fields on it.
    pub fn new_value(self, key: &KeyBuilder<'i>) -> Intent<'i> {
        Intent { handle: host::new_value(key.handle), _ext: self }
    }

    /// An intent to update `existing` (a value read at `key`); the fields put
    /// on it are applied over the existing ones.
    pub fn update_value(self, key: &KeyBuilder<'i>, existing: &Value<'i>) -> Intent<'i> {
        Intent { handle: host::update_value(key.handle, existing.handle), _ext: self }
    }
}

/// A key under construction: storage, entity and the key fields put on it.
#[derive(Clone, Copy, Debug)]
pub struct KeyBuilder<'i> {
    handle: u64,
    _ext: Ext<'i>,
}

/// An intent: a value to insert or update, and the fields put on it.
#[derive(Clone, Copy, Debug)]
pub struct Intent<'i> {
    handle: u64,
    _ext: Ext<'i>,
}

/// Typed puts of a row writer (key builders and intents).
macro_rules! row_writer {
    ($ty:ident, $kind:expr, $what:literal) => {
        impl $ty<'_> {
            #[doc = concat!("Puts an int32 field on the ", $what, ".")]
            pub fn put_int32(&self, name: &str, value: i32) -> &Self {
                host::put_int32(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts an int64 field on the ", $what, ".")]
            pub fn put_int64(&self, name: &str, value: i64) -> &Self {
                host::put_int64(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a float32 field on the ", $what, ".")]
            pub fn put_float32(&self, name: &str, value: f32) -> &Self {
                host::put_float32(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a float64 field on the ", $what, ".")]
            pub fn put_float64(&self, name: &str, value: f64) -> &Self {
                host::put_float64(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a bool field on the ", $what, ".")]
            pub fn put_bool(&self, name: &str, value: bool) -> &Self {
                host::put_bool(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a string field on the ", $what, ".")]
            pub fn put_string(&self, name: &str, value: &str) -> &Self {
                host::put_string(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a bytes field on the ", $what, ".")]
            pub fn put_bytes(&self, name: &str, value: &[u8]) -> &Self {
                host::put_bytes(self.handle, $kind, name, value);
                self
            }

            #[doc = concat!("Puts a qualified-name field on the ", $what, ".")]
            pub fn put_qname(&self, name: &str, value: QName<'_>) -> &Self {
                host::put_qname(self.handle, $kind, name, value.pkg, value.entity);
                self
            }
        }
    };
}

row_writer!(KeyBuilder, RowWriterKind::KeyBuilder, "key");
row_writer!(Intent, RowWriterKind::Intent, "intent");

/// A value: a record, or a nested object or array of one. Reading a field
/// that is missing or of another type fails the invocation.
#[derive(Clone, Copy, Debug)]
pub struct Value<'i> {
    handle: u64,
    ext: Ext<'i>,
}

impl<'i> Value<'i> {
    /// Int32 field `name` (an integer that fits).
    pub fn as_int32(&self, name: &str) -> i32 {
        host::value_as_int32(self.handle, name)
    }

    /// Int64 field `name`.
    pub fn as_int64(&self, name: &str) -> i64 {
        host::value_as_int64(self.handle, name)
    }

    /// Float32 field `name` (any number).
    pub fn as_float32(&self, name: &str) -> f32 {
        host::value_as_float32(self.handle, name)
    }

    /// Float64 field `name` (any number).
    pub fn as_float64(&self, name: &str) -> f64 {
        host::value_as_float64(self.handle, name)
    }

    /// Bool field `name`.
    pub fn as_bool(&self, name: &str) -> bool {
        host::value_as_bool(self.handle, name)
    }

    /// String field `name`, borrowed from the host's buffer for the invocation.
    pub fn as_string(&self, name: &str) -> &'i str {
        host::value_as_string(self.ext, self.handle, name)
    }

    /// Bytes field `name` (strings read as their UTF-8 bytes), borrowed for
    /// the invocation.
    pub fn as_bytes(&self, name: &str) -> &'i [u8] {
        host::value_as_bytes(self.ext, self.handle, name)
    }

    /// Qualified-name field `name`.
    pub fn as_qname(&self, name: &str) -> QName<'i> {
        QName {
            pkg: host::value_as_qname_pkg(self.ext, self.handle, name),
            entity: host::value_as_qname_entity(self.ext, self.handle, name),
        }
    }

    /// Nested object or array field `name`.
    pub fn as_value(&self, name: &str) -> Value<'i> {
        Value { handle: host::value_as_value(self.handle, name), ext: self.ext }
    }

    /// Number of elements of this array (the invocation fails when this is
    /// not an array).
    pub fn len(&self) -> usize {
        host::value_len(self.handle)
    }

    /// Whether this array is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Int32 element `index` of this array.
    pub fn get_as_int32(&self, index: usize) -> i32 {
        host::value_get_as_int32(self.handle, index)
    }

    /// Int64 element `index`.
    pub fn get_as_int64(&self, index: usize) -> i64 {
        host::value_get_as_int64(self.handle, index)
    }

    /// Float32 element `index`.
    pub fn get_as_float32(&self, index: usize) -> f32 {
        host::value_get_as_float32(self.handle, index)
    }

    /// Float64 element `index`.
    pub fn get_as_float64(&self, index: usize) -> f64 {
        host::value_get_as_float64(self.handle, index)
    }

    /// Bool element `index`.
    pub fn get_as_bool(&self, index: usize) -> bool {
        host::value_get_as_bool(self.handle, index)
    }

    /// String element `index`, borrowed for the invocation.
    pub fn get_as_string(&self, index: usize) -> &'i str {
        host::value_get_as_string(self.ext, self.handle, index)
    }

    /// Bytes element `index`, borrowed for the invocation.
    pub fn get_as_bytes(&self, index: usize) -> &'i [u8] {
        host::value_get_as_bytes(self.ext, self.handle, index)
    }

    /// Qualified-name element `index`.
    pub fn get_as_qname(&self, index: usize) -> QName<'i> {
        QName {
            pkg: host::value_get_as_qname_pkg(self.ext, self.handle, index),
            entity: host::value_get_as_qname_entity(self.ext, self.handle, index),
        }
    }

    /// Nested object or array element `index`.
    pub fn get_as_value(&self, index: usize) -> Value<'i> {
        Value { handle: host::value_get_as_value(self.handle, index), ext: self.ext }
    }
}

// Raw handles, for tests of how hosts treat misused handles (the
// conformance table's stale, forged and wrong-kind scenarios): hidden, and
// no way for an extension to do anything it could not do otherwise, since
// the host checks every handle it is given; a made-up or kept one only fails
// the invocation.
impl<'i> Value<'i> {
    /// A value of any `u64`, as a guest may pass one on the wire. Test-only:
    /// the host fails the invocation unless it handed this handle out in it.
    #[doc(hidden)]
    pub fn from_raw_handle(ext: Ext<'i>, handle: u64) -> Self {
        Value { handle, ext }
    }

    /// The handle the host knows this value by. Test-only.
    #[doc(hidden)]
    pub fn raw_handle(&self) -> u64 {
        self.handle
    }
}

impl KeyBuilder<'_> {
    /// The handle the host knows this key builder by. Test-only.
    #[doc(hidden)]
    pub fn raw_handle(&self) -> u64 {
        self.handle
    }
}

impl Intent<'_> {
    /// The handle the host knows this intent by. Test-only.
    #[doc(hidden)]
    pub fn raw_handle(&self) -> u64 {
        self.handle
    }
}

/// The key of a record, as [`Ext::read_values`] hands it over; fields are
/// read by name.
#[derive(Clone, Copy, Debug)]
pub struct Key<'i> {
    handle: u64,
    ext: Ext<'i>,
}

impl<'i> Key<'i> {
    /// Int32 key field `name`.
    pub fn as_int32(&self, name: &str) -> i32 {
        host::key_as_int32(self.handle, name)
    }

    /// Int64 key field `name`.
    pub fn as_int64(&self, name: &str) -> i64 {
        host::key_as_int64(self.handle, name)
    }

    /// Float32 key field `name`.
    pub fn as_float32(&self, name: &str) -> f32 {
        host::key_as_float32(self.handle, name)
    }

    /// Float64 key field `name`.
    pub fn as_float64(&self, name: &str) -> f64 {
        host::key_as_float64(self.handle, name)
    }

    /// Bool key field `name`.
    pub fn as_bool(&self, name: &str) -> bool {
        host::key_as_bool(self.handle, name)
    }

    /// String key field `name`, borrowed for the invocation.
    pub fn as_string(&self, name: &str) -> &'i str {
        host::key_as_string(self.ext, self.handle, name)
    }

    /// Bytes key field `name`, borrowed for the invocation.
    pub fn as_bytes(&self, name: &str) -> &'i [u8] {
        host::key_as_bytes(self.ext, self.handle, name)
    }

    /// Qualified-name key field `name`.
    pub fn as_qname(&self, name: &str) -> QName<'i> {
        QName {
            pkg: host::key_as_qname_pkg(self.ext, self.handle, name),
            entity: host::key_as_qname_entity(self.ext, self.handle, name),
        }
    }
}
