// The seed's benchmark extensions, with the behaviour (and the host calls)
// of TinyGo's benchmarks-pkg.wasm.
package main

import "example.invalid/extwasm/tinygo-sdk/ext"

func main() {}

// doNothing returns.
//
//go:wasmexport doNothing
func doNothing() {}

// oneKey1call builds a key for sys.Test2 (1 host call).
//
//go:wasmexport oneKey1call
func oneKey1call() {
	ext.KeyBuilder("sys.Test2", ext.NullEntity)
}

// oneGetNoIntents2calls gets the event (2 host calls).
//
//go:wasmexport oneGetNoIntents2calls
func oneGetNoIntents2calls() {
	ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
}

// oneGetLongStr3calls gets sys.Test and reads its long string field 500c
// (3 host calls).
//
//go:wasmexport oneGetLongStr3calls
func oneGetLongStr3calls() {
	value := ext.MustGetValue(ext.KeyBuilder("sys.Test", ext.NullEntity))
	value.AsString("500c")
}

// oneGetOneIntent5calls gets the event and sends a mail from test@gmail.com
// (5 host calls).
//
//go:wasmexport oneGetOneIntent5calls
func oneGetOneIntent5calls() {
	ext.MustGetValue(ext.KeyBuilder(ext.StorageEvent, ext.NullEntity))
	mail := ext.NewValue(ext.KeyBuilder(ext.StorageSendMail, ext.NullEntity))
	mail.PutString("from", "test@gmail.com")
}
