//! The one state every guest runs against, and the names the generators
//! point at.

use extwasm_engine::JsonState;
use serde_json::{Value as Json, json};

/// Storages of [`state_json`], plus names that are not in it.
pub const STORAGES: &[&str] =
    &["sys.Obj", "sys.View", "sys.Many", "sys.Scalar", "sys.Fail", "sys.Empty", "sys.Big", "sys.Nope", "", "sys.Ok"];

/// Entities of [`state_json`] (and one that is not).
pub const ENTITIES: &[&str] = &["", "mypkg.TestView", "mypkg.Other"];

/// Field names of the records (values and keys) of [`state_json`], and some
/// that no record has.
pub const FIELDS: &[&str] = &[
    "s", "b", "i", "big", "f", "t", "q", "v", "nul", "a_s", "a_b", "a_i32", "a_i64", "a_t", "a_f", "a_q", "a_v",
    "empty", "x", "arr", "pk", "cc", "n", "long", "lbytes", "vv", "missing", "",
];

/// Byte strings that are not UTF-8 (lone continuation, truncated sequence,
/// overlong encoding, surrogate, a bad byte after valid ones).
pub const INVALID_UTF8: &[&[u8]] = &[b"\xff", b"sys.\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"a\x00\xfe"];

/// Package paths and entities for qualified names.
pub const QNAME_PARTS: &[&str] = &["github.com/a/b", "Entity", "k.l", "M", ""];

/// String values to put.
pub const STRINGS: &[&str] = &["hello", "", "é ü 😀", "panic: not really\n"];

/// Storage and field of the known-good extension's one intent.
pub const OK_STORAGE: &str = "sys.Ok";
/// See [`OK_STORAGE`].
pub const OK_FIELD: &str = "ok";

/// Length of the long string of `sys.Big` (more than the exchange buffer, so
/// reading it takes the overflow path through the guest's `malloc`).
pub const LONG_STRING: usize = 100_000;

/// The state as JSON: a record with a field of every type, arrays of every
/// type and nested values; keyed records; 64 records to iterate; a scalar
/// record; a failing storage; an empty one; values larger than the exchange
/// buffer.
pub fn state_json() -> Json {
    let many: Vec<Json> = (0..64)
        .map(|n| json!({"key": {"n": n, "s": format!("k{n}")}, "value": {"n": n, "s": format!("record {n}"), "a_i32": [n, n + 1]}}))
        .collect();
    json!({
        "sys.Obj": [{
            "key": {"s": "a", "b": {"$bytes": "AAE="}, "i": 1, "big": 6_000_000_000_i64, "f": 2.5, "t": true,
                    "q": {"$qname": "k.l.M"}},
            "value": {
                "s": "hello", "b": {"$bytes": "AAEC/w=="}, "i": -7, "big": 5_000_000_000_i64, "f": 1.5, "t": true,
                "q": {"$qname": "github.com/a/b.Entity"}, "v": {"x": 11, "arr": [1, 2, 3]}, "nul": null,
                "a_s": ["x", "yz"], "a_b": [{"$bytes": "AAE="}, {"$bytes": "/w=="}], "a_i32": [1, 2],
                "a_i64": [1, 5_000_000_000_i64], "a_t": [false, true], "a_f": [0.25, -2.5],
                "a_q": [{"$qname": "a.b.C"}, {"$qname": "x.y/z.W"}], "a_v": [{"x": 1}, [7, 8]], "empty": []
            }
        }],
        "sys.View": [
            {"entity": "mypkg.TestView", "key": {"pk": 1, "cc": 1}, "value": {"vv": 41}},
            {"entity": "mypkg.TestView", "key": {"pk": 1, "cc": 2}, "value": {"vv": 42}},
            {"entity": "mypkg.Other", "key": {"pk": 2}, "value": {"vv": 43, "s": "other"}}
        ],
        "sys.Many": many,
        "sys.Scalar": [{"value": 7}, {"value": "scalar string"}],
        "sys.Fail": {"$error": "disk unavailable"},
        "sys.Empty": [],
        // 93 336 base64 'A's are 70 002 zero bytes.
        "sys.Big": [{"value": {"long": "x".repeat(LONG_STRING), "lbytes": {"$bytes": "A".repeat(93_336)},
                               "a_s": ["y".repeat(LONG_STRING)]}}],
    })
}

/// [`state_json`], loaded.
pub fn state() -> JsonState {
    JsonState::from_json(&state_json()).expect("the fuzz state is valid")
}

/// The one intent of the known-good extension.
pub fn ok_intent() -> Json {
    json!({"op": "insert", "storage": OK_STORAGE, "entity": "", "key": {}, "value": {OK_FIELD: 1}})
}
