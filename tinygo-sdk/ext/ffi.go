//go:build wasm || tinygo.wasm

package ext

// The FFI boundary, guest side, for TinyGo and standard Go alike:
//
//   - the host calls of api.go over the generated host imports
//     (hostimports_gen.go): strings and bytes go out as (pointer, length),
//     packed (pointer, length) results come back as views of the exchange
//     buffer (exchangeBytes, in ffi_gomalloc.go or ffi_tinygoheap.go);
//   - the exports every extension module needs besides its extensions.
//
// No function here allocates: a host call costs the call.

import (
	"runtime"
	"unsafe"
)

// stringPointer is where s starts, for the host to read len(s) bytes.
func stringPointer(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// bytesPointer is where b starts, for the host to read len(b) bytes.
func bytesPointer(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

// exchangeString is the string the host returned packed as (pointer << 32) |
// length: a view of the exchange buffer, not a copy.
func exchangeString(packed uint64) string {
	b := exchangeBytes(packed)
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func boolOf(v uint64) bool { return v != 0 }

func wireBool(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

func getKey(storage, entity string) uint64 {
	return hostGetKey(stringPointer(storage), uint32(len(storage)), stringPointer(entity), uint32(len(entity)))
}

func getValue(key uint64) uint64 { return hostGetValue(key) }

func queryValue(key uint64) uint64 { return hostQueryValue(key) }

func readValues(key uint64) { hostReadValues(key) }

func newValue(key uint64) uint64 { return hostNewValue(key) }

func updateValue(key, existing uint64) uint64 { return hostUpdateValue(key, existing) }

func putString(id uint64, kind uint32, name, value string) {
	hostRowWriterPutString(id, kind, stringPointer(name), uint32(len(name)), stringPointer(value), uint32(len(value)))
}

func putBytes(id uint64, kind uint32, name string, value []byte) {
	hostRowWriterPutBytes(id, kind, stringPointer(name), uint32(len(name)), bytesPointer(value), uint32(len(value)))
}

func putQName(id uint64, kind uint32, name, pkg, entity string) {
	hostRowWriterPutQName(id, kind, stringPointer(name), uint32(len(name)),
		stringPointer(pkg), uint32(len(pkg)), stringPointer(entity), uint32(len(entity)))
}

func putBool(id uint64, kind uint32, name string, value bool) {
	hostRowWriterPutBool(id, kind, stringPointer(name), uint32(len(name)), wireBool(value))
}

func putInt32(id uint64, kind uint32, name string, value int32) {
	hostRowWriterPutInt32(id, kind, stringPointer(name), uint32(len(name)), value)
}

func putInt64(id uint64, kind uint32, name string, value int64) {
	hostRowWriterPutInt64(id, kind, stringPointer(name), uint32(len(name)), value)
}

func putFloat32(id uint64, kind uint32, name string, value float32) {
	hostRowWriterPutFloat32(id, kind, stringPointer(name), uint32(len(name)), value)
}

func putFloat64(id uint64, kind uint32, name string, value float64) {
	hostRowWriterPutFloat64(id, kind, stringPointer(name), uint32(len(name)), value)
}

func valueLength(value uint64) int32 { return hostValueLength(value) }

func valueAsString(value uint64, name string) string {
	return exchangeString(hostValueAsString(value, stringPointer(name), uint32(len(name))))
}

func valueAsBytes(value uint64, name string) []byte {
	return exchangeBytes(hostValueAsBytes(value, stringPointer(name), uint32(len(name))))
}

func valueAsInt32(value uint64, name string) int32 {
	return hostValueAsInt32(value, stringPointer(name), uint32(len(name)))
}

func valueAsInt64(value uint64, name string) int64 {
	return hostValueAsInt64(value, stringPointer(name), uint32(len(name)))
}

func valueAsFloat32(value uint64, name string) float32 {
	return hostValueAsFloat32(value, stringPointer(name), uint32(len(name)))
}

func valueAsFloat64(value uint64, name string) float64 {
	return hostValueAsFloat64(value, stringPointer(name), uint32(len(name)))
}

func valueAsBool(value uint64, name string) bool {
	return boolOf(hostValueAsBool(value, stringPointer(name), uint32(len(name))))
}

func valueAsQNamePkg(value uint64, name string) string {
	return exchangeString(hostValueAsQNamePkg(value, stringPointer(name), uint32(len(name))))
}

func valueAsQNameEntity(value uint64, name string) string {
	return exchangeString(hostValueAsQNameEntity(value, stringPointer(name), uint32(len(name))))
}

func valueAsValue(value uint64, name string) uint64 {
	return hostValueAsValue(value, stringPointer(name), uint32(len(name)))
}

func valueGetAsString(value uint64, index int32) string {
	return exchangeString(hostValueGetAsString(value, index))
}

func valueGetAsBytes(value uint64, index int32) []byte {
	return exchangeBytes(hostValueGetAsBytes(value, index))
}

func valueGetAsQNamePkg(value uint64, index int32) string {
	return exchangeString(hostValueGetAsQNamePkg(value, index))
}

func valueGetAsQNameEntity(value uint64, index int32) string {
	return exchangeString(hostValueGetAsQNameEntity(value, index))
}

func valueGetAsInt32(value uint64, index int32) int32 { return hostValueGetAsInt32(value, index) }

func valueGetAsInt64(value uint64, index int32) int64 { return hostValueGetAsInt64(value, index) }

func valueGetAsBool(value uint64, index int32) bool { return boolOf(hostValueGetAsBool(value, index)) }

func valueGetAsFloat32(value uint64, index int32) float32 { return hostValueGetAsFloat32(value, index) }

func valueGetAsFloat64(value uint64, index int32) float64 { return hostValueGetAsFloat64(value, index) }

func valueGetAsValue(value uint64, index int32) uint64 { return hostValueGetAsValue(value, index) }

func keyAsString(key uint64, name string) string {
	return exchangeString(hostKeyAsString(key, stringPointer(name), uint32(len(name))))
}

func keyAsBytes(key uint64, name string) []byte {
	return exchangeBytes(hostKeyAsBytes(key, stringPointer(name), uint32(len(name))))
}

func keyAsQNamePkg(key uint64, name string) string {
	return exchangeString(hostKeyAsQNamePkg(key, stringPointer(name), uint32(len(name))))
}

func keyAsQNameEntity(key uint64, name string) string {
	return exchangeString(hostKeyAsQNameEntity(key, stringPointer(name), uint32(len(name))))
}

func keyAsInt32(key uint64, name string) int32 {
	return hostKeyAsInt32(key, stringPointer(name), uint32(len(name)))
}

func keyAsInt64(key uint64, name string) int64 {
	return hostKeyAsInt64(key, stringPointer(name), uint32(len(name)))
}

func keyAsBool(key uint64, name string) bool {
	return boolOf(hostKeyAsBool(key, stringPointer(name), uint32(len(name))))
}

func keyAsFloat32(key uint64, name string) float32 {
	return hostKeyAsFloat32(key, stringPointer(name), uint32(len(name)))
}

func keyAsFloat64(key uint64, name string) float64 {
	return hostKeyAsFloat64(key, stringPointer(name), uint32(len(name)))
}

// Exports. Their names and signatures are the ABI's (docs/ABI.md); the
// engine checks them at load.

// wasmAbiVersion says that the module speaks ABI 0.0.1 (abiVersion).
//
//go:wasmexport WasmAbiVersion_0_0_1
func wasmAbiVersion() {}

// wasmOnReadValue is the host's per-record callback of hostReadValues.
//
//go:wasmexport WasmOnReadValue
func wasmOnReadValue(key, value uint64) { onReadValue(key, value) }

// memStats is reused so that reading the counters allocates nothing.
var memStats runtime.MemStats

// wasmGetHeapInuse is the bytes in use on the Go heap.
//
//go:wasmexport WasmGetHeapInuse
func wasmGetHeapInuse() uint64 {
	runtime.ReadMemStats(&memStats)
	return memStats.HeapInuse
}

// wasmGetHeapSys is the bytes the Go heap took from linear memory.
//
//go:wasmexport WasmGetHeapSys
func wasmGetHeapSys() uint64 {
	runtime.ReadMemStats(&memStats)
	return memStats.HeapSys
}

// wasmGetMallocs is the number of heap allocations so far.
//
//go:wasmexport WasmGetMallocs
func wasmGetMallocs() uint64 {
	runtime.ReadMemStats(&memStats)
	return memStats.Mallocs
}

// wasmGetFrees is the number of heap objects freed so far.
//
//go:wasmexport WasmGetFrees
func wasmGetFrees() uint64 {
	runtime.ReadMemStats(&memStats)
	return memStats.Frees
}

// wasmGC collects garbage (a no-op under TinyGo's -gc=leaking).
//
//go:wasmexport WasmGC
func wasmGC() { runtime.GC() }
