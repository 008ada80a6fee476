package main

import (
	"testing"

	"example.invalid/extwasm/examples/go/internal/conformance"
)

// The conformance table's scenarios of this module, on the mock host.
func TestConformance(t *testing.T) {
	conformance.Run(t, "readvalues", map[string]func(){
		"copyAllTypes":         copyAllTypes,
		"orderTotals":          orderTotals,
		"putNonFinite":         putNonFinite,
		"archiveTotal":         archiveTotal,
		"readAs":               readAs,
		"keepEvent":            keepEvent,
		"readKeptEvent":        readKeptEvent,
		"readIntentAsValue":    readIntentAsValue,
		"updateFromKeyBuilder": updateFromKeyBuilder,
		"readForgedValue":      readForgedValue,
		"readZeroHandle":       readZeroHandle,
	})
}
