//! The embedder's side: the platform state extensions read, and the rows
//! (key builders and intents) they write.
//!
//! An embedder implements [`State`] for its storage and [`Value`] for a cheap
//! handle to one of its records (an `Arc`, an index, a cursor): the engine
//! never asks for a whole record, only for the field the guest reads, so no
//! record is converted on any call. [`crate::JsonState`] is the reference
//! implementation.

use std::fmt;
use std::ops::ControlFlow;

use extwasm_abi::FieldType;

use crate::names::str_eq;

/// A qualified name: full package path and entity
/// (`github.com/org/app/mypkg` + `OrderedItems`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QName<'a> {
    /// Full package path.
    pub pkg: &'a str,
    /// Entity name within the package.
    pub entity: &'a str,
}

/// A scalar: what a guest puts on a key builder or an intent, and what a
/// value's field holds when it is not nested.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// 32-bit integer.
    Int32(i32),
    /// 64-bit integer.
    Int64(i64),
    /// 32-bit float.
    Float32(f32),
    /// 64-bit float.
    Float64(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string.
    String(&'a str),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// Qualified name.
    QName(QName<'a>),
}

impl Scalar<'_> {
    /// Lower-case type name, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Int32(_) => "int32",
            Scalar::Int64(_) => "int64",
            Scalar::Float32(_) => "float32",
            Scalar::Float64(_) => "float64",
            Scalar::Bool(_) => "bool",
            Scalar::String(_) => "string",
            Scalar::Bytes(_) => "bytes",
            Scalar::QName(_) => "qname",
        }
    }

    /// Numeric view for comparisons across integer and float widths.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Int32(v) => Some(v as f64),
            Scalar::Int64(v) => Some(v as f64),
            Scalar::Float32(v) => Some(v as f64),
            Scalar::Float64(v) => Some(v),
            _ => None,
        }
    }

    /// Integer view for exact comparisons.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Int32(v) => Some(v as i64),
            Scalar::Int64(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int32(v) => write!(f, "{v}"),
            Scalar::Int64(v) => write!(f, "{v}"),
            Scalar::Float32(v) => write!(f, "{v}"),
            Scalar::Float64(v) => write!(f, "{v}"),
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::String(v) => write!(f, "{v:?}"),
            Scalar::Bytes(v) => write!(f, "<{} bytes>", v.len()),
            Scalar::QName(q) => write!(f, "{}.{}", q.pkg, q.entity),
        }
    }
}

/// A field of a value, as the embedder exposes it: a scalar borrowed from the
/// record, or a handle to a nested object or array.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<'a, V> {
    /// A scalar field.
    Scalar(Scalar<'a>),
    /// A nested object or array.
    Value(V),
}

impl<V> Field<'_, V> {
    /// Whether a guest may read this field as `want`, by the engine's rules:
    /// integers read as any integer width (range-checked) and as floats,
    /// floats as either float width, strings also as bytes, qualified names
    /// whole or as their halves, nested values only as values. `Err` names
    /// the type the field has.
    pub fn readable_as(&self, want: FieldType) -> Result<(), &'static str> {
        let ok = match (self, want) {
            (Field::Value(_), FieldType::Value) => true,
            (Field::Value(_), _) => false,
            (Field::Scalar(s), want) => matches!(
                (s, want),
                (Scalar::Int32(_) | Scalar::Int64(_), FieldType::Int32 | FieldType::Int64)
                    | (
                        Scalar::Int32(_) | Scalar::Int64(_) | Scalar::Float32(_) | Scalar::Float64(_),
                        FieldType::Float32 | FieldType::Float64
                    )
                    | (Scalar::Bool(_), FieldType::Bool)
                    | (Scalar::String(_), FieldType::String | FieldType::Bytes)
                    | (Scalar::Bytes(_), FieldType::Bytes)
                    | (Scalar::QName(_), FieldType::QName | FieldType::QNamePkg | FieldType::QNameEntity)
            ),
        };
        if ok { Ok(()) } else { Err(self.type_name()) }
    }

    /// Lower-case type name, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Field::Scalar(s) => s.type_name(),
            Field::Value(_) => "value",
        }
    }
}

/// A value (record, nested object or array) of the embedder's state, as a
/// cheap handle.
///
/// The engine keeps the handles it hands to a guest until the next invocation
/// starts, and asks for one field at a time. Which of the embedder's types a
/// guest may read as which [`FieldType`] is decided by the engine (see
/// [`crate::Error::TypeMismatch`]): integers read as any integer width they fit
/// and as floats, strings also read as bytes.
///
/// `Send`: an instance, with the handles it holds, may be handed to the
/// engine's reclaimer thread to be dropped.
pub trait Value: Sized + Send + 'static {
    /// The field called `name`, or `None` when there is none. A scalar value
    /// may answer the name `""` with itself.
    fn field(&self, name: &str) -> Option<Field<'_, Self>>;

    /// Element `index` of an array value, or `None` when out of range or when
    /// this is not an array.
    fn element(&self, index: usize) -> Option<Field<'_, Self>>;

    /// Number of elements when this is an array, `None` otherwise.
    fn len(&self) -> Option<usize>;

    /// Whether this is an empty array.
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// An error of the embedder's state (an I/O failure, say). It fails the
/// invocation that met it, as [`crate::Error::State`].
#[derive(Debug)]
pub struct StateError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StateError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        StateError { message: message.into(), source: None }
    }

    /// An error with a message and the underlying cause.
    pub fn with_source(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StateError { message: message.into(), source: Some(Box::new(source)) }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The platform state an extension reads.
///
/// Calls take `&self`: a read callback may call back into the state
/// (`hostReadValues` is re-entrant), so implementations that cache use
/// interior mutability. `Sync`: workers on many threads read one state,
/// and instances move between threads (see [`Value`]).
pub trait State: Sync + 'static {
    /// Handle to a value.
    type Value: Value;
    /// Handle to a key handed to a read callback (read by field name).
    type Key: Value;

    /// The first value matching `key`, or `None`. Must-get (`hostGetValue`) is
    /// this plus a not-found error raised by the engine.
    fn query(&self, key: &KeyBuilder) -> Result<Option<Self::Value>, StateError>;

    /// Calls `each` for every (key, value) matching the partial `key`, in the
    /// state's order, until `each` answers [`ControlFlow::Break`] (the guest
    /// failed; stop and return `Ok`).
    fn read(
        &self,
        key: &KeyBuilder,
        each: &mut dyn FnMut(Self::Key, Self::Value) -> ControlFlow<()>,
    ) -> Result<(), StateError>;

    /// Whether a guest may make an insert intent at `key` (`hostNewValue`):
    /// `Err` refuses it, and the invocation fails with that state error and
    /// hands over no intent. Called when the guest asks for the intent, with
    /// the key as it is then. The default accepts every insert.
    fn check_insert(&self, key: &KeyBuilder) -> Result<(), StateError> {
        let _ = key;
        Ok(())
    }

    /// Whether a guest may make an update intent of `existing` at `key`
    /// (`hostUpdateValue`); as [`State::check_insert`]. The default accepts
    /// every update.
    fn check_update(&self, key: &KeyBuilder, existing: &Self::Value) -> Result<(), StateError> {
        let _ = (key, existing);
        Ok(())
    }
}

/// Named scalars, in the order they were first put; putting a name again
/// replaces its value in place. Storage is reused across invocations, so
/// steady-state puts do not allocate.
#[derive(Clone, Debug, Default)]
pub struct Row {
    text: String,
    bytes: Vec<u8>,
    fields: Vec<RowField>,
}

#[derive(Clone, Copy, Debug)]
struct RowField {
    name: (u32, u32),
    value: Stored,
}

#[derive(Clone, Copy, Debug)]
enum Stored {
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Bool(bool),
    String(u32, u32),
    Bytes(u32, u32),
    QName(u32, u32, u32),
}

impl Row {
    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.bytes.clear();
        self.fields.clear();
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }

    /// Sets field `name` to `value`, replacing an earlier value of the name.
    pub fn put(&mut self, name: &str, value: Scalar<'_>) {
        let stored = match value {
            Scalar::Int32(v) => Stored::Int32(v),
            Scalar::Int64(v) => Stored::Int64(v),
            Scalar::Float32(v) => Stored::Float32(v),
            Scalar::Float64(v) => Stored::Float64(v),
            Scalar::Bool(v) => Stored::Bool(v),
            Scalar::String(s) => {
                let (a, b) = self.push_text(s);
                Stored::String(a, b)
            }
            Scalar::Bytes(v) => {
                let start = self.bytes.len() as u32;
                self.bytes.extend_from_slice(v);
                Stored::Bytes(start, self.bytes.len() as u32)
            }
            Scalar::QName(q) => {
                let (a, mid) = self.push_text(q.pkg);
                let (_, b) = self.push_text(q.entity);
                Stored::QName(a, mid, b)
            }
        };
        if let Some(i) = self.position(name) {
            self.fields[i].value = stored;
        } else {
            let name = self.push_text(name);
            self.fields.push(RowField { name, value: stored });
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| str_eq(self.name_of(f), name))
    }

    fn name_of(&self, field: &RowField) -> &str {
        &self.text[field.name.0 as usize..field.name.1 as usize]
    }

    fn scalar(&self, stored: Stored) -> Scalar<'_> {
        match stored {
            Stored::Int32(v) => Scalar::Int32(v),
            Stored::Int64(v) => Scalar::Int64(v),
            Stored::Float32(v) => Scalar::Float32(v),
            Stored::Float64(v) => Scalar::Float64(v),
            Stored::Bool(v) => Scalar::Bool(v),
            Stored::String(a, b) => Scalar::String(&self.text[a as usize..b as usize]),
            Stored::Bytes(a, b) => Scalar::Bytes(&self.bytes[a as usize..b as usize]),
            Stored::QName(a, mid, b) => Scalar::QName(QName {
                pkg: &self.text[a as usize..mid as usize],
                entity: &self.text[mid as usize..b as usize],
            }),
        }
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<Scalar<'_>> {
        self.position(name).map(|i| self.scalar(self.fields[i].value))
    }

    /// The fields as (name, value), in the order their names were first put.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Scalar<'_>)> + '_ {
        self.fields.iter().map(|f| (self.name_of(f), self.scalar(f.value)))
    }
}

/// A key: storage, entity and the fields the guest put on it. State lookups
/// receive it; a read matches every record that has all of its fields.
#[derive(Clone, Debug, Default)]
pub struct KeyBuilder {
    storage: String,
    entity: String,
    fields: Row,
}

impl KeyBuilder {
    /// A key builder for (storage, entity) with no fields.
    pub fn new(storage: &str, entity: &str) -> Self {
        let mut key = KeyBuilder::default();
        key.reset(storage, entity);
        key
    }

    /// Reuses this builder for (storage, entity), keeping its allocations.
    pub(crate) fn reset(&mut self, storage: &str, entity: &str) {
        self.storage.clear();
        self.storage.push_str(storage);
        self.entity.clear();
        self.entity.push_str(entity);
        self.fields.clear();
    }

    /// Storage name (`sys.Event`, `sys.View`, …).
    pub fn storage(&self) -> &str {
        &self.storage
    }

    /// Entity (`""` for none).
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The key fields put so far.
    pub fn fields(&self) -> &Row {
        &self.fields
    }

    pub(crate) fn fields_mut(&mut self) -> &mut Row {
        &mut self.fields
    }

    /// Puts a key field (as the guest's `hostRowWriterPut*` does).
    pub fn put(&mut self, name: &str, value: Scalar<'_>) {
        self.fields.put(name, value);
    }
}

impl fmt::Display for KeyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage {:?}, entity {:?}, key {{", self.storage, self.entity)?;
        for (i, (name, value)) in self.fields.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name}: {value}")?;
        }
        f.write_str("}")
    }
}

/// What an intent asks for.
#[derive(Debug)]
pub enum IntentKind<'a, V> {
    /// Insert a new value at the key (`hostNewValue`).
    Insert,
    /// Update an existing value (`hostUpdateValue`): the intent's fields are
    /// applied over `existing`.
    Update {
        /// The value the guest read and wants to change.
        existing: &'a V,
    },
}

/// One intent of a successful invocation.
#[derive(Debug)]
pub struct Intent<'a, V> {
    /// Insert or update.
    pub kind: IntentKind<'a, V>,
    /// Where: storage, entity and key fields.
    pub key: &'a KeyBuilder,
    /// The fields the guest put on the intent.
    pub value: &'a Row,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_put_replaces_and_keeps_first_order() {
        let mut row = Row::default();
        row.put("a", Scalar::Int32(1));
        row.put("b", Scalar::String("x"));
        row.put("a", Scalar::String("second"));
        let fields: Vec<_> = row.iter().collect();
        assert_eq!(fields, vec![("a", Scalar::String("second")), ("b", Scalar::String("x"))]);
        row.put("q", Scalar::QName(QName { pkg: "a.b/c", entity: "E" }));
        assert_eq!(row.get("q"), Some(Scalar::QName(QName { pkg: "a.b/c", entity: "E" })));
        row.clear();
        assert!(row.is_empty());
        assert_eq!(row.get("a"), None);
    }

    #[test]
    fn key_builder_display_names_everything() {
        let mut key = KeyBuilder::new("sys.View", "pkg.V");
        key.put("pk", Scalar::Int32(1));
        key.put("s", Scalar::String("x"));
        assert_eq!(key.to_string(), r#"storage "sys.View", entity "pkg.V", key {pk: 1, s: "x"}"#);
    }

    #[test]
    fn type_rules() {
        let int: Field<'_, ()> = Field::Scalar(Scalar::Int64(5));
        assert!(int.readable_as(FieldType::Int32).is_ok());
        assert!(int.readable_as(FieldType::Float64).is_ok());
        assert_eq!(int.readable_as(FieldType::String), Err("int64"));
        let s: Field<'_, ()> = Field::Scalar(Scalar::String("x"));
        assert!(s.readable_as(FieldType::Bytes).is_ok());
        assert_eq!(s.readable_as(FieldType::Int32), Err("string"));
        let b: Field<'_, ()> = Field::Scalar(Scalar::Bytes(b"x"));
        assert_eq!(b.readable_as(FieldType::String), Err("bytes"));
        let v: Field<'_, ()> = Field::Value(());
        assert_eq!(v.readable_as(FieldType::Int32), Err("value"));
    }
}
