// Reads with a callback (nested ones too) and every field type: keys by
// name, values by name and by index, nested values, and puts of every type,
// the floats JSON numbers cannot hold included; and an update whose existing
// value comes from another storage than its key. The behaviour (and the
// host calls) of examples/rust/readvalues.
//
// And misreads, for the conformance table to check that every host fails
// them with the same words: fields read as a type they do not have (readAs),
// and handles that are stale, of the wrong kind, forged or no handle at all.
// The SDK's handle types are uint64s, as in the published TinyGo SDK, so a
// conversion makes any handle; only tests like these have reason to.
package main

import (
	"math"
	"strings"

	"example.invalid/extwasm/tinygo-sdk/ext"
)

func main() {}

// copyAllTypes inserts into mypkg.AllTypesCopy, for every record of the view
// mypkg.AllTypes with key field pk = 1, a record whose key copies every key
// field (read by type) and whose value copies every value field, nested
// fields and array elements (read by name, by index, as every type).
//
//go:wasmexport copyAllTypes
func copyAllTypes() {
	allTypes := ext.KeyBuilder(ext.StorageView, "mypkg.AllTypes")
	allTypes.PutInt32("pk", 1)
	ext.ReadValues(allTypes, copyRecord)
}

// copyRecord is the read callback of copyAllTypes. A function, not a
// closure: it captures nothing, so ReadValues allocates nothing.
func copyRecord(key ext.TKey, value ext.TValue) {
	copied := ext.KeyBuilder(ext.StorageView, "mypkg.AllTypesCopy")
	copied.PutInt32("pk", key.AsInt32("pk"))
	copied.PutInt64("cc", key.AsInt64("cc"))
	copied.PutString("name", key.AsString("name"))
	copied.PutBytes("raw", key.AsBytes("raw"))
	copied.PutQName("kind", key.AsQName("kind"))
	copied.PutBool("flag", key.AsBool("flag"))
	copied.PutFloat32("f32", key.AsFloat32("f32"))
	copied.PutFloat64("f64", key.AsFloat64("f64"))
	nested := value.AsValue("nested")
	list := value.AsValue("list")
	intent := ext.NewValue(copied)
	intent.PutInt32("i32", value.AsInt32("i32"))
	intent.PutInt64("i64", value.AsInt64("i64"))
	intent.PutFloat32("f32", value.AsFloat32("f32"))
	intent.PutFloat64("f64", value.AsFloat64("f64"))
	intent.PutBool("b", value.AsBool("b"))
	intent.PutString("s", value.AsString("s"))
	intent.PutBytes("bytes", value.AsBytes("bytes"))
	intent.PutQName("q", value.AsQName("q"))
	intent.PutInt32("nestedX", nested.AsInt32("x"))
	intent.PutString("deeperY", nested.AsValue("deeper").AsString("y"))
	intent.PutInt64("listLen", int64(list.Len()))
	intent.PutInt32("list0", list.GetAsInt32(0))
	intent.PutInt64("list0as64", list.GetAsInt64(0))
	intent.PutString("list1", list.GetAsString(1))
	intent.PutBytes("list2", list.GetAsBytes(2))
	intent.PutQName("list3", list.GetAsQName(3))
	intent.PutBool("list4", list.GetAsBool(4))
	intent.PutFloat32("list5as32", list.GetAsFloat32(5))
	intent.PutFloat64("list5", list.GetAsFloat64(5))
	intent.PutInt32("list6y", list.GetAsValue(6).AsInt32("y"))
	intent.PutBytes("sAsBytes", value.AsBytes("s"))
	intent.PutFloat64("i32AsF64", value.AsFloat64("i32"))
}

// orderTotals reads, for every order of the view mypkg.Orders (key id), its
// lines in mypkg.OrderLines (key order = id) from inside the read callback,
// and inserts {customer, total, lines} into mypkg.OrderTotals.
//
//go:wasmexport orderTotals
func orderTotals() {
	ext.ReadValues(ext.KeyBuilder(ext.StorageView, "mypkg.Orders"), func(orderKey ext.TKey, order ext.TValue) {
		id := orderKey.AsInt64("id")
		// Read before the nested read, used after it: the view stays valid.
		customer := order.AsString("customer")
		lines := ext.KeyBuilder(ext.StorageView, "mypkg.OrderLines")
		lines.PutInt64("order", id)
		var total int64
		var count int32
		ext.ReadValues(lines, func(_ ext.TKey, line ext.TValue) {
			total += line.AsInt64("amount")
			count++
		})
		key := ext.KeyBuilder(ext.StorageView, "mypkg.OrderTotals")
		key.PutInt64("id", id)
		ext.NewValue(key).PutString("customer", customer).PutInt64("total", total).PutInt32("lines", count)
	})
}

// putNonFinite inserts into the view mypkg.Floats (key id = 1) NaN, +Inf and
// -Inf as float64 (nan64, inf64, ninf64) and as float32 (nan32, inf32,
// ninf32): the floats a JSON number cannot hold.
//
//go:wasmexport putNonFinite
func putNonFinite() {
	key := ext.KeyBuilder(ext.StorageView, "mypkg.Floats")
	key.PutInt64("id", 1)
	ext.NewValue(key).
		PutFloat64("nan64", math.NaN()).
		PutFloat64("inf64", math.Inf(1)).
		PutFloat64("ninf64", math.Inf(-1)).
		PutFloat32("nan32", float32(math.NaN())).
		PutFloat32("inf32", float32(math.Inf(1))).
		PutFloat32("ninf32", float32(math.Inf(-1)))
}

// archiveTotal archives the total of order 1: it gets mypkg.OrderTotals (key
// id = 1) from the view and updates mypkg.ArchivedTotals with the same key in
// sys.Record from it, marked archived. The existing value comes from one
// storage and the intent's key names another: whether the write may be made
// is for the key's storage to say.
//
//go:wasmexport archiveTotal
func archiveTotal() {
	total := ext.KeyBuilder(ext.StorageView, "mypkg.OrderTotals")
	total.PutInt64("id", 1)
	existing := ext.MustGetValue(total)
	archived := ext.KeyBuilder(ext.StorageRecord, "mypkg.ArchivedTotals")
	archived.PutInt64("id", 1)
	ext.UpdateValue(archived, existing).PutBool("archived", true)
}

// readAs reads the event's field named by its string field as the type named
// by its string as: int32, int64, float32, float64, bool, string, bytes,
// qname, value, length (of the field, an array), or element int32 / element
// string (its element 0). It makes no intent.
//
//go:wasmexport readAs
func readAs() {
	event := mustGetEvent()
	name := event.AsString("field")
	kind := event.AsString("as")
	if element, ok := strings.CutPrefix(kind, "element "); ok {
		list := event.AsValue(name)
		switch element {
		case "int32":
			list.GetAsInt32(0)
		case "string":
			list.GetAsString(0)
		default:
			panic("readAs: no element type " + element)
		}
		return
	}
	switch kind {
	case "int32":
		event.AsInt32(name)
	case "int64":
		event.AsInt64(name)
	case "float32":
		event.AsFloat32(name)
	case "float64":
		event.AsFloat64(name)
	case "bool":
		event.AsBool(name)
	case "string":
		event.AsString(name)
	case "bytes":
		event.AsBytes(name)
	case "qname":
		event.AsQName(name)
	case "value":
		event.AsValue(name)
	case "length":
		event.AsValue(name).Len()
	default:
		panic("readAs: no type " + kind)
	}
}

func mustGetEvent() ext.TValue {
	return ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
}

// kept is the event keepEvent got, for readKeptEvent.
var kept ext.TValue

// keepEvent gets the event and keeps its handle past the invocation.
//
//go:wasmexport keepEvent
func keepEvent() { kept = mustGetEvent() }

// readKeptEvent reads n of the event keepEvent kept: a stale handle.
//
//go:wasmexport readKeptEvent
func readKeptEvent() { kept.AsInt32("n") }

// readIntentAsValue reads n of a new intent as if it were a value: a handle
// of the wrong kind.
//
//go:wasmexport readIntentAsValue
func readIntentAsValue() {
	intent := ext.NewValue(ext.KeyBuilder(ext.StorageView, "mypkg.Misuse"))
	ext.TValue(intent).AsInt32("n")
}

// updateFromKeyBuilder updates with the key builder as the existing value
// too: a handle of the wrong kind.
//
//go:wasmexport updateFromKeyBuilder
func updateFromKeyBuilder() {
	key := ext.KeyBuilder(ext.StorageView, "mypkg.Misuse")
	ext.UpdateValue(key, ext.TValue(key))
}

// readForgedValue reads n of the handle 5 past the event's (value #5 of an
// invocation that has one): a forged handle.
//
//go:wasmexport readForgedValue
func readForgedValue() { ext.TValue(uint64(mustGetEvent()) + 5).AsInt32("n") }

// readZeroHandle reads n of handle 0, which is no handle at all.
//
//go:wasmexport readZeroHandle
func readZeroHandle() { ext.TValue(0).AsInt32("n") }
