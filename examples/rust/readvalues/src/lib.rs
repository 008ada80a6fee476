//! Reads with a callback (nested ones too) and every field type: keys by
//! name, values by name and by index, nested values, and puts of every type,
//! the floats JSON numbers cannot hold included; and an update whose existing
//! value comes from another storage than its key.
//!
//! And misreads, for the conformance table to check that every host fails
//! them with the same words: fields read as a type they do not have
//! (`readAs`), and handles that are stale, of the wrong kind, forged or no
//! handle at all. The SDK's API makes no such handle; these extensions use
//! its hidden raw-handle accessors, which exist for such tests only.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

// Natively, for a thread-local `KEPT` (see there).
#[cfg(all(not(test), not(target_arch = "wasm32")))]
extern crate std;

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use extwasm_guest_sdk::{Ext, NULL_ENTITY, STORAGE_EVENT, STORAGE_RECORD, STORAGE_VIEW, Value, extension, log};

extension! {
    /// The extensions of this module.
    pub const EXTENSIONS = [
        copyAllTypes => copy_all_types,
        orderTotals => order_totals,
        putNonFinite => put_non_finite,
        archiveTotal => archive_total,
        readAs => read_as,
        keepEvent => keep_event,
        readKeptEvent => read_kept_event,
        readIntentAsValue => read_intent_as_value,
        updateFromKeyBuilder => update_from_key_builder,
        readForgedValue => read_forged_value,
        readZeroHandle => read_zero_handle,
    ];
}

/// For every record of the view `mypkg.AllTypes` with key field `pk` = 1,
/// inserts into `mypkg.AllTypesCopy` a record whose key copies every key
/// field (read by type) and whose value copies every value field, nested
/// fields and array elements (read by name, by index, as every type).
pub fn copy_all_types(ext: Ext<'_>) {
    let all_types = ext.key_builder(STORAGE_VIEW, "mypkg.AllTypes");
    all_types.put_int32("pk", 1);
    ext.read_values(&all_types, |key, value| {
        let copy = ext.key_builder(STORAGE_VIEW, "mypkg.AllTypesCopy");
        copy.put_int32("pk", key.as_int32("pk"))
            .put_int64("cc", key.as_int64("cc"))
            .put_string("name", key.as_string("name"))
            .put_bytes("raw", key.as_bytes("raw"))
            .put_qname("kind", key.as_qname("kind"))
            .put_bool("flag", key.as_bool("flag"))
            .put_float32("f32", key.as_float32("f32"))
            .put_float64("f64", key.as_float64("f64"));
        let nested = value.as_value("nested");
        let list = value.as_value("list");
        ext.new_value(&copy)
            .put_int32("i32", value.as_int32("i32"))
            .put_int64("i64", value.as_int64("i64"))
            .put_float32("f32", value.as_float32("f32"))
            .put_float64("f64", value.as_float64("f64"))
            .put_bool("b", value.as_bool("b"))
            .put_string("s", value.as_string("s"))
            .put_bytes("bytes", value.as_bytes("bytes"))
            .put_qname("q", value.as_qname("q"))
            .put_int32("nestedX", nested.as_int32("x"))
            .put_string("deeperY", nested.as_value("deeper").as_string("y"))
            .put_int64("listLen", list.len() as i64)
            .put_int32("list0", list.get_as_int32(0))
            .put_int64("list0as64", list.get_as_int64(0))
            .put_string("list1", list.get_as_string(1))
            .put_bytes("list2", list.get_as_bytes(2))
            .put_qname("list3", list.get_as_qname(3))
            .put_bool("list4", list.get_as_bool(4))
            .put_float32("list5as32", list.get_as_float32(5))
            .put_float64("list5", list.get_as_float64(5))
            .put_int32("list6y", list.get_as_value(6).as_int32("y"))
            .put_bytes("sAsBytes", value.as_bytes("s"))
            .put_float64("i32AsF64", value.as_float64("i32"));
    });
}

/// For every order of the view `mypkg.Orders` (key `id`), reads its lines in
/// `mypkg.OrderLines` (key `order` = id) from inside the read callback, and
/// inserts `{customer, total, lines}` into `mypkg.OrderTotals`; logs a
/// line per order (`order 1 of Ada: 2 lines, total 150`).
pub fn order_totals(ext: Ext<'_>) {
    ext.read_values(&ext.key_builder(STORAGE_VIEW, "mypkg.Orders"), |order_key, order| {
        let id = order_key.as_int64("id");
        // Read before the nested read, used after it: borrowed strings stay valid.
        let customer = order.as_string("customer");
        let lines = ext.key_builder(STORAGE_VIEW, "mypkg.OrderLines");
        lines.put_int64("order", id);
        let (mut total, mut count) = (0_i64, 0_i32);
        ext.read_values(&lines, |line_key, line| {
            total = total.wrapping_add(line.as_int64("amount"));
            count += 1;
            debug_assert_eq!(line_key.as_int64("order"), id);
        });
        let key = ext.key_builder(STORAGE_VIEW, "mypkg.OrderTotals");
        key.put_int64("id", id);
        ext.new_value(&key).put_string("customer", customer).put_int64("total", total).put_int32("lines", count);
        log!("order {id} of {customer}: {count} lines, total {total}");
    });
}

/// Inserts into the view `mypkg.Floats` (key `id` = 1) NaN, +∞ and −∞ as
/// float64 (`nan64`, `inf64`, `ninf64`) and as float32 (`nan32`, `inf32`,
/// `ninf32`): the floats a JSON number cannot hold.
pub fn put_non_finite(ext: Ext<'_>) {
    let key = ext.key_builder(STORAGE_VIEW, "mypkg.Floats");
    key.put_int64("id", 1);
    ext.new_value(&key)
        .put_float64("nan64", f64::NAN)
        .put_float64("inf64", f64::INFINITY)
        .put_float64("ninf64", f64::NEG_INFINITY)
        .put_float32("nan32", f32::NAN)
        .put_float32("inf32", f32::INFINITY)
        .put_float32("ninf32", f32::NEG_INFINITY);
}

/// Archives the total of order 1: gets `mypkg.OrderTotals` (key `id` = 1)
/// from the view and updates `mypkg.ArchivedTotals` with the same key in
/// `sys.Record` from it, marked `archived`. The existing value comes from
/// one storage and the intent's key names another: whether the write may be
/// made is for the key's storage to say.
pub fn archive_total(ext: Ext<'_>) {
    let total = ext.key_builder(STORAGE_VIEW, "mypkg.OrderTotals");
    total.put_int64("id", 1);
    let existing = ext.must_get_value(&total);
    let archived = ext.key_builder(STORAGE_RECORD, "mypkg.ArchivedTotals");
    archived.put_int64("id", 1);
    ext.update_value(&archived, &existing).put_bool("archived", true);
}

/// Reads the event's field named by its string `field` as the type named by
/// its string `as`: `int32`, `int64`, `float32`, `float64`, `bool`,
/// `string`, `bytes`, `qname`, `value`, `length` (of the field, an array),
/// or `element int32` / `element string` (its element 0). Makes no intent.
pub fn read_as(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    let name = event.as_string("field");
    let kind = event.as_string("as");
    if let Some(element) = kind.strip_prefix("element ") {
        let list = event.as_value(name);
        match element {
            "int32" => {
                list.get_as_int32(0);
            }
            "string" => {
                list.get_as_string(0);
            }
            other => panic!("readAs: no element type {other}"),
        }
        return;
    }
    match kind {
        "int32" => {
            event.as_int32(name);
        }
        "int64" => {
            event.as_int64(name);
        }
        "float32" => {
            event.as_float32(name);
        }
        "float64" => {
            event.as_float64(name);
        }
        "bool" => {
            event.as_bool(name);
        }
        "string" => {
            event.as_string(name);
        }
        "bytes" => {
            event.as_bytes(name);
        }
        "qname" => {
            event.as_qname(name);
        }
        "value" => {
            event.as_value(name);
        }
        "length" => {
            event.as_value(name).len();
        }
        other => panic!("readAs: no type {other}"),
    }
}

/// The handle of the event `keepEvent` got, for `readKeptEvent`.
/// On wasm each instance has its own; natively one per thread, so that tests
/// running on the mock host in parallel (each test on its thread) do not see
/// each other's handle.
#[cfg(target_arch = "wasm32")]
static KEPT: AtomicU64 = AtomicU64::new(0);
#[cfg(not(target_arch = "wasm32"))]
std::thread_local! {
    static KEPT: AtomicU64 = const { AtomicU64::new(0) };
}

/// Runs `f` on this instance's (natively: this thread's) `KEPT`.
fn with_kept<R>(f: impl FnOnce(&AtomicU64) -> R) -> R {
    #[cfg(target_arch = "wasm32")]
    return f(&KEPT);
    #[cfg(not(target_arch = "wasm32"))]
    return KEPT.with(f);
}

/// Gets the event and keeps its handle past the invocation.
pub fn keep_event(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    with_kept(|kept| kept.store(event.raw_handle(), Relaxed));
}

/// Reads `n` of the event `keepEvent` kept: a stale handle.
pub fn read_kept_event(ext: Ext<'_>) {
    Value::from_raw_handle(ext, with_kept(|kept| kept.load(Relaxed))).as_int32("n");
}

/// Reads `n` of a new intent as if it were a value: a handle of the wrong kind.
pub fn read_intent_as_value(ext: Ext<'_>) {
    let intent = ext.new_value(&ext.key_builder(STORAGE_VIEW, "mypkg.Misuse"));
    Value::from_raw_handle(ext, intent.raw_handle()).as_int32("n");
}

/// Updates with the key builder as the existing value too: a handle of the
/// wrong kind.
pub fn update_from_key_builder(ext: Ext<'_>) {
    let key = ext.key_builder(STORAGE_VIEW, "mypkg.Misuse");
    ext.update_value(&key, &Value::from_raw_handle(ext, key.raw_handle()));
}

/// Reads `n` of the handle 5 past the event's (value #5 of an invocation
/// that has one): a forged handle.
pub fn read_forged_value(ext: Ext<'_>) {
    let event = ext.must_get_value(&ext.key_builder(STORAGE_EVENT, NULL_ENTITY));
    Value::from_raw_handle(ext, event.raw_handle().wrapping_add(5)).as_int32("n");
}

/// Reads `n` of handle 0, which is no handle at all.
pub fn read_zero_handle(ext: Ext<'_>) {
    Value::from_raw_handle(ext, 0).as_int32("n");
}

#[cfg(test)]
mod tests {
    use extwasm_guest_sdk::testing::{ErrorKind, MockHost};
    use serde_json::json;

    use super::*;

    const STATE: &str = include_str!("../state.json");

    #[test]
    fn copies_every_field_type_of_every_match() {
        let intents = MockHost::from_json(STATE).unwrap().run(copy_all_types).unwrap();
        assert_eq!(intents.len(), 2);
        assert_eq!(
            intents[0],
            json!({
                "op": "insert", "storage": "sys.View", "entity": "mypkg.AllTypesCopy",
                "key": { "pk": 1, "cc": 10000000000_i64, "name": "first", "raw": { "$bytes": "AQID" },
                         "kind": { "$qname": "github.com/org/app/mypkg.Kind" }, "flag": true, "f32": 1.5, "f64": 2.25 },
                "value": {
                    "i32": -7, "i64": 9007199254740993_i64, "f32": 0.5, "f64": 3.75, "b": false, "s": "héllo wörld",
                    "bytes": { "$bytes": "AAEC/w==" }, "q": { "$qname": "a.b.Entity" },
                    "nestedX": 1, "deeperY": "z", "listLen": 7,
                    "list0": 5, "list0as64": 5, "list1": "two", "list2": { "$bytes": "Aw==" },
                    "list3": { "$qname": "c.d.E" }, "list4": true, "list5as32": 2.5, "list5": 2.5, "list6y": 8,
                    "sAsBytes": { "$bytes": "aMOpbGxvIHfDtnJsZA==" }, "i32AsF64": -7.0
                }
            })
        );
        assert_eq!(intents[1]["key"]["cc"], -1);
        assert_eq!(intents[1]["value"]["i64"], i64::MIN);
        assert_eq!(intents[1]["value"]["s"], "");
        assert_eq!(intents[1]["value"]["bytes"], json!({ "$bytes": "" }));
    }

    #[test]
    fn nested_reads() {
        let host = MockHost::from_json(STATE).unwrap();
        let intents = host.run(order_totals).unwrap();
        // The mock host captures what the extension logs, as the engine does.
        assert_eq!(
            host.output(),
            "order 1 of Ada: 2 lines, total 150\norder 2 of Grace: 3 lines, total 24\norder 3 of Linus: 0 lines, total 0\n"
        );
        let totals: Vec<_> = intents.iter().map(|i| (&i["key"]["id"], &i["value"])).collect();
        assert_eq!(
            totals,
            [
                (&json!(1), &json!({"customer": "Ada", "total": 150, "lines": 2})),
                (&json!(2), &json!({"customer": "Grace", "total": 24, "lines": 3})),
                (&json!(3), &json!({"customer": "Linus", "total": 0, "lines": 0})),
            ]
        );
    }

    #[test]
    fn non_finite_floats_are_tagged() {
        let intents = MockHost::from_json("{}").unwrap().run(put_non_finite).unwrap();
        let (nan, inf, ninf) =
            (json!({"$float": "NaN"}), json!({"$float": "Infinity"}), json!({"$float": "-Infinity"}));
        assert_eq!(
            intents[0]["value"],
            json!({"nan64": nan, "inf64": inf, "ninf64": ninf, "nan32": nan, "inf32": inf, "ninf32": ninf})
        );
    }

    #[test]
    fn the_archive_is_updated_from_the_view_unless_it_fails() {
        let state = r#"{"sys.View": [{"entity": "mypkg.OrderTotals", "key": {"id": 1}, "value": {"total": 150}}],
                        "sys.Record": [{"entity": "mypkg.ArchivedTotals", "key": {"id": 1}, "value": {}}]}"#;
        let intents = MockHost::from_json(state).unwrap().run(archive_total).unwrap();
        assert_eq!(
            intents,
            [json!({"op": "update", "storage": "sys.Record", "entity": "mypkg.ArchivedTotals", "key": {"id": 1},
                    "value": {"total": 150, "archived": true}})]
        );
        let failing = r#"{"sys.View": [{"entity": "mypkg.OrderTotals", "key": {"id": 1}, "value": {}}],
                          "sys.Record": {"$error": "test i/o error"}}"#;
        let err = MockHost::from_json(failing).unwrap().run(archive_total).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert_eq!(
            err.to_string(),
            "extension mock/archive_total: hostUpdateValue(keyBuilder): state error: test i/o error"
        );
    }

    #[test]
    fn nothing_to_read_is_no_intent_and_a_failing_storage_fails() {
        assert_eq!(MockHost::from_json("{}").unwrap().run(order_totals).unwrap().len(), 0);
        let failing = r#"{"sys.View": {"$error": "disk unavailable"}}"#;
        let err = MockHost::from_json(failing).unwrap().run(copy_all_types).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::State);
        assert_eq!(err.site().unwrap().host_call, "hostReadValues");
    }
}
