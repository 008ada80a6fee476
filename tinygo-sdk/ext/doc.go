// Package ext writes extwasm extensions (ABI 0.0.1) in Go, for TinyGo and
// for standard Go.
//
// An extension is an exported function of a wasm module that reads the
// platform state through the host and leaves intents:
//
//	//go:wasmexport incrementProjector
//	func incrementProjector() {
//		key := ext.KeyBuilder(ext.StorageView, "mypkg.TestView")
//		key.PutInt32("pk", 1).PutInt32("cc", 1)
//		if existing, ok := ext.QueryValue(key); ok {
//			ext.UpdateValue(key, existing).PutInt32("vv", existing.AsInt32("vv")+1)
//		} else {
//			ext.NewValue(key).PutInt32("vv", 1)
//		}
//	}
//
// # The API
//
// It has the shape of the published TinyGo SDK and of the Rust SDK, one name
// per concept: [KeyBuilder] with typed puts (PutInt32 … PutQName);
// [MustGetValue]; [QueryValue] (the value and whether it exists); [ReadValues]
// (a callback for every key and value; reading again inside it works);
// [NewValue] and [UpdateValue] (intents, with the same puts); [TValue] fields
// by name (AsInt32 … AsValue) and elements by index (GetAsInt32 …
// GetAsValue, Len); [TKey] fields by name. The type names (TKeyBuilder,
// TValue, TKey, TIntent) are the published SDK's, so its extensions compile
// against this package unchanged.
//
// Strings and bytes read from values and keys are not copied: they are views
// of the host's exchange buffer, valid until the extension returns (the host
// reuses the buffer in the next invocation). Copy what must outlive the
// invocation (strings.Clone, bytes.Clone). A host call never allocates on the
// Go heap.
//
// Reading a missing field, a field of another type, or must-getting a value
// that does not exist fails the invocation on the host's side, with an error
// that says which; an extension does not handle those. A panic fails the
// invocation with the panic's message (the runtime prints it, the engine
// reports it).
//
// # Building
//
// An extension module is a main package (with an empty func main) built as a
// WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ext.wasm .
//	tinygo build -target=wasip1 -buildmode=c-shared -gc=leaking -scheduler=none -o ext.wasm .
//
// This package exports what the engine needs besides the extensions:
// WasmAbiVersion_0_0_1, WasmOnReadValue, WasmGetHeapInuse, WasmGetHeapSys,
// WasmGetMallocs, WasmGetFrees and WasmGC; under standard Go also malloc and
// free, over Go-allocated blocks (TinyGo's runtime exports its own).
//
// # Testing natively
//
// Built for anything but wasm, the host calls go to a mock host that answers
// them from a state in the engine's JSON state format, with the engine's type
// rules and errors: see package exttest. Extensions are then tested with
// plain go test.
package ext
