package main

import (
	"errors"
	"testing"

	"example.invalid/extwasm/tinygo-sdk/exttest"
)

// How an extension author tests natively: a state, a run, the intents.
func TestCalcOrderedItemsAddsUp(t *testing.T) {
	host, err := exttest.FromFile("../../states/order.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		op     string
		amount int64
	}{{"insert", 200}, {"update", 400}, {"update", 600}} {
		intents, err := host.RunAndApply(CalcOrderedItems)
		if err != nil {
			t.Fatal(err)
		}
		if len(intents) != 1 || intents[0].Op != want.op || intents[0].Value["Amount"] != want.amount {
			t.Fatalf("got %v, want %s of Amount %d", intents, want.op, want.amount)
		}
	}
}

func TestNewOrderRefusesANegativeOrder(t *testing.T) {
	host, err := exttest.FromFile("../../states/order-negative.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = host.Run(NewOrder)
	var failure *exttest.Error
	if !errors.As(err, &failure) || failure.Kind != exttest.KindGuestPanic || failure.Message != "negative order amount" {
		t.Fatalf("got %v", err)
	}
	if err.Error() != "extension mock/NewOrder panicked: negative order amount" {
		t.Fatalf("got %q", err.Error())
	}
}
