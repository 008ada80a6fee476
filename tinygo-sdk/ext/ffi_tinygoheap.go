//go:build (wasm || tinygo.wasm) && tinygo

package ext

// TinyGo: its runtime exports malloc and free itself (a block of its heap,
// kept alive until freed), so the exchange buffer and any extra result
// buffer are in TinyGo's heap, which starts at the linker symbol
// __heap_base and runs to the end of linear memory. That heap is the arena:
// a view is an offset from its start, made with unsafe.Add, not an
// integer-to-pointer conversion (which go vet rejects).

import "unsafe"

// heapStart is TinyGo's heap: the runtime allocates from this symbol on.
//
//go:extern __heap_base
var heapStart [0]byte

// exchangeBytes is the view of the bytes the host returned packed as
// (address << 32) | length.
func exchangeBytes(packed uint64) []byte {
	address, length := uint32(packed>>32), uint32(packed)
	if length == 0 {
		return nil
	}
	heap := unsafe.Pointer(&heapStart)
	start := uint32(uintptr(heap))
	if address < start {
		panic("ext: the host returned bytes below TinyGo's heap, where its malloc never allocates " +
			"(an engine that does not follow ABI 0.0.1's exchange buffer?)")
	}
	return unsafe.Slice((*byte)(unsafe.Add(heap, address-start)), length)
}
