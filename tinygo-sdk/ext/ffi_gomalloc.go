//go:build (wasm || tinygo.wasm) && !tinygo

package ext

// Standard Go: its runtime exports no malloc, so the SDK does. The host
// allocates its exchange buffer with it once at instantiation (and, rarely, an
// extra buffer for a result that does not fit, freed when the invocation
// ends). Each block is a Go byte slice kept in blocks until it is freed: the
// garbage collector sees it as live, and, Go's collector not moving objects,
// its address stays valid for the host.
//
// Results come back as (address, length) into one of those blocks, so a
// view is an offset into a known Go slice: no integer-to-pointer conversion,
// which go vet accepts and the collector understands (an interior pointer
// keeps the block alive even after the host frees it).

import "unsafe"

// hostBlock is memory handed to the host by malloc.
type hostBlock struct {
	address uint32
	bytes   []byte
}

// blocks are the live blocks, in allocation order: the exchange buffer first.
var blocks = make([]hostBlock, 0, 4)

// wasmMalloc allocates size bytes for the host (never address 0).
//
//go:wasmexport malloc
func wasmMalloc(size uint32) uint32 {
	bytes := make([]byte, max(size, 1))
	address := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(bytes))))
	blocks = append(blocks, hostBlock{address: address, bytes: bytes})
	return address
}

// wasmFree forgets the block at address; the collector reclaims it once no
// view of it is left. Unknown addresses are ignored, as free(NULL) is.
//
//go:wasmexport free
func wasmFree(address uint32) {
	for i := range blocks {
		if blocks[i].address == address {
			last := len(blocks) - 1
			copy(blocks[i:], blocks[i+1:])
			blocks[last] = hostBlock{} // drop the reference
			blocks = blocks[:last]
			return
		}
	}
}

// exchangeBytes is the view of the bytes the host returned packed as
// (address << 32) | length, inside the block that holds them.
func exchangeBytes(packed uint64) []byte {
	address, length := uint32(packed>>32), uint32(packed)
	if length == 0 {
		return nil
	}
	for i := range blocks {
		block := &blocks[i]
		offset := address - block.address
		if address >= block.address && uint64(offset)+uint64(length) <= uint64(len(block.bytes)) {
			return block.bytes[offset : offset+length : offset+length]
		}
	}
	panic("ext: the host returned bytes outside every buffer it allocated with malloc " +
		"(an engine that does not follow ABI 0.0.1's exchange buffer?)")
}
