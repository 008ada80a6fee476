package ext_test

import (
	"fmt"
	"strings"
	"testing"

	"example.invalid/extwasm/tinygo-sdk/ext"
	"example.invalid/extwasm/tinygo-sdk/exttest"
)

// allTypes is a record with a field of every type, an object and an array.
const allTypes = `{"sys.View": [{
	"entity": "mypkg.AllTypes",
	"key": {"pk": 1, "name": "first", "raw": {"$bytes": "AQID"}, "kind": {"$qname": "a.b.Kind"}, "flag": true, "f": 1.5},
	"value": {"i32": -7, "i64": 9007199254740993, "f64": 3.75, "b": true, "s": "héllo", "bytes": {"$bytes": "AAEC"},
		"q": {"$qname": "github.com/org/app/mypkg.Entity"}, "nested": {"x": 1},
		"list": [5, "two", {"$bytes": "Aw=="}, {"$qname": "c.d.E"}, true, 2.5, {"y": 8}]}
}]}`

func host(t testing.TB, state string) *exttest.Host {
	t.Helper()
	h, err := exttest.FromJSON(state)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Host calls do not allocate: strings and bytes are views (of the exchange
// buffer on wasm, of the state here), names go out as they are, callbacks
// that capture nothing are not copied. engine/tests/all/go_examples.rs proves
// the same on wasm with the runtime's heap counters.
func TestHostCallsDoNotAllocate(t *testing.T) {
	h := host(t, allTypes)
	var reads, puts, read float64
	_, err := h.Run(func() {
		key := ext.KeyBuilder(ext.StorageView, "mypkg.AllTypes")
		key.PutInt32("pk", 1)
		value := ext.MustGetValue(key)
		list := value.AsValue("list")
		reads = testing.AllocsPerRun(200, func() {
			value.AsInt32("i32")
			value.AsInt64("i64")
			value.AsFloat32("f64")
			value.AsFloat64("f64")
			value.AsBool("b")
			value.AsString("s")
			value.AsBytes("bytes")
			value.AsBytes("s")
			value.AsQName("q")
			list.Len()
			list.GetAsInt32(0)
			list.GetAsInt64(0)
			list.GetAsString(1)
			list.GetAsBytes(2)
			list.GetAsQName(3)
			list.GetAsBool(4)
			list.GetAsFloat32(5)
			list.GetAsFloat64(5)
			ext.QueryValue(key)
		})
		raw := value.AsBytes("bytes")
		intent := ext.NewValue(key)
		puts = testing.AllocsPerRun(200, func() {
			intent.PutInt32("i32", 1).PutInt64("i64", 2).PutFloat32("f32", 3).PutFloat64("f64", 4)
			intent.PutBool("b", true).PutString("s", "text").PutBytes("raw", raw)
			intent.PutQName("q", ext.QName{Pkg: "a.b", Entity: "C"})
			key.PutString("name", "first")
		})
		read = testing.AllocsPerRun(200, func() {
			ext.ReadValues(key, countRecord)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if reads != 0 || puts != 0 || read != 0 {
		t.Fatalf("allocations per run: reads %v, puts %v, ReadValues %v", reads, puts, read)
	}
}

var records int

func countRecord(ext.TKey, ext.TValue) { records++ }

func TestEveryTypeReadsAndPuts(t *testing.T) {
	intents, err := host(t, allTypes).Run(func() {
		key := ext.KeyBuilder(ext.StorageView, "mypkg.AllTypes")
		key.PutInt32("pk", 1)
		ext.ReadValues(key, func(k ext.TKey, v ext.TValue) {
			list := v.AsValue("list")
			out := ext.KeyBuilder(ext.StorageView, "mypkg.Copy").PutInt32("pk", k.AsInt32("pk")).PutInt64("pk64", k.AsInt64("pk"))
			out.PutString("name", k.AsString("name")).PutBytes("raw", k.AsBytes("raw")).PutQName("kind", k.AsQName("kind"))
			out.PutBool("flag", k.AsBool("flag")).PutFloat32("f32", k.AsFloat32("f")).PutFloat64("f64", k.AsFloat64("f"))
			ext.NewValue(out).
				PutInt32("i32", v.AsInt32("i32")).PutInt64("i64", v.AsInt64("i64")).PutFloat64("f64", v.AsFloat64("f64")).
				PutFloat32("f32", v.AsFloat32("f64")).PutBool("b", v.AsBool("b")).PutString("s", v.AsString("s")).
				PutBytes("bytes", v.AsBytes("bytes")).PutQName("q", v.AsQName("q")).PutInt32("x", v.AsValue("nested").AsInt32("x")).
				PutInt64("len", int64(list.Len())).PutString("l1", list.GetAsString(1)).PutBytes("l2", list.GetAsBytes(2)).
				PutQName("l3", list.GetAsQName(3)).PutBool("l4", list.GetAsBool(4)).PutFloat32("l5", list.GetAsFloat32(5)).
				PutFloat64("l5d", list.GetAsFloat64(5)).PutInt32("l6", list.GetAsValue(6).AsInt32("y")).
				PutInt64("l0", list.GetAsInt64(0)).PutInt32("l0i", list.GetAsInt32(0))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"op":"insert","storage":"sys.View","entity":"mypkg.Copy",` +
		`"key":{"pk":1,"pk64":1,"name":"first","raw":{"$bytes":"AQID"},"kind":{"$qname":"a.b.Kind"},"flag":true,"f32":1.5,"f64":1.5},` +
		`"value":{"i32":-7,"i64":9007199254740993,"f64":3.75,"f32":3.75,"b":true,"s":"héllo","bytes":{"$bytes":"AAEC"},` +
		`"q":{"$qname":"github.com/org/app/mypkg.Entity"},"x":1,"len":7,"l1":"two","l2":{"$bytes":"Aw=="},` +
		`"l3":{"$qname":"c.d.E"},"l4":true,"l5":2.5,"l5d":2.5,"l6":8,"l0":5,"l0i":5}}`
	if len(intents) != 1 || intents[0].JSON() != want {
		t.Fatalf("got %v\nwant %s", intents, want)
	}
	if q := intents[0].Value["q"]; q != (ext.QName{Pkg: "github.com/org/app/mypkg", Entity: "Entity"}) {
		t.Fatalf("q is %#v", q)
	}
}

func TestReadValuesNestsAndKeepsViewsValid(t *testing.T) {
	state := `{"sys.View": [
		{"entity": "Orders", "key": {"id": 1}, "value": {"customer": "Ada"}},
		{"entity": "Orders", "key": {"id": 2}, "value": {"customer": "Grace"}},
		{"entity": "Lines", "key": {"order": 1, "n": 1}, "value": {"amount": 100}},
		{"entity": "Lines", "key": {"order": 2, "n": 1}, "value": {"amount": 7}},
		{"entity": "Lines", "key": {"order": 1, "n": 2}, "value": {"amount": 50}}]}`
	var got []string
	_, err := host(t, state).Run(func() {
		ext.ReadValues(ext.KeyBuilder(ext.StorageView, "Orders"), func(key ext.TKey, order ext.TValue) {
			customer := order.AsString("customer")
			lines := ext.KeyBuilder(ext.StorageView, "Lines").PutInt64("order", key.AsInt64("id"))
			var total int64
			ext.ReadValues(lines, func(_ ext.TKey, line ext.TValue) { total += line.AsInt64("amount") })
			got = append(got, fmt.Sprintf("%s:%d", customer, total))
		})
	})
	if err != nil || strings.Join(got, " ") != "Ada:150 Grace:7" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestQueryValueSaysWhetherThereIsOne(t *testing.T) {
	var found, missing bool
	_, err := host(t, `{"sys.View": [{"entity": "E", "key": {"k": 1}, "value": {}}]}`).Run(func() {
		_, found = ext.QueryValue(ext.KeyBuilder(ext.StorageView, "E").PutInt32("k", 1))
		_, missing = ext.QueryValue(ext.KeyBuilder(ext.StorageView, "E").PutInt32("k", 2))
	})
	if err != nil || !found || missing {
		t.Fatalf("found %v, missing %v, %v", found, missing, err)
	}
}

func TestIndexesBeyondInt32AreOutOfRange(t *testing.T) {
	_, err := host(t, `{"sys.Event": [{"value": {"list": [1]}}]}`).Run(func() {
		list := ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity)).AsValue("list")
		list.GetAsInt32(1 << 40)
	})
	if err == nil || !strings.HasSuffix(err.Error(), "hostValueGetAsInt32(index): no element -1: out of range or not an array") {
		t.Fatalf("got %v", err)
	}
}

func TestHostCallsOutsideARunSayHowToRunNatively(t *testing.T) {
	defer func() {
		if message := fmt.Sprint(recover()); !strings.Contains(message, "exttest") {
			t.Fatalf("got %q", message)
		}
	}()
	ext.KeyBuilder(ext.StorageEvent, ext.NullEntity)
}

func Example() {
	incrementProjector := func() {
		key := ext.KeyBuilder(ext.StorageView, "mypkg.TestView")
		key.PutInt32("pk", 1).PutInt32("cc", 1)
		if existing, ok := ext.QueryValue(key); ok {
			ext.UpdateValue(key, existing).PutInt32("vv", existing.AsInt32("vv")+1)
		} else {
			ext.NewValue(key).PutInt32("vv", 1)
		}
	}
	host, _ := exttest.FromJSON(`{"sys.View": []}`)
	for range 2 {
		intents, _ := host.RunAndApply(incrementProjector)
		fmt.Println(intents[0].JSON())
	}
	// Output:
	// {"op":"insert","storage":"sys.View","entity":"mypkg.TestView","key":{"pk":1,"cc":1},"value":{"vv":1}}
	// {"op":"update","storage":"sys.View","entity":"mypkg.TestView","key":{"pk":1,"cc":1},"value":{"vv":2}}
}
