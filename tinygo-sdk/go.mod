module example.invalid/extwasm/tinygo-sdk

// The oldest Go that builds wasip1 reactors with //go:wasmexport. TinyGo
// (≥ 0.34) reads this file too; the SDK uses the standard library only.
go 1.24
