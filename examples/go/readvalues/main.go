// Reads with a callback (nested ones too) and every field type: keys by
// name, values by name and by index, nested values, and puts of every type,
// the floats JSON numbers cannot hold included; and an update whose existing
// value comes from another storage than its key. The behaviour (and the
// host calls) of examples/rust/readvalues.
package main

import (
	"math"

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
