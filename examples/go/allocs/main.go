// Memory behaviour: the extensions of TinyGo's allocs-pkg.wasm (simple,
// arrAppend, arrReset, arrAppend2, longFunc), those of examples/rust/allocs
// (zeroedAfterFree, exhaustMemory), and two that prove that host calls do
// not allocate: everyHostCall makes every kind of host call, heapStats
// reports the runtime's heap counters as an intent.
package main

import (
	"runtime"

	"example.invalid/extwasm/tinygo-sdk/ext"
)

func main() {}

// simple returns.
//
//go:wasmexport simple
func simple() {}

// kept grows with arrAppend and arrAppend2 and is never freed.
var kept []*int32

// arrAppend keeps a pointer to a new int32 holding the event's offs.
//
//go:wasmexport arrAppend
func arrAppend() {
	event := ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
	offs := new(int32)
	*offs = event.AsInt32("offs")
	kept = append(kept, offs)
}

// arrReset forgets what arrAppend and arrAppend2 kept.
//
//go:wasmexport arrReset
func arrReset() {
	kept = make([]*int32, 0)
}

// arrAppend2 keeps 10 000 pointers to new int32s.
//
//go:wasmexport arrAppend2
func arrAppend2() {
	for i := range 10_000 {
		v := new(int32)
		*v = int32(i)
		kept = append(kept, v)
	}
}

// longFunc inserts 10 000 000 ints into a map: long-running and
// memory-hungry.
//
//go:wasmexport longFunc
func longFunc() {
	m := make(map[int]int)
	for i := range 10_000_000 {
		m[i] = i
	}
}

// sink keeps allocations from being optimised away.
var sink []byte

// zeroedAfterFree allocates blocks, drops them, and allocates again: new
// memory is always zero in Go, also where dropped blocks were.
//
//go:wasmexport zeroedAfterFree
func zeroedAfterFree() {
	for _, size := range []int{16, 1000, 70_000} {
		dirty := make([]byte, size)
		for i := range dirty {
			dirty[i] = 0xAA
		}
		sink = dirty
		sink = nil
		runtime.GC()
		zeroed := make([]byte, size)
		for _, b := range zeroed {
			if b != 0 {
				panic("a new allocation is not zero")
			}
		}
		sink = zeroed
	}
	sink = nil
}

// exhaustMemory allocates 1 MiB blocks and keeps them, 64 MiB in all: more
// than the engine's default memory limit (16 MiB).
//
//go:wasmexport exhaustMemory
func exhaustMemory() {
	blocks := make([][]byte, 0, 64)
	for range 64 {
		block := make([]byte, 1<<20)
		block[0] = 1
		blocks = append(blocks, block)
	}
	sink = blocks[63]
}

// everyHostCall makes every kind of host call on the records of the view
// mypkg.AllTypes (the state of examples/rust/readvalues): get, query, a read
// with a callback, keys and values read as every type, by name and by index,
// puts of every type on a key builder and on intents (an update and an insert
// per record). None of them allocates, so heapStats counts the same before
// and after any number of invocations.
//
//go:wasmexport everyHostCall
func everyHostCall() {
	key := ext.KeyBuilder(ext.StorageView, "mypkg.AllTypes")
	key.PutInt32("pk", 1)
	ext.MustGetValue(key)
	ext.QueryValue(key)
	ext.ReadValues(key, readEveryType)
}

// readEveryType is the callback of everyHostCall (a function: it captures
// nothing).
func readEveryType(key ext.TKey, value ext.TValue) {
	probe := ext.KeyBuilder(ext.StorageView, "mypkg.Probe")
	probe.PutInt32("i32", key.AsInt32("pk"))
	probe.PutInt64("i64", key.AsInt64("cc"))
	probe.PutString("s", key.AsString("name"))
	probe.PutBytes("b", key.AsBytes("raw"))
	probe.PutQName("q", key.AsQName("kind"))
	probe.PutBool("t", key.AsBool("flag"))
	probe.PutFloat32("f32", key.AsFloat32("f32"))
	probe.PutFloat64("f64", key.AsFloat64("f64"))
	intent := ext.UpdateValue(probe, value)
	intent.PutString("s", value.AsString("s"))
	intent.PutBytes("b", value.AsBytes("bytes"))
	intent.PutQName("q", value.AsQName("q"))
	intent.PutInt32("i32", value.AsInt32("i32"))
	intent.PutInt64("i64", value.AsInt64("i64"))
	intent.PutFloat32("f32", value.AsFloat32("f32"))
	intent.PutFloat64("f64", value.AsFloat64("f64"))
	intent.PutBool("t", value.AsBool("b"))
	list := value.AsValue("list")
	intent.PutInt64("n", int64(list.Len()))
	intent.PutInt32("l0", list.GetAsInt32(0))
	intent.PutInt64("l0", list.GetAsInt64(0))
	intent.PutString("l1", list.GetAsString(1))
	intent.PutBytes("l2", list.GetAsBytes(2))
	intent.PutQName("l3", list.GetAsQName(3))
	intent.PutBool("l4", list.GetAsBool(4))
	intent.PutFloat32("l5", list.GetAsFloat32(5))
	intent.PutFloat64("l5", list.GetAsFloat64(5))
	intent.PutInt32("l6", list.GetAsValue(6).AsInt32("y"))
	ext.NewValue(probe).PutInt32("new", 1)
}

// memStats is reused: reading it allocates nothing.
var memStats runtime.MemStats

// heapStats reports the runtime's heap counters: an insert into sys.Result
// with mallocs, frees, heapInuse and heapSys.
//
//go:wasmexport heapStats
func heapStats() {
	runtime.ReadMemStats(&memStats)
	ext.NewValue(ext.KeyBuilder(ext.StorageResult, ext.NullEntity)).
		PutInt64("mallocs", int64(memStats.Mallocs)).
		PutInt64("frees", int64(memStats.Frees)).
		PutInt64("heapInuse", int64(memStats.HeapInuse)).
		PutInt64("heapSys", int64(memStats.HeapSys))
}
