package main

import (
	"testing"

	"example.invalid/extwasm/examples/go/internal/conformance"
)

// The conformance table's scenarios of this module that run natively (no
// memory limits here), on the mock host.
func TestConformance(t *testing.T) {
	conformance.Run(t, "allocs", map[string]func(){
		"simple":          simple,
		"arrAppend":       arrAppend,
		"arrReset":        arrReset,
		"arrAppend2":      arrAppend2,
		"zeroedAfterFree": zeroedAfterFree,
		"everyHostCall":   everyHostCall,
		"heapStats":       heapStats,
	})
}
