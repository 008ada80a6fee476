//! The reference in-memory [`State`], loaded from JSON; used by the tests,
//! the examples and the `extwasm` CLI.
//!
//! ```json
//! {
//!   "sys.CommandContext": [ { "value": { "ArgumentObject": { "Year": 2023 } } } ],
//!   "sys.View": [ { "entity": "mypkg.TestView", "key": { "pk": 1 }, "value": { "vv": 41 } } ],
//!   "sys.IoErrorStorage": { "$error": "disk unavailable" }
//! }
//! ```
//!
//! A storage is an array of records (`entity`, default `""`; `key`, an object
//! of scalars, default `{}`; `value`) or `{"$error": msg}`, which makes every
//! operation on it fail with a state error carrying `msg` (reads, and the
//! inserts and updates a guest asks for at a key in it). Scalars are JSON
//! numbers, strings and booleans, `{"$bytes": "<base64>"}`,
//! `{"$qname": "<package path>.<Entity>"}` and `{"$float": "NaN" |
//! "Infinity" | "-Infinity"}`, the floats JSON numbers cannot hold (a guest
//! may put them; [`JsonState::to_json`] and [`JsonState::intent_json`] write
//! them so, and [`JsonState::apply_intent`] reads them back, so no number
//! becomes `null`). An integer literal that fits `i64` is an integer, any
//! other number a float. As key fields, a NaN equals a NaN: a key is an
//! identity, and `{"$float": "NaN"}` names one value.
//!
//! The whole format, for users: `docs/STATE-FORMAT.md`.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value as Json, json};

use crate::names::{NameIndex, str_eq};
use crate::types::{Field, Intent, IntentKind, KeyBuilder, QName, Row, Scalar, State, StateError, Value};

/// Why a JSON state (a state file, or an intent to apply) is invalid: the
/// message says where (`sys.View[0].key`, the file) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonStateError {
    message: String,
}

impl JsonStateError {
    fn new(message: String) -> Self {
        JsonStateError { message }
    }

    /// What is wrong, and where.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for JsonStateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonStateError {}

type Result<T, E = JsonStateError> = std::result::Result<T, E>;

/// A node of a JSON value, with nested objects and arrays shared so that
/// handing one to a guest is a reference-count increment.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    // Shared, like objects and arrays: a guest can ask for a handle to a
    // scalar record as often as its handle budget allows, and each must
    // cost a reference count, not a copy.
    String(Arc<str>),
    Bytes(Arc<[u8]>),
    /// Full name and the position of the last dot.
    QName(Arc<str>, usize),
    Object(Arc<Object>),
    Array(Arc<[Node]>),
}

type Object = Vec<(Box<str>, Node)>;

/// The tags of objects that stand for one scalar.
const TAGS: [&str; 3] = ["$bytes", "$qname", "$float"];

/// The floats JSON numbers cannot hold, by their `$float` names.
const NON_FINITE: [(&str, f64); 3] = [("NaN", f64::NAN), ("Infinity", f64::INFINITY), ("-Infinity", f64::NEG_INFINITY)];

/// The `$float` name of a float that is not finite.
fn non_finite_name(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// Float equality for key fields: IEEE equality, and a NaN equals a NaN
/// (keys are identities; the state writes every NaN as the same value).
fn same_float(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Equality of key fields of records (an integer never equals a float).
fn same_key_field(a: &Node, b: &Node) -> bool {
    match (a, b) {
        (Node::Float(a), Node::Float(b)) => same_float(*a, *b),
        _ => a == b,
    }
}

/// A value of a [`JsonState`]: a record's value, a nested object or array, or
/// a record's key.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonValue(Node);

impl Node {
    fn field(&self) -> Option<Field<'_, JsonValue>> {
        Some(match self {
            Node::Null => return None,
            Node::Bool(v) => Field::Scalar(Scalar::Bool(*v)),
            Node::Int(v) => Field::Scalar(Scalar::Int64(*v)),
            Node::Float(v) => Field::Scalar(Scalar::Float64(*v)),
            Node::String(v) => Field::Scalar(Scalar::String(v)),
            Node::Bytes(v) => Field::Scalar(Scalar::Bytes(v)),
            Node::QName(v, dot) => Field::Scalar(Scalar::QName(QName { pkg: &v[..*dot], entity: &v[dot + 1..] })),
            Node::Object(_) | Node::Array(_) => Field::Value(JsonValue(self.clone())),
        })
    }

    fn from_scalar(value: Scalar<'_>) -> Node {
        match value {
            Scalar::Int32(v) => Node::Int(v as i64),
            Scalar::Int64(v) => Node::Int(v),
            // Through the shortest decimal, so 0.1f32 stays 0.1 (NaN and the
            // infinities convert exactly).
            Scalar::Float32(v) if v.is_finite() => Node::Float(v.to_string().parse().unwrap_or(v as f64)),
            Scalar::Float32(v) => Node::Float(v as f64),
            Scalar::Float64(v) => Node::Float(v),
            Scalar::Bool(v) => Node::Bool(v),
            Scalar::String(v) => Node::String(v.into()),
            Scalar::Bytes(v) => Node::Bytes(v.into()),
            Scalar::QName(q) => Node::QName(format!("{}.{}", q.pkg, q.entity).into(), q.pkg.len()),
        }
    }

    /// Whether a key field put by a guest equals this record key field.
    fn matches(&self, wanted: Scalar<'_>) -> bool {
        match (self, wanted) {
            (Node::Int(have), want) if want.as_i64().is_some() => Some(*have) == want.as_i64(),
            (Node::Int(have), want) => Some(*have as f64) == want.as_f64(),
            (Node::Float(have), want) => want.as_f64().is_some_and(|want| same_float(*have, want)),
            (Node::Bool(have), Scalar::Bool(want)) => *have == want,
            (Node::String(have), Scalar::String(want)) => str_eq(have, want),
            (Node::String(have), Scalar::Bytes(want)) => have.as_bytes() == want,
            (Node::Bytes(have), Scalar::Bytes(want)) => **have == *want,
            (Node::Bytes(have), Scalar::String(want)) => **have == *want.as_bytes(),
            (Node::QName(have, _), Scalar::QName(want)) => {
                have.len() == want.pkg.len() + 1 + want.entity.len()
                    && have.starts_with(want.pkg)
                    && have.ends_with(want.entity)
            }
            _ => false,
        }
    }

    fn to_json(&self) -> Json {
        match self {
            Node::Null => Json::Null,
            Node::Bool(v) => json!(v),
            Node::Int(v) => json!(v),
            Node::Float(v) => match serde_json::Number::from_f64(*v) {
                Some(number) => Json::Number(number),
                None => json!({ "$float": non_finite_name(*v) }),
            },
            Node::String(v) => json!(&**v),
            Node::Bytes(v) => json!({ "$bytes": BASE64.encode(v) }),
            Node::QName(v, _) => json!({ "$qname": &**v }),
            Node::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
            Node::Array(a) => Json::Array(a.iter().map(Node::to_json).collect()),
        }
    }

    fn parse(json: &Json, path: &str) -> Result<Node> {
        Ok(match json {
            Json::Null => Node::Null,
            Json::Bool(v) => Node::Bool(*v),
            Json::Number(n) => match n.as_i64() {
                Some(v) => Node::Int(v),
                None => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Node::String(s.as_str().into()),
            Json::Array(items) => Node::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Node::parse(item, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>>>()?
                    .into(),
            ),
            Json::Object(map) => {
                if let Some(node) = Node::parse_tagged(map, path)? {
                    return Ok(node);
                }
                let mut object = Vec::with_capacity(map.len());
                for (name, item) in map {
                    object.push((name.as_str().into(), Node::parse(item, &format!("{path}.{name}"))?));
                }
                Node::Object(Arc::new(object))
            }
        })
    }

    /// `{"$bytes": …}`, `{"$qname": …}` and `{"$float": …}`.
    fn parse_tagged(map: &Map<String, Json>, path: &str) -> Result<Option<Node>> {
        if map.len() != 1 {
            return Ok(None);
        }
        let invalid = |message: String| JsonStateError::new(format!("{path}: {message}"));
        match map.iter().next() {
            Some((tag, Json::String(text))) if tag == "$bytes" => BASE64
                .decode(text)
                .map(|bytes| Some(Node::Bytes(bytes.into())))
                .map_err(|e| invalid(format!("$bytes is not base64: {e}"))),
            Some((tag, Json::String(text))) if tag == "$qname" => match text.rfind('.') {
                Some(dot) if dot > 0 && dot + 1 < text.len() => Ok(Some(Node::QName(text.as_str().into(), dot))),
                _ => Err(invalid(format!("$qname {text:?} is not <package path>.<Entity>"))),
            },
            Some((tag, Json::String(text))) if tag == "$float" => {
                match NON_FINITE.iter().find(|(name, _)| name == text) {
                    Some((_, value)) => Ok(Some(Node::Float(*value))),
                    None => Err(invalid(format!(
                        "$float {text:?} is not one of \"NaN\", \"Infinity\", \"-Infinity\" (finite numbers are JSON numbers)"
                    ))),
                }
            }
            Some((tag, _)) if TAGS.contains(&tag.as_str()) => Err(invalid(format!("{tag} takes a string"))),
            _ => Ok(None),
        }
    }

    fn is_scalar(&self) -> bool {
        !matches!(self, Node::Object(_) | Node::Array(_))
    }
}

impl Value for JsonValue {
    fn field(&self, name: &str) -> Option<Field<'_, Self>> {
        match &self.0 {
            Node::Object(object) => object.iter().find(|(k, _)| str_eq(k, name)).and_then(|(_, v)| v.field()),
            Node::Array(_) => None,
            scalar if name.is_empty() => scalar.field(),
            _ => None,
        }
    }

    fn element(&self, index: usize) -> Option<Field<'_, Self>> {
        match &self.0 {
            Node::Array(items) => items.get(index).and_then(Node::field),
            _ => None,
        }
    }

    fn len(&self) -> Option<usize> {
        match &self.0 {
            Node::Array(items) => Some(items.len()),
            _ => None,
        }
    }
}

impl JsonValue {
    /// This value as JSON, in the state file's encoding.
    pub fn to_json(&self) -> Json {
        self.0.to_json()
    }
}

#[derive(Clone, Debug)]
struct Record {
    entity: Box<str>,
    key: Arc<Object>,
    value: Node,
}

#[derive(Clone, Debug)]
enum Storage {
    Records(Vec<Record>),
    Failing(String),
}

/// The reference in-memory state, loaded from JSON (format in the module docs).
#[derive(Clone, Debug, Default)]
pub struct JsonState {
    storages: Vec<(String, Storage)>,
    index: NameIndex,
    /// Whether any storage is failing: writes need no lookup when none is.
    any_failing: bool,
}

impl JsonState {
    /// Parses a state from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self> {
        if text.trim().is_empty() {
            // Said plainly: an empty file is more often a truncated one than a
            // state meant to be empty.
            return Err(JsonStateError::new("empty (a state with no storages is {})".into()));
        }
        let json: Json = serde_json::from_str(text).map_err(|e| JsonStateError::new(format!("not JSON: {e}")))?;
        Self::from_json(&json)
    }

    /// Reads a state file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)
            .map_err(|e| JsonStateError::new(format!("cannot read {}: {e}", path.display())))?;
        Self::from_reader(file, path)
    }

    /// Reads a state from `reader`, an open state file (one the caller has
    /// locked, say); errors name it `path`.
    pub fn from_reader(mut reader: impl std::io::Read, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| JsonStateError::new(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json_str(&text).map_err(|e| JsonStateError::new(format!("{}: {}", path.display(), e.message)))
    }

    /// Builds a state from parsed JSON.
    pub fn from_json(json: &Json) -> Result<Self> {
        let Json::Object(storages) = json else {
            return Err(JsonStateError::new("the top level must be an object of storages".into()));
        };
        let mut state = JsonState::default();
        for (name, content) in storages {
            let storage = match content {
                Json::Array(records) => Storage::Records(
                    records
                        .iter()
                        .enumerate()
                        .map(|(i, record)| parse_record(record, &format!("{name}[{i}]")))
                        .collect::<Result<_>>()?,
                ),
                Json::Object(map) if map.len() == 1 && map.contains_key("$error") => match &map["$error"] {
                    Json::String(message) => Storage::Failing(message.clone()),
                    _ => {
                        return Err(JsonStateError::new(format!("{name}: $error takes a string")));
                    }
                },
                _ => {
                    return Err(JsonStateError::new(format!(
                        "{name}: a storage is an array of records or {{\"$error\": message}}"
                    )));
                }
            };
            state.any_failing |= matches!(storage, Storage::Failing(_));
            state.index.push(name);
            state.storages.push((name.clone(), storage));
        }
        Ok(state)
    }

    /// The state as JSON, in the file format.
    pub fn to_json(&self) -> Json {
        let mut out = Map::new();
        for (name, storage) in &self.storages {
            let content = match storage {
                Storage::Failing(message) => json!({ "$error": message }),
                Storage::Records(records) => Json::Array(
                    records
                        .iter()
                        .map(|r| {
                            let mut record = Map::new();
                            if !r.entity.is_empty() {
                                record.insert("entity".into(), json!(r.entity));
                            }
                            if !r.key.is_empty() {
                                record.insert("key".into(), Node::Object(r.key.clone()).to_json());
                            }
                            record.insert("value".into(), r.value.to_json());
                            Json::Object(record)
                        })
                        .collect(),
                ),
            };
            out.insert(name.clone(), content);
        }
        Json::Object(out)
    }

    /// An intent as JSON: `{"op": "insert" | "update", "storage", "entity",
    /// "key": {…}, "value": {…}}`. An update's value is the existing value
    /// with the intent's fields applied.
    pub fn intent_json(intent: &Intent<'_, JsonValue>) -> Json {
        let (op, value) = match intent.kind {
            IntentKind::Insert => ("insert", row_json(intent.value, Map::new())),
            IntentKind::Update { existing } => {
                let base = match existing.to_json() {
                    Json::Object(map) => map,
                    _ => Map::new(),
                };
                ("update", row_json(intent.value, base))
            }
        };
        json!({
            "op": op,
            "storage": intent.key.storage(),
            "entity": intent.key.entity(),
            "key": row_json(intent.key.fields(), Map::new()),
            "value": value,
        })
    }

    /// Applies an intent in the form [`JsonState::intent_json`] gives: an
    /// insert appends a record, an update replaces the value of the first
    /// record whose storage, entity and key equal the intent's.
    pub fn apply_intent(&mut self, intent: &Json) -> Result<()> {
        let field = |name: &str| intent.get(name).ok_or_else(|| JsonStateError::new(format!("intent has no {name:?}")));
        let op = field("op")?.as_str().unwrap_or_default();
        let storage = field("storage")?.as_str().unwrap_or_default().to_owned();
        let record = parse_record(intent, "intent")?;
        let index = match self.index.get(&storage) {
            Some(index) => index,
            None => {
                self.index.push(&storage);
                self.storages.push((storage.clone(), Storage::Records(Vec::new())));
                self.storages.len() - 1
            }
        };
        let records = match &mut self.storages[index].1 {
            Storage::Records(records) => records,
            Storage::Failing(message) => {
                return Err(JsonStateError::new(format!("{storage}: {message}")));
            }
        };
        match op {
            "insert" => records.push(record),
            "update" => {
                let same_key = |r: &&mut Record| {
                    r.entity == record.entity
                        && r.key.len() == record.key.len()
                        && record.key.iter().all(|(k, v)| r.key.iter().any(|(k2, v2)| k == k2 && same_key_field(v, v2)))
                };
                match records.iter_mut().find(same_key) {
                    Some(existing) => existing.value = record.value,
                    None => {
                        return Err(JsonStateError::new(format!(
                            "update of a record that is not in {storage}: entity {:?}, key {}",
                            record.entity,
                            Node::Object(record.key.clone()).to_json()
                        )));
                    }
                }
            }
            other => return Err(JsonStateError::new(format!("unknown intent op {other:?}"))),
        }
        Ok(())
    }

    fn records(&self, storage: &str) -> Result<&[Record], StateError> {
        match self.index.get(storage).map(|i| &self.storages[i].1) {
            None => Ok(&[]),
            Some(Storage::Records(records)) => Ok(records),
            Some(Storage::Failing(message)) => Err(StateError::new(message.clone())),
        }
    }
}

fn matches(record: &Record, key: &KeyBuilder) -> bool {
    str_eq(&record.entity, key.entity())
        && key
            .fields()
            .iter()
            .all(|(name, wanted)| record.key.iter().any(|(k, v)| str_eq(k, name) && v.matches(wanted)))
}

fn parse_record(json: &Json, path: &str) -> Result<Record> {
    let Json::Object(map) = json else {
        return Err(JsonStateError::new(format!("{path}: a record is an object with entity, key and value")));
    };
    let entity = match map.get("entity") {
        None => "",
        Some(Json::String(entity)) => entity,
        Some(_) => {
            return Err(JsonStateError::new(format!("{path}.entity: must be a string")));
        }
    };
    let key = match map.get("key").map(|k| Node::parse(k, &format!("{path}.key"))).transpose()? {
        None => Arc::new(Vec::new()),
        Some(Node::Object(key)) => {
            if let Some((name, _)) = key.iter().find(|(_, v)| !v.is_scalar()) {
                return Err(JsonStateError::new(format!("{path}.key.{name}: key fields must be scalars")));
            }
            key
        }
        Some(_) => {
            return Err(JsonStateError::new(format!("{path}.key: must be an object")));
        }
    };
    let value = match map.get("value") {
        Some(value) => Node::parse(value, &format!("{path}.value"))?,
        None => Node::Object(Arc::new(Vec::new())),
    };
    Ok(Record { entity: entity.into(), key, value })
}

fn row_json(row: &Row, mut base: Map<String, Json>) -> Json {
    for (name, value) in row.iter() {
        base.insert(name.to_owned(), Node::from_scalar(value).to_json());
    }
    Json::Object(base)
}

impl State for JsonState {
    type Value = JsonValue;
    type Key = JsonValue;

    fn query(&self, key: &KeyBuilder) -> Result<Option<JsonValue>, StateError> {
        Ok(self.records(key.storage())?.iter().find(|r| matches(r, key)).map(|r| JsonValue(r.value.clone())))
    }

    fn read(
        &self,
        key: &KeyBuilder,
        each: &mut dyn FnMut(JsonValue, JsonValue) -> ControlFlow<()>,
    ) -> Result<(), StateError> {
        for record in self.records(key.storage())?.iter().filter(|r| matches(r, key)) {
            let record_key = JsonValue(Node::Object(record.key.clone()));
            if each(record_key, JsonValue(record.value.clone())).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// A failing storage (`{"$error": msg}`) refuses writes too.
    fn check_insert(&self, key: &KeyBuilder) -> Result<(), StateError> {
        if !self.any_failing {
            return Ok(());
        }
        self.records(key.storage()).map(drop)
    }

    fn check_update(&self, key: &KeyBuilder, existing: &JsonValue) -> Result<(), StateError> {
        let _ = existing;
        self.check_insert(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{
      "sys.CommandContext": [ { "value": { "ArgumentObject": { "Year": 2023, "Items": [ { "Quantity": 1, "SinglePrice": 100 } ] } } } ],
      "sys.View": [
        { "entity": "mypkg.TestView", "key": { "pk": 1, "cc": 1 }, "value": { "vv": 41 } },
        { "entity": "mypkg.TestView", "key": { "pk": 1, "cc": 2 }, "value": { "vv": 42 } }
      ],
      "sys.Typed": [ { "value": { "b": {"$bytes": "AAEC"}, "q": {"$qname": "github.com/a/b.Entity"}, "f": 1.5, "s": "txt", "t": true } } ],
      "sys.Scalar": [ { "value": 7 } ],
      "sys.IoErrorStorage": { "$error": "disk unavailable" }
    }"#;

    fn key(storage: &str, entity: &str, fields: &[(&str, Scalar<'_>)]) -> KeyBuilder {
        let mut key = KeyBuilder::new(storage, entity);
        for (name, value) in fields {
            key.put(name, *value);
        }
        key
    }

    #[test]
    fn query_matches_storage_entity_and_partial_key_in_file_order() {
        let state = JsonState::from_json_str(STATE).unwrap();
        let v = state.query(&key("sys.View", "mypkg.TestView", &[("cc", Scalar::Int32(2))])).unwrap().unwrap();
        assert_eq!(v.field("vv"), Some(Field::Scalar(Scalar::Int64(42))));
        let first = state.query(&key("sys.View", "mypkg.TestView", &[])).unwrap().unwrap();
        assert_eq!(first.field("vv"), Some(Field::Scalar(Scalar::Int64(41))));
        assert!(state.query(&key("sys.View", "other", &[])).unwrap().is_none());
        assert!(state.query(&key("sys.Missing", "", &[])).unwrap().is_none());
        assert!(state.query(&key("sys.View", "mypkg.TestView", &[("pk", Scalar::String("1"))])).unwrap().is_none());
    }

    #[test]
    fn failing_storage_fails_every_operation() {
        let state = JsonState::from_json_str(STATE).unwrap();
        let k = key("sys.IoErrorStorage", "", &[]);
        assert_eq!(state.query(&k).unwrap_err().message(), "disk unavailable");
        assert!(state.read(&k, &mut |_, _| ControlFlow::Continue(())).is_err());
        assert_eq!(state.check_insert(&k).unwrap_err().message(), "disk unavailable");
        // The key's storage decides whether an update may be made, not the
        // storage the existing value came from.
        let existing = state.query(&key("sys.Scalar", "", &[])).unwrap().unwrap();
        assert_eq!(state.check_update(&k, &existing).unwrap_err().message(), "disk unavailable");
        let working = key("sys.View", "mypkg.TestView", &[]);
        assert!(state.check_insert(&working).is_ok() && state.check_update(&working, &existing).is_ok());
        assert!(state.check_insert(&key("sys.NotInTheFile", "", &[])).is_ok());
    }

    #[test]
    fn read_visits_every_match_and_stops_on_break() {
        let state = JsonState::from_json_str(STATE).unwrap();
        let mut seen = Vec::new();
        state
            .read(&key("sys.View", "mypkg.TestView", &[("pk", Scalar::Int64(1))]), &mut |k, v| {
                seen.push((k.to_json()["cc"].clone(), v.to_json()["vv"].clone()));
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, vec![(json!(1), json!(41)), (json!(2), json!(42))]);
        let mut count = 0;
        state
            .read(&key("sys.View", "mypkg.TestView", &[]), &mut |_, _| {
                count += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!(count, 1);
    }

    #[test]
    fn typed_scalars_nested_values_and_scalar_roots() {
        let state = JsonState::from_json_str(STATE).unwrap();
        let v = state.query(&key("sys.Typed", "", &[])).unwrap().unwrap();
        assert_eq!(v.field("b"), Some(Field::Scalar(Scalar::Bytes(&[0, 1, 2]))));
        assert_eq!(v.field("q"), Some(Field::Scalar(Scalar::QName(QName { pkg: "github.com/a/b", entity: "Entity" }))));
        assert_eq!(v.field("f"), Some(Field::Scalar(Scalar::Float64(1.5))));
        assert_eq!(v.field("t"), Some(Field::Scalar(Scalar::Bool(true))));
        assert_eq!(v.field("nope"), None);
        let cc = state.query(&key("sys.CommandContext", "", &[])).unwrap().unwrap();
        let Some(Field::Value(arg)) = cc.field("ArgumentObject") else { panic!("nested object") };
        let Some(Field::Value(items)) = arg.field("Items") else { panic!("nested array") };
        assert_eq!(items.len(), Some(1));
        let Some(Field::Value(item)) = items.element(0) else { panic!("element") };
        assert_eq!(item.field("SinglePrice"), Some(Field::Scalar(Scalar::Int64(100))));
        assert_eq!(items.element(1), None);
        let scalar = state.query(&key("sys.Scalar", "", &[])).unwrap().unwrap();
        assert_eq!(scalar.field(""), Some(Field::Scalar(Scalar::Int64(7))));
        assert_eq!(scalar.field("x"), None);
    }

    #[test]
    fn invalid_files_say_where() {
        for (text, needle) in [
            ("[]", "top level"),
            (r#"{"s": 5}"#, "s: a storage"),
            (r#"{"s": [{"key": {"k": {"a": 1}}}]}"#, "s[0].key.k"),
            (r#"{"s": [{"value": {"$bytes": "!!"}}]}"#, "s[0].value"),
            (r#"{"s": [{"value": {"$qname": "noDot"}}]}"#, "noDot"),
            (r#"{"s": [{"entity": 3}]}"#, "s[0].entity"),
            (
                r#"{"s": [{"value": {"f": {"$float": "nan"}}}]}"#,
                r#"s[0].value.f: $float "nan" is not one of "NaN", "Infinity", "-Infinity""#,
            ),
            (r#"{"s": [{"value": {"$float": "1.5"}}]}"#, "finite numbers are JSON numbers"),
            (r#"{"s": [{"value": {"$float": 1.5}}]}"#, "s[0].value: $float takes a string"),
            ("", "empty (a state with no storages is {})"),
            (" \n", "empty"),
        ] {
            let err = JsonState::from_json_str(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn intents_render_and_apply() {
        let mut state = JsonState::from_json_str(STATE).unwrap();
        let k = key("sys.View", "mypkg.TestView", &[("pk", Scalar::Int32(1)), ("cc", Scalar::Int32(1))]);
        let existing = state.query(&k).unwrap().unwrap();
        let mut row = Row::default();
        row.put("vv", Scalar::Int32(42));
        row.put("f", Scalar::Float32(0.1));
        let update =
            JsonState::intent_json(&Intent { kind: IntentKind::Update { existing: &existing }, key: &k, value: &row });
        assert_eq!(
            update,
            json!({"op": "update", "storage": "sys.View", "entity": "mypkg.TestView",
                   "key": {"pk": 1, "cc": 1}, "value": {"vv": 42, "f": 0.1}})
        );
        state.apply_intent(&update).unwrap();
        assert_eq!(state.query(&k).unwrap().unwrap().field("vv"), Some(Field::Scalar(Scalar::Int64(42))));

        let insert_key = key("sys.New", "", &[("id", Scalar::Int64(9))]);
        let mut row = Row::default();
        row.put("q", Scalar::QName(QName { pkg: "a.b", entity: "C" }));
        let insert = JsonState::intent_json(&Intent { kind: IntentKind::Insert, key: &insert_key, value: &row });
        assert_eq!(insert["value"], json!({"q": {"$qname": "a.b.C"}}));
        state.apply_intent(&insert).unwrap();
        assert!(state.query(&insert_key).unwrap().is_some());
        assert_eq!(state.to_json()["sys.New"], json!([{"key": {"id": 9}, "value": {"q": {"$qname": "a.b.C"}}}]));

        let mut orphan = update.clone();
        orphan["key"] = json!({"pk": 99});
        assert!(state.apply_intent(&orphan).unwrap_err().to_string().contains("not in sys.View"));
    }
    #[test]
    fn non_finite_floats_are_tagged_and_round_trip() {
        let text = r#"{"sys.F": [{"key": {"k": {"$float": "NaN"}}, "value": {"n": {"$float": "NaN"}, "p": {"$float": "Infinity"}, "m": {"$float": "-Infinity"}, "list": [{"$float": "NaN"}, 1.5]}}]}"#;
        let mut state = JsonState::from_json_str(text).unwrap();
        let v = state.query(&key("sys.F", "", &[])).unwrap().unwrap();
        let Some(Field::Scalar(Scalar::Float64(n))) = v.field("n") else { panic!("NaN reads as a float") };
        assert!(n.is_nan());
        assert_eq!(v.field("p"), Some(Field::Scalar(Scalar::Float64(f64::INFINITY))));
        assert_eq!(v.field("m"), Some(Field::Scalar(Scalar::Float64(f64::NEG_INFINITY))));
        assert_eq!(state.to_json(), serde_json::from_str::<Json>(text).unwrap(), "written as read");

        // A NaN key field is found by a NaN, of either width.
        assert!(state.query(&key("sys.F", "", &[("k", Scalar::Float32(f32::NAN))])).unwrap().is_some());
        assert!(state.query(&key("sys.F", "", &[("k", Scalar::Float64(1.0))])).unwrap().is_none());

        // Put by a guest, of both widths: tagged in the intent, and applied as floats.
        let mut row = Row::default();
        for (name, value) in [
            ("nan64", Scalar::Float64(f64::NAN)),
            ("inf64", Scalar::Float64(f64::INFINITY)),
            ("ninf64", Scalar::Float64(f64::NEG_INFINITY)),
            ("nan32", Scalar::Float32(f32::NAN)),
            ("inf32", Scalar::Float32(f32::INFINITY)),
            ("ninf32", Scalar::Float32(f32::NEG_INFINITY)),
            ("max32", Scalar::Float32(f32::MAX)),
        ] {
            row.put(name, value);
        }
        let k = key("sys.F", "", &[("k", Scalar::Float64(f64::NAN))]);
        let update =
            JsonState::intent_json(&Intent { kind: IntentKind::Update { existing: &v }, key: &k, value: &row });
        let (nan, inf, ninf) =
            (json!({"$float": "NaN"}), json!({"$float": "Infinity"}), json!({"$float": "-Infinity"}));
        assert_eq!(update["key"], json!({"k": nan}));
        for (name, want) in
            [("nan64", &nan), ("inf64", &inf), ("ninf64", &ninf), ("nan32", &nan), ("inf32", &inf), ("ninf32", &ninf)]
        {
            assert_eq!(&update["value"][name], want, "{name}");
        }
        assert_eq!(update["value"]["max32"], json!(3.4028235e38));
        // The update finds the record by its NaN key; nothing becomes null.
        state.apply_intent(&update).unwrap();
        let written = serde_json::to_string(&state.to_json()).unwrap();
        assert!(!written.contains("null"), "{written}");
        let again = JsonState::from_json_str(&written).unwrap();
        let v = again.query(&k).unwrap().unwrap();
        assert_eq!(v.field("ninf32"), Some(Field::Scalar(Scalar::Float64(f64::NEG_INFINITY))));
        assert!(matches!(v.field("nan32"), Some(Field::Scalar(Scalar::Float64(x))) if x.is_nan()));
        assert_eq!(again.to_json(), state.to_json());
    }
}
