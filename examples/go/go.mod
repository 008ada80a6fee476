module example.invalid/extwasm/examples/go

// Go ≥ 1.24 builds these as wasip1 reactors (-buildmode=c-shared); TinyGo
// ≥ 0.34 builds the same source.
go 1.24

require example.invalid/extwasm/tinygo-sdk v0.0.0

// The SDK of this repository, not a download.
replace example.invalid/extwasm/tinygo-sdk => ../../tinygo-sdk
