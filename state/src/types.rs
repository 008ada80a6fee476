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

use extwasm_abi::{FieldType, messages, render};

use crate::budget::{Budget, Clock, Exceeded, HostResource, MAX_ROW_FIELDS};
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
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Int32(v) => Some(v as f64),
            Scalar::Int64(v) => Some(v as f64),
            Scalar::Float32(v) => Some(v as f64),
            Scalar::Float64(v) => Some(v),
            _ => None,
        }
    }

    /// Integer view for exact comparisons.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Int32(v) => Some(v as i64),
            Scalar::Int64(v) => Some(v),
            _ => None,
        }
    }
}

/// As messages show a value (the ABI's templates): strings in quotes, bytes
/// by their length, qualified names as `pkg.Entity`, numbers as Rust writes
/// them. A guest's long string is cut short (see [`excerpt`]).
impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int32(v) => write!(f, "{v}"),
            Scalar::Int64(v) => write!(f, "{v}"),
            Scalar::Float32(v) => write!(f, "{v}"),
            Scalar::Float64(v) => write!(f, "{v}"),
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::String(v) => render(f, messages::SCALAR_STRING, &[("value", &excerpt(v))]),
            Scalar::Bytes(v) => render(f, messages::SCALAR_BYTES, &[("len", &v.len())]),
            Scalar::QName(q) => write!(f, "{}.{}", excerpt(q.pkg), excerpt(q.entity)),
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
/// the host's `Error::TypeMismatch`): integers read as any integer width they fit
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
/// invocation that met it, as the host's `Error::State`.
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
/// replaces its value in place, reusing its space. Storage is reused across
/// invocations, so steady-state puts do not allocate.
#[derive(Debug, Default)]
pub struct Row {
    /// Every slot ever used; the first `len` are the row's fields.
    fields: Vec<RowField>,
    len: usize,
}

/// One field. Strings, qualified names and bytes own their buffers, so a
/// value put again overwrites the old one instead of adding to it.
#[derive(Debug, Default)]
struct RowField {
    name: String,
    /// A string, or a qualified name's package path and entity, one after
    /// the other.
    text: String,
    bytes: Vec<u8>,
    value: Stored,
}

impl Clone for RowField {
    fn clone(&self) -> Self {
        RowField { name: self.name.clone(), text: self.text.clone(), bytes: self.bytes.clone(), value: self.value }
    }

    /// Reuses this field's buffers.
    fn clone_from(&mut self, source: &Self) {
        self.name.clone_from(&source.name);
        self.text.clone_from(&source.text);
        self.bytes.clone_from(&source.bytes);
        self.value = source.value;
    }
}

#[derive(Clone, Copy, Debug, Default)]
enum Stored {
    #[default]
    Unset,
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Bool(bool),
    String,
    Bytes,
    /// Where the package path ends in `text`.
    QName(usize),
}

impl Clone for Row {
    fn clone(&self) -> Self {
        Row { fields: self.fields[..self.len].to_vec(), len: self.len }
    }

    /// Reuses this row's slots and their buffers.
    fn clone_from(&mut self, source: &Self) {
        for (i, field) in source.fields[..source.len].iter().enumerate() {
            match self.fields.get_mut(i) {
                Some(slot) => slot.clone_from(field),
                None => self.fields.push(field.clone()),
            }
        }
        self.len = source.len;
    }
}

impl Row {
    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the row has no fields.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets field `name` to `value`, replacing an earlier value of the name.
    pub fn put(&mut self, name: &str, value: Scalar<'_>) {
        let mut unlimited = Budget::new(usize::MAX, usize::MAX, Clock::default());
        // An unlimited budget without a deadline refuses nothing.
        let _ = self.try_put(name, value, &mut unlimited);
    }

    /// [`Row::put`], charging what it allocates to `budget`. A refused put
    /// leaves the field absent or with a value the guest never sees (the
    /// invocation fails).
    pub fn try_put(&mut self, name: &str, value: Scalar<'_>, budget: &mut Budget) -> Result<(), Exceeded> {
        let index = match self.position(name) {
            Some(index) => index,
            None => {
                if self.len == MAX_ROW_FIELDS {
                    return Err(Exceeded::Budget(HostResource::RowFields, MAX_ROW_FIELDS as u64));
                }
                if self.len == self.fields.len() {
                    budget.reserve_one(&mut self.fields)?;
                    self.fields.push(RowField::default());
                }
                let field = &mut self.fields[self.len];
                // Not a field until its value is set.
                field.value = Stored::Unset;
                budget.set_str(&mut field.name, name)?;
                self.len += 1;
                self.len - 1
            }
        };
        let field = &mut self.fields[index];
        field.value = match value {
            Scalar::Int32(v) => Stored::Int32(v),
            Scalar::Int64(v) => Stored::Int64(v),
            Scalar::Float32(v) => Stored::Float32(v),
            Scalar::Float64(v) => Stored::Float64(v),
            Scalar::Bool(v) => Stored::Bool(v),
            Scalar::String(s) => {
                budget.set_str(&mut field.text, s)?;
                Stored::String
            }
            Scalar::Bytes(b) => {
                budget.set_bytes(&mut field.bytes, b)?;
                Stored::Bytes
            }
            Scalar::QName(q) => {
                budget.set_str(&mut field.text, q.pkg)?;
                budget.push_str(&mut field.text, q.entity)?;
                Stored::QName(q.pkg.len())
            }
        };
        Ok(())
    }

    /// Bytes this row has allocated, retained slots included.
    pub fn heap_bytes(&self) -> usize {
        let slots = self.fields.capacity() * size_of::<RowField>();
        self.fields.iter().fold(slots, |sum, f| sum + f.name.capacity() + f.text.capacity() + f.bytes.capacity())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields[..self.len].iter().position(|f| str_eq(&f.name, name))
    }

    fn scalar(field: &RowField) -> Scalar<'_> {
        match field.value {
            Stored::Unset => Scalar::Int32(0),
            Stored::Int32(v) => Scalar::Int32(v),
            Stored::Int64(v) => Scalar::Int64(v),
            Stored::Float32(v) => Scalar::Float32(v),
            Stored::Float64(v) => Scalar::Float64(v),
            Stored::Bool(v) => Scalar::Bool(v),
            Stored::String => Scalar::String(&field.text),
            Stored::Bytes => Scalar::Bytes(&field.bytes),
            Stored::QName(split) => {
                let (pkg, entity) = field.text.split_at(split);
                Scalar::QName(QName { pkg, entity })
            }
        }
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<Scalar<'_>> {
        self.position(name).map(|i| Row::scalar(&self.fields[i]))
    }

    /// The fields as (name, value), in the order their names were first put.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Scalar<'_>)> + '_ {
        self.fields[..self.len].iter().map(|f| (f.name.as_str(), Row::scalar(f)))
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
        KeyBuilder { storage: storage.to_owned(), entity: entity.to_owned(), fields: Row::default() }
    }

    /// Reuses this builder for (storage, entity), keeping its allocations
    /// and charging what they grow by.
    pub fn try_reset(&mut self, storage: &str, entity: &str, budget: &mut Budget) -> Result<(), Exceeded> {
        self.fields.clear();
        budget.set_str(&mut self.storage, storage)?;
        budget.set_str(&mut self.entity, entity)
    }

    /// Bytes this key builder has allocated.
    pub fn heap_bytes(&self) -> usize {
        self.storage.capacity() + self.entity.capacity() + self.fields.heap_bytes()
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

    /// The key fields, to put more (as the guest's row writers do).
    pub fn fields_mut(&mut self) -> &mut Row {
        &mut self.fields
    }

    /// Puts a key field (as the guest's `hostRowWriterPut*` does).
    pub fn put(&mut self, name: &str, value: Scalar<'_>) {
        self.fields.put(name, value);
    }
}

/// At most this many characters of a guest's string go into a message.
const EXCERPT_CHARS: usize = 200;

/// `text` for a message: whole when short, else its start and its length.
/// Error messages outlive the invocation, so they must not hold what a
/// guest made big.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

/// The key as messages show it (`messages::KEY`): storage, entity and up
/// to 16 fields.
impl fmt::Display for KeyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Fields<'a>(&'a Row);
        impl fmt::Display for Fields<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("{")?;
                for (i, (name, value)) in self.0.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    if i == 16 {
                        write!(f, "{sep}… {} more", self.0.len() - i)?;
                        break;
                    }
                    write!(f, "{sep}{}: {value}", excerpt(name))?;
                }
                f.write_str("}")
            }
        }
        let (storage, entity) = (excerpt(&self.storage), excerpt(&self.entity));
        render(f, messages::KEY, &[("storage", &storage), ("entity", &entity), ("fields", &Fields(&self.fields))])
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
