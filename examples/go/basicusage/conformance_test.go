package main

import (
	"testing"

	"example.invalid/extwasm/examples/go/internal/conformance"
)

// The conformance table's scenarios of this module, on the mock host.
func TestConformance(t *testing.T) {
	conformance.Run(t, "basicusage", map[string]func(){
		"NewOrder":                    NewOrder,
		"CalcOrderedItems":            CalcOrderedItems,
		"updateSubscriptionProjector": updateSubscriptionProjector,
		"incrementProjector":          incrementProjector,
	})
}
