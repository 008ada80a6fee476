package main

import (
	"testing"

	"example.invalid/extwasm/examples/go/internal/conformance"
)

// The conformance table's scenarios of this module, on the mock host.
func TestConformance(t *testing.T) {
	conformance.Run(t, "benchmarks", map[string]func(){
		"doNothing":             doNothing,
		"oneKey1call":           oneKey1call,
		"oneGetNoIntents2calls": oneGetNoIntents2calls,
		"oneGetLongStr3calls":   oneGetLongStr3calls,
		"oneGetOneIntent5calls": oneGetOneIntent5calls,
	})
}
